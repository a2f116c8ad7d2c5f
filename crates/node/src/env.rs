//! A container's environment: `envFrom`, then `env[].value` with `$(VAR)`
//! expansion, `valueFrom.fieldRef`, `resourceFieldRef`, `configMapKeyRef`
//! and `secretKeyRef`, resolved as the kubelet does
//! (`pkg/kubelet/kubelet_pods.go` `makeEnvironmentVariables`,
//! `podFieldSelectorRuntimeValue`; `pkg/api/v1/resource` for resources).
//!
//! A missing ConfigMap, Secret or key is a configuration error (the
//! container waits with `CreateContainerConfigError`) unless the reference
//! is `optional`, when the variable is left out. Since 1.30 the kubelet
//! copies every `envFrom` key as is (kubernetes/kubernetes#123385 dropped
//! the `InvalidEnvironmentVariableNames` skip with relaxed names; see
//! #130099): the API only admits keys and prefixes that are valid relaxed
//! names, so nothing is skipped here either.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec};
use serde_json::Value;

use crate::config_sources::{NoSources, Sources};
use crate::expansion::expand;
use api::quantity::parse_quantity;

/// What fieldRefs, resource defaults and ConfigMap and Secret references
/// resolve against.
#[derive(Clone, Copy)]
pub struct EnvContext<'a> {
    pub node_name: &'a str,
    pub host_ip: &'a str,
    pub pod_ip: &'a str,
    /// Node allocatable, the default for unset limits.
    pub node_cpu_millis: i64,
    pub node_memory_bytes: i64,
    /// The node's view of ConfigMaps and Secrets.
    pub sources: &'a dyn Sources,
}

impl Default for EnvContext<'_> {
    fn default() -> Self {
        EnvContext {
            node_name: "",
            host_ip: "",
            pod_ip: "",
            node_cpu_millis: 0,
            node_memory_bytes: 0,
            sources: &NoSources,
        }
    }
}

// Without `sources`, which has nothing to print.
impl std::fmt::Debug for EnvContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvContext")
            .field("node_name", &self.node_name)
            .field("host_ip", &self.host_ip)
            .field("pod_ip", &self.pod_ip)
            .field("node_cpu_millis", &self.node_cpu_millis)
            .field("node_memory_bytes", &self.node_memory_bytes)
            .finish_non_exhaustive()
    }
}

/// Why an env var could not be resolved: the container waits with
/// `CreateContainerConfigError`, as upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvError(pub String);

/// The ConfigMaps and Secrets one container resolution has read, so each
/// is looked up once (`configMaps` / `secrets` in `makeEnvironmentVariables`).
struct Fetched<'a> {
    sources: &'a dyn Sources,
    namespace: &'a str,
    config_maps: HashMap<String, Option<BTreeMap<String, String>>>,
    secrets: HashMap<String, Option<BTreeMap<String, Vec<u8>>>>,
}

impl Fetched<'_> {
    /// A ConfigMap's `data` (only `data`: `binaryData` is not for env).
    fn config_map(&mut self, name: &str) -> Option<&BTreeMap<String, String>> {
        let (sources, ns) = (self.sources, self.namespace);
        self.config_maps
            .entry(name.to_string())
            .or_insert_with(|| {
                sources
                    .config_map(ns, name)
                    .map(|c| c.data.unwrap_or_default())
            })
            .as_ref()
    }

    fn secret(&mut self, name: &str) -> Option<&BTreeMap<String, Vec<u8>>> {
        let (sources, ns) = (self.sources, self.namespace);
        self.secrets
            .entry(name.to_string())
            .or_insert_with(|| {
                sources.secret(ns, name).map(|s| {
                    s.data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, v.0))
                        .collect()
                })
            })
            .as_ref()
    }
}

/// A variable to set, or none (an optional reference that is missing).
type Resolved = Option<String>;

