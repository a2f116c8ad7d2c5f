//! Strategic merge patch (`application/strategic-merge-patch+json`).
//!
//! kubectl's client-side `apply` and its default `kubectl patch` send
//! strategic merge patches, and kubectl computes them against the compiled-in
//! Go types, so the server has to merge exactly as kube-apiserver does or a
//! re-applied manifest drifts (duplicated containers, lost env vars, reordered
//! lists). No Rust crate implements it, so this is a port of the *apply* half
//! of upstream `staging/src/k8s.io/apimachinery/pkg/util/strategicpatch/patch.go`
//! (`StrategicMergeMapPatch` with `MergeParallelList` and
//! `IgnoreUnmatchedNulls`, as the apiserver's patcher uses it).
//!
//! Go derives the per-field rules from struct tags at runtime; we have no Go
//! types, so [`PatchSchema`] carries the same information — the
//! `patchStrategy`/`patchMergeKey` tags of
//! `staging/src/k8s.io/api/core/v1/types.go` and
//! `staging/src/k8s.io/api/batch/v1/types.go` — keyed by the JSON path of
//! field names from the object root (list elements add no path segment).
//!
//! Ordering follows upstream to the letter, including Go's `sort.SliceStable`
//! (whose comparator in `normalizeSliceOrder` is not a strict weak order, so a
//! different stable sort would give different results).

use serde_json::{Map, Value};

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";

/// Why a strategic merge patch could not be applied. Messages follow
/// upstream `mergepatch/errors.go` so clients see familiar text; the API
/// server reports them as 400 BadRequest / 422 like kube-apiserver.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PatchError {
    /// The original object or the patch is not a JSON object.
    #[error("invalid JSON document")]
    BadJsonDoc,
    /// `$patch` has a value other than `delete`, `replace` (or `merge` in a map).
    #[error("unknown patch type: {directive} in map: {map}")]
    BadPatchType { directive: String, map: String },
    /// `$patch: merge` inside a list.
    #[error("merging lists cannot yet be specified in the patch")]
    MergeDirectiveInList,
    /// An element of a merging list lacks the declared merge key.
    #[error("map: {map} does not contain declared merge key: {key}")]
    NoMergeKey { map: String, key: String },
    /// A value has an unexpected JSON type.
    #[error("expected a {expected}, but received a {actual}")]
    BadArgType {
        expected: &'static str,
        actual: &'static str,
    },
    /// Lists of lists cannot be merged.
    #[error("lists of lists are not supported")]
    NoListOfLists,
    /// A merging list mixes element types.
    #[error("list element types are not identical: {0}")]
    MixedListTypes(String),
    /// `$setElementOrder` for a list that is empty on both sides.
    #[error("no elements in any of the given slices")]
    NoElements,
    /// A list of maps with merge strategy but no merge key.
    #[error("cannot merge lists without merge key for {0}")]
    NoMergeKeyDeclared(String),
    #[error("invalid patch format of retainKeys")]
    BadPatchFormatForRetainKeys,
    #[error("invalid patch format of setElementOrder list")]
    BadPatchFormatForSetElementOrderList,
    #[error("invalid patch format of primitive list")]
    BadPatchFormatForPrimitiveList,
    /// The patch list is not ordered like its `$setElementOrder` list.
    #[error("the order in patch list:\n{patch}\n doesn't match $setElementOrder list:\n{order}")]
    SetElementOrderMismatch { patch: String, order: String },
    /// A merging list contains a non-map where maps are required.
    #[error("value for key {0} is not a map.")]
    NotAMap(usize),
}

impl PatchError {
    /// The HTTP status of the refusal. kube-apiserver's
    /// `interpretStrategicMergePatchError`
    /// (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go`)
    /// answers malformed documents and directive lists with 400 and lists of
    /// lists with 422, and lets every other merge error (a missing merge key,
    /// an unknown `$patch`, a type mismatch) fall through to
    /// `ErrorToAPIStatus`'s 500. Each of those is the client's patch being
    /// wrong, and joblite answers no client input with a 5xx (a 5xx tells a
    /// client to retry the same patch), so they are 400 with upstream's
    /// message.
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::NoListOfLists => 422,
            _ => 400,
        }
    }
}

pub use api::patch_schema::{PatchMeta, PatchSchema, Strategy};

/// Applies `patch` to `original` like kube-apiserver's strategic merge patch.
///
/// `original` may be `null` (treated as `{}`). Directive keys never survive
/// into the result: upstream drops them when it decodes the merged map into
/// the typed object, and we store the map itself.
pub fn apply(original: &Value, patch: &Value, schema: &PatchSchema) -> Result<Value, PatchError> {
    let original = match original {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => return Err(PatchError::BadJsonDoc),
    };
    let Value::Object(patch) = patch else {
        return Err(PatchError::BadJsonDoc);
    };
    let merger = Merger { schema };
    let mut merged = Value::Object(merger.merge_map(original, patch.clone(), &[])?);
    strip_directive_keys(&mut merged);
    Ok(merged)
}

fn is_directive_key(k: &str) -> bool {
    k == DIRECTIVE_MARKER
        || k == RETAIN_KEYS_DIRECTIVE
        || k.starts_with("$setElementOrder/")
        || k.starts_with("$deleteFromPrimitiveList/")
}

fn strip_directive_keys(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !is_directive_key(k));
            m.values_mut().for_each(strip_directive_keys);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directive_keys),
        _ => {}
    }
}

/// The Go dynamic type of a decoded JSON value (`reflect.TypeOf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

fn kind_of(v: &Value) -> Kind {
    match v {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        Value::Number(_) => Kind::Number,
        Value::String(_) => Kind::String,
        Value::Array(_) => Kind::Array,
        Value::Object(_) => Kind::Object,
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Null => "nil",
        Kind::Bool => "bool",
        Kind::Number => "float64",
        Kind::String => "string",
        Kind::Array => "[]interface {}",
        Kind::Object => "map[string]interface {}",
    }
}

