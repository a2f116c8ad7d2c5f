//! Job conditions (upstream `job_controller.go` `newCondition`,
//! `ensureJobConditionStatus`, `newFailedConditionForFailureTarget`; the
//! reasons are the `JobReason*` constants of `staging/src/k8s.io/api/batch/v1/types.go`).
//!
//! Conditions are appended in the order they happen, and rewritten (with
//! new timestamps) only when their status, reason or message changes.

use chrono::{DateTime, Utc};

use crate::kit::objects::{trunc_secs, JobCondition};

pub const COMPLETE: &str = "Complete";
pub const FAILED: &str = "Failed";
pub const FAILURE_TARGET: &str = "FailureTarget";
pub const SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";
pub const SUSPENDED: &str = "Suspended";

pub const REASON_BACKOFF_LIMIT_EXCEEDED: &str = "BackoffLimitExceeded";
pub const REASON_DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
pub const REASON_POD_FAILURE_POLICY: &str = "PodFailurePolicy";
pub const REASON_MAX_FAILED_INDEXES_EXCEEDED: &str = "MaxFailedIndexesExceeded";
pub const REASON_FAILED_INDEXES: &str = "FailedIndexes";
pub const REASON_SUCCESS_POLICY: &str = "SuccessPolicy";
pub const REASON_COMPLETIONS_REACHED: &str = "CompletionsReached";

pub const MSG_BACKOFF_LIMIT_EXCEEDED: &str = "Job has reached the specified backoff limit";
pub const MSG_DEADLINE_EXCEEDED: &str = "Job was active longer than specified deadline";
pub const MSG_MAX_FAILED_INDEXES_EXCEEDED: &str =
    "Job has exceeded the specified maximal number of failed indexes";
pub const MSG_FAILED_INDEXES: &str = "Job has failed indexes";
pub const MSG_COMPLETIONS_REACHED: &str = "Reached expected number of succeeded pods";

/// A condition with `lastProbeTime == lastTransitionTime == now`.
pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: DateTime<Utc>,
) -> JobCondition {
    let now = trunc_secs(now);
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        last_probe_time: Some(now),
        last_transition_time: Some(now),
        reason: reason.into(),
        message: message.into(),
    }
}

/// Upstream `newFailedConditionForFailureTarget`.
pub fn failed_for_failure_target(target: &JobCondition, now: DateTime<Utc>) -> JobCondition {
    new_condition(FAILED, "True", &target.reason, &target.message, now)
}

/// Upstream `newSuccessCondition` with JobSuccessPolicy on (GA in 1.33).
pub fn success_criteria_met(now: DateTime<Utc>) -> JobCondition {
    new_condition(
        SUCCESS_CRITERIA_MET,
        "True",
        REASON_COMPLETIONS_REACHED,
        MSG_COMPLETIONS_REACHED,
        now,
    )
}

pub fn find<'a>(list: &'a [JobCondition], type_: &str) -> Option<&'a JobCondition> {
    list.iter().find(|c| c.type_ == type_)
}

/// The True condition of `type_`, if any.
pub fn find_true<'a>(list: &'a [JobCondition], type_: &str) -> Option<&'a JobCondition> {
    find(list, type_).filter(|c| c.status == "True")
}

/// Upstream `ensureJobConditionStatus`: updates an existing condition
/// when it differs, appends a missing one unless its status is False.
/// Returns whether anything changed.
pub fn ensure_condition(
    list: &mut Vec<JobCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: DateTime<Utc>,
) -> bool {
    if let Some(c) = list.iter_mut().find(|c| c.type_ == type_) {
        if c.status != status || c.reason != reason || c.message != message {
            *c = new_condition(type_, status, reason, message, now);
            return true;
        }
        return false;
    }
    if status != "False" {
        list.push(new_condition(type_, status, reason, message, now));
        return true;
    }
    false
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table-driven cases are tuples
mod tests {
    use super::*;

    /// Upstream `TestEnsureJobConditions`.
    #[test]
    fn ensure_condition_table() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let t1 = t0 + chrono::Duration::seconds(5);
        let base = new_condition(SUSPENDED, "True", "JobSuspended", "Job suspended", t0);
        let cases: Vec<(
            &str,
            Vec<JobCondition>,
            &str,
            &str,
            &str,
            bool,
            Vec<JobCondition>,
        )> = vec![
            (
                "append true",
                vec![],
                "True",
                "JobSuspended",
                "Job suspended",
                true,
                vec![new_condition(
                    SUSPENDED,
                    "True",
                    "JobSuspended",
                    "Job suspended",
                    t1,
                )],
            ),
            (
                "do not append false",
                vec![],
                "False",
                "JobResumed",
                "Job resumed",
                false,
                vec![],
            ),
            (
                "update existing",
                vec![base.clone()],
                "False",
                "JobResumed",
                "Job resumed",
                true,
                vec![new_condition(
                    SUSPENDED,
                    "False",
                    "JobResumed",
                    "Job resumed",
                    t1,
                )],
            ),
            (
                "unchanged keeps timestamps",
                vec![base.clone()],
                "True",
                "JobSuspended",
                "Job suspended",
                false,
                vec![base.clone()],
            ),
        ];
        for (name, mut list, status, reason, msg, changed, want) in cases {
            assert_eq!(
                ensure_condition(&mut list, SUSPENDED, status, reason, msg, t1),
                changed,
                "{name}"
            );
            assert_eq!(list, want, "{name}");
        }
    }
}
