//! Watch responses reach the page in batches.
//!
//! A Job with thousands of pods changes its status many times a second,
//! and a watch sends each change as its own chunk. In a browser every
//! chunk costs a trip through the network service, an IPC to the page and
//! a promise turn, far more than the few kilobytes of JSON in it: the
//! browser, not the engine, was most of what a watching page cost. The
//! proxy therefore gathers what a watch sends for up to [`WINDOW`] and
//! passes it on as one chunk. Every event still arrives, whole and in
//! order; only the chunking (which carries no meaning) changes.

use std::time::Duration;

use axum::body::Body;
use bytes::BytesMut;
use futures::StreamExt;
use http::Request;

/// How long a watch's output gathers before it goes to the page.
const WINDOW: Duration = Duration::from_millis(250);

/// Whether `req` asks for a watch, by the API's own rule.
pub(crate) fn is_watch<B>(req: &Request<B>) -> bool {
    apiserver::is_watch(req.uri().query())
}

/// `body`, rechunked: each chunk holds what arrived within [`WINDOW`] of
/// the first byte after the previous chunk.
pub(crate) fn batched(body: Body) -> Body {
    let stream = body.into_data_stream();
    let s = futures::stream::unfold(Some(stream), |stream| async move {
        let mut stream = stream?;
        let mut buf = match stream.next().await? {
            Ok(first) => BytesMut::from(&first[..]),
            Err(e) => return Some((Err(e), None)),
        };
        let deadline = tokio::time::Instant::now() + WINDOW;
        loop {
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(Ok(more))) => buf.extend_from_slice(&more),
                // Ended (or failed): pass on what was gathered, then end.
                Ok(Some(Err(_)) | None) => return Some((Ok(buf.freeze()), None)),
                Err(_) => return Some((Ok(buf.freeze()), Some(stream))),
            }
        }
    });
    Body::from_stream(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_requests_are_told_apart() {
        let r = |uri: &str| Request::get(uri).body(()).unwrap();
        assert!(is_watch(&r(
            "/apis/batch/v1/jobs?watch=1&resourceVersion=5"
        )));
        assert!(is_watch(&r("/api/v1/events?fieldSelector=x&watch=true")));
        assert!(!is_watch(&r("/apis/batch/v1/jobs?limit=500")));
        assert!(!is_watch(&r("/apis/batch/v1/jobs?watch=0")));
        assert!(is_watch(&r("/apis/batch/v1/jobs?watch=True")));
    }

    #[tokio::test]
    async fn chunks_within_the_window_become_one_and_nothing_is_lost() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<bytes::Bytes, std::io::Error>>();
        let body = batched(Body::from_stream(rx));
        let mut frames = body.into_data_stream();
        tx.unbounded_send(Ok("a\n".into())).unwrap();
        tx.unbounded_send(Ok("b\n".into())).unwrap();
        let first = frames.next().await.unwrap().unwrap();
        assert_eq!(&first[..], b"a\nb\n");
        tx.unbounded_send(Ok("c\n".into())).unwrap();
        drop(tx);
        let rest = frames.next().await.unwrap().unwrap();
        assert_eq!(&rest[..], b"c\n");
        assert!(frames.next().await.is_none());
    }
}
