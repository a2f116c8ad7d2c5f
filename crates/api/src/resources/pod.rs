//! core/v1 Pod (upstream `pkg/registry/core/pod/strategy.go`, `printPod`,
//! `pkg/apis/core/v1/conversion.go`, kubectl's `describePod`).

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Event, Pod};
use serde_json::{json, Value};

use super::{ResourceInfo, VERBS};
use crate::defaults;
use crate::patch_schema::PatchSchema;
use crate::selectors::{core_field_label_error, str_at};
use crate::status::ApiError;
use crate::strategy::{admission_name, Requirement, Strategy};
use crate::table::{
    age_col, age_of, arr, col, human_duration, i, name_col, name_of, none_if_empty, parse_time, s,
};
use crate::validation::{self, FieldError};

/// core/v1 `pods`.
pub static PODS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    plural: "pods",
    singular: "pod",
    kind: "Pod",
    list_kind: "PodList",
    namespaced: true,
    short_names: &["po"],
    categories: &["all"],
    has_generation: false,
    subresources: &["attach", "eviction", "exec", "log", "portforward", "status"],
    verbs: VERBS,
    strategy: &PodStrategy,
};

const POD_IP_DESC: &str = "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.";
const POD_NODE_DESC: &str = "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename";
const POD_NOMINATED_DESC: &str = "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.";
const POD_GATES_DESC: &str = "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";

/// The Pod strategy. Creation also runs what the ServiceAccount, Priority
/// and DefaultTolerationSeconds admission plugins add (see
/// [`crate::defaults`]).
pub struct PodStrategy;

impl Strategy for PodStrategy {
    type Object = Pod;

