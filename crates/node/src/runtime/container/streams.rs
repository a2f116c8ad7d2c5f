//! The container runtime's interactive side: `kubectl exec`, `attach`,
//! `cp` (which is `tar` through exec) and `port-forward` for pods in a
//! container engine, as the kubelet does them through its CRI.
//!
//! **exec and attach** go through the engine's own API: `POST
//! /containers/{id}/exec` then `POST /exec/{id}/start`, and `POST
//! /containers/{id}/attach`, each a hijacked HTTP connection that carries
//! the process's stdio; `/exec/{id}/resize` and `/containers/{id}/resize`
//! follow the client's terminal, and `GET /exec/{id}/json` gives the exit
//! code. The exec runs with the container's environment, working
//! directory and user (the engine's default for an exec). A container
//! that cannot run the command ends the exec as the engine ends it: its
//! message on stderr and exit code 126 (not executable) or 127 (not
//! found), which kubectl prints as `command terminated with exit code
//! 127`, as it does on a node whose CRI is a Docker engine (cri-dockerd).
//!
//! The hijacked connections are read here, not through bollard's
//! `start_exec`/`attach_container`: bollard guesses whether a stream is a
//! terminal from its first byte (a terminal byte 0–2 then reads as a frame
//! header) and buffers terminal output up to a newline on Unix sockets,
//! which would hold back a shell's prompt. The framing is simple: with a
//! TTY the stream is the terminal's bytes; without, each chunk has an
//! 8-byte header (stream, 0, 0, 0, big-endian length). Half-closing the
//! connection ends the process's stdin (`stdinOnce` containers then see
//! EOF), as the Docker CLI does.
//!
//! **port-forward** must reach the pod's network namespace, which the
//! pod's sandbox holds (`pause.rs`): a server in the pod may listen on
//! `localhost` only, which no address outside the namespace reaches. So,
//! as containerd and CRI-O do (`netNSDo`, then dial `localhost:port`), a
//! short-lived thread enters the sandbox's namespace (`setns` on
//! `/proc/<sandbox pid>/ns/net`, which needs the engine on this host and
//! the privilege to enter it), makes the connection there and leaves; the
//! socket stays in the pod's namespace. Where the namespace cannot be
//! entered (a remote engine, no privilege), the connection goes to the
//! sandbox's IP on the engine's network instead, which reaches servers
//! listening on the pod's address but not those on its loopback. The
//! alternative of exec'ing a relay (`socat`, `nc`) inside a container,
//! as dockershim did, needs a binary the pod's images may not have.

use std::io::Cursor;
use std::time::Duration;

use api::streams::{Input, Outcome, Output, StreamOptions, TerminalSize};
use bollard::query_parameters::{ResizeContainerTTYOptions, ResizeExecOptions};
use bollard::Docker;
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch, OnceCell};

use super::{create, engine, message, raw, status_code, unreachable, Engine};
use crate::streams::{ContainerStreams, Session, Tunnel};
use crate::Error;

/// Messages buffered each way in a session.
const QUEUE: usize = 64;
/// How long an API call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an ended exec may take to show its exit code.
const EXIT_WAIT: Duration = Duration::from_secs(10);
/// How long a burst of resizes may take before the latest is applied.
const RESIZE_SETTLE: Duration = Duration::from_millis(50);

/// Sessions with the container engine.
pub struct EngineStreams {
    engine: Engine,
    docker: OnceCell<Docker>,
}

impl EngineStreams {
    pub fn new(engine: &Engine) -> EngineStreams {
        EngineStreams {
            engine: engine.clone(),
            docker: OnceCell::new(),
        }
    }

    /// The API client, at the engine's API version.
    async fn docker(&self) -> Result<&Docker, Error> {
        self.docker
            .get_or_try_init(|| async {
                let d = engine::client(&self.engine.endpoint, CALL_TIMEOUT)
                    .map_err(|e| Error::Supervisor(format!("container engine: {e}")))?;
                d.negotiate_version()
                    .await
                    .map_err(|e| Error::Supervisor(format!("container engine: {e}")))
            })
            .await
    }

