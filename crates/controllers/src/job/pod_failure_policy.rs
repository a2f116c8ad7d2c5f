//! Pod failure policy matching (upstream `pkg/controller/job/pod_failure_policy.go`, KEP-3329).
//!
//! Rules are tried in order and the first match decides; no match means the
//! failure counts as usual. Only pods in phase Failed are matched (the
//! caller guarantees it).

use crate::kit::objects::{ContainerStatus, Pod, PodFailurePolicy, PodFailurePolicyRule};

/// The action a matched rule takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    FailJob,
    FailIndex,
    Ignore,
    Count,
}

impl Action {
    /// The API spelling, also the metrics' `action` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::FailJob => "FailJob",
            Action::FailIndex => "FailIndex",
            Action::Ignore => "Ignore",
            Action::Count => "Count",
        }
    }
}

/// Result of matching one failed pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// `FailJob` message, when a FailJob rule matched.
    pub fail_job_message: Option<String>,
    /// Whether the failure counts toward the backoff limits.
    pub count_failed: bool,
    /// The matched rule's action, if any rule matched.
    pub action: Option<Action>,
}

impl Match {
    fn none() -> Self {
        Match {
            fail_job_message: None,
            count_failed: true,
            action: None,
        }
    }
}

/// Upstream `matchPodFailurePolicy`.
pub fn match_pod_failure_policy(policy: Option<&PodFailurePolicy>, pod: &Pod) -> Match {
    let Some(policy) = policy else {
        return Match::none();
    };
    for (index, rule) in policy.rules.iter().enumerate() {
        if let Some(req) = &rule.on_exit_codes {
            if let Some(cs) = match_on_exit_codes(pod, req) {
                let code = cs.state.terminated.as_ref().map_or(0, |t| t.exit_code);
                let msg = format!(
                    "Container {} for pod {}/{} failed with exit code {} matching FailJob rule at index {}",
                    cs.name, pod.metadata.namespace, pod.metadata.name, code, index
                );
                if let Some(m) = act(rule, msg) {
                    return m;
                }
            }
        } else if let Some(patterns) = &rule.on_pod_conditions {
            if let Some(cond) = pod.status.conditions.iter().find(|c| {
                patterns.iter().any(|p| {
                    *c.type_ == p.type_ && &*c.status == p.status.as_deref().unwrap_or("True")
                })
            }) {
                let msg = format!(
                    "Pod {}/{} has condition {} matching FailJob rule at index {}",
                    pod.metadata.namespace, pod.metadata.name, cond.type_, index
                );
                if let Some(m) = act(rule, msg) {
                    return m;
                }
            }
        }
    }
    Match::none()
}

fn act(rule: &PodFailurePolicyRule, fail_job_message: String) -> Option<Match> {
    let (action, count, msg) = match rule.action.as_str() {
        "Ignore" => (Action::Ignore, false, None),
        "FailIndex" => (Action::FailIndex, true, None),
        "Count" => (Action::Count, true, None),
        "FailJob" => (Action::FailJob, true, Some(fail_job_message)),
        // Unknown actions are skipped, as upstream's switch falls through.
        _ => return None,
    };
    Some(Match {
        fail_job_message: msg,
        count_failed: count,
        action: Some(action),
    })
}

