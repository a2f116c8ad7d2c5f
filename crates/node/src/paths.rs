//! Where a pod's files live in the node's data directory, in one place so
//! the agent, the supervisor's log files and the log reader agree.
//!
//! ```text
//! <data>/supervisor.sock, runs.journal      the supervisor
//! <data>/pods/<ns>_<name>_<uid>/            one pod (as /var/log/pods on a kubelet)
//!     logs/<container>/<attempt>.log        one file per container run, CRI format
//!     volumes/<volume>/                     emptyDir volumes
//!     work/                                 default working directory
//! ```

use std::path::{Path, PathBuf};

pub fn pods_root(data_dir: &Path) -> PathBuf {
    data_dir.join("pods")
}

pub fn pod_dir(data_dir: &Path, namespace: &str, name: &str, uid: &str) -> PathBuf {
    pods_root(data_dir).join(format!("{namespace}_{name}_{uid}"))
}

pub fn log_path(pod_dir: &Path, container: &str, attempt: u32) -> PathBuf {
    pod_dir
        .join("logs")
        .join(container)
        .join(format!("{attempt}.log"))
}

pub fn volume_dir(pod_dir: &Path, volume: &str) -> PathBuf {
    pod_dir.join("volumes").join(volume)
}

pub fn work_dir(pod_dir: &Path) -> PathBuf {
    pod_dir.join("work")
}
