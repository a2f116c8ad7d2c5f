//! `syncCronJob` on a fake clock with fake API calls, ported from upstream
//! `pkg/controller/cronjob/cronjob_controllerv2_test.go`
//! (`TestControllerV2SyncCronJob`, `TestControllerV2UpdateCronJob`,
//! `TestControllerV2GetJobsToBeReconciled`,
//! `TestControllerV2CleanupFinishedJobs`,
//! `TestControllerV2JobAlreadyExistsButNotInActiveStatus`,
//! `TestControllerV2JobAlreadyExistsButDifferentOwner`), case by case.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use api::cron::Zone;
use chrono::{DateTime, Duration, Utc};
use futures::future::BoxFuture;
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};

use super::control::{ControlError, CronJobControl, JobControl};
use super::events::Recorder;
use super::schedule::{job_from_template, NEXT_SCHEDULE_DELTA};
use super::sync::Reconciler;
use super::view::{CronJob, ObjectRef};
use super::CronJobController;
use crate::clock::FakeClock;
use crate::kit::objects::{format_time, Job};
use crate::kit::queue::WorkQueue;

#[derive(Default)]
struct FakeJobControl {
    job: Option<Job>,
    create_err: Option<ControlError>,
    err: Option<ControlError>,
    created: Mutex<Vec<Value>>,
    deleted: Mutex<Vec<String>>,
}

impl JobControl for FakeJobControl {
    fn get_job<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<Job>, ControlError>> {
        Box::pin(async move {
            match &self.err {
                Some(e) => Err(e.clone()),
                None => Ok(self.job.clone()),
            }
        })
    }

    fn create_job<'a>(
        &'a self,
        _: &'a str,
        job: Value,
    ) -> BoxFuture<'a, Result<Job, ControlError>> {
        Box::pin(async move {
            if let Some(e) = &self.create_err {
                return Err(e.clone());
            }
            self.created.lock().push(job.clone());
            let mut job = job;
            job["metadata"]["uid"] = "test-uid".into();
            Ok(Job::parse(&serde_json::to_vec(&job).unwrap(), 1).unwrap())
        })
    }

    fn delete_job<'a>(
        &'a self,
        _: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), ControlError>> {
        Box::pin(async move {
            if let Some(e) = &self.err {
                return Err(e.clone());
            }
            self.deleted.lock().push(name.to_string());
            Ok(())
        })
    }
}

struct FakeCjControl {
    cronjob: Option<CronJob>,
    updates: Mutex<Vec<CronJob>>,
}

impl CronJobControl for FakeCjControl {
    fn get_cronjob<'a>(
        &'a self,
        _: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<CronJob, ControlError>> {
        Box::pin(async move {
            self.cronjob.clone().ok_or_else(|| {
                ControlError::NotFound(format!("cronjobs.batch \"{name}\" not found"))
            })
        })
    }

    fn update_status<'a>(&'a self, cj: &'a CronJob) -> BoxFuture<'a, Result<(), ControlError>> {
        Box::pin(async move {
            self.updates.lock().push(cj.clone());
            Ok(())
        })
    }
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}
fn just_a_second_before_the_hour() -> DateTime<Utc> {
    t("2016-05-19T09:59:59Z")
}
fn just_after_the_prior_hour() -> DateTime<Utc> {
    t("2016-05-19T09:01:00Z")
}
fn just_before_the_prior_hour() -> DateTime<Utc> {
    t("2016-05-19T08:59:00Z")
}
fn just_after_the_hour() -> DateTime<Utc> {
    t("2016-05-19T10:01:00Z")
}
fn just_before_the_hour() -> DateTime<Utc> {
    t("2016-05-19T09:59:00Z")
}
fn just_before_the_next_hour() -> DateTime<Utc> {
    t("2016-05-19T10:59:00Z")
}
fn week_after_the_hour() -> DateTime<Utc> {
    t("2016-05-26T10:00:00Z")
}
fn top_of_the_hour() -> DateTime<Utc> {
    t("2016-05-19T10:00:00Z")
}

const SHORT_DEAD: i64 = 10;
const MEDIUM_DEAD: i64 = 2 * 60 * 60;
const LONG_DEAD: i64 = 1_000_000;
const ON_THE_HOUR: &str = "0 * * * ?";
const EVERY_HOUR: &str = "@every 1h";
const ERROR_SCHEDULE: &str = "obvious error schedule";

/// upstream `cronJob()`.
fn cron_job() -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "mycronjob", "namespace": "snazzycats", "uid": "1a2b3c",
            "creationTimestamp": format_time(just_before_the_hour())},
        "spec": {
            "schedule": "* * * * ?",
            "concurrencyPolicy": "Allow",
            "jobTemplate": {
                "metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}},
                "spec": {"parallelism": 1, "completions": 1, "template": {
                    "metadata": {"labels": {"foo": "bar"}},
                    "spec": {"containers": [{"image": "foo/bar"}]}}}
            }
        }
    })
}

fn cj_of(v: Value) -> CronJob {
    CronJob::from_value(v, 1).unwrap()
}

fn reconciler(
    jc: Arc<FakeJobControl>,
    cjc: Arc<FakeCjControl>,
    now: DateTime<Utc>,
) -> (Reconciler, Arc<Recorder>) {
    let clock = Arc::new(FakeClock::new(now));
    let recorder = Recorder::memory(clock.clone());
    (
        Reconciler {
            job_control: jc,
            cj_control: cjc,
            recorder: recorder.clone(),
            clock,
            local: Zone::Utc,
        },
        recorder,
    )
}

