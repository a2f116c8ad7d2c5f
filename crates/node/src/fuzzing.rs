//! The supervisor protocol as the fuzz targets (`fuzz/`) and their stable
//! replay drive it. Not API: hidden from the docs, and kept to one entry
//! point so the supervision logic's internals ([`crate::sys::Sys`]) stay
//! private.
//!
//! Bytes from a connection go through the same steps as in the supervisor:
//! request lines are decoded and applied to a [`Table`] over a fake kernel,
//! stream frames are read, journal lines are replayed by
//! [`Table::recover`], output is cut into CRI records. The fake kernel checks
//! the one thing that must never happen whatever arrives: a signal to a
//! process the supervisor did not start (pid 0, 1 or -1 would reach the
//! whole machine).

use std::collections::HashSet;
use std::io;

use crate::cgroups::Handle;
use crate::protocol::{frame, parse_run_id, Event, Request, StartSpec, StreamRequest};
use crate::supervisor::{cri_lines, JournalEntry, StartOutcome, Table};
use crate::sys::{ExecTarget, SpawnError, Spawned, Sys, WaitStatus};

/// A kernel that forks nothing and remembers which pids it handed out.
#[derive(Default)]
struct FuzzSys {
    next_pid: i32,
    ours: HashSet<i32>,
}

impl Sys for FuzzSys {
    fn spawn(&mut self, spec: &StartSpec) -> Result<Spawned, SpawnError> {
        if spec.path.is_empty() {
            return Err(SpawnError {
                message: "exec: no command".into(),
            });
        }
        self.next_pid += 1;
        let pid = 1000 + self.next_pid;
        self.ours.insert(pid);
        Ok(Spawned {
            pid,
            cgroup: spec.memory_limit.map(|_| Handle::default()),
            ..Default::default()
        })
    }
    fn spawn_exec(
        &mut self,
        target: &ExecTarget,
        _: &StreamRequest,
    ) -> Result<Spawned, SpawnError> {
        assert!(
            self.ours.contains(&target.pid),
            "exec into pid {}",
            target.pid
        );
        self.spawn(&StartSpec {
            path: "exec".into(),
            ..Default::default()
        })
    }
    fn kill(&mut self, pid: i32, _signal: i32) -> io::Result<()> {
        assert!(
            self.ours.contains(&pid.checked_abs().unwrap_or(0)),
            "signal to pid {pid}, which the supervisor did not start"
        );
        Ok(())
    }
    fn cgroup_pids(&mut self, _: &Handle) -> Vec<i32> {
        Vec::new()
    }
    fn cgroup_oom_killed(&mut self, _: &Handle) -> bool {
        false
    }
    fn cgroup_remove(&mut self, _: &Handle) -> bool {
        true
    }
    fn now(&self) -> String {
        "2026-01-01T00:00:00.000000000Z".into()
    }
}

/// Feeds `data` to the supervisor's decoders and its run table.
#[doc(hidden)]
pub fn supervisor_protocol(data: &[u8]) {
    let mut table = Table::new(FuzzSys::default());
    let mut journal = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(text) = std::str::from_utf8(line) {
            let _ = parse_run_id(text);
        }
        if let Ok(req) = serde_json::from_slice::<Request>(line) {
            apply(&mut table, req);
        }
        if let Ok(ev) = serde_json::from_slice::<Event>(line) {
            let again = serde_json::to_string(&ev).expect("an event serializes");
            assert_eq!(serde_json::from_str::<Event>(&again).ok(), Some(ev));
        }
        if let Ok(e) = serde_json::from_slice::<JournalEntry>(line) {
            journal.push(e);
        }
    }
    // A journal written by an earlier supervisor: its runs' pids are the
    // ones a recovery may signal.
    let mut recovered = Table::new(FuzzSys::default());
    for e in &journal {
        if let JournalEntry::S { pid, .. } = e {
            if *pid > 1 {
                recovered.sys.ours.insert(*pid);
            }
        }
    }
    recovered.recover(journal);
    for e in recovered.journal() {
        let line = serde_json::to_string(&e).expect("a journal entry serializes");
        assert_eq!(serde_json::from_str::<JournalEntry>(&line).ok(), Some(e));
    }
    // Stream framing.
    let mut r = data;
    while let Ok(Some((_kind, payload))) = futures::executor::block_on(frame::read(&mut r)) {
        assert!(payload.len() <= frame::MAX);
    }
    // Output cut into CRI log records.
    let mut out = Vec::new();
    let mut pending = data.to_vec();
    cri_lines(
        &mut out,
        "2026-01-01T00:00:00Z",
        "stdout",
        &mut pending,
        false,
    );
    cri_lines(
        &mut out,
        "2026-01-01T00:00:00Z",
        "stdout",
        &mut pending,
        true,
    );
    assert!(pending.is_empty());
}

/// One request, as `supervisor::handle` applies it to the table.
fn apply(table: &mut Table<FuzzSys>, req: Request) {
    match req {
        Request::Start(spec) => {
            if let StartOutcome::Started { pid, .. } = table.start(&spec) {
                // Half the runs end at once, so signals, forgets and
                // execs meet finished runs too.
                if pid % 2 == 0 {
                    table.reaped(pid, WaitStatus::Exited(pid % 256));
                }
            }
        }
        Request::Signal { id, signal } => {
            table.signal(&id, signal);
        }
        Request::Forget { id } => {
            table.forget(&id);
        }
        Request::List => {
            let runs = table.snapshot();
            let line = serde_json::to_string(&Event::Snapshot { runs }).expect("serializes");
            assert!(serde_json::from_str::<Event>(&line).is_ok());
        }
        Request::Stream(req) => {
            if let Some(target) = table.exec_target(&req.id) {
                let _ = table.sys.spawn_exec(&target, &req);
            }
        }
    }
}
