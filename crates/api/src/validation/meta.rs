//! `metadata` validation on create and update.
//! Upstream: `staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go`.

use super::field::{FieldError, FieldPath};
use super::names::{
    name_is_dns_label, validate_annotations, validate_labels, validate_qualified_name,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// A name rule: `(name, is_prefix) -> messages` (upstream `ValidateNameFunc`).
pub type NameFn = fn(&str, bool) -> Vec<String>;

/// `ValidateObjectMeta`. It expects `generateName` to have been expanded
/// already, exactly like upstream (the server generates the name first).
pub fn validate_object_meta(
    meta: &ObjectMeta,
    requires_namespace: bool,
    name_fn: NameFn,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(gn) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        for m in name_fn(gn, true) {
            errs.push(FieldError::invalid(&path.child("generateName"), gn, m));
        }
    }
    match meta.name.as_deref().filter(|n| !n.is_empty()) {
        None => errs.push(FieldError::required(
            &path.child("name"),
            "name or generateName is required",
        )),
        Some(name) => {
            for m in name_fn(name, false) {
                errs.push(FieldError::invalid(&path.child("name"), name, m));
            }
        }
    }
    let ns = meta.namespace.as_deref().unwrap_or_default();
    if requires_namespace {
        if ns.is_empty() {
            errs.push(FieldError::required(&path.child("namespace"), ""));
        } else {
            for m in name_is_dns_label(ns, false) {
                errs.push(FieldError::invalid(&path.child("namespace"), ns, m));
            }
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden(
            &path.child("namespace"),
            "not allowed on this type",
        ));
    }
    if let Some(g) = meta.generation.filter(|g| *g < 0) {
        errs.push(FieldError::invalid(
            &path.child("generation"),
            g,
            super::IS_NEGATIVE_ERROR_MSG,
        ));
    }
    errs.extend(validate_common_meta(meta, path));
    errs
}

