//! Indexed completion mode (upstream `pkg/controller/job/indexed_job_utils.go`,
//! KEP-2214, KEP-3850 for the per-index back-off).
//!
//! Each pod carries its completion index in an annotation; the Job's
//! `completedIndexes`/`failedIndexes` are interval strings over those
//! indexes. Only pods still holding the tracking finalizer are "new" for
//! counting, so an index is folded into the status exactly once.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use api::index_set::IndexSet;

use super::pod_failure_policy::{match_pod_failure_policy, Action};
use super::{is_pod_failed, JOB_TRACKING_FINALIZER};
use crate::kit::objects::{Job, Pod};

pub use api::vocabulary::{
    INDEX_FAILURE_COUNT_ANNOTATION, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION,
    JOB_COMPLETION_INDEX as COMPLETION_INDEX_ANNOTATION,
};

/// Upstream `names.MaxGeneratedNameLength`.
const MAX_GENERATED_NAME_LENGTH: usize = 58;

/// Upstream `getCompletionIndex`: the annotation as a non-negative int.
pub fn completion_index(p: &Pod) -> Option<i32> {
    p.metadata
        .annotations
        .get(COMPLETION_INDEX_ANNOTATION)
        .and_then(|s| s.parse::<i32>().ok())
        .filter(|i| *i >= 0)
}

fn annotation_count(p: &Pod, key: &str) -> i32 {
    p.metadata
        .annotations
        .get(key)
        .and_then(|s| s.parse::<i32>().ok())
        .filter(|i| *i >= 0)
        .unwrap_or(0)
}

/// `job-index-failure-count` (0 when absent or invalid).
pub fn failure_count(p: &Pod) -> i32 {
    annotation_count(p, INDEX_FAILURE_COUNT_ANNOTATION)
}

/// `job-index-ignored-failure-count` (0 when absent or invalid).
pub fn ignored_failure_count(p: &Pod) -> i32 {
    annotation_count(p, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION)
}

/// Upstream `getIndexAbsoluteFailureCount`.
pub fn absolute_failure_count(p: &Pod) -> i32 {
    failure_count(p) + ignored_failure_count(p)
}

fn valid_index(p: &Pod, completions: i32) -> Option<i32> {
    completion_index(p).filter(|i| *i < completions)
}

/// Upstream `calculateSucceededIndexes`: (previous, previous ∪ new).
pub fn calculate_succeeded_indexes(job: &Job, pods: &[Arc<Pod>]) -> (IndexSet, IndexSet) {
    let completions = job.completions();
    let prev = IndexSet::parse_lenient(&job.status.completed_indexes, completions);
    let mut new = prev.clone();
    for p in pods {
        if p.phase() == "Succeeded" && p.metadata.has_finalizer(JOB_TRACKING_FINALIZER) {
            if let Some(ix) = valid_index(p, completions) {
                new.insert(ix);
            }
        }
    }
    (prev, new)
}

/// Upstream `isIndexFailed`: the pod's failure exhausts its index.
pub fn is_index_failed(job: &Job, p: &Pod) -> bool {
    let mut counted = false;
    if is_pod_failed(p, job) {
        if let Some(policy) = &job.spec.pod_failure_policy {
            let m = match_pod_failure_policy(Some(policy), p);
            if m.action == Some(Action::FailIndex) {
                return true;
            }
            counted = m.count_failed;
        } else {
            counted = true;
        }
    }
    counted && failure_count(p) >= job.spec.backoff_limit_per_index.unwrap_or(0)
}

/// Upstream `calculateFailedIndexes`, except that a pod whose finalizer
/// removal is in flight is skipped: an earlier sync accounted for it and
/// wrote its index (if failed) to status before removing the finalizer. A pod
/// that sync killed because the Job was failing now shows as failed (it has a
/// deletionTimestamp), and counting it again would add its index.
pub fn calculate_failed_indexes(
    job: &Job,
    pods: &[Arc<Pod>],
    expected_rm_finalizers: &HashSet<String>,
) -> IndexSet {
    let completions = job.completions();
    let mut set = job
        .status
        .failed_indexes
        .as_deref()
        .map(|s| IndexSet::parse_lenient(s, completions))
        .unwrap_or_default();
    for p in pods {
        if p.metadata.has_finalizer(JOB_TRACKING_FINALIZER)
            && !expected_rm_finalizers.contains(&p.metadata.uid)
            && is_index_failed(job, p)
        {
            if let Some(ix) = valid_index(p, completions) {
                set.insert(ix);
            }
        }
    }
    set
}

/// Indexes held by the given pods.
pub fn indexes_of<'a>(pods: impl IntoIterator<Item = &'a Arc<Pod>>) -> BTreeSet<i32> {
    pods.into_iter()
        .filter_map(|p| completion_index(p))
        .collect()
}

