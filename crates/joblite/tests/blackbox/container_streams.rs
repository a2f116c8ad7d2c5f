//! Interactive pods on the container runtime, on both engines (the shared
//! rigs' Podman and Docker Engine):
//! `kubectl exec` (streams, exit codes, `-it` terminals, upstream errors),
//! `attach`, `cp`, `port-forward` and `run -i --rm`, with kubectl 1.33
//! and 1.31 (WebSocket, and SPDY inside a WebSocket for port-forward) and
//! 1.29 (SPDY), and joblite's own `run -i`.
//!
//! Each test runs its own engine on the one rig, so they run concurrently.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::attach::{tick, Live, TICKER};
use crate::exec::{kubectl, kubectl_line, run, Tmux, CLIENTS};
use crate::harness::{on_both_engines, Engine, Run, Server};

/// A pod of one container `main` from the rig's busybox running
/// `sh -c script`, with `extra` lines appended to the container.
fn pod(name: &str, script: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: busybox\n    imagePullPolicy: IfNotPresent\n    command: [sh, -c, {script:?}]\n{extra}"
    )
}

fn apply(s: &Server, yaml: &str) {
    s.kubectl_stdin("1.33", &["apply", "-f", "-"], yaml).ok();
}

/// Waits until the pod is Running and Ready.
fn wait_ready(s: &Server, name: &str) {
    s.wait_for(
        &format!("pod {name} ready"),
        Duration::from_secs(120),
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

fn container_id(s: &Server, name: &str) -> String {
    s.kubectl(&[
        "get",
        "pod",
        name,
        "-o",
        "jsonpath={.status.containerStatuses[0].containerID}",
    ])
    .ok()
}

fn container_exec_returns_output_exit_codes_and_upstream_errors(e: Engine) {
    let s = Server::start_container_on(e);
    apply(
        &s,
        &pod(
            "p",
            "sleep 300",
            "    env: [{name: GREETING, value: hello}]\n    workingDir: /tmp\n    securityContext: {runAsUser: 65534}\n",
        ),
    );
    // One container runs, the other has ended: the pod stays Running.
    apply(
        &s,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: two}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: a, image: busybox, imagePullPolicy: IfNotPresent, command: [sleep, '300']}\n  - {name: done, image: busybox, imagePullPolicy: IfNotPresent, command: ['true']}\n",
    );
    apply(&s, &pod("finished", "true", ""));
    wait_ready(&s, "p");
    assert!(
        container_id(&s, "p").starts_with(&format!("{}://", e.name())),
        "a container pod"
    );
    s.wait_for("pod finished Succeeded", Duration::from_secs(60), || {
        let r = s.kubectl(&["get", "pod", "finished", "-o", "jsonpath={.status.phase}"]);
        (r.stdout() == "Succeeded").then_some(())
    });
    // joblite's own exec takes the same path.
    let mut c = joblite(&s);
    c.args([
        "exec",
        "pod/p",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
    ]);
    let r = run(c, None);
    assert_eq!(
        (r.stdout().as_str(), r.code()),
        ("out\n", 7),
        "joblite exec: {}",
        r.stderr()
    );
    s.wait_for("container done ended", Duration::from_secs(60), || {
        let r = s.kubectl(&[
            "get",
            "pod",
            "two",
            "-o",
            "jsonpath={.status.containerStatuses[?(@.name==\"done\")].state.terminated.reason}",
        ]);
        (r.stdout() == "Completed").then_some(())
    });
    let big: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    for &(version, ws, _) in CLIENTS {
        let ctx = format!("kubectl {version} websockets={ws:?}");
        let exec = |args: &[&str], stdin: Option<&[u8]>| {
            let mut c = kubectl(&s, version, ws);
            c.arg("exec").args(args);
            run(c, stdin)
        };
        let r = exec(
            &["p", "--", "sh", "-c", "echo out; echo err >&2; exit 7"],
            None,
        );
        assert_eq!(
            (r.stdout().as_str(), r.stderr().as_str(), r.code()),
            ("out\n", "err\ncommand terminated with exit code 7\n", 7),
            "{ctx}"
        );
        // The container's env, working directory and user.
        let r = exec(&["p", "--", "sh", "-c", "echo $GREETING; pwd; id -u"], None);
        assert_eq!(r.ok(), "hello\n/tmp\n65534\n", "{ctx}");
        let r = exec(&["-i", "p", "--", "cat"], Some(b"hello\nworld\n"));
        assert_eq!(
            (r.stdout().as_str(), r.code()),
            ("hello\nworld\n", 0),
            "{ctx}: {}",
            r.stderr()
        );
        let r = exec(&["-i", "p", "--", "cat"], Some(&big));
        assert_eq!(r.code(), 0, "{ctx}: {}", r.stderr());
        assert!(r.0.stdout == big, "{ctx}: {} bytes back", r.0.stdout.len());

        // A missing binary: the engine's message and exit code (126 for
        // a file that is not executable). The code is the engine's exec
        // exit code, as dockershim reported it: Podman says 127, Docker
        // Engine 126 (`docker exec` of a missing binary exits 126 too).
        let missing = match e {
            Engine::Podman => 127,
            Engine::Docker => 126,
        };
        // Podman refuses the exec's start, and joblite writes its message
        // to stderr; Docker Engine writes it into the exec's stdout
        // (moby `api/server/router/container/exec.go`,
        // postContainerExecStart), so kubectl shows it there, as it did on
        // dockershim nodes.
        let says = |r: &Run| match e {
            Engine::Podman => r.stderr(),
            Engine::Docker => r.stdout(),
        };
        let r = exec(&["p", "--", "no-such-command-xyz"], None);
        let (msg, err) = (says(&r), r.stderr());
        assert_eq!(r.code(), missing, "{ctx}: {err}");
        assert!(
            msg.contains("exec: \"no-such-command-xyz\": executable file not found in $PATH")
                && err.ends_with(&format!("command terminated with exit code {missing}\n"))
                && !err.contains("unixpacket"),
            "{ctx}: {msg} {err}"
        );
        let r = exec(&["p", "--", "/etc/passwd"], None);
        assert_eq!(r.code(), 126, "{ctx}: {}", r.stderr());
        assert!(says(&r).contains("permission denied"), "{ctx}");

        let r = exec(&["nope", "--", "true"], None);
        assert_eq!(
            (r.code(), r.stderr()),
            (
                1,
                "Error from server (NotFound): pods \"nope\" not found\n".into()
            ),
            "{ctx}"
        );
        let r = exec(&["p", "-c", "bad", "--", "true"], None);
        assert_eq!(
            (r.code(), r.stderr()),
            (
                1,
                "Error from server (BadRequest): container bad is not valid for pod p\n".into()
            ),
            "{ctx}"
        );
        let r = exec(&["finished", "--", "true"], None);
        assert_eq!(
            (r.code(), r.stderr()),
            (
                1,
                "error: cannot exec into a container in a completed pod; current phase is Succeeded\n"
                    .into()
            ),
            "{ctx}"
        );
        let r = exec(&["two", "-c", "done", "--", "true"], None);
        assert_eq!(
            (r.code(), r.stderr()),
            (
                1,
                "error: unable to upgrade connection: container not found (\"done\")\n".into()
            ),
            "{ctx}"
        );
    }
}

