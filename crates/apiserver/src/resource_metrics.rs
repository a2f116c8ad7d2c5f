//! `metrics.k8s.io/v1beta1`: PodMetrics and NodeMetrics, the resource
//! metrics API that `kubectl top pods|nodes` reads.
//!
//! On a cluster metrics-server serves this group through the aggregator,
//! from the kubelets' summaries. Here the node's own accounting answers
//! ([`ResourceUsage`], wired by the binary), and this module shapes it as
//! metrics-server does (`pkg/api/{pod,node}.go`): read-only `get` and
//! `list`, label and field selectors over the underlying Pods and Node,
//! CPU in nanocores (`"1000123n"`), memory in KiB (`"204800Ki"`), and the
//! sampling `window`.
//!
//! The kinds are registered in `api::resources` as computed, read-only
//! kinds (`api::resources::COMPUTED`, strategies in
//! `api/src/resources/metrics.rs`): discovery lists them from there, and the
//! handler routes `/apis/metrics.k8s.io/…` here rather than to the store.

use std::time::Duration;

use api::resources::{ResourceInfo, NODES, PODS};
use api::status::ApiError;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::BoxFuture;
use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::filter::Filter;
use crate::query::Query;
use crate::respond::{self, Resp};
use crate::AppState;

pub use api::resources::metrics::{GROUP, NODEMETRICS, PODMETRICS, VERSION};

/// One container's usage over the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerUsage {
    pub pod_uid: String,
    pub container: String,
    pub cpu_nanocores: u64,
    pub memory_bytes: u64,
}

/// What the node measured.
#[derive(Debug, Clone)]
pub struct Usage {
    pub timestamp: DateTime<Utc>,
    pub window: Duration,
    pub containers: Vec<ContainerUsage>,
    pub node_cpu_nanocores: u64,
    pub node_memory_bytes: u64,
}

/// Where usage comes from (the node agent's accounting); the binary wires it.
pub trait ResourceUsage: Send + Sync {
    fn usage(&self) -> BoxFuture<'_, Usage>;
}

/// What a path under `/apis/metrics.k8s.io` addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsRoute {
    Group,
    GroupVersion,
    Nodes {
        name: Option<String>,
    },
    Pods {
        namespace: Option<String>,
        name: Option<String>,
    },
    NotFound,
}

/// `None` when the path is outside the group.
pub fn route(path: &str) -> Option<MetricsRoute> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match parts.as_slice() {
        ["apis", g, rest @ ..] if *g == GROUP => rest,
        _ => return None,
    };
    let own = |s: &str| Some(s.to_string());
    Some(match rest {
        [] => MetricsRoute::Group,
        [v] if *v == VERSION => MetricsRoute::GroupVersion,
        [v, tail @ ..] if *v == VERSION => match tail {
            ["nodes"] => MetricsRoute::Nodes { name: None },
            ["nodes", n] => MetricsRoute::Nodes { name: own(n) },
            ["pods"] => MetricsRoute::Pods {
                namespace: None,
                name: None,
            },
            ["namespaces", ns, "pods"] => MetricsRoute::Pods {
                namespace: own(ns),
                name: None,
            },
            ["namespaces", ns, "pods", n] => MetricsRoute::Pods {
                namespace: own(ns),
                name: own(n),
            },
            _ => MetricsRoute::NotFound,
        },
        _ => MetricsRoute::NotFound,
    })
}

/// CPU as metrics-server writes it: nanocores.
pub fn cpu_quantity(nanocores: u64) -> String {
    format!("{nanocores}n")
}

/// Memory as metrics-server writes it: KiB.
pub fn memory_quantity(bytes: u64) -> String {
    format!("{}Ki", bytes / 1024)
}

