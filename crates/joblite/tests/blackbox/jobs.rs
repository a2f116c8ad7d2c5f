//! Jobs end to end: the seed's patterns and the examples, then upstream e2e
//! scenarios from `test/e2e/apps/job.go` (as catalogued in
//! `../shared/reference/job-e2e-catalog.md`), with pods running as real host
//! processes.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{condition, Server};

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn wait_job(s: &Server, name: &str, cond: &str, secs: u64) -> Value {
    let r = s.kubectl(&[
        "wait",
        &format!("--for=condition={cond}"),
        &format!("job/{name}"),
        &format!("--timeout={secs}s"),
    ]);
    assert_eq!(
        r.code(),
        0,
        "{name} not {cond}: {}\n{}",
        r.stderr(),
        s.log()
    );
    s.get_json(&["job", name])
}

fn types(job: &Value) -> Vec<String> {
    job["status"]["conditions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["type"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn pods_of(s: &Server, job: &str) -> Vec<Value> {
    s.get_json(&["pods", "-l", &format!("job-name={job}")])["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn seed_oneshot_completes_one_of_one() {
    let s = Server::start();
    s.kubectl(&["apply", "-f", &example("oneshot.yaml")]).ok();
    let job = wait_job(&s, "oneshot", "complete", 60);
    assert_eq!(job["status"]["succeeded"], 1);
    assert_eq!(types(&job), ["SuccessCriteriaMet", "Complete"]);
    assert_eq!(
        condition(&job, "Complete").unwrap()["reason"],
        "CompletionsReached"
    );
    let out = s.kubectl(&["get", "jobs"]).ok();
    assert!(out.contains("oneshot   Complete   1/1"), "{out}");
    let logs = s.kubectl(&["logs", "job/oneshot"]).ok();
    assert_eq!(logs.lines().count(), 10, "{logs}");
    let pods = pods_of(&s, "oneshot");
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert!(pod["metadata"]["name"]
        .as_str()
        .unwrap()
        .starts_with("oneshot-"));
    assert_eq!(pod["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(
        pod["metadata"]["ownerReferences"][0]["blockOwnerDeletion"],
        true
    );
    assert!(pod["metadata"]["finalizers"].is_null(), "{pod}");
    let labels = &pod["metadata"]["labels"];
    assert_eq!(labels["batch.kubernetes.io/job-name"], "oneshot");
    assert_eq!(
        labels["batch.kubernetes.io/controller-uid"],
        job["metadata"]["uid"]
    );
}

#[test]
fn seed_parallel_runs_ten_with_at_most_five_active() {
    let s = Server::start();
    s.kubectl(&["apply", "-f", &example("parallel.yaml")]).ok();
    let mut max_active = 0;
    let job = s.wait_for("parallel to complete", Duration::from_secs(90), || {
        let j = s.get_json(&["job", "parallel"]);
        max_active = max_active.max(j["status"]["active"].as_i64().unwrap_or(0));
        condition(&j, "Complete").is_some().then_some(j)
    });
    assert_eq!(job["status"]["succeeded"], 10);
    assert!(max_active <= 5 && max_active > 0, "max active {max_active}");
    assert_eq!(pods_of(&s, "parallel").len(), 10);
    let events = s.get_json(&["events", "--field-selector", "involvedObject.name=parallel"]);
    let creates = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "SuccessfulCreate")
        .count();
    assert_eq!(creates, 10);
}

#[test]
fn seed_work_queue_completes_after_first_success() {
    let s = Server::start();
    let _ = std::fs::remove_dir_all("/tmp/joblite-example-queue");
    s.kubectl(&["apply", "-f", &example("work-queue.yaml")])
        .ok();
    let job = wait_job(&s, "consumers", "complete", 90);
    assert!(job["status"]["succeeded"].as_i64().unwrap() >= 1);
    let out = s.kubectl(&["get", "job", "consumers"]).ok();
    assert!(out.contains("/1 of 5"), "{out}");
    // Every item was processed exactly once.
    let done = std::fs::read_dir("/tmp/joblite-example-queue/done")
        .unwrap()
        .count();
    assert_eq!(done, 100);
    let _ = std::fs::remove_dir_all("/tmp/joblite-example-queue");
}

#[test]
fn indexed_example_sets_index_env_hostname_and_completed_indexes() {
    let s = Server::start();
    s.kubectl(&["apply", "-f", &example("indexed.yaml")]).ok();
    let job = wait_job(&s, "indexed", "complete", 60);
    assert_eq!(job["status"]["completedIndexes"], "0-4");
    let mut seen = Vec::new();
    for p in pods_of(&s, "indexed") {
        let idx = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"],
            idx
        );
        assert_eq!(p["spec"]["hostname"], format!("indexed-{idx}"));
        let name = p["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with(&format!("indexed-{idx}-")), "{name}");
        let log = s.kubectl(&["logs", name]).ok();
        assert!(log.contains(&format!("shard {idx} of 5")), "{log}");
        seen.push(idx);
    }
    seen.sort();
    assert_eq!(seen, ["0", "1", "2", "3", "4"]);
}

#[test]
fn pod_failure_policy_example_fails_the_job_at_once() {
    let s = Server::start();
    s.kubectl(&["apply", "-f", &example("pod-failure-policy.yaml")])
        .ok();
    let job = wait_job(&s, "pod-failure-policy", "failed", 60);
    assert_eq!(types(&job), ["FailureTarget", "Failed"]);
    let failed = condition(&job, "Failed").unwrap();
    assert_eq!(failed["reason"], "PodFailurePolicy");
    let msg = failed["message"].as_str().unwrap();
    assert!(
        msg.starts_with("Container main for pod default/pod-failure-policy-")
            && msg.ends_with("failed with exit code 42 matching FailJob rule at index 0"),
        "{msg}"
    );
    assert_eq!(job["status"]["failed"], 1);
    assert_eq!(pods_of(&s, "pod-failure-policy").len(), 1);
}

/// E23 "should fail to exceed backoffLimit": exactly two pods, both Failed,
/// the second created at least 10 s after the first finished.
#[test]
fn e2e_backoff_limit_exceeded_after_two_pods() {
    let s = Server::start();
    let job = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"backofflimit"},
      "spec":{"parallelism":1,"completions":1,"backoffLimit":1,"template":{"spec":{
      "containers":[{"name":"c","image":"busybox","command":["/bin/sh","-c","exit 1"]}],
      "restartPolicy":"Never"}}}}"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], job).ok();
    let job = wait_job(&s, "backofflimit", "failed", 90);
    assert_eq!(types(&job), ["FailureTarget", "Failed"]);
    assert_eq!(
        condition(&job, "Failed").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
    assert_eq!(
        condition(&job, "Failed").unwrap()["message"],
        "Job has reached the specified backoff limit"
    );
    assert_eq!(job["status"]["failed"], 2);
    assert_eq!(job["status"]["active"].as_i64().unwrap_or(0), 0);
    let mut pods = pods_of(&s, "backofflimit");
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Failed"));
    pods.sort_by_key(|p| {
        p["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .to_string()
    });
    let finished = chrono::DateTime::parse_from_rfc3339(
        pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(
        pods[1]["metadata"]["creationTimestamp"].as_str().unwrap(),
    )
    .unwrap();
    assert!(
        (created - finished).num_seconds() >= 9,
        "{finished} -> {created}"
    );
    let out = s.kubectl(&["get", "pods"]).ok();
    assert_eq!(out.matches(" Error ").count(), 2, "{out}");
}

/// E20 "should fail when exceeds active deadline".
#[test]
fn e2e_active_deadline_exceeded() {
    let s = Server::start();
    let job = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"exceed-active-deadline"},
      "spec":{"parallelism":2,"completions":4,"backoffLimit":6,"activeDeadlineSeconds":1,
      "template":{"spec":{"terminationGracePeriodSeconds":1,
      "containers":[{"name":"c","image":"busybox","command":["sleep","1000000"]}],
      "restartPolicy":"Never"}}}}"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], job).ok();
    let job = wait_job(&s, "exceed-active-deadline", "failed", 60);
    assert_eq!(types(&job), ["FailureTarget", "Failed"]);
    let failed = condition(&job, "Failed").unwrap();
    assert_eq!(failed["reason"], "DeadlineExceeded");
    assert_eq!(
        failed["message"],
        "Job was active longer than specified deadline"
    );
    assert_eq!(job["status"]["active"].as_i64().unwrap_or(0), 0);
    assert_eq!(job["status"]["ready"], 0);
    assert_eq!(job["status"]["terminating"], 0);
    assert_eq!(job["status"]["failed"], 2);
    assert!(job["status"]["completionTime"].is_null());
}

/// E5 + E6: created suspended (no pods), resumed (runs), suspended again
/// (active pods deleted, not counted as failed).
#[test]
fn e2e_suspend_and_resume() {
    let s = Server::start();
    let job = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"sus"},
      "spec":{"parallelism":2,"completions":4,"suspend":true,
      "template":{"spec":{"terminationGracePeriodSeconds":1,
      "containers":[{"name":"c","image":"busybox","command":["sleep","1000000"]}],
      "restartPolicy":"Never"}}}}"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], job).ok();
    let j = wait_job(&s, "sus", "suspended", 30);
    assert_eq!(
        condition(&j, "Suspended").unwrap()["reason"],
        "JobSuspended"
    );
    assert!(j["status"]["startTime"].is_null());
    assert!(pods_of(&s, "sus").is_empty());
    s.kubectl(&[
        "patch",
        "job",
        "sus",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ])
    .ok();
    s.wait_for("2 running pods", Duration::from_secs(30), || {
        let j = s.get_json(&["job", "sus"]);
        (j["status"]["active"] == 2).then_some(())
    });
    let j = s.get_json(&["job", "sus"]);
    assert_eq!(condition(&j, "Suspended").unwrap()["status"], "False");
    assert_eq!(condition(&j, "Suspended").unwrap()["reason"], "JobResumed");
    s.kubectl(&[
        "patch",
        "job",
        "sus",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ])
    .ok();
    s.wait_for("pods gone", Duration::from_secs(30), || {
        pods_of(&s, "sus").is_empty().then_some(())
    });
    let j = s.get_json(&["job", "sus"]);
    assert_eq!(condition(&j, "Suspended").unwrap()["status"], "True");
    assert_eq!(j["status"]["failed"].as_i64().unwrap_or(0), 0);
    assert_eq!(j["status"]["active"].as_i64().unwrap_or(0), 0);
    // Resumed a second time, after it had started: the controller resets
    // startTime, which the 1.33 patch releases' validation allows
    // (kubernetes#134521: the status write used to be refused for good).
    let started = j["status"]["startTime"].clone();
    std::thread::sleep(Duration::from_millis(1100));
    s.kubectl(&[
        "patch",
        "job",
        "sus",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ])
    .ok();
    s.wait_for("resumed again", Duration::from_secs(30), || {
        let j = s.get_json(&["job", "sus"]);
        (condition(&j, "Suspended")?["reason"] == "JobResumed" && j["status"]["active"] == 2)
            .then_some(j)
    });
    let j = s.get_json(&["job", "sus"]);
    assert_ne!(j["status"]["startTime"], started, "{j}");
    let out = s.kubectl(&["describe", "job", "sus"]).ok();
    for reason in ["Suspended", "Resumed", "SuccessfulDelete"] {
        assert!(out.contains(reason), "{reason} missing:\n{out}");
    }
}

