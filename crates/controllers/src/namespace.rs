//! The namespace controller (upstream `pkg/controller/namespace/deletion/namespaced_resources_deleter.go`).
//!
//! A namespace being deleted keeps its `kubernetes` spec finalizer while it
//! still holds objects. The controller deletes everything in it (Jobs with
//! Background propagation, so the garbage collector and the Job controller
//! release their pods), waits until the store holds nothing in the
//! namespace any more (pods may need their grace period and their
//! finalizers removed), then drops the finalizer, which removes the
//! namespace.

use std::sync::Arc;
use std::time::Duration;

use api::resources::{ResourceInfo, NAMESPACES};
use serde_json::Value;
use store::{DeleteOptions, EventType, Propagation, Store, Stored};
use tokio::task::JoinHandle;

use crate::kit::informer::{self, Handler};
use crate::kit::objects::Meta;
use crate::kit::queue::WorkQueue;
use crate::Result;

/// How often a terminating namespace is re-checked while content remains.
const RECHECK: Duration = Duration::from_millis(250);

struct Ns {
    store: Store,
    queue: WorkQueue<String>,
}

struct NsHandler(Arc<Ns>);

impl Handler for NsHandler {
    fn apply(&self, kind: EventType, object: &Stored) {
        if let Some(m) = Meta::of(object) {
            // A namespace removed outright still has its content purged.
            if kind == EventType::Deleted || m.deletion_timestamp.is_some() {
                self.0.queue.add(m.name);
            }
        }
    }

    fn replace(&self, items: &mut dyn Iterator<Item = Stored>) {
        for s in items {
            self.apply(EventType::Added, &s);
        }
    }
}

fn namespaced() -> impl Iterator<Item = &'static ResourceInfo> {
    api::resources::ALL.iter().copied().filter(|r| r.namespaced)
}

impl Ns {
    /// Returns true when the namespace is done (gone and empty, or not terminating).
    async fn process(&self, name: &str) -> Result<bool> {
        let exists = match self.store.get(&NAMESPACES, "", name) {
            Ok(s) => {
                let Some(m) = Meta::of(&s) else {
                    return Ok(true);
                };
                if m.deletion_timestamp.is_none() {
                    return Ok(true);
                }
                true
            }
            Err(_) => false,
        };
        if !self.delete_content(name).await? {
            return Ok(false);
        }
        if !exists {
            return Ok(true);
        }
        self.finalize(name).await
    }

    /// Deletes everything in the namespace; true when nothing is left.
    async fn delete_content(&self, name: &str) -> Result<bool> {
        let mut remaining = 0usize;
        for r in namespaced() {
            let list = self.store.list(r, Some(name));
            for item in &list.items {
                remaining += 1;
                let Some(im) = Meta::of(item) else {
                    continue;
                };
                if im.deletion_timestamp.is_some() {
                    continue;
                }
                let opts = DeleteOptions {
                    propagation: Some(Propagation::Background),
                    precondition_uid: Some(im.uid.clone()),
                    ..Default::default()
                };
                match self.store.delete(r, name, &im.name, opts).await {
                    Ok(_) | Err(store::Error::NotFound(_)) | Err(store::Error::Precondition(_)) => {
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(remaining == 0 || namespaced().all(|r| self.store.list(r, Some(name)).items.is_empty()))
    }

    /// Drops the `kubernetes` spec finalizer, which lets the store remove the namespace.
    async fn finalize(&self, name: &str) -> Result<bool> {
        let r = self
            .store
            .modify(&NAMESPACES, "", name, |mut v| {
                let Some(fs) = v
                    .pointer_mut("/spec/finalizers")
                    .and_then(Value::as_array_mut)
                else {
                    return Ok(None);
                };
                let before = fs.len();
                fs.retain(|f| f != "kubernetes");
                if fs.len() == before {
                    return Ok(None);
                }
                Ok(Some(v))
            })
            .await;
        match r {
            Ok(_) | Err(store::Error::NotFound(_)) => Ok(true),
            Err(e) => Err(e.into()),
        }
    }
}

/// Starts the namespace controller.
pub(crate) fn start(store: Store) -> Result<Vec<JoinHandle<()>>> {
    let ns = Arc::new(Ns {
        store,
        queue: WorkQueue::new(Duration::from_millis(250), Duration::from_secs(10)),
    });
    let mut handles = vec![informer::start(
        &ns.store,
        &NAMESPACES,
        Arc::new(NsHandler(ns.clone())),
    )?];
    let w = ns.clone();
    handles.push(tokio::spawn(async move {
        loop {
            let name = w.queue.get().await;
            match w.process(&name).await {
                Ok(true) => w.queue.forget(&name),
                Ok(false) => w.queue.add_after(name.clone(), RECHECK),
                Err(_) => w.queue.add_rate_limited(name.clone()),
            }
            w.queue.done(&name);
        }
    }));
    Ok(handles)
}
