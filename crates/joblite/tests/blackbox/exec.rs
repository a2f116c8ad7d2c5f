//! `kubectl exec` into process pods, over every transport kubectl uses:
//! WebSocket v5 (1.30+ by default, 1.29 with
//! `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true`) and SPDY/3.1 (1.29's default
//! and every version's fallback).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Run, Server};

/// The kubectl versions and settings the acceptance names, with the
/// transport each must use.
pub(crate) const CLIENTS: &[(&str, Option<&str>, Transport)] = &[
    ("1.33", None, Transport::WebSocket),
    ("1.31", None, Transport::WebSocket),
    ("1.29", Some("true"), Transport::WebSocket),
    ("1.29", None, Transport::Spdy),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    WebSocket,
    Spdy,
}

/// A kubectl command for `version`, with `KUBECTL_REMOTE_COMMAND_WEBSOCKETS`
/// set when `ws` says so.
pub(crate) fn kubectl(s: &Server, version: &str, ws: Option<&str>) -> Command {
    let mut c = s.kubectl_command(version);
    if let Some(v) = ws {
        c.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", v);
    }
    c
}

/// Runs `cmd` with `stdin` piped in (or none), to completion.
pub(crate) fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Run {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("run kubectl");
    if let Some(data) = stdin {
        let mut w = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    Run(child.wait_with_output().unwrap())
}

/// Creates pod `name` from a YAML manifest.
pub(crate) fn apply(s: &Server, yaml: &str) {
    s.kubectl_stdin("1.33", &["apply", "-f", "-"], yaml).ok();
}

/// A pod of one container `main` running `sh -c script`, with `extra`
/// lines appended to the container (indented as its fields).
pub(crate) fn sh_pod(name: &str, script: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: busybox\n    command: [sh, -c, {script:?}]\n{extra}"
    )
}

/// Waits until the pod is Running and Ready (what `kubectl run -i` waits for).
pub(crate) fn wait_ready(s: &Server, name: &str) {
    s.wait_for(
        &format!("pod {name} ready"),
        Duration::from_secs(30),
        || {
            let r = s.kubectl(&[
                "get",
                "pod",
                name,
                "-o",
                "jsonpath={.status.phase} {.status.conditions[?(@.type==\"Ready\")].status}",
            ]);
            (r.stdout() == "Running True").then_some(())
        },
    );
}

/// Waits until the pod has phase `phase`.
pub(crate) fn wait_phase(s: &Server, name: &str, phase: &str) {
    s.wait_for(
        &format!("pod {name} {phase}"),
        Duration::from_secs(30),
        || {
            let r = s.kubectl(&["get", "pod", name, "-o", "jsonpath={.status.phase}"]);
            (r.stdout() == phase).then_some(())
        },
    );
}

/// Asserts which transport a `-v=6` kubectl run upgraded with.
#[track_caller]
fn assert_transport(r: &Run, want: Transport, subresource: &str) {
    let err = r.stderr();
    let line = err
        .lines()
        .find(|l| l.contains(&format!("/{subresource}?")) && l.contains("101 Switching Protocols"))
        .unwrap_or_else(|| panic!("no upgrade in:\n{err}"));
    let verb = if want == Transport::WebSocket {
        "GET"
    } else {
        "POST"
    };
    assert!(line.contains(verb), "want {verb} for {want:?}: {line}");
    assert!(
        !err.contains("falling back"),
        "the first transport must have worked:\n{err}"
    );
}

#[test]
fn exec_separates_streams_returns_exit_codes_and_ends_stdin_on_every_transport() {
    let s = Server::start();
    apply(&s, &sh_pod("p", "sleep 300", ""));
    wait_ready(&s, "p");
    let big: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    for &(version, ws, transport) in CLIENTS {
        let ctx = format!("kubectl {version} websockets={ws:?}");
        let mut c = kubectl(&s, version, ws);
        c.args(["exec", "-v=6", "p", "--", "true"]);
        let r = run(c, None);
        assert_eq!(r.code(), 0, "{ctx}: {}", r.stderr());
        assert_transport(&r, transport, "exec");

        let mut c = kubectl(&s, version, ws);
        c.args([
            "exec",
            "p",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 7",
        ]);
        let r = run(c, None);
        assert_eq!(r.stdout(), "out\n", "{ctx}");
        assert_eq!(
            r.stderr(),
            "err\ncommand terminated with exit code 7\n",
            "{ctx}"
        );
        assert_eq!(r.code(), 7, "{ctx}");

        let mut c = kubectl(&s, version, ws);
        c.args(["exec", "-i", "p", "--", "cat"]);
        let r = run(c, Some(b"hello\nworld\n"));
        assert_eq!(
            (r.stdout().as_str(), r.code()),
            ("hello\nworld\n", 0),
            "{ctx}: {}",
            r.stderr()
        );

        // A MiB each way: chunking and (SPDY) windows hold up.
        let mut c = kubectl(&s, version, ws);
        c.args(["exec", "-i", "p", "--", "cat"]);
        let r = run(c, Some(&big));
        assert_eq!(r.code(), 0, "{ctx}: {}", r.stderr());
        assert!(r.0.stdout == big, "{ctx}: {} bytes back", r.0.stdout.len());
    }
}

