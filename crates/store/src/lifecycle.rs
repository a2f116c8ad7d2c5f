//! Object lifecycle rules the store enforces on every write, whoever writes:
//! identity (`uid`, `creationTimestamp`, `generateName`), `generation`,
//! compare-and-swap, and deletion through finalizers and grace periods.
//!
//! These are the parts of kube-apiserver's generic registry
//! (`staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go`)
//! that must be atomic with the write, so they run in the writer.

use api::resources::{ResourceInfo, NAMESPACES, PODS};
use rand::Rng;
use serde_json::{Map, Value};

use crate::{Error, Key, Op, Result, Stored};

/// How dependents are treated when their owner is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the owner now; the garbage collector deletes dependents later.
    Background,
    /// Keep the owner (finalizer `foregroundDeletion`) until dependents are gone.
    Foreground,
    /// Keep dependents, stripping their ownerReferences (finalizer `orphan`).
    Orphan,
}

/// Options of a delete (`DeleteOptions` less what the API layer handles).
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub propagation: Option<Propagation>,
    /// Grace period for pods; `None` means the pod's own
    /// `terminationGracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

pub const FINALIZER_ORPHAN: &str = "orphan";
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

/// Characters `generateName` suffixes are drawn from (no vowels, so no words);
/// upstream `staging/src/k8s.io/apimachinery/pkg/util/rand/rand.go`.
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// What the writer must persist for one op.
#[derive(Debug)]
pub(crate) struct Mutation {
    pub key: Key,
    /// The new object; `None` removes it (a tombstone carrying `last`).
    pub object: Option<Value>,
    /// For removals, the object as deleted.
    pub last: Option<Value>,
    pub event: crate::EventType,
}