/// E13 "should execute all indexes despite some failing when using backoffLimitPerIndex".
#[test]
fn e2e_backoff_limit_per_index_fails_odd_indexes() {
    let s = Server::start();
    let job = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"with-backoff-limit-per-index"},
      "spec":{"parallelism":2,"completions":4,"completionMode":"Indexed","backoffLimitPerIndex":1,
      "template":{"spec":{
      "containers":[{"name":"c","image":"busybox","command":["/bin/sh","-c","if [ $((JOB_COMPLETION_INDEX % 2)) -eq 1 ]; then exit 1; fi"]}],
      "restartPolicy":"Never"}}}}"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], job).ok();
    let job = wait_job(&s, "with-backoff-limit-per-index", "failed", 120);
    assert_eq!(
        condition(&job, "Failed").unwrap()["reason"],
        "FailedIndexes"
    );
    assert_eq!(job["status"]["failedIndexes"], "1,3");
    assert_eq!(job["status"]["completedIndexes"], "0,2");
    assert_eq!(job["status"]["failed"], 4);
    assert_eq!(job["status"]["succeeded"], 2);
}

/// E17/E21: deleting a Job with background propagation removes its pods,
/// and no pod process survives.
#[test]
fn e2e_delete_job_removes_pods() {
    let s = Server::start();
    let job = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"all-pods-removed"},
      "spec":{"parallelism":2,"completions":4,
      "template":{"spec":{"terminationGracePeriodSeconds":2,
      "containers":[{"name":"c","image":"busybox","command":["sleep","1000000"]}],
      "restartPolicy":"Never"}}}}"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], job).ok();
    s.wait_for("2 running pods", Duration::from_secs(30), || {
        let pods = pods_of(&s, "all-pods-removed");
        (pods
            .iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .count()
            == 2)
            .then_some(())
    });
    s.kubectl(&["delete", "job", "all-pods-removed", "--timeout=60s"])
        .ok();
    s.wait_for("pods gone", Duration::from_secs(60), || {
        pods_of(&s, "all-pods-removed").is_empty().then_some(())
    });
    let err = s.kubectl(&["get", "job", "all-pods-removed"]).fails();
    assert!(err.contains("NotFound"), "{err}");
}

