//! Validation of API objects, with upstream's field paths and messages.
//!
//! The API server calls these after defaulting and `prepare_*` (see
//! [`crate::defaults`]) and, when the list is non-empty, answers 422 with one
//! Status cause per [`FieldError`] and the message
//! `<Kind>.<group> "<name>" is invalid: <err1>, <err2>`; kubectl prints that
//! text, so the strings here are upstream's strings.
//!
//! Submodules mirror upstream's split: `field` (error type, paths), `names`
//! (format checks), `meta` (`metadata`), `pod` (pod specs and updates), `job`
//! (Job create/update/status).

mod field;
mod job;
mod meta;
mod names;
mod pod;
#[cfg(test)]
mod tests;

pub use field::{go_quote, ErrorType, FieldError, Path};
pub use job::{
    job_warnings_on_create, validate_job_create, validate_job_status_update, validate_job_update,
    CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
};
pub use meta::{validate_object_meta, validate_object_meta_update, NameFn};
pub use names::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value,
    name_is_dns_label, name_is_dns_subdomain,
};
pub use pod::{
    pod_spec_warnings, validate_pod_create, validate_pod_spec, validate_pod_status_update,
    validate_pod_template_spec, validate_pod_update, POD_UPDATABLE_FIELDS,
};

use k8s_openapi::api::core::v1::{Event, Namespace, Node};
use serde_json::Value;

/// `apimachineryvalidation.IsNegativeErrorMsg`.
pub const IS_NEGATIVE_ERROR_MSG: &str = "must be greater than or equal to 0";
/// `FieldImmutableErrorMsg`.
pub const FIELD_IMMUTABLE: &str = "field is immutable";

pub(crate) fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Drop repeated errors (same path, type and text), as upstream's
/// `ErrorList.ToAggregate` does when it builds the message.
pub(crate) fn dedup(errs: Vec<FieldError>) -> Vec<FieldError> {
    let mut seen = std::collections::BTreeSet::new();
    errs.into_iter()
        .filter(|e| seen.insert(e.to_string()))
        .collect()
}

/// Render the list as upstream's aggregate: one error is printed alone,
/// several as `[a, b]`. The Status message is
/// `<Kind>.<group> "<name>" is invalid: <this>`.
pub fn aggregate_message(errs: &[FieldError]) -> String {
    let msgs: Vec<String> = dedup(errs.to_vec()).iter().map(|e| e.to_string()).collect();
    match msgs.len() {
        1 => msgs.into_iter().next().unwrap_or_default(),
        _ => format!("[{}]", msgs.join(", ")),
    }
}

/// `ValidateNamespace`: cluster-scoped, name is a DNS-1123 label.
pub fn validate_namespace_create(ns: &Namespace) -> Vec<FieldError> {
    validate_object_meta(
        &ns.metadata,
        false,
        name_is_dns_label,
        &Path::new("metadata"),
    )
}

/// `ValidateNamespaceUpdate`.
pub fn validate_namespace_update(new: &Namespace, old: &Namespace) -> Vec<FieldError> {
    validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"))
}

/// `ValidateNode`: cluster-scoped, name is a DNS-1123 subdomain.
pub fn validate_node_create(node: &Node) -> Vec<FieldError> {
    validate_object_meta(
        &node.metadata,
        false,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    )
}

/// `ValidateNodeUpdate` (metadata part).
pub fn validate_node_update(new: &Node, old: &Node) -> Vec<FieldError> {
    validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"))
}

/// `ValidateEventCreate` for `v1` events (`legacyValidateEvent`): the event's
/// namespace must match its involved object's (an empty involved namespace is
/// allowed for events in `default` or cluster scope).
pub fn validate_event_create(ev: &Event) -> Vec<FieldError> {
    let mut errs = validate_object_meta(
        &ev.metadata,
        true,
        name_is_dns_subdomain,
        &Path::new("metadata"),
    );
    let ns = ev.metadata.namespace.as_deref().unwrap_or_default();
    let involved_ns = ev.involved_object.namespace.as_deref().unwrap_or_default();
    let ns_path = Path::new("involvedObject").child("namespace");
    if ev.event_time.is_none() {
        let ok = if involved_ns.is_empty() {
            ns.is_empty() || ns == "default"
        } else {
            ns == involved_ns
        };
        if !ok {
            errs.push(FieldError::invalid(
                &ns_path,
                involved_ns,
                "does not match event.namespace",
            ));
        }
    }
    errs
}

/// `ValidateEventUpdate` (metadata part).
pub fn validate_event_update(new: &Event, old: &Event) -> Vec<FieldError> {
    let mut errs =
        validate_object_meta_update(&new.metadata, &old.metadata, &Path::new("metadata"));
    errs.extend(
        validate_event_create(new)
            .into_iter()
            .filter(|e| !e.field.starts_with("metadata.")),
    );
    errs
}
