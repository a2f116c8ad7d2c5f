//! MemQ: kuard's in-memory work queue, server and client.
//!
//! The server API (under `/memq/server`) and its wire details follow
//! `pkg/memq/server` as the reference describes it: JSON bodies written as
//! Go's `json.Encoder` writes them (trailing newline, `<>&` escaped), the
//! no-cache headers, `http.Error` text errors with status 400, 204 for an
//! empty dequeue, at-most-once delivery and no persistence.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::Router;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Message {
    kind: &'static str,
    id: String,
    body: String,
    creation_timestamp: String,
}

#[derive(Default)]
struct Queue {
    messages: VecDeque<Message>,
    enqueued: u64,
    dequeued: u64,
    drained: u64,
}

/// The broker: queues by name.
#[derive(Clone, Default)]
pub(crate) struct Broker {
    queues: Arc<Mutex<HashMap<String, Queue>>>,
}

fn random_id() -> String {
    use std::io::Read;
    let mut b = [0u8; 16];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        b = t.to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A body as Go's `json.Encoder` writes it.
fn go_json(v: &impl Serialize) -> Response {
    let mut s = serde_json::to_string(v).unwrap_or_default();
    s = s
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    s.push('\n');
    let mut r = s.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::EXPIRES,
        HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 UTC"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private, max-age=0"),
    );
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// Go's `http.Error(w, msg, 400)`.
fn go_error(msg: &str) -> Response {
    let mut r = (StatusCode::BAD_REQUEST, format!("{msg}\n")).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn ok_empty() -> Response {
    StatusCode::OK.into_response()
}

async fn stats(State(b): State<Broker>) -> Response {
    #[derive(Serialize)]
    struct QueueStats {
        name: String,
        depth: usize,
        enqueued: u64,
        dequeued: u64,
        drained: u64,
    }
    #[derive(Serialize)]
    struct Stats {
        kind: &'static str,
        queues: Vec<QueueStats>,
    }
    let qs = b.queues.lock().unwrap();
    let queues = qs
        .iter()
        .map(|(name, q)| QueueStats {
            name: name.clone(),
            depth: q.messages.len(),
            enqueued: q.enqueued,
            dequeued: q.dequeued,
            drained: q.drained,
        })
        .collect();
    go_json(&Stats {
        kind: "stats",
        queues,
    })
}

async fn create_queue(State(b): State<Broker>, Path(q): Path<String>) -> Response {
    let mut qs = b.queues.lock().unwrap();
    if qs.contains_key(&q) {
        return go_error("already exists");
    }
    qs.insert(q, Queue::default());
    ok_empty()
}

async fn delete_queue(State(b): State<Broker>, Path(q): Path<String>) -> Response {
    match b.queues.lock().unwrap().remove(&q) {
        Some(_) => ok_empty(),
        None => go_error("does not exist"),
    }
}

async fn drain(State(b): State<Broker>, Path(q): Path<String>) -> Response {
    let mut qs = b.queues.lock().unwrap();
    let Some(queue) = qs.get_mut(&q) else {
        return go_error("does not exist");
    };
    queue.drained += queue.messages.len() as u64;
    queue.messages.clear();
    ok_empty()
}

async fn enqueue(State(b): State<Broker>, Path(q): Path<String>, body: Bytes) -> Response {
    let mut qs = b.queues.lock().unwrap();
    let Some(queue) = qs.get_mut(&q) else {
        return go_error("does not exist");
    };
    let m = Message {
        kind: "message",
        id: random_id(),
        body: String::from_utf8_lossy(&body).into_owned(),
        creation_timestamp: chrono::Local::now()
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    };
    queue.messages.push_back(m.clone());
    queue.enqueued += 1;
    go_json(&m)
}

async fn dequeue(State(b): State<Broker>, Path(q): Path<String>) -> Response {
    let mut qs = b.queues.lock().unwrap();
    let Some(queue) = qs.get_mut(&q) else {
        return go_error("does not exist");
    };
    match queue.messages.pop_front() {
        Some(m) => {
            queue.dequeued += 1;
            go_json(&m)
        }
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

/// The MemQ server routes, to nest under `/memq/server`.
pub(crate) fn router(broker: Broker) -> Router {
    Router::new()
        .route("/stats", axum::routing::get(stats))
        .route("/queues/{queue}", put(create_queue).delete(delete_queue))
        .route("/queues/{queue}/drain", post(drain))
        .route("/queues/{queue}/enqueue", post(enqueue))
        .route("/queues/{queue}/dequeue", post(dequeue))
        .with_state(broker)
}

/// The consumer side (`pkg/memq/client`), over a plain HTTP/1.1 request:
/// one POST with no body, so a full client library is not needed.
pub(crate) mod client {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;

    /// `Dequeue`: `Ok(None)` on 204 (empty), `Err` on transport errors
    /// and on any status ≥ 300 (`HTTP Error: <status>`).
    pub(crate) fn dequeue(server: &str, queue: &str) -> Result<Option<String>, String> {
        let url = format!("{}/queues/{queue}/dequeue", server.trim_end_matches('/'));
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("unsupported protocol scheme in {url:?}"))?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let addr = if hostport.contains(':') {
            hostport.to_string()
        } else {
            format!("{hostport}:80")
        };
        let err = |e: std::io::Error| format!("Post {url:?}: {e}");
        let sock = addr
            .to_socket_addrs()
            .map_err(|e| format!("Post {url:?}: dial tcp: lookup {hostport}: {e}"))?
            .next()
            .ok_or_else(|| format!("Post {url:?}: dial tcp: lookup {hostport}: no such host"))?;
        let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(10)).map_err(err)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(err)?;
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .map_err(err)?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).map_err(err)?;
        let text = String::from_utf8_lossy(&resp);
        let line = text.lines().next().unwrap_or("");
        let status_text = line.split_once(' ').map(|(_, s)| s.trim()).unwrap_or("");
        let status: u16 = status_text
            .split_whitespace()
            .next()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("Post {url:?}: malformed HTTP response"))?;
        if status == 204 {
            return Ok(None);
        }
        if status >= 300 {
            return Err(format!("HTTP Error: {status_text}"));
        }
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        Ok(Some(body.to_string()))
    }
}
