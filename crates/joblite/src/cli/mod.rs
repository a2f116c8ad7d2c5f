//! The client half of `joblite`: one module per command, plus the shared
//! pieces they are built from (target resolution, manifests, printers).
//!
//! Every command is an ordinary Kubernetes client (the `kube` crate), so the
//! same code drives joblite's own engine and a real cluster.

pub(crate) mod apply;
pub(crate) mod attach;
pub(crate) mod client;
pub(crate) mod create;
pub(crate) mod dashboard;
pub(crate) mod delete;
pub(crate) mod describe;
pub(crate) mod duration;
pub(crate) mod engine;
pub(crate) mod engine_cmd;
pub(crate) mod errors;
pub(crate) mod exec;
pub(crate) mod follow;
pub(crate) mod get;
pub(crate) mod kubeconfig;
pub(crate) mod logs;
pub(crate) mod manifest;
pub(crate) mod printer;
pub(crate) mod progress;
pub(crate) mod resource;
pub(crate) mod run;
pub(crate) mod session;
pub(crate) mod suspend;
pub(crate) mod wait;
pub(crate) mod yaml;

pub(crate) use errors::report_error;

/// What a command returns: the process exit code, or an error that
/// `report_error` prints the way kubectl would.
pub(crate) type CmdResult = anyhow::Result<u8>;