/// Go's `==` on decoded JSON scalars: numbers are all float64 there, so
/// `80` equals `80.0`.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn contains(list: &[Value], v: &Value) -> bool {
    list.iter().any(|x| json_eq(x, v))
}

fn show<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

struct Merger<'a> {
    schema: &'a PatchSchema,
}

fn child(path: &[String], k: &str) -> Vec<String> {
    let mut p = path.to_vec();
    p.push(k.to_string());
    p
}

impl Merger<'_> {
    fn meta(&self, path: &[String]) -> PatchMeta {
        self.schema.lookup(path).copied().unwrap_or_default()
    }

    /// `mergeMap`.
    fn merge_map(
        &self,
        mut original: Map<String, Value>,
        mut patch: Map<String, Value>,
        path: &[String],
    ) -> Result<Map<String, Value>, PatchError> {
        if let Some(d) = patch.get(DIRECTIVE_MARKER) {
            let d = d.clone();
            return handle_directive_in_merge_map(&d, patch);
        }
        apply_retain_keys_directive(&mut original, &mut patch)?;
        self.merge_patch_into_original(&mut original, &mut patch, path)?;

        for (k, patch_v) in patch {
            // preprocessDeletionListForMerging
            let (is_delete_list, k) = if k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
                (true, extract_key(&k, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?)
            } else {
                (false, k)
            };

            if patch_v.is_null() {
                remove_key(&mut original, &k);
                continue; // IgnoreUnmatchedNulls
            }

            let slot = match original.get_mut(&k) {
                Some(o) if kind_of(o) == kind_of(&patch_v) => o,
                // Absent from the original, or of another type: take the
                // patch value (a deletion list has nothing to delete from).
                _ => {
                    if !is_delete_list {
                        let mut v = patch_v;
                        discard_null_values(&mut v);
                        match remove_directives(v) {
                            Some(v) => {
                                original.insert(k, v);
                            }
                            None => remove_key(&mut original, &k),
                        }
                    }
                    continue;
                }
            };

            let sub = child(path, &k);
            let meta = self.meta(&sub);
            let merged = match (std::mem::take(slot), patch_v) {
                (Value::Object(o), Value::Object(p)) => {
                    if meta.strategy == Strategy::Replace {
                        Some(Value::Object(p))
                    } else {
                        Some(Value::Object(self.merge_map(o, p, &sub)?))
                    }
                }
                (Value::Array(o), Value::Array(p)) => Some(Value::Array(
                    self.merge_slice_handler(o, p, meta, is_delete_list, &sub)?,
                )),
                (_, p) => remove_directives(p),
            };
            match merged {
                Some(v) => {
                    original.insert(k, v);
                }
                None => remove_key(&mut original, &k),
            }
        }
        Ok(original)
    }

    /// `mergePatchIntoOriginal`: lists named by `$setElementOrder/<list>`.
    fn merge_patch_into_original(
        &self,
        original: &mut Map<String, Value>,
        patch: &mut Map<String, Value>,
        path: &[String],
    ) -> Result<(), PatchError> {
        let keys: Vec<String> = patch
            .keys()
            .filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX))
            .cloned()
            .collect();
        for key in keys {
            let Some(order) = patch.remove(&key) else {
                continue;
            };
            let Value::Array(order) = order else {
                return Err(PatchError::BadArgType {
                    expected: "[]interface {}",
                    actual: kind_name(kind_of(&order)),
                });
            };
            let original_key = extract_key(&key, SET_ELEMENT_ORDER_PREFIX)?;
            let original_list = match original.get(&original_key) {
                None => None,
                Some(Value::Array(a)) => Some(a.clone()),
                Some(other) => {
                    return Err(PatchError::BadArgType {
                        expected: "[]interface {}",
                        actual: kind_name(kind_of(other)),
                    })
                }
            };
            let patch_list = match patch.get(&original_key) {
                None => None,
                Some(Value::Array(a)) => Some(a.clone()),
                Some(other) => {
                    return Err(PatchError::BadArgType {
                        expected: "[]interface {}",
                        actual: kind_name(kind_of(other)),
                    })
                }
            };
            let sub = child(path, &original_key);
            let meta = self.meta(&sub);
            let merge_key = meta.merge_key.unwrap_or("");
            validate_patch_with_set_order_list(
                patch_list.as_deref().unwrap_or(&[]),
                &order,
                merge_key,
            )?;

            let merged = match (&original_list, &patch_list) {
                (Some(o), None) => o.clone(),
                (None, Some(p)) => match remove_directives(Value::Array(p.clone())) {
                    Some(Value::Array(a)) => a,
                    _ => continue,
                },
                (Some(o), Some(p)) => {
                    self.merge_slice_handler(o.clone(), p.clone(), meta, false, &sub)?
                }
                (None, None) => continue,
            };

            let (patch_items, server_only) = if merge_key.is_empty() {
                partition_primitives_by_present_in_list(merged, &order)
            } else {
                partition_maps_by_present_in_list(merged, &order, merge_key)?
            };
            let orig = original_list.unwrap_or_default();
            let kind = slice_element_type(&[&orig, patch_list.as_deref().unwrap_or(&[])])?;
            let both =
                normalize_element_order(patch_items, server_only, &order, &orig, merge_key, kind)?;
            original.insert(original_key.clone(), Value::Array(both));
            patch.remove(&original_key);
        }
        Ok(())
    }

    /// `mergeSliceHandler`.
    fn merge_slice_handler(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        meta: PatchMeta,
        is_delete_list: bool,
        path: &[String],
    ) -> Result<Vec<Value>, PatchError> {
        if meta.strategy == Strategy::Merge {
            self.merge_slice(
                original,
                patch,
                meta.merge_key.unwrap_or(""),
                is_delete_list,
                path,
            )
        } else {
            Ok(patch)
        }
    }

    /// `mergeSlice`.
    fn merge_slice(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        merge_key: &str,
        is_delete_list: bool,
        path: &[String],
    ) -> Result<Vec<Value>, PatchError> {
        if original.is_empty() && patch.is_empty() {
            return Ok(original);
        }
        let kind = slice_element_type(&[&original, &patch])?;
        let (merged, original, patch) = if kind != Kind::Object {
            if is_delete_list {
                return Ok(delete_from_slice(original, &patch));
            }
            let mut both = original.clone();
            both.extend(patch.iter().cloned());
            (deduplicate_scalars(both), original, patch)
        } else {
            if merge_key.is_empty() {
                return Err(PatchError::NoMergeKeyDeclared(path.join(".")));
            }
            let (original, patch) = merge_slice_with_special_elements(original, patch, merge_key)?;
            let merged = self.merge_slice_without_special_elements(
                original.clone(),
                &patch,
                merge_key,
                path,
            )?;
            (merged, original, patch)
        };

        let (patch_items, server_only) = if merge_key.is_empty() {
            partition_primitives_by_present_in_list(merged, &patch)
        } else {
            partition_maps_by_present_in_list(merged, &patch, merge_key)?
        };
        normalize_element_order(patch_items, server_only, &patch, &original, merge_key, kind)
    }

    /// `mergeSliceWithoutSpecialElements`.
    fn merge_slice_without_special_elements(
        &self,
        mut original: Vec<Value>,
        patch: &[Value],
        merge_key: &str,
        path: &[String],
    ) -> Result<Vec<Value>, PatchError> {
        for v in patch {
            let Value::Object(typed) = v else {
                return Err(PatchError::BadArgType {
                    expected: "map[string]interface {}",
                    actual: kind_name(kind_of(v)),
                });
            };
            let Some(merge_value) = typed.get(merge_key) else {
                return Err(no_merge_key(typed, merge_key));
            };
            match find_map_in_slice(&original, merge_key, merge_value)? {
                Some(i) => {
                    let Value::Object(o) = std::mem::take(&mut original[i]) else {
                        return Err(PatchError::NotAMap(i));
                    };
                    original[i] = Value::Object(self.merge_map(o, typed.clone(), path)?);
                }
                None => original.push(v.clone()),
            }
        }
        Ok(original)
    }
}

