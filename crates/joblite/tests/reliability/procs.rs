//! Looking at the machine's processes from a test: who carries a marker in
//! its environment, and which process is a data directory's supervisor.

use std::path::Path;

/// Pids of live processes whose environment holds `needle` (`KEY=value`).
/// Zombies have no environment and are not counted: they run nothing.
pub(crate) fn with_env(needle: &str) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if env.split(|&b| b == 0).any(|v| v == needle.as_bytes()) {
            out.push((pid, cmdline(pid)));
        }
    }
    out
}

/// A process's command line, space-separated.
pub(crate) fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// The pid of the supervisor serving `node_dir` (`joblite supervise DIR`).
pub(crate) fn supervisor_of(node_dir: &Path) -> Option<i32> {
    let want = format!("supervise {}", node_dir.display());
    let entries = std::fs::read_dir("/proc").ok()?;
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if cmdline(pid).ends_with(&want) {
            return Some(pid);
        }
    }
    None
}

/// `kill -9 pid`.
pub(crate) fn kill9(pid: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}
