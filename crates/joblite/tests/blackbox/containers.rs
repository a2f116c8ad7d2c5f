//! The container runtime, end to end: the seed's kuard manifests verbatim
//! with kubectl 1.33, images really pulled from the rig's loopback
//! registry, kubelet semantics (pull back-off, OOMKilled, grace periods,
//! one network/UTS namespace per pod), nothing lost across a kill -9 of
//! the engine and nothing left behind; and the process runtime's side of
//! the runtime choice (args as the command line, the fail-fast message of
//! an image's command that is not on the host).
//!
//! Each container test runs on both engines, Podman and Docker Engine
//! (`NAME::podman`, `NAME::docker`, from `on_both_engines!`), except the
//! Job controller's catalogue, which does not depend on the engine. The
//! tests of an engine share the test binary's one rig of it
//! (`harness::rig_of`) and each runs its own joblite, so they run
//! concurrently.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{condition, on_both_engines, rig_of, Engine, Server};

/// The seed's manifests, byte for byte (`shared/seed/jobs-notes.md`).
const ONESHOT: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: oneshot
spec:
  template:
    spec:
      containers:
      - name: kuard
        image: gcr.io/kuar-demo/kuard-amd64:blue
        imagePullPolicy: Always
        command:
        - "/kuard"
        args:
        - "--keygen-enable"
        - "--keygen-exit-on-complete"
        - "--keygen-num-to-gen=10"
      restartPolicy: OnFailure
"#;

const PARALLEL: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: parallel
  labels:
    chapter: jobs
spec:
  parallelism: 5
  completions: 10
  template:
    metadata:
      labels:
        chapter: jobs
    spec:
      containers:
      - name: kuard
        image: gcr.io/kuar-demo/kuard-amd64:blue
        imagePullPolicy: Always
        command:
        - "/kuard"
        args:
        - "--keygen-enable"
        - "--keygen-exit-on-complete"
        - "--keygen-num-to-gen=10"
      restartPolicy: OnFailure
"#;

fn job(s: &Server, name: &str) -> Value {
    s.get_json(&["job", name])
}

fn wait_job(s: &Server, name: &str, cond: &str, secs: u64) -> Value {
    s.wait_for(
        &format!("job {name} {cond}"),
        Duration::from_secs(secs),
        || {
            let j = job(s, name);
            condition(&j, cond)
                .filter(|c| c["status"] == "True")
                .map(|_| j.clone())
        },
    )
}

fn pods_of(s: &Server, job: &str) -> Vec<Value> {
    let v = s.get_json(&["pods", "-l", &format!("batch.kubernetes.io/job-name={job}")]);
    v["items"].as_array().cloned().unwrap_or_default()
}

fn pod(s: &Server, name: &str) -> Value {
    s.get_json(&["pod", name])
}

fn events_of(s: &Server, pod: &str) -> Vec<(String, String)> {
    let v = s.get_json(&[
        "events",
        "--field-selector",
        &format!("involvedObject.name={pod}"),
    ]);
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["reason"].as_str().unwrap_or("").to_string(),
                e["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn create_pod(s: &Server, p: &Value) {
    s.kubectl_stdin("1.33", &["create", "-f", "-"], &p.to_string())
        .ok();
}

fn busybox_pod(name: &str, script: &str, extra: Value) -> Value {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", script]}]
        }
    });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            p["spec"][k] = v;
        }
    }
    p
}

fn container_state<'a>(p: &'a Value, c: &str) -> &'a Value {
    p["status"]["containerStatuses"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == c))
        .map(|s| &s["state"])
        .unwrap_or(&Value::Null)
}

fn wait_phase(s: &Server, name: &str, phase: &str, secs: u64) -> Value {
    s.wait_for(
        &format!("pod {name} {phase}"),
        Duration::from_secs(secs),
        || {
            let p = pod(s, name);
            (p["status"]["phase"] == phase).then_some(p)
        },
    )
}

fn item_lines(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("Item done: SHA256:"))
        .count()
}

