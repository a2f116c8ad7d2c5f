//! The supervisor: one process per node data directory that holds the
//! container processes, so pods outlive a `kill -9` of the server.
//!
//! This is containerd's shim model collapsed to one shim per node: a
//! per-pod supervisor would cost an extra exec per pod, halving the
//! pods-per-second ceiling. The supervisor
//! - is a child subreaper, so orphaned grandchildren are reaped (no zombies);
//! - forks and execs containers itself (no helper binary per pod);
//! - drains container stdout/stderr into one CRI-format log file per run, so
//!   the server is never in the output path;
//! - records every start and exit in an append-only journal before
//!   reporting it, so an exit code survives a crash of the server or of the
//!   supervisor itself (exits are also `fdatasync`ed, in batches, by a
//!   syncer thread, for power loss);
//! - serves the agent over `<data dir>/supervisor.sock` (see `protocol.rs`);
//! - exits by itself after [`IDLE_EXIT`] with no client and no running run:
//!   the journal keeps what the next supervisor must report.
//!
//! The decisions (idempotent starts, exit attribution, OOM, lost runs) live
//! in [`Table`], which only talks to [`Sys`] and is tested with a fake.
//!
//! Started as `<argv…>` with the data directory as the argument of
//! [`supervisor_main`]; the agent spawns it detached (new session).

// The supervisor is PID 1 of its runs: signals, waitpid, flock, rlimits.
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::cgroups::Handle;
use crate::protocol::{Event, ExitRecord, Request, RunRecord, StartSpec};
use crate::sys::{ExecTarget, RealSys, SpawnError, Sys, WaitStatus};

mod interactive;
use interactive::RunIo;

/// Writes a line to the supervisor's log (its stderr). Unlike `eprintln!`,
/// a failed write (the log's filesystem is full) is ignored rather than a
/// panic that would take the task that logs down with it.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// How long an idle supervisor (no client, nothing running) stays up.
pub const IDLE_EXIT: Duration = Duration::from_secs(10);
/// How long an exit waits for the run's output to drain before it is reported.
const DRAIN_WAIT: Duration = Duration::from_millis(100);
/// Longest partial line kept before it is written as a `P` record.
const MAX_LINE: usize = 16 * 1024;

/// The socket path in a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("supervisor.sock")
}

/// One run the supervisor knows.
#[derive(Debug)]
struct Run {
    pid: i32,
    started_at: String,
    exit: Option<ExitRecord>,
    cgroup: Option<Handle>,
    /// The environment and working directory an exec into it gets.
    env: Vec<(String, String)>,
    cwd: String,
}

/// What a start request led to.
#[derive(Debug)]
pub enum StartOutcome {
    /// A new process, with the supervisor's ends of its stdio.
    Started {
        pid: i32,
        started_at: String,
        io: Box<crate::sys::Spawned>,
    },
    /// The id was already started (a retried request after a reconnect):
    /// nothing runs twice.
    Known(RunRecord),
    /// It could not start; the record says why.
    Failed(ExitRecord),
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum JournalEntry {
    /// Started.
    S { id: String, pid: i32, at: String },
    /// Exited.
    X(ExitRecord),
    /// Forgotten by the agent.
    F { id: String },
}

/// The supervision logic, over a [`Sys`].
pub struct Table<S: Sys> {
    pub sys: S,
    runs: HashMap<String, Run>,
    by_pid: HashMap<i32, String>,
}

impl<S: Sys> Table<S> {
    pub fn new(sys: S) -> Self {
        Table {
            sys,
            runs: HashMap::new(),
            by_pid: HashMap::new(),
        }
    }

    /// Starts a run unless its id is already known.
    pub fn start(&mut self, spec: &StartSpec) -> StartOutcome {
        if let Some(r) = self.runs.get(&spec.id) {
            return StartOutcome::Known(RunRecord {
                id: spec.id.clone(),
                pid: r.pid,
                started_at: r.started_at.clone(),
                exit: r.exit.clone(),
            });
        }
        match self.sys.spawn(spec) {
            Ok(mut sp) => {
                let started_at = self.sys.now();
                self.by_pid.insert(sp.pid, spec.id.clone());
                self.runs.insert(
                    spec.id.clone(),
                    Run {
                        pid: sp.pid,
                        started_at: started_at.clone(),
                        exit: None,
                        cgroup: sp.cgroup.take(),
                        env: spec.env.clone(),
                        cwd: spec.cwd.clone(),
                    },
                );
                StartOutcome::Started {
                    pid: sp.pid,
                    started_at,
                    io: Box::new(sp),
                }
            }
            Err(SpawnError { message }) => {
                let now = self.sys.now();
                let exit = ExitRecord {
                    id: spec.id.clone(),
                    exit_code: 128,
                    signal: None,
                    oom_killed: false,
                    reason: Some("ContainerCannotRun".into()),
                    message: Some(message),
                    started_at: now.clone(),
                    finished_at: now,
                };
                self.runs.insert(
                    spec.id.clone(),
                    Run {
                        pid: 0,
                        started_at: exit.started_at.clone(),
                        exit: Some(exit.clone()),
                        cgroup: None,
                        env: Vec::new(),
                        cwd: String::new(),
                    },
                );
                StartOutcome::Failed(exit)
            }
        }
    }