/// Removes `k` keeping the order of the other keys.
fn remove_key(m: &mut Map<String, Value>, k: &str) {
    m.retain(|key, _| key != k);
}

fn no_merge_key(m: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::NoMergeKey {
        map: show(m),
        key: key.to_string(),
    }
}

/// `handleDirectiveInMergeMap`.
fn handle_directive_in_merge_map(
    directive: &Value,
    mut patch: Map<String, Value>,
) -> Result<Map<String, Value>, PatchError> {
    match directive.as_str() {
        Some(REPLACE_DIRECTIVE) => {
            patch.remove(DIRECTIVE_MARKER);
            Ok(patch)
        }
        Some(DELETE_DIRECTIVE) => Ok(Map::new()),
        _ => Err(PatchError::BadPatchType {
            directive: directive
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| show(directive)),
            map: show(&patch),
        }),
    }
}

/// `extractKey`: `$setElementOrder/containers` → `containers`.
fn extract_key(s: &str, prefix: &str) -> Result<String, PatchError> {
    match s.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest.to_string()),
        _ => Err(if prefix == DELETE_FROM_PRIMITIVE_LIST_PREFIX {
            PatchError::BadPatchFormatForPrimitiveList
        } else {
            PatchError::BadPatchFormatForSetElementOrderList
        }),
    }
}

/// `applyRetainKeysDirective` (with `MergeParallelList`).
fn apply_retain_keys_directive(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::BadPatchFormatForRetainKeys);
    };
    let retained = |k: &str| retain.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        {
            continue;
        }
        if !retained(k) {
            return Err(PatchError::BadPatchFormatForRetainKeys);
        }
    }
    original.retain(|k, _| retained(k));
    Ok(())
}

/// `discardNullValuesFromPatch`.
fn discard_null_values(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(discard_null_values);
        }
        Value::Array(a) => a.iter_mut().for_each(discard_null_values),
        _ => {}
    }
}

/// `removeDirectives`: drops maps carrying `$patch` (None = drop the field).
fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE_MARKER) {
                return None;
            }
            Some(Value::Object(
                m.into_iter()
                    .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                    .collect(),
            ))
        }
        Value::Array(a) => Some(Value::Array(
            a.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

fn element_kind(m: &Value) -> Option<&Map<String, Value>> {
    m.as_object()
}

/// `validatePatchWithSetOrderList`.
fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<Value> = if merge_key.is_empty() {
        patch_list.to_vec()
    } else {
        extract_to_delete_items(patch_list.to_vec())?.0
    };
    let (mut pi, mut oi) = (0, 0);
    while pi < non_delete.len() && oi < order.len() {
        if element_kind(&non_delete[pi]).is_some_and(|m| m.contains_key(DIRECTIVE_MARKER)) {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(&non_delete[pi], &order[oi], merge_key)? {
            pi += 1;
        }
        oi += 1;
    }
    if pi < non_delete.len() && oi >= order.len() {
        return Err(PatchError::SetElementOrderMismatch {
            patch: show(&patch_list),
            order: show(&order),
        });
    }
    Ok(())
}

/// `mergeKeyValueEqual`.
fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(json_eq(left, right));
    }
    let (Value::Object(l), Value::Object(r)) = (left, right) else {
        return Err(PatchError::BadArgType {
            expected: "map[string]interface {}",
            actual: kind_name(if left.is_object() {
                kind_of(right)
            } else {
                kind_of(left)
            }),
        });
    };
    let lv = l.get(merge_key).ok_or_else(|| no_merge_key(l, merge_key))?;
    let rv = r.get(merge_key).ok_or_else(|| no_merge_key(r, merge_key))?;
    Ok(json_eq(lv, rv))
}

