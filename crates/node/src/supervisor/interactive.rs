//! The supervisor's side of `exec` and `attach`.
//!
//! The supervisor, not the engine, holds each run's stdin (a pipe, or the
//! master side of its terminal for `tty: true`) and sees every byte of its
//! output, so an attach works the same before and after an engine restart,
//! and the engine is never in the path of a run's output when nobody is
//! attached. A [`RunIo`] is that per-run state: the stdin writer, the
//! terminal, and the attached sessions that output is copied to.
//!
//! A session is a connection to the supervisor's socket whose first line is
//! a `stream` request; after it both sides exchange [`frame`]s. An exec
//! forks the command into the run's namespaces and cgroup with the run's
//! environment, working directory and user (see `sys.rs`); its exit code
//! ends the session. An attach subscribes to the run's output from that
//! moment on (earlier output is in the log) and may write its stdin.

// A pty master read and written without blocking.
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use api::streams::{Outcome, TerminalSize};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};

use super::Shared;
use crate::protocol::{frame, parse_run_id, StreamRequest};
use crate::sys::{set_window_size, Spawned, Sys, WaitStatus};

/// Output chunks an attached session may fall behind by before it is cut
/// off (a slow attacher never slows the run or its log).
const ATTACH_BACKLOG: usize = 1024;
/// After an exec'd process exits, how long its output may stay quiet
/// before the session ends anyway (a background child can hold the pipe).
const EXEC_DRAIN_IDLE: Duration = Duration::from_millis(500);

/// A byte sink for a run's or an exec's stdin.
pub(crate) type Writer = Box<dyn AsyncWrite + Unpin>;
/// A byte source for their output.
pub(crate) type Reader = Box<dyn AsyncRead + Unpin>;

/// The master side of a pseudo-terminal as async I/O. A read after the last
/// slave closed fails with `EIO` on Linux; that is the end of the output.
pub(crate) struct PtyMaster(AsyncFd<OwnedFd>);