#[derive(Clone, Default)]
struct Case {
    concurrency_policy: &'static str,
    suspend: bool,
    schedule: &'static str,
    time_zone: Option<&'static str>,
    deadline: Option<i64>,
    ran_previously: bool,
    still_active: bool,
    cronjob_creation_time: Option<DateTime<Utc>>,
    job_creation_time: Option<DateTime<Utc>>,
    last_schedule_time: Option<DateTime<Utc>>,
    now: Option<DateTime<Utc>>,
    job_create_error: Option<ControlError>,
    job_get_err: Option<ControlError>,
    expect_create: bool,
    expect_delete: bool,
    expect_active: usize,
    expected_warnings: usize,
    expect_err: bool,
    expect_requeue_after: bool,
    expected_requeue_duration: Option<Duration>,
    expect_update_status: bool,
    job_still_not_found_in_lister: bool,
    job_present_in_cj_active_status: bool,
}

fn already_exists() -> ControlError {
    ControlError::AlreadyExists(r#"job.batch "" already exists"#.into())
}

#[allow(clippy::too_many_lines)]
fn sync_cases() -> Vec<(&'static str, Case)> {
    let m = Duration::minutes;
    let h = Duration::hours;
    let s = Duration::seconds;
    let ms = Duration::milliseconds;
    let d = NEXT_SCHEDULE_DELTA;
    let base = |policy: &'static str, schedule: &'static str, deadline: Option<i64>| Case {
        concurrency_policy: policy,
        schedule,
        deadline,
        job_present_in_cj_active_status: true,
        ..Default::default()
    };
    let mut cases: Vec<(&'static str, Case)> = Vec::new();
    for (name, policy) in [
        ("never ran, not valid schedule, A", "Allow"),
        ("never ran, not valid schedule, F", "Forbid"),
        ("never ran, not valid schedule, R", "Forbid"),
    ] {
        cases.push((
            name,
            Case {
                job_creation_time: Some(just_after_the_prior_hour()),
                now: Some(just_before_the_hour()),
                expected_warnings: 1,
                ..base(policy, ERROR_SCHEDULE, None)
            },
        ));
    }
    cases.push((
        "never ran, not valid time zone",
        Case {
            time_zone: Some("bad timezone"),
            job_creation_time: Some(just_after_the_prior_hour()),
            now: Some(just_before_the_hour()),
            expected_warnings: 1,
            ..base("Allow", ON_THE_HOUR, None)
        },
    ));
    for (name, policy, tz) in [
        ("never ran, not time, A", "Allow", None),
        ("never ran, not time, F", "Forbid", None),
        ("never ran, not time, R", "Replace", None),
        (
            "never ran, not time in zone",
            "Allow",
            Some("America/New_York"),
        ),
    ] {
        cases.push((
            name,
            Case {
                time_zone: tz,
                job_creation_time: Some(just_after_the_prior_hour()),
                now: Some(just_before_the_hour()),
                expect_requeue_after: true,
                expected_requeue_duration: Some(m(1) + d),
                ..base(policy, ON_THE_HOUR, None)
            },
        ));
    }
    let is_time = |policy, tz, schedule, deadline| Case {
        time_zone: tz,
        job_creation_time: Some(just_after_the_prior_hour()),
        now: Some(just_after_the_hour()),
        expect_create: true,
        expect_active: 1,
        expect_requeue_after: true,
        expected_requeue_duration: Some(h(1) - m(1) + d),
        expect_update_status: true,
        ..base(policy, schedule, deadline)
    };
    cases.push((
        "never ran, is time, A",
        is_time("Allow", None, ON_THE_HOUR, None),
    ));
    cases.push((
        "never ran, is time, F",
        is_time("Forbid", None, ON_THE_HOUR, None),
    ));
    cases.push((
        "never ran, is time, R",
        is_time("Replace", None, ON_THE_HOUR, None),
    ));
    cases.push((
        "never ran, is time in zone, but time zone disabled",
        is_time("Allow", Some("America/New_York"), ON_THE_HOUR, None),
    ));
    cases.push((
        "never ran, is time in zone",
        is_time("Allow", Some("America/New_York"), ON_THE_HOUR, None),
    ));
    cases.push((
        "never ran, is time in zone, but TZ is also set in schedule",
        Case {
            expected_warnings: 1,
            ..is_time("Allow", Some("America/New_York"), "TZ=UTC 0 * * * ?", None)
        },
    ));
    cases.push((
        "never ran, is time, suspended",
        Case {
            suspend: true,
            job_creation_time: Some(just_after_the_prior_hour()),
            now: Some(just_after_the_hour()),
            ..base("Allow", ON_THE_HOUR, None)
        },
    ));
    cases.push((
        "never ran, is time, past deadline",
        Case {
            job_creation_time: Some(just_after_the_prior_hour()),
            now: Some(just_after_the_hour() + m(SHORT_DEAD + 1)),
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - m(1) - m(SHORT_DEAD + 1) + d),
            ..base("Allow", ON_THE_HOUR, Some(SHORT_DEAD))
        },
    ));
    cases.push((
        "never ran, is time, not past deadline",
        is_time("Allow", None, ON_THE_HOUR, Some(LONG_DEAD)),
    ));

    let prev = |policy, deadline| Case {
        ran_previously: true,
        job_creation_time: Some(just_after_the_prior_hour()),
        ..base(policy, ON_THE_HOUR, deadline)
    };
    for (name, policy) in [
        ("prev ran but done, not time, A", "Allow"),
        ("prev ran but done, not time, F", "Forbid"),
        ("prev ran but done, not time, R", "Replace"),
    ] {
        cases.push((
            name,
            Case {
                now: Some(just_before_the_hour()),
                expect_requeue_after: true,
                expected_requeue_duration: Some(m(1) + d),
                expect_update_status: true,
                ..prev(policy, None)
            },
        ));
    }
    let prev_is_time = |policy, deadline| Case {
        now: Some(just_after_the_hour()),
        expect_create: true,
        expect_active: 1,
        expect_requeue_after: true,
        expected_requeue_duration: Some(h(1) - m(1) + d),
        expect_update_status: true,
        ..prev(policy, deadline)
    };
    cases.push(("prev ran but done, is time, A", prev_is_time("Allow", None)));
    // Upstream's table expects 0 active here but never checks it (its fake
    // records no status update); the existing Job is added, as the code says.
    cases.push((
        "prev ran but done, is time, create job failed, A",
        Case {
            now: Some(just_after_the_hour()),
            job_create_error: Some(already_exists()),
            expect_update_status: true,
            expect_active: 1,
            ..prev("Allow", None)
        },
    ));
    cases.push((
        "prev ran but done, is time, job not present in CJ active status, create job failed, A",
        Case {
            now: Some(just_after_the_hour()),
            job_create_error: Some(already_exists()),
            expect_update_status: true,
            expect_active: 1,
            job_present_in_cj_active_status: false,
            ..prev("Allow", None)
        },
    ));
    cases.push((
        "prev ran but done, is time, F",
        prev_is_time("Forbid", None),
    ));
    cases.push((
        "prev ran but done, is time, R",
        prev_is_time("Replace", None),
    ));
    cases.push((
        "prev ran but done, is time, suspended",
        Case {
            suspend: true,
            now: Some(just_after_the_hour()),
            expect_update_status: true,
            ..prev("Allow", None)
        },
    ));
    cases.push((
        "prev ran but done, is time, past deadline",
        Case {
            now: Some(just_after_the_hour()),
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - m(1) + d),
            expect_update_status: true,
            ..prev("Allow", Some(SHORT_DEAD))
        },
    ));
    cases.push((
        "prev ran but done, is time, not past deadline",
        prev_is_time("Allow", Some(LONG_DEAD)),
    ));

    let active = |policy, deadline| Case {
        still_active: true,
        ..prev(policy, deadline)
    };
    for (name, policy) in [
        ("still active, not time, A", "Allow"),
        ("still active, not time, F", "Forbid"),
        ("still active, not time, R", "Replace"),
    ] {
        cases.push((
            name,
            Case {
                now: Some(just_before_the_hour()),
                expect_active: 1,
                expect_requeue_after: true,
                expected_requeue_duration: Some(m(1) + d),
                ..active(policy, None)
            },
        ));
    }
    cases.push((
        "still active, is time, A",
        Case {
            now: Some(just_after_the_hour()),
            expect_create: true,
            expect_active: 2,
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - m(1) + d),
            expect_update_status: true,
            ..active("Allow", None)
        },
    ));
    cases.push((
        "still active, is time, F",
        Case {
            now: Some(just_after_the_hour()),
            expect_active: 1,
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - m(1) + d),
            ..active("Forbid", None)
        },
    ));
    cases.push((
        "still active, is time, R",
        Case {
            now: Some(just_after_the_hour()),
            expect_create: true,
            expect_delete: true,
            expect_active: 1,
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - m(1) + d),
            expect_update_status: true,
            ..active("Replace", None)
        },
    ));
    cases.push((
        "still active, is time, get job failed, R",
        Case {
            now: Some(just_after_the_hour()),
            job_get_err: Some(ControlError::Other("request is invalid".into())),
            expect_active: 1,
            expected_warnings: 1,
            ..active("Replace", None)
        },
    ));
    cases.push((
        "still active, is time, suspended",
        Case {
            suspend: true,
            now: Some(just_after_the_hour()),
            expect_active: 1,
            ..active("Allow", None)
        },
    ));
    cases.push((
        "still active, is time, past deadline",
        Case {
            now: Some(just_after_the_hour()),
            expect_active: 1,
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - m(1) + d),
            ..active("Allow", Some(SHORT_DEAD))
        },
    ));
    cases.push((
        "still active, is time, not past deadline",
        Case {
            now: Some(just_after_the_hour()),
            expect_create: true,
            expect_active: 2,
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - m(1) + d),
            expect_update_status: true,
            ..active("Allow", Some(LONG_DEAD))
        },
    ));

    // Too many missed slots: a warning, and the most recent still runs.
    let overdue = |policy, deadline, warnings| Case {
        now: Some(week_after_the_hour()),
        expect_create: true,
        expect_active: 1,
        expected_warnings: warnings,
        expect_requeue_after: true,
        expected_requeue_duration: Some(h(1) + d),
        expect_update_status: true,
        ..prev(policy, deadline)
    };
    cases.push((
        "prev ran but done, long overdue, not past deadline, A",
        overdue("Allow", Some(LONG_DEAD), 1),
    ));
    cases.push((
        "prev ran but done, long overdue, not past deadline, R",
        overdue("Replace", Some(LONG_DEAD), 1),
    ));
    cases.push((
        "prev ran but done, long overdue, not past deadline, F",
        overdue("Forbid", Some(LONG_DEAD), 1),
    ));
    cases.push((
        "prev ran but done, long overdue, no deadline, A",
        overdue("Allow", None, 1),
    ));
    cases.push((
        "prev ran but done, long overdue, no deadline, R",
        overdue("Replace", None, 1),
    ));
    cases.push((
        "prev ran but done, long overdue, no deadline, F",
        overdue("Forbid", None, 1),
    ));
    cases.push((
        "prev ran but done, long overdue, past medium deadline, A",
        overdue("Allow", Some(MEDIUM_DEAD), 0),
    ));
    cases.push((
        "prev ran but done, long overdue, past short deadline, A",
        overdue("Allow", Some(SHORT_DEAD), 0),
    ));
    cases.push((
        "prev ran but done, long overdue, past medium deadline, R",
        overdue("Replace", Some(MEDIUM_DEAD), 0),
    ));
    cases.push((
        "prev ran but done, long overdue, past short deadline, R",
        overdue("Replace", Some(SHORT_DEAD), 0),
    ));
    cases.push((
        "prev ran but done, long overdue, past medium deadline, F",
        overdue("Forbid", Some(MEDIUM_DEAD), 0),
    ));
    cases.push((
        "prev ran but done, long overdue, past short deadline, F",
        overdue("Forbid", Some(SHORT_DEAD), 0),
    ));

    // Time skew: the controller sees the Job created, takes no action.
    cases.push((
        "this ran but done, time drifted back, F",
        Case {
            job_creation_time: Some(just_after_the_hour()),
            now: Some(just_before_the_hour()),
            job_create_error: Some(already_exists()),
            expect_requeue_after: true,
            expected_requeue_duration: Some(m(1) + d),
            expect_update_status: true,
            job_present_in_cj_active_status: false,
            ..prev("Forbid", None)
        },
    ));

    // A slow Job lister, then a slow CronJob lister.
    for (name, policy, in_status) in [
        (
            "this started but went missing, not past deadline, A",
            "Allow",
            true,
        ),
        (
            "this started but went missing, not past deadline, f",
            "Forbid",
            true,
        ),
        (
            "this started but went missing, not past deadline, R",
            "Replace",
            true,
        ),
        (
            "this started but is not present in cronjob active list, not past deadline, A",
            "Allow",
            false,
        ),
        (
            "this started but is not present in cronjob active list, not past deadline, f",
            "Forbid",
            false,
        ),
        (
            "this started but is not present in cronjob active list, not past deadline, R",
            "Replace",
            false,
        ),
    ] {
        cases.push((
            name,
            Case {
                job_creation_time: Some(top_of_the_hour() + ms(100)),
                now: Some(just_after_the_hour() + ms(100)),
                expect_active: 1,
                expect_requeue_after: true,
                expected_requeue_duration: Some(h(1) - m(1) - ms(100) + d),
                job_still_not_found_in_lister: in_status,
                job_present_in_cj_active_status: in_status,
                ..active(policy, Some(LONG_DEAD))
            },
        ));
    }

    // @every schedules.
    let every = |deadline| Case {
        schedule: EVERY_HOUR,
        ..base("Allow", EVERY_HOUR, deadline)
    };
    cases.push((
        "with @every schedule, never ran, not time",
        Case {
            cronjob_creation_time: Some(just_before_the_hour()),
            job_creation_time: Some(just_before_the_hour()),
            now: Some(top_of_the_hour()),
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - m(1) + d),
            ..every(None)
        },
    ));
    cases.push((
        "with @every schedule, never ran, is time",
        Case {
            cronjob_creation_time: Some(just_before_the_prior_hour()),
            job_creation_time: Some(just_before_the_prior_hour()),
            now: Some(just_before_the_hour()),
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) + d),
            expect_create: true,
            expect_active: 1,
            expect_update_status: true,
            ..every(None)
        },
    ));
    cases.push((
        "with @every schedule, never ran, is time, past deadline",
        Case {
            cronjob_creation_time: Some(just_before_the_prior_hour()),
            job_creation_time: Some(just_before_the_prior_hour()),
            now: Some(just_before_the_hour() + s(SHORT_DEAD + 1)),
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - s(SHORT_DEAD + 1) + d),
            ..every(Some(SHORT_DEAD))
        },
    ));
    cases.push((
        "with @every schedule, never ran, is time, not past deadline",
        Case {
            cronjob_creation_time: Some(just_before_the_prior_hour()),
            job_creation_time: Some(just_before_the_prior_hour()),
            now: Some(just_before_the_hour() + s(SHORT_DEAD - 1)),
            expect_create: true,
            expect_active: 1,
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - s(SHORT_DEAD - 1) + d),
            expect_update_status: true,
            ..every(Some(LONG_DEAD))
        },
    ));
    let every_prev = |deadline| Case {
        ran_previously: true,
        cronjob_creation_time: Some(just_before_the_prior_hour()),
        job_creation_time: Some(just_before_the_prior_hour()),
        last_schedule_time: Some(just_before_the_hour()),
        ..every(deadline)
    };
    cases.push((
        "with @every schedule, prev ran but done, not time",
        Case {
            now: Some(top_of_the_hour()),
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - m(1) + d),
            expect_update_status: true,
            ..every_prev(None)
        },
    ));
    cases.push((
        "with @every schedule, prev ran but done, is time",
        Case {
            now: Some(top_of_the_hour() + h(1)),
            expect_create: true,
            expect_active: 1,
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - m(1) + d),
            expect_update_status: true,
            ..every_prev(None)
        },
    ));
    cases.push((
        "with @every schedule, prev ran but done, is time, past deadline",
        Case {
            now: Some(just_before_the_next_hour() + s(SHORT_DEAD + 1)),
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - s(SHORT_DEAD + 1) + d),
            expect_update_status: true,
            ..every_prev(Some(SHORT_DEAD))
        },
    ));
    cases.push((
        "with @every schedule, still active, not time",
        Case {
            still_active: true,
            job_creation_time: Some(just_before_the_hour()),
            now: Some(top_of_the_hour()),
            expect_active: 1,
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - m(1) + d),
            ..every_prev(None)
        },
    ));
    cases.push((
        "with @every schedule, still active, is time",
        Case {
            still_active: true,
            last_schedule_time: Some(just_before_the_prior_hour()),
            now: Some(just_after_the_hour()),
            expect_create: true,
            expect_active: 2,
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - m(2) + d),
            expect_update_status: true,
            ..every_prev(None)
        },
    ));
    cases.push((
        "with @every schedule, still active, is time, past deadline",
        Case {
            still_active: true,
            job_creation_time: Some(just_before_the_hour()),
            now: Some(just_before_the_next_hour() + s(SHORT_DEAD + 1)),
            expect_active: 1,
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - s(SHORT_DEAD + 1) + d),
            ..every_prev(Some(SHORT_DEAD))
        },
    ));
    cases.push((
        "with @every schedule, still active, is time, not past deadline",
        Case {
            still_active: true,
            job_creation_time: Some(just_before_the_hour()),
            now: Some(just_before_the_next_hour() + s(SHORT_DEAD - 1)),
            expect_create: true,
            expect_active: 2,
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - s(SHORT_DEAD - 1) + d),
            expect_update_status: true,
            ..every_prev(Some(LONG_DEAD))
        },
    ));
    cases.push((
        "with @every schedule, prev ran but done, long overdue, no deadline",
        Case {
            cronjob_creation_time: Some(just_after_the_prior_hour()),
            last_schedule_time: Some(just_after_the_hour()),
            job_creation_time: Some(just_after_the_prior_hour()),
            now: Some(week_after_the_hour()),
            expect_create: true,
            expect_active: 1,
            expected_warnings: 1,
            expect_requeue_after: true,
            expected_requeue_duration: Some(m(1) + d),
            expect_update_status: true,
            ..every_prev(None)
        },
    ));
    cases.push((
        "with @every schedule, prev ran but done, long overdue, past deadline",
        Case {
            cronjob_creation_time: Some(just_after_the_prior_hour()),
            last_schedule_time: Some(just_after_the_hour()),
            job_creation_time: Some(just_after_the_prior_hour()),
            now: Some(week_after_the_hour() + m(1) + s(SHORT_DEAD + 1)),
            // Upstream says 1 without checking it: the done Job is not active
            // and nothing is created past the deadline.
            expect_active: 0,
            expect_requeue_after: true,
            expected_requeue_duration: Some(h(1) - s(SHORT_DEAD + 1) + d),
            expect_update_status: true,
            ..every_prev(Some(SHORT_DEAD))
        },
    ));
    // Upstream expects 0 active without checking it: the running Job the
    // fresh read finds stays active.
    cases.push((
        "do nothing if the namespace is terminating",
        Case {
            job_create_error: Some(ControlError::NamespaceTerminating(
                "namespace default is being terminated".into(),
            )),
            still_active: true,
            job_creation_time: Some(just_after_the_prior_hour()),
            now: Some(just_after_the_hour()),
            expect_active: 1,
            expect_err: true,
            job_present_in_cj_active_status: false,
            ..prev("Allow", None)
        },
    ));
    cases
}