/// The seed's failing one-shot: OnFailure restarts in place count toward
/// backoffLimit (2), so the Job fails with BackoffLimitExceeded while its
/// one pod is still crash-looping; the pod is then deleted.
#[test]
fn seed_oneshot_failure_counts_restarts_toward_backoff_limit() {
    let s = Server::start();
    s.kubectl(&["apply", "-f", &example("oneshot-failure.yaml")])
        .ok();
    let job = wait_job(&s, "oneshot-failure", "failed", 120);
    assert_eq!(
        condition(&job, "Failed").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
    let pods = s.get_json(&["pods", "-l", "chapter=jobs"]);
    // Only one pod was ever created: failures were restarts in place.
    let events = s.get_json(&[
        "events",
        "--field-selector",
        "involvedObject.name=oneshot-failure",
    ]);
    let creates = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "SuccessfulCreate")
        .count();
    assert_eq!(creates, 1, "{pods}");
}

/// E1 "should run a job to completion when tasks succeed".
#[test]
fn e2e_e1_all_succeed() {
    let s = Server::start();
    let job = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"all-succeed"},
      "spec":{"parallelism":2,"completions":4,"backoffLimit":6,"template":{"metadata":{"labels":{"job":"all-succeed"}},
      "spec":{"containers":[{"name":"c","image":"busybox","command":["/bin/sh","-c","exit 0"]}],
      "restartPolicy":"Never"}}}}"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], job).ok();
    let job = wait_job(&s, "all-succeed", "complete", 60);
    assert_eq!(job["status"]["succeeded"], 4);
    assert_eq!(
        condition(&job, "Complete").unwrap()["reason"],
        "CompletionsReached"
    );
    assert_eq!(types(&job), ["SuccessCriteriaMet", "Complete"]);
    assert!(job["status"]["completionTime"].is_string());
    let pods = s.get_json(&["pods", "-l", "job=all-succeed"]);
    let pods = pods["items"].as_array().unwrap();
    assert_eq!(pods.len(), 4);
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Succeeded"));
}

