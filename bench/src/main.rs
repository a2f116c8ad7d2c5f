//! joblite benchmarks. Each one runs its baseline in the same run and
//! prints the ratio; results go to `bench/results.json`.
//!
//! Usage: `cargo run --release -p bench -- [throughput|latency|cold-start|memory|logs|exec|attach|idle|scale|dashboard|all]`
//! (the joblite binary is built in release mode first by `cargo build --release -p joblite`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::{json, Value};

/// A `joblite serve` started for one benchmark.
struct Engine {
    dir: tempfile::TempDir,
    child: Child,
    client: kube::Client,
}

impl Engine {
    async fn start(joblite: &Path) -> Result<Engine> {
        // The process runtime even where a container engine answers
        // (`auto` would pick it, and these Jobs' image `none` never pulls).
        Engine::start_with(joblite, &["--runtime", "process"]).await
    }

    /// An engine with more `serve` flags.
    async fn start_with(joblite: &Path, flags: &[&str]) -> Result<Engine> {
        let dir = tempfile::tempdir()?;
        let log = match std::env::var_os("BENCH_ENGINE_LOG") {
            Some(p) => std::fs::File::create(p)?,
            None => std::fs::File::create(dir.path().join("engine.log"))?,
        };
        let child = Command::new(joblite)
            .args(["serve", "--port", "0", "--data-dir"])
            .arg(dir.path())
            .args(flags)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting joblite serve")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !dir.path().join("engine.json").exists() {
            if Instant::now() > deadline {
                bail!("engine did not start");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let kc = kube::config::Kubeconfig::read_from(dir.path().join("kubeconfig"))?;
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await?;
        let client = kube::Client::try_from(config)?;
        Ok(Engine { dir, child, client })
    }

    fn rss_kib(&self) -> u64 {
        rss_kib(self.child.id())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The supervisor outlives the engine by design; stop it too.
        let _ = Command::new("pkill")
            .arg("-f")
            .arg(format!(
                "supervise {}",
                self.dir.path().join("node").display()
            ))
            .status();
    }
}

/// CPU seconds (user + system) used so far by `pid` and its live
/// descendants, from `/proc/PID/stat` (fields 14 and 15, in USER_HZ
/// ticks, which is 100 on Linux).
fn tree_cpu_seconds(pid: u32) -> f64 {
    tree_cpu_by_process(pid).values().sum()
}

/// CPU seconds of `pid` and its live descendants, summed per process kind:
/// Chromium's `--type=` (renderer, gpu-process, utility…), else the
/// program name.
fn tree_cpu_by_process(pid: u32) -> std::collections::BTreeMap<String, f64> {
    let mut parent = std::collections::HashMap::new();
    let mut ticks = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // The command name may hold spaces: fields start after its `)`.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let (Some(pp), Some(ut), Some(st)) = (f.get(1), f.get(11), f.get(12)) else {
            continue;
        };
        parent.insert(p, pp.parse::<u32>().unwrap_or(0));
        ticks.insert(
            p,
            ut.parse::<u64>().unwrap_or(0) + st.parse::<u64>().unwrap_or(0),
        );
    }
    let in_tree = |mut p: u32| loop {
        if p == pid {
            return true;
        }
        match parent.get(&p) {
            Some(&pp) if pp != 0 && pp != p => p = pp,
            _ => return false,
        }
    };
    let mut by = std::collections::BTreeMap::new();
    for (p, t) in ticks.iter().filter(|(p, _)| in_tree(**p)) {
        let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            // Chromium rewrites its command line as one space-separated
            // string.
            .split(|b| *b == 0 || *b == b' ')
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let kind = args
            .iter()
            .find_map(|a| a.strip_prefix("--type=").map(str::to_string))
            .or_else(|| {
                args.first()
                    .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
            })
            .unwrap_or_default();
        *by.entry(kind).or_insert(0.0) += *t as f64 / 100.0;
    }
    by
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn true_job(name: &str, completions: i64, parallelism: i64, indexed: bool) -> Job {
    let mut spec = json!({
        "completions": completions,
        "parallelism": parallelism,
        "backoffLimit": 0,
        "template": {"spec": {
            "containers": [{"name": "t", "image": "none", "command": ["/bin/true"]}],
            "restartPolicy": "Never"
        }}
    });
    if indexed {
        spec["completionMode"] = json!("Indexed");
    }
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name}, "spec": spec
    }))
    .expect("valid job")
}