fn job_value(cj: &CronJob, created: DateTime<Utc>) -> Value {
    let mut j = job_from_template(cj, created).unwrap();
    j["metadata"]["uid"] = "1234".into();
    j["metadata"]["namespace"] = cj.metadata.namespace.clone().into();
    j["metadata"]["creationTimestamp"] = format_time(created).into();
    j
}

fn job_of(v: &Value) -> Job {
    Job::parse(&serde_json::to_vec(v).unwrap(), 0).unwrap()
}

// TestControllerV2SyncCronJob
#[tokio::test]
async fn test_controller_v2_sync_cron_job() {
    for (name, tc) in sync_cases() {
        let mut v = cron_job();
        v["spec"]["concurrencyPolicy"] = tc.concurrency_policy.into();
        v["spec"]["suspend"] = tc.suspend.into();
        v["spec"]["schedule"] = tc.schedule.into();
        if let Some(tz) = tc.time_zone {
            v["spec"]["timeZone"] = tz.into();
        }
        if let Some(d) = tc.deadline {
            v["spec"]["startingDeadlineSeconds"] = d.into();
        }
        let mut real = v.clone();
        let mut job = None;
        let mut js: Vec<Arc<Job>> = Vec::new();
        if tc.ran_previously {
            v["metadata"]["creationTimestamp"] = format_time(
                tc.cronjob_creation_time
                    .unwrap_or_else(just_before_the_prior_hour),
            )
            .into();
            v["status"]["lastScheduleTime"] = format_time(
                tc.last_schedule_time
                    .unwrap_or_else(just_after_the_prior_hour),
            )
            .into();
            let created = tc.job_creation_time.unwrap();
            let mut jv = job_value(&cj_of(v.clone()), created);
            if tc.still_active {
                let r = serde_json::to_value(ObjectRef::to_job(&job_of(&jv))).unwrap();
                if tc.job_present_in_cj_active_status {
                    v["status"]["active"] = json!([r.clone()]);
                }
                real["status"]["active"] = json!([r]);
            } else {
                jv["status"] = json!({
                    "completionTime": format_time(created + Duration::seconds(10)),
                    "conditions": [{"type": "Complete", "status": "True"}],
                });
            }
            let j = job_of(&jv);
            if !tc.job_still_not_found_in_lister {
                js.push(Arc::new(j.clone()));
            }
            job = Some(j);
        } else {
            v["metadata"]["creationTimestamp"] = format_time(
                tc.cronjob_creation_time
                    .unwrap_or_else(just_before_the_hour),
            )
            .into();
            assert!(!tc.still_active, "{name}: test setup error");
        }
        let jc = Arc::new(FakeJobControl {
            job,
            create_err: tc.job_create_error.clone(),
            err: tc.job_get_err.clone(),
            ..Default::default()
        });
        let cjc = Arc::new(FakeCjControl {
            cronjob: Some(cj_of(real)),
            updates: Mutex::new(Vec::new()),
        });
        let (r, recorder) = reconciler(jc.clone(), cjc, tc.now.unwrap());
        let mut copy = cj_of(v);
        let got = r.sync_cron_job(&mut copy, &js).await;

        if tc.expect_err {
            assert!(got.err.is_some(), "{name}: expected an error");
        }
        if tc.expect_requeue_after {
            let want = tc.expected_requeue_duration.unwrap().to_std().unwrap();
            assert_eq!(got.requeue_after, Some(want), "{name}: requeueAfter");
        }
        assert_eq!(
            got.update_status, tc.expect_update_status,
            "{name}: updateStatus"
        );
        if tc.ran_previously && !tc.still_active {
            let completion = tc.job_creation_time.unwrap() + Duration::seconds(10);
            assert_eq!(
                copy.status.last_successful_time,
                Some(completion),
                "{name}: lastSuccessfulTime"
            );
        }
        let created = jc.created.lock().clone();
        assert_eq!(
            created.len(),
            usize::from(tc.expect_create),
            "{name}: jobs created"
        );
        for j in &created {
            let r = &j["metadata"]["ownerReferences"][0];
            assert_eq!(r["apiVersion"], "batch/v1", "{name}");
            assert_eq!(r["kind"], "CronJob", "{name}");
            assert_eq!(r["name"], "mycronjob", "{name}");
            assert_eq!(r["uid"], "1a2b3c", "{name}");
            assert_eq!(r["controller"], true, "{name}");
        }
        assert_eq!(
            jc.deleted.lock().len(),
            usize::from(tc.expect_delete),
            "{name}: jobs deleted"
        );
        let events = recorder.recorded();
        let mut expected_events =
            usize::from(tc.expect_create) + usize::from(tc.expect_delete) + tc.expected_warnings;
        if name == "still active, is time, F" {
            // The one case that records why it did not schedule.
            expected_events += 1;
        }
        assert_eq!(events.len(), expected_events, "{name}: events {events:?}");
        let warnings = events.iter().filter(|e| e.0).count();
        assert_eq!(
            warnings, tc.expected_warnings,
            "{name}: warnings {events:?}"
        );
        assert_eq!(copy.status.active.len(), tc.expect_active, "{name}: active");
    }
}