    /// A reaped process: the exit of a run when it was a run's main
    /// process. The rest of the run's process tree is killed, as a
    /// container's processes die with its init; other pids (orphaned
    /// grandchildren reparented to us) are ignored.
    pub fn reaped(&mut self, pid: i32, status: WaitStatus) -> Option<ExitRecord> {
        let id = self.by_pid.remove(&pid)?;
        let run = self.runs.get_mut(&id)?;
        let _ = self.sys.kill(-pid, libc::SIGKILL);
        let mut oom = false;
        if let Some(cg) = &run.cgroup {
            oom = self.sys.cgroup_oom_killed(cg);
            for p in self.sys.cgroup_pids(cg) {
                let _ = self.sys.kill(p, libc::SIGKILL);
            }
            self.sys.cgroup_remove(cg);
        }
        let (exit_code, signal) = match status {
            WaitStatus::Exited(c) => (c, None),
            WaitStatus::Signaled(s) => (128 + s, Some(s)),
        };
        let exit = ExitRecord {
            id: id.clone(),
            exit_code: if oom { 137 } else { exit_code },
            signal,
            oom_killed: oom,
            reason: None,
            message: None,
            started_at: run.started_at.clone(),
            finished_at: self.sys.now(),
        };
        run.exit = Some(exit.clone());
        Some(exit)
    }

    /// Signals a running run's process group and cgroup.
    pub fn signal(&mut self, id: &str, signal: i32) -> bool {
        let Some(run) = self.runs.get(id) else {
            return false;
        };
        if run.exit.is_some() || run.pid <= 0 {
            return false;
        }
        let pid = run.pid;
        let pids = run.cgroup.as_ref().map(|cg| self.sys.cgroup_pids(cg));
        // The group first (the whole tree, even grandchildren), then the
        // leader in case it left its group.
        let _ = self.sys.kill(-pid, signal);
        let _ = self.sys.kill(pid, signal);
        for p in pids.unwrap_or_default() {
            let _ = self.sys.kill(p, signal);
        }
        true
    }

    /// What an exec into run `id` enters, while the run is running.
    pub fn exec_target(&self, id: &str) -> Option<ExecTarget> {
        let run = self.runs.get(id)?;
        if run.exit.is_some() || run.pid <= 0 {
            return None;
        }
        Some(ExecTarget {
            pid: run.pid,
            env: run.env.clone(),
            cwd: run.cwd.clone(),
            cgroup_procs: run
                .cgroup
                .as_ref()
                .map(Handle::procs_files)
                .unwrap_or_default(),
        })
    }

    /// Whether run `id` is running.
    pub fn is_running(&self, id: &str) -> bool {
        self.runs
            .get(id)
            .is_some_and(|r| r.exit.is_none() && r.pid > 0)
    }

    /// Drops a run the agent has committed. A running run is not forgotten.
    pub fn forget(&mut self, id: &str) -> bool {
        match self.runs.get(id) {
            Some(r) if r.exit.is_some() => {
                self.runs.remove(id);
                true
            }
            _ => false,
        }
    }

    /// Every known run.
    pub fn snapshot(&self) -> Vec<RunRecord> {
        let mut v: Vec<RunRecord> = self
            .runs
            .iter()
            .map(|(id, r)| RunRecord {
                id: id.clone(),
                pid: r.pid,
                started_at: r.started_at.clone(),
                exit: r.exit.clone(),
            })
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// How many runs are known.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Whether no run is known.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// How many runs are still running.
    pub fn running(&self) -> usize {
        self.by_pid.len()
    }

    /// Rebuilds the table from a journal written by an earlier supervisor.
    /// Runs that started but have no exit were lost with that supervisor
    /// (their processes died with it: parent-death signal): they are
    /// reported as exited with `ContainerStatusUnknown`, exit code 137, as
    /// the kubelet reports a container it can no longer find.
    pub fn recover(&mut self, entries: Vec<JournalEntry>) -> Vec<ExitRecord> {
        let mut order: Vec<String> = Vec::new();
        let mut state: HashMap<String, (i32, String, Option<ExitRecord>)> = HashMap::new();
        for e in entries {
            match e {
                JournalEntry::S { id, pid, at } => {
                    if !state.contains_key(&id) {
                        order.push(id.clone());
                    }
                    state.insert(id, (pid, at, None));
                }
                JournalEntry::X(x) => {
                    if !state.contains_key(&x.id) {
                        order.push(x.id.clone());
                    }
                    let entry =
                        state
                            .entry(x.id.clone())
                            .or_insert((0, x.started_at.clone(), None));
                    entry.2 = Some(x);
                }
                JournalEntry::F { id } => {
                    state.remove(&id);
                }
            }
        }
        let mut lost = Vec::new();
        for id in order {
            let Some((pid, at, exit)) = state.remove(&id) else {
                continue;
            };
            let exit = match exit {
                Some(x) => x,
                None => {
                    // pid 1 is init, never a run: a journal line naming it
                    // (corrupt, or written by hand) must not become
                    // `kill(-1, SIGKILL)`, which signals every process.
                    if pid > 1 {
                        // In case it outlived us (no parent-death signal
                        // reached it): nothing may run untracked.
                        let _ = self.sys.kill(-pid, libc::SIGKILL);
                    }
                    let x = ExitRecord {
                        id: id.clone(),
                        exit_code: 137,
                        signal: None,
                        oom_killed: false,
                        reason: Some("ContainerStatusUnknown".into()),
                        message: Some(
                            "The container could not be located when the pod was terminated".into(),
                        ),
                        started_at: at.clone(),
                        finished_at: self.sys.now(),
                    };
                    lost.push(x.clone());
                    x
                }
            };
            self.runs.insert(
                id,
                Run {
                    pid,
                    started_at: at,
                    exit: Some(exit),
                    cgroup: None,
                    env: Vec::new(),
                    cwd: String::new(),
                },
            );
        }
        lost
    }

    /// The journal a compaction writes: one line per live run.
    pub fn journal(&self) -> Vec<JournalEntry> {
        let mut out = Vec::new();
        for rec in self.snapshot() {
            match rec.exit {
                Some(x) => out.push(JournalEntry::X(x)),
                None => out.push(JournalEntry::S {
                    id: rec.id,
                    pid: rec.pid,
                    at: rec.started_at,
                }),
            }
        }
        out
    }
}

/// The append-only journal file.
pub struct Journal {
    path: PathBuf,
    file: std::sync::Arc<File>,
    lines: usize,
}

impl Journal {
    /// Opens the journal and returns its entries (a torn last line is ignored).
    pub fn open(dir: &Path) -> io::Result<(Journal, Vec<JournalEntry>)> {
        let path = dir.join("runs.journal");
        let mut entries = Vec::new();
        if let Ok(f) = File::open(&path) {
            for line in io::BufReader::new(f).lines() {
                let Ok(line) = line else { break };
                if let Ok(e) = serde_json::from_str(&line) {
                    entries.push(e);
                }
            }
        }
        let file = std::sync::Arc::new(OpenOptions::new().create(true).append(true).open(&path)?);
        let lines = entries.len();
        Ok((Journal { path, file, lines }, entries))
    }

