//! The crash campaign (issue 15, part 1): an Indexed Job of 2,000
//! completions at parallelism 10 runs while the engine is killed with
//! SIGKILL at random instants and restarted on the same data directory, and
//! then while the pod supervisor is killed the same way.
//!
//! Every pod appends `<index> <pod name>` to a start file when it begins and
//! to a done file when its work is finished, outside the data directory
//! (`>>` is one `write(2)` with `O_APPEND`, atomic for a short line), so
//! the test can hold the engine's account against what really ran.
//!
//! What a kill means here, and what the test demands:
//! - The engine (`joblite serve`) is the kubelet, API server and
//!   controllers in one. Upstream, a kubelet restart leaves containers
//!   running and the new kubelet adopts them. So an engine kill must cost
//!   nothing: no pod fails, no pod runs its container twice, no completion
//!   is lost or counted twice.
//! - The supervisor (`joblite supervise`) holds the pod processes, like
//!   containerd's shims. A shim killed upstream takes its container with
//!   it: containerd reports the task exited with 137 (`cleanupAfterDeadShim`
//!   in containerd's `runtime/v2`) and the kubelet shows the container
//!   terminated. Here the pods die with their supervisor (parent-death
//!   signal, and the next supervisor kills the process group of every run it
//!   finds unfinished in its journal), are reported `Failed` with exit code
//!   137 and reason `ContainerStatusUnknown`, and the Job retries their
//!   indexes under its own rules: this Job sets `backoffLimitPerIndex` to
//!   the number of supervisor kills, so each lost index is retried after
//!   its own back-off without holding up the others.
//!
//! At the end: `succeeded == completions`; `completedIndexes` is every
//! index; exactly one pod per index succeeded and it wrote the index's done
//! record; every other done record (a "duplicate success") comes from a pod
//! that was lost after writing it and before its exit was seen, which
//! upstream would also re-run, and is counted; no pod ran its container
//! twice; an index started more than once only through a failed pod; no
//! process carrying the campaign's marker outlives its pod; and the store
//! passes `PRAGMA integrity_check`.
//!
//! The same campaign runs on the container runtime (the rig's Podman):
//! pods write their records through a `hostPath` volume, only the engine is
//! killed (container pods have no supervisor; the container engine keeps
//! them, as containerd keeps a restarted kubelet's), no pod may fail, and
//! after the Job is deleted no container of the engine is left. It runs
//! 200 completions with 5 engine kills, as containers start about ten times
//! slower than processes here.
//!
//! `JOBLITE_CAMPAIGN=long` runs 20,000 completions with 100 engine kills
//! and 10 supervisor kills (containers: 2,000 completions with 20 engine
//! kills); `JOBLITE_CAMPAIGN_SEED` replays a schedule.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{Engine, Server};
use crate::procs;

/// splitmix64: a seeded, replayable stream of random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

struct Plan {
    completions: u64,
    parallelism: u64,
    engine_kills: usize,
    supervisor_kills: usize,
}

/// Where the campaign's pods run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Runtime {
    Process,
    Container(Engine),
}

impl Plan {
    fn from_env(runtime: Runtime) -> Plan {
        let long = std::env::var("JOBLITE_CAMPAIGN").is_ok_and(|v| v == "long");
        if let Runtime::Container(_) = runtime {
            return Plan {
                completions: if long { 2_000 } else { 200 },
                parallelism: 10,
                engine_kills: if long { 20 } else { 5 },
                supervisor_kills: 0,
            };
        }
        if long {
            Plan {
                completions: 20_000,
                parallelism: 10,
                engine_kills: 100,
                supervisor_kills: 10,
            }
        } else {
            Plan {
                completions: 2_000,
                parallelism: 10,
                engine_kills: 20,
                supervisor_kills: 3,
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    Engine,
    Supervisor,
}

/// `<index> <pod>` lines of a record file.
fn records(path: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (i, p) = l.split_once(' ')?;
            Some((i.parse().ok()?, p.to_string()))
        })
        .collect()
}

fn lines(path: &Path) -> u64 {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count() as u64)
        .unwrap_or(0)
}

