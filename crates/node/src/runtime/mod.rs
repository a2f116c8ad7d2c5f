//! The runtime boundary: how the node agent starts, signals and hears about
//! containers, whatever runs them.
//!
//! The process runtime (`process.rs`, the default) runs each container as a
//! host process under the node's supervisor; a container-engine runtime can
//! implement the same trait later. Every call is fire-and-forget and results
//! arrive as [`RuntimeEvent`]s, so the agent's single loop never blocks on a
//! fork, and a reconnect is handled by reconciling a [`RuntimeEvent::Snapshot`].

pub mod process;

use crate::protocol::{ExitRecord, RunRecord, StartSpec};

/// What a runtime reports.
#[derive(Debug, Clone, PartialEq)]
pub enum RuntimeEvent {
    Started {
        id: String,
        pid: i32,
        started_at: String,
    },
    Exited(ExitRecord),
    /// Every run the runtime knows, sent after each (re)connect and on request.
    Snapshot(Vec<RunRecord>),
    /// The connection dropped; a Snapshot follows the reconnect.
    Disconnected,
}

/// A container runtime.
pub trait Runtime: Send + Sync {
    /// Starts a run. Idempotent per `spec.id`: a run is never started twice.
    fn start(&self, spec: StartSpec);
    /// Signals the run's whole process tree.
    fn signal(&self, id: &str, signal: i32);
    /// Drops a finished run's record once its outcome is committed.
    fn forget(&self, id: &str);
    /// Asks for a [`RuntimeEvent::Snapshot`].
    fn list(&self);
}