/// `extractToDeleteItems`: (kept, `$patch: delete` items).
fn extract_to_delete_items(l: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut keep = Vec::new();
    let mut delete = Vec::new();
    for v in l {
        let Value::Object(m) = &v else {
            return Err(PatchError::BadArgType {
                expected: "map[string]interface {}",
                actual: kind_name(kind_of(&v)),
            });
        };
        if m.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some(DELETE_DIRECTIVE) {
            delete.push(v);
        } else {
            keep.push(v);
        }
    }
    Ok((keep, delete))
}

/// `mergeSliceWithSpecialElements`: applies `$patch: delete|replace` items.
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut without = Vec::new();
    let mut replace = false;
    for v in patch {
        let Value::Object(typed) = &v else {
            return Err(PatchError::BadArgType {
                expected: "map[string]interface {}",
                actual: kind_name(kind_of(&v)),
            });
        };
        match typed.get(DIRECTIVE_MARKER) {
            None => without.push(v),
            Some(d) => match d.as_str() {
                Some(DELETE_DIRECTIVE) => match typed.get(merge_key) {
                    Some(mv) => original = delete_matching_entries(original, merge_key, mv)?,
                    None => return Err(no_merge_key(typed, merge_key)),
                },
                Some(REPLACE_DIRECTIVE) => replace = true,
                Some(MERGE_DIRECTIVE) => return Err(PatchError::MergeDirectiveInList),
                _ => {
                    return Err(PatchError::BadPatchType {
                        directive: d.as_str().map(str::to_string).unwrap_or_else(|| show(d)),
                        map: show(typed),
                    })
                }
            },
        }
    }
    if replace {
        Ok((without, Vec::new()))
    } else {
        Ok((original, without))
    }
}

/// `deleteMatchingEntries`.
fn delete_matching_entries(
    mut original: Vec<Value>,
    merge_key: &str,
    merge_value: &Value,
) -> Result<Vec<Value>, PatchError> {
    while let Some(i) = find_map_in_slice(&original, merge_key, merge_value)? {
        original.remove(i);
    }
    Ok(original)
}

