//! The Job controller against a real store, with a stand-in kubelet.
//! Scenario names follow upstream `test/integration/job/job_test.go` and
//! `test/e2e/apps/job.go`.

mod common;

use std::time::Duration;

use api::resources::{JOBS, PODS};
use common::*;
use serde_json::{json, Value};

fn tracking_finalizers(pods: &[Value]) -> usize {
    pods.iter()
        .filter(|p| {
            p["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "batch.kubernetes.io/job-tracking"))
        })
        .count()
}

fn idx(p: &Value) -> i64 {
    p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// e2e "should run a job to completion when tasks succeed"; integration `TestParallelJobWithCompletions`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_job_with_completions_never_exceeds_parallelism() {
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Succeed);
    create_job(
        &env.store,
        "par",
        json!({"completions": 10, "parallelism": 5}),
    )
    .await;
    let store = env.store.clone();
    let max_active = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let m = max_active.clone();
    let watcher = tokio::spawn(async move {
        loop {
            let active = pods_of(&store, "default", "par")
                .iter()
                .filter(|p| {
                    !matches!(
                        p["status"]["phase"].as_str(),
                        Some("Succeeded") | Some("Failed")
                    )
                })
                .count();
            m.fetch_max(active, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let job = wait_finished(&env.store, "par").await;
    watcher.abort();
    let s = &job["status"];
    assert_eq!(s["succeeded"], 10);
    assert!(s.get("failed").is_none());
    assert_eq!(s["ready"], 0);
    assert_eq!(s["terminating"], 0);
    assert_eq!(s["uncountedTerminatedPods"], json!({}));
    assert!(s["completionTime"].is_string() && s["startTime"].is_string());
    assert_eq!(
        condition_types(&job),
        vec![
            (
                "SuccessCriteriaMet".into(),
                "True".into(),
                "CompletionsReached".into()
            ),
            (
                "Complete".into(),
                "True".into(),
                "CompletionsReached".into()
            )
        ]
    );
    assert_eq!(
        s["conditions"][1]["message"],
        "Reached expected number of succeeded pods"
    );
    assert_eq!(
        s["completionTime"],
        s["conditions"][1]["lastTransitionTime"]
    );
    let pods = pods_of(&env.store, "default", "par");
    assert_eq!(pods.len(), 10);
    assert_eq!(tracking_finalizers(&pods), 0);
    assert!(max_active.load(std::sync::atomic::Ordering::SeqCst) <= 5);
    for p in &pods {
        let name = p["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("par-") && name.len() == 9, "{name}");
        let uid = job["metadata"]["uid"].as_str().unwrap();
        assert_eq!(
            p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"],
            uid
        );
        assert_eq!(p["metadata"]["labels"]["controller-uid"], uid);
        assert_eq!(
            p["metadata"]["labels"]["batch.kubernetes.io/job-name"],
            "par"
        );
        assert_eq!(p["metadata"]["ownerReferences"][0]["controller"], true);
    }
    wait_for(Duration::from_secs(5), "events", || {
        let ev = events_for(&env.store, "par");
        (ev.iter().filter(|e| e.0 == "SuccessfulCreate").count() == 10
            && ev.contains(&("Completed".into(), "Job completed".into())))
        .then_some(())
    })
    .await;
}

/// Seed patterns: oneshot and work queue (`completions` unset).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneshot_and_work_queue_patterns() {
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Succeed);
    create_job(&env.store, "one", json!({})).await;
    create_job(&env.store, "wq", json!({"parallelism": 5})).await;
    let one = wait_finished(&env.store, "one").await;
    assert_eq!(one["status"]["succeeded"], 1);
    let wq = wait_finished(&env.store, "wq").await;
    assert_eq!(condition_types(&wq).last().unwrap().0, "Complete");
    let n = wq["status"]["succeeded"].as_i64().unwrap();
    assert!((1..=5).contains(&n), "{n}");
    assert_eq!(pods_of(&env.store, "default", "wq").len() as i64, n);
}

/// Work queue: after the first success no new pod starts; the others run on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_queue_waits_for_running_pods_after_first_success() {
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Run);
    create_job(&env.store, "wq", json!({"parallelism": 3})).await;
    let pods = wait_for(Duration::from_secs(10), "3 pods", || {
        let p = pods_of(&env.store, "default", "wq");
        (p.len() == 3 && p.iter().all(|p| p["status"]["phase"] == "Running")).then_some(p)
    })
    .await;
    apply(&env.store, &pods[0], Outcome::Succeed).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        pods_of(&env.store, "default", "wq").len(),
        3,
        "no new pods after a success"
    );
    assert!(!is_finished(&get_job(&env.store, "wq").unwrap()));
    apply(&env.store, &pods[1], Outcome::Succeed).await;
    apply(&env.store, &pods[2], Outcome::Fail(1)).await;
    let job = wait_finished(&env.store, "wq").await;
    assert_eq!(job["status"]["succeeded"], 2);
    assert_eq!(job["status"]["failed"], 1);
    assert_eq!(condition_types(&job).last().unwrap().0, "Complete");
}