/// Creates a Job and waits (by watch) until it is Complete or Failed.
async fn run_job(client: &kube::Client, job: Job) -> Result<(Duration, Job)> {
    let api: Api<Job> = Api::namespaced(client.clone(), "default");
    let name = job.metadata.name.clone().unwrap_or_default();
    let t0 = Instant::now();
    let created = api.create(&PostParams::default(), &job).await?;
    let mut rv = created
        .metadata
        .resource_version
        .clone()
        .unwrap_or_default();
    let wp = WatchParams::default().fields(&format!("metadata.name={name}"));
    // Watches end after their timeout (kube asks for 290 s); resume from the
    // last revision seen, as any client does.
    for _ in 0..1000 {
        let mut stream = api.watch(&wp, &rv).await?.boxed();
        while let Some(ev) = stream.try_next().await? {
            match ev {
                WatchEvent::Modified(j) => {
                    rv = j.metadata.resource_version.clone().unwrap_or(rv);
                    let done = j
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| {
                            c.iter().any(|c| {
                                (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True"
                            })
                        });
                    if done {
                        return Ok((t0.elapsed(), j));
                    }
                }
                WatchEvent::Bookmark(b) => rv = b.metadata.resource_version,
                _ => {}
            }
        }
    }
    bail!("watch ended before {name} finished")
}

fn succeeded(j: &Job) -> i32 {
    j.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0)
}

fn xargs_baseline(n: usize, p: usize) -> Result<Duration> {
    let t0 = Instant::now();
    let mut child = Command::new("xargs")
        .args(["-0", "-n", "1", "-P", &p.to_string(), "/bin/true"])
        .stdin(Stdio::piped())
        .spawn()?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let items = "x\0".repeat(n);
        stdin.write_all(items.as_bytes())?;
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("xargs failed");
    }
    Ok(t0.elapsed())
}