/// E24 "should run a job to completion with CPU requests": each pod asks
/// for a fifth of the node's CPU, so only a few fit at once and the rest
/// wait Pending until admitted.
#[test]
fn e2e_e24_cpu_requests_queue_on_the_node() {
    let s = Server::start();
    let node = s.get_json(&["nodes"])["items"][0].clone();
    let cpu = node["status"]["allocatable"]["cpu"].as_str().unwrap();
    let millis: i64 = match cpu.strip_suffix('m') {
        Some(m) => m.parse().unwrap(),
        None => cpu.parse::<i64>().unwrap() * 1000,
    };
    let request = format!("{}m", millis / 5);
    let job = format!(
        r#"{{"apiVersion":"batch/v1","kind":"Job","metadata":{{"name":"all-succeed"}},
      "spec":{{"parallelism":90,"completions":90,"backoffLimit":0,"template":{{"metadata":{{"labels":{{"job":"all-succeed"}}}},
      "spec":{{"containers":[{{"name":"c","image":"busybox","command":["/bin/sh","-c","sleep 0.1"],
      "resources":{{"requests":{{"cpu":"{request}"}}}}}}],
      "restartPolicy":"Never"}}}}}}}}"#
    );
    s.kubectl_stdin("1.33", &["create", "-f", "-"], &job).ok();
    let mut most_running = 0;
    let job = s.wait_for("90 completions", Duration::from_secs(120), || {
        let pods = s.get_json(&["pods", "-l", "job=all-succeed"]);
        let running = pods["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .count();
        most_running = most_running.max(running);
        let j = s.get_json(&["job", "all-succeed"]);
        condition(&j, "Complete").is_some().then_some(j)
    });
    assert_eq!(job["status"]["succeeded"], 90);
    assert!(most_running <= 5, "{most_running} pods ran at once");
    let pods = s.get_json(&["pods", "-l", "job=all-succeed"]);
    let pods = pods["items"].as_array().unwrap();
    assert_eq!(pods.len(), 90);
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Succeeded"));
}

/// Exact counting: 1,000 completions at parallelism 50 end with exactly
/// 1,000 succeeded and no pod keeping the tracking finalizer.
#[test]
fn thousand_completions_are_counted_exactly() {
    let s = Server::start();
    let job = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"many"},
      "spec":{"parallelism":50,"completions":1000,"template":{
      "spec":{"containers":[{"name":"c","image":"none","command":["/bin/true"]}],
      "restartPolicy":"Never"}}}}"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], job).ok();
    let job = wait_job(&s, "many", "complete", 300);
    assert_eq!(job["status"]["succeeded"], 1000);
    assert_eq!(job["status"]["failed"].as_i64().unwrap_or(0), 0);
    let pods = s.get_json(&["pods", "-l", "job-name=many"]);
    let pods = pods["items"].as_array().unwrap();
    assert_eq!(pods.len(), 1000);
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Succeeded"));
    assert!(pods.iter().all(|p| p["metadata"]["finalizers"].is_null()));
}
