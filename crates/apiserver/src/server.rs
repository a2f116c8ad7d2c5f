//! The listener: TLS with optional client certificates, HTTP/1.1 and HTTP/2.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::net::TcpListener;

use crate::handler::{self, ClientCertVerified};
use crate::{AppState, Error, PodLogs, PodStreams};

/// The send buffer of an API connection (the kernel doubles it).
const SEND_BUFFER: usize = 128 * 1024;

/// How to run the server.
pub struct ServerConfig {
    pub store: store::Store,
    pub data_dir: PathBuf,
    pub address: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    pub logs: Arc<dyn PodLogs>,
    /// The registry `/metrics` serves (the caller registers the other
    /// components' metrics; the request metrics are added here).
    pub metrics: prometheus::Registry,
    /// What the pods and the node use, for `metrics.k8s.io`.
    pub usage: Arc<dyn crate::resource_metrics::ResourceUsage>,
    /// exec, attach and port-forward sessions.
    pub streams: Arc<dyn PodStreams>,
}

/// A running server.
pub struct ServerHandle {
    pub addr: SocketAddr,
    pub kubeconfig: PathBuf,
    pub task: tokio::task::JoinHandle<()>,
    /// The API for in-process front ends that authenticate their own users.
    pub api: ApiHandle,
    /// The serving certificate without a client-certificate request.
    pub browser_tls: Arc<rustls::ServerConfig>,
}

/// The API server called in-process, as an authenticated client: for a
/// front end (the dashboard) that has authenticated its own caller and
/// must get exactly the API's answers, watches and logs included.
#[derive(Clone)]
pub struct ApiHandle {
    state: Arc<AppState>,
}

impl ApiHandle {
    /// Serves `req` (path and query as on the API port) as an
    /// authenticated caller; the request metrics count it.
    pub async fn call(
        &self,
        mut req: http::Request<axum::body::Body>,
    ) -> http::Response<axum::body::Body> {
        req.extensions_mut().insert(ClientCertVerified(true));
        let state = self.state.clone();
        crate::metrics::instrument(req, |req| handler::handle(state, req)).await
    }

    /// The store behind the API, for read-only projections.
    pub fn store(&self) -> &store::Store {
        &self.state.store
    }

    /// Whether `token` is the API's bearer token (constant time).
    pub fn is_token(&self, token: &str) -> bool {
        handler::constant_time_eq(token.as_bytes(), self.state.token.as_bytes())
    }
}

/// Creates the built-in namespaces if they are missing.
async fn bootstrap(store: &store::Store) -> Result<(), Error> {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        if store.get(&api::resources::NAMESPACES, "", ns).is_ok() {
            continue;
        }
        let obj = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}
        });
        match store.create(&api::resources::NAMESPACES, obj).await {
            Ok(_) | Err(store::Error::AlreadyExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Binds, writes the kubeconfig, and serves in the background.
pub async fn serve(config: ServerConfig) -> Result<ServerHandle, Error> {
    bootstrap(&config.store).await?;
    // Registered once per registry; a second server on the same registry
    // (tests) finds them already there.
    let _ = crate::metrics::register(&config.metrics);
    let listener = TcpListener::bind(SocketAddr::new(config.address, config.port)).await?;
    let addr = listener.local_addr()?;
    let host = addr.ip().to_string();
    let creds = crate::tls::load_or_create(&config.data_dir, std::slice::from_ref(&host))?;
    let url_host = if addr.ip().is_ipv6() {
        format!("[{host}]")
    } else {
        host.clone()
    };
    let server_url = format!("https://{url_host}:{}", addr.port());
    let kubeconfig = crate::tls::write_kubeconfig(&config.data_dir, &server_url, &creds)?;
    let state = Arc::new(AppState {
        store: config.store,
        token: creds.token.clone(),
        logs: config.logs,
        streams: config.streams,
        server_address: format!("{url_host}:{}", addr.port()),
        metrics: config.metrics,
        usage: config.usage,
        data_dir: config.data_dir,
    });
    let api = ApiHandle {
        state: state.clone(),
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(creds.server_config.clone());
    let client_verifier = creds.client_verifier.clone();
    let task = tokio::spawn(async move {
        loop {
            let (tcp, _) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            // A fixed send buffer instead of the kernel's autotuning (up to
            // tcp_wmem's 4 MiB): it bounds what a client that stopped
            // reading pins in the kernel, and lets a stuck watch reach its
            // full body queue, and its cut-off (watch.rs), after a bounded
            // backlog. Loopback and LAN clients need no more than this.
            let _ = socket2::SockRef::from(&tcp).set_send_buffer_size(SEND_BUFFER);
            let acceptor = acceptor.clone();
            let state = state.clone();
            let client_verifier = client_verifier.clone();
            tokio::spawn(async move {
                if plain_http(&tcp).await {
                    use tokio::io::AsyncWriteExt;
                    let mut tcp = tcp;
                    let _ = tcp.write_all(crate::tls::PLAIN_HTTP_ANSWER).await;
                    let _ = tcp.shutdown().await;
                    return;
                }
                let tls = match acceptor.accept(tcp).await {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::debug!("tls handshake: {e}");
                        return;
                    }
                };
                let verified = ClientCertVerified(crate::tls::client_cert_verified(
                    client_verifier.as_ref(),
                    tls.get_ref().1.peer_certificates(),
                ));
                let close = tokio_util::sync::CancellationToken::new();
                let close_ext = crate::watch::CloseConnection(close.clone());
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let state = state.clone();
                        let close_ext = close_ext.clone();
                        async move {
                            let mut req = req.map(axum::body::Body::new);
                            req.extensions_mut().insert(verified);
                            req.extensions_mut().insert(close_ext);
                            Ok::<_, Infallible>(
                                crate::metrics::instrument(req, |req| handler::handle(state, req))
                                    .await,
                            )
                        }
                    });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                tokio::select! {
                    r = conn => {
                        if let Err(e) = r {
                            tracing::debug!("connection: {e}");
                        }
                    }
                    // A watch whose client stopped reading (watch.rs):
                    // dropping the connection closes the socket.
                    _ = close.cancelled() => {}
                }
            });
        }
    });
    Ok(ServerHandle {
        addr,
        kubeconfig,
        task,
        api,
        browser_tls: creds.browser_config.clone(),
    })
}

/// Whether a connection's first bytes are a plain HTTP request rather than
/// a TLS handshake (Go's check: the first five bytes, `tls.go`'s
/// `RecordHeaderError`). Waits for them at most 10 s; a TLS client's first
/// byte (0x16) settles it at once.
async fn plain_http(tcp: &tokio::net::TcpStream) -> bool {
    let mut head = [0u8; 5];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let n = match tokio::time::timeout_at(deadline, tcp.peek(&mut head)).await {
            Ok(Ok(n)) => n,
            _ => return false,
        };
        if n == 0 || head[0] == 0x16 {
            return false;
        }
        if n == head.len() {
            return crate::tls::looks_like_http(&head);
        }
        // Fewer bytes so far: wait for more to arrive.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
