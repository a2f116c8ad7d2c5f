//! Watch-driven caches ("informers").
//!
//! A reflector lists a resource once, then follows the store's watch from
//! exactly that revision, so the cache never misses or reorders a change.
//! When the watch ends (the store dropped a slow watcher) it resumes from
//! the last revision it saw; when that revision was compacted away it lists
//! again and the handler reconciles its cache against the fresh list.
//! Same contract as client-go's `Reflector` + `SharedInformer`.

use std::sync::Arc;
use std::time::Duration;

use api::resources::ResourceInfo;
use bytes::Bytes;
use store::{EventType, Store, Stored};
use tokio::task::JoinHandle;

/// Receives the changes of one resource, in revision order.
pub trait Handler: Send + Sync + 'static {
    /// One change. For `Deleted`, `object` is the object as deleted.
    fn apply(&self, kind: EventType, object: &Bytes, rev: u64);
    /// A full list: everything not in `items` is gone.
    fn replace(&self, items: &[Stored]);
}

/// Lists `resource` into `handler` (so the cache is synced when this
/// returns) and spawns the task that follows the watch.
pub fn start(
    store: &Store,
    resource: &'static ResourceInfo,
    handler: Arc<dyn Handler>,
) -> Result<JoinHandle<()>, store::Error> {
    let (list, mut stream) = store.list_and_watch(resource, None)?;
    handler.replace(&list.items);
    let store = store.clone();
    Ok(tokio::spawn(async move {
        loop {
            while let Some(ev) = stream.next().await {
                handler.apply(ev.kind, &ev.object, ev.rev);
            }
            let from = stream.last_revision();
            stream = loop {
                match store.watch(resource, None, from) {
                    Ok(s) => break s,
                    Err(store::Error::Expired { .. }) => {
                        match store.list_and_watch(resource, None) {
                            Ok((list, s)) => {
                                handler.replace(&list.items);
                                break s;
                            }
                            Err(e) => {
                                tracing::warn!(resource = resource.plural, error = %e, "relist failed");
                            }
                        }
                    }
                    Err(store::Error::Closed) => return,
                    Err(e) => {
                        tracing::warn!(resource = resource.plural, error = %e, "watch failed");
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
        }
    }))
}
