//! The ownerReference garbage collector (upstream
//! `pkg/controller/garbagecollector/garbagecollector.go`).
//!
//! It keeps a graph of owner → dependents from watches and enforces the
//! three propagation policies:
//! * Background: a dependent none of whose owners exists any more is deleted;
//! * Foreground: an owner being deleted with the `foregroundDeletion`
//!   finalizer has its dependents deleted and keeps the finalizer until no
//!   dependent with `blockOwnerDeletion: true` is left;
//! * Orphan: an owner being deleted with the `orphan` finalizer has its
//!   ownerReference stripped from every dependent, then loses the finalizer.
//!
//! Owner existence is always confirmed against the store (by kind, name
//! and uid), never against the graph alone, so a dependent whose owner's
//! watch event has not arrived yet is not mistaken for an orphan, as
//! upstream confirms with a live GET.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use api::resources::{ResourceInfo, CRONJOBS, JOBS, NODES, PODS};
use parking_lot::Mutex;
use serde_json::Value;
use store::{DeleteOptions, EventType, Propagation, Store, Stored};
use tokio::task::JoinHandle;

use crate::kit::edit;
use crate::kit::informer::{self, Handler};
use crate::kit::objects::{Meta, OwnerRef};
use crate::kit::queue::WorkQueue;
use crate::Result;

pub(crate) use api::vocabulary::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};

/// The resources whose objects can own or depend on others.
static WATCHED: [&ResourceInfo; 4] = [&CRONJOBS, &JOBS, &PODS, &NODES];

#[derive(Debug, Clone)]
struct Node {
    resource: &'static ResourceInfo,
    namespace: String,
    name: String,
    owners: Vec<OwnerRef>,
    /// Being deleted with the `foregroundDeletion` finalizer.
    foreground: bool,
}

#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    fn unlink(&mut self, uid: &str, owners: &[OwnerRef]) {
        for o in owners {
            if let Some(s) = self.dependents.get_mut(&*o.uid) {
                s.remove(uid);
                if s.is_empty() {
                    self.dependents.remove(&*o.uid);
                }
            }
        }
    }
}

struct Gc {
    store: Store,
    graph: Mutex<Graph>,
    queue: WorkQueue<String>,
}

struct GcHandler {
    gc: Arc<Gc>,
    resource: &'static ResourceInfo,
}

impl Handler for GcHandler {
    fn apply(&self, kind: EventType, object: &Stored) {
        let Some(m) = Meta::of(object) else {
            return;
        };
        let gc = &self.gc;
        let uid = m.uid.clone();
        let mut g = gc.graph.lock();
        if kind == EventType::Deleted {
            if let Some(old) = g.nodes.remove(&uid) {
                g.unlink(&uid, &old.owners);
                // Owners waiting for their dependents may now proceed.
                for o in &old.owners {
                    gc.queue.add(o.uid.to_string());
                }
            }
            // Dependents of a removed owner may now be garbage.
            if let Some(deps) = g.dependents.get(&uid) {
                for d in deps {
                    gc.queue.add(d.clone());
                }
            }
            return;
        }
        let node = Node {
            resource: self.resource,
            namespace: m.namespace.clone(),
            name: m.name.clone(),
            owners: m.owner_references.clone(),
            foreground: m.deletion_timestamp.is_some() && m.has_finalizer(FINALIZER_FOREGROUND),
        };
        let old = g.nodes.insert(uid.clone(), node);
        let owners_changed = old.as_ref().is_none_or(|o| o.owners != m.owner_references);
        if let Some(o) = &old {
            if owners_changed {
                let prev = o.owners.clone();
                g.unlink(&uid, &prev);
            }
        }
        if owners_changed {
            for o in &m.owner_references {
                g.dependents
                    .entry(o.uid.to_string())
                    .or_default()
                    .insert(uid.clone());
            }
            if !m.owner_references.is_empty() {
                gc.queue.add(uid.clone());
            }
            for o in old.iter().flat_map(|o| o.owners.iter()) {
                gc.queue.add(o.uid.to_string());
            }
        }
        if m.deletion_timestamp.is_some()
            && (m.has_finalizer(FINALIZER_FOREGROUND) || m.has_finalizer(FINALIZER_ORPHAN))
        {
            gc.queue.add(uid);
        }
    }