/// Worked timeline 2 (reference §21): backoffLimit 1 ⇒ exactly two failed pods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_limit_exceeded() {
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Fail(1));
    create_job(&env.store, "bl", json!({"backoffLimit": 1})).await;
    let job = wait_finished(&env.store, "bl").await;
    assert_eq!(job["status"]["failed"], 2);
    assert!(job["status"].get("completionTime").is_none());
    assert_eq!(
        condition_types(&job),
        vec![
            (
                "FailureTarget".into(),
                "True".into(),
                "BackoffLimitExceeded".into()
            ),
            (
                "Failed".into(),
                "True".into(),
                "BackoffLimitExceeded".into()
            )
        ]
    );
    assert_eq!(
        job["status"]["conditions"][1]["message"],
        "Job has reached the specified backoff limit"
    );
    let pods = pods_of(&env.store, "default", "bl");
    assert_eq!(pods.len(), 2);
    assert_eq!(tracking_finalizers(&pods), 0);
    wait_for(Duration::from_secs(5), "failure event", || {
        events_for(&env.store, "bl")
            .contains(&(
                "BackoffLimitExceeded".into(),
                "Job has reached the specified backoff limit".into(),
            ))
            .then_some(())
    })
    .await;
}

/// Worked timeline 5 / e2e "should execute all indexes despite some failing when using backoffLimitPerIndex".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_limit_per_index_fails_odd_indexes() {
    let mut env = Env::new().await;
    env.kubelet(|p| {
        if idx(p) % 2 == 1 {
            Outcome::Fail(1)
        } else {
            Outcome::Succeed
        }
    });
    create_job(
        &env.store,
        "bli",
        json!({"completions": 4, "parallelism": 2, "completionMode": "Indexed", "backoffLimitPerIndex": 1}),
    )
    .await;
    let job = wait_finished(&env.store, "bli").await;
    let s = &job["status"];
    assert_eq!(s["failedIndexes"], "1,3");
    assert_eq!(s["completedIndexes"], "0,2");
    assert_eq!(s["failed"], 4);
    assert_eq!(s["succeeded"], 2);
    assert_eq!(
        condition_types(&job),
        vec![
            (
                "FailureTarget".into(),
                "True".into(),
                "FailedIndexes".into()
            ),
            ("Failed".into(), "True".into(), "FailedIndexes".into())
        ]
    );
    let pods = pods_of(&env.store, "default", "bli");
    assert_eq!(pods.len(), 6);
    let mut counts: Vec<(i64, String)> = pods
        .iter()
        .map(|p| {
            (
                idx(p),
                p["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        vec![
            (0, "0".into()),
            (1, "0".into()),
            (1, "1".into()),
            (2, "0".into()),
            (3, "0".into()),
            (3, "1".into())
        ]
    );
    for p in &pods {
        let i = idx(p);
        assert_eq!(p["spec"]["hostname"], format!("bli-{i}"));
        assert!(p["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with(&format!("bli-{i}-")));
    }
}

/// e2e "should terminate job execution when the number of failed indexes exceeds maxFailedIndexes".
// Also guards the deciding sync under load: the decision waits for unsatisfied
// expectations, so the pods it deletes are never counted as failed (see the
// deviation note in `job/mod.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_failed_indexes_exceeded() {
    let mut env = Env::new().await;
    env.kubelet(|p| {
        if idx(p) == 0 {
            Outcome::Fail(1)
        } else {
            Outcome::Run
        }
    });
    create_job(
        &env.store,
        "mfi",
        json!({"completions": 4, "parallelism": 4, "completionMode": "Indexed", "backoffLimitPerIndex": 0, "maxFailedIndexes": 0}),
    )
    .await;
    let job = wait_finished(&env.store, "mfi").await;
    assert_eq!(
        condition_types(&job).last().unwrap().2,
        "MaxFailedIndexesExceeded"
    );
    assert_eq!(job["status"]["failedIndexes"], "0");
    assert_eq!(job["status"]["failed"], 4, "killed pods count as failed");
    assert_eq!(job["status"]["active"], Value::Null);
}

/// e2e "should allow to use the pod failure policy on exit code to fail the job early".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_failure_policy_fail_job() {
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Fail(42));
    create_job(
        &env.store,
        "pfp",
        json!({"podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}}),
    )
    .await;
    let job = wait_finished(&env.store, "pfp").await;
    assert_eq!(condition_types(&job).last().unwrap().2, "PodFailurePolicy");
    let pod = &pods_of(&env.store, "default", "pfp")[0];
    assert_eq!(
        job["status"]["conditions"][1]["message"],
        format!("Container c for pod default/{} failed with exit code 42 matching FailJob rule at index 0", pod["metadata"]["name"].as_str().unwrap())
    );
    assert_eq!(job["status"]["failed"], 1);
}

/// e2e "should allow to use a pod failure policy to ignore failure matching on exit code".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_failure_policy_ignore_then_succeed() {
    let mut env = Env::new().await;
    let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    env.kubelet(move |_| {
        if n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
            Outcome::Fail(3)
        } else {
            Outcome::Succeed
        }
    });
    create_job(
        &env.store,
        "ign",
        json!({"backoffLimit": 0, "podFailurePolicy": {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}}]}}),
    )
    .await;
    let job = wait_finished(&env.store, "ign").await;
    assert_eq!(condition_types(&job).last().unwrap().0, "Complete");
    assert!(
        job["status"].get("failed").is_none(),
        "ignored failures are not counted"
    );
    assert_eq!(pods_of(&env.store, "default", "ign").len(), 3);
}

