//! `kubectl port-forward` to an HTTP server in a process pod (which shares
//! the host's network, so it listens on the host's loopback): SPDY inside a
//! WebSocket for kubectl 1.31+, raw SPDY for 1.29.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::exec::{apply, kubectl, run, sh_pod, wait_phase, wait_ready};
use crate::harness::Server;

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP/1.0 GET of `path` from 127.0.0.1:`port`: (status line, body).
fn http_get(port: u16, path: &str) -> (String, Vec<u8>) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect to the forwarded port");
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(c, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut resp = Vec::new();
    c.read_to_end(&mut resp).unwrap();
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    (
        head.lines().next().unwrap_or("").to_string(),
        resp[split + 4..].to_vec(),
    )
}

/// `kubectl port-forward` running until dropped, once it reports forwarding.
struct Forward {
    child: Child,
    stderr: std::sync::mpsc::Receiver<String>,
}

impl Forward {
    fn start(s: &Server, version: &str, args: &[&str]) -> Forward {
        let mut c = kubectl(s, version, None);
        c.arg("port-forward")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        let etx = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = etx.send(l);
            }
        });
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let f = Forward { child, stderr: rx };
        f.wait_for("Forwarding from 127.0.0.1:");
        f
    }

    /// Waits for a line of kubectl's output containing `text`; returns it
    /// with the lines before it.
    fn wait_for(&self, text: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(l) = self.stderr.recv_timeout(Duration::from_millis(100)) {
                let hit = l.contains(text);
                seen.push(l);
                if hit {
                    return seen;
                }
            }
        }
        panic!("kubectl port-forward never printed {text:?}: {seen:#?}");
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn web_pod(s: &Server, name: &str, port: u16) -> Vec<u8> {
    // Outside the data directory, which a pod cannot see (README
    // "Isolation model").
    let root = s.home.path().join(format!("www-{name}"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.html"), format!("hello from {name}\n")).unwrap();
    let big: Vec<u8> = (0..(2 << 20))
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(root.join("big.bin"), &big).unwrap();
    apply(
        s,
        &sh_pod(
            name,
            &format!(
                "exec busybox httpd -f -p 127.0.0.1:{port} -h {}",
                root.display()
            ),
            "",
        ),
    );
    wait_ready(s, name);
    // The server is up once it answers on the host's loopback.
    s.wait_for("httpd listening", Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    big
}

#[test]
fn port_forward_reaches_an_http_server_in_the_pod() {
    let s = Server::start();
    let pod_port = free_port();
    let big = web_pod(&s, "web", pod_port);
    for (version, tunnel) in [("1.33", true), ("1.31", true), ("1.29", false)] {
        let local = free_port();
        let mapping = format!("{local}:{pod_port}");
        let f = Forward::start(&s, version, &["-v=6", "pod/web", &mapping]);
        let (status, body) = http_get(local, "/index.html");
        assert!(status.ends_with(" 200 OK"), "kubectl {version}: {status}");
        assert_eq!(body, b"hello from web\n", "kubectl {version}");
        // Two at once, and 2 MiB through one.
        let a = std::thread::spawn(move || http_get(local, "/big.bin"));
        let (_, again) = http_get(local, "/index.html");
        assert_eq!(again, b"hello from web\n");
        let (status, got) = a.join().unwrap();
        assert!(status.ends_with(" 200 OK"), "{status}");
        assert!(
            got == big,
            "kubectl {version}: {} of {} bytes",
            got.len(),
            big.len()
        );
        drop(f);
        // Which transport: kubectl 1.31+ tunnels SPDY in a WebSocket (GET),
        // older kubectl upgrades to SPDY (POST).
        let mut c = kubectl(&s, version, None);
        c.args([
            "port-forward",
            "-v=6",
            "pod/web",
            &format!("{}:{pod_port}", free_port()),
        ]);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let upgrade = lines
            .by_ref()
            .map_while(Result::ok)
            .find(|l| l.contains("/portforward") && l.contains("101 Switching Protocols"))
            .expect("an upgrade line");
        let _ = child.kill();
        let _ = child.wait();
        let verb = if tunnel { "GET" } else { "POST" };
        assert!(upgrade.contains(verb), "kubectl {version}: {upgrade}");
    }
}

#[test]
fn port_forward_errors_read_as_upstream() {
    let s = Server::start();
    apply(&s, &sh_pod("idle", "sleep 300", ""));
    apply(&s, &sh_pod("done", "true", ""));
    wait_ready(&s, "idle");
    wait_phase(&s, "done", "Succeeded");
    // Nothing listens on the pod's port: the connection fails with the
    // kubelet's wording, and kubectl gives up on the session.
    let closed = free_port();
    let local = free_port();
    let f = Forward::start(&s, "1.33", &["pod/idle", &format!("{local}:{closed}")]);
    let mut c = TcpStream::connect(("127.0.0.1", local)).unwrap();
    let _ = c.write_all(b"GET / HTTP/1.0\r\n\r\n");
    let lines = f.wait_for("an error occurred forwarding");
    let err = lines.last().unwrap();
    assert!(
        err.contains(&format!("error forwarding port {closed} to pod "))
            && err.contains(&format!(
                "dial tcp4 127.0.0.1:{closed}: connect: connection refused"
            )),
        "{err}"
    );
    // kubectl's own check of the pod phase.
    let mut c = kubectl(&s, "1.33", None);
    c.args(["port-forward", "pod/done", &format!("{}:80", free_port())]);
    let r = run(c, None);
    assert_eq!(
        (r.code(), r.stderr()),
        (
            1,
            "error: unable to forward port because pod is not running. Current status=Succeeded\n"
                .into()
        )
    );
    let mut c = kubectl(&s, "1.33", None);
    c.args(["port-forward", "pod/nope", "1234:80"]);
    let r = run(c, None);
    assert_eq!(
        (r.code(), r.stderr()),
        (
            1,
            "Error from server (NotFound): pods \"nope\" not found\n".into()
        )
    );
}
