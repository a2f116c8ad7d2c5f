//! Planning one write: the generic registry rules around the kind's
//! strategy, for every writer (API clients and in-process components alike).
//!
//! These are the parts of kube-apiserver's generic registry
//! (`staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go`,
//! `rest.BeforeCreate`, `rest.BeforeUpdate`, `rest.BeforeDelete`): identity
//! (`uid`, `creationTimestamp`, `generateName`), `generation`, the strategy's
//! defaulting, preparation and validation, and deletion through finalizers
//! and grace periods. A plan is computed against the object at one revision
//! and committed by the writer only if the object is still at that revision
//! (compare-and-swap), so planning runs outside the single writer thread and
//! a lost race is retried against the newer object, as upstream's
//! `GuaranteedUpdate` does. Dry-run is a plan that is not committed.

use api::resources::{ResourceInfo, NAMESPACES};
use api::strategy::{Object, UpdateScope};
use api::vocabulary::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use rand::Rng;

use crate::{Error, Key, Result, Stored};

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

/// Characters `generateName` suffixes are drawn from (no vowels, so no words);
/// upstream `staging/src/k8s.io/apimachinery/pkg/util/rand/rand.go`.
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// What the writer commits for one op. Each is conditional: a create on the
/// name being free (and the namespace live), a replace or removal on the
/// object still being at `expect_rev`.
#[derive(Debug)]
pub(crate) enum Op {
    Create {
        key: Key,
        object: Box<dyn Object>,
    },
    Replace {
        key: Key,
        object: Box<dyn Object>,
        expect_rev: u64,
    },
    /// Removal; the tombstone carries `last`, the object as deleted.
    Remove {
        key: Key,
        last: Box<dyn Object>,
        expect_rev: u64,
    },
}

impl Op {
    /// The object as it would be stored (without `resourceVersion`).
    pub(crate) fn object(&self) -> &dyn Object {
        match self {
            Op::Create { object, .. } | Op::Replace { object, .. } => object.as_ref(),
            Op::Remove { last, .. } => last.as_ref(),
        }
    }
}

/// Outcome of planning: a conditional write, or nothing to do.
pub(crate) enum Plan {
    Write(Op),
    Unchanged(Stored),
}

/// Now, truncated to seconds as `metav1.Time` is stored.
fn now() -> Time {
    seconds_from_now(0)
}

/// `secs` seconds from now, as a `metav1.Time`.
fn seconds_from_now(secs: i64) -> Time {
    let at = chrono::Utc::now().timestamp() + secs;
    Time(Timestamp::from_second(at).unwrap_or(Timestamp::UNIX_EPOCH))
}

fn key_of(resource: &ResourceInfo, meta: &ObjectMeta) -> Key {
    Key::new(
        resource,
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}

/// A generated name's random suffix (`generateName` + 5 characters; the base
/// is cut to 58 characters as upstream does).
pub(crate) fn generate_name(base: &str) -> String {
    let base: String = base.chars().take(58).collect();
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())] as char)
        .collect();
    format!("{base}{suffix}")
}

/// Whether creating in namespace `ns` is allowed (it exists and is not
/// being deleted); `lookup` sees the current state.
pub(crate) fn check_namespace(ns: &str, lookup: &dyn Fn(&Key) -> Option<Stored>) -> Result<()> {
    match lookup(&Key::new(&NAMESPACES, "", ns)) {
        None => Err(Error::NamespaceNotFound(ns.to_string())),
        Some(s) => {
            let terminating = match &s.object {
                Some(o) => o.meta().deletion_timestamp.is_some(),
                None => serde_json::from_slice::<serde_json::Value>(&s.bytes)
                    .ok()
                    .and_then(|v| v.pointer("/metadata/deletionTimestamp").cloned())
                    .is_some_and(|t| !t.is_null()),
            };
            if terminating {
                Err(Error::NamespaceTerminating(ns.to_string()))
            } else {
                Ok(())
            }
        }
    }
}

