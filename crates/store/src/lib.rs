//! Durable object store for joblite.
//!
//! The model is kine's (the SQL backend k3s uses in place of etcd): one global
//! revision counter that doubles as every object's `resourceVersion`, one new
//! revision per write, compare-and-swap on the revision, tombstones for
//! deletes, and a revision log that watches replay until it is compacted.
//!
//! Why this shape:
//! - A single writer thread owns the SQLite connection and commits whatever
//!   writes are queued in one transaction (group commit), so under load many
//!   writes share one fsync while each still gets its own revision.
//! - The current state of every object lives in memory as serialized JSON
//!   (cold objects packed, `cache.rs`), so reads and lists never touch
//!   SQLite; the log in SQLite serves watches that resume from an older
//!   revision, and durability.
//! - Watchers are registered under the same lock that publishes commits, so
//!   "list at revision R, then watch from R" has no gap and no reorder.
//!
//! In-process components (controllers, node agent) call this API directly and
//! get the same rules as HTTP clients: every write goes through the kind's
//! strategy (defaulting, preparation, validation; `lifecycle.rs`) and the
//! same optimistic concurrency, so a controller cannot store an object the
//! API would refuse.

mod cache;
mod db;
mod error;
mod follow;
mod lifecycle;
pub mod metrics;
pub mod recorder;
mod watch;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use api::resources::ResourceInfo;
use api::strategy::{Object, UpdateScope};
use bytes::Bytes;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use error::Error;
pub use follow::{Change, Follower};
pub use lifecycle::{DeleteOptions, Propagation};
pub use watch::{Event, EventType, WatchStream};

/// Result alias for store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Identifies one object: resource, namespace (`""` for cluster-scoped) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub resource: &'static str,
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn new(resource: &ResourceInfo, namespace: &str, name: &str) -> Self {
        Key {
            resource: resource.plural,
            namespace: if resource.namespaced {
                namespace.to_string()
            } else {
                String::new()
            },
            name: name.to_string(),
        }
    }
}

/// One stored object: its revision, its JSON bytes (with `resourceVersion`
/// set) and, when the writer of this process committed it, its decoded form.
///
/// Both forms are shared, never copied: the writer encodes an object once
/// and hands the same `Bytes` and the same `Arc` to every watcher; the
/// in-memory state keeps the bytes, and the `Arc` too where the kind's
/// `Strategy::cache_decoded` says the object will be written again soon.
/// Neither is ever mutated after commit (the `Object` types have no
/// interior mutability), so a holder can keep either as long as it likes
/// and it stays the version it was given.
#[derive(Debug, Clone)]
pub struct Stored {
    pub rev: u64,
    pub bytes: Bytes,
    /// The decoded object, shared; `None` for objects read back from SQLite
    /// (start-up, history) and for cached objects of kinds kept as bytes,
    /// which [`Stored::decoded`] decodes on demand.
    pub object: Option<Arc<dyn Object>>,
}

impl Stored {
    /// An object read back from its bytes (not decoded yet).
    pub fn from_bytes(rev: u64, bytes: Bytes) -> Stored {
        Stored {
            rev,
            bytes,
            object: None,
        }
    }

    /// The decoded object: the shared one when there is one, otherwise
    /// decoded from the bytes with `resource`'s type.
    pub fn decoded(&self, resource: &ResourceInfo) -> Result<Arc<dyn Object>> {
        match &self.object {
            Some(o) => Ok(o.clone()),
            None => decode(resource, &self.bytes),
        }
    }

    /// The JSON value: from the shared decoded object when there is one
    /// (serializing it is cheaper than parsing the bytes, and gives the same
    /// value), otherwise parsed from the bytes.
    pub fn value(&self) -> Value {
        match &self.object {
            Some(o) => o.to_value(),
            None => serde_json::from_slice(&self.bytes).expect("store holds valid JSON"),
        }
    }

    /// Parses into a typed object.
    pub fn typed<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.bytes).map_err(|e| Error::Decode(e.to_string()))
    }
}

/// Decodes stored bytes as `resource`'s type.
pub(crate) fn decode(resource: &ResourceInfo, bytes: &[u8]) -> Result<Arc<dyn Object>> {
    resource
        .strategy
        .decode_stored(bytes)
        .map(Arc::from)
        .map_err(Error::Rejected)
}

/// A list: objects in key order and the revision the list is consistent at.
#[derive(Debug, Clone)]
pub struct List {
    pub items: Vec<Stored>,
    pub rev: u64,
}