#[test]
fn exec_runs_with_the_containers_env_workdir_user_and_volumes() {
    let s = Server::start();
    let work = s.data_dir.path().join("work");
    let mnt = s.data_dir.path().join("mnt/data");
    let extra = format!(
        "    env: [{{name: GREETING, value: hello}}]\n    workingDir: {}\n    volumeMounts: [{{name: data, mountPath: {}}}]\n  volumes: [{{name: data, emptyDir: {{}}}}]\n",
        work.display(),
        mnt.display()
    );
    apply(
        &s,
        &sh_pod(
            "p",
            &format!("echo made > {}/marker; sleep 300", mnt.display()),
            &extra,
        ),
    );
    wait_ready(&s, "p");
    let script = format!("echo $GREETING; pwd; cat {}/marker; id -u", mnt.display());
    let r = s.kubectl(&["exec", "p", "--", "sh", "-c", &script]);
    let uid = rustix::process::geteuid().as_raw();
    assert_eq!(
        r.ok(),
        format!("hello\n{}\nmade\n{uid}\n", work.display()),
        "{}",
        r.stderr()
    );
    // The emptyDir is mounted at its mountPath only inside the pod's own
    // mount namespace, which the exec entered.
    assert!(!mnt.join("marker").exists());
}

#[test]
fn exec_errors_read_as_upstream() {
    let s = Server::start();
    apply(&s, &sh_pod("p", "sleep 300", ""));
    apply(&s, &sh_pod("done", "true", ""));
    // A container that never starts: its hostPath directory is missing.
    apply(
        &s,
        &sh_pod(
            "waiting",
            "true",
            "    volumeMounts: [{name: in, mountPath: /in}]\n  volumes: [{name: in, hostPath: {path: /nonexistent-joblite-input, type: Directory}}]\n",
        ),
    );
    wait_ready(&s, "p");
    wait_phase(&s, "done", "Succeeded");
    for &(version, ws, _) in CLIENTS {
        let ctx = format!("kubectl {version} websockets={ws:?}");
        let exec = |args: &[&str]| {
            let mut c = kubectl(&s, version, ws);
            c.arg("exec").args(args);
            run(c, None)
        };
        let r = exec(&["nope", "--", "true"]);
        assert_eq!(
            (r.code(), r.stderr()),
            (
                1,
                "Error from server (NotFound): pods \"nope\" not found\n".into()
            ),
            "{ctx}"
        );
        let r = exec(&["p", "-c", "bad", "--", "true"]);
        assert_eq!(
            (r.code(), r.stderr()),
            (
                1,
                "Error from server (BadRequest): container bad is not valid for pod p\n".into()
            ),
            "{ctx}"
        );
        let r = exec(&["done", "--", "true"]);
        assert_eq!(
            (r.code(), r.stderr()),
            (
                1,
                "error: cannot exec into a container in a completed pod; current phase is Succeeded\n"
                    .into()
            ),
            "{ctx}"
        );
        let r = exec(&["waiting", "--", "true"]);
        assert_eq!(
            (r.code(), r.stderr()),
            (
                1,
                "error: unable to upgrade connection: container not found (\"main\")\n".into()
            ),
            "{ctx}"
        );
        let r = exec(&["p", "--", "no-such-command-xyz"]);
        assert_eq!(r.code(), 1, "{ctx}");
        let err = r.stderr();
        assert!(
            err.starts_with("error: Internal error occurred: error executing command in container: failed to exec in container: failed to start exec")
                && err.contains("exec: \"no-such-command-xyz\": executable file not found in $PATH"),
            "{ctx}: {err}"
        );
    }
}