/// Outcome of planning an op: a mutation to persist, or an unchanged object.
pub(crate) enum Plan {
    Write(Mutation),
    Unchanged(Stored),
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn meta(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

fn meta_mut(object: &mut Value) -> Result<&mut Map<String, Value>> {
    let obj = object
        .as_object_mut()
        .ok_or_else(|| Error::Invalid("object is not a JSON object".into()))?;
    let m = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if m.is_null() {
        *m = Value::Object(Map::new());
    }
    m.as_object_mut()
        .ok_or_else(|| Error::Invalid("metadata is not an object".into()))
}

fn str_field<'a>(m: &'a Map<String, Value>, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

fn finalizers(object: &Value) -> Vec<String> {
    meta(object)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Plans one op against the current state (`lookup` sees earlier ops of the
/// same batch).
pub(crate) fn plan(op: Op, lookup: &dyn Fn(&Key) -> Option<Stored>) -> Result<Plan> {
    match op {
        Op::Create { resource, object } => plan_create(resource, object, lookup),
        Op::Update {
            resource,
            object,
            expect_rev,
        } => plan_update(resource, object, expect_rev, lookup),
        Op::Delete {
            resource,
            key,
            options,
        } => plan_delete(resource, key, options, lookup),
    }
}

fn key_of(resource: &ResourceInfo, object: &Value) -> Result<Key> {
    let m = meta(object).ok_or_else(|| Error::Invalid("metadata is required".into()))?;
    let name = str_field(m, "name");
    if name.is_empty() {
        return Err(Error::Invalid("metadata.name is required".into()));
    }
    let ns = str_field(m, "namespace");
    if resource.namespaced && ns.is_empty() {
        return Err(Error::Invalid("metadata.namespace is required".into()));
    }
    Ok(Key::new(resource, ns, name))
}

fn check_namespace(
    resource: &ResourceInfo,
    ns: &str,
    lookup: &dyn Fn(&Key) -> Option<Stored>,
) -> Result<()> {
    if !resource.namespaced {
        return Ok(());
    }
    match lookup(&Key::new(&NAMESPACES, "", ns)) {
        None => Err(Error::NamespaceNotFound(ns.to_string())),
        Some(s) => {
            let v = s.value();
            if v.pointer("/metadata/deletionTimestamp").is_some() {
                Err(Error::NamespaceTerminating(ns.to_string()))
            } else {
                Ok(())
            }
        }
    }
}

fn plan_create(
    resource: &'static ResourceInfo,
    mut object: Value,
    lookup: &dyn Fn(&Key) -> Option<Stored>,
) -> Result<Plan> {
    let m = meta_mut(&mut object)?;
    let ns = str_field(m, "namespace").to_string();
    if resource.namespaced && ns.is_empty() {
        return Err(Error::Invalid("metadata.namespace is required".into()));
    }
    check_namespace(resource, &ns, lookup)?;
    let mut name = str_field(m, "name").to_string();
    if name.is_empty() {
        let base = str_field(m, "generateName").to_string();
        if base.is_empty() {
            return Err(Error::Invalid("name or generateName is required".into()));
        }
        // Upstream truncates the base to 58 characters and appends five.
        let base: String = base.chars().take(58).collect();
        let mut rng = rand::rng();
        name = loop {
            let suffix: String = (0..5)
                .map(|_| NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())] as char)
                .collect();
            let candidate = format!("{base}{suffix}");
            if lookup(&Key::new(resource, &ns, &candidate)).is_none() {
                break candidate;
            }
        };
        m.insert("name".into(), Value::String(name.clone()));
    }
    let key = Key::new(resource, &ns, &name);
    if lookup(&key).is_some() {
        return Err(Error::AlreadyExists(key));
    }
    if !resource.namespaced {
        m.remove("namespace");
    }
    if str_field(m, "uid").is_empty() {
        m.insert(
            "uid".into(),
            Value::String(uuid::Uuid::new_v4().to_string()),
        );
    }
    m.insert("creationTimestamp".into(), Value::String(now_rfc3339()));
    m.remove("deletionTimestamp");
    m.remove("deletionGracePeriodSeconds");
    if resource.has_generation {
        m.insert("generation".into(), Value::from(1));
    } else {
        m.remove("generation");
    }
    Ok(Plan::Write(Mutation {
        key,
        object: Some(object),
        last: None,
        event: crate::EventType::Added,
    }))
}

/// Whether anything but `metadata` and `status` differs: what `generation`
/// tracks. Compares in place; objects can be large.
fn spec_differs(a: &Value, b: &Value) -> bool {
    let skip = |k: &str| matches!(k, "metadata" | "status" | "kind" | "apiVersion");
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a != b;
    };
    a.iter()
        .filter(|(k, _)| !skip(k))
        .any(|(k, v)| b.get(k) != Some(v))
        || b.iter()
            .filter(|(k, _)| !skip(k))
            .any(|(k, _)| !a.contains_key(k))
}

/// Equality that ignores `metadata.resourceVersion` (which `b` lacks).
fn same_ignoring_rv(a: &Value, b: &Value) -> bool {
    let (Some(ao), Some(bo)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    if ao.len() != bo.len() {
        return false;
    }
    ao.iter().all(|(k, v)| match (k.as_str(), bo.get(k)) {
        ("metadata", Some(bv)) => match (v.as_object(), bv.as_object()) {
            (Some(am), Some(bm)) => {
                am.iter()
                    .filter(|(mk, _)| *mk != "resourceVersion")
                    .all(|(mk, mv)| bm.get(mk) == Some(mv))
                    && bm.keys().filter(|mk| *mk != "resourceVersion").count()
                        == am.keys().filter(|mk| *mk != "resourceVersion").count()
            }
            _ => v == bv,
        },
        (_, Some(bv)) => v == bv,
        (_, None) => false,
    })
}

fn removable(object: &Value) -> bool {
    let Some(m) = meta(object) else { return false };
    if m.get("deletionTimestamp").is_none() || !finalizers(object).is_empty() {
        return false;
    }
    if m.get("deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        > 0
    {
        return false;
    }
    // Namespaces also wait for their spec finalizers (the namespace controller).
    object
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty())
}

fn plan_update(
    resource: &'static ResourceInfo,
    mut object: Value,
    expect_rev: Option<u64>,
    lookup: &dyn Fn(&Key) -> Option<Stored>,
) -> Result<Plan> {
    let key = key_of(resource, &object)?;
    let current = lookup(&key).ok_or_else(|| Error::NotFound(key.clone()))?;
    if let Some(rev) = expect_rev {
        if rev != current.rev {
            return Err(Error::Conflict(key));
        }
    }
    let old = current.value();
    let old_meta = meta(&old).cloned().unwrap_or_default();
    {
        let m = meta_mut(&mut object)?;
        for k in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old_meta.get(k) {
                Some(v) => {
                    m.insert(k.into(), v.clone());
                }
                None => {
                    m.remove(k);
                }
            }
        }
        if !resource.namespaced {
            m.remove("namespace");
        }
        m.remove("resourceVersion");
    }
    if resource.has_generation && spec_differs(&old, &object) {
        let g = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        meta_mut(&mut object)?.insert("generation".into(), Value::from(g + 1));
    }
    if removable(&object) {
        return Ok(Plan::Write(Mutation {
            key,
            object: None,
            last: Some(object),
            event: crate::EventType::Deleted,
        }));
    }
    if same_ignoring_rv(&old, &object) {
        return Ok(Plan::Unchanged(current));
    }
    Ok(Plan::Write(Mutation {
        key,
        object: Some(object),
        last: None,
        event: crate::EventType::Modified,
    }))
}

fn plan_delete(
    resource: &'static ResourceInfo,
    key: Key,
    options: DeleteOptions,
    lookup: &dyn Fn(&Key) -> Option<Stored>,
) -> Result<Plan> {
    let current = lookup(&key).ok_or_else(|| Error::NotFound(key.clone()))?;
    let mut object = current.value();
    let m = meta(&object).cloned().unwrap_or_default();
    if let Some(uid) = &options.precondition_uid {
        let actual = str_field(&m, "uid");
        if uid != actual {
            return Err(Error::Precondition(format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
            )));
        }
    }
    if let Some(rv) = &options.precondition_resource_version {
        if rv != &current.rev.to_string() {
            return Err(Error::Precondition(format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                current.rev
            )));
        }
    }

    let mut finals = finalizers(&object);
    // The propagation finalizer replaces the other one, as upstream's
    // `deletionFinalizersForGarbageCollection` does.
    let wanted = match options.propagation {
        Some(Propagation::Orphan) => Some(FINALIZER_ORPHAN),
        Some(Propagation::Foreground) => Some(FINALIZER_FOREGROUND),
        Some(Propagation::Background) => None,
        None => finals
            .iter()
            .find(|f| *f == FINALIZER_ORPHAN || *f == FINALIZER_FOREGROUND)
            .map(|f| {
                if f == FINALIZER_ORPHAN {
                    FINALIZER_ORPHAN
                } else {
                    FINALIZER_FOREGROUND
                }
            }),
    };
    finals.retain(|f| f != FINALIZER_ORPHAN && f != FINALIZER_FOREGROUND);
    if let Some(w) = wanted {
        finals.push(w.into());
    }

    let grace = if std::ptr::eq(resource, &PODS) {
        pod_grace(&object, options.grace_period_seconds)
    } else {
        0
    };
    let now = chrono::Utc::now();
    let already = m.get("deletionTimestamp").is_some();
    let old_grace = m.get("deletionGracePeriodSeconds").and_then(Value::as_i64);

    // Namespaces also wait for their spec finalizers (the namespace
    // controller empties them, then drops `kubernetes`).
    let spec_finalizers = object
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if finals.is_empty() && grace == 0 && !spec_finalizers {
        // Removed now: the tombstone carries the object as deleted.
        let mm = meta_mut(&mut object)?;
        if !already {
            mm.insert("deletionTimestamp".into(), Value::String(now_rfc3339()));
        }
        mm.insert("deletionGracePeriodSeconds".into(), Value::from(0));
        mm.remove("resourceVersion");
        return Ok(Plan::Write(Mutation {
            key,
            object: None,
            last: Some(object),
            event: crate::EventType::Deleted,
        }));
    }

    let mm = meta_mut(&mut object)?;
    mm.remove("resourceVersion");
    // A second delete may only shorten a pending grace period.
    let shorten = old_grace.is_none_or(|g| grace < g);
    if !already || shorten {
        let at = now + chrono::Duration::seconds(grace);
        mm.insert(
            "deletionTimestamp".into(),
            Value::String(at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        );
        mm.insert("deletionGracePeriodSeconds".into(), Value::from(grace));
    }
    if finals.is_empty() {
        mm.remove("finalizers");
    } else {
        mm.insert(
            "finalizers".into(),
            Value::Array(finals.into_iter().map(Value::String).collect()),
        );
    }
    if std::ptr::eq(resource, &NAMESPACES) {
        if let Some(o) = object.as_object_mut() {
            let status = o
                .entry("status")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(s) = status.as_object_mut() {
                s.insert("phase".into(), Value::String("Terminating".into()));
            }
        }
    }
    if same_ignoring_rv(&current.value(), &object) {
        return Ok(Plan::Unchanged(current));
    }
    Ok(Plan::Write(Mutation {
        key,
        object: Some(object),
        last: None,
        event: crate::EventType::Modified,
    }))
}

