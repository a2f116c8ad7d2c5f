//! joblite's own `run -i/-t`, `exec` and `attach`: kubectl's argument forms
//! and flags (the seed's `--command /bin/sh -- -c …` order included), live
//! output, stdin, terminals and exit codes.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::attach::{tick, Live, TICKER};
use crate::exec::{apply, run, sh_pod, wait_phase, wait_ready, Tmux};
use crate::harness::{Run, Server};

/// `joblite ARGS…` as a client of the test's server (through its kubeconfig).
fn joblite(s: &Server) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_joblite"));
    c.env("KUBECONFIG", &s.kubeconfig)
        .env("HOME", s.home.path())
        .env_remove("JOBLITE_DATA_DIR");
    c
}

fn joblite_run(s: &Server, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut c = joblite(s);
    c.args(args);
    run(c, stdin)
}

#[test]
fn run_i_takes_the_seeds_argument_order_and_streams_live() {
    let s = Server::start();
    let mut c = joblite(&s);
    c.args([
        "run",
        "oneshot",
        "--image=busybox",
        "--restart=OnFailure",
        "-i",
        "--command",
        "/bin/sh",
        "--",
        "-c",
        "for i in 1 2 3; do echo $i; sleep 1; done",
    ]);
    let live = Live::start(c);
    let lines: Vec<_> = (0..3).map(|_| live.line()).collect();
    assert_eq!(
        lines.iter().map(|l| l.1.as_str()).collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    // Live, not at the end: lines printed a second apart arrive apart (only
    // a lower bound: a loaded machine may deliver them later, never sooner).
    for w in lines.windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(gap > Duration::from_millis(500), "a second apart: {gap:?}");
    }
    let (code, err) = live.finish();
    assert_eq!(code, 0, "{err}");
    // The words became the command and args as kubectl would make them.
    let job = s.get_json(&["job", "oneshot"]);
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["command"],
        serde_json::json!(["/bin/sh", "-c", "for i in 1 2 3; do echo $i; sleep 1; done"])
    );
    assert_eq!(
        (c["stdin"].as_bool(), c["stdinOnce"].as_bool()),
        (Some(true), Some(true))
    );
}

#[test]
fn run_i_runs_args_without_command_and_feeds_stdin() {
    let s = Server::start();
    let r = joblite_run(
        &s,
        &[
            "run",
            "x",
            "--image=busybox:1.36",
            "--restart=OnFailure",
            "-i",
            "--",
            "sh",
            "-c",
            "echo hello",
        ],
        None,
    );
    assert_eq!(
        (r.stdout().as_str(), r.code()),
        ("hello\n", 0),
        "{}",
        r.stderr()
    );
    let r = joblite_run(
        &s,
        &[
            "run",
            "cat",
            "--image=busybox",
            "-i",
            "-q",
            "--command",
            "--",
            "cat",
        ],
        Some(b"one\ntwo\n"),
    );
    assert_eq!(
        (r.stdout().as_str(), r.code()),
        ("one\ntwo\n", 0),
        "{}",
        r.stderr()
    );
    // kubectl's rule: a terminal needs stdin.
    let r = joblite_run(&s, &["run", "t", "--image=busybox", "-t", "--", "sh"], None);
    assert_eq!(
        (r.code(), r.stderr()),
        (
            1,
            "error: -i/--stdin is required for containers with -t/--tty=true\n".into()
        )
    );
}

