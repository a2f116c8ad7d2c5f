//! `kubectl top pods|nodes` through `metrics.k8s.io/v1beta1`, served from
//! the node's own accounting.

use std::time::{Duration, Instant};

use crate::harness::Server;

/// A pid whose command line contains `marker`.
fn pid_of(marker: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        (cmd.contains(marker) && !cmd.contains("kubectl")).then_some(pid)
    })
}

/// utime + stime of a process, in clock ticks (100 per second here).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(')').unwrap().1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// The `kubectl top pods` row of `name`: (millicores, MiB).
fn top_row(out: &str, name: &str) -> Option<(u64, u64)> {
    out.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.first() == Some(&name)).then(|| {
            (
                f[1].trim_end_matches('m').parse().unwrap(),
                f[2].trim_end_matches("Mi").parse().unwrap(),
            )
        })
    })
}

#[test]
fn kubectl_top_shows_pod_and_node_usage() {
    let s = Server::start();
    // kubectl finds the group in discovery (else: "Metrics API not available").
    let out = s.kubectl(&["top", "pods"]);
    assert!(
        !out.stderr().contains("Metrics API not available"),
        "{}",
        out.stderr()
    );

    let marker = format!("busy-{}", std::process::id());
    s.kubectl(&[
        "run",
        "busy",
        "--image=busybox",
        "--restart=Never",
        "--command",
        "--",
        "sh",
        "-c",
        &format!("while :; do :; done; echo {marker}"),
    ])
    .ok();
    // 200 MiB touched by the bytes repetition, then held.
    s.kubectl(&[
        "run",
        "hog",
        "--image=python",
        "--restart=Never",
        "--command",
        "--",
        "python3",
        "-c",
        "import time; b = b'x' * (200 << 20); time.sleep(600)",
    ])
    .ok();
    for p in ["busy", "hog"] {
        s.wait_for(&format!("{p} running"), Duration::from_secs(30), || {
            let j = s.get_json(&["pod", p]);
            (j["status"]["phase"] == "Running").then_some(())
        });
    }
    let pid = s.wait_for("the busy process", Duration::from_secs(10), || {
        pid_of(&marker)
    });
    // Let the hog finish allocating.
    std::thread::sleep(Duration::from_millis(1500));

    // The kernel's own account of the busy process over a window that
    // holds the server's: a loaded machine gives it less than a core, and
    // what top reports must match what it got.
    let (t0, c0) = (Instant::now(), cpu_ticks(pid));
    let out = s.kubectl(&["top", "pods"]).ok();
    let (t1, c1) = (Instant::now(), cpu_ticks(pid));
    let measured = (c1 - c0) as f64 * 10.0 / (t1 - t0).as_secs_f64();
    let (busy_cpu, busy_mem) = top_row(&out, "busy").unwrap_or_else(|| panic!("{out}"));
    let (hog_cpu, hog_mem) = top_row(&out, "hog").unwrap_or_else(|| panic!("{out}"));
    assert!(
        (busy_cpu as f64 - measured).abs() <= (0.35 * measured).max(150.0),
        "busy pod: top says {busy_cpu}m, the kernel measured {measured:.0}m\n{out}"
    );
    assert!((50..=1100).contains(&busy_cpu), "{out}");
    assert!(busy_mem < 20, "{out}");
    assert!(hog_cpu < 200, "{out}");
    assert!(
        (200..=240).contains(&hog_mem),
        "hog allocated 200 MiB; top says {hog_mem}Mi\n{out}"
    );

    // One pod by name, and a selector.
    let one = s.kubectl(&["top", "pod", "hog"]).ok();
    assert!(top_row(&one, "hog").is_some(), "{one}");
    let sel = s.kubectl(&["top", "pods", "-l", "run=busy"]).ok();
    assert!(
        top_row(&sel, "busy").is_some() && top_row(&sel, "hog").is_none(),
        "{sel}"
    );
    let missing = s.kubectl(&["top", "pod", "nope"]);
    assert_ne!(missing.code(), 0);
    assert!(
        missing.stderr().contains("not found"),
        "{}",
        missing.stderr()
    );

    // The machine: one node, its CPU and memory in use with percentages
    // of its allocatable.
    let nodes = s.kubectl(&["top", "nodes"]).ok();
    let node = s.get_json(&["nodes"])["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let row: Vec<&str> = nodes
        .lines()
        .find(|l| l.split_whitespace().next() == Some(node.as_str()))
        .unwrap_or_else(|| panic!("{nodes}"))
        .split_whitespace()
        .collect();
    let cpu: u64 = row[1].trim_end_matches('m').parse().unwrap();
    let mem: u64 = row[3].trim_end_matches("Mi").parse().unwrap();
    // At least the busy pod's share, at most every core.
    let cores = std::thread::available_parallelism().unwrap().get() as u64;
    assert!(cpu >= busy_cpu / 2 && cpu <= cores * 1000 + 100, "{nodes}");
    assert!(mem >= hog_mem, "{nodes}");
    assert!(row[2].ends_with('%') && row[4].ends_with('%'), "{nodes}");

    // The raw API, as metrics-server shapes it.
    let raw: serde_json::Value = serde_json::from_str(
        &s.kubectl(&[
            "get",
            "--raw",
            "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/hog",
        ])
        .ok(),
    )
    .unwrap();
    assert_eq!(raw["kind"], "PodMetrics");
    assert_eq!(raw["apiVersion"], "metrics.k8s.io/v1beta1");
    assert_eq!(raw["containers"][0]["name"], "hog");
    assert!(raw["containers"][0]["usage"]["cpu"]
        .as_str()
        .unwrap()
        .ends_with('n'));
    assert!(raw["containers"][0]["usage"]["memory"]
        .as_str()
        .unwrap()
        .ends_with("Ki"));
    assert!(raw["window"].as_str().unwrap().ends_with('s'));

    // The node's running-pods gauge agrees.
    let (_, metrics) = s.curl("GET", "/metrics", &[], None);
    assert!(metrics.contains("\njoblite_running_pods 2\n"), "{metrics}");
}