/// A list read lazily: each cold object is unpacked as the reader reaches
/// it, so a reader that keeps only a view of each (the informers, the node
/// agent) never holds every object's JSON at once. An eager start-up list
/// of 20,000 finished pods held 48 MB (heaptrack).
pub struct Listing {
    entries: Vec<cache::Entry>,
    pub rev: u64,
}

impl Listing {
    /// The objects, in key order, each unpacked when reached.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Stored> + '_ {
        self.entries.iter().map(cache::Entry::stored)
    }
}

impl From<Listing> for List {
    /// Every object unpacked at once.
    fn from(l: Listing) -> List {
        List {
            items: l.iter().collect(),
            rev: l.rev,
        }
    }
}

impl std::fmt::Debug for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listing")
            .field("len", &self.entries.len())
            .field("rev", &self.rev)
            .finish()
    }
}

/// Options that tune durability and compaction.
#[derive(Debug, Clone)]
pub struct Options {
    /// `PRAGMA synchronous`: FULL fsyncs the WAL at every commit (default), so
    /// a committed write survives power loss, not only a process kill.
    pub synchronous_full: bool,
    /// How many revisions of history to keep for watches; older ones are
    /// compacted and a watch from before them gets 410 Expired.
    pub retain_revisions: u64,
    /// The most bytes the database may take (`PRAGMA max_page_count`), as
    /// etcd's `--quota-backend-bytes`: past it writes fail with
    /// [`Error::SpaceExceeded`], as on a full disk. `None`: the disk's size.
    pub quota_bytes: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            synchronous_full: true,
            retain_revisions: 200_000,
            quota_bytes: None,
        }
    }
}

pub(crate) struct State {
    pub(crate) objects: BTreeMap<Key, cache::Entry>,
    pub(crate) rev: u64,
    pub(crate) compacted: u64,
}

/// The store handle; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) state: RwLock<State>,
    pub(crate) hub: watch::Hub,
    pub(crate) writer: db::WriterHandle,
    pub(crate) readers: db::ReaderPool,
}

impl Store {
    /// Opens (or creates) the store in `dir/joblite.db`.
    pub fn open(dir: &Path, options: Options) -> Result<Store> {
        let path = dir.join("joblite.db");
        let (state, writer, readers) = db::open(&path, &options)?;
        let inner = Arc::new(Inner {
            state: RwLock::new(state),
            hub: watch::Hub::default(),
            writer,
            readers,
        });
        db::start_writer(&inner, options)?;
        Ok(Store { inner })
    }

    /// The latest committed revision.
    pub fn revision(&self) -> u64 {
        self.inner.state.read().rev
    }

    /// The oldest revision a watch may resume from.
    pub fn compacted_revision(&self) -> u64 {
        self.inner.state.read().compacted
    }

    /// Reads one object.
    pub fn get(&self, resource: &ResourceInfo, namespace: &str, name: &str) -> Result<Stored> {
        let key = Key::new(resource, namespace, name);
        let entry = self.inner.state.read().objects.get(&key).cloned();
        entry
            .map(|e| e.stored())
            .ok_or_else(|| Error::NotFound(key))
    }

    /// Lists a resource, in one namespace or (with `None`) in all of them.
    pub fn list(&self, resource: &ResourceInfo, namespace: Option<&str>) -> List {
        self.listing(resource, namespace).into()
    }

    /// [`Store::list`], read lazily (see [`Listing`]).
    pub fn listing(&self, resource: &ResourceInfo, namespace: Option<&str>) -> Listing {
        // Entries are copied under the lock (cheap), unpacked after it.
        let state = self.inner.state.read();
        Listing {
            entries: list_range(&state.objects, resource, namespace)
                .map(|(_, v)| v.clone())
                .collect(),
            rev: state.rev,
        }
    }

    /// Lists a resource as it was at revision `rev` (a consistent snapshot
    /// from the log). Fails with `Expired` below the compacted revision.
    pub fn list_at(
        &self,
        resource: &ResourceInfo,
        namespace: Option<&str>,
        rev: u64,
    ) -> Result<List> {
        let (head, compacted) = {
            let s = self.inner.state.read();
            (s.rev, s.compacted)
        };
        if rev >= head {
            return Ok(self.list(resource, namespace));
        }
        if rev < compacted {
            return Err(Error::Expired {
                requested: rev,
                oldest: compacted,
            });
        }
        let namespace = if resource.namespaced { namespace } else { None };
        let items = self
            .inner
            .readers
            .list_at(resource.plural, namespace, rev)?;
        Ok(List { items, rev })
    }