/// `rest.BeforeCreate` and the strategy's create path. Returns the op and
/// the strategy's warnings.
pub(crate) fn plan_create(
    resource: &'static ResourceInfo,
    mut object: Box<dyn Object>,
    lookup: &dyn Fn(&Key) -> Option<Stored>,
) -> Result<(Op, Vec<String>)> {
    let m = object.meta_mut();
    if !resource.namespaced {
        m.namespace = None;
    }
    let ns = m.namespace.clone().unwrap_or_default();
    if resource.namespaced {
        if ns.is_empty() {
            return Err(Error::Invalid("metadata.namespace is required".into()));
        }
        check_namespace(&ns, lookup)?;
    }
    for r in resource.strategy.required_on_create(object.as_ref()) {
        if lookup(&Key::new(r.resource, &r.namespace, &r.name)).is_none() {
            return Err(Error::Rejected(r.refusal));
        }
    }
    let m = object.meta_mut();
    if m.name.as_deref().unwrap_or_default().is_empty() {
        if let Some(base) = m.generate_name.clone().filter(|b| !b.is_empty()) {
            m.name = Some(generate_name(&base));
        }
    }
    // FillObjectMetaSystemFields (an in-process writer may bring its uid).
    if m.uid.as_deref().unwrap_or_default().is_empty() {
        m.uid = Some(uuid::Uuid::new_v4().to_string());
    }
    m.creation_timestamp = Some(now());
    m.deletion_timestamp = None;
    m.deletion_grace_period_seconds = None;
    m.resource_version = None;
    m.self_link = None;
    m.generation = resource.has_generation.then_some(1);
    let warnings = resource
        .strategy
        .create(object.as_mut())
        .map_err(Error::Rejected)?;
    let key = key_of(resource, object.meta());
    if lookup(&key).is_some() {
        return Err(Error::AlreadyExists(key));
    }
    Ok((Op::Create { key, object }, warnings))
}

/// `rest.BeforeUpdate` and the strategy's update path, against `current`.
pub(crate) fn plan_update(
    resource: &'static ResourceInfo,
    mut new: Box<dyn Object>,
    current: &Stored,
    scope: UpdateScope,
) -> Result<(Plan, Vec<String>)> {
    let strategy = resource.strategy;
    // The shared decoded object, not a re-parse of the bytes; it is read
    // only (it carries `resourceVersion`, which `same_as` below accounts for).
    let old = current.decoded(resource)?;
    let old = old.as_ref();
    let key = key_of(resource, old.meta());
    {
        let (m, o) = (new.meta_mut(), old.meta());
        if !resource.namespaced {
            m.namespace = None;
        }
        // The server owns these; an update can neither change nor drop them.
        if m.uid.as_deref().unwrap_or_default().is_empty() {
            m.uid = o.uid.clone();
        }
        m.creation_timestamp = o.creation_timestamp.clone();
        m.deletion_timestamp = o.deletion_timestamp.clone();
        m.deletion_grace_period_seconds = o.deletion_grace_period_seconds;
        m.generation = o.generation;
        m.resource_version = None;
        m.self_link = None;
    }
    let warnings = strategy
        .update(new.as_mut(), old, scope)
        .map_err(Error::Rejected)?;
    let expect_rev = current.rev;
    if removable(resource, new.as_ref()) {
        return Ok((
            Plan::Write(Op::Remove {
                key,
                last: new,
                expect_rev,
            }),
            warnings,
        ));
    }
    if same_but_revision(new.as_mut(), old) {
        return Ok((Plan::Unchanged(current.clone()), warnings));
    }
    Ok((
        Plan::Write(Op::Replace {
            key,
            object: new,
            expect_rev,
        }),
        warnings,
    ))
}

