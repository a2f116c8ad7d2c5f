//! joblite's node agent: its kubelet.
//!
//! The agent (`agent.rs`) keeps the Node object, admits pods against the
//! node's capacity (`admission.rs`: it is also the scheduler of its one
//! node), drives each pod's containers (`pod_worker.rs`, with the restart
//! rule in `restart.rs`), and reports pod status as the kubelet would
//! (`status.rs`). Containers run through a [`runtime::Runtime`]; the default
//! process runtime hands them to a supervisor process (`supervisor.rs`) that
//! outlives the server, records every exit durably and writes the logs that
//! `logs.rs` serves.
//!
//! Wiring (for `joblite serve`): call [`run`] with a [`NodeConfig`] whose
//! `supervisor_command` re-executes the binary as `joblite supervise <dir>`,
//! and have that subcommand call [`supervisor_main`].

pub mod admission;
pub mod agent;
pub mod cgroups;
pub mod env;
mod error;
pub mod expansion;
pub mod logs;
pub mod node_object;
pub mod paths;
pub mod pod_worker;
pub mod protocol;
pub mod quantity;
pub mod restart;
pub mod runtime;
pub mod status;
pub mod supervisor;
pub mod sys;

pub use agent::{run, NodeConfig, NodeHandle};
pub use error::{Error, Result};
pub use logs::stream_logs;
pub use supervisor::supervisor_main;
