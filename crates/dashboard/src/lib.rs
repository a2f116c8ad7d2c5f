//! joblite's web dashboard: Jobs, a Job, a pod's logs and CronJobs, live.
//!
//! `joblite serve` runs it on its own port under the engine's TLS
//! certificate, at `/ui/`. This crate owns only what a browser needs beyond
//! the Kubernetes API:
//!
//! - the login: a one-time code minted for `joblite dashboard` (which holds
//!   the API token) becomes a session cookie (`session.rs`);
//! - the API itself, proxied in-process to the API server for a logged-in
//!   session ([`apiserver::ApiHandle`]): the page lists and watches Jobs,
//!   events and CronJobs, follows logs, and deletes, suspends and resumes
//!   with the same requests kubectl makes, so it sees exactly what kubectl
//!   sees; writes also need the session's CSRF token;
//! - two read-only projections the API has no cheap form of: a Job's pods
//!   as compact rows (`pod_rows.rs`, for 100,000-pod Jobs) and CronJobs'
//!   next run times (`next_runs.rs`);
//! - the page (`assets/`), embedded in the binary.
//!
//! Why this stack: the page is plain HTML, CSS and one JavaScript module,
//! with no framework and no build step. Its job is tables that follow
//! watch streams; `fetch` streams and a few hundred lines of DOM code do
//! that, with a virtualised table that renders only visible rows. A
//! framework would add an npm toolchain to CI (2 cores, 30 minutes) and a
//! bundle to embed, and buy nothing these four views need.

mod assets;
mod next_runs;
mod pod_rows;
mod routes;
pub(crate) mod session;
mod watch_batches;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// Errors starting the dashboard.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Binding the port failed.
    #[error("dashboard: {0}")]
    Io(#[from] std::io::Error),
}

/// How to run the dashboard.
pub struct DashboardConfig {
    /// The API, called for logged-in sessions.
    pub api: apiserver::ApiHandle,
    /// The engine's certificate, without client-certificate requests.
    pub tls: Arc<rustls::ServerConfig>,
    pub address: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
}

/// A running dashboard.
pub struct DashboardHandle {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<()>,
}

pub(crate) struct State {
    pub api: apiserver::ApiHandle,
    pub sessions: parking_lot::Mutex<session::Sessions>,
    /// `https://host:port`, for login URLs.
    pub origin: String,
}

/// Binds and serves in the background.
pub async fn serve(config: DashboardConfig) -> Result<DashboardHandle, Error> {
    let listener = TcpListener::bind(SocketAddr::new(config.address, config.port)).await?;
    let addr = listener.local_addr()?;
    let host = if addr.ip().is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    let state = Arc::new(State {
        api: config.api,
        sessions: parking_lot::Mutex::new(session::Sessions::default()),
        origin: format!("https://{host}:{}", addr.port()),
    });
    let acceptor = tokio_rustls::TlsAcceptor::from(config.tls);
    let task = tokio::spawn(async move {
        loop {
            let (tcp, _) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("dashboard accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let state = state.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let state = state.clone();
                        async move {
                            let req = req.map(axum::body::Body::new);
                            Ok::<_, Infallible>(routes::handle(&state, req).await)
                        }
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Ok(DashboardHandle { addr, task })
}
