//! The wire protocol between the node agent and the supervisor.
//!
//! Newline-delimited JSON over a unix socket in the node's data directory:
//! easy to inspect with `socat`, cheap to parse, and versionable by adding
//! fields. Requests are fire-and-forget; results come back as events, so the
//! agent never blocks on a fork.

use serde::{Deserialize, Serialize};

/// Everything the supervisor needs to start one container run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StartSpec {
    /// `<pod-uid>_<container>_<attempt>`: unique per run.
    pub id: String,
    /// The executable as written in `command[0]` (resolved against PATH by the supervisor).
    pub path: String,
    /// argv, including argv[0].
    pub args: Vec<String>,
    /// The environment, in order.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: String,
    /// CRI-format log file for this run.
    pub log_path: String,
    /// Hostname to set in a private UTS namespace (root only).
    #[serde(default)]
    pub hostname: Option<String>,
    /// Bind mounts `(source, target, read_only)` in a private mount namespace (root only).
    #[serde(default)]
    pub mounts: Vec<(String, String, bool)>,
    /// Memory limit in bytes.
    #[serde(default)]
    pub memory_limit: Option<i64>,
    /// CPU limit in millicores.
    #[serde(default)]
    pub cpu_limit_millis: Option<i64>,
}

/// Agent → supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Start(StartSpec),
    /// Signal the container's whole process tree (process group and cgroup).
    Signal {
        id: String,
        signal: i32,
    },
    /// The agent has committed this run's outcome: drop its record.
    Forget {
        id: String,
    },
    /// Ask for a [`Event::Snapshot`] of every known run.
    List,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    pub id: String,
    /// Exit code; `128 + signal` when killed by a signal.
    pub exit_code: i32,
    /// The signal that killed it, if any.
    #[serde(default)]
    pub signal: Option<i32>,
    /// The cgroup's OOM killer fired.
    #[serde(default)]
    pub oom_killed: bool,
    /// Set when the run could not be started or was lost; the agent reports
    /// it as the container's termination reason.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// RFC3339Nano.
    pub started_at: String,
    pub finished_at: String,
}

/// One known run, as listed in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub pid: i32,
    pub started_at: String,
    /// `None` while running.
    #[serde(default)]
    pub exit: Option<ExitRecord>,
}

/// Supervisor → agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum Event {
    Started {
        id: String,
        pid: i32,
        started_at: String,
    },
    Exited(ExitRecord),
    Snapshot {
        runs: Vec<RunRecord>,
    },
}

/// Splits a run id into `(pod uid, container name, attempt)`.
pub fn parse_run_id(id: &str) -> Option<(&str, &str, u32)> {
    let mut parts = id.rsplitn(3, '_');
    let attempt = parts.next()?.parse().ok()?;
    let container = parts.next()?;
    let uid = parts.next()?;
    Some((uid, container, attempt))
}

/// The run id of a container attempt.
pub fn run_id(uid: &str, container: &str, attempt: u32) -> String {
    format!("{uid}_{container}_{attempt}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_round_trip() {
        let id = run_id("0f9c-11", "main", 3);
        assert_eq!(parse_run_id(&id), Some(("0f9c-11", "main", 3)));
        assert_eq!(parse_run_id("garbage"), None);
    }

    #[test]
    fn requests_are_tagged_json() {
        let r = Request::Signal {
            id: "a_b_0".into(),
            signal: 15,
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(s, r#"{"op":"signal","id":"a_b_0","signal":15}"#);
        assert_eq!(serde_json::from_str::<Request>(&s).unwrap(), r);
    }
}
