//! `kubectl attach` and `kubectl run -i`: live output from the moment of
//! attaching, stdin with `stdin`/`stdinOnce` semantics, a terminal for
//! `tty: true`, the container's exit code, and attach sessions that end
//! cleanly (with an error, not a lost pod) when the engine restarts.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::exec::{apply, kubectl, kubectl_line, run, sh_pod, wait_ready, Tmux, CLIENTS};
use crate::harness::Server;

/// A running kubectl whose stdout lines arrive with the time they did.
pub(crate) struct Live {
    child: Child,
    lines: mpsc::Receiver<(Instant, String)>,
}

impl Live {
    pub(crate) fn start(mut cmd: std::process::Command) -> Live {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run kubectl");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Live { child, lines: rx }
    }

    #[track_caller]
    pub(crate) fn line(&self) -> (Instant, String) {
        self.lines
            .recv_timeout(Duration::from_secs(20))
            .expect("a line from kubectl")
    }

    /// Waits for kubectl to exit: (code, stderr).
    pub(crate) fn finish(mut self) -> (i32, String) {
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        use std::io::Read;
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        (status.code().unwrap_or(-1), err)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number in `tick N`.
pub(crate) fn tick(line: &str) -> u64 {
    line.strip_prefix("tick ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a tick: {line:?}"))
}

pub(crate) const TICKER: &str = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done";

#[test]
fn kubectl_run_i_streams_live_and_exits_with_the_containers_code() {
    let s = Server::start();
    for (version, ws) in [("1.33", None), ("1.29", None)] {
        let name = format!("slow-{}", version.replace('.', "-"));
        let mut c = kubectl(&s, version, ws);
        c.args([
            "run",
            "-i",
            &name,
            "--image=busybox",
            "--restart=Never",
            "--command",
            "--",
            "sh",
            "-c",
            // kubectl attaches once the pod is Ready; what the container
            // printed before that is in the logs only (as on a cluster).
            "sleep 1; echo first; sleep 2; echo done; exit 4",
        ]);
        let live = Live::start(c);
        let (t1, first) = live.line();
        let (t2, done) = live.line();
        assert_eq!(
            (first.as_str(), done.as_str()),
            ("first", "done"),
            "{version}"
        );
        // Live: the first line came while the command still ran.
        assert!(
            t2 - t1 > Duration::from_millis(1500),
            "{version}: lines {:?} apart",
            t2 - t1
        );
        let (code, err) = live.finish();
        assert_eq!(code, 4, "{version}: {err}");
        assert!(
            !err.contains("falling back to streaming logs"),
            "{version} attached: {err}"
        );
    }
    // The seed's shape, with --rm: the pod is deleted afterwards.
    let mut c = kubectl(&s, "1.33", None);
    c.args([
        "run",
        "-i",
        "--rm",
        "slow",
        "--image=busybox",
        "--restart=Never",
        "--command",
        "--",
        "sh",
        "-c",
        "sleep 3; echo done; exit 4",
    ]);
    let r = run(c, None);
    assert_eq!(r.code(), 4, "{}", r.stderr());
    assert_eq!(r.stdout(), "done\npod \"slow\" deleted\n");
    let r = s.kubectl(&["get", "pod", "slow"]);
    assert!(r.stderr().contains("NotFound"), "{}", r.stderr());
}

#[test]
fn kubectl_run_i_feeds_stdin_and_args_alone_run_as_the_command() {
    let s = Server::start();
    for &(version, ws, _) in CLIENTS {
        let name = format!("cat-{}-{}", version.replace('.', "-"), ws.is_some());
        let mut c = kubectl(&s, version, ws);
        c.args([
            "run",
            "-i",
            "--restart=Never",
            &name,
            "--image=busybox",
            "--command",
            "--",
            "cat",
        ]);
        let r = run(c, Some(b"one\ntwo\n"));
        assert_eq!(
            (r.stdout().as_str(), r.code()),
            ("one\ntwo\n", 0),
            "kubectl {version} ws={ws:?}: {}",
            r.stderr()
        );
        assert!(!r.stderr().contains("falling back"), "{}", r.stderr());
    }
    // No --command: the words are args, which a process pod runs as the
    // command line (the image has no entrypoint the host knows).
    let r = s.kubectl(&[
        "run",
        "-i",
        "--restart=Never",
        "y",
        "--image=busybox",
        "--",
        "sh",
        "-c",
        "echo hi",
    ]);
    assert_eq!(
        (r.stdout().as_str(), r.code()),
        ("hi\n", 0),
        "{}",
        r.stderr()
    );
}

#[test]
fn attach_shows_new_lines_live_from_the_moment_it_attaches() {
    let s = Server::start();
    apply(&s, &sh_pod("ticker", TICKER, ""));
    wait_ready(&s, "ticker");
    std::thread::sleep(Duration::from_millis(600));
    for &(version, ws, _) in CLIENTS {
        let mut c = kubectl(&s, version, ws);
        c.args(["attach", "ticker"]);
        let live = Live::start(c);
        let lines: Vec<(Instant, u64)> = (0..5)
            .map(|_| {
                let (t, l) = live.line();
                (t, tick(&l))
            })
            .collect();
        // Earlier output is in the logs, not in the attach.
        assert!(
            lines[0].1 > 1,
            "{version}: attach began at tick {}",
            lines[0].1
        );
        for w in lines.windows(2) {
            assert_eq!(w[1].1, w[0].1 + 1, "{version}: consecutive ticks");
            // Each line arrives on its own, as it is written.
            assert!(
                w[1].0 - w[0].0 > Duration::from_millis(100),
                "{version}: ticks {} and {} arrived {:?} apart",
                w[0].1,
                w[1].1,
                w[1].0 - w[0].0
            );
        }
    }
}

#[test]
fn attach_writes_stdin_that_stays_open_across_attaches() {
    let s = Server::start();
    // stdin without stdinOnce: each attacher writes, none closes it.
    apply(&s, &sh_pod("echo", "cat", "    stdin: true\n"));
    wait_ready(&s, "echo");
    for (i, &(version, ws, _)) in CLIENTS.iter().enumerate() {
        let mut c = kubectl(&s, version, ws);
        c.args(["attach", "-i", "echo"]);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "line {i}").unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, format!("line {i}\n"), "kubectl {version} ws={ws:?}");
        // The client's stdin ends; the container's does not.
        drop(stdin);
        std::thread::sleep(Duration::from_millis(200));
        let _ = child.kill();
        let _ = child.wait();
    }
    let r = s.kubectl(&["get", "pod", "echo", "-o", "jsonpath={.status.phase}"]);
    assert_eq!(r.stdout(), "Running");
}

