//! The Node object: what `kubectl get nodes` and `describe node` show.
//!
//! Capacity is the machine's real CPU count and memory; the conditions are
//! the kubelet's (`pkg/kubelet/nodestatus/setters.go`) with their upstream
//! reasons and messages. The heartbeat only touches `lastHeartbeatTime`
//! every ~40 s (the kubelet's `nodeStatusReportFrequency` is 5 min, its
//! lease 40 s): status writes cost revisions.

use serde_json::{json, Value};

use crate::admission::Resources;

/// `kubeletVersion` reported in `nodeInfo`.
pub(crate) const KUBELET_VERSION: &str = "v1.33.0";

/// The machine's CPU count (as millicores) and memory (bytes).
pub(crate) fn machine_capacity() -> Resources {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as i64;
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        })
        .unwrap_or(1 << 20);
    Resources {
        cpu_millis: cpus * 1000,
        memory_bytes: mem_kib * 1024,
    }
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// `PRETTY_NAME` from `/etc/os-release`.
pub(crate) fn os_image() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "Linux".into())
}

/// The machine's hostname, the node's name.
pub(crate) fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

fn cpu_quantity(millis: i64) -> String {
    if millis % 1000 == 0 {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

fn memory_quantity(bytes: i64) -> String {
    if bytes % 1024 == 0 {
        format!("{}Ki", bytes / 1024)
    } else {
        bytes.to_string()
    }
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The conditions the kubelet reports, all healthy, stamped `now`.
pub(crate) fn conditions(now: &str, since: &str) -> Value {
    let c = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": kind, "status": status,
            "lastHeartbeatTime": now, "lastTransitionTime": since,
            "reason": reason, "message": message,
        })
    };
    json!([
        c(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available"
        ),
        c(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure"
        ),
        c(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available"
        ),
        c(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status"
        ),
    ])
}

/// Sets the Ready condition as the kubelet's `ReadyCondition` setter does
/// (`pkg/kubelet/nodestatus/setters.go`): True `KubeletReady`, or False
/// `KubeletNotReady` with the runtime's error as the message (the
/// kubelet's `runtimeErrors`: `container runtime is down`). The transition
/// time moves only when the status flips. Returns whether it flipped.
pub(crate) fn set_ready(node: &mut Value, runtime_error: Option<&str>, now: &str) -> bool {
    let (status, reason, message) = match runtime_error {
        None => ("True", "KubeletReady", "kubelet is posting ready status"),
        Some(e) => ("False", "KubeletNotReady", e),
    };
    let Some(conds) = node
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    else {
        return false;
    };
    let Some(c) = conds.iter_mut().find(|c| c["type"] == "Ready") else {
        return false;
    };
    let flipped = c["status"] != status;
    c["status"] = json!(status);
    c["reason"] = json!(reason);
    c["message"] = json!(message);
    c["lastHeartbeatTime"] = json!(now);
    if flipped {
        c["lastTransitionTime"] = json!(now);
    }
    flipped
}

/// The Node object for this machine.
pub(crate) fn build(name: &str, capacity: Resources, now: &str) -> Value {
    let cap = json!({
        "cpu": cpu_quantity(capacity.cpu_millis),
        "memory": memory_quantity(capacity.memory_bytes),
        "pods": "110",
        "ephemeral-storage": "0",
    });
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "beta.kubernetes.io/arch": arch(),
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch(),
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
            },
        },
        "spec": {},
        "status": {
            "capacity": cap.clone(),
            "allocatable": cap,
            "conditions": conditions(now, now),
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "nodeInfo": {
                "machineID": read_trim("/etc/machine-id"),
                "systemUUID": read_trim("/sys/class/dmi/id/product_uuid"),
                "bootID": read_trim("/proc/sys/kernel/random/boot_id"),
                "kernelVersion": rustix::system::uname().release().to_string_lossy(),
                "osImage": os_image(),
                "containerRuntimeVersion": format!("joblite://{}", env!("CARGO_PKG_VERSION")),
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": arch(),
            },
        },
    })
}

/// Stamps every condition's `lastHeartbeatTime`.
pub(crate) fn heartbeat(node: &mut Value, now: &str) {
    if let Some(conds) = node
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    {
        for c in conds {
            c["lastHeartbeatTime"] = json!(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_flips_with_the_runtime() {
        let mut n = build("vm", Resources::default(), "T0");
        assert!(!set_ready(&mut n, None, "T1"));
        assert!(set_ready(&mut n, Some("container runtime is down"), "T2"));
        let ready = |n: &Value| {
            n["status"]["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["type"] == "Ready")
                .unwrap()
                .clone()
        };
        let r = ready(&n);
        assert_eq!(
            (
                &r["status"],
                &r["reason"],
                &r["message"],
                &r["lastTransitionTime"]
            ),
            (
                &json!("False"),
                &json!("KubeletNotReady"),
                &json!("container runtime is down"),
                &json!("T2")
            )
        );
        assert!(!set_ready(&mut n, Some("container runtime is down"), "T3"));
        assert_eq!(ready(&n)["lastTransitionTime"], "T2");
        assert!(set_ready(&mut n, None, "T4"));
        assert_eq!(ready(&n)["reason"], "KubeletReady");
    }

    #[test]
    fn node_reports_capacity_and_a_ready_kubelet() {
        let n = build(
            "vm",
            Resources {
                cpu_millis: 2000,
                memory_bytes: 25_276_063_744,
            },
            "T",
        );
        assert_eq!(n["status"]["capacity"]["cpu"], "2");
        assert_eq!(n["status"]["allocatable"]["memory"], "24683656Ki");
        let ready = n["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(
            (ready["status"].as_str(), ready["reason"].as_str()),
            (Some("True"), Some("KubeletReady"))
        );
        assert_eq!(n["status"]["addresses"][0]["address"], "127.0.0.1");
        assert!(n["status"]["nodeInfo"]["containerRuntimeVersion"]
            .as_str()
            .unwrap()
            .starts_with("joblite://"));
        assert!(n["status"]["nodeInfo"]["kubeletVersion"]
            .as_str()
            .unwrap()
            .starts_with("v1.33."));
    }
}