#[test]
fn exec_requests_are_checked_as_the_api_server_checks_them() {
    let s = Server::start();
    apply(
        &s,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: two}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: a, image: busybox, command: [sleep, '300']}\n  - {name: b, image: busybox, command: [sleep, '300']}\n",
    );
    wait_ready(&s, "two");
    let ws = [
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Protocol: v5.channel.k8s.io",
    ];
    let path = "/api/v1/namespaces/default/pods/two/exec";
    let status = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();
    let (code, body) = s.curl(
        "GET",
        &format!("{path}?command=true&container=a&stdout=true"),
        &[],
        None,
    );
    assert_eq!(
        (code, status(&body)["message"].as_str()),
        (400, Some("Upgrade request required"))
    );
    let (code, body) = s.curl(
        "GET",
        &format!("{path}?command=true&stdout=true"),
        &ws,
        None,
    );
    assert_eq!(
        (code, status(&body)["message"].as_str()),
        (
            400,
            Some("a container name must be specified for pod two, choose one of: [a b]")
        )
    );
    // Booleans are false only when absent, 0 or false.
    let (code, body) = s.curl(
        "GET",
        &format!("{path}?command=true&container=a&stdout=0&stderr=FALSE"),
        &ws,
        None,
    );
    assert_eq!(
        (code, status(&body)["message"].as_str()),
        (
            400,
            Some("you must specify at least 1 of stdin, stdout, stderr")
        )
    );
    let (code, _) = s.curl(
        "PUT",
        &format!("{path}?command=true&container=a&stdout=1"),
        &ws,
        None,
    );
    assert_eq!(code, 405);
}

/// A private tmux server: a real terminal for kubectl.
pub(crate) struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    /// Starts `cmd` (a shell command line) in a detached 100x30 window;
    /// its exit code is shown as `EXIT=<n>` after it ends.
    pub(crate) fn start(dir: &Path, cmd: &str) -> Tmux {
        let t = Tmux {
            socket: dir.join("tmux.sock"),
        };
        let line = format!("{cmd}; echo EXIT=$?; sleep 60");
        let ok = t
            .tmux(&[
                "new-session",
                "-d",
                "-x",
                "100",
                "-y",
                "30",
                "-s",
                "t",
                &line,
            ])
            .status
            .success();
        assert!(
            ok,
            "tmux new-session failed (is tmux installed? .ci/run installs it)"
        );
        t
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux")
    }

    pub(crate) fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", keys]);
        self.tmux(&["send-keys", "-t", "t", "Enter"]);
    }

    pub(crate) fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    pub(crate) fn resize(&self, cols: u16, rows: u16) {
        self.tmux(&[
            "resize-window",
            "-t",
            "t",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
        ]);
    }

    /// Types `keys` until the screen shows `text` (for what becomes true
    /// a moment after the session starts, such as the first resize).
    #[track_caller]
    pub(crate) fn retype_until(&self, keys: &str, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.keys(keys);
            std::thread::sleep(Duration::from_millis(200));
            let screen = self.screen();
            if screen.contains(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} on screen:\n{screen}"
            );
            self.keys("clear");
        }
    }

    /// Waits until the screen shows `text`.
    #[track_caller]
    pub(crate) fn expect(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} on screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// A shell command line that runs kubectl with this server's settings.
pub(crate) fn kubectl_line(s: &Server, version: &str, ws: Option<&str>, args: &str) -> String {
    format!(
        "env KUBECONFIG={} HOME={} {} {} {args}",
        s.kubeconfig.display(),
        s.home.path().display(),
        ws.map(|v| format!("KUBECTL_REMOTE_COMMAND_WEBSOCKETS={v}"))
            .unwrap_or_default(),
        crate::harness::kubectl_path(version).display(),
    )
}

#[test]
fn exec_it_gets_a_terminal_that_follows_resizes() {
    let s = Server::start();
    apply(&s, &sh_pod("p", "sleep 300", ""));
    wait_ready(&s, "p");
    for (i, &(version, ws, _)) in CLIENTS.iter().enumerate() {
        let dir = s.home.path().join(format!("tty{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let t = Tmux::start(&dir, &kubectl_line(&s, version, ws, "exec -it p -- sh"));
        // The markers are built by the shell, so the echoed command line
        // never matches them.
        t.expect("#");
        t.keys("echo T$(tty)T");
        t.expect("T/dev/pts/");
        // kubectl sends the initial size just after the session starts.
        t.retype_until("echo S$(stty size)S", "S30 100S");
        t.resize(120, 40);
        t.retype_until("echo R$(stty size)R", "R40 120R");
        t.keys("exit 3");
        t.expect("command terminated with exit code 3");
        t.expect("EXIT=3");
    }
}
