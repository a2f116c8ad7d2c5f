//! WebSocket transports: the `*.channel.k8s.io` channel protocols for exec
//! and attach, and a byte tunnel for SPDY-over-WebSocket port-forwarding.
//!
//! Channel framing (`apimachinery/pkg/util/remotecommand/constants.go`,
//! `apiserver/pkg/util/wsstream/conn.go`): each binary message is one byte
//! of channel id and the payload — 0 stdin, 1 stdout, 2 stderr, 3 error
//! (the ending `Status`, JSON from v4 on, text before), 4 resize (JSON
//! `TerminalSize`). v5 adds `[255, id]`, the half-close of one channel,
//! which is how kubectl says its stdin ended. A session ends with the
//! error-channel message and a normal (1000) close: client-go reads the
//! error channel to EOF, which only a clean close gives it.

use std::time::Duration;

use api::streams::{Input, Outcome, Output, StreamOptions, TerminalSize};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{header, HeaderMap};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{header_tokens, switching, Session};
use crate::respond::Resp;
use api::status::ApiError;

/// The channel protocols, newest first (`v5` has the close signal; `v4`
/// and newer carry a JSON `Status` on the error channel).
pub(super) const CHANNEL_PROTOCOLS: &[&str] = &[
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
];

/// How long a finished session waits for the client's side of the close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

pub(super) type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// Picks the first protocol the client offers that `allowed` has
/// (`wsstream` honours the client's order); a client that offers none
/// gets `""` if allowed.
pub(super) fn negotiate(headers: &HeaderMap, allowed: &[&str]) -> Result<String, ApiError> {
    let offered: Vec<String> = header_tokens(headers, header::SEC_WEBSOCKET_PROTOCOL).collect();
    if offered.is_empty() && allowed.contains(&"") {
        return Ok(String::new());
    }
    offered
        .iter()
        .find(|p| allowed.contains(&p.as_str()))
        .cloned()
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "requested protocol(s) are not supported: [{}]; supports [{}]",
                offered.join(" "),
                allowed.join(" ")
            ))
        })
}

/// The `101` that accepts a WebSocket (RFC 6455 §4.2.2) with `protocol`.
pub(super) fn handshake(headers: &HeaderMap, protocol: &str) -> Result<Resp, ApiError> {
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or_else(|| ApiError::BadRequest("missing Sec-WebSocket-Key".into()))?;
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v.as_bytes() != b"13")
    {
        return Err(ApiError::BadRequest(
            "unsupported Sec-WebSocket-Version (want 13)".into(),
        ));
    }
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut headers = vec![
        (header::UPGRADE, "websocket".to_string()),
        (header::CONNECTION, "Upgrade".to_string()),
        (header::SEC_WEBSOCKET_ACCEPT, accept),
    ];
    if !protocol.is_empty() {
        headers.push((header::SEC_WEBSOCKET_PROTOCOL, protocol.to_string()));
    }
    Ok(switching(&headers))
}

/// The server side of an upgraded connection.
pub(super) async fn server(upgraded: Upgraded) -> Ws {
    let config = WebSocketConfig::default().max_message_size(Some(64 << 20));
    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await
}

