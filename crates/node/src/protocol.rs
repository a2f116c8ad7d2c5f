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
    /// Keep a stdin for attachers (`container.stdin`); otherwise stdin is
    /// `/dev/null`.
    #[serde(default)]
    pub stdin: bool,
    /// The engine's data directory, hidden from the run (root only): a
    /// tmpfs covers it in the run's mount namespace, and only the run's own
    /// volumes and working directory are bound back (`isolation.rs`).
    #[serde(default)]
    pub hide: Option<String>,
    /// `runAsUser`: the uid the run executes as (root engines only).
    #[serde(default)]
    pub user: Option<u32>,
    /// `runAsGroup`, else the user's primary group.
    #[serde(default)]
    pub group: Option<u32>,
    /// Supplementary groups (`supplementalGroups`, `fsGroup`); any others
    /// the engine had are dropped whenever `user` or `group` is set.
    #[serde(default)]
    pub groups: Vec<u32>,
    /// Close that stdin once the first attacher leaves (`stdinOnce`).
    #[serde(default)]
    pub stdin_once: bool,
    /// Run on a pseudo-terminal (`container.tty`): one output, resizable.
    #[serde(default)]
    pub tty: bool,
    /// Rotate the log before it would exceed this many bytes
    /// (`containerLogMaxSize`); negative, or absent, never rotates.
    #[serde(default = "no_rotation")]
    pub log_max_size: i64,
    /// Log files kept per run, the current one included
    /// (`containerLogMaxFiles`).
    #[serde(default)]
    pub log_max_files: u32,
}

fn no_rotation() -> i64 {
    -1
}

/// Agent → supervisor.
// A request lives only between a channel and its serialisation (or its
// parse and its handling): boxing the large start would buy nothing.
#[allow(clippy::large_enum_variant)]
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
    /// Turns this connection into an interactive session (exec or attach)
    /// on a running run; see [`frame`]. Only as a connection's first line.
    Stream(StreamRequest),
}

/// An exec (non-empty `command`) or attach on run `id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRequest {
    pub id: String,
    /// argv of the command to exec; empty to attach.
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub stdin: bool,
    #[serde(default)]
    pub stdout: bool,
    #[serde(default)]
    pub stderr: bool,
    #[serde(default)]
    pub tty: bool,
}

/// The framing of a stream connection after its request line: each frame
/// is `[kind: u8][length: u32 BE][payload]`, in both directions. The
/// supervisor answers first with [`frame::READY`] or [`frame::REFUSED`],
/// and ends with one [`frame::END`].
pub mod frame {
    use tokio::io::{AsyncRead, AsyncReadExt};

    /// Client → supervisor: bytes for the process's stdin.
    pub const STDIN: u8 = 0;
    /// Supervisor → client: output.
    pub const STDOUT: u8 = 1;
    pub const STDERR: u8 = 2;
    /// Supervisor → client, last: JSON `api::streams::Outcome`.
    pub const END: u8 = 3;
    /// Client → supervisor: JSON `api::streams::TerminalSize`.
    pub const RESIZE: u8 = 4;
    /// Client → supervisor: stdin is finished.
    pub const STDIN_EOF: u8 = 5;
    /// Supervisor → client, first: the session runs.
    pub const READY: u8 = 6;
    /// Supervisor → client, first and last: no such running run; the text
    /// says why.
    pub const REFUSED: u8 = 7;

    /// Largest payload accepted.
    pub const MAX: usize = 1 << 20;

    /// Appends one frame to `out`.
    pub fn encode(kind: u8, payload: &[u8], out: &mut Vec<u8>) {
        out.push(kind);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload);
    }

    /// Reads one frame; `None` at a clean end of stream.
    pub async fn read<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<(u8, Vec<u8>)>> {
        let mut head = [0u8; 5];
        match r.read_exact(&mut head[..1]).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        r.read_exact(&mut head[1..]).await?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > MAX {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("stream frame of {len} bytes"),
            ));
        }
        let mut payload = vec![0u8; len];
        r.read_exact(&mut payload).await?;
        Ok(Some((head[0], payload)))
    }
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

