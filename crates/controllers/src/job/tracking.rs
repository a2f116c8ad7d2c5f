//! Finalizer-based pod tracking (upstream `trackJobStatusAndRemoveFinalizers`,
//! `flushUncountedAndRemoveFinalizers`, `cleanUncountedPodsWithoutFinalizers`
//! and `enactJobFinished` in `pkg/controller/job/job_controller.go`, KEP-2307).
//!
//! Why a terminal pod is counted exactly once, whatever restarts happen:
//! 1. a finished pod that still has the tracking finalizer is "new";
//! 2. its UID is first written to `status.uncountedTerminatedPods`
//!    (durable, before the finalizer goes);
//! 3. then the finalizer is removed;
//! 4. then UIDs whose pod has lost the finalizer (or is gone) move from
//!    the uncounted lists into `succeeded`/`failed`.
//!
//! A restart between 2 and 3 finds the UID already uncounted, so the pod is
//! not added twice; a restart between 3 and 4 finds the pod without the
//! finalizer and moves the UID. Indexed Jobs record the index in
//! `completedIndexes` instead of a UID, which is idempotent by itself.

use std::collections::HashSet;
use std::sync::Arc;

use super::conditions::*;
use super::indexed::completion_index;
use super::pod_failure_policy::match_pod_failure_policy;
use super::{is_pod_failed, JobController, SyncCtx, JOB_TRACKING_FINALIZER, MAX_UNCOUNTED_PODS};
use crate::kit::objects::{Job, JobStatus, Pod};
use crate::Result;

/// Upstream `canRemoveFinalizer`.
fn can_remove_finalizer(job: &Job, ctx: &SyncCtx, pod: &Pod, consider_failed: bool) -> bool {
    if job.metadata.deletion_timestamp.is_some()
        || ctx.finished_condition.is_some()
        || pod.phase() == "Succeeded"
    {
        return true;
    }
    if !consider_failed {
        return false;
    }
    if job.spec.backoff_limit_per_index.is_some() {
        if let Some(ix) = completion_index(pod) {
            if ctx
                .delayed_deletion
                .get(&ix)
                .is_some_and(|p| p.metadata.uid == pod.metadata.uid)
            {
                // Keep it until the index's replacement pod exists.
                return false;
            }
        }
    }
    true
}

/// Upstream `cleanUncountedPodsWithoutFinalizers`: UIDs whose pod lost the
/// finalizer move into the counters. Returns whether anything moved.
pub fn clean_uncounted(status: &mut JobStatus, with_finalizer: &HashSet<String>) -> bool {
    let u = status
        .uncounted_terminated_pods
        .get_or_insert_with(Default::default);
    let mut changed = false;
    let before = u.succeeded.len();
    u.succeeded.retain(|uid| with_finalizer.contains(uid));
    if u.succeeded.len() != before {
        status.succeeded += (before - u.succeeded.len()) as i32;
        changed = true;
    }
    let before = u.failed.len();
    u.failed.retain(|uid| with_finalizer.contains(uid));
    if u.failed.len() != before {
        status.failed += (before - u.failed.len()) as i32;
        changed = true;
    }
    changed
}

