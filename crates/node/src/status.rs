//! Pod status as the kubelet reports it, derived from a [`PodWorker`].
//!
//! Shapes and wording follow `pkg/kubelet/kubelet_pods.go`
//! (`generateAPIPodStatus`, `convertToAPIContainerStatuses`) and
//! `pkg/kubelet/status/generate.go` (the Initialized, ContainersReady and
//! Ready conditions with their reasons), so `kubectl get pods` reads as on
//! a cluster: ContainerCreating, Init:0/1, Running, Completed, Error,
//! CrashLoopBackOff, OOMKilled.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use serde_json::{json, Map, Value};

use crate::pod_worker::{CState, Ctr, Phase, PodWorker, Term};

/// The node's addresses as pods see them.
#[derive(Debug, Clone)]
pub(crate) struct NodeIdentity {
    pub host_ip: String,
    pub pod_ip: String,
}

/// `lastTransitionTime` of each condition, kept across status writes.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConditionTimes {
    times: HashMap<&'static str, (bool, String)>,
}

impl ConditionTimes {
    fn at(&mut self, kind: &'static str, status: bool, now: &str) -> String {
        let e = self
            .times
            .entry(kind)
            .or_insert_with(|| (status, now.to_string()));
        if e.0 != status {
            *e = (status, now.to_string());
        }
        e.1.clone()
    }
}

fn term_json(t: &Term) -> Value {
    let mut m = Map::new();
    m.insert("exitCode".into(), json!(t.exit_code));
    if let Some(s) = t.signal {
        m.insert("signal".into(), json!(s));
    }
    m.insert("reason".into(), json!(t.reason));
    if let Some(msg) = &t.message {
        m.insert("message".into(), json!(msg));
    }
    m.insert("startedAt".into(), json!(t.started_at));
    m.insert("finishedAt".into(), json!(t.finished_at));
    m.insert("containerID".into(), json!(t.container_id));
    Value::Object(m)
}

fn container_status(c: &Ctr, terminating: bool) -> Value {
    let mut container_id = None;
    let state = match &c.state {
        CState::Waiting { reason, message } => {
            let mut w = json!({ "reason": reason });
            if let Some(m) = message {
                w["message"] = json!(m);
            }
            json!({ "waiting": w })
        }
        CState::Starting { .. } => json!({ "waiting": { "reason": "ContainerCreating" } }),
        CState::Retry {
            reason, message, ..
        } => {
            container_id = c.last.as_ref().map(|t| t.container_id.clone());
            json!({ "waiting": { "reason": reason, "message": message } })
        }
        CState::Running {
            container_id: id,
            started_at,
            ..
        } => {
            container_id = Some(id.clone());
            json!({ "running": { "startedAt": started_at } })
        }
        CState::BackOff { message, .. } => {
            container_id = c.last.as_ref().map(|t| t.container_id.clone());
            json!({ "waiting": { "reason": "CrashLoopBackOff", "message": message } })
        }
        CState::Terminated(t) => {
            container_id = Some(t.container_id.clone());
            json!({ "terminated": term_json(t) })
        }
    };
    let running = matches!(c.state, CState::Running { .. });
    let mut s = json!({
        "name": c.name,
        "state": state,
        "lastState": c.last.as_ref().map(|t| json!({"terminated": term_json(t)})).unwrap_or(json!({})),
        "ready": running && !terminating,
        "restartCount": c.restart_count,
        "image": c.image,
        "imageID": match (c.ever_started, c.image_id.is_empty()) {
            (false, _) => "",
            (true, true) => "joblite://process",
            (true, false) => c.image_id.as_str(),
        },
        "started": running,
    });
    if let Some(id) = container_id {
        s["containerID"] = json!(id);
    }
    s
}