/// e2e "with successPolicy succeededIndexes rule should succeeded even when some indexes remain pending".
// Also guards the deciding sync under load: the decision waits for unsatisfied
// expectations, so the pods it deletes are never counted as failed (see the
// deviation note in `job/mod.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_policy_deletes_the_rest() {
    let mut env = Env::new().await;
    env.kubelet(|p| {
        if idx(p) == 0 {
            Outcome::Succeed
        } else {
            Outcome::Run
        }
    });
    create_job(
        &env.store,
        "sp",
        json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed",
            "successPolicy": {"rules": [{"succeededIndexes": "0"}]}}),
    )
    .await;
    let job = wait_finished(&env.store, "sp").await;
    assert_eq!(
        condition_types(&job),
        vec![
            (
                "SuccessCriteriaMet".into(),
                "True".into(),
                "SuccessPolicy".into()
            ),
            ("Complete".into(), "True".into(), "SuccessPolicy".into())
        ]
    );
    assert_eq!(
        job["status"]["conditions"][1]["message"],
        "Matched rules at index 0"
    );
    assert_eq!(job["status"]["completedIndexes"], "0");
    assert!(
        job["status"].get("failed").is_none(),
        "pods removed on success are not failures"
    );
}

/// Worked timeline 4: activeDeadlineSeconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_deadline_exceeded() {
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Run);
    create_job(
        &env.store,
        "ads",
        json!({"parallelism": 2, "completions": 2, "activeDeadlineSeconds": 1}),
    )
    .await;
    let job = wait_finished(&env.store, "ads").await;
    assert_eq!(
        condition_types(&job),
        vec![
            (
                "FailureTarget".into(),
                "True".into(),
                "DeadlineExceeded".into()
            ),
            ("Failed".into(), "True".into(), "DeadlineExceeded".into())
        ]
    );
    assert_eq!(job["status"]["failed"], 2);
    assert_eq!(job["status"]["terminating"], 0);
    assert_eq!(job["status"]["ready"], 0);
}