/// The seed's `oneshot` and `parallel` manifests, applied with kubectl
/// 1.33: both complete, `parallel` runs 10 pods at most 5 at a time, each
/// pod logs 10 keys, and the image was really pulled (`Always`).
fn the_seeds_kuard_manifests_run_verbatim(e: Engine) {
    let s = Server::start_container_on(e);
    s.kubectl_stdin("1.33", &["apply", "-f", "-"], ONESHOT).ok();
    s.kubectl_stdin("1.33", &["apply", "-f", "-"], PARALLEL)
        .ok();
    let mut most_active = 0;
    // About 110 RSA-4096 keys of a few CPU seconds each on 2 cores.
    let deadline = Instant::now() + Duration::from_secs(1200);
    loop {
        let p = job(&s, "parallel");
        most_active = most_active.max(p["status"]["active"].as_i64().unwrap_or(0));
        let o = job(&s, "oneshot");
        let done = |j: &Value| condition(j, "Complete").is_some_and(|c| c["status"] == "True");
        if done(&p) && done(&o) {
            break;
        }
        assert!(condition(&p, "Failed").is_none(), "{p:#}");
        assert!(condition(&o, "Failed").is_none(), "{o:#}");
        assert!(
            Instant::now() < deadline,
            "seed jobs did not complete\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!((1..=5).contains(&most_active), "{most_active}");
    let p = job(&s, "parallel");
    assert_eq!(p["status"]["succeeded"], 10, "{p:#}");
    let pods = pods_of(&s, "parallel");
    assert_eq!(pods.len(), 10);
    for job_name in ["oneshot", "parallel"] {
        for p in pods_of(&s, job_name) {
            let name = p["metadata"]["name"].as_str().unwrap();
            let log = s.kubectl(&["logs", name]).ok();
            assert_eq!(item_lines(&log), 10, "{name}:\n{log}");
            let events = events_of(&s, name);
            assert!(
                events.iter().any(|(r, m)| r == "Pulled"
                    && m.starts_with(
                        "Successfully pulled image \"gcr.io/kuar-demo/kuard-amd64:blue\" in "
                    )),
                "{events:?}"
            );
            for reason in ["Scheduled", "Pulling", "Created", "Started"] {
                assert!(
                    events.iter().any(|(r, _)| r == reason),
                    "{reason}: {events:?}"
                );
            }
            let st = container_state(&p, "kuard");
            assert_eq!(st["terminated"]["reason"], "Completed", "{p:#}");
            let id = p["status"]["containerStatuses"][0]["containerID"]
                .as_str()
                .unwrap();
            assert!(id.starts_with(&format!("{}://", e.name())), "{id}");
        }
    }
    // `kubectl logs job/NAME` reads the first pod, as on a cluster.
    assert_eq!(item_lines(&s.kubectl(&["logs", "job/oneshot"]).ok()), 10);
    let node = s.get_json(&["nodes"]);
    assert!(
        node["items"][0]["status"]["nodeInfo"]["containerRuntimeVersion"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}://", e.name()))
    );
    s.kubectl(&["delete", "job", "oneshot", "parallel"]).ok();
    s.assert_no_containers();
}

/// The seed's first command streams the 10 keys and exits 0.
fn joblite_run_of_the_seed_command_streams_the_keys(e: Engine) {
    let s = Server::start_container_on(e);
    let r = s.joblite(&[
        "run",
        "oneshot",
        "--image=gcr.io/kuar-demo/kuard-amd64:blue",
        "--restart=OnFailure",
        "-i",
        "--command",
        "--",
        "/kuard",
        "--keygen-enable",
        "--keygen-exit-on-complete",
        "--keygen-num-to-gen",
        "10",
    ]);
    assert_eq!(r.code(), 0, "{}\n{}\n{}", r.stdout(), r.stderr(), s.log());
    assert_eq!(item_lines(&r.stdout()), 10, "{}", r.stdout());
    assert!(
        r.stdout().contains("(ID 0) Workload exiting"),
        "{}",
        r.stdout()
    );
}

/// A missing image: ErrImagePull, then ImagePullBackOff, with upstream
/// events; pushing the image lets the same pod start.
fn a_missing_image_backs_off_until_it_is_pushed(e: Engine) {
    let s = Server::start_container_on(e);
    let rig = rig_of(e);
    let image = format!("gcr.io/joblite-test/late-{}:1", std::process::id());
    let mut p = busybox_pod("late", "echo arrived", json!({}));
    p["spec"]["containers"][0]["image"] = json!(image);
    create_pod(&s, &p);
    s.wait_for("ErrImagePull", Duration::from_secs(60), || {
        let p = pod(&s, "late");
        (container_state(&p, "c")["waiting"]["reason"] == "ErrImagePull").then_some(())
    });
    let p = s.wait_for("ImagePullBackOff", Duration::from_secs(60), || {
        let p = pod(&s, "late");
        (container_state(&p, "c")["waiting"]["reason"] == "ImagePullBackOff").then_some(p)
    });
    let msg = container_state(&p, "c")["waiting"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.starts_with(&format!("Back-off pulling image \"{image}\"")),
        "{msg}"
    );
    let table = s.kubectl(&["get", "pod", "late"]).ok();
    assert!(table.contains("ImagePullBackOff"), "{table}");
    let events = events_of(&s, "late");
    for (reason, prefix) in [
        ("Pulling", format!("Pulling image \"{image}\"")),
        ("Failed", format!("Failed to pull image \"{image}\": ")),
        ("Failed", "Error: ErrImagePull".to_string()),
        ("BackOff", format!("Back-off pulling image \"{image}\"")),
        ("Failed", "Error: ImagePullBackOff".to_string()),
    ] {
        assert!(
            events
                .iter()
                .any(|(r, m)| r == reason && m.starts_with(&prefix)),
            "{reason} {prefix}: {events:?}"
        );
    }
    // Push the image under the name the pod wants; the next pull finds it.
    let target = format!("{}/{}", rig.registry, image.trim_start_matches("gcr.io/"));
    rig.push("localhost/busybox:latest", &target);
    let p = wait_phase(&s, "late", "Succeeded", 120);
    assert_eq!(s.kubectl(&["logs", "late"]).ok(), "arrived\n");
    let uid = p["metadata"]["uid"].clone();
    assert_eq!(pod(&s, "late")["metadata"]["uid"], uid);
    s.kubectl(&["delete", "pod", "late"]).ok();
    s.assert_no_containers();
}

/// Invalid names and `Never` with an absent image wait with their reasons.
fn invalid_image_names_and_never_pull_wait_with_upstream_reasons(e: Engine) {
    let s = Server::start_container_on(e);
    let mut p = busybox_pod("bad-name", "true", json!({}));
    p["spec"]["containers"][0]["image"] = json!("Not/A:Valid:Ref");
    create_pod(&s, &p);
    let mut q = busybox_pod("never", "true", json!({}));
    q["spec"]["containers"][0]["image"] = json!("gcr.io/joblite-test/absent:1");
    q["spec"]["containers"][0]["imagePullPolicy"] = json!("Never");
    create_pod(&s, &q);
    s.wait_for("InvalidImageName", Duration::from_secs(30), || {
        let p = pod(&s, "bad-name");
        let w = &container_state(&p, "c")["waiting"];
        (w["reason"] == "InvalidImageName").then(|| {
            assert_eq!(
                w["message"],
                "Failed to apply default image tag \"Not/A:Valid:Ref\": couldn't parse image name \"Not/A:Valid:Ref\": invalid reference format"
            );
        })
    });
    s.wait_for("ErrImageNeverPull", Duration::from_secs(30), || {
        let p = pod(&s, "never");
        let w = &container_state(&p, "c")["waiting"];
        (w["reason"] == "ErrImageNeverPull").then(|| {
            assert_eq!(
                w["message"],
                "Container image \"gcr.io/joblite-test/absent:1\" is not present with pull policy of Never"
            );
        })
    });
    let events = events_of(&s, "never");
    assert!(
        events.iter().any(|(r, _)| r == "ErrImageNeverPull"),
        "{events:?}"
    );
    s.kubectl(&["delete", "pod", "bad-name", "never"]).ok();
    s.assert_no_containers();
}

/// Inside a pod: the hostname is the pod's name, a file only in the image
/// is there, a file only on the host is not; the pod has its own IP.
fn a_pod_sees_its_image_and_its_name_not_the_host(e: Engine) {
    let s = Server::start_container_on(e);
    let host_only = tempfile::NamedTempFile::new().unwrap();
    let script = format!(
        "hostname; cat /etc/image-marker; if [ -e {} ]; then echo host-visible; else echo host-hidden; fi",
        host_only.path().display()
    );
    create_pod(&s, &busybox_pod("isolated", &script, json!({})));
    let p = wait_phase(&s, "isolated", "Succeeded", 60);
    assert_eq!(
        s.kubectl(&["logs", "isolated"]).ok(),
        "isolated\nonly in the image\nhost-hidden\n"
    );
    let ip = p["status"]["podIP"].as_str().unwrap();
    assert!(ip.starts_with(e.subnet_prefix()), "{ip}");
    s.kubectl(&["delete", "pod", "isolated"]).ok();
    s.assert_no_containers();
}

/// Two containers of one pod talk over localhost (kuard serves, busybox
/// asks), and share the pod's hostname.
fn two_containers_of_a_pod_talk_over_localhost(e: Engine) {
    let s = Server::start_container_on(e);
    let p = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "duo"},
        "spec": {"restartPolicy": "Never", "containers": [
            {"name": "server", "image": "gcr.io/kuar-demo/kuard-amd64:blue", "imagePullPolicy": "IfNotPresent"},
            {"name": "client", "image": "busybox", "imagePullPolicy": "IfNotPresent", "command": ["sh", "-c",
              "for i in $(seq 1 600); do if wget -qO- http://localhost:8080/healthy 2>/dev/null; then echo; hostname; exit 0; fi; sleep 0.1; done; exit 1"]}
        ]}
    });
    create_pod(&s, &p);
    s.wait_for("client done", Duration::from_secs(150), || {
        let p = pod(&s, "duo");
        let t = &container_state(&p, "client")["terminated"];
        (!t.is_null()).then(|| assert_eq!(t["exitCode"], 0, "{p:#}"))
    });
    assert_eq!(
        s.kubectl(&["logs", "duo", "-c", "client"]).ok(),
        "ok\nduo\n"
    );
    // The server's log reaches joblite through the engine's log follow,
    // which can trail the client's success by a moment (Podman polls).
    let env = s.wait_for("server log", Duration::from_secs(10), || {
        let l = s.kubectl(&["logs", "duo", "-c", "server"]).ok();
        l.contains("Serving on HTTP on :8080").then_some(l)
    });
    assert!(env.contains("Serving on HTTP on :8080"), "{env}");
    s.kubectl(&["delete", "pod", "duo", "--grace-period=1"])
        .ok();
    s.assert_no_containers();
}

