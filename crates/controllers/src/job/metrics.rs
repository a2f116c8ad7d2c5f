//! The Job controller's Prometheus metrics, with upstream's names, labels,
//! buckets and help texts (`pkg/controller/job/metrics/metrics.go`), so
//! dashboards and alerts written for kube-controller-manager keep working.
//!
//! They are process-wide, as upstream's `legacyregistry` is: the binary
//! registers them once ([`register`]) into the registry `/metrics` serves.
//! Each helper below is the one place its metric is touched; the sync path
//! pays a label lookup and an atomic add per call.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{exponential_buckets, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use super::pod_failure_policy::Action;
use crate::kit::objects::{Job, Pod};

/// Upstream `JobControllerSubsystem`.
const SUBSYSTEM: &str = "job_controller";

/// `action` label values (upstream `JobSyncAction*`).
pub const ACTION_RECONCILING: &str = "reconciling";
pub const ACTION_TRACKING: &str = "tracking";
pub const ACTION_PODS_CREATED: &str = "pods_created";
pub const ACTION_PODS_DELETED: &str = "pods_deleted";

/// `reason` values of `job_pods_creation_total` (upstream `PodCreateNew`, …).
pub const POD_CREATE_NEW: &str = "new";
pub const POD_RECREATE_TERMINATING_OR_FAILED: &str = "recreate_terminating_or_failed";
pub const POD_RECREATE_FAILED: &str = "recreate_failed";

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help).subsystem(SUBSYSTEM), labels)
        .expect("valid metric definition")
}

/// `job_controller_job_sync_duration_seconds` [STABLE].
pub static JOB_SYNC_DURATION_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    HistogramVec::new(
        HistogramOpts::new(
            "job_sync_duration_seconds",
            "[STABLE] The time it took to sync a job",
        )
        .subsystem(SUBSYSTEM)
        .buckets(exponential_buckets(0.004, 2.0, 15).expect("valid buckets")),
        &["completion_mode", "result", "action"],
    )
    .expect("valid metric definition")
});

/// `job_controller_job_syncs_total` [STABLE].
pub static JOB_SYNCS_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "job_syncs_total",
        "[STABLE] The number of job syncs",
        &["completion_mode", "result", "action"],
    )
});

/// `job_controller_jobs_finished_total` [STABLE].
pub static JOBS_FINISHED_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "jobs_finished_total",
        "[STABLE] The number of finished jobs",
        &["completion_mode", "result", "reason"],
    )
});

/// `job_controller_job_pods_finished_total` [STABLE].
pub static JOB_PODS_FINISHED_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "job_pods_finished_total",
        "[STABLE] The number of finished Pods that are fully tracked",
        &["completion_mode", "result"],
    )
});

/// `job_controller_pod_failures_handled_by_failure_policy_total` [BETA].
pub static POD_FAILURES_HANDLED_BY_FAILURE_POLICY_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(
    || {
        counter(
            "pod_failures_handled_by_failure_policy_total",
            "[BETA] The number of failed Pods handled by failure policy with respect to the failure policy action applied based on the matched rule. Possible values of the action label correspond to the possible values for the failure policy rule action, which are: \"FailJob\", \"Ignore\" and \"Count\".",
            &["action"],
        )
    },
);

/// `job_controller_terminated_pods_tracking_finalizer_total` [BETA].
pub static TERMINATED_PODS_TRACKING_FINALIZER_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(
    || {
        counter(
            "terminated_pods_tracking_finalizer_total",
            "[BETA] The number of terminated pods (phase=Failed|Succeeded) that have the finalizer batch.kubernetes.io/job-tracking. The event label can be \"add\" or \"delete\".",
            &["event"],
        )
    },
);

/// `job_controller_job_finished_indexes_total` [ALPHA].
pub static JOB_FINISHED_INDEXES_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "job_finished_indexes_total",
        "[ALPHA] The number of finished indexes. Possible values for the status label are: \"succeeded\", \"failed\". Possible values for the backoffLimit label are: \"perIndex\" and \"global\"",
        &["status", "backoffLimit"],
    )
});