/// A Go `time.Duration` string for the window (`1.002s`).
pub fn window_string(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        let s = format!("{}.{:03}", ms / 1000, ms % 1000);
        format!("{}s", s.trim_end_matches('0'))
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn meta(obj: &Value, now: &str, namespaced: bool) -> Value {
    let mut m = json!({
        "name": obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
        "creationTimestamp": now,
    });
    if namespaced {
        m["namespace"] = obj
            .pointer("/metadata/namespace")
            .cloned()
            .unwrap_or(Value::Null);
    }
    if let Some(l) = obj.pointer("/metadata/labels").filter(|l| l.is_object()) {
        m["labels"] = l.clone();
    }
    m
}

/// The PodMetrics of one pod, or `None` when the node has no usage for
/// it (not running, or not yet sampled), as metrics-server leaves such
/// pods out.
pub fn pod_metrics(pod: &Value, usage: &Usage, now: &str) -> Option<Value> {
    let uid = pod.pointer("/metadata/uid").and_then(Value::as_str)?;
    if pod.pointer("/status/phase").and_then(Value::as_str) != Some("Running") {
        return None;
    }
    let mut containers: Vec<Value> = Vec::new();
    for c in usage.containers.iter().filter(|c| c.pod_uid == uid) {
        containers.push(json!({
            "name": c.container,
            "usage": {
                "cpu": cpu_quantity(c.cpu_nanocores),
                "memory": memory_quantity(c.memory_bytes),
            },
        }));
    }
    if containers.is_empty() {
        return None;
    }
    Some(json!({
        "metadata": meta(pod, now, true),
        "timestamp": rfc3339(usage.timestamp),
        "window": window_string(usage.window),
        "containers": containers,
    }))
}

/// The NodeMetrics of the node object.
pub fn node_metrics(node: &Value, usage: &Usage, now: &str) -> Value {
    json!({
        "metadata": meta(node, now, false),
        "timestamp": rfc3339(usage.timestamp),
        "window": window_string(usage.window),
        "usage": {
            "cpu": cpu_quantity(usage.node_cpu_nanocores),
            "memory": memory_quantity(usage.node_memory_bytes),
        },
    })
}

fn list(info: &ResourceInfo, items: Vec<Value>) -> Value {
    json!({
        "kind": info.list_kind,
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "metadata": {},
        "items": items,
    })
}

fn with_kind(info: &ResourceInfo, mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        let mut out = serde_json::Map::new();
        out.insert("kind".into(), json!(info.kind));
        out.insert("apiVersion".into(), json!(format!("{GROUP}/{VERSION}")));
        out.append(m);
        return Value::Object(out);
    }
    v
}

fn not_found(info: &ResourceInfo, name: &str) -> ApiError {
    ApiError::NotFound {
        group: GROUP.into(),
        resource: info.plural.into(),
        name: name.into(),
    }
}

