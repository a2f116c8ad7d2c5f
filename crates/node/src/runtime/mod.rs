//! The runtime boundary: how the node agent starts, signals and hears about
//! a pod's containers, whatever runs them.
//!
//! The trait is pod-shaped: the agent hands a runtime the pod, the
//! container and the attempt ([`StartRequest`]), and each runtime builds its
//! own spec from them — the process runtime (`process.rs`) a command line
//! for the node's supervisor, the container runtime (`container.rs`) a
//! Docker Engine API container in the pod's sandbox. The agent, the pod
//! workers, restarts, status and logs stay shared.
//!
//! Every call is fire-and-forget and results arrive as [`RuntimeEvent`]s,
//! so the agent's single loop never blocks on a fork or an image pull, and a
//! reconnect is handled by reconciling a [`RuntimeEvent::Snapshot`].
//!
//! Run ids are `<pod-uid>_<container>_<attempt>` on every runtime; the
//! container ID a pod's status shows names the runtime by its scheme:
//! `joblite://<run-id>` for a process, `podman://<id>` or `docker://<id>`
//! for a container (see [`scheme_of`]), so per-container features (logs,
//! exec, attach) can dispatch on it.

pub mod container;
pub mod process;
pub mod spec;

use std::collections::HashSet;
use std::path::Path;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use serde_json::Value;

use crate::env::EnvContext;
use crate::protocol::ExitRecord;

/// Which runtime runs a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuntimeKind {
    /// Containers are host processes under the node's supervisor.
    Process,
    /// Containers run in a container engine through the Docker Engine API.
    Container,
}

impl RuntimeKind {
    /// The name a pod asks for in `spec.runtimeClassName` (and the
    /// RuntimeClass's handler).
    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::Process => "process",
            RuntimeKind::Container => "container",
        }
    }

    /// The kind a RuntimeClass's `handler` names.
    pub fn from_handler(name: &str) -> Option<RuntimeKind> {
        match name {
            "process" => Some(RuntimeKind::Process),
            "container" => Some(RuntimeKind::Container),
            _ => None,
        }
    }
}

/// The runtime scheme of a container ID (`joblite`, `podman`, `docker`).
pub fn scheme_of(container_id: &str) -> Option<&str> {
    container_id.split_once("://").map(|(s, _)| s)
}

/// One run the runtime knows, as listed in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunState {
    /// The run id, `<pod-uid>_<container>_<attempt>`.
    pub id: String,
    /// The container ID the status shows (`joblite://…`, `podman://…`).
    pub container_id: String,
    /// The image ID (empty for a process).
    pub image_id: String,
    /// RFC3339Nano.
    pub started_at: String,
    /// `None` while running.
    pub exit: Option<ExitRecord>,
}

/// Why a run could not start, reported after [`Runtime::start`] accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFailure {
    /// The container waits with this reason and message and the pod worker
    /// tries again after the image back-off (`ErrImagePull`).
    ImagePull { message: String },
    /// The container waits with this reason until the pod changes
    /// (`InvalidImageName`, `ErrImageNeverPull`, `CreateContainerError`).
    Blocked { reason: String, message: String },
    /// The runtime could not be reached; the container keeps waiting and
    /// the start is retried once the runtime is back.
    Unavailable { message: String },
}

/// What a runtime reports.
#[derive(Debug, Clone, PartialEq)]
pub enum RuntimeEvent {
    Started {
        id: String,
        /// The container ID for the status.
        container_id: String,
        /// The image ID for the status (empty for a process).
        image_id: String,
        started_at: String,
    },
    Exited(ExitRecord),
    /// A start that [`Runtime::start`] accepted did not reach the
    /// container's process.
    Failed {
        id: String,
        failure: StartFailure,
    },
    /// A kubelet event about the pod `uid` (Pulling, Pulled, Created, …).
    PodEvent {
        uid: String,
        warning: bool,
        reason: &'static str,
        message: String,
    },
    /// The pod's sandbox is up with this IP (`status.podIP`).
    SandboxReady {
        uid: String,
        ip: String,
    },
    /// Every run the runtime knows, sent after each (re)connect and on request.
    Snapshot(Vec<RunState>),
    /// The connection dropped; a Snapshot follows the reconnect.
    Disconnected {
        message: String,
    },
}

/// Why a container cannot be turned into a run (found before anything starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// The container terminates with `ContainerCannotRun`.
    CannotRun(String),
    /// The container waits with `CreateContainerConfigError`.
    Config(String),
    /// The runtime cannot create the container as asked: it waits with
    /// `CreateContainerError`, as the kubelet reports a runtime's refusal
    /// (`ErrCreateContainer` in `pkg/kubelet/container/sync_result.go`).
    Create(String),
}

/// Everything a runtime needs to start one attempt of one container.
pub struct StartRequest<'a> {
    pub pod: &'a Value,
    pub spec: &'a PodSpec,
    pub container: &'a Container,
    pub init: bool,
    pub attempt: u32,
    /// The node's data directory (see `paths.rs`).
    pub data_dir: &'a Path,
    pub env: EnvContext<'a>,
}

impl StartRequest<'_> {
    fn meta(&self, key: &str) -> &str {
        self.pod.pointer(key).and_then(Value::as_str).unwrap_or("")
    }
    pub fn namespace(&self) -> &str {
        self.meta("/metadata/namespace")
    }
    pub fn pod_name(&self) -> &str {
        self.meta("/metadata/name")
    }
    pub fn uid(&self) -> &str {
        self.meta("/metadata/uid")
    }
    /// The run id of this attempt.
    pub fn run_id(&self) -> String {
        crate::protocol::run_id(self.uid(), &self.container.name, self.attempt)
    }
    /// This attempt's CRI log file.
    pub fn log_path(&self) -> std::path::PathBuf {
        crate::paths::log_path(
            self.data_dir,
            self.namespace(),
            self.pod_name(),
            self.uid(),
            &self.container.name,
            self.attempt,
        )
    }
}

/// A container runtime.
pub trait Runtime: Send + Sync {
    /// Which runtime this is.
    fn kind(&self) -> RuntimeKind;
    /// Starts a run. Idempotent per run id: a run is never started twice.
    /// An error found while building the run is returned at once; later
    /// failures arrive as [`RuntimeEvent::Failed`].
    fn start(&self, req: &StartRequest<'_>) -> Result<(), BuildError>;
    /// Signals the run (SIGTERM, SIGKILL). A run still being prepared is
    /// abandoned and reported as exited.
    fn signal(&self, id: &str, signal: i32);
    /// Drops a finished run once its outcome is committed.
    fn forget(&self, id: &str);
    /// The pod is finished and committed (or gone): release what the
    /// runtime holds for it beyond its runs (a sandbox).
    fn release_pod(&self, _uid: &str) {}
    /// After a restart: release what the runtime holds for any pod not
    /// in `keep` (the pods still to run), such as a sandbox whose pod
    /// finished or went away while the agent was down. Pods started since
    /// are kept.
    fn release_all_but(&self, _keep: &HashSet<String>) {}
    /// Asks for a [`RuntimeEvent::Snapshot`].
    fn list(&self);
    /// Why resource limits would not be enforced, if they would not.
    fn limits_problem(&self) -> Option<String> {
        None
    }
    /// Whether starting a run also produced the kubelet's routine events
    /// (Pulling, Pulled, Created, Started) as [`RuntimeEvent::PodEvent`]s;
    /// when not, the agent emits them itself.
    fn emits_container_events(&self) -> bool {
        false
    }
    /// What `status.nodeInfo.containerRuntimeVersion` shows for it.
    fn version(&self) -> String;
}