#[test]
fn exec_into_a_pod_or_a_jobs_pod_as_kubectl_does() {
    let s = Server::start();
    apply(&s, &sh_pod("p", "sleep 300", ""));
    apply(&s, &sh_pod("done", "true", ""));
    let r = joblite_run(
        &s,
        &[
            "run",
            "worker",
            "--image=busybox",
            "--command",
            "--",
            "sleep",
            "300",
        ],
        None,
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    wait_ready(&s, "p");
    wait_phase(&s, "done", "Succeeded");
    for object in ["p", "pod/p", "job/worker"] {
        let r = joblite_run(
            &s,
            &[
                "exec",
                object,
                "--",
                "sh",
                "-c",
                "echo out; echo err >&2; exit 7",
            ],
            None,
        );
        assert_eq!(r.stdout(), "out\n", "{object}");
        assert_eq!(
            r.stderr(),
            "err\ncommand terminated with exit code 7\n",
            "{object}"
        );
        assert_eq!(r.code(), 7, "{object}");
    }
    let r = joblite_run(
        &s,
        &["exec", "-i", "job/worker", "--", "cat"],
        Some(b"piped\n"),
    );
    assert_eq!(
        (r.stdout().as_str(), r.code()),
        ("piped\n", 0),
        "{}",
        r.stderr()
    );
    let r = joblite_run(
        &s,
        &["exec", "job/worker", "--", "printenv", "HOSTNAME"],
        None,
    );
    assert!(r.stdout().starts_with("worker-"), "{}", r.stdout());
    let r = joblite_run(&s, &["exec", "done", "--", "true"], None);
    assert_eq!(
        (r.code(), r.stderr()),
        (
            1,
            "error: cannot exec into a container in a completed pod; current phase is Succeeded\n"
                .into()
        )
    );
    let r = joblite_run(&s, &["exec", "nope", "--", "true"], None);
    assert_eq!(
        (r.code(), r.stderr()),
        (
            1,
            "Error from server (NotFound): pods \"nope\" not found\n".into()
        )
    );
    let r = joblite_run(&s, &["exec", "p", "-c", "bad", "--", "true"], None);
    assert_eq!(
        (r.code(), r.stderr()),
        (
            1,
            "Error from server (BadRequest): container bad is not valid for pod p\n".into()
        )
    );
    let r = joblite_run(&s, &["exec", "p"], None);
    assert_eq!(
        (r.code(), r.stderr()),
        (
            1,
            "error: you must specify at least one command for the container\n".into()
        )
    );
}

#[test]
fn attach_follows_output_live_and_writes_stdin() {
    let s = Server::start();
    apply(&s, &sh_pod("ticker", TICKER, ""));
    apply(&s, &sh_pod("echo", "cat", "    stdin: true\n"));
    wait_ready(&s, "ticker");
    wait_ready(&s, "echo");
    std::thread::sleep(Duration::from_millis(500));
    let mut c = joblite(&s);
    c.args(["attach", "ticker"]);
    let live = Live::start(c);
    let first = tick(&live.line().1);
    assert!(first > 1, "attached at tick {first}");
    assert_eq!(tick(&live.line().1), first + 1);
    drop(live);
    let mut c = joblite(&s);
    c.args(["attach", "-i", "-q", "echo"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::{BufRead, Write};
    writeln!(child.stdin.as_mut().unwrap(), "through attach").unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "through attach\n");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn run_it_and_exec_it_get_a_terminal() {
    let s = Server::start();
    let line = |args: &str| {
        format!(
            "env KUBECONFIG={} HOME={} {} {args}",
            s.kubeconfig.display(),
            s.home.path().display(),
            env!("CARGO_BIN_EXE_joblite")
        )
    };
    let dir = s.home.path().join("run-it");
    std::fs::create_dir_all(&dir).unwrap();
    let t = Tmux::start(
        &dir,
        &line("run shell --image=busybox -i -t --command -- sh"),
    );
    t.retype_until("echo T$(tty)T", "T/dev/pts/");
    t.retype_until("echo S$(stty size)S", "S30 100S");
    t.resize(120, 40);
    t.retype_until("echo R$(stty size)R", "R40 120R");
    t.keys("exit 0");
    t.expect("EXIT=0");
    drop(t);
    apply(&s, &sh_pod("p", "sleep 300", ""));
    wait_ready(&s, "p");
    let dir = s.home.path().join("exec-it");
    std::fs::create_dir_all(&dir).unwrap();
    let t = Tmux::start(&dir, &line("exec -it p -- sh"));
    t.retype_until("echo T$(tty)T", "T/dev/pts/");
    t.retype_until("echo S$(stty size)S", "S30 100S");
    t.keys("exit 3");
    t.expect("command terminated with exit code 3");
    t.expect("EXIT=3");
}