fn container_exec_it_gets_a_terminal_that_follows_resizes(e: Engine) {
    let s = Server::start_container_on(e);
    apply(&s, &pod("p", "sleep 300", ""));
    wait_ready(&s, "p");
    for (i, (version, ws)) in [("1.33", None), ("1.29", None)].into_iter().enumerate() {
        let dir = s.home.path().join(format!("tty{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let t = Tmux::start(&dir, &kubectl_line(&s, version, ws, "exec -it p -- sh"));
        t.expect("#");
        t.keys("echo T$(tty)T");
        t.expect("T/dev/pts/");
        t.retype_until("echo S$(stty size)S", "S30 100S");
        t.resize(120, 40);
        t.retype_until("echo R$(stty size)R", "R40 120R");
        t.keys("exit 3");
        t.expect("command terminated with exit code 3");
        t.expect("EXIT=3");
    }
}

fn container_attach_shows_live_output_and_writes_stdin(e: Engine) {
    let s = Server::start_container_on(e);
    apply(&s, &pod("ticker", TICKER, ""));
    // One stdin pod per client: Podman (conmon) closes a container's stdin
    // when an attached client leaves, even without stdinOnce.
    for i in 0..2 {
        apply(&s, &pod(&format!("echo{i}"), "cat", "    stdin: true\n"));
    }
    wait_ready(&s, "ticker");
    wait_ready(&s, "echo0");
    wait_ready(&s, "echo1");
    std::thread::sleep(Duration::from_millis(600));
    for (i, (version, ws)) in [("1.33", None), ("1.29", None)].into_iter().enumerate() {
        let ctx = format!("kubectl {version}");
        let mut c = kubectl(&s, version, ws);
        c.args(["attach", "ticker"]);
        let live = Live::start(c);
        let lines: Vec<(Instant, u64)> = (0..4)
            .map(|_| {
                let (t, l) = live.line();
                (t, tick(&l))
            })
            .collect();
        assert!(lines[0].1 > 1, "{ctx}: attach began at tick {}", lines[0].1);
        for w in lines.windows(2) {
            assert_eq!(w[1].1, w[0].1 + 1, "{ctx}: consecutive ticks");
            assert!(
                w[1].0 - w[0].0 > Duration::from_millis(100),
                "{ctx}: ticks {} and {} arrived {:?} apart",
                w[0].1,
                w[1].1,
                w[1].0 - w[0].0
            );
        }
        drop(live);

        let mut c = kubectl(&s, version, ws);
        c.args(["attach", "-i", &format!("echo{i}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "line {i}").unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, format!("line {i}\n"), "{ctx}");
        drop(stdin);
        std::thread::sleep(Duration::from_millis(300));
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn container_cp_round_trips_and_port_forward_reaches_a_server_on_the_pods_loopback(e: Engine) {
    let s = Server::start_container_on(e);
    // httpd on the pod's own loopback: only the pod's network namespace
    // reaches it.
    apply(
        &s,
        &pod(
            "web",
            "mkdir -p /tmp/www && echo hello from web > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /tmp/www",
            "",
        ),
    );
    wait_ready(&s, "web");
    let blob: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    let local = s.home.path().join("blob.bin");
    std::fs::write(&local, &blob).unwrap();
    for &(version, ws) in &[("1.33", None), ("1.29", None)] {
        let ctx = format!("kubectl {version}");
        let remote = format!("web:/tmp/blob-{version}.bin");
        let mut c = kubectl(&s, version, ws);
        c.arg("cp").arg(&local).arg(&remote);
        let r = run(c, None);
        assert_eq!(r.code(), 0, "{ctx}: {}", r.stderr());
        let back = s.home.path().join(format!("back-{version}.bin"));
        let mut c = kubectl(&s, version, ws);
        c.arg("cp").arg(&remote).arg(&back);
        let r = run(c, None);
        assert_eq!(r.code(), 0, "{ctx}: {}", r.stderr());
        assert!(std::fs::read(&back).unwrap() == blob, "{ctx}: bytes differ");
    }
    // The blob is in the container, not on the host.
    let r = s.kubectl(&[
        "exec",
        "web",
        "--",
        "sh",
        "-c",
        "wc -c < /tmp/blob-1.33.bin",
    ]);
    assert_eq!(r.ok().trim(), "3000000");

    // 1.33 tunnels SPDY in a WebSocket; 1.29 speaks SPDY.
    for version in ["1.33", "1.29"] {
        let port = free_port();
        let mut f = forward(&s, version, &format!("{port}:8080"));
        let (status, body) = http_get(port, "/index.html");
        assert!(status.contains("200"), "{version}: {status}");
        assert_eq!(body, b"hello from web\n", "{version}");
        let _ = f.kill();
        let _ = f.wait();
    }
    // Nothing listens on 8081: upstream's error, naming the sandbox's
    // namespace.
    let port = free_port();
    let mut c = kubectl(&s, "1.33", None);
    c.args(["port-forward", "pod/web", &format!("{port}:8081")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    // The first connection (this probe) fails in the pod, and kubectl
    // ends.
    wait_listening(port);
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!status.success(), "{err}");
    assert!(
        err.contains("failed to connect to localhost:8081 inside namespace")
            && err.contains("IPv4: dial tcp4 127.0.0.1:8081: connect: connection refused"),
        "{err}"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port-forward never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `kubectl port-forward pod/web PORTS`, once it listens.
fn forward(s: &Server, version: &str, ports: &str) -> std::process::Child {
    let mut c = kubectl(s, version, None);
    c.args(["port-forward", "pod/web", ports])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = c.spawn().unwrap();
    let port: u16 = ports.split(':').next().unwrap().parse().unwrap();
    wait_listening(port);
    child
}

/// An HTTP/1.0 GET from 127.0.0.1:`port`: (status line, body).
fn http_get(port: u16, path: &str) -> (String, Vec<u8>) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(c, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut resp = Vec::new();
    c.read_to_end(&mut resp).unwrap();
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("not HTTP: {:?}", String::from_utf8_lossy(&resp)));
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    (
        head.lines().next().unwrap_or("").to_string(),
        resp[split + 4..].to_vec(),
    )
}

/// `joblite ARGS…` as a client of the test's server.
fn joblite(s: &Server) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_joblite"));
    c.env("KUBECONFIG", &s.kubeconfig)
        .env("HOME", s.home.path())
        .env_remove("JOBLITE_DATA_DIR");
    c
}

fn container_run_i_feeds_stdin_streams_and_exits_with_the_containers_code(e: Engine) {
    let s = Server::start_container_on(e);
    for (i, (version, ws)) in [("1.33", None), ("1.29", None)].into_iter().enumerate() {
        let ctx = format!("kubectl {version}");
        // The rig's busybox has no ENTRYPOINT: the args are the command.
        let name = format!("read{i}");
        let mut c = kubectl(&s, version, ws);
        c.args([
            "run",
            "-i",
            "--rm",
            &name,
            "--image=busybox",
            "--restart=Never",
            "--",
            "sh",
            "-c",
            "read x; echo got $x",
        ]);
        let r: Run = run(c, Some(b"hi\n"));
        assert_eq!(r.code(), 0, "{ctx}: {}", r.stderr());
        assert!(r.stdout().contains("got hi\n"), "{ctx}: {}", r.stdout());
        assert!(
            r.stdout().contains(&format!("pod \"{name}\" deleted")),
            "{ctx}: {}",
            r.stdout()
        );

        let name = format!("slow{i}");
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
            "sleep 2; echo done; exit 4",
        ]);
        let r = run(c, None);
        assert_eq!(r.code(), 4, "{ctx}: {}", r.stderr());
        assert_eq!(r.stdout(), "done\n", "{ctx}");
    }
    // joblite's own `run -i` attaches to the Job's pod: lines arrive live.
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
        "sleep 2; for i in 1 2 3; do echo $i; sleep 1; done",
    ]);
    let live = Live::start(c);
    let lines: Vec<_> = (0..3).map(|_| live.line()).collect();
    assert_eq!(
        lines.iter().map(|l| l.1.as_str()).collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    for w in lines.windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(
            gap > Duration::from_millis(600),
            "a second apart, as written: {gap:?}"
        );
    }
    let (code, err) = live.finish();
    assert_eq!(code, 0, "{err}");
}

fn container_attach_ends_with_an_error_on_an_engine_restart_and_the_python_client_execs(e: Engine) {
    let mut s = Server::start_container_on(e);
    apply(&s, &pod("ticker", TICKER, ""));
    apply(&s, &pod("p", "sleep 300", ""));
    wait_ready(&s, "ticker");
    wait_ready(&s, "p");
    // The Python client (v4.channel.k8s.io): output and return codes.
    crate::python_client::run_script(&s, "python_exec.py");

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
    // Down for at least three ticks, so the check below tells live output
    // from a replay of what was written meanwhile: on an idle machine the
    // restart and the new attach alone can take less than two ticks.
    std::thread::sleep(Duration::from_millis(700));
    s.restart();
    wait_ready(&s, "ticker");
    assert_eq!(id(&s), before, "same container, no restart");
    let mut c = kubectl(&s, "1.33", None);
    c.args(["attach", "ticker"]);
    let live = Live::start(c);
    let (_, again) = live.line();
    assert!(tick(&again) > tick(&first) + 1, "{first} then {again}");
}

fn container_run_it_attaches_a_terminal_that_follows_resizes(e: Engine) {
    let s = Server::start_container_on(e);
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
        // The container's own terminal (`tty: true`), through attach.
        t.retype_until("echo T$(tty)T", "T/dev/pts/");
        t.retype_until("echo S$(stty size)S", "S30 100S");
        t.resize(120, 40);
        t.retype_until("echo R$(stty size)R", "R40 120R");
        t.keys("exit 5");
        t.expect("EXIT=5");
    }
}

on_both_engines!(
    container_exec_returns_output_exit_codes_and_upstream_errors,
    container_exec_it_gets_a_terminal_that_follows_resizes,
    container_attach_shows_live_output_and_writes_stdin,
    container_cp_round_trips_and_port_forward_reaches_a_server_on_the_pods_loopback,
    container_run_i_feeds_stdin_streams_and_exits_with_the_containers_code,
    container_attach_ends_with_an_error_on_an_engine_restart_and_the_python_client_execs,
    container_run_it_attaches_a_terminal_that_follows_resizes,
);
