//! The controller against a real store on a fake clock: the Jobs it
//! creates (name, annotation, owner, admitted as the API server would),
//! the status it writes, the events it records, and what happens across a
//! restart. Syncs are driven directly (`workers: 0`), as upstream's
//! `processNextWorkItem` tests do; the clock only moves when told.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use api::cron::Zone;
use api::cronjob::{CRONJOBS, SCHEDULED_TIMESTAMP_ANNOTATION};
use api::resources::{EVENTS, JOBS, NAMESPACES};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{json, Value};
use store::{DeleteOptions, Options, Store};

use super::{start_controller, CronJobController};
use crate::clock::FakeClock;
use crate::kit::objects::format_time;
use crate::ControllerOptions;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    clock: FakeClock,
    c: Arc<CronJobController>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for h in &self.handles {
            h.abort();
        }
    }
}

async fn open_store(dir: &std::path::Path) -> Store {
    Store::open(
        dir,
        Options {
            synchronous_full: false,
            ..Default::default()
        },
    )
    .unwrap()
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path()).await;
    store
        .create(
            &NAMESPACES,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
        )
        .await
        .unwrap();
    let clock = FakeClock::new(Utc::now());
    let (c, handles) = controller(&store, &clock);
    Fixture {
        _dir: dir,
        store,
        clock,
        c,
        handles,
    }
}

fn controller(
    store: &Store,
    clock: &FakeClock,
) -> (Arc<CronJobController>, Vec<tokio::task::JoinHandle<()>>) {
    let opts = ControllerOptions {
        clock: Arc::new(clock.clone()),
        workers: 0,
        ..Default::default()
    };
    start_controller(store.clone(), opts, Zone::Utc, 0).unwrap()
}

