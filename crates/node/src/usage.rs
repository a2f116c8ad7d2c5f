//! What the pods and the machine use right now: the node's own accounting
//! behind `metrics.k8s.io` (`kubectl top pods|nodes`), in place of the
//! kubelet's summary API that metrics-server scrapes.
//!
//! A process-runtime container is a process group under the supervisor:
//! its init process leads the group, and the supervisor's journal
//! (`runs.journal`) maps each live run to that pid. A container's usage is
//! the sum over its group's processes in `/proc`: CPU as
//! `utime + stime + cutime + cstime` (children it reaped still count),
//! memory as resident set size. CPU is a cumulative counter, so a rate
//! needs two samples: a request reuses the previous sample when it is
//! recent, and otherwise samples twice a second apart, the way
//! metrics-server reports usage over a window. Nothing samples in the
//! background. (A process that leaves its group with `setsid` is not
//! counted; cgroups would catch it, but a cgroup per container costs the
//! pod start a mkdir and an rmdir.)
//!
//! The machine's usage is `/proc/stat` (busy time of all CPUs) and
//! `/proc/meminfo` (`MemTotal - MemAvailable`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::protocol::parse_run_id;
use crate::supervisor::JournalEntry;

/// A sample older than this is not used for a rate (metrics-server's
/// windows are 10–30 s).
const MAX_WINDOW: Duration = Duration::from_secs(30);
/// The shortest window worth reporting; a fresh pair of samples is taken
/// this far apart when no usable previous sample exists.
const MIN_WINDOW: Duration = Duration::from_secs(1);

/// Cumulative counters of one container, at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// CPU time in clock ticks (`/proc/<pid>/stat` fields 14–17).
    pub cpu_ticks: u64,
    /// Resident memory in bytes.
    pub memory_bytes: u64,
}

/// One process as `/proc/<pid>/stat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    pub pgrp: i32,
    pub cpu_ticks: u64,
    pub rss_pages: u64,
}

/// Parses a `/proc/<pid>/stat` line (the command name may hold spaces and
/// parentheses, so fields are counted from the last `)`).
pub fn parse_stat(line: &str) -> Option<ProcStat> {
    let (head, rest) = line.rsplit_once(')')?;
    let pid = head.split_once('(')?.0.trim().parse().ok()?;
    // rest starts at field 3 (state).
    let f: Vec<&str> = rest.split_whitespace().collect();
    let at = |n: usize| -> Option<u64> { f.get(n - 3)?.parse().ok() };
    Some(ProcStat {
        pid,
        pgrp: f.get(5 - 3)?.parse().ok()?,
        cpu_ticks: at(14)? + at(15)? + at(16)? + at(17)?,
        rss_pages: at(24)?,
    })
}

/// The live runs in a supervisor journal: group leader pid → run id.
pub fn live_runs(journal: &str) -> HashMap<i32, String> {
    let mut by_id: HashMap<String, i32> = HashMap::new();
    for line in journal.lines() {
        match serde_json::from_str::<JournalEntry>(line) {
            Ok(JournalEntry::S { id, pid, .. }) if pid > 0 => {
                by_id.insert(id, pid);
            }
            Ok(JournalEntry::X(x)) => {
                by_id.remove(&x.id);
            }
            Ok(JournalEntry::F { id }) => {
                by_id.remove(&id);
            }
            _ => {}
        }
    }
    by_id.into_iter().map(|(id, pid)| (pid, id)).collect()
}

/// Sums the processes of each live run's group: run id → counters.
pub fn per_run(
    runs: &HashMap<i32, String>,
    procs: &[ProcStat],
    page_size: u64,
) -> HashMap<String, Counters> {
    let mut out: HashMap<String, Counters> = HashMap::new();
    for p in procs {
        let Some(id) = runs.get(&p.pgrp) else {
            continue;
        };
        let c = out.entry(id.clone()).or_default();
        c.cpu_ticks += p.cpu_ticks;
        c.memory_bytes += p.rss_pages * page_size;
    }
    out
}

/// The machine's counters: busy CPU ticks over all CPUs, used memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MachineCounters {
    pub busy_ticks: u64,
    pub memory_bytes: u64,
}

