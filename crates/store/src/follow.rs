//! Following a resource: a list, then its watch, resumed whenever it ends.
//!
//! The store ends a watch whose watcher fell too far behind (as
//! kube-apiserver drops slow watchers). A follower resumes from the last
//! revision it delivered, so nothing is missed or repeated; when that
//! revision has been compacted away it lists again and hands the fresh list
//! to the caller to reconcile with (client-go's `Reflector` contract). The
//! controllers' informers and the node agent both follow this way.

use std::sync::Arc;
use std::time::Duration;

use api::resources::ResourceInfo;

use crate::{Error, Event, Listing, Result, Store, WatchStream};

/// How long a follower waits before retrying a watch that failed to start.
const RETRY: Duration = Duration::from_millis(200);

/// What a follower delivers next.
#[derive(Debug)]
pub enum Change {
    /// One committed change, in revision order.
    Event(Arc<Event>),
    /// History was compacted past the last delivered revision: this is the
    /// whole resource now; everything not in it is gone.
    Relisted(Listing),
}

/// A watch of one resource that resumes itself.
pub struct Follower {
    store: Store,
    resource: &'static ResourceInfo,
    namespace: Option<String>,
    stream: WatchStream,
}

impl Follower {
    /// Lists `resource` (in `namespace`, or everywhere) and follows it from
    /// exactly the listed revision.
    pub fn start(
        store: &Store,
        resource: &'static ResourceInfo,
        namespace: Option<&str>,
    ) -> Result<(Listing, Follower)> {
        let (list, stream) = store.listing_and_watch(resource, namespace)?;
        Ok((
            list,
            Follower {
                store: store.clone(),
                resource,
                namespace: namespace.map(str::to_string),
                stream,
            },
        ))
    }

    /// The next change; `None` once the store has closed. Cancel-safe: a
    /// call dropped while resuming resumes again on the next call.
    pub async fn next(&mut self) -> Option<Change> {
        loop {
            if let Some(ev) = self.stream.next().await {
                return Some(Change::Event(ev));
            }
            let ns = self.namespace.as_deref();
            let from = self.stream.last_revision();
            match self.store.watch(self.resource, ns, from) {
                Ok(stream) => {
                    self.stream = stream;
                    continue;
                }
                Err(Error::Expired { .. }) => match self.store.listing_and_watch(self.resource, ns)
                {
                    Ok((list, stream)) => {
                        self.stream = stream;
                        return Some(Change::Relisted(list));
                    }
                    Err(Error::Closed) => return None,
                    Err(e) => {
                        tracing::warn!(resource = self.resource.plural, error = %e, "relist failed");
                    }
                },
                Err(Error::Closed) => return None,
                Err(e) => {
                    tracing::warn!(resource = self.resource.plural, error = %e, "watch failed");
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}