    async fn exec_session(&self, id: &str, opts: &StreamOptions) -> Result<Session, Error> {
        let docker = self.docker().await?.clone();
        let config = bollard::models::ExecConfig {
            attach_stdin: Some(opts.stdin),
            attach_stdout: Some(opts.stdout),
            attach_stderr: Some(opts.stderr),
            tty: Some(opts.tty),
            cmd: Some(opts.command.clone()),
            ..Default::default()
        };
        let exec = docker
            .create_exec(id, config)
            .await
            .map_err(session_error)?
            .id;
        let body = serde_json::json!({"Detach": false, "Tty": opts.tty}).to_string();
        let conn = hijack(
            &self.engine.endpoint,
            &format!("/exec/{exec}/start"),
            "application/json",
            body.as_bytes(),
        )
        .await
        .map_err(session_error)?;
        let resize = {
            let docker = docker.clone();
            let exec = exec.clone();
            move |s: TerminalSize| {
                let docker = docker.clone();
                let exec = exec.clone();
                async move {
                    let o = ResizeExecOptions {
                        h: s.height.into(),
                        w: s.width.into(),
                    };
                    if let Err(e) = docker.resize_exec(&exec, o).await {
                        tracing::debug!("container engine: resizing exec {exec}: {e}");
                    }
                }
            }
        };
        let end = move || async move { exec_exit(&docker, &exec).await };
        Ok(pump(conn, opts.tty, true, resize, end))
    }

    async fn attach_session(&self, id: &str, opts: &StreamOptions) -> Result<Session, Error> {
        let docker = self.docker().await?.clone();
        // The container's own configuration decides the framing and
        // whether it has a stdin to write to.
        let info = raw::get_json(&self.engine.endpoint, &format!("/containers/{id}/json"))
            .await
            .map_err(session_error)?;
        if info.pointer("/State/Running").and_then(Value::as_bool) != Some(true) {
            return Err(Error::ContainerNotFound(String::new()));
        }
        let flag = |p: &str| info.pointer(p).and_then(Value::as_bool) == Some(true);
        let tty = flag("/Config/Tty");
        let stdin = opts.stdin && flag("/Config/OpenStdin");
        // The kubelet's runtimes close a container's stdin when an
        // attached client's ends only for `stdinOnce` containers; Podman
        // would close it on any half-close, so others get none.
        let stdin_once = flag("/Config/StdinOnce");
        let q = |b: bool| if b { "1" } else { "0" };
        let path = format!(
            "/containers/{id}/attach?stream=1&logs=0&stdin={}&stdout={}&stderr={}",
            q(stdin),
            q(opts.stdout),
            q(opts.stderr)
        );
        let conn = hijack(&self.engine.endpoint, &path, "text/plain", b"")
            .await
            .map_err(session_error)?;
        let resize = {
            let docker = docker.clone();
            let id = id.to_string();
            move |s: TerminalSize| {
                let docker = docker.clone();
                let id = id.to_string();
                async move {
                    let o = ResizeContainerTTYOptions {
                        h: s.height.into(),
                        w: s.width.into(),
                    };
                    if let Err(e) = docker.resize_container_tty(&id, o).await {
                        tracing::debug!("container engine: resizing {id}'s terminal: {e}");
                    }
                }
            }
        };
        let id = id.to_string();
        let endpoint = self.engine.endpoint.clone();
        let end = move || async move {
            // The stream ends when the container exits, or when the
            // engine goes away: only the first is a normal end.
            match raw::get_json(&endpoint, &format!("/containers/{id}/json")).await {
                Err(e) if unreachable(&e) => Outcome::Failed(format!(
                    "lost the connection to the container engine: {}",
                    message(&e)
                )),
                _ => Outcome::Ended,
            }
        };
        Ok(pump(conn, tty, stdin_once, resize, end))
    }
}

/// An engine error before a session started, as the API answers it: a
/// container that is gone or not running is the kubelet's
/// `container not found`; the name is filled in by the caller.
fn session_error(e: bollard::errors::Error) -> Error {
    match status_code(&e) {
        Some(404) | Some(409) => Error::ContainerNotFound(String::new()),
        _ if message(&e).contains("not running") => Error::ContainerNotFound(String::new()),
        _ => Error::Supervisor(format!("container engine: {}", message(&e))),
    }
}

