//! End-to-end tests of the node agent against a real store, a real
//! supervisor process and real host processes.
//!
//! The supervisor is this test binary re-executed to run only
//! `supervisor_entry`, which calls `node::supervisor_main` when the agent
//! started it (it sets `$JOBLITE_SUPERVISOR_DIR`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use api::resources::{NAMESPACES, PODS};
use futures::StreamExt;
use node::admission::Resources;
use node::{NodeConfig, NodeHandle};
use serde_json::{json, Value};
use store::{DeleteOptions, Store};

#[test]
fn supervisor_entry() {
    if let Ok(dir) = std::env::var("JOBLITE_SUPERVISOR_DIR") {
        node::supervisor_main(Path::new(&dir));
    }
}

struct Env {
    _tmp: tempfile::TempDir,
    store: Store,
    node_dir: PathBuf,
}

fn supervisor_command() -> Vec<OsString> {
    vec![
        std::env::current_exe().unwrap().into_os_string(),
        "supervisor_entry".into(),
        "--exact".into(),
        "--nocapture".into(),
        "--test-threads=1".into(),
    ]
}

async fn setup() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(
        tmp.path(),
        store::Options {
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
    let node_dir = tmp.path().join("node");
    Env {
        _tmp: tmp,
        store,
        node_dir,
    }
}

async fn start_agent(env: &Env) -> NodeHandle {
    start_agent_with(env, |_| {}).await
}

/// A fresh store and node directory with an agent running on them.
async fn setup_with_agent() -> (Env, NodeHandle) {
    let env = setup().await;
    let agent = start_agent(&env).await;
    (env, agent)
}

async fn start_agent_with(env: &Env, tweak: impl FnOnce(&mut NodeConfig)) -> NodeHandle {
    let mut cfg = NodeConfig::new(&env.node_dir, supervisor_command());
    tweak(&mut cfg);
    cfg.node_name = "testnode".into();
    cfg.allocatable = Some(Resources {
        cpu_millis: 2000,
        memory_bytes: 4 << 30,
    });
    node::run(env.store.clone(), cfg).await.unwrap()
}

fn pod(name: &str, policy: &str, mut containers: Value) -> Value {
    // The store validates pods as the API does: every container names an image.
    for c in containers.as_array_mut().into_iter().flatten() {
        if let Some(c) = c.as_object_mut() {
            c.entry("image").or_insert("busybox".into());
        }
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"restartPolicy": policy, "terminationGracePeriodSeconds": 30, "containers": containers},
    })
}

