//! Watch-driven caches ("informers").
//!
//! A reflector lists a resource once, then follows the store's watch from
//! exactly that revision, so the cache never misses or reorders a change.
//! When the watch ends (the store dropped a slow watcher) it resumes from
//! the last revision it saw; when that revision was compacted away it lists
//! again and the handler reconciles its cache against the fresh list
//! (`store::Follower`, which the node agent follows pods with too).
//! Same contract as client-go's `Reflector` + `SharedInformer`.

use std::sync::Arc;

use api::resources::ResourceInfo;
use store::{Change, EventType, Follower, Store, Stored};
use tokio::task::JoinHandle;

/// Receives the changes of one resource, in revision order.
///
/// `object` is the store's shared version (its bytes and, when the store
/// has it, its decoded form): a handler builds its view from the decoded
/// object (`objects::Pod::of` and friends) and never parses it again.
pub(crate) trait Handler: Send + Sync + 'static {
    /// One change. For `Deleted`, `object` is the object as deleted.
    fn apply(&self, kind: EventType, object: &Stored);
    /// A full list: everything not in `items` is gone. Each item is
    /// unpacked as the handler reaches it (`store::Listing`), so a handler
    /// keeps its views, not every object's JSON at once.
    fn replace(&self, items: &mut dyn Iterator<Item = Stored>);
}

/// Lists `resource` into `handler` (so the cache is synced when this
/// returns) and spawns the task that follows the watch.
pub(crate) fn start(
    store: &Store,
    resource: &'static ResourceInfo,
    handler: Arc<dyn Handler>,
) -> Result<JoinHandle<()>, store::Error> {
    let (list, mut follower) = Follower::start(store, resource, None)?;
    handler.replace(&mut list.iter());
    Ok(tokio::spawn(async move {
        while let Some(change) = follower.next().await {
            match change {
                Change::Event(ev) => handler.apply(ev.kind, &ev.stored()),
                Change::Relisted(list) => handler.replace(&mut list.iter()),
            }
        }
    }))
}