/// Busy ticks from the `cpu` line of `/proc/stat` (all but idle and iowait).
pub fn parse_proc_stat(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice]:
    // guest time is already inside user and nice.
    let total: u64 = v.iter().take(8).sum();
    Some(total - v.get(3)? - v.get(4).copied().unwrap_or(0))
}

/// `MemTotal - MemAvailable` from `/proc/meminfo`, in bytes.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let kib = |key: &str| -> Option<u64> {
        text.lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((kib("MemTotal:")?.saturating_sub(kib("MemAvailable:")?)) * 1024)
}

/// Everything read at one instant.
#[derive(Debug, Clone)]
struct Snapshot {
    at: Instant,
    wall: chrono::DateTime<chrono::Utc>,
    runs: HashMap<String, Counters>,
    machine: MachineCounters,
}

/// One container's usage over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerUsage {
    pub pod_uid: String,
    pub container: String,
    pub cpu_nanocores: u64,
    pub memory_bytes: u64,
}

/// The node's answer to "what is used now".
#[derive(Debug, Clone)]
pub struct Usage {
    /// When the window ended.
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub window: Duration,
    pub containers: Vec<ContainerUsage>,
    pub node_cpu_nanocores: u64,
    pub node_memory_bytes: u64,
}

/// Rates between two snapshots. A run absent from `old` (it started in the
/// window) is measured from zero over the window, as its process
/// accumulated all of its CPU time inside it.
fn rates(old: &Snapshot, new: &Snapshot, ticks_per_sec: u64) -> Usage {
    let secs = new.at.duration_since(old.at).as_secs_f64().max(1e-3);
    let per_sec =
        |delta: u64| -> u64 { (delta as f64 / ticks_per_sec as f64 / secs * 1e9).round() as u64 };
    let mut containers: Vec<ContainerUsage> = new
        .runs
        .iter()
        .filter_map(|(id, c)| {
            let (uid, container, _) = parse_run_id(id)?;
            let before = old.runs.get(id).map(|o| o.cpu_ticks).unwrap_or(0);
            Some(ContainerUsage {
                pod_uid: uid.to_string(),
                container: container.to_string(),
                cpu_nanocores: per_sec(c.cpu_ticks.saturating_sub(before)),
                memory_bytes: c.memory_bytes,
            })
        })
        .collect();
    containers.sort_by(|a, b| (&a.pod_uid, &a.container).cmp(&(&b.pod_uid, &b.container)));
    Usage {
        timestamp: new.wall,
        window: new.at.duration_since(old.at),
        containers,
        node_cpu_nanocores: per_sec(
            new.machine
                .busy_ticks
                .saturating_sub(old.machine.busy_ticks),
        ),
        node_memory_bytes: new.machine.memory_bytes,
    }
}

/// Samples on demand and keeps the last sample for the next request.
pub struct Sampler {
    node_dir: PathBuf,
    proc_root: PathBuf,
    last: tokio::sync::Mutex<Option<Snapshot>>,
}

impl Sampler {
    /// A sampler for the node whose data directory is `node_dir`.
    pub fn new(node_dir: impl Into<PathBuf>) -> Sampler {
        Sampler {
            node_dir: node_dir.into(),
            proc_root: PathBuf::from("/proc"),
            last: tokio::sync::Mutex::new(None),
        }
    }

    fn snapshot(&self) -> Snapshot {
        let at = Instant::now();
        let wall = chrono::Utc::now();
        let journal =
            std::fs::read_to_string(self.node_dir.join("runs.journal")).unwrap_or_default();
        let live = live_runs(&journal);
        let procs = if live.is_empty() {
            Vec::new()
        } else {
            read_procs(&self.proc_root)
        };
        let read =
            |name: &str| std::fs::read_to_string(self.proc_root.join(name)).unwrap_or_default();
        Snapshot {
            at,
            wall,
            runs: per_run(&live, &procs, page_size()),
            machine: MachineCounters {
                busy_ticks: parse_proc_stat(&read("stat")).unwrap_or(0),
                memory_bytes: parse_meminfo(&read("meminfo")).unwrap_or(0),
            },
        }
    }