// TestControllerV2UpdateCronJob: a schedule or time zone change requeues at
// the next slot of the new schedule (`now` a second before the hour).
#[test]
fn test_controller_v2_update_cron_job() {
    let jc = Arc::new(FakeJobControl::default());
    let cjc = Arc::new(FakeCjControl {
        cronjob: None,
        updates: Mutex::new(Vec::new()),
    });
    let (r, _) = reconciler(jc, cjc, just_a_second_before_the_hour());
    let with = |schedule: &str, tz: Option<&str>| {
        let mut v = json!({"metadata": {"name": "c", "namespace": "d"},
            "spec": {"schedule": schedule, "jobTemplate": {}},
            "status": {"lastScheduleTime": format_time(just_before_the_hour())}});
        if let Some(tz) = tz {
            v["spec"]["timeZone"] = tz.into();
        }
        cj_of(v)
    };
    let d = NEXT_SCHEDULE_DELTA.to_std().unwrap();
    for (name, new, want) in [
        (
            "spec.schedule changed",
            with("*/1 * * * *", None),
            Ok(StdDuration::from_secs(1) + d),
        ),
        (
            "spec.schedule with @every changed - cadence decrease",
            with("@every 3m", None),
            Ok(StdDuration::from_secs(121) + d),
        ),
        (
            "spec.schedule with @every changed - cadence increase",
            with("@every 1m", None),
            Ok(StdDuration::from_secs(1) + d),
        ),
        (
            "spec.timeZone changed",
            with("", None),
            Err("unparseable schedule for cronjob: ".to_string()),
        ),
    ] {
        assert_eq!(r.requeue_after_schedule_change(&new), want, "{name}");
    }
}