    fn info(&self) -> &'static ResourceInfo {
        &PODS
    }

    fn default(&self, pod: &mut Pod) {
        defaults::default_pod(pod);
    }

    /// A pod is written again until it has finished (status) and until its
    /// finalizers are gone (the Job controller removes its
    /// `job-tracking` finalizer once it has counted the pod).
    fn cache_decoded(&self, pod: &Pod) -> bool {
        let finished = matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        !finished
            || pod
                .metadata
                .finalizers
                .as_ref()
                .is_some_and(|f| !f.is_empty())
    }

    /// Upstream's RuntimeClass admission (`plugin/pkg/admission/
    /// runtimeclass/admission.go`, `prepareObjects`): a pod naming a
    /// RuntimeClass that does not exist is refused, 403
    /// `pod rejected: RuntimeClass "x" not found`.
    fn required_on_create(&self, pod: &Pod) -> Vec<Requirement> {
        let class = pod.spec.as_ref().and_then(|s| s.runtime_class_name.as_ref());
        class
            .map(|class| Requirement {
                resource: &super::RUNTIMECLASSES,
                namespace: String::new(),
                name: class.clone(),
                refusal: ApiError::forbidden(
                    &PODS,
                    &admission_name(&pod.metadata),
                    &format!(
                        "pod rejected: RuntimeClass {} not found",
                        validation::go_quote(class)
                    ),
                ),
            })
            .into_iter()
            .collect()
    }

    fn prepare_for_create(&self, pod: &mut Pod) {
        defaults::admit_pod_for_create(pod);
        defaults::prepare_pod_for_create(pod);
    }

    fn validate_create(&self, pod: &Pod) -> Vec<FieldError> {
        validation::validate_pod_create(pod)
    }

    fn prepare_for_update(&self, new: &mut Pod, old: &Pod) {
        defaults::prepare_pod_for_update(new, old);
    }

    fn validate_update(&self, new: &Pod, old: &Pod) -> Vec<FieldError> {
        validation::validate_pod_update(new, old)
    }

    /// The node agent schedules pods itself: binding a pod sets
    /// `spec.nodeName` once, as `pods/binding` does (`assignPod` in
    /// `pkg/registry/core/pod/storage/storage.go`); moving a bound pod stays
    /// a spec change the update refuses.
    fn apply_subresource_writes(&self, new: &Pod, old: &mut Pod) {
        let node = new.spec.as_ref().and_then(|s| s.node_name.clone());
        if let (Some(node), Some(spec)) = (node.filter(|n| !n.is_empty()), old.spec.as_mut()) {
            if spec.node_name.as_deref().unwrap_or_default().is_empty() {
                spec.node_name = Some(node);
            }
        }
    }

    fn prepare_for_status_update(&self, new: &mut Pod, old: &Pod) {
        defaults::prepare_pod_status_update(new, old);
    }

    fn validate_status_update(&self, new: &Pod, old: &Pod) -> Vec<FieldError> {
        validation::validate_pod_status_update(new, old)
    }

    /// `CheckGracefulDelete`: pods that never reached a node, or that
    /// already ended, go at once; others get the requested grace,
    /// defaulting to the pod's own.
    fn delete_grace_seconds(&self, pod: &Pod, requested: Option<i64>) -> i64 {
        let spec = pod.spec.as_ref();
        let scheduled = spec
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty());
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or_default();
        if !scheduled || phase == "Succeeded" || phase == "Failed" {
            return 0;
        }
        let own = spec
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(defaults::DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS);
        requested.unwrap_or(own).max(0)
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }

    fn columns(&self) -> Vec<Value> {
        vec![
            name_col(),
            col("Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0),
            col("Status", "string", "", "The aggregate status of the containers in this pod.", 0),
            col("Restarts", "string", "", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0),
            age_col(),
            col("IP", "string", "", POD_IP_DESC, 1),
            col("Node", "string", "", POD_NODE_DESC, 1),
            col("Nominated Node", "string", "", POD_NOMINATED_DESC, 1),
            col("Readiness Gates", "string", "", POD_GATES_DESC, 1),
        ]
    }

    fn cells(&self, pod: &Value, now: DateTime<Utc>) -> Vec<Value> {
        pod_cells(pod, now)
    }

    /// Succeeded and failed pods carry a `Completed` row condition (upstream
    /// `podSuccessConditions`/`podFailedConditions`).
    fn row_conditions(&self, pod: &Value) -> Option<Value> {
        match s(pod, "/status/phase") {
            "Succeeded" => Some(
                json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]),
            ),
            "Failed" => Some(
                json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]),
            ),
            _ => None,
        }
    }

    /// `pkg/apis/core/v1/conversion.go` (`spec.host` is `spec.nodeName`).
    fn field_label<'a>(&self, label: &'a str) -> Result<&'a str, ApiError> {
        match label {
            "metadata.name"
            | "metadata.namespace"
            | "spec.nodeName"
            | "spec.restartPolicy"
            | "spec.schedulerName"
            | "spec.serviceAccountName"
            | "spec.hostNetwork"
            | "status.phase"
            | "status.podIP"
            | "status.nominatedNodeName" => Ok(label),
            "spec.host" => Ok("spec.nodeName"),
            _ => Err(core_field_label_error(label)),
        }
    }

    /// `ToSelectableFields` of `pkg/registry/core/pod/strategy.go`.
    fn field_value(&self, pod: &Value, field: &str) -> Option<String> {
        match field {
            "spec.nodeName" => Some(str_at(pod, "/spec/nodeName")),
            "spec.restartPolicy" => Some(str_at(pod, "/spec/restartPolicy")),
            "spec.schedulerName" => Some(str_at(pod, "/spec/schedulerName")),
            "spec.serviceAccountName" => Some(str_at(pod, "/spec/serviceAccountName")),
            "spec.hostNetwork" => Some(
                pod.pointer("/spec/hostNetwork")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    .to_string(),
            ),
            "status.phase" => Some(str_at(pod, "/status/phase")),
            "status.podIP" => {
                // Upstream reads status.podIPs[0]; fall back to status.podIP
                // for objects written without the plural field.
                let ip = str_at(pod, "/status/podIPs/0/ip");
                Some(if ip.is_empty() {
                    str_at(pod, "/status/podIP")
                } else {
                    ip
                })
            }
            "status.nominatedNodeName" => Some(str_at(pod, "/status/nominatedNodeName")),
            _ => None,
        }
    }

    fn patch_schema(&self) -> &'static PatchSchema {
        PatchSchema::pod()
    }

    fn decode_protobuf(
        &self,
        raw: &[u8],
    ) -> Option<Result<serde_json::Map<String, Value>, prost::DecodeError>> {
        crate::protobuf::convert(raw, crate::protobuf::pod_to_json)
    }

    fn describe(&self, pod: &Pod, events: &[Event]) -> String {
        crate::describe::pod_text(pod, events)
    }
}

