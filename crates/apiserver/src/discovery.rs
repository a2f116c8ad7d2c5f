//! Discovery documents, built from `api::resources::ALL`.
//!
//! kubectl learns every URL shape (scope, plural, short names, verbs) from
//! discovery, so these bodies decide whether `kubectl get po` works at all.
//! kubectl ≥1.30 asks for aggregated discovery v2, 1.27–1.29 for v2beta1, and
//! Python's DynamicClient (and kubectl when aggregated is not served) for the
//! legacy documents; all three are served from the same table. Shapes follow
//! upstream `staging/src/k8s.io/api/apidiscovery/v2/types.go` and
//! `staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/types.go` (APIVersions,
//! APIGroupList, APIResourceList); the Accept handling mirrors
//! `staging/src/k8s.io/client-go/discovery/discovery_client.go`.

use api::resources::{ResourceInfo, ALL};
use serde_json::{json, Value};

/// Response Content-Type of aggregated discovery v2. It must be echoed
/// exactly: with plain `application/json` kubectl parses the body as legacy
/// discovery and finds no resources.
pub(crate) const V2_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Response Content-Type of aggregated discovery v2beta1 (kubectl 1.27–1.29).
pub(crate) const V2BETA1_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/// Alias of [`V2_CONTENT_TYPE`].
pub(crate) const CONTENT_TYPE_V2: &str = V2_CONTENT_TYPE;
/// Alias of [`V2BETA1_CONTENT_TYPE`].
pub(crate) const CONTENT_TYPE_V2BETA1: &str = V2BETA1_CONTENT_TYPE;

/// Which discovery document a request for `/api` or `/apis` gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DiscoveryFormat {
    /// `APIGroupDiscoveryList` in `apidiscovery.k8s.io/v2`.
    V2,
    /// `APIGroupDiscoveryList` in `apidiscovery.k8s.io/v2beta1`.
    V2Beta1,
    /// `APIVersions` (`/api`) or `APIGroupList` (`/apis`).
    Legacy,
}

impl DiscoveryFormat {
    /// The Content-Type of the response.
    #[cfg(test)]
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            DiscoveryFormat::V2 => V2_CONTENT_TYPE,
            DiscoveryFormat::V2Beta1 => V2BETA1_CONTENT_TYPE,
            DiscoveryFormat::Legacy => "application/json",
        }
    }

    /// `apiVersion` of the aggregated list (`None` for legacy).
    pub(crate) fn api_version(self) -> Option<&'static str> {
        match self {
            DiscoveryFormat::V2 => Some("apidiscovery.k8s.io/v2"),
            DiscoveryFormat::V2Beta1 => Some("apidiscovery.k8s.io/v2beta1"),
            DiscoveryFormat::Legacy => None,
        }
    }
}

/// Picks the discovery format from an Accept header: the first acceptable
/// media range wins (higher `q` first, then list order), as kube-apiserver's
/// negotiation does for the lists client-go sends, e.g.
/// `…;v=v2;as=APIGroupDiscoveryList,…;v=v2beta1;as=APIGroupDiscoveryList,application/json`.
/// An absent or unusable header gets legacy JSON.
pub(crate) fn negotiate_discovery(accept: &str) -> DiscoveryFormat {
    let mut ranges: Vec<(f32, DiscoveryFormat)> = Vec::new();
    for entry in accept.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let (mut g, mut v, mut as_, mut q) = (None, None, None, 1.0f32);
        for p in parts {
            let Some((k, val)) = p.split_once('=') else {
                continue;
            };
            let val = val.trim().trim_matches('"');
            match k.trim().to_ascii_lowercase().as_str() {
                "g" => g = Some(val.to_string()),
                "v" => v = Some(val.to_string()),
                "as" => as_ = Some(val.to_string()),
                "q" => q = val.parse().unwrap_or(1.0),
                _ => {}
            }
        }
        if q <= 0.0 {
            continue;
        }
        let json_like = matches!(media.as_str(), "application/json" | "application/*" | "*/*");
        let format = match (as_.as_deref(), g.as_deref(), v.as_deref()) {
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2"))
                if media == "application/json" =>
            {
                Some(DiscoveryFormat::V2)
            }
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2beta1"))
                if media == "application/json" =>
            {
                Some(DiscoveryFormat::V2Beta1)
            }
            (None, None, None) if json_like => Some(DiscoveryFormat::Legacy),
            _ => None,
        };
        if let Some(f) = format {
            ranges.push((q, f));
        }
    }
    // Stable: equal q keeps the client's order.
    ranges.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    ranges
        .first()
        .map(|r| r.1)
        .unwrap_or(DiscoveryFormat::Legacy)
}