/// Stores a CronJob as the API server would (defaults, empty status).
async fn create_cronjob(store: &Store, name: &str, spec: Value) -> DateTime<Utc> {
    let mut v = json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"metadata": {"labels": {"app": "x"}},
            "spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}}}});
    for (k, val) in spec.as_object().unwrap() {
        v["spec"][k] = val.clone();
    }
    let mut typed: k8s_openapi::api::batch::v1::CronJob = serde_json::from_value(v).unwrap();
    api::cronjob::default_cronjob(&mut typed);
    api::cronjob::prepare_cronjob_for_create(&mut typed);
    assert!(api::validation::validate_cronjob_create(&typed).is_empty());
    let mut v = serde_json::to_value(&typed).unwrap();
    v["apiVersion"] = "batch/v1".into();
    v["kind"] = "CronJob".into();
    let s = store.create(&CRONJOBS, v).await.unwrap();
    s.value()["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..400 {
        if let Some(t) = f() {
            return t;
        }
        tokio::time::sleep(StdDuration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

impl Fixture {
    fn cronjob(&self, name: &str) -> Value {
        self.store.get(&CRONJOBS, "default", name).unwrap().value()
    }

    fn jobs(&self) -> Vec<Value> {
        self.store
            .list(&JOBS, Some("default"))
            .items
            .iter()
            .map(|s| s.value())
            .collect()
    }

    fn job_names(&self) -> Vec<String> {
        self.jobs()
            .iter()
            .map(|j| j["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// Waits until the controller's caches hold what the store holds.
    async fn settle(&self, name: &str) {
        let rev = self.store.get(&CRONJOBS, "default", name).unwrap().rev;
        let key = format!("default/{name}");
        eventually("the cronjob cache", || {
            self.c.cached(&key).filter(|c| c.rev >= rev).map(|_| ())
        })
        .await;
        let jobs = self.store.list(&JOBS, Some("default"));
        eventually("the job cache", || {
            let cached = self.c.jobs.read();
            (cached.len() == jobs.items.len()
                && jobs.items.iter().all(|s| {
                    let v = s.value();
                    let k = format!("default/{}", v["metadata"]["name"].as_str().unwrap());
                    cached.get(&k).is_some_and(|j| j.rev >= s.rev)
                }))
            .then_some(())
        })
        .await;
    }

    async fn sync(&self, name: &str) -> Option<StdDuration> {
        self.settle(name).await;
        self.c.sync(&format!("default/{name}")).await.unwrap()
    }

    async fn events(&self, reason: &str) -> Vec<String> {
        // The recorder writes in the background.
        tokio::time::sleep(StdDuration::from_millis(30)).await;
        self.store
            .list(&EVENTS, Some("default"))
            .items
            .iter()
            .map(|s| s.value())
            .filter(|e| e["reason"] == reason && e["involvedObject"]["kind"] == "CronJob")
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect()
    }

    async fn finish_job(&self, name: &str, condition: &str, at: DateTime<Utc>) {
        let t = format_time(at);
        let cond = condition.to_string();
        self.store
            .modify(&JOBS, "default", name, |mut v| {
                v["status"]["startTime"] = t.clone().into();
                // The store validates in-process writes as the API does: a
                // finished Job carries its interim condition first.
                let interim = if cond == "Complete" {
                    "SuccessCriteriaMet"
                } else {
                    "FailureTarget"
                };
                v["status"]["conditions"] = json!([
                    {"type": interim, "status": "True", "lastTransitionTime": t},
                    {"type": cond, "status": "True", "lastTransitionTime": t},
                ]);
                if cond == "Complete" {
                    v["status"]["completionTime"] = t.clone().into();
                }
                Ok(Some(v))
            })
            .await
            .unwrap();
    }
}

fn minute_after(t: DateTime<Utc>, n: i64) -> DateTime<Utc> {
    t.duration_trunc(Duration::minutes(1)).unwrap() + Duration::minutes(n)
}

fn job_name(cj: &str, slot: DateTime<Utc>) -> String {
    format!("{cj}-{}", slot.timestamp() / 60)
}

#[tokio::test]
async fn creates_the_job_of_the_slot_and_requeues_at_the_next() {
    let f = fixture().await;
    let created = create_cronjob(&f.store, "hello", json!({})).await;
    // Before the first slot: nothing, and a requeue exactly at it.
    f.clock.set(created);
    let slot = minute_after(created, 1);
    let wait = f.sync("hello").await.unwrap();
    assert_eq!(
        wait,
        (slot + Duration::milliseconds(100) - created)
            .to_std()
            .unwrap()
    );
    assert!(f.jobs().is_empty());

    f.clock.set(slot + Duration::seconds(5));
    let wait = f.sync("hello").await.unwrap();
    assert_eq!(
        wait,
        StdDuration::from_millis(55_100),
        "requeued at the next minute + 100ms"
    );
    let jobs = f.jobs();
    assert_eq!(jobs.len(), 1);
    let j = &jobs[0];
    assert_eq!(j["metadata"]["name"], job_name("hello", slot));
    assert_eq!(
        j["metadata"]["annotations"][SCHEDULED_TIMESTAMP_ANNOTATION],
        format_time(slot)
    );
    assert_eq!(j["metadata"]["labels"]["app"], "x");
    let cj = f.cronjob("hello");
    assert_eq!(
        j["metadata"]["ownerReferences"],
        json!([{"apiVersion": "batch/v1", "kind": "CronJob", "name": "hello",
            "uid": cj["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}])
    );
    // Admitted as the API server admits a Job: selector, pod labels, defaults.
    assert_eq!(j["spec"]["backoffLimit"], 6);
    assert!(j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"].is_string());
    assert_eq!(cj["status"]["lastScheduleTime"], format_time(slot));
    assert_eq!(
        cj["status"]["active"],
        json!([{"kind": "Job", "namespace": "default", "name": j["metadata"]["name"],
            "uid": j["metadata"]["uid"], "apiVersion": "batch/v1",
            "resourceVersion": j["metadata"]["resourceVersion"]}])
    );
    assert_eq!(
        f.events("SuccessfulCreate").await,
        vec![format!("Created job {}", job_name("hello", slot))]
    );
    // The same slot again: nothing new.
    f.sync("hello").await;
    assert_eq!(f.jobs().len(), 1);
}

#[tokio::test]
async fn a_restart_across_missed_slots_runs_one_catch_up_job() {
    let mut f = fixture().await;
    let created = create_cronjob(&f.store, "catchup", json!({})).await;
    let s1 = minute_after(created, 1);
    f.clock.set(s1 + Duration::seconds(1));
    f.sync("catchup").await;
    assert_eq!(f.job_names(), vec![job_name("catchup", s1)]);

    // The engine is down for slots s2 and s3; it comes back in s3's minute.
    for h in f.handles.drain(..) {
        h.abort();
    }
    let s3 = minute_after(created, 3);
    f.clock.set(s3 + Duration::seconds(20));
    let (c, handles) = controller(&f.store, &f.clock);
    f.c = c;
    f.handles = handles;
    f.sync("catchup").await;
    f.sync("catchup").await;
    let mut names = f.job_names();
    names.sort();
    assert_eq!(
        names,
        vec![job_name("catchup", s1), job_name("catchup", s3)],
        "only the most recent missed slot runs"
    );

    // A crash between a create and its status write: the Job of s4 exists
    // but status does not know it. Its name is the slot's, so the next sync
    // finds it instead of creating a duplicate.
    let s4 = minute_after(created, 4);
    let cj = f.cronjob("catchup");
    let mut cjv = super::view::CronJob::from_value(cj, 0).unwrap();
    cjv.metadata.creation_timestamp = Some(created);
    let job = super::schedule::job_from_template(&cjv, s4).unwrap();
    use super::control::JobControl;
    super::control::StoreControl {
        store: f.store.clone(),
    }
    .create_job("default", job)
    .await
    .unwrap();
    f.clock.set(s4 + Duration::seconds(2));
    f.sync("catchup").await;
    assert_eq!(f.jobs().len(), 3);
    let active: Vec<String> = f.cronjob("catchup")["status"]["active"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert!(active.contains(&job_name("catchup", s4)));
    assert_eq!(f.events("SuccessfulCreate").await.len(), 2);
    // As upstream, the sync that finds it first warns that a running child
    // is missing from status (the crash case its comment describes).
    assert_eq!(
        f.events("UnexpectedJob").await,
        vec![format!(
            "Saw a job that the controller did not create or forgot: {}",
            job_name("catchup", s4)
        )]
    );
}

#[tokio::test]
async fn more_than_100_missed_slots_warn_and_still_run() {
    // upstream e2e "should be able to schedule after more than 100 missed
    // schedule": here the clock jumps instead of the timestamps.
    let f = fixture().await;
    let created = create_cronjob(&f.store, "late", json!({"concurrencyPolicy": "Forbid"})).await;
    let now = minute_after(created, 200) + Duration::seconds(3);
    f.clock.set(now);
    f.sync("late").await;
    assert_eq!(
        f.job_names(),
        vec![job_name("late", minute_after(created, 200))]
    );
    assert_eq!(
        f.events("TooManyMissedTimes").await,
        vec!["too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"]
    );
}

#[tokio::test]
async fn forbid_waits_then_runs_the_most_recent_slot_late() {
    let f = fixture().await;
    let created = create_cronjob(&f.store, "forbid", json!({"concurrencyPolicy": "Forbid"})).await;
    let s1 = minute_after(created, 1);
    f.clock.set(s1 + Duration::seconds(1));
    f.sync("forbid").await;
    f.clock.set(minute_after(created, 2) + Duration::seconds(1));
    f.sync("forbid").await;
    assert_eq!(f.jobs().len(), 1);
    assert_eq!(
        f.events("JobAlreadyActive").await,
        vec![
            "Not starting job because prior execution is running and concurrency policy is Forbid"
        ]
    );
    // The first Job completes in minute 3: the missed slot 3 starts late.
    let done = minute_after(created, 3) + Duration::seconds(30);
    f.clock.set(done);
    f.finish_job(&job_name("forbid", s1), "Complete", done)
        .await;
    f.sync("forbid").await;
    let cj = f.cronjob("forbid");
    assert_eq!(cj["status"]["lastSuccessfulTime"], format_time(done));
    assert_eq!(
        f.events("SawCompletedJob").await,
        vec![format!(
            "Saw completed job: {}, condition: Complete",
            job_name("forbid", s1)
        )]
    );
    let mut names = f.job_names();
    names.sort();
    assert_eq!(
        names,
        vec![
            job_name("forbid", s1),
            job_name("forbid", minute_after(created, 3))
        ]
    );
}

#[tokio::test]
async fn replace_deletes_the_running_job() {
    let f = fixture().await;
    let created =
        create_cronjob(&f.store, "replace", json!({"concurrencyPolicy": "Replace"})).await;
    let s1 = minute_after(created, 1);
    f.clock.set(s1 + Duration::seconds(1));
    f.sync("replace").await;
    let s2 = minute_after(created, 2);
    f.clock.set(s2 + Duration::seconds(1));
    f.sync("replace").await;
    // The GC finishes the Background delete; the old Job is gone or going.
    let names: Vec<String> = f
        .jobs()
        .iter()
        .filter(|j| j["metadata"].get("deletionTimestamp").is_none())
        .map(|j| j["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec![job_name("replace", s2)]);
    assert_eq!(
        f.events("SuccessfulDelete").await,
        vec![format!("Deleted job {}", job_name("replace", s1))]
    );
    let active = f.cronjob("replace")["status"]["active"].clone();
    assert_eq!(active.as_array().unwrap().len(), 1);
    assert_eq!(active[0]["name"], job_name("replace", s2));
}

#[tokio::test]
async fn history_limits_delete_the_oldest_finished_jobs_first() {
    let f = fixture().await;
    let created = create_cronjob(
        &f.store,
        "hist",
        json!({"successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 0}),
    )
    .await;
    let mut names = Vec::new();
    for n in 1..=3 {
        let slot = minute_after(created, n);
        f.clock.set(slot + Duration::seconds(1));
        f.sync("hist").await;
        let name = job_name("hist", slot);
        let outcome = if n == 3 { "Failed" } else { "Complete" };
        f.finish_job(&name, outcome, slot + Duration::seconds(2))
            .await;
        names.push(name);
    }
    f.clock
        .set(minute_after(created, 3) + Duration::seconds(30));
    f.sync("hist").await;
    let left: Vec<String> = f
        .jobs()
        .iter()
        .filter(|j| j["metadata"].get("deletionTimestamp").is_none())
        .map(|j| j["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        left,
        vec![names[1].clone()],
        "one successful kept, the newest; no failed kept"
    );
    let mut deleted = f.events("SuccessfulDelete").await;
    deleted.sort();
    assert_eq!(
        deleted,
        vec![
            format!("Deleted job {}", names[0]),
            format!("Deleted job {}", names[2])
        ]
    );
}

#[tokio::test]
async fn a_deleted_active_job_is_reported_missing() {
    let f = fixture().await;
    let created = create_cronjob(&f.store, "gone", json!({})).await;
    let s1 = minute_after(created, 1);
    f.clock.set(s1 + Duration::seconds(1));
    f.sync("gone").await;
    let name = job_name("gone", s1);
    // Deleted without a trace (no finalizers hold it).
    f.store
        .delete(&JOBS, "default", &name, DeleteOptions::default())
        .await
        .unwrap();
    eventually("the job to go", || {
        f.store.get(&JOBS, "default", &name).is_err().then_some(())
    })
    .await;
    f.sync("gone").await;
    assert!(f.cronjob("gone")["status"].get("active").is_none());
    assert_eq!(
        f.events("MissingJob").await,
        vec![format!("Active job went missing: {name}")]
    );
}

#[tokio::test]
async fn suspended_cronjobs_create_nothing_and_are_not_requeued() {
    let f = fixture().await;
    let created = create_cronjob(&f.store, "paused", json!({"suspend": true})).await;
    f.clock.set(minute_after(created, 5));
    assert_eq!(f.sync("paused").await, None);
    assert!(f.jobs().is_empty());
}

#[tokio::test]
async fn a_job_created_by_hand_is_unexpected_and_not_adopted() {
    // `kubectl create job --from=cronjob/...`: controlled by the CronJob,
    // not in its active list.
    let f = fixture().await;
    let created = create_cronjob(&f.store, "manual", json!({})).await;
    let cj = f.cronjob("manual");
    f.store
        .create(
            &JOBS,
            json!({"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "manual-by-hand", "namespace": "default",
                    "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
                    "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "manual",
                        "uid": cj["metadata"]["uid"], "controller": true}]},
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}}}),
        )
        .await
        .unwrap();
    f.clock.set(created);
    f.sync("manual").await;
    assert_eq!(
        f.events("UnexpectedJob").await,
        vec!["Saw a job that the controller did not create or forgot: manual-by-hand"]
    );
    assert!(f.cronjob("manual")["status"].get("active").is_none());
}

#[tokio::test]
async fn time_zones_shift_the_slots_and_the_annotation() {
    let f = fixture().await;
    // 09:00 in Kolkata (UTC+05:30) is 03:30 UTC.
    let created = create_cronjob(
        &f.store,
        "tz",
        json!({"schedule": "0 9 * * *", "timeZone": "Asia/Kolkata"}),
    )
    .await;
    let day = created
        .date_naive()
        .and_hms_opt(3, 30, 0)
        .unwrap()
        .and_utc();
    let slot = if day > created {
        day
    } else {
        day + Duration::days(1)
    };
    f.clock.set(slot + Duration::seconds(1));
    f.sync("tz").await;
    let jobs = f.jobs();
    assert_eq!(jobs.len(), 1);
    let local = api::cron::load_location("Asia/Kolkata")
        .unwrap()
        .rfc3339(slot.timestamp());
    assert_eq!(
        jobs[0]["metadata"]["annotations"][SCHEDULED_TIMESTAMP_ANNOTATION],
        local
    );
    assert!(local.ends_with("T09:00:00+05:30"), "{local}");
}
