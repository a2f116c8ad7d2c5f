//! The Kubernetes REST API over joblite's store.
//!
//! One handler serves every path (`handler.rs`): discovery, OpenAPI, and the
//! CRUD, patch, watch and log verbs for the resources in the registry
//! (`api::resources`). The rules that decide what an object may look like
//! live in each kind's strategy in the `api` crate and run in the store's
//! write path; this crate owns the wire: negotiation, bodies, Status errors,
//! streaming, TLS and authentication.

pub(crate) mod body;
pub(crate) mod discovery;
mod discovery_routes;
pub(crate) mod filter;
mod fuzzing;
mod handler;
pub(crate) mod metrics;
pub(crate) mod openapi;
mod output;
pub mod patch;
pub(crate) mod protobuf;
pub(crate) mod query;
mod read;
pub(crate) mod request;
pub mod resource_metrics;
mod respond;
mod server;
pub(crate) mod spdy;
pub(crate) mod streams;
pub(crate) mod tls;
mod watch;
mod write;

use std::path::PathBuf;
use std::sync::Arc;

use api::status::ApiError;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde_json::{json, Value};

/// The fuzz targets' entry into the body decoders (`fuzz/`); not API.
#[doc(hidden)]
pub use fuzzing::decode_body;

/// Reads and drops a request body the server refuses, up to the body
/// limit, so the client gets the answer rather than a reset (Go's server
/// drains a refused body too). For a proxy in front of the API.
pub async fn discard_body(body: axum::body::Body) {
    handler::drain(body, handler::MAX_BODY).await;
}

/// Whether a request's query asks for a watch, by the API's own rule
/// (`watch=true|1|True`), for a proxy in front of it (the dashboard).
pub fn is_watch(query: Option<&str>) -> bool {
    query::Query::parse(query).flag("watch")
}
pub use server::{serve, ApiHandle, ServerConfig, ServerHandle};
pub use streams::{NoStreams, PodStreams, Refusal, Session, Tunnel};

/// The Kubernetes version joblite answers as. kubectl's dispatcher on these
/// machines picks its client binary from the minor.
pub const KUBE_MINOR: &str = "33";
pub const KUBE_VERSION: &str = "v1.33.0";

/// The `/version` document.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": KUBE_MINOR,
        "gitVersion": KUBE_VERSION,
        "gitCommit": "joblite",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": format!("linux/{}", std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64")),
    })
}

/// A stream of log bytes.
pub type LogStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// Where pod logs come from (the node agent); the binary wires it.
pub trait PodLogs: Send + Sync {
    fn logs<'a>(
        &'a self,
        pod: &'a Value,
        opts: api::logs::LogOptions,
    ) -> BoxFuture<'a, Result<LogStream, ApiError>>;
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the data directory or binding the port failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// Certificates could not be created or loaded.
    #[error("tls: {0}")]
    Tls(String),
    /// The store refused a bootstrap write.
    #[error("store: {0}")]
    Store(#[from] store::Error),
}

pub(crate) struct AppState {
    pub store: store::Store,
    pub token: String,
    pub logs: Arc<dyn PodLogs>,
    pub streams: Arc<dyn PodStreams>,
    pub server_address: String,
    /// Every metric family `/metrics` serves.
    pub metrics: prometheus::Registry,
    pub usage: Arc<dyn resource_metrics::ResourceUsage>,
    #[allow(dead_code)]
    pub data_dir: PathBuf,
}
