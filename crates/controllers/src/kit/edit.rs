//! Read-modify-write edits of a stored object's metadata.
//!
//! The controllers edit the stored JSON, not their views, so fields they do
//! not know survive. Every such edit must first check that the object is
//! still the one the controller saw (same uid) and must skip the write when
//! nothing changed; these helpers keep both rules in one place.

use api::resources::ResourceInfo;
use serde_json::{Map, Value};
use store::{Store, Stored};

/// Edits the metadata of `namespace/name` while its uid is still `uid`,
/// retrying on conflict. `edit` returns false to leave the object unwritten;
/// then, or when the uid differs, the result is Ok(None).
pub(crate) async fn modify_metadata<F>(
    store: &Store,
    resource: &'static ResourceInfo,
    namespace: &str,
    name: &str,
    uid: &str,
    mut edit: F,
) -> store::Result<Option<Stored>>
where
    F: FnMut(&mut Map<String, Value>) -> bool,
{
    store
        .modify(resource, namespace, name, |mut v| {
            if v.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid) {
                return Ok(None);
            }
            let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) else {
                return Ok(None);
            };
            Ok(edit(m).then_some(v))
        })
        .await
}

/// Removes `finalizer` from `namespace/name` while its uid is still `uid`
/// (upstream's finalizer-removal PATCH). It edits the store's decoded
/// object ([`Store::modify_meta`]) rather than a JSON copy: the Job
/// controller does this once for every pod it counts.
pub(crate) async fn remove_finalizer(
    store: &Store,
    resource: &'static ResourceInfo,
    namespace: &str,
    name: &str,
    uid: &str,
    finalizer: &str,
) -> store::Result<Option<Stored>> {
    store
        .modify_meta(resource, namespace, name, |m| {
            if m.uid.as_deref() != Some(uid) {
                return false;
            }
            let Some(fs) = m.finalizers.as_mut() else {
                return false;
            };
            let before = fs.len();
            fs.retain(|f| f != finalizer);
            let removed = fs.len() != before;
            if fs.is_empty() {
                m.finalizers = None;
            }
            removed
        })
        .await
}

/// Keeps the elements of the array under `key` for which `keep` holds and
/// drops the key once the array is empty. Returns whether any element went.
pub(crate) fn retain_in_array(
    meta: &mut Map<String, Value>,
    key: &str,
    keep: impl FnMut(&Value) -> bool,
) -> bool {
    let Some(a) = meta.get_mut(key).and_then(Value::as_array_mut) else {
        return false;
    };
    let before = a.len();
    a.retain(keep);
    let removed = a.len() != before;
    if a.is_empty() {
        meta.remove(key);
    }
    removed
}

/// Removes every `value` from the string array under `key` (e.g. a
/// finalizer from `finalizers`); see [`retain_in_array`].
pub(crate) fn remove_from_string_array(
    meta: &mut Map<String, Value>,
    key: &str,
    value: &str,
) -> bool {
    retain_in_array(meta, key, |v| v != value)
}

/// The array under `key`, created (or replacing a non-array) when needed.
pub(crate) fn array_entry<'a>(meta: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let a = meta.entry(key).or_insert_with(|| Value::Array(vec![]));
    if !a.is_array() {
        *a = Value::Array(vec![]);
    }
    a.as_array_mut().expect("array")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn removing_the_last_value_drops_the_key() {
        let mut m = meta(json!({"finalizers": ["a", "b", "a"]}));
        assert!(remove_from_string_array(&mut m, "finalizers", "a"));
        assert_eq!(m, meta(json!({"finalizers": ["b"]})));
        assert!(remove_from_string_array(&mut m, "finalizers", "b"));
        assert_eq!(m, meta(json!({})));
    }

    #[test]
    fn nothing_to_remove_reports_no_change() {
        let mut m = meta(json!({"finalizers": ["b"], "x": 1}));
        assert!(!remove_from_string_array(&mut m, "finalizers", "a"));
        assert!(!remove_from_string_array(&mut m, "missing", "a"));
        assert!(!remove_from_string_array(&mut m, "x", "a"));
        assert_eq!(m, meta(json!({"finalizers": ["b"], "x": 1})));
    }

    #[test]
    fn array_entry_replaces_a_non_array() {
        let mut m = meta(json!({"finalizers": "oops"}));
        array_entry(&mut m, "finalizers").push("a".into());
        array_entry(&mut m, "ownerReferences");
        assert_eq!(m, meta(json!({"finalizers": ["a"], "ownerReferences": []})));
    }
}