/// Upstream `pkg/registry/core/pod/strategy.go` `CheckGracefulDelete`: pods
/// that never reached a node, or that already ended, go at once; others get
/// the requested grace, defaulting to the pod's own.
fn pod_grace(pod: &Value, requested: Option<i64>) -> i64 {
    let scheduled = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !scheduled || phase == "Succeeded" || phase == "Failed" {
        return 0;
    }
    let own = pod
        .pointer("/spec/terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(30);
    requested.unwrap_or(own).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_ignore_what_they_should() {
        let a = serde_json::json!({"metadata":{"name":"a","resourceVersion":"5"},"spec":{"x":1},"status":{"s":1}});
        let b = serde_json::json!({"metadata":{"name":"a"},"spec":{"x":1},"status":{"s":1}});
        assert!(same_ignoring_rv(&a, &b));
        let c = serde_json::json!({"metadata":{"name":"a"},"spec":{"x":1},"status":{"s":2}});
        assert!(!same_ignoring_rv(&a, &c));
        assert!(!spec_differs(&a, &c));
        let d = serde_json::json!({"metadata":{"name":"a"},"spec":{"x":2}});
        assert!(spec_differs(&a, &d));
        let e = serde_json::json!({"metadata":{"name":"a"},"spec":{"x":1},"extra":1});
        assert!(spec_differs(&a, &e));
    }

    #[test]
    fn generated_names_use_the_upstream_alphabet() {
        let ns = Stored {
            rev: 1,
            bytes: serde_json::to_vec(&serde_json::json!({"metadata":{"name":"default"}}))
                .unwrap()
                .into(),
        };
        let lookup = move |k: &Key| (k.resource == "namespaces").then(|| ns.clone());
        let op = Op::Create {
            resource: &PODS,
            object: serde_json::json!({"metadata":{"generateName":"pi-","namespace":"default"}}),
        };
        let Plan::Write(m) = plan(op, &lookup).unwrap() else {
            panic!("expected a write")
        };
        let name = m.key.name;
        assert!(name.starts_with("pi-") && name.len() == 8, "{name}");
        assert!(name[3..].bytes().all(|b| NAME_ALPHABET.contains(&b)));
    }

    #[test]
    fn pod_grace_follows_check_graceful_delete() {
        let running = serde_json::json!({"spec":{"nodeName":"n","terminationGracePeriodSeconds":5},"status":{"phase":"Running"}});
        assert_eq!(pod_grace(&running, None), 5);
        assert_eq!(pod_grace(&running, Some(0)), 0);
        let pending = serde_json::json!({"spec":{},"status":{"phase":"Pending"}});
        assert_eq!(pod_grace(&pending, Some(30)), 0);
        let done = serde_json::json!({"spec":{"nodeName":"n"},"status":{"phase":"Succeeded"}});
        assert_eq!(pod_grace(&done, None), 0);
    }
}