/// What `printPod` computes besides the wide cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSummary {
    /// READY, e.g. `1/1`.
    pub ready: String,
    /// STATUS, e.g. `Completed`, `CrashLoopBackOff`, `Init:0/1`.
    pub status: String,
    /// RESTARTS, e.g. `0` or `2 (12s ago)`.
    pub restarts: String,
}

fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn terminated_reason(term: &Value, prefix: &str) -> String {
    let reason = s(term, "/reason");
    if !reason.is_empty() {
        return format!("{prefix}{reason}");
    }
    let signal = i(term, "/signal");
    if signal != 0 {
        format!("{prefix}Signal:{signal}")
    } else {
        format!("{prefix}ExitCode:{}", i(term, "/exitCode"))
    }
}

fn pod_condition_true(pod: &Value, ty: &str) -> bool {
    // isPodInitializedConditionTrue / hasPodReadyCondition
    arr(pod, "/status/conditions")
        .iter()
        .any(|c| s(c, "/type") == ty && s(c, "/status") == "True")
}

/// READY, STATUS and RESTARTS of a pod, following upstream `printPod`
/// (`pkg/printers/internalversion/printers.go`) step by step.
pub fn pod_summary(pod: &Value, now: DateTime<Utc>) -> PodSummary {
    let phase = s(pod, "/status/phase");
    let status_reason = s(pod, "/status/reason");
    let mut reason = if status_reason.is_empty() {
        phase.to_string()
    } else {
        status_reason.to_string()
    };
    for c in arr(pod, "/status/conditions") {
        if s(c, "/type") == "PodScheduled" && s(c, "/reason") == "SchedulingGated" {
            reason = "SchedulingGated".into();
        }
    }

    let spec_init = arr(pod, "/spec/initContainers");
    let restartable = |name: &str| {
        spec_init
            .iter()
            .any(|c| s(c, "/name") == name && s(c, "/restartPolicy") == "Always")
    };
    let total = arr(pod, "/spec/containers").len()
        + spec_init
            .iter()
            .filter(|c| s(c, "/restartPolicy") == "Always")
            .count();
    let mut ready = 0usize;
    let mut restarts: i64 = 0;
    let mut restartable_restarts: i64 = 0;
    let mut last_restart: Option<DateTime<Utc>> = None;
    let mut last_restartable_restart: Option<DateTime<Utc>> = None;

    let mut initializing = false;
    for (idx, c) in arr(pod, "/status/initContainerStatuses").iter().enumerate() {
        let rc = i(c, "/restartCount");
        restarts += rc;
        let finished = parse_time(c.pointer("/lastState/terminated/finishedAt"));
        last_restart = later(last_restart, finished);
        let is_restartable = restartable(s(c, "/name"));
        if is_restartable {
            restartable_restarts += rc;
            last_restartable_restart = later(last_restartable_restart, finished);
        }
        let terminated = c.pointer("/state/terminated").filter(|t| t.is_object());
        let waiting = c.pointer("/state/waiting").filter(|w| w.is_object());
        if terminated.is_some_and(|t| i(t, "/exitCode") == 0) {
            continue;
        }
        if is_restartable && c.pointer("/started").and_then(Value::as_bool) == Some(true) {
            if c.pointer("/ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            reason = terminated_reason(t, "Init:");
        } else if let Some(w) = waiting.filter(|w| {
            let r = s(w, "/reason");
            !r.is_empty() && r != "PodInitializing"
        }) {
            reason = format!("Init:{}", s(w, "/reason"));
        } else {
            reason = format!("Init:{idx}/{}", spec_init.len());
        }
        initializing = true;
        break;
    }

    if !initializing || pod_condition_true(pod, "Initialized") {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        for c in arr(pod, "/status/containerStatuses").iter().rev() {
            restarts += i(c, "/restartCount");
            last_restart = later(
                last_restart,
                parse_time(c.pointer("/lastState/terminated/finishedAt")),
            );
            let terminated = c.pointer("/state/terminated").filter(|t| t.is_object());
            let waiting = c.pointer("/state/waiting").filter(|w| w.is_object());
            let running = c.pointer("/state/running").is_some_and(Value::is_object);
            if let Some(w) = waiting.filter(|w| !s(w, "/reason").is_empty()) {
                reason = s(w, "/reason").to_string();
            } else if let Some(t) = terminated {
                reason = terminated_reason(t, "");
            } else if c.pointer("/ready").and_then(Value::as_bool) == Some(true) && running {
                has_running = true;
                ready += 1;
            }
        }
        // One completed container next to a running one leaves the pod
        // Running (or NotReady), not Completed.
        if reason == "Completed" && has_running {
            reason = if pod_condition_true(pod, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    let deleting = pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null());
    if deleting && status_reason == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }

    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", human_duration(now - t)),
        _ => restarts.to_string(),
    };
    PodSummary {
        ready: format!("{ready}/{total}"),
        status: reason,
        restarts: restarts_str,
    }
}

pub fn pod_cells(pod: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let sum = pod_summary(pod, now);
    let mut ip = s(pod, "/status/podIPs/0/ip");
    if ip.is_empty() {
        ip = s(pod, "/status/podIP");
    }
    let gates = arr(pod, "/spec/readinessGates");
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conds = arr(pod, "/status/conditions");
        let true_count = gates
            .iter()
            .filter(|g| {
                conds
                    .iter()
                    .find(|c| s(c, "/type") == s(g, "/conditionType"))
                    .is_some_and(|c| s(c, "/status") == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    vec![
        name_of(pod),
        json!(sum.ready),
        json!(sum.status),
        json!(sum.restarts),
        age_of(pod, now),
        json!(none_if_empty(ip)),
        json!(none_if_empty(s(pod, "/spec/nodeName"))),
        json!(none_if_empty(s(pod, "/status/nominatedNodeName"))),
        json!(readiness_gates),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::UpdateScope;

    fn pod(v: Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn grace_follows_check_graceful_delete() {
        let running = pod(
            json!({"spec":{"nodeName":"n","terminationGracePeriodSeconds":5,"containers":[]},"status":{"phase":"Running"}}),
        );
        assert_eq!(Strategy::delete_grace_seconds(&PodStrategy, &running, None), 5);
        assert_eq!(Strategy::delete_grace_seconds(&PodStrategy, &running, Some(0)), 0);
        let pending = pod(json!({"spec":{"containers":[]},"status":{"phase":"Pending"}}));
        assert_eq!(Strategy::delete_grace_seconds(&PodStrategy, &pending, Some(30)), 0);
        let done =
            pod(json!({"spec":{"nodeName":"n","containers":[]},"status":{"phase":"Succeeded"}}));
        assert_eq!(Strategy::delete_grace_seconds(&PodStrategy, &done, None), 0);
    }

    /// An in-process write is checked as the API would check it: binding and
    /// status are fine, a spec change is refused.
    #[test]
    fn controller_writes_are_validated_like_api_writes() {
        let mut old: Box<dyn crate::strategy::Object> = Box::new(pod(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["true"]}]},
        })));
        PODS.strategy.create(old.as_mut()).unwrap();
        let mut bound = old.to_value();
        bound["spec"]["nodeName"] = json!("node1");
        bound["status"]["phase"] = json!("Running");
        let mut new = PODS.strategy.decode(bound.clone()).unwrap();
        PODS.strategy
            .update(new.as_mut(), old.as_ref(), UpdateScope::All)
            .unwrap();
        assert_eq!(new.to_value()["status"]["phase"], "Running");
        let mut changed = bound;
        changed["spec"]["containers"][0]["command"] = json!(["false"]);
        let mut new = PODS.strategy.decode(changed).unwrap();
        let err = PODS
            .strategy
            .update(new.as_mut(), old.as_ref(), UpdateScope::All)
            .unwrap_err();
        assert!(
            err.message().contains("pod updates may not change fields"),
            "{}",
            err.message()
        );
    }
}
