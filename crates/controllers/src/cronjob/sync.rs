//! One reconcile of one CronJob: upstream `ControllerV2.sync`,
//! `cleanupFinishedJobs` and `syncCronJob`
//! (`pkg/controller/cronjob/cronjob_controllerv2.go`), step by step and in
//! the same order, because the order decides which event a sync emits.
//!
//! One deliberate difference: when a running child is missing from
//! `status.active` and a live read of the CronJob shows it there, upstream
//! swaps its local pointer to that fresh copy, so the caller then writes
//! its older copy; here the fresh copy replaces the caller's, so the status
//! written is the one the sync computed.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use api::cron::{self, Zone};
use chrono::Duration;

use super::control::{ControlError, CronJobControl, JobControl};
use super::events::Recorder;
use super::schedule::{
    by_job_start_time, format_schedule, job_from_template, job_name, next_schedule_time,
    next_schedule_time_duration,
};
use super::view::{CronJob, ObjectRef};
use crate::clock::Clock;
use crate::kit::objects::Job;

/// The outcome of `syncCronJob`: when to sync again, whether the status
/// changed, and the error (which requeues with back-off).
pub(crate) struct Synced {
    pub requeue_after: Option<StdDuration>,
    pub update_status: bool,
    pub err: Option<ControlError>,
}

/// The parts of `ControllerV2` a sync uses.
pub(crate) struct Reconciler {
    pub job_control: Arc<dyn JobControl>,
    pub cj_control: Arc<dyn CronJobControl>,
    pub recorder: Arc<Recorder>,
    pub clock: Arc<dyn Clock>,
    /// The zone of schedules without `timeZone` (kube-controller-manager's
    /// `time.Local`).
    pub local: Zone,
}

fn to_std(d: Duration) -> StdDuration {
    d.to_std().unwrap_or_default()
}

/// upstream `jobutil.FinishedCondition`: the type of the first true
/// `Complete` or `Failed` condition.
fn finished_condition(j: &Job) -> Option<&str> {
    j.status
        .conditions
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| c.type_.as_str())
}

impl Reconciler {
    /// upstream `ControllerV2.sync` after the lister reads: history cleanup,
    /// then `syncCronJob`, then one status write.
    pub(crate) async fn sync(
        &self,
        cj: &CronJob,
        jobs: &[Arc<Job>],
    ) -> Result<Option<StdDuration>, ControlError> {
        let mut copy = cj.clone();
        let cleaned = self.cleanup_finished_jobs(&mut copy, jobs).await;
        let synced = self.sync_cron_job(&mut copy, jobs).await;
        if let Some(e) = &synced.err {
            tracing::debug!(cronjob = %cj.key(), error = %e, "error reconciling cronjob");
        }
        if cleaned || synced.update_status {
            self.cj_control.update_status(&copy).await?;
        }
        match (synced.requeue_after, synced.err) {
            (Some(d), _) => Ok(Some(d)),
            (None, Some(e)) => Err(e),
            (None, None) => Ok(None),
        }
    }

