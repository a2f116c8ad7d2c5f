//! The node agent and process runtime through kubectl: pod STATUS wording,
//! restarts, logs, graceful deletion, limits, deadlines, env, init
//! containers, volumes, admission, and surviving a `kill -9` of the server.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::Server;

fn pod(name: &str, restart: &str, containers: &str, extra_spec: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}"}},
        "spec":{{"restartPolicy":"{restart}","terminationGracePeriodSeconds":30,{extra_spec}
        "containers":[{containers}]}}}}"#
    )
}

fn sh(name: &str, script: &str) -> String {
    format!(
        r#"{{"name":"{name}","image":"busybox","command":["sh","-c",{}]}}"#,
        serde_json::to_string(script).unwrap()
    )
}

fn status_of(s: &Server, name: &str) -> String {
    let out = s.kubectl(&["get", "pod", name, "--no-headers"]).stdout();
    out.split_whitespace().nth(2).unwrap_or("").to_string()
}

fn wait_status(s: &Server, name: &str, want: &str, secs: u64) {
    s.wait_for(&format!("{name} {want}"), Duration::from_secs(secs), || {
        (status_of(s, name) == want).then_some(())
    });
}

#[test]
fn status_wording_completed_error_and_crash_loop() {
    let s = Server::start();
    s.kubectl_stdin(
        "1.33",
        &["create", "-f", "-"],
        &pod("ok", "Never", &sh("c", "exit 0"), ""),
    )
    .ok();
    s.kubectl_stdin(
        "1.33",
        &["create", "-f", "-"],
        &pod("bad", "Never", &sh("c", "exit 3"), ""),
    )
    .ok();
    s.kubectl_stdin(
        "1.33",
        &["create", "-f", "-"],
        &pod("loop", "OnFailure", &sh("c", "exit 1"), ""),
    )
    .ok();
    wait_status(&s, "ok", "Completed", 30);
    wait_status(&s, "bad", "Error", 30);
    wait_status(&s, "loop", "CrashLoopBackOff", 30);
    let bad = s.get_json(&["pod", "bad"]);
    assert_eq!(bad["status"]["phase"], "Failed");
    let term = &bad["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(term["exitCode"], 3);
    assert_eq!(term["reason"], "Error");
    let lp = s.get_json(&["pod", "loop"]);
    let cs = &lp["status"]["containerStatuses"][0];
    assert!(cs["restartCount"].as_i64().unwrap() >= 1, "{cs}");
    assert_eq!(cs["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 1);
    let ok = s.get_json(&["pod", "ok"]);
    assert_eq!(
        ok["spec"]["nodeName"],
        s.get_json(&["nodes"])["items"][0]["metadata"]["name"]
    );
}

#[test]
fn logs_follow_previous_tail_and_timestamps() {
    let s = Server::start();
    s.kubectl_stdin(
        "1.33",
        &["create", "-f", "-"],
        &pod(
            "talk",
            "Never",
            &sh(
                "c",
                "for i in 1 2 3 4 5; do echo line $i; done; sleep 2; echo late",
            ),
            "",
        ),
    )
    .ok();
    wait_status(&s, "talk", "Running", 30);
    let t0 = Instant::now();
    let out = s.kubectl(&["logs", "-f", "talk"]).ok();
    assert!(
        t0.elapsed() >= Duration::from_millis(500),
        "follow returned early"
    );
    assert_eq!(out.lines().last(), Some("late"), "{out}");
    let out = s.kubectl(&["logs", "talk", "--tail=2"]).ok();
    assert_eq!(out, "line 5\nlate\n");
    let out = s
        .kubectl(&["logs", "talk", "--timestamps", "--tail=1"])
        .ok();
    let (ts, rest) = out.trim_end().split_once(' ').unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{out}");
    assert_eq!(rest, "late");
    // --previous on a restarted container.
    s.kubectl_stdin(
        "1.33",
        &["create", "-f", "-"],
        &pod("again", "OnFailure", &sh("c", "echo run; exit 1"), ""),
    )
    .ok();
    s.wait_for("a restart", Duration::from_secs(30), || {
        let p = s.get_json(&["pod", "again"]);
        (p["status"]["containerStatuses"][0]["restartCount"]
            .as_i64()
            .unwrap_or(0)
            >= 1)
            .then_some(())
    });
    let out = s.kubectl(&["logs", "again", "--previous"]).ok();
    assert_eq!(out, "run\n");
}

#[test]
fn graceful_delete_honours_sigterm_and_kills_at_deadline() {
    let s = Server::start();
    let marker = format!("graceful-{}", std::process::id());
    // Traps SIGTERM and exits cleanly.
    s.kubectl_stdin(
        "1.33",
        &["create", "-f", "-"],
        &pod(
            "polite",
            "Never",
            &sh(
                "c",
                &format!("trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done # {marker}"),
            ),
            "",
        ),
    )
    .ok();
    // Ignores SIGTERM: killed when the 2 s grace ends.
    s.kubectl_stdin(
        "1.33",
        &["create", "-f", "-"],
        &pod(
            "stubborn",
            "Never",
            &sh(
                "c",
                &format!("trap '' TERM; while true; do sleep 0.1; done # {marker}"),
            ),
            "",
        )
        .replace(
            "\"terminationGracePeriodSeconds\":30",
            "\"terminationGracePeriodSeconds\":2",
        ),
    )
    .ok();
    wait_status(&s, "polite", "Running", 30);
    wait_status(&s, "stubborn", "Running", 30);
    let t0 = Instant::now();
    s.kubectl(&["delete", "pod", "polite", "--timeout=30s"])
        .ok();
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    let t0 = Instant::now();
    s.kubectl(&["delete", "pod", "stubborn", "--timeout=30s"])
        .ok();
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(15),
        "{took:?}"
    );
    // No process of either pod survives (allowing the last reap a moment).
    s.wait_for("no pod process left", Duration::from_secs(2), || {
        let ps = std::process::Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .unwrap();
        String::from_utf8_lossy(&ps.stdout)
            .trim()
            .is_empty()
            .then_some(())
    });
}

#[test]
fn pod_deadline_env_init_container_and_empty_dir() {
    let s = Server::start();
    s.kubectl_stdin(
        "1.33",
        &["create", "-f", "-"],
        &pod(
            "slow",
            "Never",
            &sh("c", "sleep 100"),
            "\"activeDeadlineSeconds\":1,",
        ),
    )
    .ok();
    let env_pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"envy","labels":{"app":"x"}},
      "spec":{"restartPolicy":"Never",
      "volumes":[{"name":"data","emptyDir":{}}],
      "initContainers":[{"name":"init","image":"busybox","command":["sh","-c","echo from-init > /data/seed"],
         "volumeMounts":[{"name":"data","mountPath":"/data"}]}],
      "containers":[{"name":"c","image":"busybox",
        "command":["sh","-c","echo $MY_NAME $MY_NS $MY_APP $(A) $PLAIN; cat /data/seed"],
        "volumeMounts":[{"name":"data","mountPath":"/data"}],
        "env":[{"name":"PLAIN","value":"plain"},{"name":"A","value":"a-val"},
          {"name":"MY_NAME","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},
          {"name":"MY_NS","valueFrom":{"fieldRef":{"fieldPath":"metadata.namespace"}}},
          {"name":"MY_APP","valueFrom":{"fieldRef":{"fieldPath":"metadata.labels['app']"}}}]}]}}"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], env_pod)
        .ok();
    wait_status(&s, "envy", "Completed", 30);
    let out = s.kubectl(&["logs", "envy"]).ok();
    assert_eq!(out, "envy default x a-val plain\nfrom-init\n");
    s.wait_for("deadline", Duration::from_secs(30), || {
        let p = s.get_json(&["pod", "slow"]);
        (p["status"]["phase"] == "Failed").then_some(())
    });
    let p = s.get_json(&["pod", "slow"]);
    assert_eq!(p["status"]["reason"], "DeadlineExceeded");
    assert_eq!(status_of(&s, "slow"), "DeadlineExceeded");
}

#[test]
fn unschedulable_when_requests_exceed_the_machine() {
    let s = Server::start();
    let big = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"huge"},
      "spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox","command":["true"],
      "resources":{"requests":{"cpu":"512"}}}]}}"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], big).ok();
    s.wait_for("Unschedulable", Duration::from_secs(20), || {
        let p = s.get_json(&["pod", "huge"]);
        let c = p["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "PodScheduled")?
            .clone();
        (c["reason"] == "Unschedulable").then_some(())
    });
    let p = s.get_json(&["pod", "huge"]);
    assert_eq!(p["status"]["phase"], "Pending");
    let out = s.kubectl(&["describe", "pod", "huge"]).ok();
    assert!(out.contains("FailedScheduling"), "{out}");
}