fn controller_with(
    jc: Arc<FakeJobControl>,
    cjc: Arc<FakeCjControl>,
    now: DateTime<Utc>,
) -> (CronJobController, Arc<Recorder>) {
    let (r, recorder) = reconciler(jc, cjc, now);
    (
        CronJobController {
            cronjobs: RwLock::new(BTreeMap::new()),
            jobs: RwLock::new(BTreeMap::new()),
            queue: WorkQueue::new(StdDuration::from_millis(5), StdDuration::from_secs(1000)),
            reconciler: r,
        },
        recorder,
    )
}

fn add_job(c: &CronJobController, v: Value) {
    let j = job_of(&v);
    c.jobs.write().insert(j.key(), Arc::new(j));
}

// TestControllerV2GetJobsToBeReconciled
#[test]
fn test_controller_v2_get_jobs_to_be_reconciled() {
    let owned = |ns: &str, name: &str, owner: &str| {
        json!({"metadata": {"name": name, "namespace": ns,
        "labels": {"key": "different-value"},
        "ownerReferences": [{"name": owner, "controller": true}]}})
    };
    let plain = |ns: &str, name: &str| json!({"metadata": {"name": name, "namespace": ns}});
    let cj = cj_of(json!({"metadata": {"namespace": "foo-ns", "name": "fooer"},
        "spec": {"jobTemplate": {"metadata": {"labels": {"key": "value"}}}}}));
    for (name, jobs, want) in [
        (
            "test getting jobs in namespace without controller reference",
            vec![
                plain("foo-ns", "foo"),
                plain("foo-ns", "foo1"),
                plain("foo-ns", "foo2"),
            ],
            vec![],
        ),
        (
            "test getting jobs in namespace with a controller reference",
            vec![
                plain("foo-ns", "foo"),
                owned("foo-ns", "foo1", "fooer"),
                plain("foo-ns", "foo2"),
            ],
            vec!["foo1"],
        ),
        (
            "test getting jobs in other namespaces",
            vec![
                plain("bar-ns", "foo"),
                plain("bar-ns", "foo1"),
                owned("bar-ns", "foo2", "fooer"),
            ],
            vec![],
        ),
        (
            "test getting jobs whose labels do not match job template",
            vec![
                owned("foo-ns", "foo-fooer-owner-ref", "fooer"),
                owned("foo-ns", "foo-other-owner-ref", "another-cronjob"),
            ],
            vec!["foo-fooer-owner-ref"],
        ),
    ] {
        let (c, _) = controller_with(
            Arc::default(),
            Arc::new(FakeCjControl {
                cronjob: None,
                updates: Mutex::default(),
            }),
            top_of_the_hour(),
        );
        for j in jobs {
            add_job(&c, j);
        }
        let got: Vec<String> = c
            .jobs_to_be_reconciled(&cj)
            .iter()
            .map(|j| j.metadata.name.clone())
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

// TestControllerV2CleanupFinishedJobs
#[tokio::test]
async fn test_controller_v2_cleanup_finished_jobs() {
    let finished = |name: &str, start: DateTime<Utc>| {
        json!({"metadata": {"namespace": "foo-ns", "name": name,
            "ownerReferences": [{"name": "fooer", "controller": true}]},
        "status": {"startTime": format_time(start), "conditions": [{"type": "Complete", "status": "True"}]}})
    };
    let cj = |limit: i32| {
        cj_of(json!({"metadata": {"namespace": "foo-ns", "name": "fooer"},
        "spec": {"schedule": ON_THE_HOUR, "successfulJobsHistoryLimit": limit,
            "jobTemplate": {"metadata": {"labels": {"key": "value"}}}},
        "status": {"lastScheduleTime": format_time(just_after_the_prior_hour())}}))
    };
    for (name, now, cj, jobs, create_err, want) in [
        ("jobs are still deleted when a cronjob can't create jobs due to jobs quota being reached (avoiding a deadlock)",
            just_after_the_hour(), cj(1),
            vec![finished("finished-job-started-hour-ago", just_before_the_prior_hour()),
                finished("finished-job-started-minute-ago", just_before_the_hour())],
            Some(ControlError::Other("Internal error occurred: quota for # of jobs reached".into())),
            vec!["finished-job-started-hour-ago"]),
        ("jobs are not deleted if history limit not reached", just_before_the_hour(), cj(2),
            vec![finished("finished-job-started-hour-ago", just_before_the_prior_hour())], None, vec![]),
    ] {
        let jc = Arc::new(FakeJobControl { create_err, ..Default::default() });
        let cjc = Arc::new(FakeCjControl { cronjob: None, updates: Mutex::default() });
        let (c, _) = controller_with(jc.clone(), cjc, now);
        for j in jobs {
            add_job(&c, j);
        }
        c.cronjobs.write().insert(cj.key(), Arc::new(cj.clone()));
        let _ = c.sync(&cj.key()).await;
        let mut got = jc.deleted.lock().clone();
        got.sort();
        assert_eq!(got, want, "{name}");
    }
}

fn already_exists_fixture(owned: bool) -> (CronJobController, Arc<FakeCjControl>, Value) {
    let mut v = cron_job();
    v["spec"]["concurrencyPolicy"] = "Forbid".into();
    v["spec"]["schedule"] = EVERY_HOUR.into();
    v["status"] =
        json!({"lastScheduleTime": format_time(just_before_the_prior_hour()), "active": []});
    let cj = cj_of(v);
    let mut jv = job_value(&cj, just_after_the_prior_hour());
    if !owned {
        jv["metadata"]["ownerReferences"] = json!([]);
    }
    let jc = Arc::new(FakeJobControl {
        job: Some(job_of(&jv)),
        create_err: Some(already_exists()),
        ..Default::default()
    });
    let cjc = Arc::new(FakeCjControl {
        cronjob: None,
        updates: Mutex::default(),
    });
    let (c, _) = controller_with(jc, cjc.clone(), just_before_the_hour());
    c.cronjobs.write().insert(cj.key(), Arc::new(cj));
    (c, cjc, jv)
}

// TestControllerV2JobAlreadyExistsButNotInActiveStatus: a Job created by an
// earlier sync whose status write was lost is added back.
#[tokio::test]
async fn test_controller_v2_job_already_exists_but_not_in_active_status() {
    let (c, cjc, jv) = already_exists_fixture(true);
    c.sync("snazzycats/mycronjob").await.unwrap();
    let updates = cjc.updates.lock().clone();
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0].status.active,
        vec![ObjectRef::to_job(&job_of(&jv))]
    );
}