    /// Visits objects in key order after the key `after` (`(namespace,
    /// name)`) until `f` returns false, and returns the revision the visit
    /// saw. Nothing is parsed, and only a cold object is unpacked as it is
    /// visited, so paging through a large collection costs O(page). Runs
    /// under the state's read lock: `f` must not call back into the store.
    pub fn visit_after(
        &self,
        resource: &ResourceInfo,
        namespace: Option<&str>,
        after: Option<(&str, &str)>,
        mut f: impl FnMut(&Key, &Stored) -> bool,
    ) -> u64 {
        use std::ops::Bound;
        let state = self.inner.state.read();
        let plural = resource.plural;
        let ns = if resource.namespaced { namespace } else { None };
        let start = match after {
            Some((ans, aname)) => Bound::Excluded(Key {
                resource: plural,
                namespace: ans.to_string(),
                name: aname.to_string(),
            }),
            None => Bound::Included(Key {
                resource: plural,
                namespace: ns.unwrap_or("").to_string(),
                name: String::new(),
            }),
        };
        for (k, v) in state.objects.range((start, Bound::Unbounded)) {
            if k.resource != plural {
                break;
            }
            if let Some(n) = ns {
                if k.namespace.as_str() > n {
                    break;
                }
                if k.namespace != n {
                    continue;
                }
            }
            if !f(k, &v.stored()) {
                break;
            }
        }
        state.rev
    }

    /// Creates an object from JSON, as an in-process component does: the
    /// kind's strategy defaults, prepares and validates it exactly as for an
    /// API client. The store assigns `uid` (unless given), `creationTimestamp`,
    /// `generation` (where the resource has one) and `resourceVersion`, and
    /// resolves `generateName`. Fails with AlreadyExists on a taken name and
    /// `Rejected` when the strategy refuses the object.
    pub async fn create(&self, resource: &'static ResourceInfo, object: Value) -> Result<Stored> {
        let object = resource.strategy.decode(object).map_err(Error::Rejected)?;
        Ok(self.create_object(resource, object, false).await?.stored)
    }

    /// Creates a decoded object through the kind's strategy; with `dry_run`
    /// the plan is returned (revision 0, no `resourceVersion`) and nothing
    /// is committed.
    pub async fn create_object(
        &self,
        resource: &'static ResourceInfo,
        object: Box<dyn Object>,
        dry_run: bool,
    ) -> Result<Written> {
        let generated = object.meta().name.as_deref().unwrap_or_default().is_empty()
            && object
                .meta()
                .generate_name
                .as_deref()
                .is_some_and(|g| !g.is_empty());
        // A generated name can lose a race with a concurrent create of the
        // same name; upstream retries with a new name (RetryGenerateName).
        let mut attempts = if generated { 8 } else { 1 };
        let mut object = Some(object);
        loop {
            attempts -= 1;
            let this = match (attempts, object.take()) {
                (0, Some(o)) => o,
                (_, Some(o)) => {
                    object = Some(o.clone());
                    o
                }
                (_, None) => unreachable!("an object is kept for every attempt"),
            };
            let (op, warnings) = {
                let state = self.inner.state.read();
                lifecycle::plan_create(resource, this, &|k| {
                    state.objects.get(k).map(cache::Entry::stored)
                })?
            };
            if dry_run {
                return Ok(Written {
                    stored: Stored::from_bytes(0, op.object().to_bytes().into()),
                    warnings,
                    removed: false,
                });
            }
            match self.inner.writer.submit(op).await {
                Err(Error::AlreadyExists(_)) if attempts > 0 => continue,
                Err(e) => return Err(e),
                Ok((stored, _)) => {
                    return Ok(Written {
                        stored,
                        warnings,
                        removed: false,
                    })
                }
            }
        }
    }

    /// Replaces an object from JSON, as an in-process component does: the
    /// write may change spec and status alike and is validated as a main
    /// update followed by a status update (see `UpdateScope::All`). When the
    /// object carries `metadata.resourceVersion` the write only succeeds if
    /// that is still the current revision (409 Conflict otherwise).
    /// `uid`, `creationTimestamp` and the deletion fields are kept;
    /// `generation` follows the kind's strategy. An object with
    /// `deletionTimestamp` set and no finalizers left is removed.
    pub async fn update(&self, resource: &'static ResourceInfo, object: Value) -> Result<Stored> {
        self.update_value(resource, object, UpdateScope::All).await
    }