    /// upstream `syncCronJob`.
    pub(crate) async fn sync_cron_job(&self, cj: &mut CronJob, jobs: &[Arc<Job>]) -> Synced {
        let now = self.clock.now();
        let mut update_status = false;
        let done = |requeue_after, update_status, err| Synced {
            requeue_after,
            update_status,
            err,
        };

        // Reconcile the children with status.active.
        let mut children = std::collections::HashSet::new();
        for j in jobs {
            children.insert(j.metadata.uid.clone());
            let found = cj.in_active_list(&j.metadata.uid);
            if !found && !j.is_finished() {
                let fresh = match self
                    .cj_control
                    .get_cronjob(&cj.metadata.namespace, &cj.metadata.name)
                    .await
                {
                    Ok(c) => c,
                    Err(e) => return done(None, update_status, Some(e)),
                };
                if fresh.in_active_list(&j.metadata.uid) {
                    *cj = fresh;
                    continue;
                }
                // Created by someone else, or our status write was lost;
                // it is not adopted.
                self.recorder.warning(
                    cj,
                    "UnexpectedJob",
                    &format!(
                        "Saw a job that the controller did not create or forgot: {}",
                        j.metadata.name
                    ),
                );
            } else if j.is_finished() {
                if found {
                    let condition = finished_condition(j).unwrap_or_default().to_string();
                    cj.delete_from_active_list(&j.metadata.uid);
                    self.recorder.normal(
                        cj,
                        "SawCompletedJob",
                        &format!(
                            "Saw completed job: {}, condition: {condition}",
                            j.metadata.name
                        ),
                    );
                    update_status = true;
                }
                if finished_condition(j) == Some("Complete") {
                    // Upstream `IsJobSucceeded` is the Complete condition.
                    if cj.status.last_successful_time.is_none() {
                        cj.status.last_successful_time = j.status.completion_time;
                        update_status = true;
                    }
                    if let (Some(c), Some(last)) =
                        (j.status.completion_time, cj.status.last_successful_time)
                    {
                        if c > last {
                            cj.status.last_successful_time = Some(c);
                            update_status = true;
                        }
                    }
                }
            }
        }

        // Active entries whose Job is gone: a live read makes sure the
        // cache is not just late.
        let active = cj.status.active.clone();
        for r in active {
            if children.contains(&r.uid) {
                continue;
            }
            match self.job_control.get_job(&r.namespace, &r.name).await {
                Ok(None) => {
                    self.recorder.normal(
                        cj,
                        "MissingJob",
                        &format!("Active job went missing: {}", r.name),
                    );
                    cj.delete_from_active_list(&r.uid);
                    update_status = true;
                }
                Ok(Some(_)) => {}
                Err(e) => return done(None, update_status, Some(e)),
            }
        }

        if cj.metadata.deletion_timestamp.is_some() {
            // Being deleted: only the status is kept up to date.
            return done(None, update_status, None);
        }

        if let Some(tz) = &cj.spec.time_zone {
            if let Err(e) = cron::load_location(tz) {
                self.recorder.warning(
                    cj,
                    "UnknownTimeZone",
                    &format!("invalid timeZone: {}: {e}", api::validation::go_quote(tz)),
                );
                return done(None, update_status, None);
            }
        }

        if cj.spec.suspend == Some(true) {
            return done(None, update_status, None);
        }

        let (spec, tz_in_schedule) = format_schedule(cj);
        if tz_in_schedule {
            self.recorder.warning(
                cj,
                "UnsupportedSchedule",
                &format!(
                    "CRON_TZ or TZ used in schedule {} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
                    api::validation::go_quote(&cj.spec.schedule)
                ),
            );
        }
        let sched = match cron::parse_standard(&spec) {
            Ok(s) => s,
            Err(e) => {
                self.recorder.warning(
                    cj,
                    "UnparseableSchedule",
                    &format!(
                        "unparseable schedule: {} : {e}",
                        api::validation::go_quote(&cj.spec.schedule)
                    ),
                );
                return done(None, update_status, None);
            }
        };

        let (scheduled, too_many, err) = next_schedule_time(cj, now, &sched, self.local);
        if too_many {
            self.recorder.warning(
                cj,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            );
        }
        if let Some(e) = err {
            self.recorder.warning(
                cj,
                "InvalidSchedule",
                &format!("invalid schedule: {} : {e}", cj.spec.schedule),
            );
            return done(None, update_status, None);
        }
        let requeue = |cj: &CronJob| {
            Some(to_std(next_schedule_time_duration(
                cj, now, &sched, self.local,
            )))
        };
        let Some(scheduled) = scheduled else {
            // No unmet slot: wait for the next one.
            return done(requeue(cj), update_status, None);
        };

        if let Some(d) = cj.spec.starting_deadline_seconds {
            if scheduled + Duration::seconds(d) < now {
                self.recorder.warning(
                    cj,
                    "MissSchedule",
                    &format!(
                        "Missed scheduled time to start a job: {}",
                        scheduled.format("%a, %d %b %Y %H:%M:%S %z")
                    ),
                );
                return done(requeue(cj), update_status, None);
            }
        }

        let name = job_name(&cj.metadata.name, scheduled);
        if cj.in_active_list_by_name(&cj.metadata.namespace, &name)
            || cj.status.last_schedule_time == Some(scheduled)
        {
            // This slot is already handled.
            return done(requeue(cj), update_status, None);
        }

        if cj.spec.concurrency_policy == "Forbid" && !cj.status.active.is_empty() {
            // lastScheduleTime does not move, so the most recent slot still
            // runs late once the active Job finishes, within the deadline.
            self.recorder.normal(
                cj,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            );
            return done(requeue(cj), update_status, None);
        }

        if cj.spec.concurrency_policy == "Replace" {
            for r in cj.status.active.clone() {
                let job = match self.job_control.get_job(&r.namespace, &r.name).await {
                    Ok(Some(j)) => j,
                    Ok(None) => {
                        let e =
                            ControlError::NotFound(format!("jobs.batch \"{}\" not found", r.name));
                        self.recorder
                            .warning(cj, "FailedGet", &format!("Get job: {e}"));
                        return done(None, update_status, Some(e));
                    }
                    Err(e) => {
                        self.recorder
                            .warning(cj, "FailedGet", &format!("Get job: {e}"));
                        return done(None, update_status, Some(e));
                    }
                };
                if !self.delete_job(cj, &job).await {
                    return done(
                        None,
                        update_status,
                        Some(ControlError::Other(format!(
                            "could not replace job {}/{}",
                            job.metadata.namespace, job.metadata.name
                        ))),
                    );
                }
                update_status = true;
            }
        }

        let request = match job_from_template(cj, scheduled) {
            Ok(j) => j,
            Err(e) => return done(None, update_status, Some(ControlError::Other(e))),
        };
        let ns = cj.metadata.namespace.clone();
        let (created, already_existed) = match self.job_control.create_job(&ns, request).await {
            Ok(j) => (j, false),
            Err(e @ ControlError::NamespaceTerminating(_)) => {
                return done(None, update_status, Some(e));
            }
            Err(ControlError::AlreadyExists(_)) => {
                // Ours from an earlier sync whose status write was lost:
                // record it; someone else's: leave it alone.
                let job = match self.job_control.get_job(&ns, &name).await {
                    Ok(Some(j)) => j,
                    Ok(None) => {
                        return done(
                            None,
                            update_status,
                            Some(ControlError::NotFound(format!(
                                "jobs.batch \"{name}\" not found"
                            ))),
                        )
                    }
                    Err(e) => return done(None, update_status, Some(e)),
                };
                let ours = job
                    .metadata
                    .controller_ref()
                    .is_some_and(|r| *r.uid == cj.metadata.uid);
                if !ours || cj.in_active_list(&job.metadata.uid) {
                    return done(None, update_status, None);
                }
                (job, true)
            }
            Err(e) => {
                self.recorder
                    .warning(cj, "FailedCreate", &format!("Error creating job: {e}"));
                return done(None, update_status, Some(e));
            }
        };
        if !already_existed {
            self.recorder.normal(
                cj,
                "SuccessfulCreate",
                &format!("Created job {}", created.metadata.name),
            );
        }
        // A crash here, after the create and before the status write, is
        // safe: the next sync finds the Job by its deterministic name.
        cj.status.active.push(ObjectRef::to_job(&created));
        cj.status.last_schedule_time = Some(scheduled);
        done(requeue(cj), true, None)
    }