/// Resolves `container.envFrom`, then `container.env` in order; each value
/// may refer to earlier ones (and to `envFrom`'s). Later names replace
/// earlier ones.
pub(crate) fn resolve(
    pod: &Value,
    spec: &PodSpec,
    container: &Container,
    ctx: &EnvContext<'_>,
) -> Result<Vec<(String, String)>, EnvError> {
    let namespace = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut fetched = Fetched {
        sources: ctx.sources,
        namespace,
        config_maps: HashMap::new(),
        secrets: HashMap::new(),
    };
    let mut env = Env::default();
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.as_deref().unwrap_or("");
        let mut vars: Vec<(String, String)> = Vec::new();
        if let Some(r) = &from.config_map_ref {
            match fetched.config_map(&r.name) {
                Some(data) => vars.extend(data.iter().map(|(k, v)| (k.clone(), v.clone()))),
                None if r.optional.unwrap_or(false) => {}
                None => return Err(EnvError(format!("configmap {:?} not found", r.name))),
            }
        } else if let Some(r) = &from.secret_ref {
            match fetched.secret(&r.name) {
                Some(data) => vars.extend(
                    data.iter()
                        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned())),
                ),
                None if r.optional.unwrap_or(false) => {}
                None => return Err(EnvError(format!("secret {:?} not found", r.name))),
            }
        }
        for (k, v) in vars {
            env.set(format!("{prefix}{k}"), v);
        }
    }
    for EnvVar {
        name,
        value,
        value_from,
    } in container.env.iter().flatten()
    {
        let v: Resolved = match (value.as_deref().filter(|v| !v.is_empty()), value_from) {
            (None, Some(from)) => {
                if let Some(f) = &from.field_ref {
                    Some(field_value(pod, spec, &f.field_path, ctx)?)
                } else if let Some(r) = &from.resource_field_ref {
                    let cname = r.container_name.as_deref().filter(|s| !s.is_empty());
                    let target = match cname {
                        Some(n) => spec
                            .containers
                            .iter()
                            .chain(spec.init_containers.iter().flatten())
                            .find(|c| c.name == n)
                            .ok_or_else(|| EnvError(format!("container {n} not found")))?,
                        None => container,
                    };
                    Some(resource_value(
                        target,
                        &r.resource,
                        r.divisor.as_ref().map(|d| d.0.as_str()),
                        ctx,
                    )?)
                } else if let Some(r) = &from.config_map_key_ref {
                    let optional = r.optional.unwrap_or(false);
                    match fetched.config_map(&r.name) {
                        None if optional => None,
                        None => return Err(EnvError(format!("configmap {:?} not found", r.name))),
                        Some(data) => match data.get(&r.key) {
                            Some(v) => Some(v.clone()),
                            None if optional => None,
                            None => {
                                return Err(EnvError(format!(
                                    "couldn't find key {} in ConfigMap {namespace}/{}",
                                    r.key, r.name
                                )))
                            }
                        },
                    }
                } else if let Some(r) = &from.secret_key_ref {
                    let optional = r.optional.unwrap_or(false);
                    match fetched.secret(&r.name) {
                        None if optional => None,
                        None => return Err(EnvError(format!("secret {:?} not found", r.name))),
                        Some(data) => match data.get(&r.key) {
                            Some(v) => Some(String::from_utf8_lossy(v).into_owned()),
                            None if optional => None,
                            None => {
                                return Err(EnvError(format!(
                                    "couldn't find key {} in Secret {namespace}/{}",
                                    r.key, r.name
                                )))
                            }
                        },
                    }
                } else {
                    Some(String::new())
                }
            }
            (raw, _) => {
                let raw = raw.unwrap_or("");
                Some(expand(raw, &|k| env.map.get(k).cloned()))
            }
        };
        if let Some(v) = v {
            env.set(name.clone(), v);
        }
    }
    Ok(env.out)
}

/// The variables so far, in first-set order, later values winning.
#[derive(Default)]
struct Env {
    out: Vec<(String, String)>,
    map: HashMap<String, String>,
}

impl Env {
    fn set(&mut self, name: String, v: String) {
        self.map.insert(name.clone(), v.clone());
        if let Some(slot) = self.out.iter_mut().find(|(k, _)| *k == name) {
            slot.1 = v;
        } else {
            self.out.push((name, v));
        }
    }
}