/// Parses a line that starts with `{"<tag>":"<name>",`, the way serde
/// writes an internally tagged variant, as the variant's struct `T`:
/// serde's own parse of an internally tagged enum buffers every field
/// first (7 % of the supervisor's CPU per pod, perf). `None` when the line
/// is shaped otherwise; the caller then takes serde's path.
fn tagged_fast<T: serde::de::DeserializeOwned>(line: &str, prefix: &str) -> Option<T> {
    let rest = line.strip_prefix(prefix)?;
    let mut body = String::with_capacity(rest.len() + 1);
    body.push('{');
    body.push_str(rest);
    serde_json::from_str(&body).ok()
}

impl Request {
    /// Parses one request line.
    pub fn from_line(line: &str) -> serde_json::Result<Request> {
        match tagged_fast(line, r#"{"op":"start","#) {
            Some(spec) => Ok(Request::Start(spec)),
            None => serde_json::from_str(line),
        }
    }
}

impl Event {
    /// Parses one event line.
    pub fn from_line(line: &str) -> serde_json::Result<Event> {
        match tagged_fast(line, r#"{"ev":"exited","#) {
            Some(x) => Ok(Event::Exited(x)),
            None => serde_json::from_str(line),
        }
    }
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

    /// The fast path reads exactly what serde's enum parse reads, and a
    /// line in another shape still parses.
    #[test]
    fn lines_parse_the_same_on_the_fast_path() {
        let start = Request::Start(StartSpec {
            id: "u_c_0".into(),
            path: "/bin/true".into(),
            args: vec!["true".into()],
            env: vec![("A".into(), "b".into())],
            ..Default::default()
        });
        let line = serde_json::to_string(&start).unwrap();
        assert!(line.starts_with(r#"{"op":"start","#), "{line}");
        assert!(tagged_fast::<StartSpec>(&line, r#"{"op":"start","#).is_some());
        assert_eq!(Request::from_line(&line).unwrap(), start);
        let exited = Event::Exited(ExitRecord {
            id: "u_c_0".into(),
            exit_code: 137,
            signal: Some(9),
            oom_killed: true,
            reason: Some("OOMKilled".into()),
            message: None,
            started_at: "2024-01-01T00:00:00Z".into(),
            finished_at: "2024-01-01T00:00:01Z".into(),
        });
        let line = serde_json::to_string(&exited).unwrap();
        assert!(line.starts_with(r#"{"ev":"exited","#), "{line}");
        assert_eq!(Event::from_line(&line).unwrap(), exited);
        // The tag elsewhere, or another variant: serde's path.
        let moved = r#"{"id":"x","signal":9,"op":"signal"}"#;
        assert_eq!(
            Request::from_line(moved).unwrap(),
            Request::Signal {
                id: "x".into(),
                signal: 9
            }
        );
        assert!(Request::from_line(r#"{"op":"start","#).is_err());
        assert!(Event::from_line(r#"{"ev":"exited","id":1}"#).is_err());
    }

    #[test]
    fn run_ids_round_trip() {
        let id = run_id("0f9c-11", "main", 3);
        assert_eq!(parse_run_id(&id), Some(("0f9c-11", "main", 3)));
        assert_eq!(parse_run_id("garbage"), None);
    }

    #[tokio::test]
    async fn frames_round_trip() {
        let mut buf = Vec::new();
        frame::encode(frame::STDOUT, b"hello", &mut buf);
        frame::encode(frame::STDIN_EOF, b"", &mut buf);
        let mut r = &buf[..];
        assert_eq!(
            frame::read(&mut r).await.unwrap(),
            Some((frame::STDOUT, b"hello".to_vec()))
        );
        assert_eq!(
            frame::read(&mut r).await.unwrap(),
            Some((frame::STDIN_EOF, vec![]))
        );
        assert_eq!(frame::read(&mut r).await.unwrap(), None);
        let mut torn = &buf[..3];
        assert!(frame::read(&mut torn).await.is_err());
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