/// A 50Mi limit on a memory hog: OOMKilled, exit 137.
fn a_memory_hog_over_its_limit_is_oom_killed(e: Engine) {
    let s = Server::start_container_on(e);
    let mut p = busybox_pod(
        "hog",
        "echo start; exec dd if=/dev/zero of=/dev/null bs=200M count=1",
        json!({}),
    );
    p["spec"]["containers"][0]["resources"] = json!({"limits": {"memory": "50Mi"}});
    create_pod(&s, &p);
    let p = wait_phase(&s, "hog", "Failed", 60);
    let t = &container_state(&p, "c")["terminated"];
    assert_eq!(t["reason"], "OOMKilled", "{p:#}");
    assert_eq!(t["exitCode"], 137);
    let table = s.kubectl(&["get", "pod", "hog"]).ok();
    assert!(table.contains("OOMKilled"), "{table}");
    s.kubectl(&["delete", "pod", "hog"]).ok();
    s.assert_no_containers();
}

/// `kubectl delete pod` sends SIGTERM, waits the grace period, then kills.
fn delete_honours_the_grace_period(e: Engine) {
    let s = Server::start_container_on(e);
    let marks = tempfile::tempdir().unwrap();
    let hp = json!({"volumes": [{"name": "m", "hostPath": {"path": marks.path()}}]});
    let mut stubborn = busybox_pod(
        "stubborn",
        "trap 'echo TERM > /m/stubborn' TERM; echo up; while true; do sleep 0.2; done",
        hp.clone(),
    );
    stubborn["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "m", "mountPath": "/m"}]);
    let mut polite = busybox_pod(
        "polite",
        "trap 'echo TERM > /m/polite; exit 0' TERM; while true; do sleep 0.2; done",
        hp,
    );
    polite["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "m", "mountPath": "/m"}]);
    create_pod(&s, &stubborn);
    create_pod(&s, &polite);
    wait_phase(&s, "stubborn", "Running", 60);
    wait_phase(&s, "polite", "Running", 60);
    // The shell ignores TERM beyond its trap: killed after 4 s.
    let t0 = Instant::now();
    s.kubectl(&["delete", "pod", "stubborn", "--grace-period=4"])
        .ok();
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(15),
        "{took:?}"
    );
    assert_eq!(
        std::fs::read_to_string(marks.path().join("stubborn")).unwrap(),
        "TERM\n"
    );
    // One that exits on TERM goes at once.
    let t0 = Instant::now();
    s.kubectl(&["delete", "pod", "polite", "--grace-period=30"])
        .ok();
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert_eq!(
        std::fs::read_to_string(marks.path().join("polite")).unwrap(),
        "TERM\n"
    );
    s.assert_no_containers();
}

/// kill -9 of joblite with 5 running container pods: the containers run
/// on, finish while joblite is down or after it is back, and every pod is
/// counted exactly once; nothing is left behind.
fn a_kill_9_of_the_engine_loses_and_leaks_nothing(e: Engine) {
    let mut s = Server::start_container_on(e);
    let marks = tempfile::tempdir().unwrap();
    let j = json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "survivor"},
        "spec": {"completions": 5, "parallelism": 5, "backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "volumes": [{"name": "m", "hostPath": {"path": marks.path()}}],
            "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "IfNotPresent",
                "volumeMounts": [{"name": "m", "mountPath": "/m"}],
                "command": ["sh", "-c", "echo run >> /m/$HOSTNAME; echo begin; sleep $(( $(echo $HOSTNAME | wc -c) % 5 + 4 )); echo end"]}]
        }}}
    });
    s.kubectl_stdin("1.33", &["create", "-f", "-"], &j.to_string())
        .ok();
    s.wait_for("5 running", Duration::from_secs(90), || {
        let n = pods_of(&s, "survivor")
            .iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .count();
        (n == 5).then_some(())
    });
    s.kill9();
    std::thread::sleep(Duration::from_secs(3));
    // The containers did not stop with the engine.
    assert!(s.containers().len() >= 5, "{:?}", s.containers());
    s.restart();
    let j = wait_job(&s, "survivor", "Complete", 120);
    assert_eq!(j["status"]["succeeded"], 5, "{j:#}");
    assert!(j["status"]["failed"].as_i64().unwrap_or(0) == 0, "{j:#}");
    let pods = pods_of(&s, "survivor");
    assert_eq!(pods.len(), 5);
    for p in &pods {
        let name = p["metadata"]["name"].as_str().unwrap();
        assert_eq!(
            std::fs::read_to_string(marks.path().join(name)).unwrap(),
            "run\n",
            "{name} ran more than once"
        );
        assert_eq!(s.kubectl(&["logs", name]).ok(), "begin\nend\n");
        assert_eq!(container_state(p, "c")["terminated"]["exitCode"], 0);
    }
    s.kubectl(&["delete", "job", "survivor"]).ok();
    s.assert_no_containers();
}