    /// Replaces an object's status, as `PUT …/status` does (upstream
    /// controllers' `UpdateStatus`): the spec is kept from the stored
    /// object and only the status change is validated. Compare-and-swap on
    /// `metadata.resourceVersion` as for [`Store::update`].
    pub async fn update_status(
        &self,
        resource: &'static ResourceInfo,
        object: Value,
    ) -> Result<Stored> {
        self.update_value(resource, object, UpdateScope::Status)
            .await
    }

    async fn update_value(
        &self,
        resource: &'static ResourceInfo,
        object: Value,
        scope: UpdateScope,
    ) -> Result<Stored> {
        let object = resource.strategy.decode(object).map_err(Error::Rejected)?;
        Ok(self
            .update_object(resource, object, scope, false)
            .await?
            .stored)
    }

    /// Replaces a decoded object through the kind's strategy with the rules
    /// of `scope`. Compare-and-swap on `metadata.resourceVersion` when set;
    /// otherwise retried against the newer object when another write wins.
    /// With `dry_run` the plan is returned and nothing is committed.
    pub async fn update_object(
        &self,
        resource: &'static ResourceInfo,
        object: Box<dyn Object>,
        scope: UpdateScope,
        dry_run: bool,
    ) -> Result<Written> {
        let pinned = object
            .meta()
            .resource_version
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<u64>()
                    .map_err(|_| Error::Invalid(format!("invalid resourceVersion {s:?}")))
            })
            .transpose()?;
        let ns = object.meta().namespace.clone().unwrap_or_default();
        let name = object.meta().name.clone().unwrap_or_default();
        if name.is_empty() {
            return Err(Error::Invalid("metadata.name is required".into()));
        }
        loop {
            let current = self.get(resource, &ns, &name)?;
            if pinned.is_some_and(|rv| rv != current.rev) {
                return Err(Error::Conflict(Key::new(resource, &ns, &name)));
            }
            let (plan, warnings) =
                lifecycle::plan_update(resource, object.clone(), &current, scope)?;
            let op = match plan {
                lifecycle::Plan::Unchanged(stored) => {
                    return Ok(Written {
                        stored,
                        warnings,
                        removed: false,
                    })
                }
                lifecycle::Plan::Write(op) => op,
            };
            let removed = matches!(op, lifecycle::Op::Remove { .. });
            if dry_run {
                return Ok(Written {
                    stored: dry_run_result(&op, current.rev),
                    warnings,
                    removed,
                });
            }
            match self.inner.writer.submit(op).await {
                Err(Error::Conflict(_)) if pinned.is_none() => continue,
                Err(e) => return Err(e),
                Ok((stored, _)) => {
                    return Ok(Written {
                        stored,
                        warnings,
                        removed,
                    })
                }
            }
        }
    }

    /// Read-modify-write with retries on conflict: `f` gets the current object
    /// and returns the new one, or `None` to leave it alone.
    pub async fn modify<F>(
        &self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        mut f: F,
    ) -> Result<Option<Stored>>
    where
        F: FnMut(Value) -> Result<Option<Value>>,
    {
        loop {
            let current = self.get(resource, namespace, name)?;
            let Some(mut next) = f(current.value())? else {
                return Ok(None);
            };
            set_resource_version(&mut next, current.rev);
            match self.update(resource, next).await {
                Err(Error::Conflict(_)) => continue,
                other => return other.map(Some),
            }
        }
    }

    /// Edits an object's metadata on its decoded form, as a main-resource
    /// write (a metadata PATCH upstream), retrying on conflict: `f` returns
    /// false to leave the object unwritten (then Ok(None)). Cheaper than
    /// [`Store::modify`], which goes through a JSON value both ways.
    pub async fn modify_meta<F>(
        &self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        mut f: F,
    ) -> Result<Option<Stored>>
    where
        F: FnMut(&mut ObjectMeta) -> bool,
    {
        loop {
            let current = self.get(resource, namespace, name)?;
            let mut next = current.decoded(resource)?.clone_object();
            if !f(next.meta_mut()) {
                return Ok(None);
            }
            next.meta_mut().resource_version = Some(current.rev.to_string());
            match self
                .update_object(resource, next, UpdateScope::Main, false)
                .await
            {
                Err(Error::Conflict(_)) => continue,
                other => return other.map(|w| Some(w.stored)),
            }
        }
    }

    /// Deletes an object, following its finalizers, its grace period (the
    /// kind's strategy) and the propagation policy. Returns the object as
    /// last stored: removed (with a new revision) or, while finalizers or a
    /// grace period hold it, updated with `deletionTimestamp`.
    pub async fn delete(
        &self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        options: DeleteOptions,
    ) -> Result<Deleted> {
        self.delete_with(resource, namespace, name, &options, false)
            .await
    }

    /// [`Store::delete`], or with `dry_run` what it would do.
    pub async fn delete_with(
        &self,
        resource: &'static ResourceInfo,
        namespace: &str,
        name: &str,
        options: &DeleteOptions,
        dry_run: bool,
    ) -> Result<Deleted> {
        loop {
            let current = self.get(resource, namespace, name)?;
            let op = match lifecycle::plan_delete(resource, &current, options)? {
                lifecycle::Plan::Unchanged(object) => {
                    return Ok(Deleted {
                        object,
                        removed: false,
                    })
                }
                lifecycle::Plan::Write(op) => op,
            };
            let removed = matches!(op, lifecycle::Op::Remove { .. });
            if dry_run {
                return Ok(Deleted {
                    object: dry_run_result(&op, current.rev),
                    removed,
                });
            }
            match self.inner.writer.submit(op).await {
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
                Ok((object, event)) => {
                    return Ok(Deleted {
                        object,
                        removed: event == EventType::Deleted,
                    })
                }
            }
        }
    }

    /// Watches a resource from revision `from` (exclusive). Events for every
    /// change after `from` are delivered in revision order with no gap.
    /// Fails with `Expired` when `from` is older than the compacted revision.
    pub fn watch(
        &self,
        resource: &ResourceInfo,
        namespace: Option<&str>,
        from: u64,
    ) -> Result<WatchStream> {
        watch::start(&self.inner, resource, namespace, from)
    }

    /// A list and a watch that starts exactly where the list ends.
    pub fn list_and_watch(
        &self,
        resource: &ResourceInfo,
        namespace: Option<&str>,
    ) -> Result<(List, WatchStream)> {
        let (listing, stream) = self.listing_and_watch(resource, namespace)?;
        Ok((listing.into(), stream))
    }

    /// [`Store::list_and_watch`] with the list read lazily.
    pub fn listing_and_watch(
        &self,
        resource: &ResourceInfo,
        namespace: Option<&str>,
    ) -> Result<(Listing, WatchStream)> {
        // The hub lock is taken inside `watch::start`; listing first at rev R
        // and then watching from R is gapless because the watch replays
        // anything committed after R from the log.
        let list = self.listing(resource, namespace);
        let stream = self.watch(resource, namespace, list.rev)?;
        Ok((list, stream))
    }

    /// Drops history older than `retain` revisions behind the head.
    pub fn compact(&self, retain: u64) -> Result<u64> {
        db::compact(&self.inner, retain)
    }
}

