//! exec and attach: open the session on the node, then upgrade to the
//! transport the client asked for and carry the session over it.

use std::sync::Arc;
use std::time::Duration;

use api::streams::{Input, Outcome, Output, StreamOptions, TerminalSize};
use axum::body::Body;
use http::header::HeaderName;
use http::{HeaderMap, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::{websocket, Kind, Refusal, Session, Transport};
use crate::respond::{self, Resp};
use crate::{spdy, AppState};

async fn open(
    state: &AppState,
    kind: Kind,
    pod: &Value,
    container: &str,
    opts: &StreamOptions,
) -> Result<Session, Refusal> {
    match kind {
        Kind::Attach => state.streams.attach(pod, container, opts).await,
        _ => state.streams.exec(pod, container, opts).await,
    }
}

/// Serves an exec or attach whose options are valid.
pub(super) async fn serve(
    state: &Arc<AppState>,
    transport: Transport,
    kind: Kind,
    pod: Value,
    container: String,
    opts: StreamOptions,
    mut req: Request<Body>,
) -> Resp {
    match transport {
        Transport::WebSocket => {
            let mut allowed = websocket::CHANNEL_PROTOCOLS.to_vec();
            allowed.push("");
            let protocol = match websocket::negotiate(req.headers(), &allowed) {
                Ok(p) => p,
                Err(e) => return respond::error(&e),
            };
            let response = match websocket::handshake(req.headers(), &protocol) {
                Ok(r) => r,
                Err(e) => return respond::error(&e),
            };
            let session = match open(state, kind, &pod, &container, &opts).await {
                Ok(s) => s,
                Err(r) => return r.response(),
            };
            let on_upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                match on_upgrade.await {
                    Ok(upgraded) => {
                        let ws = websocket::server(upgraded).await;
                        websocket::bridge_channels(ws, protocol, opts, session).await;
                    }
                    Err(e) => tracing::debug!("exec upgrade: {e}"),
                }
            });
            response
        }
        Transport::Spdy => {
            let protocol = match negotiate_spdy(req.headers(), SPDY_PROTOCOLS) {
                Ok(p) => p,
                Err(r) => return *r,
            };
            let session = match open(state, kind, &pod, &container, &opts).await {
                Ok(s) => s,
                Err(r) => return r.response(),
            };
            let on_upgrade = hyper::upgrade::on(&mut req);
            let resp = spdy_switching(&protocol);
            tokio::spawn(async move {
                match on_upgrade.await {
                    Ok(upgraded) => {
                        bridge_spdy(TokioIo::new(upgraded), protocol, opts, session).await
                    }
                    Err(e) => tracing::debug!("exec upgrade: {e}"),
                }
            });
            resp
        }
    }
}

/// The remote-command protocols over SPDY, as the kubelet serves them
/// (`v5` is WebSocket-only: SPDY has its own half-close).
const SPDY_PROTOCOLS: &[&str] = &[
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
];

/// How long a client has to open its streams (the kubelet's
/// `streamCreationTimeout`).
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a finished session waits for the client to hang up.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// `httpstream.Handshake`: the first protocol in the client's
/// `X-Stream-Protocol-Version` headers that the server has; a client that
/// names none gets the oldest protocol (`""`); no overlap is a 403 that
/// lists what the server accepts.
pub(super) fn negotiate_spdy(headers: &HeaderMap, allowed: &[&str]) -> Result<String, Box<Resp>> {
    let offered: Vec<String> =
        super::header_tokens(headers, HeaderName::from_static(PROTOCOL_HEADER)).collect();
    if offered.is_empty() {
        return Ok(String::new());
    }
    if let Some(p) = offered.iter().find(|p| allowed.contains(&p.as_str())) {
        return Ok(p.clone());
    }
    let mut r = respond::bytes(
        StatusCode::FORBIDDEN,
        "text/plain; charset=utf-8",
        format!(
            "unable to upgrade: unable to negotiate protocol: client supports [{}], server accepts [{}]\n",
            offered.join(" "),
            allowed.join(" ")
        )
        .into_bytes(),
    );
    for a in allowed {
        if let Ok(v) = http::HeaderValue::from_str(a) {
            r.headers_mut().append(
                HeaderName::from_static("x-accepted-stream-protocol-versions"),
                v,
            );
        }
    }
    Err(Box::new(r))
}

/// The header that carries stream protocol versions.
pub(super) const PROTOCOL_HEADER: &str = "x-stream-protocol-version";

/// The `101` of a SPDY upgrade (`spdy.NewResponseUpgrader`).
pub(super) fn spdy_switching(protocol: &str) -> Resp {
    let mut headers = vec![
        (http::header::CONNECTION, "Upgrade".to_string()),
        (http::header::UPGRADE, "SPDY/3.1".to_string()),
    ];
    if !protocol.is_empty() {
        headers.push((
            HeaderName::from_static(PROTOCOL_HEADER),
            protocol.to_string(),
        ));
    }
    super::switching(&headers)
}