/// `podFieldSelectorRuntimeValue` + `ExtractFieldPathAsString`.
pub(crate) fn field_value(
    pod: &Value,
    spec: &PodSpec,
    path: &str,
    ctx: &EnvContext<'_>,
) -> Result<String, EnvError> {
    let meta = |k: &str| {
        pod.pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let map_entry = |field: &str, rest: &str| -> Option<String> {
        let key = rest.strip_prefix("['")?.strip_suffix("']")?;
        Some(
            pod.pointer(&format!("/metadata/{field}"))
                .and_then(|m| m.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        )
    };
    let all = |field: &str| -> String {
        // `metadata.labels` / `metadata.annotations`: sorted `k="v"` lines.
        let mut lines: Vec<String> = pod
            .pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={:?}", v.as_str().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default();
        lines.sort();
        lines.join("\n")
    };
    Ok(match path {
        "metadata.name" => meta("name"),
        "metadata.namespace" => meta("namespace"),
        "metadata.uid" => meta("uid"),
        "metadata.labels" => all("labels"),
        "metadata.annotations" => all("annotations"),
        "spec.nodeName" => spec
            .node_name
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| ctx.node_name.to_string()),
        "spec.serviceAccountName" => spec
            .service_account_name
            .clone()
            .unwrap_or_else(|| "default".to_string()),
        "status.podIP" | "status.podIPs" => ctx.pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => ctx.host_ip.to_string(),
        p => if let Some(rest) = p.strip_prefix("metadata.labels") {
            map_entry("labels", rest)
        } else if let Some(rest) = p.strip_prefix("metadata.annotations") {
            map_entry("annotations", rest)
        } else {
            None
        }
        .ok_or_else(|| EnvError(format!("unsupported fieldPath: {p}")))?,
    })
}

/// `ExtractContainerResourceValue`: limits default to node allocatable,
/// requests of cpu/memory default to the limit; values are divided by the
/// divisor and rounded up.
pub(crate) fn resource_value(
    c: &Container,
    resource: &str,
    divisor: Option<&str>,
    ctx: &EnvContext<'_>,
) -> Result<String, EnvError> {
    let res = c.resources.as_ref();
    let get = |kind: &str, name: &str| -> Option<i128> {
        let m = match kind {
            "limits" => res.and_then(|r| r.limits.as_ref()),
            _ => res.and_then(|r| r.requests.as_ref()),
        }?;
        Some(parse_quantity(&m.get(name)?.0).ok()?.nanos)
    };
    let node_default = |name: &str| -> i128 {
        match name {
            "cpu" => ctx.node_cpu_millis as i128 * 1_000_000,
            "memory" => ctx.node_memory_bytes as i128 * 1_000_000_000,
            _ => 0,
        }
    };
    let (kind, name) = resource
        .split_once('.')
        .ok_or_else(|| EnvError(format!("unsupported container resource: {resource}")))?;
    let nanos = match kind {
        "limits" => get("limits", name).unwrap_or_else(|| node_default(name)),
        "requests" => get("requests", name)
            .or_else(|| get("limits", name))
            .unwrap_or(0),
        _ => {
            return Err(EnvError(format!(
                "unsupported container resource: {resource}"
            )))
        }
    };
    let div = divisor
        .and_then(|d| Some(parse_quantity(d).ok()?.nanos))
        .filter(|d| *d > 0)
        .unwrap_or(1_000_000_000);
    Ok(((nanos + div - 1) / div).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "metadata": {
                "name": "job-0-abc", "namespace": "default", "uid": "u-1",
                "labels": {"app": "x", "batch.kubernetes.io/job-completion-index": "3"},
                "annotations": {"batch.kubernetes.io/job-completion-index": "3"}
            },
            "spec": {"nodeName": "node1", "containers": [{
                "name": "main",
                "resources": {"limits": {"cpu": "1500m", "memory": "64Mi"}, "requests": {"cpu": "250m"}},
                "env": [
                    {"name": "A", "value": "a"},
                    {"name": "B", "value": "$(A)-b-$(MISSING)"},
                    {"name": "IDX", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}},
                    {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                    {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
                    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                    {"name": "PODIP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "HOSTIP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                    {"name": "CPUM", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
                    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                    {"name": "REQMEM", "valueFrom": {"resourceFieldRef": {"resource": "requests.memory"}}},
                    {"name": "A", "value": "again"}
                ]
            }]}
        })
    }

    #[test]
    fn resolves_values_field_refs_and_resources() {
        let p = pod();
        let spec: PodSpec = serde_json::from_value(p["spec"].clone()).unwrap();
        let ctx = EnvContext {
            node_name: "node1",
            host_ip: "127.0.0.1",
            pod_ip: "127.0.0.1",
            node_cpu_millis: 2000,
            node_memory_bytes: 1 << 30,
            ..Default::default()
        };
        let env = resolve(&p, &spec, &spec.containers[0], &ctx).unwrap();
        let want = [
            ("A", "again"),
            ("B", "a-b-$(MISSING)"),
            ("IDX", "3"),
            ("NAME", "job-0-abc"),
            ("NS", "default"),
            ("UID", "u-1"),
            ("APP", "x"),
            ("NODE", "node1"),
            ("SA", "default"),
            ("PODIP", "127.0.0.1"),
            ("HOSTIP", "127.0.0.1"),
            ("CPU", "2"),
            ("CPUM", "250"),
            ("MEM", "64"),
            ("REQMEM", "67108864"),
        ];
        let got: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, want);
    }

    fn sources() -> crate::config_sources::Fake {
        crate::config_sources::Fake::new(
            json!({"ns/cm": {"data": {"GREETING": "hello", "a.b": "dotted", "1st": "one"},
                             "binaryData": {"bin": "//4="}}}),
            json!({"ns/s": {"data": {"PASSWORD": "aHVudGVyMg==", "GREETING": "c2VjcmV0"}}}),
        )
    }

    fn env_of(container: serde_json::Value) -> Result<Vec<(String, String)>, EnvError> {
        let p = json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [container]}});
        let spec: PodSpec = serde_json::from_value(p["spec"].clone()).unwrap();
        let src = sources();
        let ctx = EnvContext {
            sources: &src,
            ..Default::default()
        };
        resolve(&p, &spec, &spec.containers[0], &ctx)
    }

    /// `makeEnvironmentVariables`: envFrom first (with its prefix, every
    /// key kept), then env in order, later names winning; values from
    /// keys, and `$(VAR)` over both.
    #[test]
    fn config_map_and_secret_references_resolve() {
        let env = env_of(json!({"name": "c",
            "envFrom": [{"configMapRef": {"name": "cm"}}, {"prefix": "S_", "secretRef": {"name": "s"}}],
            "env": [
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "PASSWORD"}}},
                {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "GREETING"}}},
                {"name": "BOTH", "value": "$(GREETING)-$(S_GREETING)"},
                {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "nope", "optional": true}}},
                {"name": "OPT2", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": true}}}
            ]}))
        .unwrap();
        let got: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            [
                ("1st", "one"),
                ("GREETING", "hello"),
                ("a.b", "dotted"),
                ("S_GREETING", "secret"),
                ("S_PASSWORD", "hunter2"),
                ("PASSWORD", "hunter2"),
                ("BOTH", "hello-secret"),
            ]
        );
        // Optional sources that are missing add nothing.
        let env = env_of(
            json!({"name": "c", "envFrom": [{"configMapRef": {"name": "gone", "optional": true}}]}),
        );
        assert_eq!(env, Ok(vec![]));
    }

    /// The kubelet's messages for a missing object or key.
    #[test]
    fn missing_objects_and_keys_are_config_errors() {
        let err = |c: serde_json::Value| env_of(c).unwrap_err().0;
        let key = |kind: &str, name: &str, key: &str| json!({"name": "c", "env": [{"name": "X", "valueFrom": {kind: {"name": name, "key": key}}}]});
        assert_eq!(
            err(key("configMapKeyRef", "gone", "k")),
            "configmap \"gone\" not found"
        );
        assert_eq!(
            err(key("configMapKeyRef", "cm", "k")),
            "couldn't find key k in ConfigMap ns/cm"
        );
        // binaryData is not for env.
        assert_eq!(
            err(key("configMapKeyRef", "cm", "bin")),
            "couldn't find key bin in ConfigMap ns/cm"
        );
        assert_eq!(
            err(key("secretKeyRef", "gone", "k")),
            "secret \"gone\" not found"
        );
        assert_eq!(
            err(key("secretKeyRef", "s", "k")),
            "couldn't find key k in Secret ns/s"
        );
        assert_eq!(
            err(json!({"name": "c", "envFrom": [{"secretRef": {"name": "gone"}}]})),
            "secret \"gone\" not found"
        );
        assert_eq!(
            err(json!({"name": "c", "envFrom": [{"configMapRef": {"name": "gone"}}]})),
            "configmap \"gone\" not found"
        );
    }
}