/// Upstream `getPodsWithDelayedDeletionPerIndex`: per index that is not
/// succeeded, failed or active, the last failed pod (which keeps its
/// finalizer until its replacement exists, so its counters can be copied).
pub fn pods_with_delayed_deletion_per_index(
    job: &Job,
    pods: &[Arc<Pod>],
    active: &[Arc<Pod>],
    succeeded: &IndexSet,
    failed: &IndexSet,
    expected_rm_finalizers: &HashSet<String>,
) -> HashMap<i32, Arc<Pod>> {
    let completions = job.completions();
    let active_ix = indexes_of(active);
    let mut out: HashMap<i32, Arc<Pod>> = HashMap::new();
    for p in pods {
        if !p.metadata.has_finalizer(JOB_TRACKING_FINALIZER)
            || expected_rm_finalizers.contains(&p.metadata.uid)
            || !is_pod_failed(p, job)
        {
            continue;
        }
        let Some(ix) = valid_index(p, completions) else {
            continue;
        };
        if succeeded.contains(ix) || failed.contains(ix) || active_ix.contains(&ix) {
            continue;
        }
        match out.get(&ix) {
            Some(last) => {
                if absolute_failure_count(last) <= absolute_failure_count(p)
                    && super::backoff::finished_time(p) >= super::backoff::finished_time(last)
                {
                    out.insert(ix, p.clone());
                }
            }
            None => {
                out.insert(ix, p.clone());
            }
        }
    }
    out
}

/// Upstream `firstPendingIndexes`: the `count` lowest indexes in
/// `[0, completions)` not succeeded, active, failed or (when only failed
/// pods are replaced) terminating.
pub fn first_pending_indexes(
    job: &Job,
    succeeded: &IndexSet,
    failed: Option<&IndexSet>,
    active: &[Arc<Pod>],
    terminating: &[Arc<Pod>],
    count: usize,
) -> Vec<i32> {
    let completions = job.completions();
    let mut non_pending = succeeded.clone();
    non_pending.extend(indexes_of(active));
    if job.only_replace_failed_pods() {
        non_pending.extend(indexes_of(terminating));
    }
    if let Some(f) = failed {
        non_pending = non_pending.union(f);
    }
    let mut out = Vec::with_capacity(count);
    let mut candidate = 0;
    for &(first, last) in non_pending.intervals() {
        while candidate < completions && out.len() < count && candidate < first {
            out.push(candidate);
            candidate += 1;
        }
        if candidate < last + 1 {
            candidate = last + 1;
        }
    }
    while candidate < completions && out.len() < count {
        out.push(candidate);
        candidate += 1;
    }
    out
}

/// Upstream `podGenerateNameWithIndex`: `<job>-<index>-`, the job name cut
/// so the prefix stays within 58 characters.
pub fn generate_name_with_index(job_name: &str, index: i32) -> String {
    let suffix = format!("-{index}-");
    let prefix = format!("{job_name}{suffix}");
    if prefix.len() > MAX_GENERATED_NAME_LENGTH {
        let keep = MAX_GENERATED_NAME_LENGTH.saturating_sub(suffix.len());
        let cut: String = job_name.chars().take(keep).collect();
        format!("{cut}{suffix}")
    } else {
        prefix
    }
}