/// `GetPodQOS` (`pkg/apis/core/helper/qos/qos.go`).
pub(crate) fn qos_class(spec: &PodSpec) -> &'static str {
    let all: Vec<&Container> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &all {
        let r = c.resources.as_ref();
        let req = r.and_then(|r| r.requests.as_ref());
        let lim = r.and_then(|r| r.limits.as_ref());
        for name in ["cpu", "memory"] {
            let l = lim.and_then(|m| m.get(name)).map(|q| q.0.as_str());
            let q = req.and_then(|m| m.get(name)).map(|q| q.0.as_str()).or(l);
            if q.is_some() || l.is_some() {
                any = true;
            }
            match (q, l) {
                (Some(q), Some(l)) if nanos(q) == nanos(l) => {}
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn condition(
    times: &mut ConditionTimes,
    kind: &'static str,
    ok: bool,
    reason: Option<&str>,
    message: Option<String>,
    now: &str,
) -> Value {
    let mut c = json!({
        "type": kind,
        "status": if ok { "True" } else { "False" },
        "lastProbeTime": null,
        "lastTransitionTime": times.at(kind, ok, now),
    });
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    if let Some(m) = message {
        c["message"] = json!(m);
    }
    c
}

/// The full `status` of a pod. `now` is RFC3339 (seconds).
pub(crate) fn pod_status(
    w: &PodWorker,
    node: &NodeIdentity,
    times: &mut ConditionTimes,
    now: &str,
) -> Value {
    let phase = w.phase();
    let terminating = w.termination.is_some();
    let terminal = phase.terminal();

    let not_init: Vec<&str> = w
        .init
        .iter()
        .filter(|c| !(c.done && matches!(&c.state, CState::Terminated(t) if t.exit_code == 0)))
        .map(|c| c.name.as_str())
        .collect();
    let unready: Vec<&str> = w
        .apps
        .iter()
        .filter(|c| !matches!(c.state, CState::Running { .. }) || terminating)
        .map(|c| c.name.as_str())
        .collect();
    let list = |v: &[&str]| format!("[{}]", v.join(" "));

    let initialized = if not_init.is_empty() {
        let reason = (phase == Phase::Succeeded).then_some("PodCompleted");
        condition(times, "Initialized", true, reason, None, now)
    } else {
        condition(
            times,
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: {}",
                list(&not_init)
            )),
            now,
        )
    };
    let (ready, ready_reason, ready_msg) = match phase {
        Phase::Succeeded => (false, Some("PodCompleted"), None),
        Phase::Failed => (false, Some("PodFailed"), None),
        _ if !not_init.is_empty() => (
            false,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: {}",
                list(&not_init)
            )),
        ),
        _ if unready.is_empty() => (true, None, None),
        _ => (
            false,
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: {}",
                list(&unready)
            )),
        ),
    };
    let conditions = vec![
        condition(
            times,
            "PodReadyToStartContainers",
            !terminal,
            None,
            None,
            now,
        ),
        initialized,
        condition(times, "Ready", ready, ready_reason, ready_msg.clone(), now),
        condition(
            times,
            "ContainersReady",
            ready,
            ready_reason,
            ready_msg,
            now,
        ),
        condition(times, "PodScheduled", true, None, None, now),
    ];

    let mut apps: Vec<Value> = w
        .apps
        .iter()
        .map(|c| container_status(c, terminating))
        .collect();
    apps.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let mut s = json!({
        "phase": phase.as_str(),
        "conditions": conditions,
        "hostIP": node.host_ip,
        "hostIPs": [{"ip": node.host_ip}],
        "podIP": w.pod_ip.as_deref().unwrap_or(&node.pod_ip),
        "podIPs": [{"ip": w.pod_ip.as_deref().unwrap_or(&node.pod_ip)}],
        "startTime": w.start_time,
        "containerStatuses": apps,
        "qosClass": w.pod.pointer("/status/qosClass").and_then(Value::as_str).unwrap_or_else(|| qos_class(&w.spec)),
    });
    if !w.init.is_empty() {
        s["initContainerStatuses"] = Value::Array(
            w.init
                .iter()
                .map(|c| container_status(c, terminating))
                .collect(),
        );
    }
    if let Some((reason, message)) = w.reason() {
        s["reason"] = json!(reason);
        s["message"] = json!(message);
    }
    s
}

/// Merges our status into the stored one: conditions of types the kubelet
/// does not own (DisruptionTarget, readiness gates) are kept.
pub(crate) fn merge_status(current: &Value, ours: Value) -> Value {
    let mut ours = ours;
    let owned = [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ];
    if let Some(cur) = current
        .pointer("/status/conditions")
        .and_then(Value::as_array)
    {
        let extra: Vec<Value> = cur
            .iter()
            .filter(|c| !owned.contains(&c.get("type").and_then(Value::as_str).unwrap_or("")))
            .cloned()
            .collect();
        if let Some(conds) = ours.get_mut("conditions").and_then(Value::as_array_mut) {
            conds.extend(extra);
        }
    }
    if let Some(n) = current.pointer("/status/nominatedNodeName") {
        ours["nominatedNodeName"] = n.clone();
    }
    ours
}

