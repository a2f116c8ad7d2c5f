//! Where a pod's files live in the node's data directory, in one place so
//! the agent, the supervisor's log files and the log reader agree.
//!
//! ```text
//! <data>/supervisor.sock, runs.journal                     the supervisor
//! <data>/pods/<ns>_<name>_<uid>/                           the pod's default working directory
//! <data>/logs/<ns>_<name>_<uid>_<container>_<attempt>.log  one file per container run (CRI format)
//! <data>/logs/<…>.log.<YYYYMMDD-hhmmss>[.gz]                its rotated files (log_rotation.rs)
//! <data>/logs/<ns>_<name>_<uid>_<container>.attempts       engine container ID of each attempt
//! <data>/volumes/<ns>_<name>_<uid>/<volume>/               emptyDir volumes
//! ```
//!
//! Flat on purpose: a directory costs a `mkdir`, which on ext4 with many
//! recent deletions is the most expensive system call of a pod's start, so a
//! pod gets one directory (its working directory) and its log files go in a
//! shared one.

use std::path::{Path, PathBuf};

fn key(namespace: &str, name: &str, uid: &str) -> String {
    format!("{namespace}_{name}_{uid}")
}

/// The directories every pod's files go under (created at agent start).
pub fn roots(data_dir: &Path) -> [PathBuf; 3] {
    [
        data_dir.join("pods"),
        data_dir.join("logs"),
        data_dir.join("volumes"),
    ]
}

/// The pod's default working directory.
pub fn pod_dir(data_dir: &Path, namespace: &str, name: &str, uid: &str) -> PathBuf {
    data_dir.join("pods").join(key(namespace, name, uid))
}

/// The log file of one container run.
pub fn log_path(
    data_dir: &Path,
    namespace: &str,
    name: &str,
    uid: &str,
    container: &str,
    attempt: u32,
) -> PathBuf {
    data_dir.join("logs").join(format!(
        "{}_{container}_{attempt}.log",
        key(namespace, name, uid)
    ))
}

/// Which engine container ran which attempt of a container (`<attempt>
/// <container ID>` lines), for container IDs that do not name the attempt.
pub fn attempts_path(
    data_dir: &Path,
    namespace: &str,
    name: &str,
    uid: &str,
    container: &str,
) -> PathBuf {
    data_dir.join("logs").join(format!(
        "{}_{container}.attempts",
        key(namespace, name, uid)
    ))
}

/// An emptyDir volume.
pub fn volume_dir(
    data_dir: &Path,
    namespace: &str,
    name: &str,
    uid: &str,
    volume: &str,
) -> PathBuf {
    data_dir
        .join("volumes")
        .join(key(namespace, name, uid))
        .join(volume)
}

/// Removes everything a pod left: working directory, volumes and the log
/// files of `runs` (container name, number of attempts).
pub fn remove_pod<'a>(
    data_dir: &Path,
    namespace: &str,
    name: &str,
    uid: &str,
    runs: impl IntoIterator<Item = (&'a str, u32)>,
) {
    let _ = std::fs::remove_dir_all(pod_dir(data_dir, namespace, name, uid));
    let _ = std::fs::remove_dir_all(data_dir.join("volumes").join(key(namespace, name, uid)));
    for (container, attempts) in runs {
        let _ = std::fs::remove_file(attempts_path(data_dir, namespace, name, uid, container));
        for a in 0..attempts {
            let log = log_path(data_dir, namespace, name, uid, container, a);
            // Rotated files (`<log>.<timestamp>[.gz]`) only where the
            // current file says there are some: listing the shared log
            // directory per pod would cost O(pods).
            if crate::log_rotation::marks_rotation(&log) {
                crate::log_rotation::remove_rotated(&log);
            }
            let _ = std::fs::remove_file(log);
        }
    }
}

/// The runs a stored pod may have logs for: every container with
/// `restartCount + 1` attempts.
pub fn runs_of(pod: &serde_json::Value) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for (spec_key, status_key) in [
        ("initContainers", "initContainerStatuses"),
        ("containers", "containerStatuses"),
    ] {
        let Some(cs) = pod
            .pointer(&format!("/spec/{spec_key}"))
            .and_then(|v| v.as_array())
        else {
            continue;
        };
        for c in cs {
            let name = c
                .get("name")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            let restarts = pod
                .pointer(&format!("/status/{status_key}"))
                .and_then(|v| v.as_array())
                .and_then(|a| {
                    a.iter()
                        .find(|s| s.get("name").and_then(|v| v.as_str()) == Some(&name))
                })
                .and_then(|s| s.get("restartCount"))
                .and_then(|v| v.as_u64())
                .unwrap_or(0) as u32;
            out.push((name, restarts + 1));
        }
    }
    out
}
