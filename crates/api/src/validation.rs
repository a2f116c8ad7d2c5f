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

mod cronjob;
mod field;
mod job;
mod meta;
mod names;
mod pod;
#[cfg(test)]
mod tests;

/// Short alias kept for callers that spell it `validation::Path`.
pub use cronjob::{
    cronjob_warnings_on_create, cronjob_warnings_on_update, validate_cronjob_create,
    validate_cronjob_update, validate_schedule_format, validate_time_zone, CRONJOB_NAME_MAX_LENGTH,
};
pub use field::FieldPath as Path;
pub use field::{go_quote, ErrorType, FieldError, FieldPath};
pub use job::{
    job_warnings_on_create, validate_job_create, validate_job_status_update, validate_job_update,
    CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
};
pub use meta::{
    prepare_meta_for_update, validate_object_meta, validate_object_meta_update, NameFn,
};
pub use names::{
    is_config_map_key, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_label_value, name_is_dns_label, name_is_dns_subdomain, validate_labels,
};
pub use pod::{
    pod_spec_warnings, validate_pod_create, validate_pod_spec, validate_pod_status_update,
    validate_pod_template_spec, validate_pod_update, validate_resource_requirements,
    validate_tolerations, POD_UPDATABLE_FIELDS,
};

use k8s_openapi::api::core::v1::{Event, Namespace, Node};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// `apimachineryvalidation.IsNegativeErrorMsg`.
pub const IS_NEGATIVE_ERROR_MSG: &str = "must be greater than or equal to 0";
/// `FieldImmutableErrorMsg`.
pub const FIELD_IMMUTABLE: &str = "field is immutable";

pub(crate) fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A copy of `obj` whose metadata has had the server-owned fields restored
/// from `old_meta` (`rest.BeforeUpdate` runs before validation upstream).
pub(crate) fn restored<T: Clone>(
    obj: &T,
    old_meta: &ObjectMeta,
    meta: impl Fn(&mut T) -> &mut ObjectMeta,
) -> T {
    let mut out = obj.clone();
    prepare_meta_for_update(meta(&mut out), old_meta);
    out
}

/// `apiequality.Semantic.DeepEqual` on serialised values: like upstream's
/// forked `reflect.DeepEqual`, an empty list equals an absent one (a client
/// that sends `tolerations: []` has not changed anything).
pub(crate) fn semantic_eq(a: &Value, b: &Value) -> bool {
    fn norm(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(_, v)| {
                        !matches!(v, Value::Null) && !matches!(v, Value::Array(a) if a.is_empty())
                    })
                    .map(|(k, v)| (k.clone(), norm(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(norm).collect()),
            other => other.clone(),
        }
    }
    norm(a) == norm(b)
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
        &FieldPath::new("metadata"),
    )
}

/// `ValidateNamespaceUpdate`.
pub fn validate_namespace_update(new: &Namespace, old: &Namespace) -> Vec<FieldError> {
    validate_object_meta_update(&new.metadata, &old.metadata, &FieldPath::new("metadata"))
}

/// `ValidateNode`: cluster-scoped, name is a DNS-1123 subdomain.
pub fn validate_node_create(node: &Node) -> Vec<FieldError> {
    validate_object_meta(
        &node.metadata,
        false,
        name_is_dns_subdomain,
        &FieldPath::new("metadata"),
    )
}

/// `ValidateNodeUpdate` (metadata part).
pub fn validate_node_update(new: &Node, old: &Node) -> Vec<FieldError> {
    validate_object_meta_update(&new.metadata, &old.metadata, &FieldPath::new("metadata"))
}

/// `path.ValidatePathSegmentName`: the name rule the generic registry
/// applies to every object after the type's own validation.
pub fn name_is_path_segment(name: &str, prefix: bool) -> Vec<String> {
    let mut errs = Vec::new();
    if !prefix && (name == "." || name == "..") {
        errs.push(format!("may not be '{name}'"));
    }
    for illegal in ["/", "%"] {
        if name.contains(illegal) {
            errs.push(format!("may not contain '{illegal}'"));
        }
    }
    errs
}

/// Event limits from `pkg/apis/core/validation/events.go`.
const REPORTING_INSTANCE_LENGTH_LIMIT: usize = 128;
const ACTION_LENGTH_LIMIT: usize = 128;
const REASON_LENGTH_LIMIT: usize = 128;
const NOTE_LENGTH_LIMIT: usize = 1024;

/// `legacyValidateEvent`, the only check core/v1 events get, followed by the
/// generic registry's metadata check (`rest.BeforeCreate`). Old-style events
/// (no `eventTime`) must live in their involved object's namespace (an empty
/// involved namespace is allowed for events in `default` or no namespace);
/// new-style ones need the reporting fields.
pub fn validate_event_create(ev: &Event) -> Vec<FieldError> {
    let mut errs = legacy_validate_event(ev);
    if errs.is_empty() {
        errs = validate_object_meta(
            &ev.metadata,
            true,
            name_is_path_segment,
            &FieldPath::new("metadata"),
        );
    }
    errs
}

fn legacy_validate_event(ev: &Event) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ns = ev.metadata.namespace.as_deref().unwrap_or_default();
    let involved_ns = ev.involved_object.namespace.as_deref().unwrap_or_default();
    let ns_path = FieldPath::new("involvedObject").child("namespace");
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
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
    } else {
        if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(FieldError::invalid(
                &ns_path,
                involved_ns,
                "does not match event.namespace",
            ));
        }
        let rc = text(&ev.reporting_component);
        if rc.is_empty() {
            errs.push(FieldError::required(
                &FieldPath::new("reportingController"),
                "",
            ));
        }
        for m in is_qualified_name(&rc) {
            errs.push(FieldError::invalid(
                &FieldPath::new("reportingController"),
                rc.as_str(),
                m,
            ));
        }
        let limited = [
            (
                "reportingInstance",
                text(&ev.reporting_instance),
                REPORTING_INSTANCE_LENGTH_LIMIT,
                true,
            ),
            ("action", text(&ev.action), ACTION_LENGTH_LIMIT, true),
            ("reason", text(&ev.reason), REASON_LENGTH_LIMIT, true),
            ("message", text(&ev.message), NOTE_LENGTH_LIMIT, false),
        ];
        for (name, value, limit, required) in limited {
            if required && value.is_empty() {
                errs.push(FieldError::required(&FieldPath::new(name), ""));
            }
            if value.len() > limit {
                errs.push(FieldError::invalid(
                    &FieldPath::new(name),
                    "",
                    format!("can have at most {limit} characters"),
                ));
            }
        }
    }
    for m in is_dns1123_subdomain(ns) {
        errs.push(FieldError::invalid(&FieldPath::new("namespace"), ns, m));
    }
    errs
}

/// `ValidateEventUpdate` for core/v1: legacy checks plus the generic
/// metadata update rules.
pub fn validate_event_update(new: &Event, old: &Event) -> Vec<FieldError> {
    let mut errs = legacy_validate_event(new);
    errs.extend(validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        &FieldPath::new("metadata"),
    ));
    errs
}