/// e2e "should not create pods when created in suspend state" and "should delete pods when suspended".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_and_resume() {
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Run);
    create_job(
        &env.store,
        "sus",
        json!({"parallelism": 2, "completions": 2, "suspend": true}),
    )
    .await;
    let job = wait_for(Duration::from_secs(5), "Suspended", || {
        get_job(&env.store, "sus").filter(|j| condition_types(j).iter().any(|c| c.0 == "Suspended"))
    })
    .await;
    assert_eq!(
        condition_types(&job),
        vec![("Suspended".into(), "True".into(), "JobSuspended".into())]
    );
    assert!(job["status"].get("startTime").is_none());
    assert_eq!(job["status"]["ready"], 0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(pods_of(&env.store, "default", "sus").is_empty());
    // Resume.
    env.store
        .modify(&JOBS, "default", "sus", |mut v| {
            v["spec"]["suspend"] = json!(false);
            Ok(Some(v))
        })
        .await
        .unwrap();
    let job = wait_for(Duration::from_secs(5), "2 ready", || {
        get_job(&env.store, "sus").filter(|j| j["status"]["ready"] == 2)
    })
    .await;
    assert_eq!(
        condition_types(&job),
        vec![("Suspended".into(), "False".into(), "JobResumed".into())]
    );
    assert!(job["status"]["startTime"].is_string());
    // Suspend again: pods deleted, not counted.
    env.store
        .modify(&JOBS, "default", "sus", |mut v| {
            v["spec"]["suspend"] = json!(true);
            Ok(Some(v))
        })
        .await
        .unwrap();
    let job = wait_for(Duration::from_secs(5), "suspended again", || {
        get_job(&env.store, "sus").filter(|j| {
            j["status"]["conditions"][0]["status"] == "True"
                && pods_of(&env.store, "default", "sus").is_empty()
        })
    })
    .await;
    assert!(job["status"].get("failed").is_none());
    // Events are recorded asynchronously, as upstream's broadcaster does.
    wait_for(Duration::from_secs(5), "the four event reasons", || {
        let ev = events_for(&env.store, "sus");
        [
            "Suspended",
            "Resumed",
            "SuccessfulCreate",
            "SuccessfulDelete",
        ]
        .iter()
        .all(|r| ev.iter().any(|e| e.0 == *r))
        .then_some(())
    })
    .await;
}

/// Integration `TestParallelJobChangingParallelism`: scale down picks pods, not counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_down_parallelism() {
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Run);
    create_job(&env.store, "scale", json!({"parallelism": 4})).await;
    wait_for(Duration::from_secs(5), "4 active", || {
        get_job(&env.store, "scale")
            .filter(|j| j["status"]["active"] == 4 && j["status"]["ready"] == 4)
    })
    .await;
    env.store
        .modify(&JOBS, "default", "scale", |mut v| {
            v["spec"]["parallelism"] = json!(1);
            Ok(Some(v))
        })
        .await
        .unwrap();
    let job = wait_for(Duration::from_secs(5), "1 active", || {
        get_job(&env.store, "scale").filter(|j| {
            j["status"]["active"] == 1 && pods_of(&env.store, "default", "scale").len() == 1
        })
    })
    .await;
    assert!(job["status"].get("failed").is_none());
}

/// e2e "should adopt matching orphans and release non-matching pods".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_and_release() {
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Run);
    create_job(
        &env.store,
        "adopt",
        json!({"parallelism": 2, "completions": 2}),
    )
    .await;
    let pods = wait_for(Duration::from_secs(5), "2 pods", || {
        let p = pods_of(&env.store, "default", "adopt");
        (p.len() == 2).then_some(p)
    })
    .await;
    // Orphan one pod (as the GC would after an orphaning delete).
    let name = pods[0]["metadata"]["name"].as_str().unwrap().to_string();
    env.store
        .modify(&PODS, "default", &name, |mut v| {
            v["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("ownerReferences");
            Ok(Some(v))
        })
        .await
        .unwrap();
    wait_for(Duration::from_secs(5), "re-adoption", || {
        let p = env.store.get(&PODS, "default", &name).ok()?.value();
        (p["metadata"]["ownerReferences"][0]["controller"] == true
            && p["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| !f.is_empty()))
        .then_some(())
    })
    .await;
    // Release: labels edited so the selector no longer matches.
    env.store
        .modify(&PODS, "default", &name, |mut v| {
            v["metadata"]["labels"] = json!({"job-name": "adopt", "foo": "bar"});
            Ok(Some(v))
        })
        .await
        .unwrap();
    wait_for(Duration::from_secs(5), "release and replacement", || {
        let p = env.store.get(&PODS, "default", &name).ok()?.value();
        let released = p["metadata"].get("ownerReferences").is_none()
            && p["metadata"].get("finalizers").is_none();
        let job = get_job(&env.store, "adopt")?;
        (released && job["status"]["active"] == 2).then_some(())
    })
    .await;
}

/// Integration `TestJobPodReplacementPolicy` (Failed): terminating pods block replacement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_replacement_policy_failed_waits_for_terminal_phase() {
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Run);
    let mut spec = json!({"parallelism": 2, "completions": 2, "podReplacementPolicy": "Failed"});
    spec["template"] = json!({"metadata": {"finalizers": ["fake.example.com/blockDeletion"]},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}});
    create_job(&env.store, "prp", spec).await;
    let pods = wait_for(Duration::from_secs(5), "2 running", || {
        let p = pods_of(&env.store, "default", "prp");
        (p.len() == 2 && p.iter().all(|p| p["status"]["phase"] == "Running")).then_some(p)
    })
    .await;
    for p in &pods {
        env.store
            .delete(
                &PODS,
                "default",
                p["metadata"]["name"].as_str().unwrap(),
                Default::default(),
            )
            .await
            .unwrap();
    }
    let job = wait_for(Duration::from_secs(5), "terminating 2", || {
        get_job(&env.store, "prp").filter(|j| j["status"]["terminating"] == 2)
    })
    .await;
    assert_eq!(job["status"]["active"], Value::Null);
    assert!(job["status"].get("failed").is_none());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        pods_of(&env.store, "default", "prp").len(),
        2,
        "no replacement while terminating"
    );
    // The pods end Failed: now they count and are replaced.
    for p in &pods {
        let name = p["metadata"]["name"].as_str().unwrap();
        env.store
            .modify(&PODS, "default", name, |mut v| {
                v["status"]["phase"] = json!("Failed");
                Ok(Some(v))
            })
            .await
            .unwrap();
    }
    wait_for(Duration::from_secs(5), "replacements", || {
        get_job(&env.store, "prp").filter(|j| {
            j["status"]["failed"] == 2
                && j["status"]["active"] == 2
                && j["status"]["terminating"] == 0
        })
    })
    .await;
}