/// Labels, annotations, owner references and finalizers: checked on create and update.
fn validate_common_meta(meta: &ObjectMeta, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = validate_labels(meta.labels.as_ref(), &path.child("labels"));
    errs.extend(validate_annotations(
        meta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    let owners_path = path.child("ownerReferences");
    let mut first_controller: Option<String> = None;
    for r in meta.owner_references.iter().flatten() {
        let version = r.api_version.rsplit('/').next().unwrap_or_default();
        if version.is_empty() {
            errs.push(FieldError::invalid(
                &owners_path.child("apiVersion"),
                r.api_version.as_str(),
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(FieldError::invalid(
                &owners_path.child("kind"),
                "",
                "must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(FieldError::invalid(
                &owners_path.child("name"),
                "",
                "must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(FieldError::invalid(
                &owners_path.child("uid"),
                "",
                "must not be empty",
            ));
        }
        if r.controller == Some(true) {
            let cur = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    &owners_path,
                    serde_json::to_value(meta.owner_references.as_ref()).unwrap_or(Value::Null),
                    format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {cur}"),
                )),
                None => first_controller = Some(cur),
            }
        }
    }
    let fin_path = path.child("finalizers");
    let finalizers = meta.finalizers.as_deref().unwrap_or_default();
    for f in finalizers {
        errs.extend(validate_qualified_name(f, &fin_path));
    }
    if finalizers.iter().any(|f| f == "orphan")
        && finalizers.iter().any(|f| f == "foregroundDeletion")
    {
        errs.push(FieldError::invalid(
            &fin_path,
            Value::from(finalizers.to_vec()),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// `ValidateObjectMetaUpdate`: identity fields are immutable. The resource
/// version check is left out because the server fills it in for
/// unconditional updates before validating, as upstream's generic store does.
/// Note: this clones `new` to restore the server-owned fields.
pub fn validate_object_meta_update(
    new: &ObjectMeta,
    old: &ObjectMeta,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old.deletion_timestamp.is_some() {
        let old_f = old.finalizers.as_deref().unwrap_or_default();
        let mut extra: Vec<&String> = new
            .finalizers
            .iter()
            .flatten()
            .filter(|f| !old_f.contains(f))
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            let list: Vec<String> = extra.iter().map(|f| super::field::go_quote(f)).collect();
            errs.push(FieldError::forbidden(
                &path.child("finalizers"),
                format!("no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}", list.join(", ")),
            ));
        }
    }
    // Server-owned fields are restored from the old object first, as the
    // generic registry's `rest.BeforeUpdate` does, so a client that omits
    // them is not rejected. (`generation` is owned by the store, so the
    // "must not be decremented" rule, unreachable upstream, is left out.)
    let mut restored = new.clone();
    prepare_meta_for_update(&mut restored, old);
    let new = &restored;
    let immutable = |errs: &mut Vec<FieldError>, name: &str, a: Value, b: Value| {
        if a != b {
            errs.push(FieldError::invalid(
                &path.child(name),
                a,
                super::FIELD_IMMUTABLE,
            ));
        }
    };
    let s = |v: &Option<String>| Value::String(v.clone().unwrap_or_default());
    immutable(&mut errs, "name", s(&new.name), s(&old.name));
    immutable(&mut errs, "namespace", s(&new.namespace), s(&old.namespace));
    immutable(&mut errs, "uid", s(&new.uid), s(&old.uid));
    immutable(
        &mut errs,
        "creationTimestamp",
        super::to_json(&new.creation_timestamp),
        super::to_json(&old.creation_timestamp),
    );
    immutable(
        &mut errs,
        "deletionTimestamp",
        super::to_json(&new.deletion_timestamp),
        super::to_json(&old.deletion_timestamp),
    );
    immutable(
        &mut errs,
        "deletionGracePeriodSeconds",
        super::to_json(&new.deletion_grace_period_seconds),
        super::to_json(&old.deletion_grace_period_seconds),
    );
    errs.extend(validate_common_meta(new, path));
    errs
}

/// The metadata part of `rest.BeforeUpdate`: an update cannot change or drop
/// the server-owned fields, so they are carried over from the stored object
/// (an empty `uid`, `creationTimestamp`, `deletionTimestamp`, and a missing
/// `deletionGracePeriodSeconds`). `generation` is left to the store.
pub fn prepare_meta_for_update(new: &mut ObjectMeta, old: &ObjectMeta) {
    if new.uid.as_deref().unwrap_or_default().is_empty() {
        new.uid = old.uid.clone();
    }
    if old.creation_timestamp.is_some() {
        new.creation_timestamp = old.creation_timestamp.clone();
    }
    if old.deletion_timestamp.is_some() {
        new.deletion_timestamp = old.deletion_timestamp.clone();
    }
    if old.deletion_grace_period_seconds.is_some() && new.deletion_grace_period_seconds.is_none() {
        new.deletion_grace_period_seconds = old.deletion_grace_period_seconds;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::names::name_is_dns_subdomain;
    use std::collections::BTreeMap;

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..Default::default()
        }
    }

    #[test]
    fn object_meta_rules() {
        let md = FieldPath::new("metadata");
        let mut bad_label = meta("x");
        bad_label.labels = Some(BTreeMap::from([("a b".to_string(), "v".to_string())]));
        let mut bad_ns = meta("x");
        bad_ns.namespace = Some("Bad".into());
        let mut no_ns = meta("x");
        no_ns.namespace = None;
        let cases: Vec<(ObjectMeta, bool, Vec<&str>)> = vec![
            (meta("ok"), true, vec![]),
            (ObjectMeta { namespace: Some("d".into()), ..Default::default() }, true, vec!["metadata.name: Required value: name or generateName is required"]),
            (meta("Bad_Name"), true, vec!["metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
            (no_ns, true, vec!["metadata.namespace: Required value"]),
            (meta("x"), false, vec!["metadata.namespace: Forbidden: not allowed on this type"]),
            (bad_ns, true, vec!["metadata.namespace: Invalid value: \"Bad\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]),
            (bad_label, true, vec!["metadata.labels: Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]),
        ];
        for (m, ns, want) in cases {
            let got: Vec<String> = validate_object_meta(&m, ns, name_is_dns_subdomain, &md)
                .iter()
                .map(|e| e.to_string())
                .collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn object_meta_update_immutables() {
        let old = ObjectMeta {
            uid: Some("u1".into()),
            ..meta("a")
        };
        let mut new = old.clone();
        new.uid = Some("u2".into());
        new.name = Some("b".into());
        let got: Vec<String> = validate_object_meta_update(&new, &old, &FieldPath::new("metadata"))
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            got,
            vec![
                "metadata.name: Invalid value: \"b\": field is immutable",
                "metadata.uid: Invalid value: \"u2\": field is immutable"
            ]
        );
    }
}