/// With no engine, `auto` runs processes; the seed's `/kuard` command fails
/// at once with a message that names the process runtime and the way to
/// the container runtime, and `joblite status` says why.
#[test]
fn with_no_engine_auto_runs_processes_and_kuard_fails_fast() {
    let s = Server::start_with(
        "auto",
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let t0 = Instant::now();
    let r = s.joblite(&[
        "run",
        "oneshot",
        "--image=gcr.io/kuar-demo/kuard-amd64:blue",
        "--restart=OnFailure",
        "-i",
        "--command",
        "--",
        "/kuard",
        "--keygen-enable",
        "--keygen-exit-on-complete",
        "--keygen-num-to-gen",
        "10",
    ]);
    assert_eq!(r.code(), 1, "{}\n{}", r.stdout(), r.stderr());
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    let err = r.stderr();
    assert!(
        err.contains("exec: \"/kuard\": stat /kuard: no such file or directory")
            && err.contains("process runtime")
            && err.contains("podman system service"),
        "{err}"
    );
    let st = s.status();
    assert!(st.contains("runtime:     process"), "{st}");
    assert!(st.contains("auto: no container engine answers"), "{st}");
    let node = s.get_json(&["nodes"]);
    assert!(
        node["items"][0]["status"]["nodeInfo"]["containerRuntimeVersion"]
            .as_str()
            .unwrap()
            .starts_with("joblite://")
    );
}

/// Issue 10 item 6, on the process runtime: `args` with no `command` is
/// the command line.
#[test]
fn args_without_a_command_run_on_the_process_runtime() {
    let s = Server::start();
    let j = json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "y"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "y", "image": "busybox", "args": ["sh", "-c", "echo hi"]}]}}}
    });
    s.kubectl_stdin("1.33", &["create", "-f", "-"], &j.to_string())
        .ok();
    wait_job(&s, "y", "Complete", 30);
    assert_eq!(s.kubectl(&["logs", "job/y"]).ok(), "hi\n");
}