/// managedBy another controller: status stays `{}` and no pods are created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_by_external_controller_is_left_alone() {
    let env = Env::new().await;
    create_job(&env.store, "ext", json!({"managedBy": "example.com/other"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(get_job(&env.store, "ext").unwrap()["status"], json!({}));
    assert!(pods_of(&env.store, "default", "ext").is_empty());
}

/// Counting through controller restarts (`TestOrphanPodsFinalizersClearedOnRestart`,
/// KEP-2307): a restart at every point of the tracking protocol counts each
/// terminal pod exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counting_through_restarts_table() {
    // (case, pod has finalizer, uid already in uncountedTerminatedPods.succeeded, status.succeeded before)
    let cases = [
        ("terminated, not yet recorded", true, false, 0),
        (
            "recorded in uncounted, restart before finalizer removal",
            true,
            true,
            0,
        ),
        (
            "finalizer removed, restart before the counter moved",
            false,
            true,
            0,
        ),
        ("fully counted already", false, false, 1),
    ];
    for (name, has_finalizer, uncounted, before) in cases {
        let mut env = Env::new().await;
        env.stop().await;
        let job = create_job(&env.store, "r", json!({"completions": 1, "parallelism": 1})).await;
        let juid = job["metadata"]["uid"].as_str().unwrap().to_string();
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "r-abcde", "namespace": "default", "uid": "pod-1",
                "labels": job["spec"]["template"]["metadata"]["labels"].clone(),
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "r", "uid": juid, "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Succeeded"}});
        if has_finalizer {
            pod["metadata"]["finalizers"] = json!(["batch.kubernetes.io/job-tracking"]);
        }
        // A create starts every pod Pending (the Pod strategy, as for an API
        // client); the status is a second write, as a kubelet's would be.
        let status = pod["status"].take();
        env.store.create(&PODS, pod).await.unwrap();
        env.store
            .modify(&PODS, "default", "r-abcde", |mut v| {
                v["status"] = status.clone();
                Ok(Some(v))
            })
            .await
            .unwrap();
        env.store
            .modify(&JOBS, "default", "r", |mut v| {
                v["status"] = json!({"startTime": "2024-01-01T00:00:00Z", "ready": 0, "terminating": 0,
                    "uncountedTerminatedPods": if uncounted { json!({"succeeded": ["pod-1"]}) } else { json!({}) }});
                if before > 0 {
                    v["status"]["succeeded"] = json!(before);
                }
                Ok(Some(v))
            })
            .await
            .unwrap();
        env.start().await;
        let job = wait_finished(&env.store, "r").await;
        assert_eq!(job["status"]["succeeded"], 1, "{name}");
        assert_eq!(
            job["status"]["uncountedTerminatedPods"],
            json!({}),
            "{name}"
        );
        assert_eq!(
            condition_types(&job).last().unwrap().0,
            "Complete",
            "{name}"
        );
        let pods = pods_of(&env.store, "default", "r");
        assert_eq!(pods.len(), 1, "{name}: no extra pod");
        assert_eq!(tracking_finalizers(&pods), 0, "{name}");
    }
}