    /// Appends entries; `sync` makes them durable before returning.
    pub fn append(&mut self, entries: &[JournalEntry], sync: bool) -> io::Result<()> {
        let mut buf = Vec::with_capacity(entries.len() * 160);
        for e in entries {
            serde_json::to_writer(&mut buf, e).map_err(io::Error::other)?;
            buf.push(b'\n');
        }
        (&*self.file).write_all(&buf)?;
        self.lines += entries.len();
        if sync {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Replaces the journal with `entries` (write, fsync, rename).
    pub fn rewrite(&mut self, entries: &[JournalEntry]) -> io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = File::create(&tmp)?;
            let mut buf = Vec::new();
            for e in entries {
                serde_json::to_writer(&mut buf, e).map_err(io::Error::other)?;
                buf.push(b'\n');
            }
            f.write_all(&buf)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.file = std::sync::Arc::new(OpenOptions::new().append(true).open(&self.path)?);
        self.lines = entries.len();
        Ok(())
    }

    /// The open journal file, for a background `fdatasync`.
    pub fn file(&self) -> std::sync::Arc<File> {
        self.file.clone()
    }

    /// Lines written since the last rewrite.
    pub fn lines(&self) -> usize {
        self.lines
    }
}

/// Entry point of the supervisor process: `joblite supervise <data dir>`
/// calls this. Never returns.
pub fn supervisor_main(data_dir: &Path) -> ! {
    let code = match run(data_dir) {
        Ok(()) => 0,
        Err(e) => {
            note!("joblite supervisor: {e}");
            1
        }
    };
    std::process::exit(code)
}

fn run(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let _ = rustix::process::setsid();
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("supervisor.lock"))?;
    let mut locked = false;
    for _ in 0..100 {
        // SAFETY: flock on an fd we own.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            locked = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !locked {
        // Another supervisor serves this directory.
        return Ok(());
    }
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(io::Error::from)?;
    // SAFETY: setting a signal disposition; raising the soft open-files
    // limit to the hard one (each running container holds three fds here:
    // two output pipes and its log file).
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let res = local.block_on(&rt, serve(dir.to_path_buf()));
    drop(lock);
    res
}

struct Shared {
    table: RefCell<Table<RealSys>>,
    journal: RefCell<Journal>,
    clients: RefCell<Vec<(u64, mpsc::UnboundedSender<Rc<str>>)>>,
    drains: RefCell<HashMap<String, oneshot::Receiver<()>>>,
    exits: mpsc::UnboundedSender<ExitRecord>,
    last_active: Cell<Instant>,
    next_client: Cell<u64>,
    /// Each running run's stdin, terminal and attached sessions.
    io: RefCell<HashMap<String, Rc<RunIo>>>,
    /// Exec'd processes: pid → (the run they entered, where their exit goes).
    execs: RefCell<HashMap<i32, (String, oneshot::Sender<WaitStatus>)>>,
    /// Open exec and attach sessions.
    sessions: Cell<usize>,
}

impl Shared {
    fn broadcast(&self, ev: &Event) {
        let line: Rc<str> = match serde_json::to_string(ev) {
            Ok(s) => Rc::from(s + "\n"),
            Err(_) => return,
        };
        for (_, c) in self.clients.borrow().iter() {
            let _ = c.send(line.clone());
        }
    }

    fn compact_if_needed(&self) {
        let live = self.table.borrow().len();
        let mut j = self.journal.borrow_mut();
        if j.lines() > 4 * live + 4096 {
            let entries = self.table.borrow().journal();
            if let Err(e) = j.rewrite(&entries) {
                note!("joblite supervisor: journal compaction: {e}");
            }
        }
    }
}

async fn serve(dir: PathBuf) -> io::Result<()> {
    let (mut journal, entries) = Journal::open(&dir)?;
    let mut table = Table::new(RealSys::new()?);
    if let Some(why) = &table.sys.cgroups.unavailable {
        note!("joblite supervisor: resource limits will not be enforced: {why}");
    }
    let lost = table.recover(entries);
    journal.rewrite(&table.journal())?;
    let _ = lost;

    let mut sigchld = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())?;
    let sock = socket_path(&dir);
    let _ = fs::remove_file(&sock);
    let listener = tokio::net::UnixListener::bind(&sock)?;