/// The exit code of an exec once the engine has it.
async fn exec_exit(docker: &Docker, exec: &str) -> Outcome {
    let deadline = tokio::time::Instant::now() + EXIT_WAIT;
    loop {
        match docker.inspect_exec(exec).await {
            Ok(i) if i.running != Some(true) => {
                return Outcome::Exited(i.exit_code.unwrap_or(0) as i32);
            }
            Ok(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(_) => return Outcome::Failed("the exec did not report its exit".into()),
            Err(e) => {
                return Outcome::Failed(format!(
                    "error executing command in container: {}",
                    message(&e)
                ))
            }
        }
    }
}

/// A hijacked connection: what the engine sent after its response head,
/// then the connection.
type Conn = (Vec<u8>, Box<dyn Tunnel>);

/// Opens a connection to the engine.
async fn dial(endpoint: &str) -> std::io::Result<Box<dyn Tunnel>> {
    if let Some(sock) = endpoint
        .strip_prefix("unix://")
        .or_else(|| endpoint.starts_with('/').then_some(endpoint))
    {
        Ok(Box::new(tokio::net::UnixStream::connect(sock).await?))
    } else {
        let addr = endpoint
            .trim_start_matches("tcp://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        Ok(Box::new(tokio::net::TcpStream::connect(addr).await?))
    }
}

/// `POST path` with `Upgrade: tcp`; on success the connection carries the
/// process's stdio. Docker answers 101, Podman 200.
async fn hijack(
    endpoint: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Result<Conn, bollard::errors::Error> {
    let io = |e: std::io::Error| bollard::errors::Error::IOError { err: e };
    let mut s = tokio::time::timeout(CALL_TIMEOUT, dial(endpoint))
        .await
        .map_err(|_| bollard::errors::Error::RequestTimeoutError)?
        .map_err(io)?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: joblite\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.map_err(io)?;
    s.write_all(body).await.map_err(io)?;
    let mut buf = Vec::new();
    let end = tokio::time::timeout(CALL_TIMEOUT, async {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(p + 4);
            }
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the container engine closed the connection",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .map_err(|_| bollard::errors::Error::RequestTimeoutError)?
    .map_err(io)?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let rest = buf[end..].to_vec();
    if status == 101 || (200..300).contains(&status) {
        return Ok((rest, s));
    }
    // An error answer: its JSON body (up to the length it gives).
    let len = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    });
    let mut body = rest;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let mut chunk = [0u8; 4096];
        while len.is_none_or(|l| body.len() < l) {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
    Err(bollard::errors::Error::DockerResponseServerError {
        status_code: status,
        message,
    })
}

/// One piece of a hijacked stream.
#[derive(Debug, PartialEq, Eq)]
enum Chunk {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// Nothing to pass on (the stdin echo stream).
    Skip,
}

/// Reads the next chunk: the terminal's bytes with a TTY, else one
/// multiplexed frame. `None` at the end of the stream.
async fn next_chunk<R: AsyncRead + Unpin>(r: &mut R, tty: bool) -> std::io::Result<Option<Chunk>> {
    if tty {
        let mut buf = vec![0u8; 32 * 1024];
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        return Ok(Some(Chunk::Stdout(buf)));
    }
    let mut header = [0u8; 8];
    match r.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let mut data = vec![0u8; len];
    r.read_exact(&mut data).await?;
    Ok(Some(match header[0] {
        1 => Chunk::Stdout(data),
        // 2 is stderr; 3 is Docker's "systemerr", the engine's own error.
        2 | 3 => Chunk::Stderr(data),
        _ => Chunk::Skip,
    }))
}

/// Podman writes this when an exec's process never started, after the
/// real error; it is the engine's own plumbing, not the command's output.
fn is_podman_attach_noise(data: &[u8]) -> bool {
    data.starts_with(b"Error: read unixpacket") && data.ends_with(b"connection reset by peer\n")
}

/// Runs a session over a hijacked connection: input to the process (stdin,
/// its end as a half-close when `close_stdin`, resizes through `resize`),
/// output until the stream ends, then `end()` says how it ended.
fn pump<Rz, RzF, E, EF>(conn: Conn, tty: bool, close_stdin: bool, resize: Rz, end: E) -> Session
where
    Rz: Fn(TerminalSize) -> RzF + Send + 'static,
    RzF: std::future::Future<Output = ()> + Send,
    E: FnOnce() -> EF + Send + 'static,
    EF: std::future::Future<Output = Outcome> + Send,
{
    let (head, stream) = conn;
    let (rd, mut wr) = tokio::io::split(stream);
    let mut rd = Cursor::new(head).chain(rd);
    let (in_tx, mut in_rx) = mpsc::channel::<Input>(QUEUE);
    let (out_tx, out_rx) = mpsc::channel::<Output>(QUEUE);
    // Resizes are coalesced: the latest size once a burst settles.
    // kubectl sends two at once (size+1, then the size, to force a
    // redraw), and an older conmon (Debian bookworm's 2.1.6, under Podman
    // 4.3) that reads both from its control FIFO in one read parses the
    // buffer's first line for each, leaving the terminal a row and a
    // column too big (newer conmon parses each line).
    let (size_tx, mut size_rx) = watch::channel(None::<TerminalSize>);
    tokio::spawn(async move {
        while size_rx.changed().await.is_ok() {
            tokio::time::sleep(RESIZE_SETTLE).await;
            let latest = *size_rx.borrow_and_update();
            if let Some(size) = latest {
                resize(size).await;
            }
        }
    });
    tokio::spawn(async move {
        let mut open = true;
        while let Some(msg) = in_rx.recv().await {
            match msg {
                Input::Stdin(data) if open => {
                    open = wr.write_all(&data).await.is_ok();
                }
                Input::StdinEof if open => {
                    if close_stdin {
                        let _ = wr.shutdown().await;
                    }
                    open = false;
                }
                Input::Resize(size) => {
                    size_tx.send_replace(Some(size));
                }
                _ => {}
            }
        }
    });
    tokio::spawn(async move {
        // Held back until the exit code says whether it is noise.
        let mut held: Vec<Vec<u8>> = Vec::new();
        let broke = loop {
            let chunk = tokio::select! {
                c = next_chunk(&mut rd, tty) => c,
                // The client is gone: drop the connection.
                () = out_tx.closed() => return,
            };
            let out = match chunk {
                Ok(Some(Chunk::Stdout(d))) => Output::Stdout(d),
                Ok(Some(Chunk::Stderr(d))) if is_podman_attach_noise(&d) => {
                    held.push(d);
                    continue;
                }
                Ok(Some(Chunk::Stderr(d))) => Output::Stderr(d),
                Ok(Some(Chunk::Skip)) => continue,
                Ok(None) => break None,
                Err(e) => break Some(e),
            };
            if out_tx.send(out).await.is_err() {
                return;
            }
        };
        drop(rd);
        let outcome = match (broke, end().await) {
            (_, Outcome::Exited(c)) if c == 126 || c == 127 => Outcome::Exited(c),
            (_, o @ Outcome::Failed(_)) => o,
            (Some(e), Outcome::Ended) => {
                Outcome::Failed(format!("lost the connection to the container engine: {e}"))
            }
            (_, o) => {
                for d in held {
                    let _ = out_tx.send(Output::Stderr(d)).await;
                }
                o
            }
        };
        let _ = out_tx.send(Output::End(outcome)).await;
    });
    (in_tx, out_rx)
}

/// The pod's sandbox container, by the name `pause.rs` gives it.
fn sandbox_name(pod: &Value) -> String {
    let s = |p: &str| pod.pointer(p).and_then(Value::as_str).unwrap_or("");
    create::sandbox_name(
        s("/metadata/namespace"),
        s("/metadata/name"),
        s("/metadata/uid"),
    )
}

/// `dial tcp4 127.0.0.1:80: connect: connection refused`, as Go words it.
fn go_dial_error(net: &str, addr: &str, e: &std::io::Error) -> String {
    let errno = e
        .to_string()
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_lowercase();
    format!("dial {net} {addr}: connect: {errno}")
}

/// Connects to `localhost:port` inside the network namespace of `pid`,
/// IPv4 first, then IPv6, as containerd's `portForward` does. `Ok(Err)` is
/// a refused connection; `Err` means the namespace could not be entered.
fn connect_in_netns(
    pid: i64,
    port: u16,
) -> std::io::Result<Result<std::net::TcpStream, (std::io::Error, std::io::Error)>> {
    use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
    use std::os::fd::AsFd;
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
    // A thread of its own: a namespace is a thread's, and this one ends
    // right after, so no other work ever runs in the pod's namespace.
    std::thread::spawn(move || {
        move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network))?;
        let t = Duration::from_secs(10);
        let v4 = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let v6 = std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));
        match std::net::TcpStream::connect_timeout(&v4, t) {
            Ok(s) => Ok(Ok(s)),
            Err(e4) => match std::net::TcpStream::connect_timeout(&v6, t) {
                Ok(s) => Ok(Ok(s)),
                Err(e6) => Ok(Err((e4, e6))),
            },
        }
    })
    .join()
    .map_err(|_| std::io::Error::other("the namespace thread panicked"))?
}