/// The streams a client opens for a session, by their `streamType`.
#[derive(Default)]
struct Streams {
    error: Option<spdy::Stream>,
    stdin: Option<spdy::Stream>,
    stdout: Option<spdy::Stream>,
    stderr: Option<spdy::Stream>,
    resize: Option<spdy::Stream>,
}

/// Carries a session over SPDY: the client opens one stream per channel
/// (`streamType` error, stdin, stdout, stderr, resize), as the kubelet's
/// `createHTTPStreamStreams` expects them.
async fn bridge_spdy<T>(io: T, protocol: String, opts: StreamOptions, session: Session)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (conn, mut incoming) = spdy::serve(io);
    let resizable = matches!(protocol.as_str(), "v4.channel.k8s.io" | "v3.channel.k8s.io");
    let expected = 1
        + usize::from(opts.stdin)
        + usize::from(opts.stdout)
        + usize::from(opts.stderr)
        + usize::from(opts.tty && resizable);
    let mut s = Streams::default();
    let mut received = 0;
    let gathered = tokio::time::timeout(STREAM_CREATION_TIMEOUT, async {
        while received < expected {
            let Some(stream) = incoming.recv().await else {
                return false;
            };
            let slot = match stream.header("streamtype") {
                Some("error") => &mut s.error,
                Some("stdin") => &mut s.stdin,
                Some("stdout") => &mut s.stdout,
                Some("stderr") => &mut s.stderr,
                Some("resize") => &mut s.resize,
                other => {
                    tracing::debug!("exec: unexpected stream type {other:?}");
                    stream.reset(crate::spdy::frame::rst::PROTOCOL_ERROR).await;
                    continue;
                }
            };
            stream.reply().await;
            *slot = Some(stream);
            received += 1;
        }
        true
    })
    .await;
    if gathered != Ok(true) {
        tracing::debug!("exec: the client did not open its streams");
        conn.finish(Duration::ZERO).await;
        return;
    }
    // Later streams (there should be none) are refused by the GOAWAY at
    // the end; until then they are ignored.
    let (input, mut output) = session;
    let mut pumps = Vec::new();
    if let Some(mut stdin) = s.stdin.take() {
        let input = input.clone();
        pumps.push(tokio::spawn(async move {
            while let Some(data) = stdin.read().await {
                if input.send(Input::Stdin(data.to_vec())).await.is_err() {
                    return;
                }
            }
            let _ = input.send(Input::StdinEof).await;
        }));
    }
    if let Some(mut resize) = s.resize.take() {
        let input = input.clone();
        pumps.push(tokio::spawn(async move {
            // A stream of JSON objects, one per resize.
            let mut buf: Vec<u8> = Vec::new();
            while let Some(data) = resize.read().await {
                buf.extend_from_slice(&data);
                let mut de = serde_json::Deserializer::from_slice(&buf).into_iter::<TerminalSize>();
                let mut used = 0;
                while let Some(Ok(size)) = de.next() {
                    used = de.byte_offset();
                    if input.send(Input::Resize(size)).await.is_err() {
                        return;
                    }
                }
                buf.drain(..used);
            }
        }));
    }
    // Held until the session ends: the node reads a closed input as the
    // client having left.
    let _input = input;
    let ended = loop {
        tokio::select! {
            out = output.recv() => match out {
                Some(Output::Stdout(d)) => {
                    if let Some(st) = &s.stdout { let _ = st.write(&d).await; }
                }
                Some(Output::Stderr(d)) => {
                    if let Some(st) = &s.stderr { let _ = st.write(&d).await; }
                }
                Some(Output::End(outcome)) => break Some(outcome),
                None => break Some(Outcome::Failed("lost the connection to the container".into())),
            },
            _ = conn.closed() => break None,
        }
    };
    for p in pumps {
        p.abort();
    }
    let Some(outcome) = ended else { return };
    for st in [&s.stdout, &s.stderr].into_iter().flatten() {
        st.close().await;
    }
    if let Some(err) = &s.error {
        let payload = if protocol == "v4.channel.k8s.io" {
            Some(
                serde_json::to_vec(&api::streams::outcome_status(&outcome, &opts.command))
                    .unwrap_or_default(),
            )
        } else {
            api::streams::outcome_text(&outcome, &opts.command).map(String::into_bytes)
        };
        if let Some(p) = payload {
            let _ = err.write(&p).await;
        }
        err.close().await;
    }
    conn.finish(CLOSE_WAIT).await;
}