// TestControllerV2JobAlreadyExistsButDifferentOwner: someone else's Job of
// the same name is left alone.
#[tokio::test]
async fn test_controller_v2_job_already_exists_but_different_owner() {
    let (c, cjc, _) = already_exists_fixture(false);
    c.sync("snazzycats/mycronjob").await.unwrap();
    assert_eq!(cjc.updates.lock().len(), 0);
}

#[tokio::test]
async fn completed_jobs_leave_active_with_their_condition() {
    // SawCompletedJob names the finish condition; lastSuccessfulTime takes
    // the completion time. (Within the deadline window the slot found is
    // never too late, so ControllerV2 cannot reach MissSchedule; the window
    // only hides older slots, as upstream's "past deadline" cases show.)
    let mut v = cron_job();
    v["spec"]["schedule"] = ON_THE_HOUR.into();
    v["spec"]["startingDeadlineSeconds"] = SHORT_DEAD.into();
    v["status"]["lastScheduleTime"] = format_time(just_after_the_prior_hour()).into();
    let cj = cj_of(v);
    let mut jv = job_value(&cj, just_after_the_prior_hour());
    let r = serde_json::to_value(ObjectRef::to_job(&job_of(&jv))).unwrap();
    jv["status"] = json!({"completionTime": "2016-05-19T09:01:10Z",
        "conditions": [{"type": "Failed", "status": "False"}, {"type": "Complete", "status": "True"}]});
    let mut with_active = cj.raw.clone();
    with_active["status"]["active"] = json!([r]);
    let mut copy = cj_of(with_active);
    let jc = Arc::new(FakeJobControl::default());
    let cjc = Arc::new(FakeCjControl {
        cronjob: None,
        updates: Mutex::default(),
    });
    let (rec, recorder) = reconciler(jc, cjc, just_after_the_hour());
    let got = rec.sync_cron_job(&mut copy, &[Arc::new(job_of(&jv))]).await;
    assert!(got.update_status);
    assert!(copy.status.active.is_empty());
    assert_eq!(
        copy.status.last_successful_time,
        Some(t("2016-05-19T09:01:10Z"))
    );
    let name = jv["metadata"]["name"].as_str().unwrap();
    assert_eq!(
        recorder.recorded(),
        vec![(
            false,
            "SawCompletedJob".into(),
            format!("Saw completed job: {name}, condition: Complete")
        )]
    );
}