/// `findMapInSliceBasedOnKeyValue`.
fn find_map_in_slice(
    list: &[Value],
    key: &str,
    value: &Value,
) -> Result<Option<usize>, PatchError> {
    for (i, v) in list.iter().enumerate() {
        let Value::Object(m) = v else {
            return Err(PatchError::NotAMap(i));
        };
        if m.get(key).is_some_and(|x| json_eq(x, value)) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// `deleteFromSlice`: the `$deleteFromPrimitiveList` parallel list.
fn delete_from_slice(current: Vec<Value>, to_delete: &[Value]) -> Vec<Value> {
    current
        .into_iter()
        .filter(|v| !contains(to_delete, v))
        .collect()
}

/// `deduplicateScalars`, including its order quirk (a later duplicate is
/// overwritten by the last element).
fn deduplicate_scalars(mut s: Vec<Value>) -> Vec<Value> {
    if s.is_empty() {
        return s;
    }
    let mut length = s.len() - 1;
    let mut i = 0;
    while i < length {
        let mut j = i + 1;
        while j <= length {
            if json_eq(&s[i], &s[j]) {
                s[j] = s[length].clone();
                s.truncate(length);
                length -= 1;
                continue; // j-- then j++: re-check position j
            }
            j += 1;
        }
        i += 1;
    }
    s
}

/// `sliceElementType`.
fn slice_element_type(slices: &[&[Value]]) -> Result<Kind, PatchError> {
    let mut prev: Option<Kind> = None;
    for s in slices {
        for v in s.iter() {
            let k = kind_of(v);
            match prev {
                None => {
                    if k == Kind::Array {
                        return Err(PatchError::NoListOfLists);
                    }
                    prev = Some(k);
                }
                Some(p) if p != k => {
                    return Err(PatchError::MixedListTypes(show(&slices)));
                }
                Some(_) => {}
            }
        }
    }
    prev.ok_or(PatchError::NoElements)
}

/// `partitionPrimitivesByPresentInList`.
fn partition_primitives_by_present_in_list(
    original: Vec<Value>,
    partition_by: &[Value],
) -> (Vec<Value>, Vec<Value>) {
    original
        .into_iter()
        .partition(|v| contains(partition_by, v))
}

/// `partitionMapsByPresentInList`.
fn partition_maps_by_present_in_list(
    original: Vec<Value>,
    partition_by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut patch = Vec::new();
    let mut server_only = Vec::new();
    for v in original {
        let Value::Object(m) = &v else {
            return Err(PatchError::BadArgType {
                expected: "map[string]interface {}",
                actual: kind_name(kind_of(&v)),
            });
        };
        let Some(mv) = m.get(merge_key) else {
            return Err(no_merge_key(m, merge_key));
        };
        if find_map_in_slice(partition_by, merge_key, mv)?.is_some() {
            patch.push(v);
        } else {
            server_only.push(v);
        }
    }
    Ok((patch, server_only))
}

/// `index`: position of `val` in `list`, by merge key for maps. A missing
/// merge key compares like Go's `nil == nil`.
fn index(list: &[Value], val: &Value, merge_key: &str, kind: Kind) -> isize {
    let get = |item: &Value| -> Option<Value> {
        if kind == Kind::Object {
            item.as_object().and_then(|m| m.get(merge_key)).cloned()
        } else {
            Some(item.clone())
        }
    };
    let needle = get(val);
    for (i, v) in list.iter().enumerate() {
        let hay = get(v);
        let eq = match (&needle, &hay) {
            (None, None) => true,
            (Some(a), Some(b)) => json_eq(a, b),
            _ => false,
        };
        if eq {
            return i as isize;
        }
    }
    -1
}

/// `normalizeElementOrder`.
fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let patch = normalize_slice_order(patch, patch_order, merge_key, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    Ok(merge_sorted_slice(
        server_only,
        patch,
        server_order,
        merge_key,
        kind,
    ))
}

/// `normalizeSliceOrder`: sorts by position in `order` (Go's
/// `sort.SliceStable` with upstream's comparator), `$patch: delete` items last.
fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let (mut to_sort, to_delete) = if kind == Kind::Object {
        for item in to_sort.iter().chain(order) {
            let Value::Object(m) = item else {
                return Err(PatchError::BadArgType {
                    expected: "map[string]interface {}",
                    actual: kind_name(kind_of(item)),
                });
            };
            if !m.contains_key(merge_key) {
                return Err(no_merge_key(m, merge_key));
            }
        }
        extract_to_delete_items(to_sort)?
    } else {
        (to_sort, Vec::new())
    };
    go_slice_stable(&mut to_sort, |a, b| {
        let ia = index(order, a, merge_key, kind);
        if ia >= 0 {
            let ib = index(order, b, merge_key, kind);
            if ib >= 0 {
                return ia < ib;
            }
        }
        true
    });
    to_sort.extend(to_delete);
    Ok(to_sort)
}

/// `mergeSortedSlice`: interleaves server-only items (`left`) into patch
/// items (`right`) by their position in the live list.
fn merge_sorted_slice(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Vec<Value> {
    let less = |l: &Value, r: &Value| -> (bool, bool) {
        let li = index(server_order, l, merge_key, kind);
        let ri = index(server_order, r, merge_key, kind);
        if li >= 0 && ri >= 0 {
            (li < ri, true)
        } else {
            (false, false)
        }
    };
    let size = left.len() + right.len();
    let (mut i, mut j) = (0, 0);
    let mut s = Vec::with_capacity(size);
    for _ in 0..size {
        if i >= left.len() && j < right.len() {
            s.push(right[j].clone());
            j += 1;
        } else if j >= right.len() && i < left.len() {
            s.push(left[i].clone());
            i += 1;
        } else {
            let (is_less, found_both) = less(&left[i], &right[j]);
            if found_both && is_less {
                s.push(left[i].clone());
                i += 1;
            } else {
                s.push(right[j].clone());
                j += 1;
            }
        }
    }
    s
}

/// Go's `sort.SliceStable` (insertion sort in blocks of 20, then
/// `symMerge`), reproduced because upstream's comparator is not a strict weak
/// order and any other algorithm would order some lists differently.
fn go_slice_stable<T, F: Fn(&T, &T) -> bool>(data: &mut [T], less: F) {
    let n = data.len();
    let mut block = 20;
    let (mut a, mut b) = (0, block);
    while b <= n {
        insertion_sort(data, a, b, &less);
        a = b;
        b += block;
    }
    insertion_sort(data, a, n, &less);
    while block < n {
        a = 0;
        b = 2 * block;
        while b <= n {
            sym_merge(data, a, a + block, b, &less);
            a = b;
            b += 2 * block;
        }
        let m = a + block;
        if m < n {
            sym_merge(data, a, m, n, &less);
        }
        block *= 2;
    }
}

fn insertion_sort<T, F: Fn(&T, &T) -> bool>(data: &mut [T], a: usize, b: usize, less: &F) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(&data[j], &data[j - 1]) {
            data.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn sym_merge<T, F: Fn(&T, &T) -> bool>(data: &mut [T], a: usize, m: usize, b: usize, less: &F) {
    if m - a == 1 {
        let (mut i, mut j) = (m, b);
        while i < j {
            let h = (i + j) / 2;
            if less(&data[h], &data[a]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        let mut k = a;
        while k + 1 < i {
            data.swap(k, k + 1);
            k += 1;
        }
        return;
    }
    if b - m == 1 {
        let (mut i, mut j) = (a, m);
        while i < j {
            let h = (i + j) / 2;
            if !less(&data[m], &data[h]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        let mut k = m;
        while k > i {
            data.swap(k, k - 1);
            k -= 1;
        }
        return;
    }
    let mid = (a + b) / 2;
    let n = mid + m;
    let (mut start, mut r) = if m > mid { (n - b, mid) } else { (a, m) };
    let p = n - 1;
    while start < r {
        let c = (start + r) / 2;
        if !less(&data[p - c], &data[c]) {
            start = c + 1;
        } else {
            r = c;
        }
    }
    let end = n - start;
    if start < m && m < end {
        rotate(data, start, m, end);
    }
    if a < start && start < mid {
        sym_merge(data, a, start, mid, less);
    }
    if mid < end && end < b {
        sym_merge(data, mid, end, b, less);
    }
}

fn rotate<T>(data: &mut [T], a: usize, m: usize, b: usize) {
    let mut i = m - a;
    let mut j = b - m;
    while i != j {
        if i > j {
            swap_range(data, m - i, m, j);
            i -= j;
        } else {
            swap_range(data, m - i, m + j - i, i);
            j -= i;
        }
    }
    swap_range(data, m - i, m, i);
}

fn swap_range<T>(data: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        data.swap(a + i, b + i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Case {
        name: &'static str,
        schema: &'static PatchSchema,
        original: Value,
        patch: Value,
        want: Value,
    }

    fn run(cases: Vec<Case>) {
        for c in cases {
            let got = apply(&c.original, &c.patch, c.schema)
                .unwrap_or_else(|e| panic!("{}: unexpected error {e}", c.name));
            assert_eq!(got, c.want, "case {}", c.name);
        }
    }

    fn job_with_containers(containers: Value) -> Value {
        json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi"},
               "spec":{"template":{"spec":{"containers":containers,"restartPolicy":"Never"}}}})
    }

    #[test]
    fn kubectl_apply_patch_on_job() {
        // The body kubectl 1.32's client-side apply sent (kubectl-api-surface.md §5).
        let original = json!({
            "apiVersion":"batch/v1","kind":"Job",
            "metadata":{"name":"pi","namespace":"default","labels":{"x":"y"},
                        "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"old"}},
            "spec":{"backoffLimit":4,"template":{"spec":{
                "containers":[{"name":"pi","image":"perl","env":[{"name":"A","value":"1"},{"name":"B","value":"b"}]}],
                "restartPolicy":"Never"}}}
        });
        let patch = json!({
            "metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"new"},"labels":{"team":"a"}},
            "spec":{"template":{"spec":{
                "$setElementOrder/containers":[{"name":"pi"}],
                "containers":[{"env":[{"name":"A","value":"2"}],"name":"pi"}]}}}
        });
        let want = json!({
            "apiVersion":"batch/v1","kind":"Job",
            "metadata":{"name":"pi","namespace":"default","labels":{"x":"y","team":"a"},
                        "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"new"}},
            "spec":{"backoffLimit":4,"template":{"spec":{
                "containers":[{"name":"pi","image":"perl","env":[{"name":"A","value":"2"},{"name":"B","value":"b"}]}],
                "restartPolicy":"Never"}}}
        });
        assert_eq!(apply(&original, &patch, PatchSchema::job()).unwrap(), want);
    }

    #[test]
    fn job_controller_removes_tracking_finalizer() {
        // pkg/controller/job/job_controller.go removeTrackingFinalizerPatch.
        let pod = json!({"metadata":{"name":"p","finalizers":["a","batch.kubernetes.io/job-tracking","b"]}});
        let patch = json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["batch.kubernetes.io/job-tracking"]}});
        let got = apply(&pod, &patch, PatchSchema::pod()).unwrap();
        assert_eq!(got, json!({"metadata":{"name":"p","finalizers":["a","b"]}}));
        // Absent list: nothing to delete, nothing added.
        let bare = json!({"metadata":{"name":"p"}});
        assert_eq!(apply(&bare, &patch, PatchSchema::pod()).unwrap(), bare);
    }

    #[test]
    fn table() {
        run(vec![
            Case {
                name: "null deletes a key; unknown null is ignored",
                schema: PatchSchema::job(),
                original: json!({"spec":{"parallelism":2,"suspend":true}}),
                patch: json!({"spec":{"suspend":null,"completions":null}}),
                want: json!({"spec":{"parallelism":2}}),
            },
            Case {
                name: "scalar replace and map merge",
                schema: PatchSchema::job(),
                original: json!({"metadata":{"labels":{"a":"1","b":"2"}},"spec":{"parallelism":1}}),
                patch: json!({"metadata":{"labels":{"a":"x","b":null,"c":"3"}},"spec":{"parallelism":3}}),
                want: json!({"metadata":{"labels":{"a":"x","c":"3"}},"spec":{"parallelism":3}}),
            },
            Case {
                name: "new nested value drops its nulls and $patch maps",
                schema: PatchSchema::job(),
                original: json!({"spec":{}}),
                patch: json!({"spec":{"selector":{"matchLabels":{"a":"b","c":null},"x":{"$patch":"delete"}}}}),
                want: json!({"spec":{"selector":{"matchLabels":{"a":"b"}}}}),
            },
            Case {
                name: "containers merge by name; new container appended after (patch order first)",
                schema: PatchSchema::job(),
                original: job_with_containers(json!([{"name":"a","image":"1"}])),
                patch: json!({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"2"}]}}}}),
                // Upstream mergeSortedSlice puts patch items whose key is not
                // in the live list first.
                want: job_with_containers(
                    json!([{"name":"b","image":"2"},{"name":"a","image":"1"}]),
                ),
            },
            Case {
                name: "$setElementOrder places new container last",
                schema: PatchSchema::job(),
                original: job_with_containers(json!([{"name":"a","image":"1"}])),
                patch: json!({"spec":{"template":{"spec":{
                    "$setElementOrder/containers":[{"name":"a"},{"name":"b"}],
                    "containers":[{"name":"b","image":"2"}]}}}}),
                want: job_with_containers(
                    json!([{"name":"a","image":"1"},{"name":"b","image":"2"}]),
                ),
            },
            Case {
                name: "$setElementOrder reorders existing items",
                schema: PatchSchema::job(),
                original: job_with_containers(json!([{"name":"a"},{"name":"b"},{"name":"c"}])),
                patch: json!({"spec":{"template":{"spec":{
                    "$setElementOrder/containers":[{"name":"c"},{"name":"a"},{"name":"b"}]}}}}),
                want: job_with_containers(json!([{"name":"c"},{"name":"a"},{"name":"b"}])),
            },
            Case {
                name: "$patch: delete in a list removes by merge key",
                schema: PatchSchema::job(),
                original: job_with_containers(json!([{"name":"a"},{"name":"b"}])),
                patch: json!({"spec":{"template":{"spec":{"containers":[{"name":"a","$patch":"delete"}]}}}}),
                want: job_with_containers(json!([{"name":"b"}])),
            },
            Case {
                name: "kubectl apply removing a container: $setElementOrder + $patch delete",
                schema: PatchSchema::job(),
                original: job_with_containers(json!([{"name":"a"},{"name":"b"},{"name":"c"}])),
                patch: json!({"spec":{"template":{"spec":{
                    "$setElementOrder/containers":[{"name":"c"},{"name":"a"}],
                    "containers":[{"$patch":"delete","name":"b"}]}}}}),
                want: job_with_containers(json!([{"name":"c"},{"name":"a"}])),
            },
            Case {
                name: "env var removed and another changed in one patch",
                schema: PatchSchema::job(),
                original: job_with_containers(
                    json!([{"name":"a","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]),
                ),
                patch: json!({"spec":{"template":{"spec":{"containers":[{"name":"a",
                    "$setElementOrder/env":[{"name":"A"}],
                    "env":[{"$patch":"delete","name":"B"},{"name":"A","value":"9"}]}]}}}}),
                want: job_with_containers(json!([{"name":"a","env":[{"name":"A","value":"9"}]}])),
            },
            Case {
                name: "$patch: replace on a list",
                schema: PatchSchema::job(),
                original: job_with_containers(json!([{"name":"a","image":"1"},{"name":"b"}])),
                patch: json!({"spec":{"template":{"spec":{"containers":[{"name":"c","image":"3"},{"$patch":"replace"}]}}}}),
                want: job_with_containers(json!([{"name":"c","image":"3"}])),
            },
            Case {
                name: "$patch: replace on a map",
                schema: PatchSchema::job(),
                original: json!({"spec":{"selector":{"matchLabels":{"a":"1"},"matchExpressions":[]}}}),
                patch: json!({"spec":{"selector":{"$patch":"replace","matchLabels":{"b":"2"}}}}),
                want: json!({"spec":{"selector":{"matchLabels":{"b":"2"}}}}),
            },
            Case {
                name: "$patch: delete on an existing map leaves it empty",
                schema: PatchSchema::job(),
                original: json!({"spec":{"selector":{"matchLabels":{"a":"1"}}}}),
                patch: json!({"spec":{"selector":{"$patch":"delete"}}}),
                want: json!({"spec":{"selector":{}}}),
            },
            Case {
                name: "atomic lists (args, tolerations) are replaced",
                schema: PatchSchema::pod(),
                original: json!({"spec":{"tolerations":[{"key":"a"}],"containers":[{"name":"c","args":["1","2"]}]}}),
                patch: json!({"spec":{"tolerations":[{"key":"b"}],"containers":[{"name":"c","args":["3"]}]}}),
                want: json!({"spec":{"tolerations":[{"key":"b"}],"containers":[{"name":"c","args":["3"]}]}}),
            },
            Case {
                name: "env merges by name, ports by containerPort, volumeMounts by mountPath",
                schema: PatchSchema::pod(),
                original: json!({"spec":{"containers":[{"name":"c",
                    "env":[{"name":"A","value":"1"}],
                    "ports":[{"containerPort":80,"name":"http"}],
                    "volumeMounts":[{"mountPath":"/a","name":"v1"}]}]}}),
                patch: json!({"spec":{"containers":[{"name":"c",
                    "env":[{"name":"A","value":"2"}],
                    "ports":[{"containerPort":80,"protocol":"TCP"}],
                    "volumeMounts":[{"mountPath":"/a","readOnly":true}]}]}}),
                want: json!({"spec":{"containers":[{"name":"c",
                    "env":[{"name":"A","value":"2"}],
                    "ports":[{"containerPort":80,"name":"http","protocol":"TCP"}],
                    "volumeMounts":[{"mountPath":"/a","name":"v1","readOnly":true}]}]}}),
            },
            Case {
                name: "finalizers merge as a set",
                schema: PatchSchema::pod(),
                original: json!({"metadata":{"finalizers":["a","b"]}}),
                patch: json!({"metadata":{"finalizers":["b","c"]}}),
                want: json!({"metadata":{"finalizers":["a","b","c"]}}),
            },
            Case {
                name: "finalizers: an item unknown to the live list goes first",
                schema: PatchSchema::pod(),
                original: json!({"metadata":{"finalizers":["a","b"]}}),
                patch: json!({"metadata":{"finalizers":["c"]}}),
                want: json!({"metadata":{"finalizers":["c","a","b"]}}),
            },
            Case {
                name: "finalizers with $setElementOrder",
                schema: PatchSchema::pod(),
                original: json!({"metadata":{"finalizers":["a","b"]}}),
                patch: json!({"metadata":{"$setElementOrder/finalizers":["a","b","c"],"finalizers":["c"]}}),
                want: json!({"metadata":{"finalizers":["a","b","c"]}}),
            },
            Case {
                name: "deleteFromPrimitiveList with additions",
                schema: PatchSchema::pod(),
                original: json!({"metadata":{"finalizers":["a","b"]}}),
                patch: json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"finalizers":["c"]}}),
                want: json!({"metadata":{"finalizers":["c","b"]}}),
            },
            Case {
                name: "ownerReferences merge by uid",
                schema: PatchSchema::pod(),
                original: json!({"metadata":{"ownerReferences":[{"uid":"1","name":"a"},{"uid":"2","name":"b"}]}}),
                patch: json!({"metadata":{"ownerReferences":[{"uid":"2","controller":true}]}}),
                want: json!({"metadata":{"ownerReferences":[{"uid":"1","name":"a"},{"uid":"2","name":"b","controller":true}]}}),
            },
            Case {
                name: "untagged list of maps (podFailurePolicy.rules) is replaced",
                schema: PatchSchema::job(),
                original: json!({"spec":{"podFailurePolicy":{"rules":[{"action":"FailJob"}]}}}),
                patch: json!({"spec":{"podFailurePolicy":{"rules":[{"action":"Ignore"}]}}}),
                want: json!({"spec":{"podFailurePolicy":{"rules":[{"action":"Ignore"}]}}}),
            },
            Case {
                name: "$retainKeys switches a volume source",
                schema: PatchSchema::pod(),
                original: json!({"spec":{"volumes":[{"name":"v","emptyDir":{}}]}}),
                patch: json!({"spec":{"volumes":[{"name":"v","$retainKeys":["hostPath","name"],"hostPath":{"path":"/x"}}]}}),
                want: json!({"spec":{"volumes":[{"name":"v","hostPath":{"path":"/x"}}]}}),
            },
            Case {
                name: "job status conditions merge by type",
                schema: PatchSchema::job(),
                original: json!({"status":{"conditions":[{"type":"Suspended","status":"True"}]}}),
                patch: json!({"status":{"conditions":[{"type":"Suspended","status":"False"}]}}),
                want: json!({"status":{"conditions":[{"type":"Suspended","status":"False"}]}}),
            },
            Case {
                name: "type change takes the patch value",
                schema: PatchSchema::job(),
                original: json!({"spec":{"x":"s"}}),
                patch: json!({"spec":{"x":{"a":1,"b":null}}}),
                want: json!({"spec":{"x":{"a":1}}}),
            },
            Case {
                name: "top-level $patch: replace",
                schema: PatchSchema::job(),
                original: json!({"a":1,"b":2}),
                patch: json!({"$patch":"replace","c":3}),
                want: json!({"c":3}),
            },
            Case {
                name: "directive keys do not leak into new values",
                schema: PatchSchema::job(),
                original: json!({"spec":{}}),
                patch: json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"a"}],"containers":[{"name":"a"}]}}}}),
                want: json!({"spec":{"template":{"spec":{"containers":[{"name":"a"}]}}}}),
            },
        ]);
    }

    #[test]
    fn errors() {
        let cases: Vec<(&str, Value, Value, PatchError)> = vec![
            (
                "missing merge key",
                job_with_containers(json!([{"name":"a"}])),
                json!({"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}),
                PatchError::NoMergeKey {
                    map: r#"{"image":"x"}"#.into(),
                    key: "name".into(),
                },
            ),
            (
                "$patch: merge in a list",
                job_with_containers(json!([{"name":"a"}])),
                json!({"spec":{"template":{"spec":{"containers":[{"name":"a","$patch":"merge"}]}}}}),
                PatchError::MergeDirectiveInList,
            ),
            (
                "unknown $patch in a map",
                json!({"spec":{"selector":{}}}),
                json!({"spec":{"selector":{"$patch":"bogus"}}}),
                PatchError::BadPatchType {
                    directive: "bogus".into(),
                    map: r#"{"$patch":"bogus"}"#.into(),
                },
            ),
            (
                "patch key outside $retainKeys",
                json!({"spec":{"volumes":[{"name":"v","emptyDir":{}}]}}),
                json!({"spec":{"volumes":[{"name":"v","$retainKeys":["name"],"hostPath":{"path":"/x"}}]}}),
                PatchError::BadPatchFormatForRetainKeys,
            ),
            (
                "$setElementOrder disagrees with the patch list",
                job_with_containers(json!([{"name":"a"},{"name":"b"}])),
                json!({"spec":{"template":{"spec":{
                    "$setElementOrder/containers":[{"name":"a"}],
                    "containers":[{"name":"b"}]}}}}),
                PatchError::SetElementOrderMismatch {
                    patch: r#"[{"name":"b"}]"#.into(),
                    order: r#"[{"name":"a"}]"#.into(),
                },
            ),
            (
                "list of lists in a merging list",
                json!({"metadata":{"finalizers":[]}}),
                json!({"metadata":{"finalizers":[["b"]]}}),
                PatchError::NoListOfLists,
            ),
            (
                "patch is not an object",
                json!({}),
                json!([1]),
                PatchError::BadJsonDoc,
            ),
        ];
        for (name, original, patch, want) in cases {
            let got = apply(&original, &patch, pod_or_job_for_test(&original));
            assert_eq!(got, Err(want), "case {name}");
        }
    }

    fn pod_or_job_for_test(original: &Value) -> &'static PatchSchema {
        if original.pointer("/spec/template").is_some() {
            PatchSchema::job()
        } else {
            PatchSchema::pod()
        }
    }

    #[test]
    fn go_slice_stable_matches_go_on_inconsistent_comparator() {
        // normalizeSliceOrder's comparator reports "less" for any item not in
        // `order`; Go's insertion sort therefore moves such items forward,
        // and the found "b" then jumps over "x" as well (hand-traced).
        let order = [json!("b"), json!("a")];
        let got = normalize_slice_order(
            vec![json!("a"), json!("x"), json!("b")],
            &order,
            "",
            Kind::String,
        )
        .unwrap();
        assert_eq!(got, vec![json!("b"), json!("x"), json!("a")]);
        // A consistent comparator over > 20 items exercises symMerge.
        let mut v: Vec<i32> = (0..57).rev().collect();
        go_slice_stable(&mut v, |a, b| a < b);
        assert_eq!(v, (0..57).collect::<Vec<_>>());
    }

    #[test]
    fn deduplicate_scalars_keeps_go_quirk() {
        let got = deduplicate_scalars(vec![json!("a"), json!("a"), json!("b"), json!("c")]);
        assert_eq!(got, vec![json!("a"), json!("c"), json!("b")]);
    }

    #[test]
    fn schema_tags_published() {
        let job = PatchSchema::job();
        let c = job
            .lookup(&["spec", "template", "spec", "containers"])
            .unwrap();
        assert_eq!(c.merge_key, Some("name"));
        assert_eq!(c.strategy_string().as_deref(), Some("merge"));
        let v = job
            .lookup(&["spec", "template", "spec", "volumes"])
            .unwrap();
        assert_eq!(v.strategy_string().as_deref(), Some("merge,retainKeys"));
        assert_eq!(
            job.lookup(&["spec", "template", "spec", "containers", "volumeMounts"])
                .unwrap()
                .merge_key,
            Some("mountPath")
        );
        assert!(job
            .lookup(&["spec", "template", "spec", "tolerations"])
            .is_none());
        assert_eq!(
            api::resources::EVENTS
                .strategy
                .patch_schema()
                .entries()
                .len(),
            2
        );
    }
}