    let (exit_tx, mut exit_rx) = mpsc::unbounded_channel::<ExitRecord>();
    let shared = Rc::new(Shared {
        table: RefCell::new(table),
        journal: RefCell::new(journal),
        clients: RefCell::new(Vec::new()),
        drains: RefCell::new(HashMap::new()),
        exits: exit_tx,
        last_active: Cell::new(Instant::now()),
        next_client: Cell::new(0),
        io: RefCell::new(HashMap::new()),
        execs: RefCell::new(HashMap::new()),
        sessions: Cell::new(0),
    });

    // Exit recorder: the exit is written to the journal (so it survives a
    // crash of any process) before the agent hears of it; the fdatasync
    // that makes it survive power loss runs on a syncer thread, batched, off
    // the path that starts and reports containers (it costs milliseconds).
    let (sync_tx, sync_rx) = std::sync::mpsc::channel::<std::sync::Arc<File>>();
    std::thread::Builder::new()
        .name("journal-sync".into())
        .spawn(move || {
            while let Ok(mut f) = sync_rx.recv() {
                while let Ok(newer) = sync_rx.try_recv() {
                    f = newer;
                }
                let _ = f.sync_data();
            }
        })?;
    let s = shared.clone();
    tokio::task::spawn_local(async move {
        while let Some(first) = exit_rx.recv().await {
            let mut batch = vec![first];
            while let Ok(x) = exit_rx.try_recv() {
                batch.push(x);
            }
            let entries: Vec<JournalEntry> = batch.iter().cloned().map(JournalEntry::X).collect();
            let file = {
                let mut j = s.journal.borrow_mut();
                if let Err(e) = j.append(&entries, false) {
                    note!("joblite supervisor: journal: {e}");
                }
                j.file()
            };
            let _ = sync_tx.send(file);
            for x in batch {
                s.broadcast(&Event::Exited(x));
            }
        }
    });