impl EngineStreams {
    async fn forward(&self, pod: &Value, port: u16) -> Result<Box<dyn Tunnel>, Error> {
        let sandbox = sandbox_name(pod);
        let info = raw::get_json(
            &self.engine.endpoint,
            &format!("/containers/{sandbox}/json"),
        )
        .await
        .map_err(|e| match status_code(&e) {
            Some(404) => Error::Forward(format!("pod sandbox {sandbox} not found")),
            _ => Error::Forward(format!("container engine: {}", message(&e))),
        })?;
        let id = info.get("Id").and_then(Value::as_str).unwrap_or(&sandbox);
        let pid = info
            .pointer("/State/Pid")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let local =
            self.engine.endpoint.starts_with("unix://") || self.engine.endpoint.starts_with('/');
        if local && pid > 0 {
            match tokio::task::spawn_blocking(move || connect_in_netns(pid, port)).await {
                Ok(Ok(Ok(s))) => {
                    s.set_nonblocking(true)?;
                    return Ok(Box::new(tokio::net::TcpStream::from_std(s)?));
                }
                Ok(Ok(Err((v4, v6)))) => {
                    return Err(Error::Forward(format!(
                        "failed to connect to localhost:{port} inside namespace {id:?}, IPv4: {} IPv6 {} ",
                        go_dial_error("tcp4", &format!("127.0.0.1:{port}"), &v4),
                        go_dial_error("tcp6", &format!("[::1]:{port}"), &v6),
                    )));
                }
                Ok(Err(e)) => {
                    tracing::debug!(
                        "port-forward: entering {id}'s network namespace: {e}; using its IP"
                    );
                }
                Err(e) => return Err(Error::Forward(e.to_string())),
            }
        }
        let ip = raw::Inspect::from_json(&info)
            .ip
            .unwrap_or_else(|| "127.0.0.1".into());
        let addr = if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        };
        match tokio::net::TcpStream::connect(&addr).await {
            Ok(s) => Ok(Box::new(s)),
            Err(e) => Err(Error::Forward(format!(
                "failed to connect to {addr} of pod sandbox {id:?}: {}",
                go_dial_error("tcp", &addr, &e)
            ))),
        }
    }
}

