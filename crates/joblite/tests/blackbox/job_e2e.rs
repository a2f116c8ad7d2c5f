//! The upstream Job e2e scenarios from `test/e2e/apps/job.go` (and the TTL
//! one from `test/e2e/apps/ttl_after_finished.go`) that `jobs.rs` does not
//! already cover, re-expressed as black-box tests (catalog ids E3..E33 in
//! `../shared/reference/job-e2e-catalog.md` §2). Pods are host processes, so
//! the upstream hostPath marker directory becomes a per-test temp dir passed
//! to the script in `$DIR`; the asserted counters, condition types and
//! reasons, and index strings are upstream's.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{condition, Server};

const BUSYBOX: &str = "busybox";

/// Creates a Job from its JSON form.
fn create(s: &Server, job: &Value) {
    s.kubectl_stdin("1.33", &["create", "-f", "-"], &job.to_string())
        .ok();
}

/// A Job like upstream's `NewTestJob`: container `c`, template label
/// `job=<name>`, the given shell script, restart policy and extra spec.
fn test_job(name: &str, script: &str, rp: &str, env: &[(&str, &str)], spec: Value) -> Value {
    let env: Vec<Value> = env
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    let mut j = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {
            "metadata": {"labels": {"job": name}},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "restartPolicy": rp,
                "containers": [{"name": "c", "image": BUSYBOX,
                    "command": ["/bin/sh", "-c", script], "env": env}],
            }}}
    });
    for (k, v) in spec.as_object().unwrap() {
        j["spec"][k] = v.clone();
    }
    j
}

fn job(s: &Server, name: &str) -> Value {
    s.get_json(&["job", name])
}

