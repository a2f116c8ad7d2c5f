//! SPDY/3.1, the server side, as far as Kubernetes clients use it.
//!
//! kubectl (through client-go and moby/spdystream) speaks SPDY for exec and
//! attach before 1.30 and as the fallback after, and for port-forward
//! either directly or inside a WebSocket (1.31+). No maintained Rust SPDY
//! crate exists, so this is our own minimal implementation, as strategic
//! merge patch is: `frame.rs` has the wire format and the zlib header
//! blocks (through `flate2`), `conn.rs` the connection — streams the peer
//! opens, replies, data, half-close, resets, pings, GOAWAY and flow
//! control.

pub(crate) mod conn;
pub(crate) mod frame;

pub(crate) use conn::{serve, Stream};