/// A quantity's exact value (nano-units); `None` when malformed.
fn nanos(q: &str) -> Option<i128> {
    Some(api::quantity::parse_quantity(q).ok()?.nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_worker::Action;
    use crate::protocol::ExitRecord;
    use std::time::Instant;

    fn node() -> NodeIdentity {
        NodeIdentity {
            host_ip: "127.0.0.1".into(),
            pod_ip: "127.0.0.1".into(),
        }
    }

    fn worker(spec: Value) -> PodWorker {
        let pod =
            json!({"metadata": {"name": "p", "namespace": "default", "uid": "u"}, "spec": spec});
        let spec: PodSpec = serde_json::from_value(pod["spec"].clone()).unwrap();
        PodWorker::new(pod, spec, "2026-01-01T00:00:00Z".into(), Instant::now())
    }

    fn cond<'a>(s: &'a Value, kind: &str) -> &'a Value {
        s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == kind)
            .unwrap()
    }

    #[test]
    fn a_completed_pod_reads_as_upstream() {
        let mut w = worker(
            json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}),
        );
        let mut acts: Vec<Action> = vec![];
        w.sync(&mut acts);
        let mut times = ConditionTimes::default();
        let s = pod_status(&w, &node(), &mut times, "T0");
        assert_eq!(s["phase"], "Pending");
        assert_eq!(
            s["containerStatuses"][0]["state"]["waiting"]["reason"],
            "ContainerCreating"
        );
        assert_eq!(s["qosClass"], "BestEffort");
        w.on_started(
            "u_c_0",
            "joblite://u_c_0",
            "2026-01-01T00:00:01.123456789Z",
            &mut acts,
        );
        let s = pod_status(&w, &node(), &mut times, "T1");
        assert_eq!(s["phase"], "Running");
        assert_eq!(
            s["containerStatuses"][0]["state"]["running"]["startedAt"],
            "2026-01-01T00:00:01Z"
        );
        assert_eq!(cond(&s, "Ready")["status"], "True");
        assert_eq!(cond(&s, "Ready")["lastTransitionTime"], "T1");
        w.on_exit(
            &ExitRecord {
                id: "u_c_0".into(),
                exit_code: 0,
                signal: None,
                oom_killed: false,
                reason: None,
                message: None,
                started_at: "2026-01-01T00:00:01.1Z".into(),
                finished_at: "2026-01-01T00:00:02.1Z".into(),
            },
            Instant::now(),
            &mut acts,
        );
        let s = pod_status(&w, &node(), &mut times, "T2");
        assert_eq!(s["phase"], "Succeeded");
        let t = &s["containerStatuses"][0]["state"]["terminated"];
        assert_eq!(
            (t["exitCode"].as_i64(), t["reason"].as_str()),
            (Some(0), Some("Completed"))
        );
        assert_eq!(t["containerID"], "joblite://u_c_0");
        assert_eq!(s["containerStatuses"][0]["ready"], false);
        assert_eq!(cond(&s, "Ready")["reason"], "PodCompleted");
        assert_eq!(cond(&s, "Initialized")["reason"], "PodCompleted");
        assert_eq!(cond(&s, "PodReadyToStartContainers")["status"], "False");
        assert_eq!(cond(&s, "PodScheduled")["status"], "True");
        assert_eq!(s["hostIPs"][0]["ip"], "127.0.0.1");
    }

    #[test]
    fn init_containers_gate_initialized() {
        let mut w =
            worker(json!({"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]}));
        let mut acts = vec![];
        w.sync(&mut acts);
        let s = pod_status(&w, &node(), &mut ConditionTimes::default(), "T");
        assert_eq!(
            cond(&s, "Initialized")["message"],
            "containers with incomplete status: [i]"
        );
        assert_eq!(
            s["containerStatuses"][0]["state"]["waiting"]["reason"],
            "PodInitializing"
        );
        assert_eq!(s["initContainerStatuses"][0]["name"], "i");
    }

    #[test]
    fn qos_classes() {
        let spec =
            |v: Value| -> PodSpec { serde_json::from_value(json!({"containers": [v]})).unwrap() };
        assert_eq!(qos_class(&spec(json!({"name": "a"}))), "BestEffort");
        assert_eq!(
            qos_class(&spec(
                json!({"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}})
            )),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&spec(
                json!({"name": "a", "resources": {"requests": {"cpu": "1"}}})
            )),
            "Burstable"
        );
    }
}