/// The Job as the API returns it, if the engine answers.
fn job(s: &Server) -> Option<Value> {
    let (code, body) = s.curl(
        "GET",
        "/apis/batch/v1/namespaces/default/jobs/campaign",
        &[],
        None,
    );
    (code == 200)
        .then(|| serde_json::from_str(&body).ok())
        .flatten()
}

fn complete(job: &Value) -> bool {
    crate::harness::condition(job, "Complete").is_some_and(|c| c["status"] == "True")
}

#[test]
fn crash_campaign_counts_every_completion_exactly_once() {
    campaign(Runtime::Process);
}

#[test]
fn crash_campaign_on_containers_counts_every_completion_exactly_once() {
    campaign(Runtime::Container(Engine::Podman));
}

fn campaign(runtime: Runtime) {
    let plan = Plan::from_env(runtime);
    let seed: u64 = std::env::var("JOBLITE_CAMPAIGN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!(
        "crash campaign ({runtime:?}): seed {seed} (replay with JOBLITE_CAMPAIGN_SEED={seed})"
    );
    let mut rng = Rng(seed);

    let rec = tempfile::tempdir().unwrap();
    let (start_file, done_file) = (rec.path().join("start"), rec.path().join("done"));
    let marker = format!("JOBLITE_CAMPAIGN_MARK={seed}-{}", std::process::id());
    let (mark_key, mark_value) = marker.split_once('=').unwrap();

    let mut s = match runtime {
        Runtime::Process => Server::start(),
        Runtime::Container(e) => Server::start_container_on(e),
    };
    let node_dir = s.data_dir.path().join("node");
    // Containers see the record directory through a hostPath volume.
    let rec_in_pod = match runtime {
        Runtime::Process => rec.path().to_path_buf(),
        Runtime::Container(_) => Path::new("/rec").to_path_buf(),
    };
    let script = format!(
        "echo \"$JOB_COMPLETION_INDEX $POD\" >> {start}; sleep 0.05; echo \"$JOB_COMPLETION_INDEX $POD\" >> {done}",
        start = rec_in_pod.join("start").display(),
        done = rec_in_pod.join("done").display()
    );
    let mut manifest = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "campaign"},
        "spec": {
            "completionMode": "Indexed",
            "completions": plan.completions,
            "parallelism": plan.parallelism,
            "backoffLimitPerIndex": plan.supervisor_kills.max(1),
            "template": {"spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 0,
                "containers": [{
                    "name": "work", "image": "busybox",
                    "command": ["sh", "-c", script],
                    "env": [
                        {"name": mark_key, "value": mark_value},
                        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
                    ]
                }]
            }}
        }
    });
    if let Runtime::Container(_) = runtime {
        let spec = &mut manifest["spec"]["template"]["spec"];
        spec["volumes"] = json!([{"name": "rec", "hostPath": {"path": rec.path()}}]);
        spec["containers"][0]["imagePullPolicy"] = json!("IfNotPresent");
        spec["containers"][0]["volumeMounts"] = json!([{"name": "rec", "mountPath": "/rec"}]);
    }
    s.kubectl_stdin("1.33", &["apply", "-f", "-"], &manifest.to_string())
        .ok();

    // The schedule: engine kills while the first 80% of the work runs,
    // supervisor kills in the rest, each at a random instant after its
    // threshold of finished pods.
    let n = plan.completions;
    let mut schedule: Vec<(u64, Fault)> = Vec::new();
    let mut e: Vec<u64> = (0..plan.engine_kills)
        .map(|_| rng.range(n / 50, n * 8 / 10))
        .collect();
    e.sort();
    schedule.extend(e.into_iter().map(|t| (t, Fault::Engine)));
    let mut sv: Vec<u64> = (0..plan.supervisor_kills)
        .map(|_| rng.range(n * 8 / 10, n * 95 / 100))
        .collect();
    sv.sort();
    schedule.extend(sv.into_iter().map(|t| (t, Fault::Supervisor)));

    let started = Instant::now();
    let mut restart_times = Vec::new();
    let mut failed_before_supervisor_kills = None;
    let mut supervisor_kills = 0;
    for (threshold, fault) in &schedule {
        let mut last = (lines(&done_file), Instant::now());
        while lines(&done_file) < *threshold {
            let now = lines(&done_file);
            if now != last.0 {
                last = (now, Instant::now());
            }
            assert!(
                last.1.elapsed() < Duration::from_secs(120),
                "no progress for 2 minutes at {now} done (seed {seed})\n{}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.range(0, 150)));
        match fault {
            Fault::Engine => {
                s.kill9();
                std::thread::sleep(Duration::from_millis(rng.range(0, 200)));
                let t = Instant::now();
                s.restart();
                restart_times.push(t.elapsed());
            }
            Fault::Supervisor => {
                if failed_before_supervisor_kills.is_none() {
                    let j = job(&s).expect("the job");
                    failed_before_supervisor_kills =
                        Some(j["status"]["failed"].as_i64().unwrap_or(0));
                }
                let pid = s.wait_for("the supervisor", Duration::from_secs(30), || {
                    procs::supervisor_of(&node_dir)
                });
                // At an instant when a pod's process runs, so there is
                // something to lose.
                let deadline = Instant::now() + Duration::from_secs(30);
                while procs::with_env(&marker).is_empty() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                procs::kill9(pid);
                supervisor_kills += 1;
            }
        }
    }

    // However long the rest takes on a busy machine, as long as pods
    // keep finishing.
    let final_job = {
        let mut last = (lines(&done_file), None, Instant::now());
        loop {
            let j = job(&s);
            if let Some(j) = j.as_ref().filter(|j| complete(j)) {
                break j.clone();
            }
            let now = (
                lines(&done_file),
                j.map(|j| j["status"]["succeeded"].as_u64().unwrap_or(0)),
            );
            if (now.0, now.1) != (last.0, last.1) {
                last = (now.0, now.1, Instant::now());
            }
            assert!(
                last.2.elapsed() < Duration::from_secs(180),
                "the job made no progress for 3 minutes at {} done, status {:?} (seed {seed})\n{}",
                now.0,
                job(&s).map(|j| j["status"].clone()),
                s.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let wall = started.elapsed();
    let pods: Value = {
        let (code, body) = s.curl(
            "GET",
            "/api/v1/namespaces/default/pods?labelSelector=job-name%3Dcampaign",
            &[],
            None,
        );
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    if let Runtime::Container(_) = runtime {
        // Deleting the Job removes every container the engine made.
        s.kubectl(&["delete", "job", "campaign", "--cascade=foreground"])
            .ok();
        s.assert_no_containers();
    }
    // Stop the engine, then let the pods' last processes go.
    s.kill9();
    let data_dir = s.data_dir.path().to_path_buf();

    // --- the engine's account -------------------------------------------
    let st = &final_job["status"];
    assert_eq!(st["succeeded"].as_u64(), Some(n), "succeeded: {st}");
    assert_eq!(
        st["completedIndexes"].as_str(),
        Some(format!("0-{}", n - 1).as_str()),
        "completedIndexes: {st}"
    );
    assert!(st.get("failedIndexes").is_none_or(|f| f == ""), "{st}");
    assert_eq!(
        failed_before_supervisor_kills.unwrap_or(0),
        0,
        "engine kills alone failed pods (seed {seed})"
    );

    // Pods by index; exactly one succeeded per index.
    let mut succeeded_pod: HashMap<u64, String> = HashMap::new();
    let mut failed_pods: BTreeSet<String> = BTreeSet::new();
    let mut pod_index: HashMap<String, u64> = HashMap::new();
    for p in pods["items"].as_array().unwrap() {
        let name = p["metadata"]["name"].as_str().unwrap().to_string();
        let idx: u64 = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        pod_index.insert(name.clone(), idx);
        match p["status"]["phase"].as_str() {
            Some("Succeeded") => {
                let prev = succeeded_pod.insert(idx, name.clone());
                assert!(
                    prev.is_none(),
                    "index {idx} succeeded twice: {prev:?} and {name}"
                );
            }
            Some("Failed") => {
                let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
                assert_eq!(t["exitCode"], 137, "failed pod {name}: {t}");
                assert_eq!(
                    t["reason"], "ContainerStatusUnknown",
                    "failed pod {name}: {t}"
                );
                failed_pods.insert(name);
            }
            other => panic!("pod {name} in phase {other:?} after the Job completed"),
        }
    }
    assert_eq!(succeeded_pod.len() as u64, n);
    assert_eq!(
        st["failed"].as_u64().unwrap_or(0),
        failed_pods.len() as u64,
        "status.failed against the Failed pods"
    );
    assert!(
        supervisor_kills == 0 || !failed_pods.is_empty(),
        "{supervisor_kills} supervisor kills while pods ran, and no pod failed"
    );
    assert!(
        failed_pods.len() <= supervisor_kills * plan.parallelism as usize,
        "{} failed pods for {supervisor_kills} supervisor kills",
        failed_pods.len()
    );

    // --- the files' account ---------------------------------------------
    let starts = records(&start_file);
    let dones = records(&done_file);
    let mut runs_of_pod: HashMap<&str, u32> = HashMap::new();
    let mut starts_of_index: BTreeMap<u64, u32> = BTreeMap::new();
    for (i, p) in &starts {
        assert_eq!(
            pod_index.get(p),
            Some(i),
            "start record of an unknown pod {p}"
        );
        *runs_of_pod.entry(p).or_default() += 1;
        *starts_of_index.entry(*i).or_default() += 1;
    }
    let twice: Vec<_> = runs_of_pod.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        twice.is_empty(),
        "pods that ran their container twice: {twice:?}"
    );
    let mut done_of_index: HashMap<u64, Vec<&str>> = HashMap::new();
    for (i, p) in &dones {
        assert_eq!(
            pod_index.get(p),
            Some(i),
            "done record of an unknown pod {p}"
        );
        done_of_index.entry(*i).or_default().push(p);
    }
    let mut duplicate_successes = 0;
    for i in 0..n {
        let winner = &succeeded_pod[&i];
        let ds = done_of_index.get(&i).cloned().unwrap_or_default();
        assert!(
            ds.contains(&winner.as_str()),
            "index {i}: the succeeded pod {winner} left no done record ({ds:?})"
        );
        for d in ds.iter().filter(|d| **d != winner.as_str()) {
            assert!(
                failed_pods.contains(*d),
                "index {i}: done record of {d}, which neither succeeded nor failed"
            );
            duplicate_successes += 1;
        }
        let started = starts_of_index.get(&i).copied().unwrap_or(0);
        let failed_here = failed_pods.iter().filter(|p| pod_index[*p] == i).count() as u32;
        assert!(started >= 1, "index {i} never started");
        assert!(
            started <= 1 + failed_here,
            "index {i} started {started} times with {failed_here} failed pods"
        );
    }
    let restarted_indexes = starts_of_index.values().filter(|c| **c > 1).count();

    // --- nothing outlives its pod ---------------------------------------
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = procs::with_env(&marker);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "processes outlived their pods: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // --- the store is intact --------------------------------------------
    let db = rusqlite::Connection::open_with_flags(
        data_dir.join("joblite.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");

    let mean_restart = restart_times.iter().sum::<Duration>() / restart_times.len().max(1) as u32;
    println!(
        "crash campaign ({runtime:?}): seed {seed}; {n} completions at parallelism {}; {} engine kills \
         (restart to serving {:?} on average), {supervisor_kills} supervisor kills; \
         {} pods failed (lost with a supervisor), {} indexes started more than once, \
         {duplicate_successes} duplicate done records (all from lost pods); \
         succeeded {n}, lost 0, double-counted 0; {:.1?} wall",
        plan.parallelism,
        restart_times.len(),
        mean_restart,
        failed_pods.len(),
        restarted_indexes,
        wall
    );
}