    let s = shared.clone();
    tokio::task::spawn_local(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::task::spawn_local(client(s.clone(), stream));
                }
                Err(e) => {
                    note!("joblite supervisor: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });

    let mut idle = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = sigchld.recv() => reap(&shared),
            _ = idle.tick() => {
                reap(&shared);
                let busy = !shared.clients.borrow().is_empty()
                    || shared.table.borrow().running() > 0
                    || !shared.drains.borrow().is_empty()
                    || shared.sessions.get() > 0;
                if busy {
                    shared.last_active.set(Instant::now());
                } else if shared.last_active.get().elapsed() >= IDLE_EXIT {
                    let _ = fs::remove_file(&sock);
                    return Ok(());
                }
            }
        }
    }
}

fn reap(shared: &Rc<Shared>) {
    loop {
        let mut status = 0;
        // SAFETY: waitpid on any child, non-blocking.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
        let ws = if libc::WIFEXITED(status) {
            WaitStatus::Exited(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            WaitStatus::Signaled(libc::WTERMSIG(status))
        } else {
            continue;
        };
        if let Some((_, tx)) = shared.execs.borrow_mut().remove(&pid) {
            let _ = tx.send(ws);
            continue;
        }
        let Some(exit) = shared.table.borrow_mut().reaped(pid, ws) else {
            continue;
        };
        // What was exec'd into the run dies with it, as in a container.
        for (epid, (run, _)) in shared.execs.borrow().iter() {
            if *run == exit.id {
                // SAFETY: plain kill(2) of the exec's group and itself.
                unsafe {
                    libc::kill(-*epid, libc::SIGKILL);
                    libc::kill(*epid, libc::SIGKILL);
                }
            }
        }
        shared.io.borrow_mut().remove(&exit.id);
        let drain = shared.drains.borrow_mut().remove(&exit.id);
        let tx = shared.exits.clone();
        match drain {
            // Let the output reach the log before the exit is reported,
            // so a reader that sees the exit sees every line.
            Some(rx) => {
                tokio::task::spawn_local(async move {
                    let _ = tokio::time::timeout(DRAIN_WAIT, rx).await;
                    let _ = tx.send(exit);
                });
            }
            None => {
                let _ = tx.send(exit);
            }
        }
    }
}

async fn client(shared: Rc<Shared>, stream: tokio::net::UnixStream) {
    let (rd, wr) = stream.into_split();
    let mut lines = tokio::io::BufReader::new(rd).lines();
    // A connection whose first request opens a stream is that session.
    let first = match lines.next_line().await {
        Ok(Some(line)) => match Request::from_line(&line) {
            Ok(Request::Stream(req)) => {
                return interactive::session(shared, req, lines.into_inner(), wr).await;
            }
            Ok(req) => Some(req),
            Err(e) => {
                note!("joblite supervisor: bad request: {e}");
                None
            }
        },
        _ => return,
    };
    let mut wr = wr;
    let (tx, mut rx) = mpsc::unbounded_channel::<Rc<str>>();
    let cid = shared.next_client.get();
    shared.next_client.set(cid + 1);
    shared.clients.borrow_mut().push((cid, tx.clone()));
    tokio::task::spawn_local(async move {
        let mut buf = String::new();
        while let Some(first) = rx.recv().await {
            buf.clear();
            buf.push_str(&first);
            while let Ok(more) = rx.try_recv() {
                buf.push_str(&more);
                if buf.len() > 1 << 20 {
                    break;
                }
            }
            if wr.write_all(buf.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    if let Some(req) = first {
        handle(&shared, req, &tx);
    }
    while let Ok(Some(line)) = lines.next_line().await {
        match Request::from_line(&line) {
            Ok(req) => handle(&shared, req, &tx),
            Err(e) => note!("joblite supervisor: bad request: {e}"),
        }
    }
    shared.clients.borrow_mut().retain(|(id, _)| *id != cid);
    shared.last_active.set(Instant::now());
}

fn send(tx: &mpsc::UnboundedSender<Rc<str>>, ev: &Event) {
    if let Ok(s) = serde_json::to_string(ev) {
        let _ = tx.send(Rc::from(s + "\n"));
    }
}

fn handle(shared: &Rc<Shared>, req: Request, tx: &mpsc::UnboundedSender<Rc<str>>) {
    match req {
        Request::Start(spec) => {
            // Journal the intent before the fork: a supervisor killed after
            // the run's process began and before its start was journaled
            // would leave a run the next supervisor does not know, and the
            // agent would start it again (the crash campaign found a pod
            // that ran twice). Recovered, an intent with no exit is a lost
            // run (`Table::recover`): reported, never started again.
            if !shared.table.borrow().runs.contains_key(&spec.id) {
                let at = shared.table.borrow().sys.now();
                let _ = shared.journal.borrow_mut().append(
                    &[JournalEntry::S {
                        id: spec.id.clone(),
                        pid: 0,
                        at,
                    }],
                    false,
                );
            }
            let outcome = shared.table.borrow_mut().start(&spec);
            match outcome {
                StartOutcome::Started {
                    pid,
                    started_at,
                    mut io,
                } => {
                    let _ = shared.journal.borrow_mut().append(
                        &[JournalEntry::S {
                            id: spec.id.clone(),
                            pid,
                            at: started_at.clone(),
                        }],
                        false,
                    );
                    let (done_tx, done_rx) = oneshot::channel();
                    shared.drains.borrow_mut().insert(spec.id.clone(), done_rx);
                    let path = PathBuf::from(&spec.log_path);
                    let (stdin, stdout, stderr, pty) = match interactive::async_stdio(&mut io) {
                        Ok(stdio) => stdio,
                        Err(e) => {
                            note!("joblite supervisor: stdio of {}: {e}", spec.id);
                            (None, None, None, None)
                        }
                    };
                    let run_io = Rc::new(RunIo::new(stdin, pty, spec.stdin_once));
                    shared
                        .io
                        .borrow_mut()
                        .insert(spec.id.clone(), run_io.clone());
                    let rotation = crate::log_rotation::Rotator::new(
                        &path,
                        spec.log_max_size,
                        spec.log_max_files,
                    );
                    tokio::task::spawn_local(drain(
                        path, rotation, stdout, stderr, done_tx, run_io,
                    ));
                    shared.broadcast(&Event::Started {
                        id: spec.id,
                        pid,
                        started_at,
                    });
                }
                StartOutcome::Known(rec) => {
                    send(
                        tx,
                        &Event::Started {
                            id: rec.id.clone(),
                            pid: rec.pid,
                            started_at: rec.started_at.clone(),
                        },
                    );
                    if let Some(x) = rec.exit {
                        send(tx, &Event::Exited(x));
                    }
                }
                StartOutcome::Failed(x) => {
                    let _ = shared.exits.send(x);
                }
            }
        }
        Request::Signal { id, signal } => {
            shared.table.borrow_mut().signal(&id, signal);
        }
        Request::Forget { id } => {
            if shared.table.borrow_mut().forget(&id) {
                let _ = shared
                    .journal
                    .borrow_mut()
                    .append(&[JournalEntry::F { id }], false);
                shared.compact_if_needed();
            }
        }
        Request::List => {
            let runs = shared.table.borrow().snapshot();
            send(tx, &Event::Snapshot { runs });
        }
        Request::Stream(req) => {
            note!(
                "joblite supervisor: a stream request for {} must open its own connection",
                req.id
            );
        }
    }
}

/// Appends CRI log records (`<RFC3339Nano> <stream> <F|P> <text>`) for the
/// complete lines in `pending`, keeping an unfinished tail.
pub fn cri_lines(out: &mut Vec<u8>, ts: &str, stream: &str, pending: &mut Vec<u8>, eof: bool) {
    let mut start = 0;
    while let Some(nl) = pending[start..].iter().position(|&b| b == b'\n') {
        let line = &pending[start..start + nl];
        push_record(out, ts, stream, "F", line);
        start += nl + 1;
    }
    pending.drain(..start);
    if !pending.is_empty() && (eof || pending.len() >= MAX_LINE) {
        let tag = if eof { "F" } else { "P" };
        push_record(out, ts, stream, tag, pending);
        pending.clear();
    }
}

/// Appends one CRI log record, `<ts> <stream> <F|P> <line>\n` (the
/// container runtime's copy writes the same format, `cri_log.rs`).
pub(crate) fn push_record(out: &mut Vec<u8>, ts: &str, stream: &str, tag: &str, line: &[u8]) {
    out.extend_from_slice(ts.as_bytes());
    out.push(b' ');
    out.extend_from_slice(stream.as_bytes());
    out.push(b' ');
    out.extend_from_slice(tag.as_bytes());
    out.push(b' ');
    out.extend_from_slice(line);
    out.push(b'\n');
}

/// Opens (creating) a run's log for appending; `rotated` marks the file
/// of a run that has rotated files (see `log_rotation.rs`).
fn open_log(path: &Path, rotated: bool) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mode = if rotated { 0o644 } else { 0o640 };
    let open = || {
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(mode)
            .open(path)
    };
    match open() {
        Ok(f) => Some(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                let _ = fs::create_dir_all(parent);
            }
            open().ok()
        }
        Err(_) => None,
    }
}

/// Makes `path` an empty, complete (read-only) log: a hard link to
/// `.empty` beside it, created once.
pub fn link_empty(path: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let Some(parent) = path.parent() else { return };
    let empty = parent.join(".empty");
    for _ in 0..2 {
        match fs::hard_link(&empty, path) {
            Ok(()) => return,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let _ = fs::create_dir_all(parent);
                let _ = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .mode(0o440)
                    .open(&empty);
            }
            Err(_) => break,
        }
    }
    // Fall back to a file of its own.
    if let Some(f) = open_log(path, false) {
        use std::os::unix::fs::PermissionsExt;
        let _ = f.set_permissions(fs::Permissions::from_mode(0o440));
    }
}

async fn drain(
    path: PathBuf,
    mut rotation: Option<crate::log_rotation::Rotator>,
    stdout: Option<interactive::Reader>,
    stderr: Option<interactive::Reader>,
    done: oneshot::Sender<()>,
    io: Rc<RunIo>,
) {
    // The file is created on the first output: a run that prints nothing
    // (the common `/bin/true`) gets a hard link to a shared empty file at the
    // end instead, which costs no inode allocation (on ext4 without a
    // journal, the costliest system call of a start after heavy deletions).
    let mut file: Option<File> = None;
    let mut written: u64 = 0;
    let mut failed = false;
    let mut out_rx = stdout;
    let mut err_rx = stderr;
    let mut out_pending = Vec::new();
    let mut err_pending = Vec::new();
    let mut out_buf = vec![0u8; 16 * 1024];
    let mut err_buf = vec![0u8; 16 * 1024];
    let mut rec = Vec::new();
    while out_rx.is_some() || err_rx.is_some() {
        let (n, is_err) = tokio::select! {
            r = async { out_rx.as_mut().unwrap().read(&mut out_buf).await }, if out_rx.is_some() => (r, false),
            r = async { err_rx.as_mut().unwrap().read(&mut err_buf).await }, if err_rx.is_some() => (r, true),
        };
        let ts = crate::sys::rfc3339_nano(chrono::Utc::now());
        let n = n.unwrap_or(0);
        if n > 0 {
            let (kind, buf) = if is_err {
                (crate::protocol::frame::STDERR, &err_buf)
            } else {
                (crate::protocol::frame::STDOUT, &out_buf)
            };
            io.publish(kind, &buf[..n]);
        }
        rec.clear();
        if is_err {
            err_pending.extend_from_slice(&err_buf[..n]);
            cri_lines(&mut rec, &ts, "stderr", &mut err_pending, n == 0);
            if n == 0 {
                err_rx = None;
            }
        } else {
            out_pending.extend_from_slice(&out_buf[..n]);
            cri_lines(&mut rec, &ts, "stdout", &mut out_pending, n == 0);
            if n == 0 {
                out_rx = None;
            }
        }
        if !rec.is_empty() {
            // Rotation before the record that would pass the limit, so a
            // file never holds a torn record. A failed rename keeps
            // writing to the current file (upstream retries next round).
            if let (Some(r), Some(_)) = (rotation.as_mut(), file.as_ref()) {
                if r.due(written, rec.len()) && r.rotate(chrono::Utc::now()).is_ok() {
                    file = None;
                    written = 0;
                }
            }
            if file.is_none() && !failed {
                let rotated = rotation.as_ref().is_some_and(|r| r.has_rotated());
                file = open_log(&path, rotated);
                failed = file.is_none();
                written = file
                    .as_ref()
                    .and_then(|f| f.metadata().ok())
                    .map_or(0, |m| m.len());
            }
            if let Some(f) = file.as_mut() {
                // A full disk loses output, never the run: the bytes that
                // did not fit are dropped and later ones tried again.
                if f.write_all(&rec).is_ok() {
                    written += rec.len() as u64;
                } else if let Ok(m) = f.metadata() {
                    written = m.len();
                }
            }
        }
    }
    io.finish();
    // Read-only marks "this run's log is complete" for `logs -f` readers.
    match file {
        Some(f) => {
            use std::os::unix::fs::PermissionsExt;
            let rotated = rotation.as_ref().is_some_and(|r| r.has_rotated());
            let mode = if rotated { 0o444 } else { 0o440 };
            let _ = f.set_permissions(fs::Permissions::from_mode(mode));
        }
        // A rotated run's current file keeps the mark its removal needs.
        None if rotation.as_ref().is_some_and(|r| r.has_rotated()) => {
            use std::os::unix::fs::PermissionsExt;
            if let Some(f) = open_log(&path, true) {
                let _ = f.set_permissions(fs::Permissions::from_mode(0o444));
            }
        }
        None => link_empty(&path),
    }
    let _ = done.send(());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake kernel: records kills, hands out pids, fails named paths.
    #[derive(Default)]
    struct FakeSys {
        next_pid: i32,
        spawned: Vec<String>,
        execs: Vec<(i32, Vec<String>)>,
        kills: Vec<(i32, i32)>,
        oom: bool,
        clock: u32,
    }

    impl Sys for FakeSys {
        fn spawn(&mut self, spec: &StartSpec) -> Result<crate::sys::Spawned, SpawnError> {
            if spec.path.starts_with("/missing") {
                return Err(SpawnError {
                    message: format!(
                        "exec: \"{}\": stat {}: no such file or directory",
                        spec.path, spec.path
                    ),
                });
            }
            self.next_pid += 1;
            self.spawned.push(spec.id.clone());
            Ok(crate::sys::Spawned {
                pid: 100 + self.next_pid,
                cgroup: spec.memory_limit.map(|_| Handle::default()),
                ..Default::default()
            })
        }
        fn spawn_exec(
            &mut self,
            target: &ExecTarget,
            req: &crate::protocol::StreamRequest,
        ) -> Result<crate::sys::Spawned, SpawnError> {
            self.execs.push((target.pid, req.command.clone()));
            self.next_pid += 1;
            Ok(crate::sys::Spawned {
                pid: 100 + self.next_pid,
                ..Default::default()
            })
        }
        fn kill(&mut self, pid: i32, signal: i32) -> io::Result<()> {
            self.kills.push((pid, signal));
            Ok(())
        }
        fn cgroup_pids(&mut self, _: &Handle) -> Vec<i32> {
            vec![]
        }
        fn cgroup_oom_killed(&mut self, _: &Handle) -> bool {
            self.oom
        }
        fn cgroup_remove(&mut self, _: &Handle) -> bool {
            true
        }
        fn now(&self) -> String {
            format!("2026-01-01T00:00:{:02}.000000000Z", self.clock)
        }
    }

    fn spec(id: &str, path: &str) -> StartSpec {
        StartSpec {
            id: id.into(),
            path: path.into(),
            args: vec![path.into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_start_is_idempotent_so_nothing_runs_twice() {
        let mut t = Table::new(FakeSys::default());
        assert!(matches!(
            t.start(&spec("u_c_0", "/bin/true")),
            StartOutcome::Started { pid: 101, .. }
        ));
        match t.start(&spec("u_c_0", "/bin/true")) {
            StartOutcome::Known(r) => assert_eq!((r.pid, r.exit), (101, None)),
            other => panic!("{other:?}"),
        }
        assert_eq!(t.sys.spawned, vec!["u_c_0"]);
    }

    #[test]
    fn exit_statuses_map_to_exit_codes() {
        // (status, oom, exit code, signal) — SIGTERM → 143, SIGKILL → 137 (job-semantics §20.3).
        let cases = [
            (WaitStatus::Exited(0), false, 0, None),
            (WaitStatus::Exited(3), false, 3, None),
            (WaitStatus::Signaled(15), false, 143, Some(15)),
            (WaitStatus::Signaled(9), false, 137, Some(9)),
            (WaitStatus::Signaled(9), true, 137, Some(9)),
        ];
        for (i, (ws, oom, code, sig)) in cases.into_iter().enumerate() {
            let mut t = Table::new(FakeSys {
                oom,
                ..Default::default()
            });
            let mut s = spec(&format!("u_c_{i}"), "/bin/x");
            s.memory_limit = Some(1 << 20);
            let StartOutcome::Started { pid, .. } = t.start(&s) else {
                panic!()
            };
            let x = t.reaped(pid, ws).expect("a run's exit");
            assert_eq!(
                (x.exit_code, x.signal, x.oom_killed),
                (code, sig, oom),
                "case {i}"
            );
            // The rest of the tree dies with the main process.
            assert!(t.sys.kills.contains(&(-pid, libc::SIGKILL)));
            assert_eq!(t.running(), 0);
        }
    }

    #[test]
    fn orphaned_grandchildren_are_reaped_but_not_reported() {
        let mut t = Table::new(FakeSys::default());
        t.start(&spec("u_c_0", "/bin/sh"));
        assert_eq!(t.reaped(4242, WaitStatus::Exited(0)), None);
        assert_eq!(t.running(), 1);
    }

    #[test]
    fn a_missing_executable_cannot_run() {
        let mut t = Table::new(FakeSys::default());
        let StartOutcome::Failed(x) = t.start(&spec("u_c_0", "/missing/x")) else {
            panic!()
        };
        assert_eq!(x.reason.as_deref(), Some("ContainerCannotRun"));
        assert_eq!(x.exit_code, 128);
        assert!(x.message.unwrap().contains("/missing/x"));
        // A retry reports the same failure without forking.
        assert!(matches!(
            t.start(&spec("u_c_0", "/missing/x")),
            StartOutcome::Known(RunRecord { exit: Some(_), .. })
        ));
    }

    #[test]
    fn signals_go_to_the_process_group_while_running_only() {
        let mut t = Table::new(FakeSys::default());
        let StartOutcome::Started { pid, .. } = t.start(&spec("u_c_0", "/bin/sleep")) else {
            panic!()
        };
        assert!(t.signal("u_c_0", libc::SIGTERM));
        assert_eq!(t.sys.kills, vec![(-pid, 15), (pid, 15)]);
        t.reaped(pid, WaitStatus::Signaled(15));
        t.sys.kills.clear();
        assert!(!t.signal("u_c_0", libc::SIGKILL));
        assert!(t.sys.kills.is_empty());
        assert!(!t.signal("nope", 9));
    }

    #[test]
    fn exec_enters_running_runs_only_with_their_env_and_cwd() {
        let mut t = Table::new(FakeSys::default());
        let mut s = spec("u_c_0", "/bin/sleep");
        s.env = vec![("A".into(), "1".into())];
        s.cwd = "/work".into();
        let StartOutcome::Started { pid, .. } = t.start(&s) else {
            panic!()
        };
        let target = t.exec_target("u_c_0").expect("running");
        assert_eq!(
            (target.pid, target.env, target.cwd.as_str()),
            (pid, vec![("A".to_string(), "1".to_string())], "/work")
        );
        assert!(t.is_running("u_c_0"));
        t.reaped(pid, WaitStatus::Exited(0));
        assert_eq!(t.exec_target("u_c_0"), None);
        assert!(!t.is_running("u_c_0"));
        assert_eq!(t.exec_target("nope"), None);
    }

    #[test]
    fn forget_keeps_running_runs() {
        let mut t = Table::new(FakeSys::default());
        let StartOutcome::Started { pid, .. } = t.start(&spec("u_c_0", "/bin/sleep")) else {
            panic!()
        };
        assert!(!t.forget("u_c_0"));
        t.reaped(pid, WaitStatus::Exited(0));
        assert!(t.forget("u_c_0"));
        assert!(t.snapshot().is_empty());
    }

    /// A start journaled only as an intent (the supervisor died between
    /// the intent and the fork's record) is a lost run: reported, and a
    /// retried start of it is `Known`, so it never runs a second time.
    #[test]
    fn an_intent_without_a_record_is_a_lost_run_never_started_again() {
        let mut t = Table::new(FakeSys::default());
        let lost = t.recover(vec![JournalEntry::S {
            id: "u_c_0".into(),
            pid: 0,
            at: "t".into(),
        }]);
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].exit_code, 137);
        assert_eq!(lost[0].reason.as_deref(), Some("ContainerStatusUnknown"));
        assert!(matches!(
            t.start(&spec("u_c_0", "/bin/true")),
            StartOutcome::Known(RunRecord { exit: Some(_), .. })
        ));
    }

    #[test]
    fn recovery_never_signals_init_or_every_process() {
        let journal = vec![
            JournalEntry::S {
                id: "u_a_0".into(),
                pid: 1,
                at: "t0".into(),
            },
            JournalEntry::S {
                id: "u_b_0".into(),
                pid: 0,
                at: "t0".into(),
            },
        ];
        let mut t = Table::new(FakeSys::default());
        assert_eq!(t.recover(journal).len(), 2);
        assert_eq!(t.sys.kills, vec![]);
    }

    #[test]
    fn recovery_keeps_exits_and_reports_lost_runs() {
        let x = ExitRecord {
            id: "u_a_0".into(),
            exit_code: 1,
            signal: None,
            oom_killed: false,
            reason: None,
            message: None,
            started_at: "t0".into(),
            finished_at: "t1".into(),
        };
        let journal = vec![
            JournalEntry::S {
                id: "u_a_0".into(),
                pid: 10,
                at: "t0".into(),
            },
            JournalEntry::S {
                id: "u_b_0".into(),
                pid: 11,
                at: "t0".into(),
            },
            JournalEntry::S {
                id: "u_c_0".into(),
                pid: 12,
                at: "t0".into(),
            },
            JournalEntry::X(x.clone()),
            JournalEntry::F { id: "u_c_0".into() },
        ];
        let mut t = Table::new(FakeSys::default());
        let lost = t.recover(journal);
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].id, "u_b_0");
        assert_eq!(lost[0].reason.as_deref(), Some("ContainerStatusUnknown"));
        assert!(t.sys.kills.contains(&(-11, libc::SIGKILL)));
        let snap = t.snapshot();
        assert_eq!(
            snap.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            vec!["u_a_0", "u_b_0"]
        );
        assert_eq!(snap[0].exit.as_ref(), Some(&x));
        // A recovered exit is not started again.
        assert!(matches!(
            t.start(&spec("u_a_0", "/bin/true")),
            StartOutcome::Known(_)
        ));
    }

    #[test]
    fn journal_round_trips_and_compacts() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, e) = Journal::open(dir.path()).unwrap();
        assert!(e.is_empty());
        j.append(
            &[JournalEntry::S {
                id: "a".into(),
                pid: 1,
                at: "t".into(),
            }],
            false,
        )
        .unwrap();
        j.append(&[JournalEntry::F { id: "a".into() }], true)
            .unwrap();
        drop(j);
        // A torn line at the end is ignored.
        fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("runs.journal"))
            .unwrap()
            .write_all(b"{\"t\":\"S\",")
            .unwrap();
        let (mut j, e) = Journal::open(dir.path()).unwrap();
        assert_eq!(e.len(), 2);
        j.rewrite(&[]).unwrap();
        assert_eq!(Journal::open(dir.path()).unwrap().1.len(), 0);
    }

    #[test]
    fn a_silent_run_gets_a_complete_empty_log_without_a_new_inode() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("logs/a_0.log");
        let b = dir.path().join("logs/b_0.log");
        link_empty(&a);
        link_empty(&b);
        let (ma, mb) = (fs::metadata(&a).unwrap(), fs::metadata(&b).unwrap());
        assert_eq!(ma.ino(), mb.ino());
        assert_eq!((ma.len(), ma.permissions().mode() & 0o777), (0, 0o440));
    }

    #[test]
    fn cri_records_split_lines_and_keep_partial_tails() {
        let mut out = Vec::new();
        let mut pending = b"a\nbc\nde".to_vec();
        cri_lines(&mut out, "T", "stdout", &mut pending, false);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "T stdout F a\nT stdout F bc\n"
        );
        assert_eq!(pending, b"de");
        out.clear();
        cri_lines(&mut out, "T", "stdout", &mut pending, true);
        assert_eq!(String::from_utf8_lossy(&out), "T stdout F de\n");
    }
}
