//! The streaming pod subresources: `pods/exec`, `pods/attach` and
//! `pods/portforward`.
//!
//! A request is checked as kube-apiserver checks it (the pod exists and is
//! on a node, the container is valid, at least one stream is asked for),
//! then the session is opened on the node ([`PodStreams`]), and only then
//! is the connection upgraded, so every refusal is an ordinary HTTP
//! response, the same for each transport. kubectl 1.30+ tries a WebSocket
//! first and retries over SPDY after any failed upgrade, so the user sees
//! the second answer: both must say the same thing.
//!
//! Transports:
//! - WebSocket with the `*.channel.k8s.io` subprotocols (`websocket.rs`):
//!   kubectl 1.30+, the Python client, kube-rs;
//! - SPDY/3.1 (`crate::spdy`): kubectl 1.29 and older, and every kubectl's
//!   fallback; for port-forward also tunnelled inside a WebSocket
//!   (`SPDY/3.1+portforward.k8s.io`, kubectl 1.31+).

mod portforward;
mod remotecommand;
mod websocket;

use std::sync::Arc;

use api::resources::PODS;
use api::status::ApiError;
use api::streams::{Input, Output, StreamOptions};
use axum::body::Body;
use futures::future::BoxFuture;
use http::{header, HeaderMap, Request, Response, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::query::Query;
use crate::request::ResourceRequest;
use crate::respond::{self, Resp};
use crate::AppState;

/// A running session: send input, receive output up to its `End`.
pub type Session = (mpsc::Sender<Input>, mpsc::Receiver<Output>);

/// A byte stream to a port in a pod.
pub trait Tunnel: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Tunnel for T {}

/// Why a session could not start.
#[derive(Debug)]
pub enum Refusal {
    /// A `Status` error.
    Api(ApiError),
    /// A plain-text error with an HTTP code, as the kubelet answers (e.g.
    /// 500 `container not found ("c")`; kubectl prints `unable to upgrade
    /// connection: ` before it).
    Text(u16, String),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Api(e)
    }
}

impl Refusal {
    fn response(&self) -> Resp {
        match self {
            Refusal::Api(e) => respond::error(e),
            Refusal::Text(code, text) => respond::bytes(
                StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "text/plain; charset=utf-8",
                text.clone().into_bytes(),
            ),
        }
    }
}

/// Where sessions come from (the node); the binary wires it.
pub trait PodStreams: Send + Sync {
    /// Starts `opts.command` in `container` of `pod`.
    fn exec<'a>(
        &'a self,
        pod: &'a Value,
        container: &'a str,
        opts: &'a StreamOptions,
    ) -> BoxFuture<'a, Result<Session, Refusal>>;
    /// Attaches to `container` of `pod`.
    fn attach<'a>(
        &'a self,
        pod: &'a Value,
        container: &'a str,
        opts: &'a StreamOptions,
    ) -> BoxFuture<'a, Result<Session, Refusal>>;
    /// Connects to `port` in `pod`; the error text goes to the client.
    fn port_forward<'a>(
        &'a self,
        pod: &'a Value,
        port: u16,
    ) -> BoxFuture<'a, Result<Box<dyn Tunnel>, String>>;
}

/// A server with no node: every stream is refused.
pub struct NoStreams;

impl PodStreams for NoStreams {
    fn exec<'a>(
        &'a self,
        _: &'a Value,
        c: &'a str,
        _: &'a StreamOptions,
    ) -> BoxFuture<'a, Result<Session, Refusal>> {
        Box::pin(async move { Err(Refusal::Text(500, format!("container not found ({c:?})"))) })
    }
    fn attach<'a>(
        &'a self,
        _: &'a Value,
        c: &'a str,
        _: &'a StreamOptions,
    ) -> BoxFuture<'a, Result<Session, Refusal>> {
        Box::pin(async move { Err(Refusal::Text(500, format!("container not found ({c:?})"))) })
    }
    fn port_forward<'a>(
        &'a self,
        _: &'a Value,
        _: u16,
    ) -> BoxFuture<'a, Result<Box<dyn Tunnel>, String>> {
        Box::pin(async { Err("no node serves this pod".to_string()) })
    }
}

/// Which streaming subresource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Exec,
    Attach,
    PortForward,
}

/// Whether a request is for a streaming subresource of a pod.
pub(crate) fn is_stream(r: &ResourceRequest) -> bool {
    std::ptr::eq(r.info, &PODS)
        && r.name.is_some()
        && matches!(
            r.subresource.as_deref(),
            Some("exec" | "attach" | "portforward")
        )
}