/// Verbs kube-apiserver lists for the resource (its registry entry's).
pub(crate) fn verbs(r: &ResourceInfo) -> &'static [&'static str] {
    r.verbs
}

/// A subresource as discovery presents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubresourceInfo {
    pub name: &'static str,
    /// (group, version, kind) of the response body.
    pub response_kind: (&'static str, &'static str, &'static str),
    pub verbs: &'static [&'static str],
}

/// How kube-apiserver describes `r`'s subresource `sub`: `status` returns
/// the parent kind, `pods/log` is declared with kind Pod (its body is text),
/// `pods/eviction` takes a `policy/v1` Eviction.
pub(crate) fn subresource_info(r: &'static ResourceInfo, sub: &'static str) -> SubresourceInfo {
    match sub {
        "eviction" => SubresourceInfo {
            name: sub,
            response_kind: ("policy", "v1", "Eviction"),
            verbs: &["create"],
        },
        "log" => SubresourceInfo {
            name: sub,
            response_kind: (r.group, r.version, r.kind),
            verbs: &["get"],
        },
        // The streaming subresources connect (GET for WebSocket, POST for
        // SPDY) and are described by their options' kind.
        "attach" => SubresourceInfo {
            name: sub,
            response_kind: (r.group, r.version, "PodAttachOptions"),
            verbs: &["create", "get"],
        },
        "exec" => SubresourceInfo {
            name: sub,
            response_kind: (r.group, r.version, "PodExecOptions"),
            verbs: &["create", "get"],
        },
        "portforward" => SubresourceInfo {
            name: sub,
            response_kind: (r.group, r.version, "PodPortForwardOptions"),
            verbs: &["create", "get"],
        },
        _ => SubresourceInfo {
            name: sub,
            response_kind: (r.group, r.version, r.kind),
            verbs: &["get", "patch", "update"],
        },
    }
}

fn scope(r: &ResourceInfo) -> &'static str {
    if r.namespaced {
        "Namespaced"
    } else {
        "Cluster"
    }
}

fn gvk(g: &str, v: &str, k: &str) -> Value {
    json!({"group": g, "version": v, "kind": k})
}

/// `responseKind` as kube-apiserver fills it from the legacy `APIResource`
/// (`ConvertGroupVersionIntoToDiscovery` in
/// `staging/src/k8s.io/apiserver/pkg/endpoints/installer.go`): group and
/// version stay empty unless they differ from the resource's group-version
/// (only `pods/eviction` here). Clients read empty as "same as the list".
fn response_kind(r: &ResourceInfo, (g, v, k): (&str, &str, &str)) -> Value {
    if g == r.group && v == r.version {
        gvk("", "", k)
    } else {
        gvk(g, v, k)
    }
}

fn aggregated_resource(r: &'static ResourceInfo) -> Value {
    let mut res = json!({
        "resource": r.plural,
        "responseKind": response_kind(r, (r.group, r.version, r.kind)),
        "scope": scope(r),
        "singularResource": r.singular,
        "verbs": verbs(r),
    });
    let m = res.as_object_mut().expect("object literal");
    if !r.short_names.is_empty() {
        m.insert("shortNames".into(), json!(r.short_names));
    }
    if !r.categories.is_empty() {
        m.insert("categories".into(), json!(r.categories));
    }
    if !r.subresources.is_empty() {
        let subs: Vec<Value> = r
            .subresources
            .iter()
            .map(|s| {
                let i = subresource_info(r, s);
                json!({"subresource": i.name, "responseKind": response_kind(r, i.response_kind), "verbs": i.verbs})
            })
            .collect();
        m.insert("subresources".into(), Value::Array(subs));
    }
    res
}