impl JobController {
    /// Upstream `trackJobStatusAndRemoveFinalizers`.
    pub(crate) async fn track_job_status_and_remove_finalizers(
        &self,
        key: &str,
        job: &mut Job,
        ctx: &mut SyncCtx,
        mut needs_flush: bool,
    ) -> Result<()> {
        let now = self.clock.now();
        let indexed = job.is_indexed();
        let completions = job.completions();
        let mut pods: Vec<Arc<Pod>> = ctx.pods.clone();
        if indexed {
            pods.sort_by_key(|p| completion_index(p).unwrap_or(-1));
        }
        let mut with_finalizer: HashSet<String> = pods
            .iter()
            .filter(|p| {
                p.metadata.has_finalizer(JOB_TRACKING_FINALIZER)
                    || ctx.expected_rm_finalizers.contains(&p.metadata.uid)
            })
            .map(|p| p.metadata.uid.clone())
            .collect();
        // Upstream's `oldCounters`: what the pods-finished metric diffs against.
        let mut old_counters = super::metrics::Counters::of(job);
        if clean_uncounted(&mut job.status, &with_finalizer) {
            needs_flush = true;
        }
        let mut policy_actions: Vec<(super::pod_failure_policy::Action, u64)> = Vec::new();
        let mut to_remove: Vec<Arc<Pod>> = Vec::new();
        let mut new_succeeded_indexes: Vec<i32> = Vec::new();
        let mut reached_max_uncounted = false;
        let failing = ctx
            .finished_condition
            .as_ref()
            .is_some_and(|c| c.type_ != SUCCESS_CRITERIA_MET);
        for pod in &pods {
            let uid = &pod.metadata.uid;
            if !pod.metadata.has_finalizer(JOB_TRACKING_FINALIZER)
                || ctx.expected_rm_finalizers.contains(uid)
            {
                continue; // processed in an earlier sync
            }
            let consider_failed = is_pod_failed(pod, job);
            if !can_remove_finalizer(job, ctx, pod, consider_failed) {
                continue;
            }
            to_remove.push(pod.clone());
            let uncounted = job
                .status
                .uncounted_terminated_pods
                .get_or_insert_with(Default::default);
            if pod.phase() == "Succeeded" && !ctx.uncounted_failed.contains(uid) {
                if indexed {
                    if let Some(ix) = completion_index(pod) {
                        if ix < completions && !ctx.prev_succeeded_indexes.contains(ix) {
                            new_succeeded_indexes.push(ix);
                        }
                    }
                } else if !ctx.uncounted_succeeded.contains(uid) {
                    needs_flush = true;
                    uncounted.succeeded.push(uid.clone());
                }
            } else if consider_failed || failing {
                // Once the Job is failing, every unfinished pod counts as failed.
                let ix = completion_index(pod);
                let valid = !indexed || ix.is_some_and(|i| i < completions);
                if !ctx.uncounted_failed.contains(uid) && valid {
                    let counts = match job.spec.pod_failure_policy.as_ref() {
                        None => true,
                        Some(p) => {
                            let m = match_pod_failure_policy(Some(p), pod);
                            if let Some(a) = m.action {
                                match policy_actions.iter_mut().find(|(x, _)| *x == a) {
                                    Some((_, n)) => *n += 1,
                                    None => policy_actions.push((a, 1)),
                                }
                            }
                            m.count_failed
                        }
                    };
                    if counts {
                        needs_flush = true;
                        uncounted.failed.push(uid.clone());
                    }
                }
            }
            let u = job
                .status
                .uncounted_terminated_pods
                .as_ref()
                .expect("set above");
            if new_succeeded_indexes.len() + u.succeeded.len() + u.failed.len()
                >= MAX_UNCOUNTED_PODS
            {
                reached_max_uncounted = true;
                break;
            }
        }
        if indexed {
            ctx.succeeded_indexes
                .extend(new_succeeded_indexes.iter().copied());
            let s = ctx.succeeded_indexes.to_string();
            if s != job.status.completed_indexes {
                needs_flush = true;
            }
            job.status.succeeded = ctx.succeeded_indexes.count() as i32;
            job.status.completed_indexes = s;
            let failed = ctx.failed_indexes.as_ref().map(|f| f.to_string());
            if failed != job.status.failed_indexes {
                job.status.failed_indexes = failed;
                needs_flush = true;
            }
        }
        if let Some(fc) = ctx.finished_condition.clone() {
            if fc.type_ == FAILURE_TARGET {
                // Interim condition first; Failed follows once pods are accounted.
                job.status.conditions.push(fc.clone());
                needs_flush = true;
                ctx.finished_condition = Some(failed_for_failure_target(&fc, now));
            } else if fc.type_ == SUCCESS_CRITERIA_MET {
                if find_true(&job.status.conditions, SUCCESS_CRITERIA_MET).is_none() {
                    job.status.conditions.push(fc.clone());
                    needs_flush = true;
                }
                ctx.finished_condition = Some(new_condition(
                    COMPLETE,
                    "True",
                    &fc.reason,
                    &fc.message,
                    now,
                ));
            }
        }

        // flushUncountedAndRemoveFinalizers
        if needs_flush {
            self.update_status(job).await?;
            self.backoff
                .lock()
                .insert(key.to_string(), ctx.new_backoff.clone());
            super::metrics::record_job_pods_finished(job, &old_counters);
            old_counters = super::metrics::Counters::of(job);
            needs_flush = false;
        }
        super::metrics::record_failure_policy_actions(&policy_actions);
        let mut rm_err = None;
        if !to_remove.is_empty() {
            for p in &to_remove {
                self.finalizer_expectations
                    .expect_removal(key, &p.metadata.uid);
            }
            let results =
                futures::future::join_all(to_remove.iter().map(|p| self.remove_finalizer(p))).await;
            for (p, r) in to_remove.iter().zip(results) {
                match r {
                    Ok(()) => {
                        with_finalizer.remove(&p.metadata.uid);
                    }
                    Err(e) => {
                        self.finalizer_expectations
                            .removal_observed(key, &p.metadata.uid);
                        rm_err = Some(e);
                    }
                }
            }
        }
        if clean_uncounted(&mut job.status, &with_finalizer) {
            needs_flush = true;
        }
        if let Some(e) = rm_err {
            if needs_flush {
                self.update_status(job).await?;
            }
            return Err(e);
        }
        let finished = !reached_max_uncounted && self.enact_job_finished(job, ctx);
        if finished {
            needs_flush = true;
        }
        if needs_flush {
            self.update_status(job).await?;
            if finished {
                self.record_job_finished(job, ctx);
                self.backoff.lock().remove(key);
            }
            super::metrics::record_job_pods_finished(job, &old_counters);
        }
        Ok(())
    }

