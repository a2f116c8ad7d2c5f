//! Sync behaviour on a fake clock: time-based rules (pod re-creation
//! back-off, activeDeadlineSeconds) are checked by moving the clock, not by
//! sleeping. The syncs are driven directly, as upstream's unit tests call
//! `syncJob` (`pkg/controller/job/job_controller_test.go`).

use std::sync::Arc;
use std::time::Duration;

use api::resources::{JOBS, NAMESPACES, PODS};
use serde_json::{json, Value};
use store::{Options, Store};

use super::{start_controller, JobController};
use crate::clock::FakeClock;
use crate::ControllerOptions;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    clock: FakeClock,
    c: Arc<JobController>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for h in &self.handles {
            h.abort();
        }
    }
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        Options {
            synchronous_full: false,
            ..Default::default()
        },
    )
    .unwrap();
    store
        .create(
            &NAMESPACES,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
        )
        .await
        .unwrap();
    let clock = FakeClock::new(chrono::Utc::now());
    let opts = ControllerOptions {
        clock: Arc::new(clock.clone()),
        workers: 0,
        ..Default::default()
    };
    let (c, handles) = start_controller(store.clone(), opts).unwrap();
    Fixture {
        _dir: dir,
        store,
        clock,
        c,
        handles,
    }
}

async fn create_job(store: &Store, name: &str, spec: Value) {
    let mut spec = spec;
    spec["template"] = json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}});
    let v = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"}, "spec": spec});
    let mut job: k8s_openapi::api::batch::v1::Job = serde_json::from_value(v).unwrap();
    api::defaults::default_job(&mut job);
    api::defaults::prepare_job_for_create(&mut job, &format!("uid-{name}"));
    api::defaults::default_job(&mut job);
    let mut v = serde_json::to_value(&job).unwrap();
    v["apiVersion"] = json!("batch/v1");
    v["kind"] = json!("Job");
    store.create(&JOBS, v).await.unwrap();
}

fn pods(store: &Store) -> Vec<Value> {
    store
        .list(&PODS, Some("default"))
        .items
        .iter()
        .map(|s| s.value())
        .collect()
}

/// Syncs `key` (as the worker would) until `f` holds.
async fn eventually<T>(
    c: &JobController,
    key: &str,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    for _ in 0..500 {
        let _ = c.sync_job(key).await;
        if let Some(t) = f() {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn fail_pod(store: &Store, name: &str, finished: chrono::DateTime<chrono::Utc>) {
    let t = crate::kit::objects::format_time(finished);
    store
        .modify(&PODS, "default", name, |mut v| {
            v["status"] = json!({"phase": "Failed", "containerStatuses": [{"name": "c",
                "state": {"terminated": {"exitCode": 1, "finishedAt": t}}}]});
            Ok(Some(v))
        })
        .await
        .unwrap();
}

fn job(store: &Store, name: &str) -> Value {
    store.get(&JOBS, "default", name).unwrap().value()
}

/// Back-off on the fake clock (upstream `TestJobPodsCreatedWithExponentialBackoff`,
/// base 10 s): no replacement before 10 s after the failure, one after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_waits_for_backoff_on_fake_clock() {
    let f = fixture().await;
    create_job(&f.store, "b", json!({"backoffLimit": 3})).await;
    let first = eventually(&f.c, "default/b", "first pod", || {
        pods(&f.store).first().cloned()
    })
    .await;
    let name = first["metadata"]["name"].as_str().unwrap().to_string();
    fail_pod(&f.store, &name, f.clock.now_for_tests()).await;
    eventually(&f.c, "default/b", "failure counted", || {
        (job(&f.store, "b")["status"]["failed"] == 1).then_some(())
    })
    .await;
    // Time has not moved: no replacement, however often we sync.
    for _ in 0..3 {
        f.c.sync_job("default/b").await.unwrap();
    }
    assert_eq!(pods(&f.store).len(), 1);
    f.clock.advance(Duration::from_secs(9));
    f.c.sync_job("default/b").await.unwrap();
    assert_eq!(pods(&f.store).len(), 1, "9 s < 10 s back-off");
    f.clock.advance(Duration::from_secs(2));
    f.c.sync_job("default/b").await.unwrap();
    eventually(&f.c, "default/b", "replacement", || {
        (pods(&f.store).len() == 2).then_some(())
    })
    .await;
    for _ in 0..3 {
        f.c.sync_job("default/b").await.unwrap();
    }
    assert_eq!(pods(&f.store).len(), 2, "exactly one replacement");
}

/// activeDeadlineSeconds on the fake clock (reference §9.4): FailureTarget
/// then Failed(DeadlineExceeded), the active pod counted as failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_deadline_on_fake_clock() {
    let f = fixture().await;
    create_job(&f.store, "d", json!({"activeDeadlineSeconds": 30})).await;
    eventually(&f.c, "default/d", "pod", || pods(&f.store).first().cloned()).await;
    eventually(&f.c, "default/d", "started", || {
        job(&f.store, "d")["status"]["startTime"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    f.c.sync_job("default/d").await.unwrap();
    assert!(job(&f.store, "d")["status"].get("conditions").is_none());
    f.clock.advance(Duration::from_secs(31));
    f.c.sync_job("default/d").await.unwrap();
    let j = eventually(&f.c, "default/d", "Failed", || {
        let j = job(&f.store, "d");
        j["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Failed"))
            .then_some(j)
    })
    .await;
    let types: Vec<&str> = j["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["FailureTarget", "Failed"]);
    assert_eq!(j["status"]["conditions"][1]["reason"], "DeadlineExceeded");
    assert_eq!(j["status"]["failed"], 1);
    assert!(pods(&f.store).is_empty(), "the unscheduled pod is gone");
}

/// A finish reached while a creation is still unobserved waits for it
/// (joblite's deviation in `sync_job`): the pods deleted on success are then
/// deleted under the recorded decision and never counted as failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_waits_for_unsatisfied_expectations() {
    let f = fixture().await;
    create_job(
        &f.store,
        "sp",
        json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed",
            "successPolicy": {"rules": [{"succeededIndexes": "0"}]}}),
    )
    .await;
    let key = "default/sp";
    eventually(&f.c, key, "3 pods observed", || {
        (pods(&f.store).len() == 3 && f.c.expectations.satisfied(key)).then_some(())
    })
    .await;
    let zero = pods(&f.store)
        .into_iter()
        .find(|p| p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "0")
        .unwrap();
    let name = zero["metadata"]["name"].as_str().unwrap().to_string();
    f.store
        .modify(&PODS, "default", &name, |mut v| {
            v["status"] = json!({"phase": "Succeeded"});
            Ok(Some(v))
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A creation in flight: the success policy matches, but nothing happens yet.
    f.c.expectations.expect_creations(key, 1);
    f.c.sync_job(key).await.unwrap();
    let deleting = |p: &Value| p["metadata"].get("deletionTimestamp").is_some();
    assert!(!pods(&f.store).iter().any(deleting), "no pod deleted");
    assert!(job(&f.store, "sp")["status"].get("conditions").is_none());
    f.c.expectations.creation_observed(key);
    let j = eventually(&f.c, key, "Complete", || {
        let j = job(&f.store, "sp");
        j["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Complete"))
            .then_some(j)
    })
    .await;
    assert_eq!(j["status"]["conditions"][0]["type"], "SuccessCriteriaMet");
    assert!(j["status"].get("failed").is_none(), "{}", j["status"]);
    assert_eq!(j["status"]["completedIndexes"], "0");
}