    /// Usage over the window since the previous request's sample, or over a
    /// fresh one-second window when that is missing or stale.
    pub async fn usage(&self) -> Usage {
        let mut last = self.last.lock().await;
        let now = self.snapshot();
        let old = match last.take() {
            Some(old)
                if now.at.duration_since(old.at) >= MIN_WINDOW
                    && now.at.duration_since(old.at) <= MAX_WINDOW =>
            {
                old
            }
            _ => {
                tokio::time::sleep(MIN_WINDOW).await;
                let fresh = self.snapshot();
                let usage = rates(&now, &fresh, ticks_per_second());
                *last = Some(fresh);
                return usage;
            }
        };
        let usage = rates(&old, &now, ticks_per_second());
        *last = Some(now);
        usage
    }
}

fn read_procs(root: &Path) -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|l| parse_stat(&l))
        .collect()
}

fn page_size() -> u64 {
    rustix::param::page_size() as u64
}

fn ticks_per_second() -> u64 {
    rustix::param::clock_ticks_per_second()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let line = "4242 (sh -c (x)) R 1 4242 4242 0 -1 4194304 100 0 0 0 150 50 7 3 20 0 1 0 123 2000000 512 18446744073709551615";
        let p = parse_stat(line).unwrap();
        assert_eq!(
            p,
            ProcStat {
                pid: 4242,
                pgrp: 4242,
                cpu_ticks: 150 + 50 + 7 + 3,
                rss_pages: 512
            }
        );
    }

    #[test]
    fn journal_keeps_runs_without_an_exit() {
        let s = |id: &str, pid| JournalEntry::S {
            id: id.into(),
            pid,
            at: "t".into(),
        };
        let exit = JournalEntry::X(crate::protocol::ExitRecord {
            id: "u1_main_0".into(),
            exit_code: 0,
            signal: None,
            oom_killed: false,
            reason: None,
            message: None,
            started_at: "t".into(),
            finished_at: "t".into(),
        });
        let entries = [
            s("u1_main_0", 10),
            s("u2_main_0", 20),
            exit,
            s("u3_main_0", 30),
            JournalEntry::F {
                id: "u3_main_0".into(),
            },
        ];
        let mut text: String = entries
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        text.push_str("torn");
        let j = text.as_str();
        let live = live_runs(j);
        assert_eq!(live.len(), 1);
        assert_eq!(live[&20], "u2_main_0");
    }

    #[test]
    fn groups_are_summed_and_strangers_ignored() {
        let runs = HashMap::from([(20, "u2_main_0".to_string())]);
        let procs = [
            ProcStat {
                pid: 20,
                pgrp: 20,
                cpu_ticks: 100,
                rss_pages: 10,
            },
            ProcStat {
                pid: 21,
                pgrp: 20,
                cpu_ticks: 50,
                rss_pages: 5,
            },
            ProcStat {
                pid: 99,
                pgrp: 99,
                cpu_ticks: 1000,
                rss_pages: 1000,
            },
        ];
        let c = per_run(&runs, &procs, 4096);
        assert_eq!(
            c["u2_main_0"],
            Counters {
                cpu_ticks: 150,
                memory_bytes: 15 * 4096
            }
        );
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn machine_counters() {
        let stat = "cpu  100 10 50 1000 40 5 5 2 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        assert_eq!(parse_proc_stat(stat), Some(100 + 10 + 50 + 5 + 5 + 2));
        let mem = "MemTotal:       24683656 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(parse_meminfo(mem), Some((24683656 - 20000000) * 1024));
    }

    #[test]
    fn one_busy_core_over_a_window_is_a_billion_nanocores() {
        let t0 = Instant::now();
        let snap = |at: Instant, ticks: u64, busy: u64| Snapshot {
            at,
            wall: chrono::Utc::now(),
            runs: HashMap::from([(
                "uid-1_main_0".to_string(),
                Counters {
                    cpu_ticks: ticks,
                    memory_bytes: 100 << 20,
                },
            )]),
            machine: MachineCounters {
                busy_ticks: busy,
                memory_bytes: 1 << 30,
            },
        };
        let u = rates(
            &snap(t0, 1000, 5000),
            &snap(t0 + Duration::from_secs(2), 1200, 5300),
            100,
        );
        assert_eq!(u.window, Duration::from_secs(2));
        assert_eq!(
            u.containers,
            vec![ContainerUsage {
                pod_uid: "uid-1".into(),
                container: "main".into(),
                cpu_nanocores: 1_000_000_000,
                memory_bytes: 100 << 20,
            }]
        );
        assert_eq!(u.node_cpu_nanocores, 1_500_000_000);
    }
}