    /// Upstream `enactJobFinished`: the terminal condition, only once no
    /// pod is uncounted or still terminating.
    fn enact_job_finished(&self, job: &mut Job, ctx: &SyncCtx) -> bool {
        let Some(fc) = &ctx.finished_condition else {
            return false;
        };
        if let Some(u) = &job.status.uncounted_terminated_pods {
            if !u.succeeded.is_empty() || !u.failed.is_empty() {
                return false;
            }
        }
        if ctx.terminating > 0 {
            return false;
        }
        let now = self.clock.now();
        ensure_condition(
            &mut job.status.conditions,
            &fc.type_,
            &fc.status,
            &fc.reason,
            &fc.message,
            now,
        );
        if fc.type_ == COMPLETE {
            job.status.completion_time =
                find(&job.status.conditions, COMPLETE).and_then(|c| c.last_transition_time);
        }
        true
    }

    /// Upstream `recordJobFinished`.
    fn record_job_finished(&self, job: &Job, ctx: &SyncCtx) {
        let Some(fc) = &ctx.finished_condition else {
            return;
        };
        if fc.type_ == COMPLETE {
            if job
                .spec
                .completions
                .is_some_and(|c| job.status.succeeded > c)
            {
                self.event(
                    job,
                    true,
                    "TooManySucceededPods",
                    "Too many succeeded pods running after completion count reached",
                );
            }
            self.event(job, false, "Completed", "Job completed");
            super::metrics::record_job_finished(job, true, &fc.reason);
        } else if fc.type_ == FAILED {
            self.event(job, true, &fc.reason, &fc.message);
            super::metrics::record_job_finished(job, false, &fc.reason);
        }
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table-driven cases are tuples
mod tests {
    use super::*;
    use crate::kit::objects::UncountedTerminatedPods;

    /// Upstream `TestCleanUncountedPodsWithoutFinalizers`-style table.
    #[test]
    fn clean_uncounted_moves_uids_without_finalizer() {
        let cases: Vec<(
            &str,
            Vec<&str>,
            Vec<&str>,
            Vec<&str>,
            i32,
            i32,
            Vec<&str>,
            Vec<&str>,
            bool,
        )> = vec![
            (
                "nothing uncounted",
                vec![],
                vec![],
                vec!["a"],
                0,
                0,
                vec![],
                vec![],
                false,
            ),
            (
                "all still with finalizer",
                vec!["a"],
                vec!["b"],
                vec!["a", "b"],
                0,
                0,
                vec!["a"],
                vec!["b"],
                false,
            ),
            (
                "some finalizers gone",
                vec!["a", "c"],
                vec!["b", "d"],
                vec!["a", "d"],
                1,
                1,
                vec!["a"],
                vec!["d"],
                true,
            ),
            (
                "pods gone entirely",
                vec!["a"],
                vec!["b"],
                vec![],
                1,
                1,
                vec![],
                vec![],
                true,
            ),
        ];
        for (name, succ, fail, with, want_s, want_f, left_s, left_f, changed) in cases {
            let mut status = JobStatus {
                succeeded: 0,
                failed: 0,
                uncounted_terminated_pods: Some(UncountedTerminatedPods {
                    succeeded: succ.iter().map(|s| s.to_string()).collect(),
                    failed: fail.iter().map(|s| s.to_string()).collect(),
                }),
                ..Default::default()
            };
            let with: HashSet<String> = with.iter().map(|s| s.to_string()).collect();
            assert_eq!(clean_uncounted(&mut status, &with), changed, "{name}");
            assert_eq!(
                (status.succeeded, status.failed),
                (want_s, want_f),
                "{name}"
            );
            let u = status.uncounted_terminated_pods.unwrap();
            assert_eq!(u.succeeded, left_s, "{name}");
            assert_eq!(u.failed, left_f, "{name}");
        }
    }
}
