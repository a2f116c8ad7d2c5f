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
//! Wiring (for `joblite serve`):
//! - start the agent with [`run`]`(store, NodeConfig::new(node_dir, argv))`,
//!   where `argv` re-executes the binary as the supervisor, e.g.
//!   `[current_exe, "supervise", node_dir]`; the agent spawns it (detached,
//!   in a new session) when no supervisor serves `node_dir`, and also passes
//!   the directory in `$JOBLITE_SUPERVISOR_DIR`;
//! - have that subcommand call [`supervisor_main`]`(node_dir)` (it never
//!   returns; it exits by itself 10 s after the last client left with
//!   nothing running);
//! - serve `pods/{name}/log` with [`stream_logs`]`(node_dir, &pod_json, opts)`;
//!   [`Error::BadRequest`] maps to 400, [`Error::NotFound`] to 404.
//!
//! Stopping the agent ([`NodeHandle::shutdown`], or killing the server)
//! leaves the pods running under the supervisor; the next agent on the same
//! directory reattaches to them and reports what finished meanwhile.

pub mod admission;
pub mod agent;
pub mod cgroups;
pub(crate) mod config_sources;
pub(crate) mod env;
mod error;
pub(crate) mod expansion;
mod fuzzing;
pub mod isolation;
pub mod log_rotation;
mod log_wake;
pub mod logs;
pub mod metrics;
pub(crate) mod node_object;
pub mod paths;
pub(crate) mod pod_worker;
pub(crate) mod projection;
pub mod protocol;
pub(crate) mod restart;
pub mod runtime;
pub mod runtime_class;
pub(crate) mod status;
pub mod streams;
pub mod supervisor;
pub(crate) mod sys;
pub mod usage;
pub(crate) mod volumes;

pub use agent::{run, NodeConfig, NodeHandle};
pub use error::{Error, Result};
pub use logs::stream_logs;
pub use supervisor::supervisor_main;

/// The fuzz targets' entry into the supervisor protocol (`fuzz/`); not API.
#[doc(hidden)]
pub use fuzzing::supervisor_protocol;