/// `job_controller_job_pods_creation_total` [ALPHA].
pub static JOB_PODS_CREATION_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "job_pods_creation_total",
        "[ALPHA] The number of Pods created by the Job controller labelled with a reason for the Pod creation.\nThis metric also distinguishes between Pods created using different PodReplacementPolicy settings.\nPossible values of the \"reason\" label are:\n\"new\", \"recreate_terminating_or_failed\", \"recreate_failed\".\nPossible values of the \"status\" label are:\n\"succeeded\", \"failed\".",
        &["reason", "status"],
    )
});

/// `job_controller_jobs_by_external_controller_total` [ALPHA].
pub static JOBS_BY_EXTERNAL_CONTROLLER_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "jobs_by_external_controller_total",
        "[ALPHA] The number of Jobs managed by an external controller",
        &["controller_name"],
    )
});

/// Registers every Job controller metric (upstream `metrics.Register`).
pub fn register(registry: &Registry) -> prometheus::Result<()> {
    registry.register(Box::new(JOB_SYNC_DURATION_SECONDS.clone()))?;
    registry.register(Box::new(JOB_SYNCS_TOTAL.clone()))?;
    registry.register(Box::new(JOBS_FINISHED_TOTAL.clone()))?;
    registry.register(Box::new(JOB_PODS_FINISHED_TOTAL.clone()))?;
    registry.register(Box::new(
        POD_FAILURES_HANDLED_BY_FAILURE_POLICY_TOTAL.clone(),
    ))?;
    registry.register(Box::new(TERMINATED_PODS_TRACKING_FINALIZER_TOTAL.clone()))?;
    registry.register(Box::new(JOB_FINISHED_INDEXES_TOTAL.clone()))?;
    registry.register(Box::new(JOB_PODS_CREATION_TOTAL.clone()))?;
    registry.register(Box::new(JOBS_BY_EXTERNAL_CONTROLLER_TOTAL.clone()))?;
    Ok(())
}

/// Upstream `getCompletionMode`.
pub fn completion_mode(job: &Job) -> &'static str {
    if job.is_indexed() {
        "Indexed"
    } else {
        "NonIndexed"
    }
}

/// The deferred record at the end of upstream `syncJob`.
pub fn record_sync(mode: &str, ok: bool, action: &str, took: Duration) {
    let result = if ok { "success" } else { "error" };
    JOB_SYNC_DURATION_SECONDS
        .with_label_values(&[mode, result, action])
        .observe(took.as_secs_f64());
    JOB_SYNCS_TOTAL
        .with_label_values(&[mode, result, action])
        .inc();
}

/// Upstream `recordJobFinished`'s metric: `succeeded` for a Complete
/// condition, `failed` otherwise, labelled with the condition's reason
/// (`CompletionsReached`, `SuccessPolicy`, `BackoffLimitExceeded`, …).
pub fn record_job_finished(job: &Job, complete: bool, reason: &str) {
    let result = if complete { "succeeded" } else { "failed" };
    JOBS_FINISHED_TOTAL
        .with_label_values(&[completion_mode(job), result, reason])
        .inc();
}

/// The counters `recordJobPodFinished` compares across a status write.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub succeeded: i32,
    pub failed: i32,
    pub completed_indexes: String,
    pub failed_indexes: Option<String>,
}

impl Counters {
    pub fn of(job: &Job) -> Counters {
        Counters {
            succeeded: job.status.succeeded,
            failed: job.status.failed,
            completed_indexes: job.status.completed_indexes.clone(),
            failed_indexes: job.status.failed_indexes.clone(),
        }
    }
}

fn indexes_count(s: Option<&str>, completions: i32) -> i64 {
    s.map(|s| api::index_set::IndexSet::parse_lenient(s, completions).count())
        .unwrap_or(0)
}