    /// upstream `cleanupFinishedJobs`: beyond the history limits, the
    /// oldest finished Jobs (by start time) are deleted, successful and
    /// failed counted apart. Runs first in every sync, even when a Job
    /// cannot be created, so a quota never deadlocks.
    pub(crate) async fn cleanup_finished_jobs(&self, cj: &mut CronJob, jobs: &[Arc<Job>]) -> bool {
        let (s_limit, f_limit) = (
            cj.spec.successful_jobs_history_limit,
            cj.spec.failed_jobs_history_limit,
        );
        if s_limit.is_none() && f_limit.is_none() {
            return false;
        }
        let mut succeeded: Vec<&Job> = Vec::new();
        let mut failed: Vec<&Job> = Vec::new();
        for j in jobs {
            match finished_condition(j) {
                Some("Complete") => succeeded.push(j),
                Some("Failed") => failed.push(j),
                _ => {}
            }
        }
        let mut update = false;
        if let Some(l) = s_limit {
            update |= self.remove_oldest_jobs(cj, succeeded, l).await;
        }
        if let Some(l) = f_limit {
            update |= self.remove_oldest_jobs(cj, failed, l).await;
        }
        update
    }

    async fn remove_oldest_jobs(&self, cj: &mut CronJob, mut js: Vec<&Job>, max: i32) -> bool {
        let n = js.len() as i64 - i64::from(max);
        if n <= 0 {
            return false;
        }
        js.sort_by(|a, b| by_job_start_time(a, b));
        let mut update = false;
        for j in js.into_iter().take(n as usize) {
            if self.delete_job(cj, j).await {
                update = true;
            }
        }
        update
    }

    /// upstream `deleteJob`: the Job, then its entry in `status.active`.
    async fn delete_job(&self, cj: &mut CronJob, job: &Job) -> bool {
        if let Err(e) = self
            .job_control
            .delete_job(&job.metadata.namespace, &job.metadata.name)
            .await
        {
            self.recorder
                .warning(cj, "FailedDelete", &format!("Deleted job: {e}"));
            return false;
        }
        cj.delete_from_active_list(&job.metadata.uid);
        self.recorder.normal(
            cj,
            "SuccessfulDelete",
            &format!("Deleted job {}", job.metadata.name),
        );
        true
    }

    /// The delay upstream `updateCronJob` requeues with after a schedule
    /// or time zone change; `Err` is the `UnParseableCronJobSchedule` text.
    pub(crate) fn requeue_after_schedule_change(
        &self,
        cj: &CronJob,
    ) -> Result<StdDuration, String> {
        let (spec, _) = format_schedule(cj);
        let sched = cron::parse_standard(&spec)
            .map_err(|_| format!("unparseable schedule for cronjob: {}", cj.spec.schedule))?;
        Ok(to_std(next_schedule_time_duration(
            cj,
            self.clock.now(),
            &sched,
            self.local,
        )))
    }
}