/// A pod picks the other runtime with `runtimeClassName`: both run at once.
fn runtime_class_name_picks_the_runtime_per_pod(e: Engine) {
    let s = Server::start_container_on(e);
    create_pod(
        &s,
        &busybox_pod(
            "as-process",
            "echo $HOSTNAME",
            json!({"runtimeClassName": "process"}),
        ),
    );
    create_pod(&s, &busybox_pod("as-container", "hostname", json!({})));
    let p = wait_phase(&s, "as-process", "Succeeded", 30);
    assert!(p["status"]["containerStatuses"][0]["containerID"]
        .as_str()
        .unwrap()
        .starts_with("joblite://"));
    let p = wait_phase(&s, "as-container", "Succeeded", 60);
    assert!(p["status"]["containerStatuses"][0]["containerID"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}://", e.name())));
    // Admission refuses an unknown class (the rest of RuntimeClass is in
    // runtimeclasses.rs, on the process runtime).
    let err = s
        .kubectl_stdin(
            "1.33",
            &["create", "-f", "-"],
            &busybox_pod("unknown", "true", json!({"runtimeClassName": "gvisor"})).to_string(),
        )
        .fails();
    assert!(
        err.contains(
            "pods \"unknown\" is forbidden: pod rejected: RuntimeClass \"gvisor\" not found"
        ),
        "{err}"
    );
    s.kubectl(&["delete", "pod", "--all"]).ok();
    s.assert_no_containers();
}

/// A Job of busybox pods on the container runtime.
fn busybox_job(name: &str, script: &str, restart: &str, spec: Value) -> Value {
    let mut j = json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"template": {"spec": {"restartPolicy": restart,
            "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", script]}]}}}
    });
    if let Value::Object(m) = spec {
        for (k, v) in m {
            j["spec"][k] = v;
        }
    }
    j
}

fn create_job(s: &Server, j: &Value) {
    s.kubectl_stdin("1.33", &["create", "-f", "-"], &j.to_string())
        .ok();
}