/// Upstream `getNewIndexFailureCounts`: counters for the replacement of
/// `replaced` (0, 0 for a first attempt).
pub fn new_index_failure_counts(job: &Job, replaced: Option<&Pod>) -> (i32, i32) {
    let Some(p) = replaced else {
        return (0, 0);
    };
    let (mut failures, mut ignored) = (failure_count(p), ignored_failure_count(p));
    if let Some(policy) = &job.spec.pod_failure_policy {
        if match_pod_failure_policy(Some(policy), p).count_failed {
            failures += 1;
        } else {
            ignored += 1;
        }
    } else {
        failures += 1;
    }
    (failures, ignored)
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table-driven cases are tuples
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn job(spec: serde_json::Value, status: serde_json::Value) -> Job {
        let v = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "j", "namespace": "d", "uid": "ju"}, "spec": spec, "status": status});
        Job::parse(&serde_json::to_vec(&v).unwrap(), 1).unwrap()
    }

    fn pod(name: &str, ix: i32, phase: &str) -> Arc<Pod> {
        let v = json!({"metadata": {"name": name, "namespace": "d", "uid": name,
            "annotations": {COMPLETION_INDEX_ANNOTATION: ix.to_string()},
            "finalizers": [JOB_TRACKING_FINALIZER]}, "status": {"phase": phase}});
        Arc::new(Pod::parse(&serde_json::to_vec(&v).unwrap(), 1).unwrap())
    }

    /// After upstream `TestFirstPendingIndexes` (`indexed_job_utils_test.go`).
    #[test]
    fn first_pending_indexes_table() {
        let cases: Vec<(&str, i32, &str, Vec<i32>, Option<&str>, usize, Vec<i32>)> = vec![
            (
                "cnt greater than completions",
                5,
                "",
                vec![],
                None,
                10,
                vec![0, 1, 2, 3, 4],
            ),
            (
                "cnt less than completions",
                5,
                "",
                vec![],
                None,
                2,
                vec![0, 1],
            ),
            (
                "first pods active",
                5,
                "",
                vec![0, 1],
                None,
                3,
                vec![2, 3, 4],
            ),
            ("last pods succeeded", 5, "2-4", vec![], None, 3, vec![0, 1]),
            ("mixed", 8, "1,5", vec![0, 2, 6], None, 3, vec![3, 4, 7]),
            (
                "failed indexes skipped",
                6,
                "0",
                vec![2],
                Some("1,3"),
                5,
                vec![4, 5],
            ),
            ("nothing pending", 3, "0-2", vec![], None, 2, vec![]),
        ];
        for (name, completions, succeeded, active, failed, count, want) in cases {
            let j = job(
                json!({"completionMode": "Indexed", "completions": completions}),
                json!({}),
            );
            let active: Vec<Arc<Pod>> = active
                .iter()
                .map(|&i| pod(&format!("a{i}"), i, "Running"))
                .collect();
            let failed = failed.map(|f| IndexSet::parse_lenient(f, completions));
            let got = first_pending_indexes(
                &j,
                &IndexSet::parse_lenient(succeeded, completions),
                failed.as_ref(),
                &active,
                &[],
                count,
            );
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn terminating_indexes_block_only_when_replacing_failed_pods() {
        let terminating = vec![pod("t", 0, "Running")];
        let j = job(
            json!({"completionMode": "Indexed", "completions": 2}),
            json!({}),
        );
        assert_eq!(
            first_pending_indexes(&j, &IndexSet::new(), None, &[], &terminating, 2),
            vec![0, 1]
        );
        let j = job(
            json!({"completionMode": "Indexed", "completions": 2, "podReplacementPolicy": "Failed"}),
            json!({}),
        );
        assert_eq!(
            first_pending_indexes(&j, &IndexSet::new(), None, &[], &terminating, 2),
            vec![1]
        );
    }

    #[test]
    fn generate_name_keeps_the_index() {
        assert_eq!(generate_name_with_index("pi", 3), "pi-3-");
        let long = "a".repeat(70);
        let got = generate_name_with_index(&long, 12);
        assert_eq!(got.len(), 58);
        assert!(got.ends_with("-12-"));
    }

    #[test]
    fn succeeded_indexes_only_count_pods_with_the_finalizer() {
        let j = job(
            json!({"completionMode": "Indexed", "completions": 4}),
            json!({"completedIndexes": "0"}),
        );
        let mut done = (*pod("x", 3, "Succeeded")).clone();
        done.metadata.finalizers.clear();
        let pods = vec![
            pod("a", 1, "Succeeded"),
            pod("b", 2, "Running"),
            Arc::new(done),
            pod("c", 7, "Succeeded"),
        ];
        let (prev, now) = calculate_succeeded_indexes(&j, &pods);
        assert_eq!(prev.to_string(), "0");
        assert_eq!(now.to_string(), "0,1");
    }

    /// Per-index failure accounting (upstream `TestCalculateFailedIndexes`,
    /// `TestGetNewIndexFailureCounts`).
    #[test]
    fn failed_indexes_and_failure_counts() {
        let j = job(
            json!({"completionMode": "Indexed", "completions": 4, "backoffLimitPerIndex": 1}),
            json!({"failedIndexes": ""}),
        );
        let mut first = (*pod("f0", 1, "Failed")).clone();
        first
            .metadata
            .annotations
            .insert(INDEX_FAILURE_COUNT_ANNOTATION, "0");
        let mut second = (*pod("f1", 2, "Failed")).clone();
        second
            .metadata
            .annotations
            .insert(INDEX_FAILURE_COUNT_ANNOTATION, "1");
        let pods = vec![Arc::new(first.clone()), Arc::new(second)];
        assert_eq!(
            calculate_failed_indexes(&j, &pods, &HashSet::new()).to_string(),
            "2"
        );
        // An earlier sync already accounted for a pod whose finalizer
        // removal is in flight (the race `max_failed_indexes_exceeded` hit).
        let in_flight = HashSet::from(["f1".to_string()]);
        assert_eq!(
            calculate_failed_indexes(&j, &pods, &in_flight).to_string(),
            ""
        );
        assert_eq!(new_index_failure_counts(&j, Some(&first)), (1, 0));
        assert_eq!(new_index_failure_counts(&j, None), (0, 0));
        let ignoring = job(
            json!({"completionMode": "Indexed", "completions": 4, "backoffLimitPerIndex": 1,
            "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}),
            json!({}),
        );
        let mut disrupted = first.clone();
        disrupted
            .status
            .conditions
            .push(crate::kit::objects::PodCondition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                last_transition_time: None,
            });
        assert_eq!(
            new_index_failure_counts(&ignoring, Some(&disrupted)),
            (0, 1)
        );
    }
}
