//! `pods/portforward`: SPDY, either raw (kubectl before 1.31, and the
//! fallback) or tunnelled in a WebSocket with subprotocol
//! `SPDY/3.1+portforward.k8s.io` (kubectl 1.31+, KEP-4006). Either way the
//! client opens, per forwarded connection, an `error` and a `data` stream
//! that share a `requestID` and name the `port`; we connect to that port in
//! the pod and copy bytes until both sides are done
//! (`pkg/kubelet/cri/streaming/portforward/httpstream.go`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use http::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::remotecommand::{negotiate_spdy, spdy_switching};
use super::{websocket, PodStreams, Transport};
use crate::respond::{self, Resp};
use crate::spdy::{self, frame::rst};
use crate::AppState;

/// The port-forward protocol, over SPDY and in its WebSocket tunnel.
const PROTOCOL: &str = "portforward.k8s.io";
const TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

/// Serves a port-forward request for `pod`.
pub(super) fn serve(
    state: &Arc<AppState>,
    transport: Transport,
    pod: Value,
    _ports: Vec<u16>,
    mut req: Request<Body>,
) -> Resp {
    let streams = state.streams.clone();
    match transport {
        Transport::WebSocket => {
            let response = match websocket::negotiate(req.headers(), &[TUNNEL_PROTOCOL])
                .and_then(|p| websocket::handshake(req.headers(), &p))
            {
                Ok(r) => r,
                Err(e) => return respond::error(&e),
            };
            let on_upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                match on_upgrade.await {
                    Ok(upgraded) => {
                        let ws = websocket::server(upgraded).await;
                        forward(streams, pod, websocket::byte_tunnel(ws)).await;
                    }
                    Err(e) => tracing::debug!("port-forward upgrade: {e}"),
                }
            });
            response
        }
        Transport::Spdy => {
            let protocol = match negotiate_spdy(req.headers(), &[PROTOCOL]) {
                Ok(p) => p,
                Err(r) => return *r,
            };
            let on_upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                match on_upgrade.await {
                    Ok(upgraded) => forward(streams, pod, TokioIo::new(upgraded)).await,
                    Err(e) => tracing::debug!("port-forward upgrade: {e}"),
                }
            });
            spdy_switching(&protocol)
        }
    }
}

/// A forwarded connection's two streams, as they arrive.
#[derive(Default)]
struct Pair {
    data: Option<spdy::Stream>,
    error: Option<spdy::Stream>,
}

/// The request a stream belongs to: its `requestID`, or for clients too
/// old to send one, its stream id paired as the kubelet pairs them.
fn request_id(stream: &spdy::Stream, kind: &str) -> String {
    match stream.header("requestid") {
        Some(id) if !id.is_empty() => id.to_string(),
        _ if kind == "error" => stream.id.to_string(),
        _ => stream.id.saturating_sub(2).to_string(),
    }
}

async fn forward<T>(streams: Arc<dyn PodStreams>, pod: Value, io: T)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (conn, mut incoming) = spdy::serve(io);
    let pod = Arc::new(pod);
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    while let Some(stream) = incoming.recv().await {
        // The kubelet's `httpStreamReceived` checks.
        let port = stream
            .header("port")
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p > 0);
        let kind = stream.header("streamtype").unwrap_or("").to_string();
        let (Some(port), "error" | "data") = (port, kind.as_str()) else {
            stream.reset(rst::PROTOCOL_ERROR).await;
            continue;
        };
        stream.reply().await;
        let id = request_id(&stream, &kind);
        let pair = pairs.entry(id.clone()).or_default();
        let slot = if kind == "data" {
            &mut pair.data
        } else {
            &mut pair.error
        };
        if slot.is_some() {
            // "data stream already assigned": the duplicate is dropped.
            stream.reset(rst::PROTOCOL_ERROR).await;
            continue;
        }
        *slot = Some(stream);
        if pair.data.is_some() && pair.error.is_some() {
            let Pair { data, error } = pairs.remove(&id).unwrap_or_default();
            if let (Some(data), Some(error)) = (data, error) {
                tokio::spawn(copy(streams.clone(), pod.clone(), port, data, error));
            }
        }
    }
    conn.finish(std::time::Duration::ZERO).await;
}

/// Forwards one connection: the client's data stream to and from `port`.
async fn copy(
    streams: Arc<dyn PodStreams>,
    pod: Arc<Value>,
    port: u16,
    mut data: spdy::Stream,
    error: spdy::Stream,
) {
    match streams.port_forward(&pod, port).await {
        Ok(tunnel) => {
            let (mut rd, mut wr) = tokio::io::split(tunnel);
            let out = data.writer();
            let to_pod = async {
                while let Some(chunk) = data.read().await {
                    if wr.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
                let _ = wr.shutdown().await;
            };
            let from_pod = async {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if out.write(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                // The pod closed: so does the client's side.
                out.close().await;
            };
            tokio::join!(to_pod, from_pod);
        }
        Err(msg) => {
            let uid = pod
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .unwrap_or("");
            let text = format!("error forwarding port {port} to pod {uid}, uid : {msg}");
            let _ = error.write(text.as_bytes()).await;
            data.close().await;
        }
    }
    error.close().await;
}