/// Upstream `WaitForJobCondition(type, reason)`: `type=True` with `reason`.
fn wait_condition(s: &Server, name: &str, t: &str, reason: &str, secs: u64) -> Value {
    s.wait_for(
        &format!("{name} {t}={reason}"),
        Duration::from_secs(secs),
        || {
            let j = job(s, name);
            condition(&j, t)
                .is_some_and(|c| c["status"] == "True" && c["reason"] == reason)
                .then_some(j)
        },
    )
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// `GetJobPods`: pods with the template label `job=<name>`.
fn pods(s: &Server, name: &str) -> Vec<Value> {
    s.get_json(&["pods", "-l", &format!("job={name}")])["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn running(s: &Server, name: &str) -> Vec<Value> {
    pods(s, name)
        .into_iter()
        .filter(|p| p["status"]["phase"] == "Running")
        .collect()
}

fn wait_running(s: &Server, name: &str, n: usize) -> Vec<Value> {
    s.wait_for(
        &format!("{n} running pods of {name}"),
        Duration::from_secs(30),
        || {
            let r = running(s, name);
            (r.len() == n).then_some(r)
        },
    )
}

fn set_suspend(s: &Server, name: &str, suspend: bool) {
    s.kubectl(&[
        "patch",
        "job",
        name,
        "--type=merge",
        "-p",
        &json!({"spec": {"suspend": suspend}}).to_string(),
    ])
    .ok();
}

/// The `active == 0, ready == ptr(0), terminating == ptr(0)` tail several
/// upstream tests assert after completion.
fn assert_nothing_left(j: &Value) {
    assert_eq!(int(&j["status"]["active"]), 0, "{j}");
    assert_eq!(j["status"]["ready"], 0, "{j}");
    assert_eq!(j["status"]["terminating"], 0, "{j}");
}

fn index_of(p: &Value) -> String {
    p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        .as_str()
        .unwrap()
        .to_string()
}

fn time(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap()
}

/// `failOddSucceedEven`.
const FAIL_ODD: &str = "if [ $((JOB_COMPLETION_INDEX % 2)) -eq 1 ]; then exit 1; fi; exit 0";

/// E3: each index fails once with exit 42, ignored by the policy, so the
/// 3 failures never reach backoffLimit 2.
#[test]
fn e2e_e3_pod_failure_policy_ignore_on_exit_code() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let name = "fail-pod-ignore-on-exit-code";
    let script = r#"m="$DIR/foo-$JOB_COMPLETION_INDEX"; if [ -r "$m" ]; then exit 0; fi; touch "$m"; exit 42"#;
    create(
        &s,
        &test_job(
            name,
            script,
            "Never",
            &[("DIR", dir.path().to_str().unwrap())],
            json!({"parallelism": 3, "completions": 3, "backoffLimit": 2,
                "completionMode": "Indexed",
                "podFailurePolicy": {"rules": [{"action": "Ignore",
                    "onExitCodes": {"operator": "In", "values": [42]}}]}}),
        ),
    );
    let j = wait_condition(&s, name, "Complete", "CompletionsReached", 90);
    assert_eq!(j["status"]["succeeded"], 3, "{j}");
    assert_eq!(int(&j["status"]["failed"]), 0, "{j}");
    assert_eq!(j["status"]["completedIndexes"], "0-2", "{j}");
}

/// E4: every pod is evicted through the Eviction API; the DisruptionTarget
/// failures are ignored and the replacements find their marker.
#[test]
fn e2e_e4_pod_failure_policy_ignore_on_disruption_target() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let name = "evicted-pod-ignore-on-disruption-condition";
    let script = r#"m="$DIR/foo-$JOB_COMPLETION_INDEX"; if [ -r "$m" ]; then exit 0; fi; touch "$m"; exec sleep 1000000"#;
    create(
        &s,
        &test_job(
            name,
            script,
            "Never",
            &[("DIR", dir.path().to_str().unwrap())],
            json!({"parallelism": 3, "completions": 3, "backoffLimit": 2,
                "completionMode": "Indexed",
                "podFailurePolicy": {"rules": [{"action": "Ignore",
                    "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}}),
        ),
    );
    s.wait_for("ready 3", Duration::from_secs(30), || {
        (job(&s, name)["status"]["ready"] == 3).then_some(())
    });
    let victims = running(&s, name);
    assert_eq!(victims.len(), 3);
    for p in &victims {
        let pod = p["metadata"]["name"].as_str().unwrap();
        let body = json!({"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": pod, "namespace": "default"}});
        let (code, out) = s.curl(
            "POST",
            &format!("/api/v1/namespaces/default/pods/{pod}/eviction"),
            &["Content-Type: application/json"],
            Some(&body.to_string()),
        );
        assert!(code == 200 || code == 201, "{code} {out}");
    }
    for p in &victims {
        let pod = p["metadata"]["name"].as_str().unwrap();
        s.wait_for(&format!("{pod} gone"), Duration::from_secs(30), || {
            let r = s.kubectl(&["get", "pod", pod]);
            (r.code() != 0 && r.stderr().contains("NotFound")).then_some(())
        });
    }
    let j = wait_condition(&s, name, "Complete", "CompletionsReached", 60);
    assert_eq!(j["status"]["succeeded"], 3, "{j}");
    assert_eq!(int(&j["status"]["failed"]), 0, "{j}");
}

/// E7: with podReplacementPolicy Failed, a deleted pod is replaced only
/// once it has actually failed.
#[test]
fn e2e_e7_pod_replacement_policy_failed() {
    let s = Server::start();
    let name = "pod-recreate-failed";
    let mut j = test_job(
        name,
        "_term(){ sleep 5; exit 143; }; trap _term TERM; while true; do sleep 1; done",
        "Never",
        &[],
        json!({"parallelism": 1, "completions": 1, "backoffLimit": 1,
            "podReplacementPolicy": "Failed"}),
    );
    j["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = json!(30);
    create(&s, &j);
    wait_running(&s, name, 1);
    s.kubectl(&[
        "delete",
        "pods",
        "-l",
        &format!("job={name}"),
        "--grace-period=30",
        "--wait=false",
    ])
    .ok();
    s.wait_for(
        "active 0, failed 0, terminating 1",
        Duration::from_secs(30),
        || {
            let j = job(&s, name);
            let st = &j["status"];
            (int(&st["active"]) == 0 && int(&st["failed"]) == 0 && st["terminating"] == 1)
                .then_some(())
        },
    );
    s.wait_for(
        "active 1, failed 1, terminating 0",
        Duration::from_secs(45),
        || {
            let j = job(&s, name);
            let st = &j["status"];
            (int(&st["active"]) == 1 && int(&st["failed"]) == 1 && st["terminating"] == 0)
                .then_some(())
        },
    );
}

/// E10: successPolicy `succeededCount: 2` over 2 indexes.
#[test]
fn e2e_e10_success_policy_all_indexes() {
    let s = Server::start();
    let name = "with-success-policy-all-index-succeeded";
    create(
        &s,
        &test_job(
            name,
            "exit 0",
            "Never",
            &[],
            json!({"parallelism": 2, "completions": 2, "backoffLimit": 6,
                "completionMode": "Indexed",
                "successPolicy": {"rules": [{"succeededCount": 2}]}}),
        ),
    );
    wait_condition(&s, name, "SuccessCriteriaMet", "SuccessPolicy", 60);
    let j = wait_condition(&s, name, "Complete", "SuccessPolicy", 60);
    assert_eq!(j["status"]["succeeded"], 2, "{j}");
    assert_nothing_left(&j);
    assert_eq!(int(&j["status"]["failed"]), 0, "{j}");
}

/// E11/E12 shared body: index 0 succeeds, index 1 fails; the policy is met
/// by index 0 alone, leaving the other indexes pending.
fn success_policy_pending(name: &str, backoff_limit: i64, rule: Value) {
    let s = Server::start();
    create(
        &s,
        &test_job(
            name,
            FAIL_ODD,
            "Never",
            &[],
            json!({"parallelism": 2, "completions": 5, "backoffLimit": backoff_limit,
                "completionMode": "Indexed",
                "successPolicy": {"rules": [rule]}}),
        ),
    );
    wait_condition(&s, name, "SuccessCriteriaMet", "SuccessPolicy", 60);
    let j = wait_condition(&s, name, "Complete", "SuccessPolicy", 60);
    assert_eq!(j["status"]["succeeded"], 1, "{j}");
    assert_eq!(j["status"]["completedIndexes"], "0", "{j}");
    assert_nothing_left(&j);
}

#[test]
fn e2e_e11_success_policy_succeeded_indexes() {
    success_policy_pending(
        "with-success-policy-succeeded-indexed",
        6,
        json!({"succeededIndexes": "0"}),
    );
}

#[test]
fn e2e_e12_success_policy_succeeded_count() {
    success_policy_pending(
        "with-success-policy-succeeded-count",
        2147483647,
        json!({"succeededCount": 1}),
    );
}

/// E14: maxFailedIndexes 0 fails the Job on the first failed index.
#[test]
fn e2e_e14_max_failed_indexes_exceeded() {
    let s = Server::start();
    let name = "with-max-failed-indexes";
    create(
        &s,
        &test_job(
            name,
            "exit 1",
            "Never",
            &[],
            json!({"parallelism": 1, "completions": 4, "completionMode": "Indexed",
                "backoffLimitPerIndex": 0, "maxFailedIndexes": 0}),
        ),
    );
    wait_condition(&s, name, "FailureTarget", "MaxFailedIndexesExceeded", 60);
    let j = wait_condition(&s, name, "Failed", "MaxFailedIndexesExceeded", 60);
    assert_eq!(j["status"]["failedIndexes"], "0", "{j}");
    assert_eq!(j["status"]["failed"], 1, "{j}");
    assert_eq!(pods(&s, name).len(), 1);
}

/// E15: each index's pods carry failure-count "0" then "1".
#[test]
fn e2e_e15_failure_count_annotations() {
    let s = Server::start();
    let name = "e2e-backofflimitperindex-ab1cd";
    create(
        &s,
        &test_job(
            name,
            "exit 1",
            "Never",
            &[],
            json!({"parallelism": 2, "completions": 2, "completionMode": "Indexed",
                "backoffLimitPerIndex": 1}),
        ),
    );
    let j = s.wait_for("Failed", Duration::from_secs(60), || {
        let j = job(&s, name);
        condition(&j, "Failed")
            .is_some_and(|c| c["status"] == "True")
            .then_some(j)
    });
    let mut all = s.get_json(&[
        "pods",
        "-l",
        &format!("batch.kubernetes.io/job-name={name}"),
    ])["items"]
        .as_array()
        .unwrap()
        .clone();
    all.sort_by_key(|p| {
        p["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .to_string()
    });
    let mut seen = std::collections::BTreeMap::<String, Vec<String>>::new();
    for p in &all {
        let count = p["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"]
            .as_str()
            .unwrap()
            .to_string();
        seen.entry(index_of(p)).or_default().push(count);
    }
    for v in seen.values_mut() {
        v.sort();
    }
    let want: std::collections::BTreeMap<String, Vec<String>> = [
        ("0".to_string(), vec!["0".to_string(), "1".to_string()]),
        ("1".to_string(), vec!["0".to_string(), "1".to_string()]),
    ]
    .into();
    assert_eq!(seen, want);
    assert_eq!(j["status"]["failedIndexes"], "0,1", "{j}");
    assert_eq!(
        j["status"]["completedIndexes"].as_str().unwrap_or(""),
        "",
        "{j}"
    );
    assert_eq!(j["status"]["failed"], 4, "{j}");
    assert_eq!(int(&j["status"]["succeeded"]), 0, "{j}");
}

/// E16: FailIndex marks index 1 failed without using its per-index retry.
#[test]
fn e2e_e16_fail_index_action() {
    let s = Server::start();
    let name = "matching-fail-index-action";
    create(
        &s,
        &test_job(
            name,
            FAIL_ODD,
            "Never",
            &[],
            json!({"parallelism": 2, "completions": 2, "completionMode": "Indexed",
                "backoffLimitPerIndex": 1,
                "podFailurePolicy": {"rules": [{"action": "FailIndex",
                    "onExitCodes": {"operator": "In", "values": [1]}}]}}),
        ),
    );
    wait_condition(&s, name, "FailureTarget", "FailedIndexes", 60);
    let j = wait_condition(&s, name, "Failed", "FailedIndexes", 60);
    assert_eq!(j["status"]["failedIndexes"], "1", "{j}");
    assert_eq!(j["status"]["completedIndexes"], "0", "{j}");
    assert_eq!(j["status"]["failed"], 1, "{j}");
    assert_eq!(j["status"]["succeeded"], 1, "{j}");
}

/// E18: OnFailure, each pod's container fails once and is restarted in
/// place (the marker is per pod, like upstream's emptyDir).
#[test]
fn e2e_e18_fail_once_local_restarts() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let name = "fail-once-local";
    create(
        &s,
        &test_job(
            name,
            r#"m="$DIR/$HOSTNAME"; if [ -r "$m" ]; then exit 0; fi; touch "$m"; exit 1"#,
            "OnFailure",
            &[("DIR", dir.path().to_str().unwrap())],
            json!({"parallelism": 2, "completions": 4, "backoffLimit": 6}),
        ),
    );
    let j = wait_condition(&s, name, "Complete", "CompletionsReached", 90);
    assert_eq!(j["status"]["succeeded"], 4, "{j}");
    assert_eq!(int(&j["status"]["failed"]), 0, "{j}");
    let ps = pods(&s, name);
    assert_eq!(ps.len(), 4);
    for p in &ps {
        assert_eq!(p["status"]["phase"], "Succeeded", "{p}");
        assert_eq!(
            p["status"]["containerStatuses"][0]["restartCount"], 1,
            "{p}"
        );
    }
}

/// E19: rp Never with a shared marker: the first pod(s) fail, their
/// replacements (after the 10 s backoff) succeed.
#[test]
fn e2e_e19_fail_once_non_local() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let name = "fail-once-non-local";
    create(
        &s,
        &test_job(
            name,
            r#"m="$DIR/foo"; if [ -r "$m" ]; then exit 0; fi; touch "$m"; exit 1"#,
            "Never",
            &[("DIR", dir.path().to_str().unwrap())],
            json!({"parallelism": 2, "completions": 4, "backoffLimit": 6}),
        ),
    );
    wait_condition(&s, name, "SuccessCriteriaMet", "CompletionsReached", 90);
    let j = wait_condition(&s, name, "Complete", "CompletionsReached", 30);
    assert_eq!(j["status"]["succeeded"], 4, "{j}");
    assert_nothing_left(&j);
    let failed = int(&j["status"]["failed"]);
    assert!((1..=2).contains(&failed), "{j}");
    // Implied: a replacement waits out the 10 s backoff, unless a pod
    // succeeded at or after the failure (a success resets the backoff
    // record, `pkg/controller/job/backoff_utils.go`).
    let ps = pods(&s, name);
    let finished_at =
        |p: &Value| time(&p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]);
    let first_fail = ps
        .iter()
        .filter(|p| p["status"]["phase"] == "Failed")
        .map(finished_at)
        .min()
        .unwrap();
    let reset = ps.iter().any(|p| {
        p["status"]["phase"] == "Succeeded"
            && time(&p["metadata"]["creationTimestamp"]) <= first_fail
            && finished_at(p) >= first_fail
    });
    if !reset {
        let later = ps
            .iter()
            .map(|p| time(&p["metadata"]["creationTimestamp"]))
            .filter(|c| *c > first_fail)
            .min()
            .unwrap();
        assert!(
            (later - first_fail).num_seconds() >= 9,
            "{first_fail} -> {later}"
        );
    }
}

fn controller_ref(p: &Value) -> Option<Value> {
    p["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .cloned()
}

/// PUTs a pod after `edit`.
fn update_pod(s: &Server, pod: &str, edit: impl Fn(&mut Value)) {
    let mut p = s.get_json(&["pod", pod]);
    edit(&mut p);
    let (code, out) = s.curl(
        "PUT",
        &format!("/api/v1/namespaces/default/pods/{pod}"),
        &["Content-Type: application/json"],
        Some(&p.to_string()),
    );
    assert_eq!(code, 200, "{out}");
}

/// E22: an orphaned matching pod is adopted again; a pod whose labels no
/// longer match is released and replaced.
#[test]
fn e2e_e22_adopt_and_release() {
    let s = Server::start();
    let name = "adopt-release";
    create(
        &s,
        &test_job(
            name,
            "exec sleep 1000000",
            "Never",
            &[],
            json!({"parallelism": 2, "completions": 4, "backoffLimit": 6}),
        ),
    );
    let ps = wait_running(&s, name, 2);
    assert_eq!(pods(&s, name).len(), 2);
    let uid = job(&s, name)["metadata"]["uid"].clone();
    let pod = ps[0]["metadata"]["name"].as_str().unwrap().to_string();
    update_pod(&s, &pod, |p| {
        p["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("ownerReferences");
    });
    s.wait_for("re-adoption", Duration::from_secs(30), || {
        let p = s.get_json(&["pod", &pod]);
        let r = controller_ref(&p)?;
        assert!(
            r["kind"] == "Job" && r["name"] == name && r["uid"] == uid,
            "unexpected controller {r}"
        );
        Some(())
    });
    update_pod(&s, &pod, |p| {
        p["metadata"].as_object_mut().unwrap().remove("labels");
    });
    s.wait_for("release", Duration::from_secs(30), || {
        let p = s.get_json(&["pod", &pod]);
        controller_ref(&p).is_none().then_some(())
    });
    // Implied: a replacement brings the Job back to 2 active pods.
    s.wait_for("replacement", Duration::from_secs(30), || {
        let j = job(&s, name);
        (int(&j["status"]["active"]) == 2 && running(&s, name).len() == 2).then_some(())
    });
}

/// E25: the status subresource: merge PATCH (condition + annotation), PUT,
/// GET.
#[test]
fn e2e_e25_job_status_subresource() {
    let s = Server::start();
    let name = "suspend-false-to-true";
    create(
        &s,
        &test_job(
            name,
            "exec sleep 1000000",
            "Never",
            &[],
            json!({"parallelism": 2, "completions": 4, "backoffLimit": 6}),
        ),
    );
    wait_running(&s, name, 2);
    let path = format!("/apis/batch/v1/namespaces/default/jobs/{name}/status");
    let now = chrono::Utc::now();
    let t1 = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let patch = json!({"metadata": {"annotations": {"patchedstatus": "true"}},
        "status": {"conditions": [{"type": "CustomConditionType", "status": "True",
            "lastTransitionTime": t1}]}});
    let (code, out) = s.curl(
        "PATCH",
        &path,
        &["Content-Type: application/merge-patch+json"],
        Some(&patch.to_string()),
    );
    assert_eq!(code, 200, "{out}");
    let patched: Value = serde_json::from_str(&out).unwrap();
    let c = condition(&patched, "CustomConditionType").expect("custom condition");
    assert_eq!(c["lastTransitionTime"], t1.as_str());
    assert_eq!(
        patched["metadata"]["annotations"]["patchedstatus"], "true",
        "{patched}"
    );

    let t2 = (now + chrono::Duration::seconds(60))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let updated: Value = s.wait_for("status PUT", Duration::from_secs(20), || {
        let mut j = job(&s, name);
        for c in j["status"]["conditions"].as_array_mut().unwrap() {
            if c["type"] == "CustomConditionType" {
                c["lastTransitionTime"] = json!(t2);
            }
        }
        let (code, out) = s.curl(
            "PUT",
            &path,
            &["Content-Type: application/json"],
            Some(&j.to_string()),
        );
        match code {
            200 => Some(serde_json::from_str(&out).unwrap()),
            409 => None,
            _ => panic!("{code} {out}"),
        }
    });
    let c = condition(&updated, "CustomConditionType").expect("custom condition");
    assert_eq!(c["lastTransitionTime"], t2.as_str());

    let (code, out) = s.curl("GET", &path, &[], None);
    assert_eq!(code, 200, "{out}");
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got["metadata"]["uid"], job(&s, name)["metadata"]["uid"]);
}

/// E26: create, patch, update, list, wait, DeleteCollection by label.
#[test]
fn e2e_e26_job_lifecycle() {
    let s = Server::start();
    let name = "e2e-xk3p9";
    let label = format!("e2e-job-label={name}");
    let mut j = test_job(
        name,
        "exit 0",
        "Never",
        &[],
        json!({"parallelism": 2, "completions": 4, "backoffLimit": 6, "suspend": true}),
    );
    j["metadata"]["labels"] = json!({"e2e-job-label": name});
    create(&s, &j);
    let rv0: u64 = job(&s, name)["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let out = s
        .kubectl(&[
            "patch",
            "job",
            name,
            "--type=strategic",
            "-p",
            &json!({"metadata": {"labels": {name: "patched"}}}).to_string(),
            "-o",
            "json",
        ])
        .ok();
    let patched: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(patched["metadata"]["labels"][name], "patched");
    let rv1: u64 = patched["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv1 > rv0, "{rv0} -> {rv1}");

    let mut cur = job(&s, name);
    cur["spec"]["suspend"] = json!(false);
    cur["metadata"]["annotations"] = json!({"updated": "true"});
    let out = s
        .kubectl_stdin(
            "1.33",
            &["replace", "-f", "-", "-o", "json"],
            &cur.to_string(),
        )
        .ok();
    let updated: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(updated["metadata"]["annotations"]["updated"], "true");

    let all = s.get_json(&["jobs", "-A", "-l", &label]);
    assert_eq!(all["items"].as_array().unwrap().len(), 1);

    let done = wait_condition(&s, name, "Complete", "CompletionsReached", 60);
    assert_eq!(done["status"]["succeeded"], 4);

    let (code, out) = s.curl(
        "DELETE",
        &format!(
            "/apis/batch/v1/namespaces/default/jobs?labelSelector={}",
            label.replace('=', "%3D")
        ),
        &["Content-Type: application/json"],
        Some(r#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}"#),
    );
    assert_eq!(code, 200, "{out}");
    s.wait_for("jobs deleted", Duration::from_secs(30), || {
        let all = s.get_json(&["jobs", "-A", "-l", &label]);
        all["items"].as_array().unwrap().is_empty().then_some(())
    });
}

/// E27: `status.ready` is 0 while suspended, 2 when running, 0 again.
#[test]
fn e2e_e27_ready_field_across_suspend() {
    let s = Server::start();
    let name = "all-ready";
    create(
        &s,
        &test_job(
            name,
            "exec sleep 1000000",
            "Never",
            &[],
            json!({"parallelism": 2, "completions": 4, "backoffLimit": 6, "suspend": true}),
        ),
    );
    let ready = |want: i64| {
        s.wait_for(&format!("ready {want}"), Duration::from_secs(30), || {
            (job(&s, name)["status"]["ready"] == want).then_some(())
        })
    };
    ready(0);
    set_suspend(&s, name, false);
    ready(2);
    set_suspend(&s, name, true);
    ready(0);
}

/// E28: a Job managed by another controller is left alone.
#[test]
fn e2e_e28_managed_by_external_controller() {
    let s = Server::start();
    let name = "managed-by";
    create(
        &s,
        &test_job(
            name,
            "exit 0",
            "Never",
            &[],
            json!({"parallelism": 2, "completions": 4, "backoffLimit": 6,
                "managedBy": "example.com/custom-job-controller"}),
        ),
    );
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        let j = job(&s, name);
        let st = &j["status"];
        assert!(st.is_null() || *st == json!({}), "{j}");
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(pods(&s, name).is_empty());
}

/// E33 (`test/e2e/apps/ttl_after_finished.go`): deletion is requested no
/// earlier than finish + ttl; the dummy finalizer keeps the Job until it
/// is removed.
#[test]
fn e2e_e33_ttl_after_finished() {
    let s = Server::start();
    let name = "rand-non-local";
    let mut j = test_job(
        name,
        "exit $(( $(od -An -N1 -tu1 /dev/urandom) % 2 ))",
        "Never",
        &[],
        json!({"parallelism": 1, "completions": 1, "backoffLimit": 2,
            "ttlSecondsAfterFinished": 10}),
    );
    j["metadata"]["finalizers"] = json!(["k8s.io/dummy-finalizer"]);
    create(&s, &j);
    let finished = s.wait_for("finish", Duration::from_secs(60), || {
        let j = job(&s, name);
        ["Complete", "Failed"]
            .iter()
            .find_map(|t| condition(&j, t).filter(|c| c["status"] == "True"))
            .map(|c| time(&c["lastTransitionTime"]))
    });
    let j = s.wait_for("deletionTimestamp", Duration::from_secs(30), || {
        let j = job(&s, name);
        (!j["metadata"]["deletionTimestamp"].is_null()).then_some(j)
    });
    let deleted = time(&j["metadata"]["deletionTimestamp"]);
    assert!(
        deleted >= finished + chrono::Duration::seconds(10),
        "finished {finished}, deletion {deleted}"
    );
    // Remove the dummy finalizer as the e2e's `UpdateJobWithRetries` does:
    // read, edit, write with the read resourceVersion, retry on conflict.
    // The GC is removing `foregroundDeletion` (the TTL controller deletes in
    // the foreground) at the same time, so a blind patch could re-add it.
    s.wait_for("dummy finalizer removed", Duration::from_secs(30), || {
        let j = job(&s, name);
        let rest: Vec<Value> = j["metadata"]["finalizers"]
            .as_array()?
            .iter()
            .filter(|f| *f != "k8s.io/dummy-finalizer")
            .cloned()
            .collect();
        let patch = json!({"metadata": {"finalizers": rest,
            "resourceVersion": j["metadata"]["resourceVersion"]}});
        let r = s.kubectl(&[
            "patch",
            "job",
            name,
            "--type=merge",
            "-p",
            &patch.to_string(),
        ]);
        (r.code() == 0 || r.stderr().contains("NotFound")).then_some(())
    });
    s.wait_for("job gone", Duration::from_secs(30), || {
        let r = s.kubectl(&["get", "job", name]);
        (r.code() != 0 && r.stderr().contains("NotFound")).then_some(())
    });
    s.wait_for("pods gone", Duration::from_secs(30), || {
        pods(&s, name).is_empty().then_some(())
    });
}