    fn replace(&self, items: &mut dyn Iterator<Item = Stored>) {
        for s in items {
            self.apply(EventType::Added, &s);
        }
    }
}

/// What became of one ownerReference.
#[derive(Debug, PartialEq, Eq)]
enum OwnerState {
    Solid,
    Dangling,
    /// Being deleted in the foreground.
    Waiting,
}

impl Gc {
    fn owner_state(&self, namespace: &str, r: &OwnerRef) -> OwnerState {
        // The graph saw the owner: trust it (its removal re-queues this
        // dependent). Only an owner the graph has not seen is looked up.
        if let Some(n) = self.graph.lock().nodes.get(&*r.uid) {
            if n.name == *r.name && (!n.resource.namespaced || n.namespace == namespace) {
                return if n.foreground {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                };
            }
        }
        let Some(resource) = api::resources::by_kind(&r.api_version, &r.kind) else {
            // A kind joblite does not serve cannot be checked: leave it alone.
            return OwnerState::Solid;
        };
        let ns = if resource.namespaced { namespace } else { "" };
        match self.store.get(resource, ns, &r.name) {
            Err(_) => OwnerState::Dangling,
            Ok(s) => {
                let Some(m) = Meta::of(&s) else {
                    return OwnerState::Dangling;
                };
                if m.uid != *r.uid {
                    OwnerState::Dangling
                } else if m.deletion_timestamp.is_some() && m.has_finalizer(FINALIZER_FOREGROUND) {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                }
            }
        }
    }

    async fn process(&self, uid: &str) -> Result<()> {
        let Some(node) = self.graph.lock().nodes.get(uid).cloned() else {
            return Ok(());
        };
        let Ok(stored) = self.store.get(node.resource, &node.namespace, &node.name) else {
            return Ok(());
        };
        let Some(meta) = Meta::of(&stored) else {
            return Ok(());
        };
        if meta.uid != uid {
            return Ok(());
        }
        if meta.deletion_timestamp.is_some() && meta.has_finalizer(FINALIZER_ORPHAN) {
            return self.orphan_dependents(&node, uid).await;
        }
        if meta.deletion_timestamp.is_some() && meta.has_finalizer(FINALIZER_FOREGROUND) {
            self.delete_dependents_in_foreground(&node, uid).await?;
        }
        if !meta.owner_references.is_empty() {
            self.attempt_to_delete(&node, &meta).await?;
        }
        Ok(())
    }