/// Restarting the controller many times while a Job runs still counts exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_count_with_repeated_restarts() {
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Succeed);
    create_job(
        &env.store,
        "rr",
        json!({"completions": 200, "parallelism": 20}),
    )
    .await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(40)).await;
        env.stop().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        env.start().await;
    }
    let job = wait_finished(&env.store, "rr").await;
    assert_eq!(job["status"]["succeeded"], 200);
    let pods = pods_of(&env.store, "default", "rr");
    assert_eq!(tracking_finalizers(&pods), 0);
    let succeeded = pods
        .iter()
        .filter(|p| p["status"]["phase"] == "Succeeded")
        .count();
    assert!(succeeded >= 200, "{succeeded}");
}

/// Acceptance: 1,000 completions at parallelism 50 end with exactly 1000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_completions_exact() {
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Succeed);
    let start = std::time::Instant::now();
    create_job(
        &env.store,
        "big",
        json!({"completions": 1000, "parallelism": 50}),
    )
    .await;
    let job = wait_for(Duration::from_secs(120), "big to finish", || {
        get_job(&env.store, "big").filter(is_finished)
    })
    .await;
    let took = start.elapsed();
    eprintln!(
        "1000 completions at parallelism 50: {took:?} ({:.0} pods/s)",
        1000.0 / took.as_secs_f64()
    );
    assert_eq!(job["status"]["succeeded"], 1000);
    let pods = pods_of(&env.store, "default", "big");
    let ev = events_for(&env.store, "big");
    let count = |r: &str| ev.iter().filter(|e| e.0 == r).count();
    assert_eq!(
        pods.len(),
        1000,
        "creates {} deletes {} status {}",
        count("SuccessfulCreate"),
        count("SuccessfulDelete"),
        job["status"]
    );
    assert_eq!(tracking_finalizers(&pods), 0);
}

/// Throughput at parallelism 8 with the stand-in kubelet. The default
/// run uses 500 pods; set `JOBLITE_THROUGHPUT_N=10000` (and build with
/// `--release`) to measure the 10,000-pod target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_parallelism_8() {
    let n: i64 = std::env::var("JOBLITE_THROUGHPUT_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let mut env = Env::new().await;
    env.kubelet(|_| Outcome::Succeed);
    let start = std::time::Instant::now();
    create_job(
        &env.store,
        "tp",
        json!({"completions": n, "parallelism": 8}),
    )
    .await;
    let job = wait_for(Duration::from_secs(300), "tp to finish", || {
        get_job(&env.store, "tp").filter(is_finished)
    })
    .await;
    let took = start.elapsed();
    eprintln!(
        "{n} completions at parallelism 8: {took:?} ({:.0} pods/s)",
        n as f64 / took.as_secs_f64()
    );
    assert_eq!(job["status"]["succeeded"], n);
}

fn ts(v: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Integration `TestJobPodsCreatedWithExponentialBackoff`: with base D the
/// second pod starts ≥ D after the first failed, the third ≥ 2D after the
/// second (timestamps have second precision, hence the 1 s slack).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_created_with_exponential_backoff() {
    let mut env = Env::new().await;
    env.stop().await;
    env.controllers = Some(
        controllers::run(
            env.store.clone(),
            controllers::ControllerOptions {
                pod_failure_backoff: Duration::from_secs(1),
                ..Default::default()
            },
        )
        .await
        .unwrap(),
    );
    env.kubelet(|_| Outcome::Fail(1));
    create_job(&env.store, "exp", json!({"backoffLimit": 2})).await;
    wait_finished(&env.store, "exp").await;
    let mut pods = pods_of(&env.store, "default", "exp");
    assert_eq!(pods.len(), 3);
    pods.sort_by_key(|p| ts(&p["metadata"]["creationTimestamp"]));
    let finished =
        |p: &Value| ts(&p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]);
    let gap1 = (ts(&pods[1]["metadata"]["creationTimestamp"]) - finished(&pods[0])).num_seconds();
    let gap2 = (ts(&pods[2]["metadata"]["creationTimestamp"]) - finished(&pods[1])).num_seconds();
    assert!((1..=2).contains(&gap1), "second pod after {gap1}s");
    assert!((2..=4).contains(&gap2), "third pod after {gap2}s");
}