/// Whether `new` equals the stored `old` apart from `resourceVersion` (which
/// the writer assigns); `new` is left without one.
fn same_but_revision(new: &mut dyn Object, old: &dyn Object) -> bool {
    new.meta_mut().resource_version = old.meta().resource_version.clone();
    let same = new.same_as(old);
    new.meta_mut().resource_version = None;
    same
}

/// A deleted object whose finalizers and grace period are all done.
fn removable(resource: &ResourceInfo, object: &dyn Object) -> bool {
    let m = object.meta();
    m.deletion_timestamp.is_some()
        && m.finalizers.as_ref().is_none_or(|f| f.is_empty())
        && m.deletion_grace_period_seconds.unwrap_or(0) <= 0
        && !resource.strategy.finalizing(object)
}

/// `rest.BeforeDelete` and the graceful-deletion rules, against `current`.
pub(crate) fn plan_delete(
    resource: &'static ResourceInfo,
    current: &Stored,
    options: &DeleteOptions,
) -> Result<Plan> {
    let strategy = resource.strategy;
    let old = current.decoded(resource)?;
    let old = old.as_ref();
    let mut object = old.clone_object();
    object.meta_mut().resource_version = None;
    let key = key_of(resource, object.meta());
    let uid = object.meta().uid.clone().unwrap_or_default();
    if let Some(want) = &options.precondition_uid {
        if *want != uid {
            return Err(Error::Precondition(format!(
                "Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"
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
    let mut finals = object.meta().finalizers.clone().unwrap_or_default();
    // The propagation finalizer replaces the other one, as upstream's
    // `deletionFinalizersForGarbageCollection` does.
    let wanted = match options.propagation {
        Some(Propagation::Orphan) => Some(FINALIZER_ORPHAN),
        Some(Propagation::Foreground) => Some(FINALIZER_FOREGROUND),
        Some(Propagation::Background) => None,
        None => finals.iter().find_map(|f| match f.as_str() {
            FINALIZER_ORPHAN => Some(FINALIZER_ORPHAN),
            FINALIZER_FOREGROUND => Some(FINALIZER_FOREGROUND),
            _ => None,
        }),
    };
    finals.retain(|f| f != FINALIZER_ORPHAN && f != FINALIZER_FOREGROUND);
    if let Some(w) = wanted {
        finals.push(w.into());
    }

    let grace = strategy.delete_grace_seconds(object.as_ref(), options.grace_period_seconds);
    let already = object.meta().deletion_timestamp.is_some();
    let old_grace = object.meta().deletion_grace_period_seconds;

    if finals.is_empty() && grace == 0 && !strategy.finalizing(object.as_ref()) {
        // Removed now: the tombstone carries the object as deleted.
        let m = object.meta_mut();
        if !already {
            m.deletion_timestamp = Some(now());
        }
        m.deletion_grace_period_seconds = Some(0);
        return Ok(Plan::Write(Op::Remove {
            key,
            last: object,
            expect_rev: current.rev,
        }));
    }

    let m = object.meta_mut();
    // A second delete may only shorten a pending grace period.
    let shorten = old_grace.is_none_or(|g| grace < g);
    if !already || shorten {
        m.deletion_timestamp = Some(seconds_from_now(grace));
        m.deletion_grace_period_seconds = Some(grace);
    }
    m.finalizers = (!finals.is_empty()).then_some(finals);
    strategy.prepare_for_delete(object.as_mut());
    if same_but_revision(object.as_mut(), old) {
        return Ok(Plan::Unchanged(current.clone()));
    }
    Ok(Plan::Write(Op::Replace {
        key,
        object,
        expect_rev: current.rev,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_use_the_upstream_alphabet() {
        let name = generate_name("pi-");
        assert!(name.starts_with("pi-") && name.len() == 8, "{name}");
        assert!(name[3..].bytes().all(|b| NAME_ALPHABET.contains(&b)));
        let long = generate_name(&"a".repeat(70));
        assert_eq!(long.len(), 63);
    }
}