/// Carries a session over the channel protocol `protocol` until it ends or
/// the client leaves.
pub(super) async fn bridge_channels(
    mut ws: Ws,
    protocol: String,
    opts: StreamOptions,
    session: Session,
) {
    let v5 = protocol == "v5.channel.k8s.io";
    let json_status = v5 || protocol == "v4.channel.k8s.io";
    let (input, mut output) = session;
    let mut input = Some(input);
    // Upstream's first message: empty, on the lowest writable channel.
    let first = if opts.stdout {
        1
    } else if opts.stderr {
        2
    } else {
        3
    };
    if ws
        .send(Message::Binary(Bytes::from(vec![first])))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            msg = ws.next() => {
                let Some(Ok(msg)) = msg else { return };
                // Text frames carry the same channel framing (the Python
                // client sends strings as text; `wsstream` reads both).
                let msg = match msg {
                    Message::Text(t) => Message::Binary(Bytes::from(t.as_bytes().to_vec())),
                    other => other,
                };
                match msg {
                    Message::Binary(b) if !b.is_empty() => {
                        let Some(tx) = input.as_ref() else { continue };
                        let msg = match (b[0], v5) {
                            (0, _) if opts.stdin && b.len() > 1 => Input::Stdin(b[1..].to_vec()),
                            (4, _) => match serde_json::from_slice::<TerminalSize>(&b[1..]) {
                                Ok(size) => Input::Resize(size),
                                Err(_) => continue,
                            },
                            (255, true) if b.len() == 2 => {
                                if b[1] == 0 {
                                    Input::StdinEof
                                } else {
                                    continue;
                                }
                            }
                            // A malformed close signal ends the connection, as upstream.
                            (255, true) => return,
                            _ => continue,
                        };
                        if tx.send(msg).await.is_err() {
                            input = None;
                        }
                    }
                    Message::Close(_) => {
                        // Answer the client's close (queued by tungstenite).
                        let _ = ws.close(None).await;
                        return;
                    }
                    _ => {}
                }
            }
            out = output.recv() => {
                let (channel, data) = match out {
                    Some(Output::Stdout(d)) => (1u8, d),
                    Some(Output::Stderr(d)) => (2u8, d),
                    Some(Output::End(outcome)) => {
                        finish(&mut ws, &outcome, json_status, &opts.command).await;
                        return;
                    }
                    None => {
                        let lost = Outcome::Failed("lost the connection to the container".into());
                        finish(&mut ws, &lost, json_status, &opts.command).await;
                        return;
                    }
                };
                let mut msg = Vec::with_capacity(data.len() + 1);
                msg.push(channel);
                msg.extend_from_slice(&data);
                if ws.send(Message::Binary(msg.into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Writes the ending status and closes normally, then waits (briefly) for
/// the client's close so nothing it still has in flight is reset.
async fn finish(ws: &mut Ws, outcome: &Outcome, json_status: bool, command: &[String]) {
    let payload = if json_status {
        Some(
            serde_json::to_vec(&api::streams::outcome_status(outcome, command)).unwrap_or_default(),
        )
    } else {
        api::streams::outcome_text(outcome, command).map(String::into_bytes)
    };
    if let Some(p) = payload {
        let mut msg = Vec::with_capacity(p.len() + 1);
        msg.push(3u8);
        msg.extend_from_slice(&p);
        let _ = ws.send(Message::Binary(msg.into())).await;
    }
    let _ = ws
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        })))
        .await;
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// Turns a WebSocket whose binary messages carry a byte stream (client-go's
/// `TunnelingConnection`: each write one message) into that byte stream.
pub(super) fn byte_tunnel(ws: Ws) -> tokio::io::DuplexStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (ours, theirs) = tokio::io::duplex(256 * 1024);
    let (mut rd, mut wr) = tokio::io::split(ours);
    let (mut sink, mut stream) = ws.split();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            match msg {
                Message::Binary(b) if wr.write_all(&b).await.is_err() => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = wr.shutdown().await;
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if sink
                        .send(Message::Binary(Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            })))
            .await;
    });
    theirs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offering(p: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, p.parse().unwrap());
        h
    }

    #[test]
    fn the_clients_first_supported_protocol_wins() {
        assert_eq!(
            negotiate(
                &offering("v5.channel.k8s.io, v4.channel.k8s.io"),
                CHANNEL_PROTOCOLS
            )
            .unwrap(),
            "v5.channel.k8s.io"
        );
        assert_eq!(
            negotiate(
                &offering("base64.channel.k8s.io,v4.channel.k8s.io"),
                CHANNEL_PROTOCOLS
            )
            .unwrap(),
            "v4.channel.k8s.io"
        );
        assert!(negotiate(&offering("nope"), CHANNEL_PROTOCOLS).is_err());
        assert!(negotiate(&HeaderMap::new(), CHANNEL_PROTOCOLS).is_err());
        assert_eq!(negotiate(&HeaderMap::new(), &["x", ""]).unwrap(), "");
    }

    #[test]
    fn the_handshake_answers_the_key() {
        let mut h = HeaderMap::new();
        // RFC 6455 §1.3's example.
        h.insert(
            header::SEC_WEBSOCKET_KEY,
            "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap(),
        );
        h.insert(header::SEC_WEBSOCKET_VERSION, "13".parse().unwrap());
        let r = handshake(&h, "v5.channel.k8s.io").unwrap();
        assert_eq!(r.status(), 101);
        assert_eq!(
            r.headers()[header::SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            r.headers()[header::SEC_WEBSOCKET_PROTOCOL],
            "v5.channel.k8s.io"
        );
    }
}
