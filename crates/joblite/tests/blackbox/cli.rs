//! The `joblite` client commands: zero set-up (the engine starts itself),
//! kubectl-style output and exit codes, and the same commands against any
//! kubeconfig.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::harness::{Run, Server};

fn joblite(data_dir: &Path, home: &Path, args: &[&str]) -> Run {
    Run(Command::new(env!("CARGO_BIN_EXE_joblite"))
        .args(args)
        .env("JOBLITE_DATA_DIR", data_dir)
        .env("HOME", home)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run joblite"))
}

/// Stops the engine a test started (and its pod supervisor).
struct Cleanup<'a>(&'a Path, &'a Path);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = joblite(self.0, self.1, &["stop"]);
        let _ = Command::new("pkill")
            .arg("-f")
            .arg(format!("supervise {}", self.0.join("node").display()))
            .status();
    }
}

#[test]
fn run_starts_the_engine_streams_output_and_exits_by_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let _c = Cleanup(dir.path(), home.path());
    let r = joblite(
        dir.path(),
        home.path(),
        &[
            "run",
            "hello",
            "--image",
            "busybox",
            "-i",
            "--command",
            "--",
            "sh",
            "-c",
            "echo hello from joblite",
        ],
    );
    assert_eq!(r.code(), 0, "{}\n{}", r.stdout(), r.stderr());
    assert!(r.stdout().contains("hello from joblite"), "{}", r.stdout());
    assert!(r.stderr().contains("started engine"), "{}", r.stderr());
    let r = joblite(
        dir.path(),
        home.path(),
        &[
            "run",
            "sad",
            "--image",
            "busybox",
            "--backoff-limit",
            "0",
            "-i",
            "--command",
            "--",
            "sh",
            "-c",
            "exit 3",
        ],
    );
    assert_eq!(r.code(), 1, "{}\n{}", r.stdout(), r.stderr());
    // The engine is running; status says so, and get shows both Jobs.
    assert_eq!(joblite(dir.path(), home.path(), &["status"]).code(), 0);
    let out = joblite(dir.path(), home.path(), &["get", "jobs"]).ok();
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]);
    assert!(out.contains("hello   Complete   1/1"), "{out}");
    assert!(out.contains("sad     Failed     0/1"), "{out}");
    let r = joblite(
        dir.path(),
        home.path(),
        &["wait", "job/hello", "--for=done"],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let r = joblite(dir.path(), home.path(), &["wait", "job/sad", "--for=done"]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let kc = joblite(dir.path(), home.path(), &["kubeconfig", "--path"]).ok();
    assert_eq!(kc.trim(), dir.path().join("kubeconfig").to_string_lossy());
    joblite(dir.path(), home.path(), &["stop"]).ok();
    assert_eq!(joblite(dir.path(), home.path(), &["status"]).code(), 1);
}

#[test]
fn client_commands_work_against_a_kubeconfig() {
    let s = Server::start();
    let kc = s.kubeconfig.to_string_lossy().into_owned();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--kubeconfig", kc.as_str()]);
        Run(Command::new(env!("CARGO_BIN_EXE_joblite"))
            .args(&all)
            .env("HOME", s.home.path())
            .output()
            .unwrap())
    };
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/parallel.yaml");
    let out = run(&["apply", "-f", &example.to_string_lossy(), "--wait"]).ok();
    assert!(out.contains("job.batch/parallel created"), "{out}");
    let out = run(&["apply", "-f", &example.to_string_lossy()]).ok();
    assert_eq!(out.trim(), "job.batch/parallel unchanged");
    let logs = run(&["logs", "job/parallel"]).ok();
    assert_eq!(logs.lines().count(), 10, "{logs}");
    assert!(
        logs.lines().all(|l| l.starts_with("[pod/parallel-")),
        "{logs}"
    );
    let out = run(&["describe", "job", "parallel"]).ok();
    assert!(
        out.contains("Pods Statuses:") && out.contains("10 Succeeded"),
        "{out}"
    );
    let out = run(&["get", "pods", "-o", "name"]).ok();
    assert_eq!(out.lines().count(), 10);
    let err = run(&["get", "job", "nope"]).fails();
    assert!(
        err.contains("Error from server (NotFound): jobs.batch \"nope\" not found"),
        "{err}"
    );
    let out = run(&["suspend", "job/parallel"]).ok();
    assert!(out.contains("job.batch/parallel"), "{out}");
    let out = run(&["delete", "job", "parallel"]).ok();
    assert_eq!(out.trim(), "job.batch \"parallel\" deleted");
    let bad = s.data_dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: batch/v1\nkind: Job\n---\nmetadata: [\n").unwrap();
    let err = run(&["apply", "-f", &bad.to_string_lossy()]).fails();
    assert!(
        err.contains("bad.yaml") && err.contains("document 2") && err.contains("line"),
        "{err}"
    );
}
