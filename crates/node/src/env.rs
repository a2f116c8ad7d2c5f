//! A container's environment: `env[].value` with `$(VAR)` expansion,
//! `valueFrom.fieldRef` and `valueFrom.resourceFieldRef`, resolved as the
//! kubelet does (`pkg/kubelet/kubelet_pods.go` `makeEnvironmentVariables`,
//! `podFieldSelectorRuntimeValue`; `pkg/api/v1/resource` for resources).

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec};
use serde_json::Value;

use crate::expansion::expand;
use crate::quantity;

/// What fieldRefs and resource defaults resolve against.
#[derive(Debug, Clone, Default)]
pub struct EnvContext<'a> {
    pub node_name: &'a str,
    pub host_ip: &'a str,
    pub pod_ip: &'a str,
    /// Node allocatable, the default for unset limits.
    pub node_cpu_millis: i64,
    pub node_memory_bytes: i64,
}

/// Why an env var could not be resolved: the container waits with
/// `CreateContainerConfigError`, as upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError(pub String);

/// Resolves `container.env` in order; each value may refer to earlier ones.
pub fn resolve(
    pod: &Value,
    spec: &PodSpec,
    container: &Container,
    ctx: &EnvContext<'_>,
) -> Result<Vec<(String, String)>, EnvError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut map: HashMap<String, String> = HashMap::new();
    for EnvVar {
        name,
        value,
        value_from,
    } in container.env.iter().flatten()
    {
        let v = if let Some(from) = value_from {
            if let Some(f) = &from.field_ref {
                field_value(pod, spec, &f.field_path, ctx)?
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
                resource_value(
                    target,
                    &r.resource,
                    r.divisor.as_ref().map(|d| d.0.as_str()),
                    ctx,
                )?
            } else if from.config_map_key_ref.is_some() {
                return Err(EnvError(format!(
                    "couldn't find key for env var {name}: configmaps are not served by joblite"
                )));
            } else if from.secret_key_ref.is_some() {
                return Err(EnvError(format!(
                    "couldn't find key for env var {name}: secrets are not served by joblite"
                )));
            } else {
                String::new()
            }
        } else {
            let raw = value.clone().unwrap_or_default();
            expand(&raw, &|k| map.get(k).cloned())
        };
        map.insert(name.clone(), v.clone());
        if let Some(slot) = out.iter_mut().find(|(k, _)| k == name) {
            slot.1 = v;
        } else {
            out.push((name.clone(), v));
        }
    }
    Ok(out)
}

/// `podFieldSelectorRuntimeValue` + `ExtractFieldPathAsString`.
pub fn field_value(
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
pub fn resource_value(
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
        quantity::parse_nanos(&m.get(name)?.0)
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
        .and_then(quantity::parse_nanos)
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

    #[test]
    fn config_map_refs_are_config_errors() {
        let p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "env": [
            {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}
        ]}]}});
        let spec: PodSpec = serde_json::from_value(p["spec"].clone()).unwrap();
        let err = resolve(&p, &spec, &spec.containers[0], &EnvContext::default()).unwrap_err();
        assert!(err.0.contains("X"));
    }
}