/// Groups in first-seen order of `ALL`, each with its versions in order.
fn groups(core: bool) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in served().filter(|r| r.group.is_empty() == core) {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, vs)) => {
                if !vs.contains(&r.version) {
                    vs.push(r.version);
                }
            }
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

fn resources_of<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceInfo> + 'a {
    served().filter(move |r| r.group == group && r.version == version)
}

/// What discovery lists: the stored resources, then the computed
/// `metrics.k8s.io` ones.
fn served() -> impl Iterator<Item = &'static ResourceInfo> {
    ALL.iter()
        .copied()
        .chain(api::resources::COMPUTED.iter().copied())
}

/// The aggregated `APIGroupDiscoveryList`: `core = true` for `/api` (the
/// single group named `""`), `false` for `/apis` (every named group).
/// `format` must be `V2` or `V2Beta1`; `Legacy` is treated as `V2`.
pub(crate) fn aggregated(core: bool, format: DiscoveryFormat) -> Value {
    let api_version = format.api_version().unwrap_or("apidiscovery.k8s.io/v2");
    let items: Vec<Value> = groups(core)
        .into_iter()
        .map(|(g, versions)| {
            let versions: Vec<Value> = versions
                .into_iter()
                .map(|v| {
                    let resources: Vec<Value> =
                        resources_of(g, v).map(aggregated_resource).collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": api_version,
        "metadata": {},
        "items": items,
    })
}

fn format_for_version(version: &str) -> DiscoveryFormat {
    if version == "v2beta1" {
        DiscoveryFormat::V2Beta1
    } else {
        DiscoveryFormat::V2
    }
}

/// Aggregated `/api` document; `version` is `"v2"` or `"v2beta1"`.
pub(crate) fn aggregated_core(version: &str) -> Value {
    aggregated(true, format_for_version(version))
}

/// Aggregated `/apis` document; `version` is `"v2"` or `"v2beta1"`.
pub(crate) fn aggregated_groups(version: &str) -> Value {
    aggregated(false, format_for_version(version))
}

/// Legacy `GET /api`: `APIVersions`. `server_address` is `host:port` as the
/// client reached us.
pub(crate) fn api_versions(server_address: &str) -> Value {
    let versions: Vec<&str> = groups(true).into_iter().flat_map(|(_, vs)| vs).collect();
    json!({
        "kind": "APIVersions",
        "versions": versions,
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    })
}

fn api_group_body(group: &str, versions: &[&str]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": vs,
        "preferredVersion": vs.first().cloned().unwrap_or(Value::Null),
    })
}