    /// Upstream `orphanDependents` + removing the `orphan` finalizer.
    async fn orphan_dependents(&self, node: &Node, uid: &str) -> Result<()> {
        let deps = self.dependents_of(uid);
        for d in deps {
            let owner_uid = uid.to_string();
            let r = self
                .store
                .modify(d.resource, &d.namespace, &d.name, |mut v| {
                    let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) else {
                        return Ok(None);
                    };
                    let Some(refs) = m.get_mut("ownerReferences").and_then(Value::as_array_mut)
                    else {
                        return Ok(None);
                    };
                    let before = refs.len();
                    refs.retain(|r| {
                        r.get("uid").and_then(Value::as_str) != Some(owner_uid.as_str())
                    });
                    if refs.len() == before {
                        return Ok(None);
                    }
                    if refs.is_empty() {
                        m.remove("ownerReferences");
                    }
                    Ok(Some(v))
                })
                .await;
            match r {
                Ok(_) | Err(store::Error::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.remove_finalizer(node, uid, FINALIZER_ORPHAN).await
    }

    /// Foreground: delete dependents; release the owner once no blocking
    /// dependent remains.
    async fn delete_dependents_in_foreground(&self, node: &Node, uid: &str) -> Result<()> {
        let deps = self.dependents_of(uid);
        let mut blocking = 0;
        for d in &deps {
            let Ok(s) = self.store.get(d.resource, &d.namespace, &d.name) else {
                continue;
            };
            let Some(m) = Meta::of(&s) else {
                continue;
            };
            let Some(r) = m.owner_references.iter().find(|r| &*r.uid == uid) else {
                continue;
            };
            if r.block_owner_deletion == Some(true) {
                blocking += 1;
            }
            if m.deletion_timestamp.is_none() {
                let opts = DeleteOptions {
                    propagation: Some(if self.has_dependents(&m.uid) {
                        Propagation::Foreground
                    } else {
                        Propagation::Background
                    }),
                    precondition_uid: Some(m.uid.clone()),
                    ..Default::default()
                };
                match self
                    .store
                    .delete(d.resource, &d.namespace, &d.name, opts)
                    .await
                {
                    Ok(_) | Err(store::Error::NotFound(_)) | Err(store::Error::Precondition(_)) => {
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if blocking == 0 {
            self.remove_finalizer(node, uid, FINALIZER_FOREGROUND)
                .await?;
        }
        Ok(())
    }

    /// Upstream `attemptToDeleteItem` for an object with owners.
    async fn attempt_to_delete(&self, node: &Node, meta: &Meta) -> Result<()> {
        if meta.deletion_timestamp.is_some() {
            return Ok(());
        }
        let mut solid = 0;
        let mut gone: Vec<String> = Vec::new();
        let mut waiting = 0;
        for r in &meta.owner_references {
            match self.owner_state(&meta.namespace, r) {
                OwnerState::Solid => solid += 1,
                OwnerState::Dangling => gone.push(r.uid.to_string()),
                OwnerState::Waiting => {
                    waiting += 1;
                    gone.push(r.uid.to_string());
                }
            }
        }
        if solid > 0 {
            if gone.is_empty() {
                return Ok(());
            }
            // Keep the object; drop the references to owners that are gone.
            let r = edit::modify_metadata(
                &self.store,
                node.resource,
                &node.namespace,
                &node.name,
                &meta.uid,
                |m| {
                    let Some(refs) = m.get_mut("ownerReferences").and_then(Value::as_array_mut)
                    else {
                        return false;
                    };
                    refs.retain(|r| {
                        !r.get("uid")
                            .and_then(Value::as_str)
                            .is_some_and(|u| gone.iter().any(|g| g == u))
                    });
                    true
                },
            )
            .await;
            return match r {
                Ok(_) | Err(store::Error::NotFound(_)) => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        let propagation = if meta.has_finalizer(FINALIZER_ORPHAN) {
            Propagation::Orphan
        } else if meta.has_finalizer(FINALIZER_FOREGROUND)
            || (waiting > 0 && self.has_dependents(&meta.uid))
        {
            Propagation::Foreground
        } else {
            Propagation::Background
        };
        let opts = DeleteOptions {
            propagation: Some(propagation),
            precondition_uid: Some(meta.uid.clone()),
            ..Default::default()
        };
        match self
            .store
            .delete(node.resource, &node.namespace, &node.name, opts)
            .await
        {
            Ok(_) | Err(store::Error::NotFound(_)) | Err(store::Error::Precondition(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn dependents_of(&self, uid: &str) -> Vec<Node> {
        let g = self.graph.lock();
        g.dependents
            .get(uid)
            .map(|s| s.iter().filter_map(|d| g.nodes.get(d).cloned()).collect())
            .unwrap_or_default()
    }

    fn has_dependents(&self, uid: &str) -> bool {
        self.graph
            .lock()
            .dependents
            .get(uid)
            .is_some_and(|s| !s.is_empty())
    }

    async fn remove_finalizer(&self, node: &Node, uid: &str, finalizer: &str) -> Result<()> {
        let r = edit::remove_finalizer(
            &self.store,
            node.resource,
            &node.namespace,
            &node.name,
            uid,
            finalizer,
        )
        .await;
        match r {
            Ok(_) | Err(store::Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Starts the garbage collector.
pub(crate) fn start(store: Store) -> Result<Vec<JoinHandle<()>>> {
    let gc = Arc::new(Gc {
        store,
        graph: Mutex::new(Graph::default()),
        queue: WorkQueue::new(Duration::from_millis(100), Duration::from_secs(30)),
    });
    let mut handles = Vec::new();
    for r in WATCHED {
        handles.push(informer::start(
            &gc.store,
            r,
            Arc::new(GcHandler {
                gc: gc.clone(),
                resource: r,
            }),
        )?);
    }
    for _ in 0..2 {
        let w = gc.clone();
        handles.push(tokio::spawn(async move {
            loop {
                let uid = w.queue.get().await;
                match w.process(&uid).await {
                    Ok(()) => w.queue.forget(&uid),
                    Err(e) => {
                        tracing::debug!(uid = %uid, error = %e, "gc failed; retrying");
                        w.queue.add_rate_limited(uid.clone());
                    }
                }
                w.queue.done(&uid);
            }
        }));
    }
    Ok(handles)
}
