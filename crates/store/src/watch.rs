//! Watch fan-out.
//!
//! The writer publishes each committed change to the hub while holding the
//! hub lock, and a watcher registers under the same lock after reading the
//! head revision, so a watcher sees every change after that revision on its
//! channel; anything between its starting revision and the head is replayed
//! from the log. That is what makes list-then-watch gapless.
//!
//! Channels are bounded: a watcher that falls that far behind is dropped and
//! its stream ends, as kube-apiserver drops slow watchers; clients resume
//! from the last revision they saw.

use std::collections::VecDeque;
use std::sync::Arc;

use api::resources::ResourceInfo;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::{Error, Inner, Key, Result, Stored};
use api::strategy::Object;

/// Capacity of one watcher's queue.
const WATCH_QUEUE: usize = 1 << 16;

/// Kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// The watch-protocol name (`ADDED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change. Every watcher gets the same `Arc<Event>`, so the
/// object's bytes and its decoded form exist once however many watch.
#[derive(Debug, Clone)]
pub struct Event {
    pub rev: u64,
    pub kind: EventType,
    pub key: Key,
    /// The object after the change (for deletes: as deleted, with the new revision).
    pub object: Bytes,
    /// `object` decoded, shared by every watcher (and by the store's state
    /// where the kind is cached decoded); `None` for changes replayed from
    /// the log.
    pub decoded: Option<Arc<dyn Object>>,
    /// The object before the change, when there was one.
    pub prev: Option<Bytes>,
}

impl Event {
    /// The object after the change as a [`Stored`] (shared, not copied).
    pub fn stored(&self) -> Stored {
        Stored {
            rev: self.rev,
            bytes: self.object.clone(),
            object: self.decoded.clone(),
        }
    }
}

struct Watcher {
    resource: &'static str,
    namespace: Option<String>,
    tx: mpsc::Sender<Arc<Event>>,
}

#[derive(Default)]
pub(crate) struct Hub {
    watchers: Mutex<Vec<Watcher>>,
}

impl Hub {
    /// Runs `f` (which updates the in-memory state) and delivers `events`
    /// under the hub lock, so registration and publication never interleave.
    pub(crate) fn publish_with(&self, events: Vec<Arc<Event>>, f: impl FnOnce()) {
        let mut watchers = self.watchers.lock();
        f();
        if events.is_empty() {
            return;
        }
        watchers.retain(|w| {
            for e in &events {
                if e.key.resource != w.resource {
                    continue;
                }
                if let Some(ns) = &w.namespace {
                    if &e.key.namespace != ns {
                        continue;
                    }
                }
                if w.tx.try_send(e.clone()).is_err() {
                    // Closed, or too far behind: drop it; its stream ends.
                    return false;
                }
            }
            true
        });
    }
}

/// A stream of changes, in revision order.
pub struct WatchStream {
    history: VecDeque<Arc<Event>>,
    rx: mpsc::Receiver<Arc<Event>>,
    inner: Arc<Inner>,
    last: u64,
}

impl WatchStream {
    /// The next change; `None` when the stream ended (store closed, or the
    /// watcher fell too far behind and must resume from `last_revision`).
    pub async fn next(&mut self) -> Option<Arc<Event>> {
        loop {
            let e = match self.history.pop_front() {
                Some(e) => e,
                None => self.rx.recv().await?,
            };
            // A watch from a revision ahead of the head skips up to it.
            if e.rev <= self.last {
                continue;
            }
            self.last = e.rev;
            return Some(e);
        }
    }

    /// The revision of the last change delivered (or the start revision).
    pub fn last_revision(&self) -> u64 {
        self.last
    }

    /// A revision safe to report in a bookmark: the head revision when no
    /// change is pending for this watcher, so nothing at or below it can
    /// still arrive. `None` while changes are queued.
    pub fn bookmark(&mut self) -> Option<u64> {
        if !self.history.is_empty() {
            return None;
        }
        let head = {
            let _w = self.inner.hub.watchers.lock();
            self.inner.state.read().rev
        };
        if self.rx.is_empty() {
            self.last = self.last.max(head);
            Some(self.last)
        } else {
            None
        }
    }
}

pub(crate) fn start(
    inner: &Arc<Inner>,
    resource: &ResourceInfo,
    namespace: Option<&str>,
    from: u64,
) -> Result<WatchStream> {
    let (tx, rx) = mpsc::channel(WATCH_QUEUE);
    let namespace = if resource.namespaced {
        namespace.map(str::to_string)
    } else {
        None
    };
    let head = {
        let mut watchers = inner.hub.watchers.lock();
        let state = inner.state.read();
        if from < state.compacted {
            return Err(Error::Expired {
                requested: from,
                oldest: state.compacted,
            });
        }
        watchers.push(Watcher {
            resource: resource.plural,
            namespace: namespace.clone(),
            tx,
        });
        state.rev
    };
    let history = if from < head {
        inner
            .readers
            .history(resource.plural, namespace.as_deref(), from, head)?
            .into_iter()
            .map(Arc::new)
            .collect()
    } else {
        VecDeque::new()
    };
    Ok(WatchStream {
        history,
        rx,
        inner: inner.clone(),
        last: from,
    })
}