#[test]
fn missing_command_and_missing_executable_cannot_run() {
    let s = Server::start();
    let nocmd = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"nocmd"},
      "spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], nocmd).ok();
    let missing = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"nofile"},
      "spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox","command":["/no/such/binary"]}]}}"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], missing)
        .ok();
    for name in ["nocmd", "nofile"] {
        wait_status(&s, name, "ContainerCannotRun", 30);
    }
    let p = s.get_json(&["pod", "nofile"]);
    let msg = p["status"]["containerStatuses"][0]["state"]["terminated"]["message"]
        .as_str()
        .unwrap_or("");
    assert!(msg.contains("/no/such/binary"), "{msg}");
}

#[test]
fn pods_survive_a_kill9_of_the_server_and_finish_once() {
    let mut s = Server::start();
    let job = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"survive"},
      "spec":{"completions":20,"parallelism":20,"template":{"spec":{"restartPolicy":"Never",
      "containers":[{"name":"c","image":"busybox","command":["sh","-c","echo started; sleep 5 # MARKER"]}]}}}}"#;
    let marker = format!("survive-{}", std::process::id());
    let job = job.replace("MARKER", &marker);
    let job = job.as_str();
    s.kubectl_stdin("1.33", &["create", "-f", "-"], job).ok();
    s.wait_for("20 running", Duration::from_secs(60), || {
        let j = s.get_json(&["job", "survive"]);
        (j["status"]["active"] == 20
            && s.get_json(&["pods"])["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["status"]["phase"] == "Running")
                .count()
                == 20)
            .then_some(())
    });
    s.restart();
    let r = s.kubectl(&[
        "wait",
        "--for=condition=complete",
        "job/survive",
        "--timeout=90s",
    ]);
    assert_eq!(r.code(), 0, "{}\n{}", r.stderr(), s.log());
    let j = s.get_json(&["job", "survive"]);
    assert_eq!(j["status"]["succeeded"], 20);
    assert_eq!(j["status"]["failed"].as_i64().unwrap_or(0), 0);
    let pods: Vec<Value> = s.get_json(&["pods"])["items"].as_array().unwrap().clone();
    assert_eq!(pods.len(), 20);
    for p in &pods {
        let cs = &p["status"]["containerStatuses"][0];
        assert_eq!(cs["state"]["terminated"]["exitCode"], 0, "{p}");
        assert_eq!(cs["restartCount"], 0);
        let name = p["metadata"]["name"].as_str().unwrap();
        // Ran once: one "started" line.
        assert_eq!(s.kubectl(&["logs", name]).ok(), "started\n");
    }
    // No process of these pods is left, and no zombie.
    let left = std::process::Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "leftover pod processes"
    );
    let ps = std::process::Command::new("ps")
        .args(["-eo", "stat,args"])
        .output()
        .unwrap();
    let zombies = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.starts_with('Z') && l.contains("sleep"))
        .count();
    assert_eq!(zombies, 0, "zombie pod processes");
}

