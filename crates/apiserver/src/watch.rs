//! Watch streams: newline-delimited JSON events, flushed one by one, with
//! selector transitions (an object that stops matching is DELETED for this
//! watcher), bookmarks, timeouts, Table rows for `kubectl get -w`, and 410
//! for compacted history (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/watch.go`).
//!
//! A client that stops reading is cut off, as kube-apiserver's cacher cuts
//! off a watcher whose buffer stays full ("Forcing ... watcher close due to
//! unresponsiveness", `staging/src/k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go`,
//! `cacheWatcher.add`): when a line waits longer than [`UNRESPONSIVE_AFTER`]
//! for room in the bounded body queue, the watch ends and, on HTTP/1.1, its
//! connection is closed. hyper stops polling a body while the socket is full,
//! so ending the body alone would leave the connection (and its buffered
//! lines) in place for as long as the client lingers. What a stuck watcher
//! holds is therefore bounded: [`BODY_QUEUE`] lines, hyper's write buffer and
//! the socket's, and the store's per-watcher queue for at most that long.

use std::sync::Arc;
use std::time::Duration;

use api::resources::ResourceInfo;
use api::status::ApiError;
use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

use crate::filter::Filter;
use crate::output;
use crate::query::Query;
use crate::respond::Resp;
use crate::AppState;

const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

/// Lines buffered between the watch task and the response body.
const BODY_QUEUE: usize = 64;

/// How long a line may wait for room in a full body queue before the
/// watcher counts as unresponsive and is cut off (upstream blocks only for
/// its dispatch budget, up to 100 ms, once its 2 × channel-size buffers are
/// full; the socket and body buffers here give a reading client far more
/// slack, so seconds are enough).
const UNRESPONSIVE_AFTER: Duration = Duration::from_secs(5);

/// Closes the connection a request came on: set by the listener on every
/// connection, and fired by a watch whose client stopped reading.
#[derive(Clone)]
pub(crate) struct CloseConnection(pub tokio_util::sync::CancellationToken);

/// Why a watch task stops sending.
enum Stop {
    /// The client went away (or the body was dropped).
    Gone,
    /// The client stopped reading.
    Unresponsive,
}

async fn deliver(tx: &tokio::sync::mpsc::Sender<Bytes>, line: Bytes) -> Result<(), Stop> {
    match tokio::time::timeout(UNRESPONSIVE_AFTER, tx.send(line)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Stop::Gone),
        Err(_) => Err(Stop::Unresponsive),
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({ "type": kind, "object": object })).expect("serializes");
    v.push(b'\n');
    Bytes::from(v)
}

pub(crate) fn serve(
    state: &Arc<AppState>,
    info: &'static ResourceInfo,
    ns: Option<&str>,
    query: &Query,
    accept: &str,
    close: Option<CloseConnection>,
) -> Result<Resp, ApiError> {
    let filter = Filter::from_query(info, query)?;
    let table = output::wants_table(accept);
    let include = output::include_object(query)?;
    let bookmarks = query.flag("allowWatchBookmarks");
    let timeout = query
        .int("timeoutSeconds")?
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64))
        // kube-apiserver closes watches after a random 30–60 minutes.
        .unwrap_or(Duration::from_secs(1800 + rand::random::<u64>() % 1800));
    let rv = query.get("resourceVersion").unwrap_or("");
    let send_initial = query.flag("sendInitialEvents");

    // Unset or "0": start with the current state as ADDED events.
    let (initial, mut stream) = if rv.is_empty() || rv == "0" || send_initial {
        let (list, stream) = state
            .store
            .list_and_watch(info, ns)
            .map_err(|e| crate::respond::store_error(e, info, ""))?;
        (Some(list), stream)
    } else {
        let from: u64 = rv
            .parse()
            .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv}")))?;
        match state.store.watch(info, ns, from) {
            Ok(s) => (None, s),
            Err(store::Error::Expired { requested, oldest }) => {
                // As an ERROR event in a 200 stream, the way clients expect it.
                let status = ApiError::too_old_resource_version(requested, oldest).to_status();
                let body = line("ERROR", &status);
                return Ok(stream_response(futures::stream::once(async move {
                    Ok::<_, std::io::Error>(body)
                })));
            }
            Err(e) => return Err(crate::respond::store_error(e, info, "")),
        }
    };

    let render = move |obj: &Value, first: &mut bool| -> Value {
        if table {
            let mut t = output::table(info, std::slice::from_ref(obj), include, 0, None);
            if let Some(o) = t.as_object_mut() {
                o.remove("metadata");
                if !*first {
                    o.insert("columnDefinitions".into(), Value::Null);
                }
            }
            *first = false;
            t
        } else {
            obj.clone()
        }
    };

    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(BODY_QUEUE);
    let resource = info.plural;
    tokio::spawn(async move {
        let run = async move {
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            let mut first = true;
            if let Some(list) = initial {
                for s in &list.items {
                    let v = s.value();
                    if filter.matches(info, &v) {
                        deliver(&tx, line("ADDED", &render(&v, &mut first))).await?;
                    }
                }
                if send_initial && bookmarks {
                    let mut b = bookmark(info, list.rev);
                    b["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
                    deliver(&tx, line("BOOKMARK", &b)).await?;
                }
            }
            let mut tick = tokio::time::interval(BOOKMARK_EVERY);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = &mut deadline => return Ok(()),
                    _ = tx.closed() => return Err(Stop::Gone),
                    _ = tick.tick(), if bookmarks => {
                        if let Some(rev) = stream.bookmark() {
                            deliver(&tx, line("BOOKMARK", &bookmark(info, rev))).await?;
                        }
                    }
                    ev = stream.next() => {
                        // The store's queue overflowed (or the store closed):
                        // the client resumes from the last revision it saw.
                        let Some(ev) = ev else { return Ok(()) };
                        let obj: Value = match serde_json::from_slice(&ev.object) {
                            Ok(v) => v,
                            Err(_) => continue,
                        };
                        let now = filter.matches(info, &obj);
                        let before = ev
                            .prev
                            .as_ref()
                            .and_then(|p| serde_json::from_slice::<Value>(p).ok())
                            .is_some_and(|p| filter.matches(info, &p));
                        let kind = match ev.kind {
                            store::EventType::Added if now => "ADDED",
                            store::EventType::Modified if now && before => "MODIFIED",
                            store::EventType::Modified if now => "ADDED",
                            store::EventType::Modified if before => "DELETED",
                            store::EventType::Deleted if now || before => "DELETED",
                            _ => continue,
                        };
                        deliver(&tx, line(kind, &render(&obj, &mut first))).await?;
                    }
                }
            }
        };
        if let Err(Stop::Unresponsive) = run.await {
            tracing::warn!(
                "Forcing {resource} watcher close due to unresponsiveness: \
                 {BODY_QUEUE} lines queued for {UNRESPONSIVE_AFTER:?}"
            );
            if let Some(c) = close {
                c.0.cancel();
            }
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
    });
    Ok(stream_response(body))
}

fn bookmark(info: &ResourceInfo, rev: u64) -> Value {
    json!({
        "kind": info.kind,
        "apiVersion": info.api_version(),
        "metadata": { "resourceVersion": rev.to_string() }
    })
}

fn stream_response<S>(s: S) -> Resp
where
    S: futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    let mut r = Response::new(axum::body::Body::from_stream(s));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    r
}