impl ContainerStreams for EngineStreams {
    fn exec<'a>(
        &'a self,
        container_id: &'a str,
        opts: &'a StreamOptions,
    ) -> BoxFuture<'a, Result<Session, Error>> {
        Box::pin(self.exec_session(container_id, opts))
    }

    fn attach<'a>(
        &'a self,
        container_id: &'a str,
        opts: &'a StreamOptions,
    ) -> BoxFuture<'a, Result<Session, Error>> {
        Box::pin(self.attach_session(container_id, opts))
    }

    fn port_forward<'a>(
        &'a self,
        pod: &'a Value,
        _container_id: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Box<dyn Tunnel>, Error>> {
        Box::pin(self.forward(pod, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn multiplexed_frames_and_terminal_bytes_are_read_apart() {
        let mut raw = Vec::new();
        for (stream, data) in [(1u8, &b"out"[..]), (2, b"err"), (0, b"in"), (3, b"sys")] {
            raw.extend_from_slice(&[stream, 0, 0, 0]);
            raw.extend_from_slice(&(data.len() as u32).to_be_bytes());
            raw.extend_from_slice(data);
        }
        let mut r = Cursor::new(raw);
        let mut got = Vec::new();
        while let Some(c) = next_chunk(&mut r, false).await.unwrap() {
            got.push(c);
        }
        assert_eq!(
            got,
            vec![
                Chunk::Stdout(b"out".to_vec()),
                Chunk::Stderr(b"err".to_vec()),
                Chunk::Skip,
                Chunk::Stderr(b"sys".to_vec()),
            ]
        );
        // A terminal's bytes are passed as they come, even 0–2 and no
        // newline.
        let mut r = Cursor::new(vec![1u8, 0, 2, b'#', b' ']);
        assert_eq!(
            next_chunk(&mut r, true).await.unwrap(),
            Some(Chunk::Stdout(vec![1, 0, 2, b'#', b' ']))
        );
        assert_eq!(next_chunk(&mut r, true).await.unwrap(), None);
    }

    #[test]
    fn podmans_attach_noise_is_recognised() {
        assert!(is_podman_attach_noise(
            b"Error: read unixpacket @->/proc/self/fd/14/attach: read: connection reset by peer\n"
        ));
        assert!(!is_podman_attach_noise(b"Error: runc: exec failed\n"));
    }

    #[test]
    fn dial_errors_read_as_go_prints_them() {
        let e = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(
            go_dial_error("tcp4", "127.0.0.1:80", &e),
            "dial tcp4 127.0.0.1:80: connect: connection refused"
        );
    }

    /// kubectl's size+1-then-size burst reaches the engine as one resize,
    /// the last.
    #[tokio::test]
    async fn a_burst_of_resizes_applies_the_latest_once() {
        let (ours, _theirs) = tokio::io::duplex(1024);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let rec = seen.clone();
        let (tx, _rx) = pump(
            (Vec::new(), Box::new(ours)),
            true,
            true,
            move |s| {
                rec.lock().unwrap().push(s);
                async {}
            },
            || async { Outcome::Ended },
        );
        let size = |width, height| TerminalSize { width, height };
        tx.send(Input::Resize(size(101, 31))).await.unwrap();
        tx.send(Input::Resize(size(100, 30))).await.unwrap();
        tokio::time::sleep(RESIZE_SETTLE * 4).await;
        assert_eq!(*seen.lock().unwrap(), vec![size(100, 30)]);
        tx.send(Input::Resize(size(120, 40))).await.unwrap();
        tokio::time::sleep(RESIZE_SETTLE * 4).await;
        assert_eq!(*seen.lock().unwrap(), vec![size(100, 30), size(120, 40)]);
    }

    /// A session's input reaches the connection, a half-close ends it, and
    /// the output ends with `end()`'s outcome.
    #[tokio::test]
    async fn a_session_pumps_both_ways() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let conn: Conn = (vec![1, 0, 0, 0, 0, 0, 0, 2, b'h', b'i'], Box::new(ours));
        let (tx, mut rx) = pump(
            conn,
            false,
            true,
            |_| async {},
            || async { Outcome::Exited(3) },
        );
        tx.send(Input::Stdin(b"abc".to_vec())).await.unwrap();
        tx.send(Input::StdinEof).await.unwrap();
        let mut got = Vec::new();
        theirs.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"abc");
        theirs
            .write_all(&[2, 0, 0, 0, 0, 0, 0, 1, b'e'])
            .await
            .unwrap();
        drop(theirs);
        assert_eq!(rx.recv().await, Some(Output::Stdout(b"hi".to_vec())));
        assert_eq!(rx.recv().await, Some(Output::Stderr(b"e".to_vec())));
        assert_eq!(rx.recv().await, Some(Output::End(Outcome::Exited(3))));
    }
}