/// Serves a request routed here.
pub(crate) async fn serve(
    state: &AppState,
    method: &Method,
    r: MetricsRoute,
    query: &Query,
) -> Result<Resp, ApiError> {
    let read_only = |info: &ResourceInfo| ApiError::MethodNotAllowed {
        group: GROUP.into(),
        resource: info.plural.into(),
        action: method.as_str().to_lowercase(),
    };
    match r {
        MetricsRoute::Group => crate::discovery_routes::group(GROUP),
        MetricsRoute::GroupVersion => crate::discovery_routes::group_version(GROUP, VERSION),
        MetricsRoute::NotFound => Err(ApiError::RouteNotFound),
        MetricsRoute::Nodes { .. } if method != Method::GET => Err(read_only(&NODEMETRICS)),
        MetricsRoute::Pods { .. } if method != Method::GET => Err(read_only(&PODMETRICS)),
        MetricsRoute::Nodes { name } => {
            let filter = Filter::from_query(&NODES, query)?;
            let nodes: Vec<Value> = state
                .store
                .list(&NODES, None)
                .items
                .iter()
                .map(store::Stored::value)
                .filter(|n| {
                    name.as_deref().is_none_or(|want| {
                        n.pointer("/metadata/name").and_then(Value::as_str) == Some(want)
                    })
                })
                .filter(|n| filter.matches(&NODES, n))
                .collect();
            if let (Some(name), true) = (name.as_deref(), nodes.is_empty()) {
                return Err(not_found(&NODEMETRICS, name));
            }
            let usage = state.usage.usage().await;
            let now = rfc3339(Utc::now());
            let items: Vec<Value> = nodes
                .iter()
                .map(|n| node_metrics(n, &usage, &now))
                .collect();
            Ok(match name {
                Some(_) => respond::json(
                    StatusCode::OK,
                    &with_kind(&NODEMETRICS, items.into_iter().next().unwrap_or_default()),
                ),
                None => respond::json(StatusCode::OK, &list(&NODEMETRICS, items)),
            })
        }
        MetricsRoute::Pods { namespace, name } => {
            let filter = Filter::from_query(&PODS, query)?;
            let pods: Vec<Value> = match (&namespace, &name) {
                (Some(ns), Some(n)) => match state.store.get(&PODS, ns, n) {
                    Ok(s) => vec![s.value()],
                    Err(_) => return Err(not_found(&PODMETRICS, n)),
                },
                _ => state
                    .store
                    .list(&PODS, namespace.as_deref())
                    .items
                    .iter()
                    .map(store::Stored::value)
                    .filter(|p| filter.matches(&PODS, p))
                    .collect(),
            };
            let running = pods
                .iter()
                .any(|p| p.pointer("/status/phase").and_then(Value::as_str) == Some("Running"));
            let usage = if running {
                state.usage.usage().await
            } else {
                Usage {
                    timestamp: Utc::now(),
                    window: Duration::ZERO,
                    containers: Vec::new(),
                    node_cpu_nanocores: 0,
                    node_memory_bytes: 0,
                }
            };
            let now = rfc3339(Utc::now());
            let items: Vec<Value> = pods
                .iter()
                .filter_map(|p| pod_metrics(p, &usage, &now))
                .collect();
            match name {
                Some(n) => match items.into_iter().next() {
                    Some(item) => Ok(respond::json(StatusCode::OK, &with_kind(&PODMETRICS, item))),
                    None => Err(not_found(&PODMETRICS, &n)),
                },
                None => Ok(respond::json(StatusCode::OK, &list(&PODMETRICS, items))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_inside_the_group_only() {
        assert_eq!(route("/apis/batch/v1/jobs"), None);
        assert_eq!(route("/apis/metrics.k8s.io"), Some(MetricsRoute::Group));
        assert_eq!(
            route("/apis/metrics.k8s.io/v1beta1"),
            Some(MetricsRoute::GroupVersion)
        );
        assert_eq!(
            route("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/p"),
            Some(MetricsRoute::Pods {
                namespace: Some("default".into()),
                name: Some("p".into())
            })
        );
        assert_eq!(
            route("/apis/metrics.k8s.io/v1beta1/nodes"),
            Some(MetricsRoute::Nodes { name: None })
        );
        assert_eq!(
            route("/apis/metrics.k8s.io/v1/nodes"),
            Some(MetricsRoute::NotFound)
        );
    }

    #[test]
    fn quantities_and_windows_as_metrics_server_writes_them() {
        assert_eq!(cpu_quantity(1_000_123_456), "1000123456n");
        assert_eq!(memory_quantity(200 << 20), "204800Ki");
        assert_eq!(window_string(Duration::from_millis(1002)), "1.002s");
        assert_eq!(window_string(Duration::from_millis(1500)), "1.5s");
        assert_eq!(window_string(Duration::from_secs(10)), "10s");
    }

    #[test]
    fn pod_metrics_only_for_running_pods_with_usage() {
        let usage = Usage {
            timestamp: Utc::now(),
            window: Duration::from_secs(1),
            containers: vec![ContainerUsage {
                pod_uid: "u1".into(),
                container: "main".into(),
                cpu_nanocores: 5,
                memory_bytes: 2048,
            }],
            node_cpu_nanocores: 0,
            node_memory_bytes: 0,
        };
        let pod = |uid: &str, phase: &str| {
            json!({"metadata": {"name": "p", "namespace": "d", "uid": uid, "labels": {"a": "b"}},
                   "status": {"phase": phase}})
        };
        let m = pod_metrics(&pod("u1", "Running"), &usage, "now").unwrap();
        assert_eq!(
            m["containers"],
            json!([{"name": "main", "usage": {"cpu": "5n", "memory": "2Ki"}}])
        );
        assert_eq!(m["metadata"]["labels"], json!({"a": "b"}));
        assert_eq!(m["window"], "1s");
        assert!(pod_metrics(&pod("u1", "Succeeded"), &usage, "now").is_none());
        assert!(pod_metrics(&pod("u2", "Running"), &usage, "now").is_none());
    }
}
