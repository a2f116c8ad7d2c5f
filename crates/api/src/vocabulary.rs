//! The words components share: well-known labels, annotations, finalizers,
//! controller names and timestamp formats.
//!
//! They are upstream's (`staging/src/k8s.io/api/batch/v1/types.go`,
//! `staging/src/k8s.io/api/core/v1/well_known_labels.go`,
//! `staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/types.go`, the
//! controllers' `*ControllerName` constants). Defined once here so that the
//! API's defaulting and validation, the store, the controllers and the node
//! agent name them the same way without importing one another.

use chrono::{DateTime, Utc};

// --- labels ----------------------------------------------------------------

/// `batch.kubernetes.io/job-name`: the Job a pod belongs to.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// `batch.kubernetes.io/controller-uid`: the uid of the Job a pod belongs to.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
/// The pre-1.27 `job-name` label, still set.
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";
/// The pre-1.27 `controller-uid` label, still set.
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
/// `batch.kubernetes.io/job-completion-index` (label and annotation) of an
/// Indexed Job's pods.
pub const JOB_COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// `kubernetes.io/metadata.name`: every Namespace carries its own name.
pub const LABEL_METADATA_NAME: &str = "kubernetes.io/metadata.name";
/// `kubernetes.io/hostname` of a Node.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// `kubernetes.io/os` of a Node.
pub const LABEL_OS: &str = "kubernetes.io/os";
/// `kubernetes.io/arch` of a Node.
pub const LABEL_ARCH: &str = "kubernetes.io/arch";

// --- annotations -----------------------------------------------------------

/// `batch.kubernetes.io/job-index-failure-count` of an Indexed Job's pods.
pub const INDEX_FAILURE_COUNT_ANNOTATION: &str = "batch.kubernetes.io/job-index-failure-count";
/// `batch.kubernetes.io/job-index-ignored-failure-count`.
pub const INDEX_IGNORED_FAILURE_COUNT_ANNOTATION: &str =
    "batch.kubernetes.io/job-index-ignored-failure-count";
/// `kubectl.kubernetes.io/last-applied-configuration` (client-side apply).
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

// --- finalizers ------------------------------------------------------------

/// `orphan`: the garbage collector orphans the dependents, then removes it.
pub const FINALIZER_ORPHAN: &str = "orphan";
/// `foregroundDeletion`: the owner waits for its blocking dependents.
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";
/// `batch.kubernetes.io/job-tracking`: a pod is counted before it goes.
pub const JOB_TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// `kubernetes`: the namespace controller's `spec.finalizers` entry.
pub const FINALIZER_KUBERNETES: &str = "kubernetes";

// --- controller and component names ---------------------------------------

/// `kubernetes.io/job-controller`, the `spec.managedBy` value of Jobs the
/// built-in controller manages.
pub const JOB_CONTROLLER_NAME: &str = "kubernetes.io/job-controller";
/// The Job controller's event source.
pub const JOB_CONTROLLER_COMPONENT: &str = "job-controller";
/// The kubelet's event source.
pub const KUBELET_COMPONENT: &str = "kubelet";
/// The scheduler's event source and `spec.schedulerName` default.
pub const SCHEDULER_COMPONENT: &str = "default-scheduler";

// --- timestamps ------------------------------------------------------------

/// `metav1.Time`'s JSON form (RFC 3339, seconds, `Z`).
pub const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";
/// `metav1.MicroTime`'s JSON form (RFC 3339, microseconds, `Z`).
pub const MICRO_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// `t` as a `metav1.Time` string.
pub fn time_string(t: DateTime<Utc>) -> String {
    t.format(TIME_FORMAT).to_string()
}

/// Now, as a `metav1.Time` string.
pub fn now_string() -> String {
    time_string(Utc::now())
}

/// `t` as a `metav1.MicroTime` string.
pub fn micro_time_string(t: DateTime<Utc>) -> String {
    t.format(MICRO_TIME_FORMAT).to_string()
}