/// How the client asks to upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    WebSocket,
    Spdy,
}

fn header_tokens<'a>(
    headers: &'a HeaderMap,
    name: header::HeaderName,
) -> impl Iterator<Item = String> + 'a {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn transport(headers: &HeaderMap) -> Option<Transport> {
    let upgrading =
        header_tokens(headers, header::CONNECTION).any(|t| t.eq_ignore_ascii_case("upgrade"));
    if !upgrading {
        return None;
    }
    let mut upgrades = header_tokens(headers, header::UPGRADE);
    upgrades.find_map(|u| {
        if u.eq_ignore_ascii_case("websocket") {
            Some(Transport::WebSocket)
        } else if u.to_ascii_lowercase().starts_with("spdy/") {
            Some(Transport::Spdy)
        } else {
            None
        }
    })
}

/// Serves `GET|POST .../pods/{name}/{exec,attach,portforward}`.
pub(crate) async fn serve(
    state: &Arc<AppState>,
    r: ResourceRequest,
    req: Request<Body>,
) -> Result<Resp, ApiError> {
    let kind = match r.subresource.as_deref() {
        Some("exec") => Kind::Exec,
        Some("attach") => Kind::Attach,
        _ => Kind::PortForward,
    };
    if !matches!(req.method().as_str(), "GET" | "POST") {
        return Err(ApiError::MethodNotAllowed {
            group: String::new(),
            resource: "pods".into(),
            action: match req.method().as_str() {
                "PUT" => "update",
                "PATCH" => "patch",
                "DELETE" => "delete",
                m => m,
            }
            .to_lowercase(),
        });
    }
    let ns = r.namespace.as_deref().unwrap_or("");
    let name = r.name.as_deref().unwrap_or("");
    let pairs = Query::pairs(req.uri().query());
    let pod = state
        .store
        .get(&PODS, ns, name)
        .map_err(|e| respond::store_error(e, &PODS, name))?
        .value();
    match kind {
        Kind::Exec | Kind::Attach => {
            let mut opts = StreamOptions::from_pairs(&pairs);
            let container = api::streams::resolve_container(&pod, opts.container.as_deref())?;
            api::streams::require_node(&pod)?;
            opts.container = Some(container.clone());
            if kind == Kind::Attach {
                // The kubelet attaches with the container's own TTY setting.
                opts.tty = container_tty(&pod, &container);
                opts.command.clear();
            }
            opts.normalize()?;
            let Some(transport) = transport(req.headers()) else {
                return Err(ApiError::BadRequest("Upgrade request required".into()));
            };
            Ok(remotecommand::serve(state, transport, kind, pod, container, opts, req).await)
        }
        Kind::PortForward => {
            let ports = api::streams::forward_ports(&pairs)?;
            api::streams::require_node(&pod)?;
            let Some(transport) = transport(req.headers()) else {
                return Err(ApiError::BadRequest("Upgrade request required".into()));
            };
            Ok(portforward::serve(state, transport, pod, ports, req))
        }
    }
}

fn container_tty(pod: &Value, container: &str) -> bool {
    [
        "/spec/initContainers",
        "/spec/containers",
        "/spec/ephemeralContainers",
    ]
    .iter()
    .filter_map(|k| pod.pointer(k).and_then(Value::as_array))
    .flatten()
    .find(|c| c.get("name").and_then(Value::as_str) == Some(container))
    .and_then(|c| c.get("tty").and_then(Value::as_bool))
    .unwrap_or(false)
}

/// A `101 Switching Protocols` with `headers`.
fn switching(headers: &[(header::HeaderName, String)]) -> Resp {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for (k, v) in headers {
        if let Ok(v) = http::HeaderValue::from_str(v) {
            r.headers_mut().append(k.clone(), v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn transports_are_told_by_their_upgrade_headers() {
        assert_eq!(
            transport(&headers(&[
                ("connection", "Upgrade"),
                ("upgrade", "websocket")
            ])),
            Some(Transport::WebSocket)
        );
        assert_eq!(
            transport(&headers(&[
                ("connection", "keep-alive, upgrade"),
                ("upgrade", "SPDY/3.1")
            ])),
            Some(Transport::Spdy)
        );
        assert_eq!(transport(&headers(&[("upgrade", "websocket")])), None);
        assert_eq!(transport(&headers(&[])), None);
    }
}