/// Whether a memory cgroup can be created here (v1 `memory` or v2 with the
/// controller enabled); without one a memory limit cannot be enforced.
fn memory_cgroup_writable() -> bool {
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory");
    let probe = |dir: &std::path::Path| {
        let d = dir.join(format!("joblite-probe-{}", std::process::id()));
        let ok = std::fs::create_dir(&d).is_ok();
        let _ = std::fs::remove_dir(&d);
        ok
    };
    if v1.join("memory.limit_in_bytes").exists() {
        return probe(v1);
    }
    let v2 = std::path::Path::new("/sys/fs/cgroup");
    std::fs::read_to_string(v2.join("cgroup.subtree_control")).is_ok_and(|c| c.contains("memory"))
        && probe(v2)
}

#[test]
fn memory_limit_kills_with_oom_killed() {
    if !memory_cgroup_writable() {
        eprintln!(
            "skipped: no writable memory cgroup on this machine, so limits cannot be enforced"
        );
        return;
    }
    let s = Server::start();
    let hog = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"hog"},
      "spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox",
      "command":["tail","/dev/zero"],"resources":{"limits":{"memory":"32Mi"}}}]}}"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], hog).ok();
    wait_status(&s, "hog", "OOMKilled", 60);
    let p = s.get_json(&["pod", "hog"]);
    let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(t["reason"], "OOMKilled");
    assert_eq!(t["exitCode"], 137);
}

#[test]
fn status_wording_init_and_terminating() {
    let s = Server::start();
    let init = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"initing"},
      "spec":{"restartPolicy":"Never",
      "initContainers":[{"name":"wait","image":"busybox","command":["sleep","30"]}],
      "containers":[{"name":"c","image":"busybox","command":["true"]}]}}"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], init).ok();
    wait_status(&s, "initing", "Init:0/1", 30);
    let slow = pod(
        "leaving",
        "Never",
        &sh(
            "c",
            "trap 'sleep 3; exit 0' TERM; while true; do sleep 0.1; done",
        ),
        "",
    );
    s.kubectl_stdin("1.33", &["create", "-f", "-"], &slow).ok();
    wait_status(&s, "leaving", "Running", 30);
    s.kubectl(&["delete", "pod", "leaving", "--wait=false"])
        .ok();
    wait_status(&s, "leaving", "Terminating", 10);
    s.wait_for("pod removed", Duration::from_secs(30), || {
        (s.kubectl(&["get", "pod", "leaving"]).code() == 1).then_some(())
    });
}