/// Upstream `matchOnExitCodes`: regular containers first, then init containers.
fn match_on_exit_codes<'a>(
    pod: &'a Pod,
    req: &crate::kit::objects::OnExitCodes,
) -> Option<&'a ContainerStatus> {
    let matches = |cs: &&ContainerStatus| {
        let Some(t) = &cs.state.terminated else {
            return false;
        };
        if req
            .container_name
            .as_deref()
            .is_some_and(|n| n != &*cs.name)
            || t.exit_code == 0
        {
            return false;
        }
        let member = req.values.contains(&t.exit_code);
        match req.operator.as_str() {
            "In" => member,
            "NotIn" => !member,
            _ => false,
        }
    };
    pod.status
        .container_statuses
        .iter()
        .find(matches)
        .or_else(|| pod.status.init_container_statuses.iter().find(matches))
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table-driven cases are tuples
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn policy(rules: Value) -> PodFailurePolicy {
        serde_json::from_value(json!({ "rules": rules })).unwrap()
    }

    fn pod(status: Value) -> Pod {
        let v = json!({"metadata": {"name": "p", "namespace": "ns"}, "status": status});
        Pod::parse(&serde_json::to_vec(&v).unwrap(), 1).unwrap()
    }

    fn exited(name: &str, code: i32) -> Value {
        json!({"name": name, "state": {"terminated": {"exitCode": code}}})
    }

    /// Cases after upstream `TestMatchPodFailurePolicy` (`pod_failure_policy_test.go`).
    #[test]
    fn match_pod_failure_policy_table() {
        let failjob_in_42 =
            json!([{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]);
        let cases: Vec<(&str, Value, Value, Option<&str>, bool, Option<Action>)> = vec![
            ("no rules count", json!([]), json!({"phase": "Failed", "containerStatuses": [exited("c", 42)]}), None, true, None),
            ("FailJob on exit code In", failjob_in_42.clone(),
             json!({"phase": "Failed", "containerStatuses": [exited("main", 42)]}),
             Some("Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 0"), true, Some(Action::FailJob)),
            ("exit code not in values", failjob_in_42.clone(),
             json!({"phase": "Failed", "containerStatuses": [exited("main", 1)]}), None, true, None),
            ("exit code 0 never matches NotIn", json!([{"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [1]}}]),
             json!({"phase": "Failed", "containerStatuses": [exited("main", 0)]}), None, true, None),
            ("NotIn matches other codes", json!([{"action": "Ignore", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}}]),
             json!({"phase": "Failed", "containerStatuses": [exited("main", 3)]}), None, false, Some(Action::Ignore)),
            ("containerName restricts", json!([{"action": "FailJob", "onExitCodes": {"containerName": "other", "operator": "In", "values": [42]}}]),
             json!({"phase": "Failed", "containerStatuses": [exited("main", 42)]}), None, true, None),
            ("init containers are scanned after containers", json!([{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [5]}}]),
             json!({"phase": "Failed", "initContainerStatuses": [exited("init", 5)], "containerStatuses": [exited("main", 4)]}),
             Some("Container init for pod ns/p failed with exit code 5 matching FailJob rule at index 0"), true, Some(Action::FailJob)),
            ("first matching rule wins", json!([
                {"action": "Count", "onExitCodes": {"operator": "In", "values": [42]}},
                {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]),
             json!({"phase": "Failed", "containerStatuses": [exited("main", 42)]}), None, true, Some(Action::Count)),
            ("Ignore on DisruptionTarget", json!([{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]),
             json!({"phase": "Failed", "conditions": [{"type": "DisruptionTarget", "status": "True"}]}), None, false, Some(Action::Ignore)),
            ("condition status must match", json!([{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]),
             json!({"phase": "Failed", "conditions": [{"type": "DisruptionTarget", "status": "False"}]}), None, true, None),
            ("FailJob on condition", json!([{"action": "FailJob", "onPodConditions": [{"type": "ConfigIssue", "status": "True"}]}]),
             json!({"phase": "Failed", "conditions": [{"type": "ConfigIssue", "status": "True"}]}),
             Some("Pod ns/p has condition ConfigIssue matching FailJob rule at index 0"), true, Some(Action::FailJob)),
            ("FailIndex counts", json!([{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [3]}}]),
             json!({"phase": "Failed", "containerStatuses": [exited("main", 3)]}), None, true, Some(Action::FailIndex)),
            ("rule index in message", json!([
                {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1]}},
                {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [2]}}]),
             json!({"phase": "Failed", "containerStatuses": [exited("main", 2)]}),
             Some("Container main for pod ns/p failed with exit code 2 matching FailJob rule at index 1"), true, Some(Action::FailJob)),
            ("running containers have no exit code", failjob_in_42,
             json!({"phase": "Failed", "containerStatuses": [{"name": "main", "state": {"running": {}}}]}), None, true, None),
        ];
        for (name, rules, status, msg, count, action) in cases {
            let p = policy(rules);
            let got = match_pod_failure_policy(Some(&p), &pod(status));
            assert_eq!(got.fail_job_message.as_deref(), msg, "{name}: message");
            assert_eq!(got.count_failed, count, "{name}: count");
            assert_eq!(got.action, action, "{name}: action");
        }
    }
}
