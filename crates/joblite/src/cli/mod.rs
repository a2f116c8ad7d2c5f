//! The client half of `joblite`: one module per command, plus the shared
//! pieces they are built from (target resolution, manifests, printers).
//!
//! Every command is an ordinary Kubernetes client (the `kube` crate), so the
//! same code drives joblite's own engine and a real cluster.

pub mod apply;
pub mod attach;
pub mod client;
pub mod create;
pub mod dashboard;
pub mod delete;
pub mod describe;
pub mod duration;
pub mod engine;
pub mod engine_cmd;
pub mod errors;
pub mod exec;
pub mod follow;
pub mod get;
pub mod kubeconfig;
pub mod logs;
pub mod manifest;
pub mod printer;
pub mod progress;
pub mod resource;
pub mod run;
pub mod session;
pub mod suspend;
pub mod wait;
pub mod yaml;

pub use errors::report_error;

/// What a command returns: the process exit code, or an error that
/// `report_error` prints the way kubectl would.
pub type CmdResult = anyhow::Result<u8>;