/// What a create or update did.
#[derive(Debug, Clone)]
pub struct Written {
    /// The object as stored; for a dry run, as it would be.
    pub stored: Stored,
    /// The strategy's warnings for the client.
    pub warnings: Vec<String>,
    /// True when the write removed the object (an update that let a deleted
    /// object's last finalizer go).
    pub removed: bool,
}

/// A dry run's answer: the planned object at the revision it was planned
/// against.
fn dry_run_result(op: &lifecycle::Op, rev: u64) -> Stored {
    let mut object = op.object().clone_object();
    object.meta_mut().resource_version = Some(rev.to_string());
    Stored::from_bytes(rev, object.to_bytes().into())
}

/// Outcome of a delete.
#[derive(Debug, Clone)]
pub struct Deleted {
    /// The object as last written.
    pub object: Stored,
    /// True when the object is gone; false while finalizers or a grace period keep it.
    pub removed: bool,
}

pub(crate) fn list_range<'a>(
    objects: &'a BTreeMap<Key, cache::Entry>,
    resource: &ResourceInfo,
    namespace: Option<&str>,
) -> impl Iterator<Item = (&'a Key, &'a cache::Entry)> {
    let plural = resource.plural;
    let ns = namespace.map(str::to_string);
    let start = Key {
        resource: plural,
        namespace: ns.clone().unwrap_or_default(),
        name: String::new(),
    };
    objects.range(start..).take_while(move |(k, _)| {
        k.resource == plural && ns.as_ref().is_none_or(|n| &k.namespace == n)
    })
}

/// Sets `metadata.resourceVersion` on a JSON object.
pub fn set_resource_version(object: &mut Value, rev: u64) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rev.to_string()));
    }
}