// The warnings of a schedule or zone the controller cannot use, and of
// failed API calls, with upstream's texts.
#[tokio::test]
async fn warning_messages_are_upstreams() {
    let run = |spec: Value, jc: FakeJobControl| async move {
        let mut v = cron_job();
        for (k, val) in spec.as_object().unwrap() {
            v["spec"][k] = val.clone();
        }
        v["metadata"]["creationTimestamp"] = format_time(just_before_the_hour()).into();
        let cjc = Arc::new(FakeCjControl {
            cronjob: None,
            updates: Mutex::default(),
        });
        let (r, recorder) = reconciler(Arc::new(jc), cjc, just_after_the_hour());
        let mut cj = cj_of(v);
        let _ = r.sync_cron_job(&mut cj, &[]).await;
        recorder
            .recorded()
            .into_iter()
            .filter(|e| e.0)
            .map(|e| (e.1, e.2))
            .collect::<Vec<_>>()
    };
    let w = |r: &str, m: &str| vec![(r.to_string(), m.to_string())];
    assert_eq!(
        run(
            json!({"timeZone": "bad timezone"}),
            FakeJobControl::default()
        )
        .await,
        w(
            "UnknownTimeZone",
            r#"invalid timeZone: "bad timezone": unknown time zone bad timezone"#
        )
    );
    assert_eq!(
        run(json!({"schedule": "0 0 * * 7"}), FakeJobControl::default()).await,
        w(
            "UnparseableSchedule",
            r#"unparseable schedule: "0 0 * * 7" : end of range (7) above maximum (6): 7"#
        )
    );
    assert_eq!(
        run(json!({"schedule": "59 23 31 2 *"}), FakeJobControl::default()).await,
        w("InvalidSchedule", "invalid schedule: 59 23 31 2 * : time difference between two schedules is less than 1 second")
    );
    let unsupported = run(
        json!({"schedule": "CRON_TZ=UTC 0 * * * *"}),
        FakeJobControl::default(),
    )
    .await;
    assert_eq!(
        unsupported,
        w(
            "UnsupportedSchedule",
            r#"CRON_TZ or TZ used in schedule "CRON_TZ=UTC 0 * * * *" is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details"#
        )
    );
    let failing = FakeJobControl {
        create_err: Some(ControlError::Other(
            r#"Job.batch "x" is invalid: spec.template.spec.containers: Required value"#.into(),
        )),
        ..Default::default()
    };
    assert_eq!(
        run(json!({"schedule": ON_THE_HOUR}), failing).await,
        w(
            "FailedCreate",
            r#"Error creating job: Job.batch "x" is invalid: spec.template.spec.containers: Required value"#
        )
    );
}