async fn wait_for(
    store: &Store,
    name: &str,
    timeout: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let t0 = Instant::now();
    loop {
        if let Ok(p) = store.get(&PODS, "default", name) {
            let v = p.value();
            if pred(&v) {
                return v;
            }
            if t0.elapsed() > timeout {
                panic!(
                    "timed out waiting for pod {name}: {}",
                    serde_json::to_string_pretty(&v).unwrap()
                );
            }
        } else if t0.elapsed() > timeout {
            panic!("timed out waiting for pod {name}: not found");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_gone(store: &Store, name: &str, timeout: Duration) -> Duration {
    let t0 = Instant::now();
    while store.get(&PODS, "default", name).is_ok() {
        assert!(t0.elapsed() < timeout, "pod {name} was not removed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t0.elapsed()
}

fn phase(p: &Value) -> &str {
    p.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn terminal(p: &Value) -> bool {
    matches!(phase(p), "Succeeded" | "Failed")
}

async fn logs(env: &Env, pod: &Value, opts: api::logs::LogOptions) -> String {
    let s = node::stream_logs(&env.node_dir, pod, opts).await.unwrap();
    let chunks: Vec<bytes::Bytes> = s.map(|c| c.unwrap()).collect().await;
    String::from_utf8(chunks.concat()).unwrap()
}

fn alive(pid: i32) -> bool {
    // A zombie would count as alive for kill(0); the supervisor reaps, so
    // a dead process disappears.
    rustix::process::Pid::from_raw(pid)
        .is_some_and(|p| rustix::process::test_kill_process(p).is_ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_run_to_completion_with_status_and_logs() {
    let (env, agent) = setup_with_agent().await;
    let s = &env.store;
    s.create(&PODS, pod("ok", "Never", json!([{"name": "c", "image": "busybox", "command": ["sh", "-c", "echo hello; echo $(GREETING) from $POD"],
        "env": [{"name": "GREETING", "value": "hi"}, {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]))).await.unwrap();
    s.create(
        &PODS,
        pod(
            "fail",
            "Never",
            json!([{"name": "c", "command": ["sh", "-c", "exit 3"]}]),
        ),
    )
    .await
    .unwrap();
    s.create(
        &PODS,
        pod(
            "missing",
            "Never",
            json!([{"name": "c", "command": ["/no/such/binary"]}]),
        ),
    )
    .await
    .unwrap();
    s.create(
        &PODS,
        pod(
            "noentry",
            "Never",
            json!([{"name": "c", "image": "busybox"}]),
        ),
    )
    .await
    .unwrap();

    let ok = wait_for(s, "ok", Duration::from_secs(10), terminal).await;
    assert_eq!(phase(&ok), "Succeeded", "{ok:#}");
    assert_eq!(ok["spec"]["nodeName"], "testnode");
    let t = &ok["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (t["exitCode"].as_i64(), t["reason"].as_str()),
        (Some(0), Some("Completed"))
    );
    assert!(t["containerID"].as_str().unwrap().starts_with("joblite://"));
    assert_eq!(ok["status"]["podIP"], "127.0.0.1");
    let ready = ok["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["reason"], "PodCompleted");
    assert_eq!(
        logs(&env, &ok, Default::default()).await,
        "hello\nhi from ok\n"
    );
    let tail = api::logs::LogOptions {
        tail_lines: Some(1),
        timestamps: true,
        ..Default::default()
    };
    let line = logs(&env, &ok, tail).await;
    assert!(
        line.ends_with("Z hi from ok\n") && line.starts_with("20"),
        "{line}"
    );

    let fail = wait_for(s, "fail", Duration::from_secs(10), terminal).await;
    // A run that printed nothing has an empty log.
    assert_eq!(logs(&env, &fail, Default::default()).await, "");
    assert_eq!(phase(&fail), "Failed");
    let t = &fail["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (t["exitCode"].as_i64(), t["reason"].as_str()),
        (Some(3), Some("Error"))
    );

    let missing = wait_for(s, "missing", Duration::from_secs(10), terminal).await;
    let t = &missing["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(t["reason"], "ContainerCannotRun");
    assert!(
        t["message"].as_str().unwrap().contains("/no/such/binary"),
        "{t}"
    );

    let noentry = wait_for(s, "noentry", Duration::from_secs(10), terminal).await;
    let t = &noentry["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(t["reason"], "ContainerCannotRun");
    assert!(t["message"].as_str().unwrap().contains("entrypoint"), "{t}");
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_restarts_in_place_then_backs_off() {
    let (env, agent) = setup_with_agent().await;
    let s = &env.store;
    // Fails on the first run, succeeds on the second (the working directory
    // is the pod's and survives restarts).
    s.create(&PODS, pod("flaky", "OnFailure", json!([{"name": "c", "command": ["sh", "-c", "echo run; if [ -f marker ]; then exit 0; fi; touch marker; exit 1"]}]))).await.unwrap();
    let p = wait_for(s, "flaky", Duration::from_secs(10), terminal).await;
    assert_eq!(phase(&p), "Succeeded");
    let cs = &p["status"]["containerStatuses"][0];
    assert_eq!(cs["restartCount"], 1);
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 1);
    let prev = api::logs::LogOptions {
        previous: true,
        ..Default::default()
    };
    assert_eq!(logs(&env, &p, prev).await, "run\n");

    // Always failing: restart 1 is immediate, then CrashLoopBackOff 10s.
    s.create(
        &PODS,
        pod(
            "crash",
            "OnFailure",
            json!([{"name": "c", "command": ["sh", "-c", "exit 2"]}]),
        ),
    )
    .await
    .unwrap();
    let p = wait_for(s, "crash", Duration::from_secs(10), |p| {
        p.pointer("/status/containerStatuses/0/state/waiting/reason")
            .and_then(Value::as_str)
            == Some("CrashLoopBackOff")
    })
    .await;
    let cs = &p["status"]["containerStatuses"][0];
    assert_eq!(cs["restartCount"], 1);
    let uid = p["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        cs["state"]["waiting"]["message"],
        format!("back-off 10s restarting failed container=c pod=crash_default({uid})")
    );
    assert_eq!(phase(&p), "Running");
    s.delete(&PODS, "default", "crash", DeleteOptions::default())
        .await
        .unwrap();
    wait_gone(s, "crash", Duration::from_secs(10)).await;
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_deletion_kills_the_process_tree() {
    let (env, agent) = setup_with_agent().await;
    let s = &env.store;
    // Traps SIGTERM and exits: removed well before its grace.
    s.create(&PODS, pod("polite", "Never", json!([{"name": "c", "command": ["sh", "-c", "sleep 1000 & echo $! > child.pid; trap 'exit 0' TERM; wait"]}]))).await.unwrap();
    // Ignores SIGTERM: killed at the deadline.
    s.create(&PODS, pod("stubborn", "Never", json!([{"name": "c", "command": ["sh", "-c", "trap '' TERM; sleep 1000 & echo $! > child.pid; wait"]}]))).await.unwrap();
    let mut pids = Vec::new();
    for name in ["polite", "stubborn"] {
        let p = wait_for(s, name, Duration::from_secs(10), |p| phase(p) == "Running").await;
        let uid = p["metadata"]["uid"].as_str().unwrap().to_string();
        let f = node::paths::pod_dir(&env.node_dir, "default", name, &uid).join("child.pid");
        let t0 = Instant::now();
        let pid = loop {
            if let Ok(s) = std::fs::read_to_string(&f) {
                if let Ok(pid) = s.trim().parse::<i32>() {
                    break pid;
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(alive(pid));
        pids.push(pid);
    }
    let grace = DeleteOptions {
        grace_period_seconds: Some(2),
        ..Default::default()
    };
    s.delete(&PODS, "default", "polite", grace.clone())
        .await
        .unwrap();
    s.delete(&PODS, "default", "stubborn", grace).await.unwrap();
    let polite = wait_gone(s, "polite", Duration::from_secs(10)).await;
    assert!(polite < Duration::from_millis(1500), "{polite:?}");
    let stubborn = wait_gone(s, "stubborn", Duration::from_secs(10)).await;
    assert!(stubborn >= Duration::from_millis(1500), "{stubborn:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    for pid in pids {
        assert!(!alive(pid), "grandchild {pid} survived its pod");
    }
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_containers_empty_dirs_deadlines_and_admission() {
    let (env, agent) = setup_with_agent().await;
    let s = &env.store;
    let root = rustix::process::geteuid().is_root();
    if root {
        let mut p = pod(
            "init",
            "Never",
            json!([{"name": "app", "command": ["sh", "-c", "cat /data/msg; hostname"], "volumeMounts": [{"name": "d", "mountPath": "/data"}]}]),
        );
        p["spec"]["initContainers"] = json!([{"name": "setup", "image": "busybox", "command": ["sh", "-c", "echo from-init > /data/msg"], "volumeMounts": [{"name": "d", "mountPath": "/data"}]}]);
        p["spec"]["volumes"] = json!([{"name": "d", "emptyDir": {}}]);
        p["spec"]["hostname"] = json!("web-0");
        s.create(&PODS, p).await.unwrap();
        let p = wait_for(s, "init", Duration::from_secs(10), terminal).await;
        assert_eq!(phase(&p), "Succeeded", "{p:#}");
        assert_eq!(
            p["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
        let o = api::logs::LogOptions {
            container: Some("app".into()),
            ..Default::default()
        };
        assert_eq!(logs(&env, &p, o).await, "from-init\nweb-0\n");
    } else {
        eprintln!("skipping emptyDir-at-/data: needs root for a private mount namespace");
    }

    let mut p = pod(
        "deadline",
        "Never",
        json!([{"name": "c", "command": ["sleep", "100"]}]),
    );
    p["spec"]["activeDeadlineSeconds"] = json!(1);
    s.create(&PODS, p).await.unwrap();
    let p = wait_for(s, "deadline", Duration::from_secs(10), terminal).await;
    assert_eq!(phase(&p), "Failed");
    assert_eq!(p["status"]["reason"], "DeadlineExceeded");
    assert_eq!(
        p["status"]["message"],
        "Pod was active on the node longer than the specified deadline"
    );

    s.create(
        &PODS,
        pod(
            "huge",
            "Never",
            json!([{"name": "c", "command": ["true"], "resources": {"requests": {"cpu": "100"}}}]),
        ),
    )
    .await
    .unwrap();
    let p = wait_for(s, "huge", Duration::from_secs(10), |p| {
        p.pointer("/status/conditions/0/reason").is_some()
    })
    .await;
    assert_eq!(phase(&p), "Pending");
    let c = &p["status"]["conditions"][0];
    assert_eq!(
        (
            c["type"].as_str(),
            c["status"].as_str(),
            c["reason"].as_str()
        ),
        (Some("PodScheduled"), Some("False"), Some("Unschedulable"))
    );
    assert_eq!(c["message"], "0/1 nodes are available: 1 Insufficient cpu.");
    assert!(p["spec"].get("nodeName").is_none());
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_limit_oom_kills() {
    let cg = node::cgroups::Cgroups::detect();
    if let Some(why) = cg.unavailable.as_ref().filter(|_| cg.memory.is_none()) {
        eprintln!("skipping: no writable memory cgroup ({why})");
        return;
    }
    let (env, agent) = setup_with_agent().await;
    let s = &env.store;
    s.create(&PODS, pod("oom", "Never", json!([{"name": "c", "command": ["tail", "/dev/zero"], "resources": {"limits": {"memory": "32Mi"}}}]))).await.unwrap();
    let p = wait_for(s, "oom", Duration::from_secs(20), terminal).await;
    let t = &p["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (t["exitCode"].as_i64(), t["reason"].as_str()),
        (Some(137), Some("OOMKilled")),
        "{p:#}"
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_survive_an_agent_restart_and_run_once() {
    let (env, agent) = setup_with_agent().await;
    let s = &env.store;
    for i in 0..5 {
        s.create(
            &PODS,
            pod(
                &format!("sleeper-{i}"),
                "Never",
                json!([{"name": "c", "command": ["sh", "-c", "echo started >> runs; sleep 1.5"]}]),
            ),
        )
        .await
        .unwrap();
    }
    for i in 0..5 {
        wait_for(s, &format!("sleeper-{i}"), Duration::from_secs(10), |p| {
            phase(p) == "Running"
        })
        .await;
    }
    // The agent dies (as with the server); the supervisor keeps the pods.
    agent.shutdown().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let agent = start_agent(&env).await;
    for i in 0..5 {
        let name = format!("sleeper-{i}");
        let p = wait_for(s, &name, Duration::from_secs(10), terminal).await;
        assert_eq!(phase(&p), "Succeeded", "{p:#}");
        let cs = &p["status"]["containerStatuses"][0];
        assert_eq!(
            (
                cs["restartCount"].as_i64(),
                cs["state"]["terminated"]["exitCode"].as_i64()
            ),
            (Some(0), Some(0))
        );
        let uid = p["metadata"]["uid"].as_str().unwrap();
        let runs = std::fs::read_to_string(
            node::paths::pod_dir(&env.node_dir, "default", &name, uid).join("runs"),
        )
        .unwrap();
        assert_eq!(runs, "started\n", "pod {name} ran more than once");
    }
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_short_pods_complete_quickly() {
    // The benchmark's shape: a Job of /bin/true at parallelism 8 — a new pod
    // is created as soon as one finishes.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .try_init();
    }
    let (env, agent) = setup_with_agent().await;
    let s = &env.store;
    let n = 400usize;
    let parallelism = 8;
    let (_, mut w) = s.list_and_watch(&PODS, Some("default")).unwrap();
    let t0 = Instant::now();
    let mut created = 0;
    let mut finished = std::collections::HashSet::new();
    while created < parallelism {
        s.create(
            &PODS,
            pod(
                &format!("t-{created}"),
                "Never",
                json!([{"name": "c", "command": ["/bin/true"]}]),
            ),
        )
        .await
        .unwrap();
        created += 1;
    }
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    while finished.len() < n {
        let ev = tokio::time::timeout(Duration::from_secs(20), w.next())
            .await
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_slice(&ev.object).unwrap();
        *kinds
            .entry(format!("{} {}", ev.kind.as_str(), phase(&v)))
            .or_default() += 1;
        if terminal(&v)
            && finished.insert(v["metadata"]["name"].as_str().unwrap().to_string())
            && created < n
        {
            s.create(
                &PODS,
                pod(
                    &format!("t-{created}"),
                    "Never",
                    json!([{"name": "c", "command": ["/bin/true"]}]),
                ),
            )
            .await
            .unwrap();
            created += 1;
        }
    }
    let el = t0.elapsed();
    eprintln!(
        "{n} pods of /bin/true at parallelism {parallelism} in {el:?} ({:.0} pods/s)",
        n as f64 / el.as_secs_f64()
    );
    eprintln!("pod events: {kinds:?}");
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_pod_costs_few_status_writes() {
    let (env, agent) = setup_with_agent().await;
    let s = &env.store;
    let mut phases_per_pod = Vec::new();
    for i in 0..5 {
        let name = format!("quick-{i}");
        let created = s
            .create(
                &PODS,
                pod(
                    &name,
                    "Never",
                    json!([{"name": "c", "command": ["/bin/true"]}]),
                ),
            )
            .await
            .unwrap();
        let mut w = s.watch(&PODS, Some("default"), created.rev).unwrap();
        let mut phases = Vec::new();
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(10), w.next())
                .await
                .unwrap()
                .unwrap();
            let v: Value = serde_json::from_slice(&ev.object).unwrap();
            if v["metadata"]["name"] != name.as_str() {
                continue;
            }
            phases.push(phase(&v).to_string());
            if terminal(&v) {
                break;
            }
        }
        phases_per_pod.push(phases);
    }
    eprintln!("status writes per pod: {phases_per_pod:?}");
    let writes: usize = phases_per_pod.iter().map(Vec::len).sum();
    assert!(writes <= 10, "{phases_per_pod:?}");
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_round_trip_latency() {
    use node::runtime::RuntimeEvent;
    let env = setup().await;
    let (rt, mut ev) = node::runtime::process::connect(&env.node_dir, &supervisor_command())
        .await
        .unwrap();
    assert!(matches!(ev.recv().await, Some(RuntimeEvent::Snapshot(_))));
    let n: usize = std::env::var("SUP_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut lat = Vec::new();
    let t_all = Instant::now();
    for i in 0..n {
        let t0 = Instant::now();
        rt.start_spec(node::protocol::StartSpec {
            id: format!("u_c_{i}"),
            path: "/bin/true".into(),
            args: vec!["/bin/true".into()],
            cwd: "/".into(),
            log_path: env
                .node_dir
                .join(format!("l/{i}.log"))
                .to_string_lossy()
                .into_owned(),
            ..Default::default()
        });
        let mut started = None;
        loop {
            match ev.recv().await.unwrap() {
                RuntimeEvent::Started { .. } => started = Some(t0.elapsed()),
                RuntimeEvent::Exited(x) => {
                    assert_eq!(x.exit_code, 0);
                    break;
                }
                _ => {}
            }
        }
        lat.push((started.unwrap(), t0.elapsed()));
    }
    lat.sort();
    eprintln!(
        "supervisor: {n} sequential /bin/true in {:?}; median start {:?}, median exit {:?}, max exit {:?}",
        t_all.elapsed(),
        lat[n / 2].0,
        lat.iter().map(|l| l.1).collect::<Vec<_>>()[n / 2],
        lat.iter().map(|l| l.1).max().unwrap()
    );
    for i in 0..n {
        node::runtime::Runtime::forget(&*rt, &format!("u_c_{i}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_admitted_but_not_yet_written_survives_an_agent_restart() {
    let env = setup().await;
    // The agent dies before its first status write: the store still has the
    // pod unbound while the supervisor runs it.
    let agent = start_agent_with(&env, |c| c.status_write_interval = Duration::from_secs(60)).await;
    let s = &env.store;
    s.create(
        &PODS,
        pod(
            "unbound",
            "Never",
            json!([{"name": "c", "command": ["sh", "-c", "echo started >> runs; sleep 1"]}]),
        ),
    )
    .await
    .unwrap();
    let uid = s.get(&PODS, "default", "unbound").unwrap().value()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let runs = node::paths::pod_dir(&env.node_dir, "default", "unbound", &uid).join("runs");
    let t0 = Instant::now();
    while !runs.exists() {
        assert!(t0.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(s.get(&PODS, "default", "unbound").unwrap().value()["spec"]
        .get("nodeName")
        .is_none());
    agent.shutdown().await;
    let agent = start_agent(&env).await;
    let p = wait_for(s, "unbound", Duration::from_secs(10), terminal).await;
    assert_eq!(phase(&p), "Succeeded", "{p:#}");
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "started\n");
    agent.shutdown().await;
}