#[test]
fn crash_loop_back_off_waits_ten_seconds_after_the_first_restart() {
    let s = Server::start();
    s.kubectl_stdin(
        "1.33",
        &["create", "-f", "-"],
        &pod("crash", "OnFailure", &sh("c", "exit 1"), ""),
    )
    .ok();
    // Upstream kubelet restarts the first failure at once and then backs
    // off 10 s, 20 s, ... (`pkg/kubelet/kuberuntime` doBackOff): the gap
    // between restart 1 and restart 2 is the first back-off.
    let restarts = |s: &Server| {
        s.get_json(&["pod", "crash"])["status"]["containerStatuses"][0]["restartCount"]
            .as_i64()
            .unwrap_or(0)
    };
    s.wait_for("the first restart", Duration::from_secs(30), || {
        (restarts(&s) >= 1).then_some(())
    });
    let first = Instant::now();
    s.wait_for("the second restart", Duration::from_secs(40), || {
        (restarts(&s) >= 2).then_some(())
    });
    let gap = first.elapsed();
    assert!(gap >= Duration::from_secs(8), "restarted after {gap:?}");
    let out = s.kubectl(&["get", "pod", "crash"]).ok();
    assert!(
        out.contains("CrashLoopBackOff") || out.contains("Error"),
        "{out}"
    );
    assert!(out.contains("2 (") && out.contains("ago)"), "{out}");
}

/// A real pod in `ContainerCreating`: the kubelet mounts volumes before any
/// container starts, and a `hostPath` of type `Directory` that does not exist
/// fails the mount (`checkType`, `pkg/volume/hostpath/host_path.go`). The pod
/// waits with a `FailedMount` event and starts once the directory appears.
#[test]
fn container_creating_while_a_host_path_is_missing() {
    let s = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    let dir = input.to_str().unwrap();
    // mountPath = path, so the script reads the same place with or without
    // root (as root the directory is bind-mounted onto itself).
    let spec = format!(
        r#""volumes":[{{"name":"input","hostPath":{{"path":"{dir}","type":"Directory"}}}}],"#
    );
    let c = sh("c", &format!("cat {dir}/msg")).replace(
        r#""image":"busybox","#,
        &format!(r#""image":"busybox","volumeMounts":[{{"name":"input","mountPath":"{dir}"}}],"#),
    );
    s.kubectl_stdin(
        "1.33",
        &["create", "-f", "-"],
        &pod("needs-input", "Never", &c, &spec),
    )
    .ok();
    wait_status(&s, "needs-input", "ContainerCreating", 20);
    let want =
        format!("MountVolume.SetUp failed for volume \"input\" : hostPath {dir} doesn't exist");
    let failed_mount = |field: &str| {
        s.kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=needs-input,reason=FailedMount",
            "-o",
            &format!("jsonpath={{.items[*].{field}}}"),
        ])
        .stdout()
    };
    s.wait_for("FailedMount event", Duration::from_secs(10), || {
        failed_mount("message").contains(&want).then_some(())
    });
    let p = s.get_json(&["pod", "needs-input"]);
    assert_eq!(p["status"]["phase"], "Pending");
    assert_eq!(
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
        "ContainerCreating"
    );
    // Still waiting a little later: no container ran. The retries (0.5 s,
    // then 1 s later) bump `count` on one Event, as client-go's correlator does.
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(status_of(&s, "needs-input"), "ContainerCreating");
    s.wait_for("a FailedMount count of 2", Duration::from_secs(10), || {
        let out = failed_mount("count");
        let counts: Vec<&str> = out.split_whitespace().collect();
        (counts.len() == 1 && counts[0].parse::<i64>().is_ok_and(|c| c >= 2)).then_some(())
    });
    let described = s.kubectl(&["describe", "pod", "needs-input"]).ok();
    assert!(
        described.contains("FailedMount") && described.contains("over"),
        "{described}"
    );
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("msg"), "input arrived\n").unwrap();
    wait_status(&s, "needs-input", "Completed", 30);
    let logs = s.kubectl(&["logs", "needs-input"]).ok();
    assert_eq!(logs, "input arrived\n");
}