/// The Job controller's features with the container runtime selected
/// (the e2e catalogue's kinds of Job, one of each): Indexed completions,
/// success policy, backoff limit, pod failure policy, active deadline,
/// suspend and resume, TTL after finished. On Podman only: the controller
/// is the same whatever the engine, and every container feature it leans
/// on has its own test on both engines.
#[test]
fn job_controller_features_on_the_container_runtime() {
    let e = Engine::Podman;
    let s = Server::start_container_on(e);
    create_job(
        &s,
        &busybox_job(
            "indexed",
            "echo index $JOB_COMPLETION_INDEX",
            "Never",
            json!({"completionMode": "Indexed", "completions": 3, "parallelism": 2}),
        ),
    );
    create_job(
        &s,
        &busybox_job(
            "policy",
            "if [ $JOB_COMPLETION_INDEX = 0 ]; then exit 0; else sleep 60; fi",
            "Never",
            json!({"completionMode": "Indexed", "completions": 2, "parallelism": 2,
                   "successPolicy": {"rules": [{"succeededIndexes": "0"}]}}),
        ),
    );
    create_job(
        &s,
        &busybox_job("backoff", "exit 3", "Never", json!({"backoffLimit": 1})),
    );
    create_job(
        &s,
        &busybox_job(
            "fail-job",
            "exit 42",
            "Never",
            json!({"podFailurePolicy": {"rules": [{"action": "FailJob",
                "onExitCodes": {"containerName": "c", "operator": "In", "values": [42]}}]}}),
        ),
    );
    create_job(
        &s,
        &busybox_job(
            "deadline",
            "sleep 60",
            "Never",
            json!({"activeDeadlineSeconds": 3}),
        ),
    );
    create_job(
        &s,
        &busybox_job("later", "echo resumed", "Never", json!({"suspend": true})),
    );
    create_job(
        &s,
        &busybox_job(
            "short-lived",
            "true",
            "Never",
            json!({"ttlSecondsAfterFinished": 1}),
        ),
    );

    let j = wait_job(&s, "indexed", "Complete", 120);
    assert_eq!(j["status"]["completedIndexes"], "0-2");
    let mut logs: Vec<String> = pods_of(&s, "indexed")
        .iter()
        .map(|p| {
            s.kubectl(&["logs", p["metadata"]["name"].as_str().unwrap()])
                .ok()
        })
        .collect();
    logs.sort();
    assert_eq!(logs, vec!["index 0\n", "index 1\n", "index 2\n"]);

    let j = wait_job(&s, "policy", "Complete", 120);
    assert!(condition(&j, "SuccessCriteriaMet").is_some(), "{j:#}");

    let j = wait_job(&s, "backoff", "Failed", 120);
    assert_eq!(
        condition(&j, "Failed").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
    assert_eq!(j["status"]["failed"], 2);

    let j = wait_job(&s, "fail-job", "Failed", 60);
    assert_eq!(
        condition(&j, "Failed").unwrap()["reason"],
        "PodFailurePolicy"
    );

    let j = wait_job(&s, "deadline", "Failed", 60);
    assert_eq!(
        condition(&j, "Failed").unwrap()["reason"],
        "DeadlineExceeded"
    );

    assert!(pods_of(&s, "later").is_empty());
    s.kubectl(&[
        "patch",
        "job",
        "later",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ])
    .ok();
    wait_job(&s, "later", "Complete", 60);
    assert_eq!(s.kubectl(&["logs", "job/later"]).ok(), "resumed\n");

    s.wait_for("TTL deletes the job", Duration::from_secs(60), || {
        let r = s.kubectl(&["get", "job", "short-lived"]);
        (r.code() != 0).then_some(())
    });
    s.kubectl(&["delete", "jobs", "--all"]).ok();
    s.wait_for("pods gone", Duration::from_secs(60), || {
        let v = s.get_json(&["pods"]);
        v["items"].as_array().unwrap().is_empty().then_some(())
    });
    s.assert_no_containers();
}

/// An OnFailure container restarted in place: `restartCount`, and the
/// log options read the right run (`--previous`, `--tail`, `--timestamps`).
fn restarts_in_place_and_logs_read_each_run(e: Engine) {
    let s = Server::start_container_on(e);
    let mut j = busybox_job(
        "again",
        "if [ -e /work/once ]; then echo second; echo done; else touch /work/once; echo first; exit 1; fi",
        "OnFailure",
        json!({}),
    );
    j["spec"]["template"]["spec"]["volumes"] = json!([{"name": "w", "emptyDir": {}}]);
    j["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "w", "mountPath": "/work"}]);
    create_job(&s, &j);
    wait_job(&s, "again", "Complete", 90);
    let p = &pods_of(&s, "again")[0];
    let name = p["metadata"]["name"].as_str().unwrap();
    assert_eq!(p["status"]["containerStatuses"][0]["restartCount"], 1);
    assert_eq!(s.kubectl(&["logs", name]).ok(), "second\ndone\n");
    assert_eq!(s.kubectl(&["logs", name, "--previous"]).ok(), "first\n");
    assert_eq!(s.kubectl(&["logs", name, "--tail=1"]).ok(), "done\n");
    let ts = s.kubectl(&["logs", name, "--timestamps"]).ok();
    assert!(
        ts.lines().all(|l| l.len() > 21 && l.as_bytes()[4] == b'-'),
        "{ts}"
    );
    let prev = &p["status"]["containerStatuses"][0]["lastState"]["terminated"];
    assert_eq!(prev["exitCode"], 1);
    assert!(prev["containerID"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}://", e.name())));
    s.kubectl(&["delete", "job", "again"]).ok();
    s.assert_no_containers();
}

/// A unix-socket proxy to the rig's engine that a test can cut, to play
/// an engine outage without stopping the shared engine.
struct EngineProxy {
    path: std::path::PathBuf,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    _dir: tempfile::TempDir,
}

impl EngineProxy {
    fn start(e: Engine) -> EngineProxy {
        use std::os::unix::net::{UnixListener, UnixStream};
        use std::sync::atomic::Ordering;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.sock");
        let target = rig_of(e).socket();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::<UnixStream>::new()));
        let listener = UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let (u, c, p) = (up.clone(), conns.clone(), path.clone());
        std::thread::spawn(move || {
            let mut listener = Some(listener);
            loop {
                let serving = u.load(Ordering::Acquire);
                match (&listener, serving) {
                    (Some(_), false) => {
                        // Down: no listener, and every open connection cut.
                        listener = None;
                        let _ = std::fs::remove_file(&p);
                        for s in c.lock().unwrap().drain(..) {
                            let _ = s.shutdown(std::net::Shutdown::Both);
                        }
                    }
                    (None, true) => {
                        let l = UnixListener::bind(&p).unwrap();
                        l.set_nonblocking(true).unwrap();
                        listener = Some(l);
                    }
                    _ => {}
                }
                let Some(l) = &listener else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                match l.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = UnixStream::connect(&target) else {
                            continue;
                        };
                        let mut guard = c.lock().unwrap();
                        guard.push(client.try_clone().unwrap());
                        guard.push(server.try_clone().unwrap());
                        for (mut from, mut to) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap()),
                            (server, client),
                        ] {
                            std::thread::spawn(move || {
                                let _ = std::io::copy(&mut from, &mut to);
                                let _ = to.shutdown(std::net::Shutdown::Write);
                            });
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        EngineProxy {
            path,
            up,
            _dir: dir,
        }
    }

    fn set(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::Release);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The engine's socket goes away: a running pod is not failed, a new one
/// waits with the reason and an event, and both finish once it is back.
fn an_engine_outage_makes_pods_wait_not_fail(e: Engine) {
    let proxy = EngineProxy::start(e);
    let host = format!("unix://{}", proxy.path.display());
    let s = Server::start_on(e, "container", &[("DOCKER_HOST", &host)]);
    create_pod(&s, &busybox_pod("steady", "sleep 5; echo done", json!({})));
    wait_phase(&s, "steady", "Running", 60);
    proxy.set(false);
    create_pod(&s, &busybox_pod("newcomer", "echo late", json!({})));
    let p = s.wait_for("newcomer waits", Duration::from_secs(30), || {
        let p = pod(&s, "newcomer");
        let w = &container_state(&p, "c")["waiting"];
        (w["reason"] == "ContainerCreating"
            && w["message"]
                .as_str()
                .is_some_and(|m| m.contains("the container engine does not answer")))
        .then_some(p)
    });
    assert_eq!(p["status"]["phase"], "Pending");
    assert!(
        events_of(&s, "newcomer")
            .iter()
            .any(|(r, m)| r == "Failed" && m.contains("the container engine does not answer")),
        "{:?}",
        events_of(&s, "newcomer")
    );
    // The Node is NotReady as a kubelet's with a down runtime
    // (`pkg/kubelet/runtime.go` runtimeErrors, nodestatus ReadyCondition).
    let ready = || {
        let n = s.get_json(&["nodes"]);
        n["items"][0]["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .cloned()
            .unwrap()
    };
    s.wait_for("Ready False", Duration::from_secs(30), || {
        let r = ready();
        (r["status"] == "False").then_some(r)
    });
    let r = ready();
    assert_eq!(
        (&r["reason"], &r["message"]),
        (
            &json!("KubeletNotReady"),
            &json!("container runtime is down")
        ),
        "{r}"
    );
    let row = s.kubectl(&["get", "nodes", "--no-headers"]).ok();
    assert!(row.contains(" NotReady "), "{row}");
    // The steady pod's container finishes during the outage; the node
    // reports nothing it has not seen.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(pod(&s, "steady")["status"]["phase"], "Running");
    proxy.set(true);
    s.wait_for("Ready True", Duration::from_secs(60), || {
        let r = ready();
        (r["status"] == "True" && r["reason"] == "KubeletReady").then_some(r)
    });
    let node = s.get_json(&["nodes"])["items"][0].clone();
    let name = node["metadata"]["name"].as_str().unwrap().to_string();
    assert!(
        node["status"]["nodeInfo"]["containerRuntimeVersion"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}://", e.name())),
        "{node}"
    );
    let reasons: Vec<(String, String)> = events_of(&s, &name);
    for state in ["NodeNotReady", "NodeReady"] {
        assert!(
            reasons
                .iter()
                .any(|(r, m)| r == state && *m == format!("Node {name} status is now: {state}")),
            "{reasons:?}"
        );
    }
    let p = wait_phase(&s, "steady", "Succeeded", 60);
    assert_eq!(container_state(&p, "c")["terminated"]["exitCode"], 0);
    assert_eq!(s.kubectl(&["logs", "steady"]).ok(), "done\n");
    wait_phase(&s, "newcomer", "Succeeded", 60);
    assert_eq!(s.kubectl(&["logs", "newcomer"]).ok(), "late\n");
    s.kubectl(&["delete", "pod", "steady", "newcomer"]).ok();
    s.assert_no_containers();
}

/// The kubelet's routine events on the process runtime, behind
/// `serve --routine-events` (the container runtime always records them):
/// Scheduled from default-scheduler, then Pulled, Created and Started from
/// the kubelet with upstream's messages; Killing on delete either way.
#[test]
fn routine_events_on_the_process_runtime() {
    let s = Server::start_with("process", &[("JOBLITE_ROUTINE_EVENTS", "true")]);
    create_pod(&s, &busybox_pod("ev", "echo hi", json!({})));
    wait_phase(&s, "ev", "Succeeded", 30);
    let node = s.get_json(&["nodes"])["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let want = [
        (
            "Scheduled",
            format!("Successfully assigned default/ev to {node}"),
        ),
        (
            "Pulled",
            "Container image \"busybox\" already present on machine".to_string(),
        ),
        ("Created", "Created container: c".to_string()),
        ("Started", "Started container c".to_string()),
    ];
    let got = s.wait_for("routine events", Duration::from_secs(30), || {
        let got = events_of(&s, "ev");
        want.iter()
            .all(|(r, m)| got.iter().any(|(gr, gm)| gr == r && gm == m))
            .then_some(got)
    });
    let sources = s.get_json(&["events", "--field-selector", "involvedObject.name=ev"]);
    for e in sources["items"].as_array().unwrap() {
        let component = if e["reason"] == "Scheduled" {
            "default-scheduler"
        } else {
            "kubelet"
        };
        assert_eq!(e["source"]["component"], component, "{e}");
    }
    assert_eq!(got.len(), 4, "{got:?}");

    // Off by default; Killing is recorded either way.
    let s = Server::start();
    create_pod(&s, &busybox_pod("quiet", "sleep 30", json!({})));
    wait_phase(&s, "quiet", "Running", 30);
    s.kubectl(&["delete", "pod", "quiet", "--grace-period=1"])
        .ok();
    let got = events_of(&s, "quiet");
    assert_eq!(
        got,
        [("Killing".to_string(), "Stopping container c".to_string())],
        "{got:?}"
    );
}

/// Kubelet details (issue 9): the image's STOPSIGNAL is what a stop sends
/// (the CRI's StopContainer), `runAsGroup` alone keeps the image's user
/// (`getImageUser`), `runAsUser`/`runAsGroup` from the pod, `hostNetwork`
/// shares the host's network and UTS namespaces, `stdin`/`tty` give the
/// container a terminal.
fn stop_signal_users_host_network_and_tty_as_the_kubelet(e: Engine) {
    let rig = rig_of(e);
    let build = tempfile::tempdir().unwrap();
    std::fs::write(
        build.path().join("Containerfile"),
        "FROM localhost/busybox:latest\nSTOPSIGNAL SIGUSR1\n",
    )
    .unwrap();
    rig.build("localhost/busybox-usr1:latest", build.path());
    let s = Server::start_container_on(e);
    let trap = "trap 'echo stopped by USR1; exit 0' USR1; trap 'echo stopped by TERM; exit 3' TERM; echo up; while :; do sleep 0.2; done";
    let stopped = |name: &str, image: &str| {
        let mut p = busybox_pod(
            name,
            trap,
            // Long enough for a loaded machine to start the container.
            json!({"activeDeadlineSeconds": 20, "terminationGracePeriodSeconds": 20}),
        );
        p["spec"]["containers"][0]["image"] = json!(image);
        p
    };
    create_pod(&s, &stopped("usr1", "localhost/busybox-usr1:latest"));
    create_pod(&s, &stopped("term", "busybox"));
    create_pod(
        &s,
        &busybox_pod(
            "group",
            "id -u; id -g",
            json!({"securityContext": {"runAsGroup": 1234}}),
        ),
    );
    create_pod(
        &s,
        &busybox_pod(
            "user",
            "id -u; id -g; echo end",
            json!({"securityContext": {"runAsUser": 1000, "runAsGroup": 2000}}),
        ),
    );
    create_pod(
        &s,
        &busybox_pod("hostnet", "hostname", json!({"hostNetwork": true})),
    );
    let mut tty = busybox_pod(
        "tty",
        // The partial line (`P` in the engine's log) reaches joblite glued
        // to the next record on a tty's raw stream: `<ts> part<ts> ial`.
        "[ -t 0 ] && echo stdin-tty; [ -t 1 ] && echo stdout-tty; printf part; sleep 0.3; echo ial",
        json!({}),
    );
    tty["spec"]["containers"][0]["stdin"] = json!(true);
    tty["spec"]["containers"][0]["tty"] = json!(true);
    create_pod(&s, &tty);

    wait_phase(&s, "group", "Succeeded", 60);
    assert_eq!(s.kubectl(&["logs", "group"]).ok(), "0\n1234\n");
    wait_phase(&s, "user", "Succeeded", 60);
    assert_eq!(s.kubectl(&["logs", "user"]).ok(), "1000\n2000\nend\n");
    wait_phase(&s, "hostnet", "Succeeded", 60);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(s.kubectl(&["logs", "hostnet"]).ok(), host);
    wait_phase(&s, "tty", "Succeeded", 60);
    assert_eq!(
        s.kubectl(&["logs", "tty"]).ok().replace('\r', ""),
        "stdin-tty\nstdout-tty\npartial\n"
    );
    for (name, line, code) in [
        ("usr1", "stopped by USR1", 0),
        ("term", "stopped by TERM", 3),
    ] {
        let p = wait_phase(&s, name, "Failed", 60);
        assert_eq!(p["status"]["reason"], "DeadlineExceeded", "{p}");
        assert_eq!(
            container_state(&p, "c")["terminated"]["exitCode"],
            code,
            "{p}"
        );
        assert_eq!(s.kubectl(&["logs", name]).ok(), format!("up\n{line}\n"));
    }
    s.kubectl(&["delete", "pod", "--all"]).ok();
    s.assert_no_containers();
    rig.cli(&["rmi", "localhost/busybox-usr1:latest"]);
}

on_both_engines!(
    the_seeds_kuard_manifests_run_verbatim,
    joblite_run_of_the_seed_command_streams_the_keys,
    a_missing_image_backs_off_until_it_is_pushed,
    invalid_image_names_and_never_pull_wait_with_upstream_reasons,
    a_pod_sees_its_image_and_its_name_not_the_host,
    two_containers_of_a_pod_talk_over_localhost,
    a_memory_hog_over_its_limit_is_oom_killed,
    delete_honours_the_grace_period,
    a_kill_9_of_the_engine_loses_and_leaks_nothing,
    runtime_class_name_picks_the_runtime_per_pod,
    restarts_in_place_and_logs_read_each_run,
    an_engine_outage_makes_pods_wait_not_fail,
    stop_signal_users_host_network_and_tty_as_the_kubelet,
);