async fn throughput(joblite: &Path, n: i64) -> Result<Value> {
    let base = xargs_baseline(n as usize, 2)?;
    let e = Engine::start(joblite).await?;
    let (took, job) = run_job(&e.client, true_job("throughput", n, 8, false)).await?;
    let ok = succeeded(&job) as i64 == n;
    let rss_after = e.rss_kib();
    let pods = e.client.clone();
    let pod_api: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(pods, "default");
    let mut committed = 0;
    let mut lp = ListParams::default().limit(500);
    loop {
        let page = pod_api.list(&lp).await?;
        committed += page
            .items
            .iter()
            .filter(|p| {
                p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded")
                    && p.metadata.finalizers.as_ref().is_none_or(|f| f.is_empty())
            })
            .count();
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    let joblite_rate = n as f64 / took.as_secs_f64();
    let xargs_rate = n as f64 / base.as_secs_f64();
    println!(
        "throughput: {n} x /bin/true at parallelism 8: joblite {:.0} pods/s ({:.2}s), xargs -P2 {:.0}/s ({:.2}s), ratio {:.2}; succeeded={} committed pods={} all counted={}",
        joblite_rate,
        took.as_secs_f64(),
        xargs_rate,
        base.as_secs_f64(),
        joblite_rate / xargs_rate,
        succeeded(&job),
        committed,
        ok
    );
    Ok(json!({
        "completions": n, "parallelism": 8,
        "joblite_seconds": took.as_secs_f64(), "joblite_pods_per_second": joblite_rate,
        "xargs_p2_seconds": base.as_secs_f64(), "xargs_p2_per_second": xargs_rate,
        "ratio": joblite_rate / xargs_rate, "target_ratio": 0.6,
        "succeeded": succeeded(&job), "succeeded_pods_listed": committed,
        "rss_after_kib": rss_after,
    }))
}

/// A Job of `busybox true` pods for the container runtime.
fn container_job(name: &str, completions: i64, parallelism: i64) -> Job {
    let mut j = true_job(name, completions, parallelism, false);
    let c = &mut j
        .spec
        .as_mut()
        .expect("spec")
        .template
        .spec
        .as_mut()
        .expect("pod spec")
        .containers[0];
    c.image = Some(CONTAINER_IMAGE.into());
    c.image_pull_policy = Some("IfNotPresent".into());
    c.command = Some(vec!["true".into()]);
    j
}

/// The image the container benchmarks run (the rig's busybox).
const CONTAINER_IMAGE: &str = "localhost/busybox:latest";

/// `podman run --rm IMAGE true` once, with the storage and configuration
/// of the engine joblite uses (the environment of
/// `scripts/container-rig.sh env`).
fn podman_run_true() -> Result<Duration> {
    let t0 = Instant::now();
    let st = Command::new("podman")
        .args(["run", "--rm", CONTAINER_IMAGE, "true"])
        .stdout(Stdio::null())
        .status()?;
    if !st.success() {
        bail!("podman run failed");
    }
    Ok(t0.elapsed())
}

/// The container runtime (issue 9): P6, a one-pod Job from create to
/// Complete, against `podman run --rm IMAGE true`; and 200 `true` pods at
/// parallelism 8 against `xargs -P2 podman run --rm IMAGE true`, each
/// baseline in the same run on the same engine. Needs the rig's
/// environment (`eval "$(scripts/container-rig.sh env DIR)"`).
/// `BENCH_CONTAINER_THROUGHPUT` sets the throughput Job's size (0: P6
/// alone); `BENCH_ENGINE_LOG` keeps the engine's log in that file.
async fn container(joblite: &Path, runs: usize, n: usize) -> Result<Value> {
    if std::env::var_os("DOCKER_HOST").is_none() {
        bail!("container: set DOCKER_HOST (eval \"$(scripts/container-rig.sh env DIR)\")");
    }
    let e = Engine::start_with(joblite, &["--runtime", "container"]).await?;
    // Warm both paths once (the sandbox image, the page cache).
    run_job(&e.client, container_job("warm", 1, 1)).await?;
    podman_run_true()?;
    let mut joblite_s = Vec::new();
    let mut podman_s = Vec::new();
    for i in 0..runs {
        let (took, job) = run_job(&e.client, container_job(&format!("p6-{i}"), 1, 1)).await?;
        if succeeded(&job) != 1 {
            bail!("p6-{i} did not succeed");
        }
        joblite_s.push(took.as_secs_f64());
        podman_s.push(podman_run_true()?.as_secs_f64());
    }
    let (j50, _, _) = percentiles(joblite_s);
    let (p50, _, _) = percentiles(podman_s);
    println!(
        "container P6: one-pod Job create -> Complete p50 {:.0} ms vs podman run --rm p50 {:.0} ms, ratio {:.2} ({runs} runs each)",
        j50 * 1e3,
        p50 * 1e3,
        j50 / p50
    );

    if n == 0 {
        return Ok(json!({
            "p6_runs": runs, "p6_joblite_p50_seconds": j50, "p6_podman_run_p50_seconds": p50,
            "p6_ratio": j50 / p50, "p6_target_ratio": 1.2,
        }));
    }
    let (took, job) = run_job(&e.client, container_job("throughput", n as i64, 8)).await?;
    if succeeded(&job) as usize != n {
        bail!("container throughput: {} of {n} succeeded", succeeded(&job));
    }
    drop(e);
    let t0 = Instant::now();
    let mut child = Command::new("xargs")
        // The same `podman run` as P6's baseline: the rig's storage and
        // configuration, from the environment.
        .args([
            "-P2",
            "-I{}",
            "podman",
            "run",
            "--rm",
            CONTAINER_IMAGE,
            "true",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all("x\n".repeat(n).as_bytes())?;
    }
    if !child.wait()?.success() {
        bail!("xargs podman run failed");
    }
    let base = t0.elapsed();
    let (jr, xr) = (n as f64 / took.as_secs_f64(), n as f64 / base.as_secs_f64());
    println!(
        "container throughput: {n} x true at parallelism 8: joblite {jr:.1} pods/s ({:.1}s), xargs -P2 podman run --rm {xr:.1}/s ({:.1}s), ratio {:.2}",
        took.as_secs_f64(),
        base.as_secs_f64(),
        jr / xr
    );
    Ok(json!({
        "p6_runs": runs, "p6_joblite_p50_seconds": j50, "p6_podman_run_p50_seconds": p50,
        "p6_ratio": j50 / p50, "p6_target_ratio": 1.2,
        "throughput_completions": n, "throughput_parallelism": 8,
        "joblite_seconds": took.as_secs_f64(), "joblite_pods_per_second": jr,
        "xargs_p2_podman_run_seconds": base.as_secs_f64(), "xargs_p2_podman_run_per_second": xr,
        "throughput_ratio": jr / xr,
    }))
}

/// The throughput Job with and without the process runtime's routine
/// kubelet events (`serve --routine-events`), alternating on fresh engines
/// in one run; the ratio is events-on over events-off.
async fn throughput_events(joblite: &Path, n: i64, pairs: usize) -> Result<Value> {
    let mut off = Vec::new();
    let mut on = Vec::new();
    for i in 0..pairs {
        let events = ["--runtime", "process", "--routine-events"];
        for (flags, into) in [(&events[..2], &mut off), (&events[..], &mut on)] {
            let e = Engine::start_with(joblite, flags).await?;
            let (took, job) =
                run_job(&e.client, true_job(&format!("events-{i}"), n, 8, false)).await?;
            if succeeded(&job) as i64 != n {
                bail!("{} of {n} succeeded", succeeded(&job));
            }
            if flags.contains(&"--routine-events") {
                // The events are really there: Started, one per pod.
                let events: Api<k8s_openapi::api::core::v1::Event> =
                    Api::namespaced(e.client.clone(), "default");
                let lp = ListParams::default().fields("reason=Started").limit(1);
                if events.list(&lp).await?.items.is_empty() {
                    bail!("--routine-events recorded no Started event");
                }
            }
            into.push(n as f64 / took.as_secs_f64());
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (off_rate, on_rate) = (mean(&off), mean(&on));
    println!(
        "throughput-events: {n} x /bin/true at parallelism 8, {pairs} pairs: events off {off_rate:.0} pods/s {off:.0?}, --routine-events {on_rate:.0} pods/s {on:.0?}, ratio on/off {:.2}",
        on_rate / off_rate
    );
    Ok(json!({
        "completions": n, "parallelism": 8, "pairs": pairs,
        "events_off_pods_per_second": off, "routine_events_pods_per_second": on,
        "ratio_on_over_off": on_rate / off_rate,
    }))
}

/// Headless Chromium showing the dashboard's view of Job `job` (logged in
/// through `joblite dashboard`'s one-time link); killed on drop.
struct Watcher {
    child: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn open_dashboard(joblite: &Path, e: &Engine, job: &str) -> Result<Watcher> {
    let out = Command::new(joblite)
        .args(["dashboard", "--no-open", "--data-dir"])
        .arg(e.dir.path())
        .output()?;
    if !out.status.success() {
        bail!(
            "joblite dashboard: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let url = format!(
        "{}&next=%23%2Fjobs%2Fdefault%2F{job}",
        String::from_utf8(out.stdout)?.trim()
    );
    let profile = tempfile::tempdir()?;
    let child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--ignore-certificate-errors",
            "--remote-debugging-port=0",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(&url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting chromium (apt-get install chromium)")?;
    let w = Watcher {
        child,
        _profile: profile,
    };
    // Logged in and following the Job: its watch shows in the API's
    // long-running requests.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let req = http::Request::get("/metrics").body(Vec::new())?;
        let text = e.client.request_text(req).await?;
        let watching = text.lines().any(|l| {
            l.starts_with("apiserver_longrunning_requests{")
                && l.contains("resource=\"jobs\"")
                && l.contains("verb=\"WATCH\"")
                && !l.ends_with(" 0")
        });
        if watching {
            return Ok(w);
        }
        if Instant::now() > deadline {
            bail!("the dashboard did not start watching");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The dashboard's cost: the throughput Job with and without a headless
/// Chromium showing that Job's view (its pods table follows all 10,000
/// pods), alternating on fresh engines in one run.
async fn dashboard(joblite: &Path, n: i64, pairs: usize) -> Result<Value> {
    let mut without = Vec::new();
    let mut with = Vec::new();
    for _ in 0..pairs {
        for watched in [false, true] {
            let e = Engine::start(joblite).await?;
            let _w = if watched {
                Some(open_dashboard(joblite, &e, "throughput").await?)
            } else {
                None
            };
            let engine_cpu0 = tree_cpu_seconds(e.child.id());
            let browser_cpu0 = _w.as_ref().map(|w| tree_cpu_by_process(w.child.id()));
            let (took, job) = run_job(&e.client, true_job("throughput", n, 8, false)).await?;
            if succeeded(&job) as i64 != n {
                bail!("throughput job finished with {} succeeded", succeeded(&job));
            }
            let rate = n as f64 / took.as_secs_f64();
            let engine_cpu = tree_cpu_seconds(e.child.id()) - engine_cpu0;
            let browser = match (&_w, browser_cpu0) {
                (Some(w), Some(c0)) => {
                    let c1 = tree_cpu_by_process(w.child.id());
                    let parts: Vec<String> = c1
                        .iter()
                        .map(|(k, v)| (k, v - c0.get(k).copied().unwrap_or(0.0)))
                        .filter(|(_, d)| *d >= 0.05)
                        .map(|(k, d)| format!("{k} {d:.1}"))
                        .collect();
                    let total: f64 = c1.values().sum::<f64>() - c0.values().sum::<f64>();
                    format!(", browser {total:.1} s: {}", parts.join(", "))
                }
                _ => String::new(),
            };
            println!(
                "dashboard: {n} pods {} a browser watching: {rate:.0} pods/s ({:.2}s; CPU: engine {engine_cpu:.1} s{browser})",
                if watched { "with" } else { "without" },
                took.as_secs_f64()
            );
            if watched {
                with.push(rate)
            } else {
                without.push(rate)
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (a, b) = (mean(&without), mean(&with));
    let cost = (a - b) / a;
    println!(
        "dashboard: without {a:.0} pods/s, with a browser on the Job view {b:.0} pods/s: costs {:.1}% (target < 10%)",
        cost * 100.0
    );
    Ok(json!({
        "completions": n, "pairs": pairs,
        "without_pods_per_second": without, "with_pods_per_second": with,
        "cost_fraction": cost, "target_fraction": 0.10,
    }))
}

async fn latency(joblite: &Path, runs: usize) -> Result<Value> {
    let e = Engine::start(joblite).await?;
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs {
        let (took, job) = run_job(&e.client, true_job(&format!("lat-{i}"), 1, 1, false)).await?;
        if succeeded(&job) != 1 {
            bail!("lat-{i} did not succeed");
        }
        samples.push(took.as_secs_f64() * 1000.0);
    }
    let (p50, p99, _) = percentiles(samples);
    // Baseline: spawning /bin/true and waiting, in this process.
    let t0 = Instant::now();
    for _ in 0..runs {
        Command::new("/bin/true").status()?;
    }
    let spawn_ms = t0.elapsed().as_secs_f64() * 1000.0 / runs as f64;
    println!(
        "latency: create -> Complete of a one-pod /bin/true Job over {runs} runs: p50 {p50:.1} ms (target <= 10), p99 {p99:.1} ms (spawn+wait of /bin/true: {spawn_ms:.2} ms)"
    );
    Ok(
        json!({"runs": runs, "p50_ms": p50, "p99_ms": p99, "target_p50_ms": 10,
              "baseline_spawn_ms": spawn_ms}),
    )
}

async fn cold_start(joblite: &Path, runs: usize) -> Result<Value> {
    let mut samples = Vec::new();
    for i in 0..runs {
        let dir = tempfile::tempdir()?;
        let t0 = Instant::now();
        let status = Command::new(joblite)
            .args([
                "run",
                &format!("cold-{i}"),
                "--image",
                "none",
                "-i",
                "--command",
                "--",
                "/bin/true",
            ])
            .env("JOBLITE_DATA_DIR", dir.path())
            .env_remove("KUBECONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        let took = t0.elapsed().as_secs_f64() * 1000.0;
        let _ = Command::new(joblite)
            .arg("stop")
            .env("JOBLITE_DATA_DIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("pkill")
            .arg("-f")
            .arg(format!("supervise {}", dir.path().join("node").display()))
            .status();
        if !status.success() {
            bail!("joblite run -i failed ({status})");
        }
        samples.push(took);
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = samples[samples.len() / 2];
    println!("cold start: `joblite run ... -i -- /bin/true` with no engine, to exit: median {median:.0} ms over {runs} runs");
    Ok(json!({"runs": runs, "median_ms": median, "samples_ms": samples, "target_ms": 150}))
}

async fn memory(joblite: &Path) -> Result<Value> {
    let e = Engine::start(joblite).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = e.rss_kib();
    let (_, job) = run_job(&e.client, true_job("mem", 10_000, 8, false)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = e.rss_kib();
    println!(
        "memory: server RSS idle {:.1} MiB (target 25), after 10,000 finished pods {:.1} MiB (target 80); succeeded={}",
        idle as f64 / 1024.0,
        after as f64 / 1024.0,
        succeeded(&job)
    );
    Ok(
        json!({"idle_mib": idle as f64 / 1024.0, "after_10k_pods_mib": after as f64 / 1024.0,
              "target_idle_mib": 25, "target_after_mib": 80}),
    )
}

/// CPU seconds (user + system, all threads) `pid` used so far, from
/// `/proc/PID/stat`; 0 once it is gone.
fn proc_cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (tick(11) + tick(12)) as f64 / 100.0
}

/// The engine's supervisor process(es): `joblite supervise <data>/node`.
fn supervisor_pids(e: &Engine) -> Vec<u32> {
    let want = format!("supervise\0{}", e.dir.path().join("node").display());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        // Arguments are NUL-separated.
        if String::from_utf8_lossy(&cmdline).contains(&want) {
            pids.push(p);
        }
    }
    pids
}

/// Server and supervisor CPU seconds over `window`, measured from
/// `/proc/PID/stat` of the engine's own processes (not their pods', not
/// wall time: the machine may be shared).
async fn engine_cpu(e: &Engine, window: Duration) -> (f64, f64) {
    let server = e.child.id();
    let sups = supervisor_pids(e);
    let s0 = proc_cpu_seconds(server);
    let p0: f64 = sups.iter().map(|p| proc_cpu_seconds(*p)).sum();
    tokio::time::sleep(window).await;
    let s1 = proc_cpu_seconds(server);
    let p1: f64 = sups.iter().map(|p| proc_cpu_seconds(*p)).sum();
    (s1 - s0, p1 - p0)
}

/// A Job of `n` pods that each `sleep 3600`, all at once.
fn sleep_job(name: &str, n: i64) -> Job {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name},
        "spec": {"completions": n, "parallelism": n, "backoffLimit": 0,
            "template": {"spec": {
                "containers": [{"name": "s", "image": "none", "command": ["sleep", "3600"]}],
                "restartPolicy": "Never"}}}
    }))
    .expect("valid job")
}

/// Pods of Job `name` in `phase`.
async fn pods_in_phase(e: &Engine, job: &str, phase: &str) -> Result<usize> {
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(e.client.clone(), "default");
    let list = pods
        .list(&ListParams::default().labels(&format!("job-name={job}")))
        .await?;
    Ok(list
        .items
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(phase))
        .count())
}

/// Engine CPU (server plus supervisor) over `secs` with no pods, then with
/// `n` running `sleep` pods. An idle engine should wake on events, not on
/// timers.
async fn idle(joblite: &Path, secs: u64, n: i64) -> Result<Value> {
    let window = Duration::from_secs(secs);
    let e = Engine::start(joblite).await?;
    // Let start-up (registration, the supervisor's start) settle.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (idle_server, idle_sup) = engine_cpu(&e, window).await;

    let jobs: Api<Job> = Api::namespaced(e.client.clone(), "default");
    jobs.create(&PostParams::default(), &sleep_job("sleepers", n))
        .await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while pods_in_phase(&e, "sleepers", "Running").await? < n as usize {
        if Instant::now() > deadline {
            bail!("{n} sleep pods did not all run within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (pods_server, pods_sup) = engine_cpu(&e, window).await;
    let running = pods_in_phase(&e, "sleepers", "Running").await?;

    // Stop the sleepers before the engine goes (they would outlive it).
    let dp = kube::api::DeleteParams {
        propagation_policy: Some(kube::api::PropagationPolicy::Background),
        ..Default::default()
    };
    jobs.delete("sleepers", &dp).await?;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(e.client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !pods.list(&ListParams::default()).await?.items.is_empty() {
        if Instant::now() > deadline {
            bail!("the sleep pods were not deleted within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let pct = |cpu: f64| cpu / secs as f64 * 100.0;
    let idle_pct = pct(idle_server + idle_sup);
    let pods_pct = pct(pods_server + pods_sup);
    println!(
        "idle: engine CPU over {secs} s with no pods: server {idle_server:.2} s + supervisor {idle_sup:.2} s = {idle_pct:.3} % of a core (target <= 0.1 %)"
    );
    println!(
        "idle: with {running} running sleep pods: server {pods_server:.2} s + supervisor {pods_sup:.2} s = {pods_pct:.3} % of a core (target <= 0.5 %)"
    );
    Ok(json!({
        "seconds": secs,
        "no_pods": {"server_cpu_s": idle_server, "supervisor_cpu_s": idle_sup, "percent_of_core": idle_pct},
        "running_pods": running,
        "with_pods": {"server_cpu_s": pods_server, "supervisor_cpu_s": pods_sup, "percent_of_core": pods_pct},
        "target_idle_percent": 0.1, "target_with_pods_percent": 0.5,
    }))
}

/// An Indexed Job of `n` completions (100,000; `BENCH_SCALE_COMPLETIONS`
/// for a smaller run, e.g. under heaptrack), the peak server RSS, and
/// `kubectl get pods --chunk-size=500` through all of them.
async fn scale(joblite: &Path, n: i64) -> Result<Value> {
    let e = Engine::start(joblite).await?;
    let pid = e.child.id();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let p2 = peak.clone();
    let sampler = tokio::spawn(async move {
        loop {
            p2.fetch_max(rss_kib(pid), std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let (took, job) = run_job(&e.client, true_job("scale", n, 8, true)).await?;
    // Page through the pods as `kubectl get pods` does (limit=500).
    let t0 = Instant::now();
    let out = Command::new("kubectl")
        .args(["get", "pods", "--chunk-size=500", "-o", "name"])
        .env("KUBECONFIG", e.dir.path().join("kubeconfig"))
        .env("HOME", e.dir.path())
        .output()?;
    let listed = String::from_utf8_lossy(&out.stdout).lines().count();
    let list_s = t0.elapsed().as_secs_f64();
    sampler.abort();
    let peak_mib = peak.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0;
    println!(
        "scale: Indexed Job of {n} completions: {:.1}s, succeeded={}, kubectl get pods listed {listed} in {list_s:.1}s, peak RSS {peak_mib:.0} MiB",
        took.as_secs_f64(),
        succeeded(&job)
    );
    Ok(
        json!({"completions": n, "seconds": took.as_secs_f64(), "succeeded": succeeded(&job),
              "pods_listed": listed, "list_seconds": list_s, "peak_rss_mib": peak_mib}),
    )
}

/// The script both sides of the logs benchmark run: one line every 100 ms
/// carrying the wall-clock time (ns) at which it was written.
fn stamp_script(lines: usize) -> String {
    format!("i=0; while [ $i -lt {lines} ]; do date +%s%N; sleep 0.1; i=$((i+1)); done")
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Reads `follower`'s stdout and returns, per line, the delay from the line's
/// own timestamp to its arrival here (ms). The first `skip` lines may predate
/// the follower and are dropped.
fn follow_delays(follower: &mut Child, want: usize, skip: usize) -> Result<Vec<f64>> {
    use std::io::BufRead;
    let out = follower.stdout.take().context("follower stdout")?;
    let mut delays = Vec::new();
    for line in std::io::BufReader::new(out).lines().skip(skip) {
        let line = line?;
        let arrived = now_ns();
        let Ok(written) = line.trim().parse::<i128>() else {
            continue;
        };
        delays.push((arrived - written) as f64 / 1e6);
        if delays.len() == want {
            break;
        }
    }
    let _ = follower.kill();
    let _ = follower.wait();
    if delays.len() < want {
        bail!("follower ended after {} of {want} lines", delays.len());
    }
    Ok(delays)
}

/// p50, p99 and max of `v`.
fn percentiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (pct(0.5), pct(0.99), v[v.len() - 1])
}

/// `kubectl logs -f` delay: from a container writing a line to kubectl
/// printing it. Baseline: `tail -F` on a file the same script writes.
async fn logs(joblite: &Path, lines: usize) -> Result<Value> {
    const SKIP: usize = 5;
    let total = lines + SKIP + 5;
    let e = Engine::start(joblite).await?;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(e.client.clone(), "default");
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stamps"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "none",
            "command": ["sh", "-c", stamp_script(total)]}]}
    }))?;
    pods.create(&PostParams::default(), &pod).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = pods.get("stamps").await?;
        if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running") {
            break;
        }
        if Instant::now() > deadline {
            bail!("pod stamps did not start");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut kubectl = Command::new("kubectl")
        .args(["logs", "-f", "stamps"])
        .env("KUBECONFIG", e.dir.path().join("kubeconfig"))
        .env("HOME", e.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("kubectl logs -f")?;
    let ours =
        tokio::task::spawn_blocking(move || follow_delays(&mut kubectl, lines, SKIP)).await??;

    let dir = tempfile::tempdir()?;
    let file = dir.path().join("stamps.log");
    std::fs::write(&file, "")?;
    let mut writer = Command::new("sh")
        .args([
            "-c",
            &format!("({}) >> {}", stamp_script(total), file.display()),
        ])
        .spawn()?;
    let mut tail = Command::new("tail")
        .args(["-F", "-n", "0"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let base = tokio::task::spawn_blocking(move || follow_delays(&mut tail, lines, 0)).await??;
    let _ = writer.kill();
    let _ = writer.wait();

    let (p50, p99, max) = percentiles(ours);
    let (b50, b99, bmax) = percentiles(base);
    println!(
        "logs -f: {lines} lines written every 100 ms, write -> printed by kubectl logs -f: p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms (target < 100 ms); tail -F on a file: p50 {b50:.1} ms, p99 {b99:.1} ms, max {bmax:.1} ms"
    );
    Ok(
        json!({"lines": lines, "p50_ms": p50, "p99_ms": p99, "max_ms": max, "target_ms": 100,
              "tail_f_p50_ms": b50, "tail_f_p99_ms": b99, "tail_f_max_ms": bmax}),
    )
}

/// Creates pod `name` running `script` and waits until it runs.
async fn running_pod(e: &Engine, name: &str, script: &str) -> Result<()> {
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(e.client.clone(), "default");
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "none",
            "command": ["sh", "-c", script]}]}
    }))?;
    pods.create(&PostParams::default(), &pod).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = pods.get(name).await?;
        if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running") {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("pod {name} did not start");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A kubectl (`kubectl.<version>`, or the default) against the engine.
fn kubectl(e: &Engine, version: Option<&str>) -> Command {
    let bin = match version {
        Some(v) => format!("/usr/lib/google-cloud-sdk/bin/kubectl.{v}"),
        None => "kubectl".to_string(),
    };
    let mut c = Command::new(bin);
    c.env("KUBECONFIG", e.dir.path().join("kubeconfig"))
        .env("HOME", e.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Wall time of one successful run of `cmd`, in ms.
fn timed(mut cmd: Command) -> Result<f64> {
    let t = Instant::now();
    let status = cmd.status()?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

/// `kubectl exec POD -- true` round trip (WebSocket; and kubectl 1.29 over
/// SPDY), against `kubectl get pod POD` in the same run: both pay kubectl's
/// start-up and one TLS connection, so the difference is the session.
async fn exec_bench(joblite: &Path, runs: usize) -> Result<Value> {
    let e = Engine::start(joblite).await?;
    running_pod(&e, "target", "sleep 3600").await?;
    // Warm kubectl's discovery cache first.
    timed({
        let mut c = kubectl(&e, None);
        c.args(["get", "pod", "target"]);
        c
    })?;
    let (mut exec_ws, mut exec_spdy, mut get) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let mut c = kubectl(&e, None);
        c.args(["exec", "target", "--", "true"]);
        exec_ws.push(timed(c)?);
        let mut c = kubectl(&e, Some("1.29"));
        c.args(["exec", "target", "--", "true"]);
        exec_spdy.push(timed(c)?);
        let mut c = kubectl(&e, None);
        c.args(["get", "pod", "target"]);
        get.push(timed(c)?);
    }
    let (w50, w99, _) = percentiles(exec_ws);
    let (s50, s99, _) = percentiles(exec_spdy);
    let (g50, g99, _) = percentiles(get);
    println!(
        "exec: kubectl exec POD -- true over {runs} runs: p50 {w50:.1} ms, p99 {w99:.1} ms (WebSocket, kubectl 1.33); p50 {s50:.1} ms, p99 {s99:.1} ms (SPDY, kubectl 1.29); kubectl get pod POD: p50 {g50:.1} ms, p99 {g99:.1} ms; exec/get p50 ratio {:.2}",
        w50 / g50
    );
    Ok(
        json!({"runs": runs, "exec_ws_p50_ms": w50, "exec_ws_p99_ms": w99,
              "exec_spdy_p50_ms": s50, "exec_spdy_p99_ms": s99,
              "get_p50_ms": g50, "get_p99_ms": g99, "ratio_p50": w50 / g50}),
    )
}

/// `kubectl attach` delay: from a container writing a line to kubectl
/// printing it. Baseline: the same script's output read through a pipe.
async fn attach_bench(joblite: &Path, lines: usize) -> Result<Value> {
    const SKIP: usize = 2;
    let total = lines + SKIP + 50;
    let e = Engine::start(joblite).await?;
    running_pod(&e, "stamps", &stamp_script(total)).await?;
    let mut attach = kubectl(&e, None);
    attach.args(["attach", "stamps"]).stdout(Stdio::piped());
    let mut attach = attach.spawn().context("kubectl attach")?;
    let ours =
        tokio::task::spawn_blocking(move || follow_delays(&mut attach, lines, SKIP)).await??;
    let mut pipe = Command::new("sh")
        .args(["-c", &stamp_script(total)])
        .stdout(Stdio::piped())
        .spawn()?;
    let base = tokio::task::spawn_blocking(move || follow_delays(&mut pipe, lines, 0)).await??;
    let (p50, p99, max) = percentiles(ours);
    let (b50, b99, bmax) = percentiles(base);
    println!(
        "attach: {lines} lines written every 100 ms, write -> printed by kubectl attach: p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms (target < 50 ms); through a pipe: p50 {b50:.1} ms, p99 {b99:.1} ms, max {bmax:.1} ms"
    );
    Ok(
        json!({"lines": lines, "p50_ms": p50, "p99_ms": p99, "max_ms": max, "target_ms": 50,
              "pipe_p50_ms": b50, "pipe_p99_ms": b99, "pipe_max_ms": bmax}),
    )
}

fn joblite_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("JOBLITE_BIN") {
        return Ok(p.into());
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let p = root.join("target/release/joblite");
    if !p.exists() {
        bail!(
            "{} not found: run `cargo build --release -p joblite` first (or set JOBLITE_BIN)",
            p.display()
        );
    }
    Ok(p)
}

#[tokio::main]
async fn main() -> Result<()> {
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let joblite = joblite_binary()?;
    let all = which == "all";
    let mut results = serde_json::Map::new();
    results.insert(
        "machine".into(),
        json!({
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
            "cpu": std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())),
        }),
    );
    if all || which == "throughput" {
        results.insert("throughput".into(), throughput(&joblite, 10_000).await?);
    }
    if all || which == "latency" {
        results.insert("latency".into(), latency(&joblite, 200).await?);
    }
    if all || which == "cold-start" {
        results.insert("cold_start".into(), cold_start(&joblite, 5).await?);
    }
    if all || which == "memory" {
        results.insert("memory".into(), memory(&joblite).await?);
    }
    if all || which == "logs" {
        results.insert("logs".into(), logs(&joblite, 100).await?);
    }
    if all || which == "exec" {
        results.insert("exec".into(), exec_bench(&joblite, 30).await?);
    }
    if all || which == "attach" {
        results.insert("attach".into(), attach_bench(&joblite, 100).await?);
    }
    if which == "dashboard" {
        let pairs = std::env::var("BENCH_PAIRS")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(2);
        results.insert(
            "dashboard".into(),
            dashboard(&joblite, 10_000, pairs).await?,
        );
    }
    if which == "container" {
        let n = std::env::var("BENCH_CONTAINER_THROUGHPUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(200);
        results.insert("container".into(), container(&joblite, 10, n).await?);
    }
    if which == "throughput-events" {
        results.insert(
            "throughput_events".into(),
            throughput_events(&joblite, 10_000, 2).await?,
        );
    }
    if all || which == "idle" {
        let secs = std::env::var("BENCH_IDLE_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60);
        results.insert("idle".into(), idle(&joblite, secs, 100).await?);
    }
    if which == "scale" {
        let n = std::env::var("BENCH_SCALE_COMPLETIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000);
        results.insert("scale".into(), scale(&joblite, n).await?);
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results.json");
    let mut merged: serde_json::Map<String, Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    merged.extend(results);
    std::fs::write(&path, serde_json::to_string_pretty(&merged)? + "\n")?;
    println!("results written to {}", path.display());
    Ok(())
}