#[test]
fn attach_it_to_a_terminal_container_follows_resizes() {
    let s = Server::start();
    for (i, (version, ws)) in [("1.33", None), ("1.29", None)].into_iter().enumerate() {
        let name = format!("tty{i}");
        let dir = s.home.path().join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        let t = Tmux::start(
            &dir,
            &kubectl_line(
                &s,
                version,
                ws,
                &format!("run -it {name} --image=busybox --restart=Never --command -- sh"),
            ),
        );
        // The shell's first prompt came before the attach ("If you don't
        // see a command prompt, try pressing enter.").
        t.retype_until("echo T$(tty)T", "T/dev/pts/");
        t.retype_until("echo S$(stty size)S", "S30 100S");
        t.resize(120, 40);
        t.retype_until("echo R$(stty size)R", "R40 120R");
        t.keys("exit 5");
        t.expect("EXIT=5");
    }
}

/// `kubectl attach -i POD` with `line` on stdin: the line echoed back by
/// the container's `cat`.
fn echo_through(s: &Server, pod: &str, line: &str) -> String {
    let mut c = kubectl(s, "1.33", None);
    c.args(["attach", "-i", pod])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    writeln!(child.stdin.as_mut().unwrap(), "{line}").unwrap();
    let mut got = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut got)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    got
}

#[test]
fn an_engine_restart_ends_an_attach_with_an_error_and_keeps_the_pod() {
    let mut s = Server::start();
    apply(&s, &sh_pod("ticker", TICKER, ""));
    apply(&s, &sh_pod("echo", "cat", "    stdin: true\n"));
    wait_ready(&s, "ticker");
    wait_ready(&s, "echo");
    assert_eq!(echo_through(&s, "echo", "before"), "before\n");
    let id = |s: &Server| {
        s.kubectl(&[
            "get",
            "pod",
            "ticker",
            "-o",
            "jsonpath={.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}",
        ])
        .ok()
    };
    let before = id(&s);
    let mut c = kubectl(&s, "1.33", None);
    c.args(["attach", "ticker"]);
    let live = Live::start(c);
    let (_, first) = live.line();
    s.kill9();
    let (code, err) = live.finish();
    assert_ne!(code, 0, "the session ends with an error");
    assert!(
        err.lines().last().is_some_and(|l| l.starts_with("error: ")),
        "{err}"
    );
    s.restart();
    wait_ready(&s, "ticker");
    assert_eq!(id(&s), before, "same container, no restart");
    // Attach again: the same ticker, counting on (not started afresh).
    // Only `>`: output still in the pipe when the attach begins comes
    // first, so on a loaded machine the next line can be the one right
    // after `first` (CI once saw tick 3 then tick 4).
    let mut c = kubectl(&s, "1.33", None);
    c.args(["attach", "ticker"]);
    let live = Live::start(c);
    let (_, again) = live.line();
    assert!(tick(&again) > tick(&first), "{first} then {again}");
    // The container's stdin is the supervisor's, not the engine's: it
    // survived the restart.
    assert_eq!(echo_through(&s, "echo", "after"), "after\n");
}