/// Legacy `GET /apis`: `APIGroupList` of the named groups.
pub(crate) fn api_group_list() -> Value {
    let groups: Vec<Value> = groups(false)
        .into_iter()
        .map(|(g, vs)| api_group_body(g, &vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/<group>`: `APIGroup`, or `None` for an unknown group.
pub(crate) fn api_group(group: &str) -> Option<Value> {
    let (g, vs) = groups(false).into_iter().find(|(g, _)| *g == group)?;
    let mut body = api_group_body(g, &vs);
    let m = body.as_object_mut()?;
    m.insert("kind".into(), json!("APIGroup"));
    m.insert("apiVersion".into(), json!("v1"));
    Some(body)
}

/// `GET /api/v1` (`group = ""`) or `GET /apis/<group>/<version>`:
/// `APIResourceList`, or `None` if nothing is served there. Subresources
/// appear as `jobs/status`-style entries with an empty `singularName`.
pub(crate) fn api_resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for r in resources_of(group, version) {
        let mut e = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": verbs(r),
        });
        let m = e.as_object_mut()?;
        if !r.short_names.is_empty() {
            m.insert("shortNames".into(), json!(r.short_names));
        }
        if !r.categories.is_empty() {
            m.insert("categories".into(), json!(r.categories));
        }
        resources.push(e);
        for s in r.subresources {
            let i = subresource_info(r, s);
            let (g, v, k) = i.response_kind;
            let mut e = json!({
                "name": format!("{}/{}", r.plural, i.name),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": k,
                "verbs": i.verbs,
            });
            // Upstream sets group/version only when they differ from the list's.
            if g != group || v != version {
                let m = e.as_object_mut()?;
                m.insert("group".into(), json!(g));
                m.insert("version".into(), json!(v));
            }
            resources.push(e);
        }
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accept values observed from real clients (kubectl-api-surface.md §1).
    #[test]
    fn negotiation_follows_client_go_accept_lists() {
        let cases = [
            (
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
                DiscoveryFormat::V2,
            ),
            (
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
                DiscoveryFormat::V2Beta1,
            ),
            ("application/json", DiscoveryFormat::Legacy),
            ("application/json, */*", DiscoveryFormat::Legacy),
            ("", DiscoveryFormat::Legacy),
            (
                "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
                DiscoveryFormat::Legacy,
            ),
            (
                "application/json;q=0.5, application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
                DiscoveryFormat::V2,
            ),
            (
                "application/json ; as=APIGroupDiscoveryList ; v=v2 ; g=apidiscovery.k8s.io",
                DiscoveryFormat::V2,
            ),
        ];
        for (accept, want) in cases {
            assert_eq!(negotiate_discovery(accept), want, "{accept}");
        }
        assert_eq!(DiscoveryFormat::V2.content_type(), V2_CONTENT_TYPE);
        assert_eq!(
            DiscoveryFormat::V2Beta1.content_type(),
            V2BETA1_CONTENT_TYPE
        );
    }

    #[test]
    fn aggregated_apis_lists_jobs() {
        let doc = aggregated(false, DiscoveryFormat::V2);
        assert_eq!(doc["apiVersion"], "apidiscovery.k8s.io/v2");
        assert_eq!(doc["kind"], "APIGroupDiscoveryList");
        let items = doc["items"].as_array().unwrap();
        let names: Vec<&str> = items
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "authorization.k8s.io",
                "batch",
                "node.k8s.io",
                "metrics.k8s.io"
            ]
        );
        // The computed resource metrics API, read-only, as metrics-server
        // registers it.
        let m = &items[3]["versions"][0];
        assert_eq!(m["version"], "v1beta1");
        assert_eq!(
            m["resources"][1],
            json!({"resource":"pods","responseKind":{"group":"","version":"","kind":"PodMetrics"},
                "scope":"Namespaced","singularResource":"","verbs":["get","list"]})
        );
        let v = &items[1]["versions"][0];
        assert_eq!(v["version"], "v1");
        assert_eq!(v["freshness"], "Current");
        let jobs = &v["resources"][0];
        assert_eq!(
            jobs,
            &json!({"resource":"jobs","responseKind":{"group":"","version":"","kind":"Job"},
                "scope":"Namespaced","singularResource":"job",
                "verbs":["create","delete","deletecollection","get","list","patch","update","watch"],
                "categories":["all"],
                "subresources":[{"subresource":"status","responseKind":{"group":"","version":"","kind":"Job"},"verbs":["get","patch","update"]}]})
        );
        let beta = aggregated(false, DiscoveryFormat::V2Beta1);
        assert_eq!(beta["apiVersion"], "apidiscovery.k8s.io/v2beta1");
        assert_eq!(beta["items"], doc["items"]);
    }

    #[test]
    fn aggregated_api_lists_core_group() {
        let doc = aggregated(true, DiscoveryFormat::V2);
        let items = doc["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["metadata"]["name"], "");
        let res = items[0]["versions"][0]["resources"].as_array().unwrap();
        let find = |n: &str| res.iter().find(|r| r["resource"] == n).unwrap().clone();
        let pods = find("pods");
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        let subs = pods["subresources"].as_array().unwrap();
        let sub = |n: &str| subs.iter().find(|s| s["subresource"] == n).unwrap().clone();
        assert_eq!(
            sub("log")["responseKind"],
            json!({"group":"","version":"","kind":"Pod"})
        );
        assert_eq!(sub("log")["verbs"], json!(["get"]));
        assert_eq!(
            sub("eviction")["responseKind"],
            json!({"group":"policy","version":"v1","kind":"Eviction"})
        );
        assert_eq!(sub("eviction")["verbs"], json!(["create"]));
        // As kube-apiserver lists them (`kubectl get --raw /apis`).
        for (name, kind) in [
            ("attach", "PodAttachOptions"),
            ("exec", "PodExecOptions"),
            ("portforward", "PodPortForwardOptions"),
        ] {
            assert_eq!(
                sub(name),
                json!({"subresource": name, "responseKind": {"group":"","version":"","kind": kind}, "verbs": ["create", "get"]})
            );
        }
        assert_eq!(find("namespaces")["scope"], "Cluster");
        assert_eq!(find("nodes")["scope"], "Cluster");
        assert_eq!(find("events")["shortNames"], json!(["ev"]));
        assert!(find("events").get("subresources").is_none());
    }

    #[test]
    fn legacy_documents() {
        assert_eq!(
            api_versions("127.0.0.1:6443"),
            json!({"kind":"APIVersions","versions":["v1"],
                   "serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1:6443"}]})
        );
        assert_eq!(
            api_group_list(),
            json!({"kind":"APIGroupList","apiVersion":"v1","groups":[
                {"name":"authorization.k8s.io",
                 "versions":[{"groupVersion":"authorization.k8s.io/v1","version":"v1"}],
                 "preferredVersion":{"groupVersion":"authorization.k8s.io/v1","version":"v1"}},
                {"name":"batch",
                 "versions":[{"groupVersion":"batch/v1","version":"v1"}],
                 "preferredVersion":{"groupVersion":"batch/v1","version":"v1"}},
                {"name":"node.k8s.io",
                 "versions":[{"groupVersion":"node.k8s.io/v1","version":"v1"}],
                 "preferredVersion":{"groupVersion":"node.k8s.io/v1","version":"v1"}},
                {"name":"metrics.k8s.io",
                 "versions":[{"groupVersion":"metrics.k8s.io/v1beta1","version":"v1beta1"}],
                 "preferredVersion":{"groupVersion":"metrics.k8s.io/v1beta1","version":"v1beta1"}}]})
        );
        assert_eq!(api_group("batch").unwrap()["kind"], "APIGroup");
        assert!(api_group("apps").is_none());

        let batch = api_resource_list("batch", "v1").unwrap();
        assert_eq!(batch["groupVersion"], "batch/v1");
        assert_eq!(
            batch["resources"][1],
            json!({"name":"jobs/status","singularName":"","namespaced":true,"kind":"Job","verbs":["get","patch","update"]})
        );
        let core = api_resource_list("", "v1").unwrap();
        assert_eq!(core["groupVersion"], "v1");
        let names: Vec<&str> = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        for n in [
            "pods",
            "pods/status",
            "pods/log",
            "pods/eviction",
            "events",
            "namespaces",
            "namespaces/status",
            "nodes",
            "nodes/status",
        ] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        let eviction = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pods/eviction")
            .unwrap();
        assert_eq!(eviction["group"], "policy");
        let exec = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pods/exec")
            .unwrap();
        assert_eq!(
            exec,
            &json!({"name":"pods/exec","singularName":"","namespaced":true,"kind":"PodExecOptions","verbs":["create","get"]})
        );
        assert_eq!(eviction["kind"], "Eviction");
        let ns = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "namespaces")
            .unwrap();
        assert_eq!(ns["namespaced"], false);
        assert!(!ns["verbs"]
            .as_array()
            .unwrap()
            .contains(&json!("deletecollection")));
        assert!(api_resource_list("batch", "v2").is_none());
        assert!(api_resource_list("apps", "v1").is_none());
    }
}