impl PtyMaster {
    pub(crate) fn new(fd: OwnedFd) -> io::Result<PtyMaster> {
        // SAFETY: fcntl on an fd we own.
        unsafe {
            let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: the OwnedFd inside keeps the descriptor open for as long
        // as the registration lives.
        Ok(PtyMaster(unsafe { AsyncFd::register(fd)? }))
    }
}

impl AsyncRead for PtyMaster {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.0.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let r = guard.try_io(|fd| {
                // SAFETY: reads into the unfilled part of `buf`.
                let n = unsafe {
                    libc::read(fd.as_raw_fd(), unfilled.as_mut_ptr().cast(), unfilled.len())
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match r {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for PtyMaster {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.0.poll_write_ready(cx))?;
            let r = guard.try_io(|fd| {
                // SAFETY: writes from `data`.
                let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match r {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The supervisor's ends of a spawned process's stdio as async I/O:
/// `(stdin, stdout, stderr, terminal)`.
pub(crate) type Stdio = (
    Option<Writer>,
    Option<Reader>,
    Option<Reader>,
    Option<OwnedFd>,
);

/// Turns a spawned process's stdio fds into [`Stdio`].
pub(crate) fn async_stdio(sp: &mut Spawned) -> io::Result<Stdio> {
    use tokio::net::unix::pipe;
    let tty = sp.pty.is_some();
    let stdin: Option<Writer> = match sp.stdin.take() {
        Some(fd) if tty => Some(Box::new(PtyMaster::new(fd)?)),
        Some(fd) => Some(Box::new(pipe::Sender::from_owned_fd(fd)?)),
        None => None,
    };
    let reader = |fd: Option<OwnedFd>| -> io::Result<Option<Reader>> {
        Ok(match fd {
            Some(fd) if tty => Some(Box::new(PtyMaster::new(fd)?)),
            Some(fd) => Some(Box::new(pipe::Receiver::from_owned_fd(fd)?)),
            None => None,
        })
    };
    let stdout = reader(sp.stdout.take())?;
    let stderr = reader(sp.stderr.take())?;
    Ok((stdin, stdout, stderr, sp.pty.take()))
}

/// One attached session's output queue: `(frame kind, bytes)`.
type Subscriber = mpsc::Sender<(u8, bytes::Bytes)>;

/// A run's interactive state, shared by its output drain and its sessions.
pub(crate) struct RunIo {
    /// The run's stdin; `None` once closed (or when it has none).
    stdin: tokio::sync::Mutex<Option<Writer>>,
    has_stdin: bool,
    /// `stdinOnce`: the first attacher's leaving closes stdin.
    stdin_once: bool,
    /// The terminal's master side, for resizing.
    pty: Option<OwnedFd>,
    subscribers: RefCell<Vec<(u64, bool, bool, Subscriber)>>,
    next: Cell<u64>,
}

impl RunIo {
    pub(crate) fn new(stdin: Option<Writer>, pty: Option<OwnedFd>, stdin_once: bool) -> RunIo {
        RunIo {
            has_stdin: stdin.is_some(),
            stdin: tokio::sync::Mutex::new(stdin),
            stdin_once,
            pty,
            subscribers: RefCell::new(Vec::new()),
            next: Cell::new(0),
        }
    }

    /// Copies a chunk of output to the attached sessions that want it.
    pub(crate) fn publish(&self, kind: u8, data: &[u8]) {
        let mut subs = self.subscribers.borrow_mut();
        if subs.is_empty() {
            return;
        }
        let chunk = bytes::Bytes::copy_from_slice(data);
        subs.retain(|(_, out, err, tx)| {
            let wanted = if kind == frame::STDERR { *err } else { *out };
            !wanted || tx.try_send((kind, chunk.clone())).is_ok()
        });
    }

    /// The output is over: attached sessions end, stdin closes.
    pub(crate) fn finish(&self) {
        self.subscribers.borrow_mut().clear();
        if let Ok(mut w) = self.stdin.try_lock() {
            *w = None;
        }
    }

    fn subscribe(&self, stdout: bool, stderr: bool) -> (u64, mpsc::Receiver<(u8, bytes::Bytes)>) {
        let (tx, rx) = mpsc::channel(ATTACH_BACKLOG);
        let id = self.next.get();
        self.next.set(id + 1);
        self.subscribers.borrow_mut().push((id, stdout, stderr, tx));
        (id, rx)
    }

    fn unsubscribe(&self, id: u64) {
        self.subscribers.borrow_mut().retain(|s| s.0 != id);
    }

    async fn write_stdin(&self, data: &[u8]) {
        let mut w = self.stdin.lock().await;
        if let Some(writer) = w.as_mut() {
            if writer.write_all(data).await.is_err() {
                *w = None;
            }
        }
    }

    async fn close_stdin(&self) {
        let mut w = self.stdin.lock().await;
        if self.pty.is_some() {
            // A terminal's input ends with its EOF character.
            if let Some(writer) = w.as_mut() {
                let _ = writer.write_all(&[4]).await;
            }
        }
        *w = None;
    }

    fn resize(&self, size: TerminalSize) {
        if let Some(p) = &self.pty {
            let _ = set_window_size(p, size.width, size.height);
        }
    }
}

/// Writes frames to the session's client.
struct Frames {
    wr: OwnedWriteHalf,
    buf: Vec<u8>,
}

impl Frames {
    async fn send(&mut self, kind: u8, payload: &[u8]) -> io::Result<()> {
        self.buf.clear();
        frame::encode(kind, payload, &mut self.buf);
        self.wr.write_all(&self.buf).await
    }

    async fn end(&mut self, outcome: &Outcome) {
        let json = serde_json::to_vec(outcome).unwrap_or_default();
        let _ = self.send(frame::END, &json).await;
        let _ = self.wr.shutdown().await;
    }
}

/// Where a session's client input goes.
enum Input {
    /// An exec'd process's own stdin and terminal.
    Exec {
        stdin: Option<Writer>,
        pty: Option<OwnedFd>,
    },
    /// A run's shared stdin; `stdin` says whether this session may write it.
    Attach { io: Rc<RunIo>, stdin: bool },
}

/// Reads the client's frames into the session's input until the client
/// closes, then reports it gone. Runs as its own task: a process that does
/// not read its stdin holds back only the client, never the output.
async fn read_client(
    mut rd: BufReader<OwnedReadHalf>,
    mut input: Input,
    gone: oneshot::Sender<()>,
) {
    while let Ok(Some((kind, payload))) = frame::read(&mut rd).await {
        match (&mut input, kind) {
            (Input::Exec { stdin, .. }, frame::STDIN) => {
                if let Some(w) = stdin.as_mut() {
                    if w.write_all(&payload).await.is_err() {
                        *stdin = None;
                    }
                }
            }
            (Input::Exec { stdin, pty }, frame::STDIN_EOF) => {
                if let (Some(w), Some(_)) = (stdin.as_mut(), pty.as_ref()) {
                    // A terminal's input ends with its EOF character.
                    let _ = w.write_all(&[4]).await;
                } else {
                    *stdin = None;
                }
            }
            (Input::Exec { pty, .. }, frame::RESIZE) => {
                if let (Some(p), Ok(size)) = (
                    pty.as_ref(),
                    serde_json::from_slice::<TerminalSize>(&payload),
                ) {
                    let _ = set_window_size(p, size.width, size.height);
                }
            }
            (Input::Attach { io, stdin: true }, frame::STDIN) => io.write_stdin(&payload).await,
            (Input::Attach { io, stdin: true }, frame::STDIN_EOF) if io.stdin_once => {
                io.close_stdin().await
            }
            (Input::Attach { io, .. }, frame::RESIZE) => {
                if let Ok(size) = serde_json::from_slice::<TerminalSize>(&payload) {
                    io.resize(size);
                }
            }
            _ => {}
        }
    }
    let _ = gone.send(());
}

fn container_of(id: &str) -> &str {
    parse_run_id(id).map(|(_, c, _)| c).unwrap_or(id)
}

/// Serves one session connection whose request line has been read.
pub(crate) async fn session(
    shared: Rc<Shared>,
    req: StreamRequest,
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
) {
    shared.sessions.set(shared.sessions.get() + 1);
    let mut frames = Frames {
        wr,
        buf: Vec::new(),
    };
    if req.command.is_empty() {
        attach(&shared, req, rd, &mut frames).await;
    } else {
        exec(&shared, req, rd, &mut frames).await;
    }
    shared.sessions.set(shared.sessions.get() - 1);
}

async fn refuse(frames: &mut Frames, id: &str) {
    // The kubelet's words for a container that is not running.
    let msg = format!("container not found ({:?})", container_of(id));
    let _ = frames.send(frame::REFUSED, msg.as_bytes()).await;
    let _ = frames.wr.shutdown().await;
}

async fn exec(
    shared: &Rc<Shared>,
    req: StreamRequest,
    rd: BufReader<OwnedReadHalf>,
    frames: &mut Frames,
) {
    let target = shared.table.borrow().exec_target(&req.id);
    let Some(target) = target else {
        return refuse(frames, &req.id).await;
    };
    // Spawn and register the pid with no await in between, so the reaper
    // cannot take the exit before it has somewhere to go.
    let spawned = shared.table.borrow_mut().sys.spawn_exec(&target, &req);
    let (exit_tx, exit_rx) = oneshot::channel::<WaitStatus>();
    let mut sp = match spawned {
        Ok(sp) => {
            shared
                .execs
                .borrow_mut()
                .insert(sp.pid, (req.id.clone(), exit_tx));
            sp
        }
        Err(e) => {
            let _ = frames.send(frame::READY, b"").await;
            // containerd's and runc's wording around Go's exec error.
            let msg = format!(
                "error executing command in container: failed to exec in container: failed to start exec {:?}: OCI runtime exec failed: exec failed: unable to start container process: {}: unknown",
                exec_id(&req.id),
                e.message
            );
            return frames.end(&Outcome::Failed(msg)).await;
        }
    };
    if frames.send(frame::READY, b"").await.is_err() {
        return;
    }
    let (stdin, stdout, stderr, pty) = match async_stdio(&mut sp) {
        Ok(io) => io,
        Err(e) => {
            return frames
                .end(&Outcome::Failed(format!("exec stdio: {e}")))
                .await
        }
    };
    pump_exec(rd, frames, stdin, stdout, stderr, pty, exit_rx).await;
}

/// A stable-looking exec id for error messages (containerd prints one).
fn exec_id(run: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in run.bytes().chain(nanos.to_le_bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}{:016x}", h.rotate_left(17) ^ nanos as u64)
}

#[allow(clippy::too_many_arguments)]
async fn pump_exec(
    rd: BufReader<OwnedReadHalf>,
    frames: &mut Frames,
    stdin: Option<Writer>,
    mut stdout: Option<Reader>,
    mut stderr: Option<Reader>,
    pty: Option<OwnedFd>,
    mut exit_rx: oneshot::Receiver<WaitStatus>,
) {
    let (gone_tx, mut gone_rx) = oneshot::channel();
    let resize = pty.as_ref().and_then(|p| p.try_clone().ok());
    let reader =
        tokio::task::spawn_local(read_client(rd, Input::Exec { stdin, pty: resize }, gone_tx));
    // The terminal's master stays open here until the session ends.
    let _pty = pty;
    let mut status: Option<WaitStatus> = None;
    let mut quiet_until = tokio::time::Instant::now();
    let mut out_buf = vec![0u8; 32 * 1024];
    let mut err_buf = vec![0u8; 32 * 1024];
    let mut client = true;
    loop {
        if stdout.is_none() && stderr.is_none() && status.is_some() {
            break;
        }
        tokio::select! {
            _ = &mut gone_rx, if client => {
                // The client left: the process keeps running with its
                // stdio closed, as a cluster's would (a terminal hangs up).
                client = false;
                break;
            }
            n = read_some(&mut stdout, &mut out_buf), if stdout.is_some() => {
                match n {
                    0 => stdout = None,
                    n => {
                        quiet_until = tokio::time::Instant::now() + EXEC_DRAIN_IDLE;
                        if frames.send(frame::STDOUT, &out_buf[..n]).await.is_err() { break; }
                    }
                }
            }
            n = read_some(&mut stderr, &mut err_buf), if stderr.is_some() => {
                match n {
                    0 => stderr = None,
                    n => {
                        quiet_until = tokio::time::Instant::now() + EXEC_DRAIN_IDLE;
                        if frames.send(frame::STDERR, &err_buf[..n]).await.is_err() { break; }
                    }
                }
            }
            ws = &mut exit_rx, if status.is_none() => {
                status = Some(ws.unwrap_or(WaitStatus::Signaled(libc::SIGKILL)));
                quiet_until = tokio::time::Instant::now() + EXEC_DRAIN_IDLE;
            }
            _ = tokio::time::sleep_until(quiet_until), if status.is_some() => break,
        }
    }
    reader.abort();
    if !client {
        return;
    }
    let code = match status {
        Some(WaitStatus::Exited(c)) => c,
        Some(WaitStatus::Signaled(s)) => 128 + s,
        None => return,
    };
    frames.end(&Outcome::Exited(code)).await;
}

async fn read_some(r: &mut Option<Reader>, buf: &mut [u8]) -> usize {
    match r.as_mut() {
        Some(r) => r.read(buf).await.unwrap_or(0),
        None => std::future::pending().await,
    }
}

async fn attach(
    shared: &Rc<Shared>,
    req: StreamRequest,
    rd: BufReader<OwnedReadHalf>,
    frames: &mut Frames,
) {
    let io = if shared.table.borrow().is_running(&req.id) {
        shared.io.borrow().get(&req.id).cloned()
    } else {
        None
    };
    let Some(io) = io else {
        return refuse(frames, &req.id).await;
    };
    let (sub, mut output) = io.subscribe(req.stdout, req.stderr);
    let writes_stdin = req.stdin && io.has_stdin;
    let (gone_tx, mut gone_rx) = oneshot::channel();
    let reader = tokio::task::spawn_local(read_client(
        rd,
        Input::Attach {
            io: io.clone(),
            stdin: writes_stdin,
        },
        gone_tx,
    ));
    let mut outcome = None;
    if frames.send(frame::READY, b"").await.is_ok() {
        loop {
            tokio::select! {
                chunk = output.recv() => match chunk {
                    Some((kind, data)) => {
                        if frames.send(kind, &data).await.is_err() { break; }
                    }
                    None => {
                        outcome = Some(Outcome::Ended);
                        break;
                    }
                },
                _ = &mut gone_rx => break,
            }
        }
    }
    io.unsubscribe(sub);
    // A client that left has had all its input written (the reader reports
    // it gone last); one still there is not heard any more.
    reader.abort();
    if writes_stdin && io.stdin_once {
        io.close_stdin().await;
    }
    if let Some(o) = outcome {
        frames.end(&o).await;
    }
}