/// Upstream `recordJobPodFinished`: the pods (or, for Indexed Jobs, the
/// indexes) that a status write moved into the counters.
pub fn record_job_pods_finished(job: &Job, old: &Counters) {
    let mode = completion_mode(job);
    let succeeded_diff = if job.is_indexed() {
        let completions = job.completions();
        let mut diff = 0;
        if job.status.completed_indexes != old.completed_indexes {
            diff = indexes_count(Some(&job.status.completed_indexes), completions)
                - indexes_count(Some(&old.completed_indexes), completions);
        }
        let limit = if job.spec.backoff_limit_per_index.is_some() {
            "perIndex"
        } else {
            "global"
        };
        if diff > 0 {
            JOB_FINISHED_INDEXES_TOTAL
                .with_label_values(&["succeeded", limit])
                .inc_by(diff as u64);
        }
        if job.spec.backoff_limit_per_index.is_some()
            && job.status.failed_indexes != old.failed_indexes
        {
            let failed = indexes_count(job.status.failed_indexes.as_deref(), completions)
                - indexes_count(old.failed_indexes.as_deref(), completions);
            if failed > 0 {
                JOB_FINISHED_INDEXES_TOTAL
                    .with_label_values(&["failed", limit])
                    .inc_by(failed as u64);
            }
        }
        diff
    } else {
        i64::from(job.status.succeeded - old.succeeded)
    };
    // Counters only grow; upstream's Add of a negative diff would panic.
    if succeeded_diff > 0 {
        JOB_PODS_FINISHED_TOTAL
            .with_label_values(&[mode, "succeeded"])
            .inc_by(succeeded_diff as u64);
    }
    let failed_diff = i64::from(job.status.failed - old.failed);
    if failed_diff > 0 {
        JOB_PODS_FINISHED_TOTAL
            .with_label_values(&[mode, "failed"])
            .inc_by(failed_diff as u64);
    }
}

/// Upstream `recordJobPodFailurePolicyActions`.
pub fn record_failure_policy_actions(counts: &[(Action, u64)]) {
    for (action, n) in counts {
        POD_FAILURES_HANDLED_BY_FAILURE_POLICY_TOTAL
            .with_label_values(&[action.as_str()])
            .inc_by(*n);
    }
}

/// Upstream `recordJobPodsCreationTotal`.
pub fn record_pods_creation(reason: &str, succeeded: u64, failed: u64) {
    if succeeded > 0 {
        JOB_PODS_CREATION_TOTAL
            .with_label_values(&[reason, "succeeded"])
            .inc_by(succeeded);
    }
    if failed > 0 {
        JOB_PODS_CREATION_TOTAL
            .with_label_values(&[reason, "failed"])
            .inc_by(failed);
    }
}

fn finished_with_tracking_finalizer(pod: Option<&Pod>) -> bool {
    pod.is_some_and(|p| {
        matches!(p.phase(), "Succeeded" | "Failed")
            && p.metadata.has_finalizer(super::JOB_TRACKING_FINALIZER)
    })
}

/// Upstream `recordFinishedPodWithTrackingFinalizer`: a terminated pod
/// that carries the tracking finalizer appeared (`add`) or stopped being
/// one (`delete`).
pub fn record_finished_pod_with_tracking_finalizer(old: Option<&Pod>, new: Option<&Pod>) {
    let was = finished_with_tracking_finalizer(old);
    let is = finished_with_tracking_finalizer(new);
    if was != is {
        let event = if is { "add" } else { "delete" };
        TERMINATED_PODS_TRACKING_FINALIZER_TOTAL
            .with_label_values(&[event])
            .inc();
    }
}

/// Counts a Job that names an external manager in `spec.managedBy`.
pub fn record_external_controller(name: &str) {
    JOBS_BY_EXTERNAL_CONTROLLER_TOTAL
        .with_label_values(&[name])
        .inc();
}
