//! node.k8s.io/v1 RuntimeClass (upstream
//! `pkg/registry/node/runtimeclass/strategy.go`, `ValidateRuntimeClass` and
//! `ValidateRuntimeClassUpdate` in `pkg/apis/node/validation/validation.go`,
//! `printRuntimeClass`).
//!
//! A pod names one in `spec.runtimeClassName`; the pod strategy refuses a
//! name with no RuntimeClass, as upstream's RuntimeClass admission plugin
//! does, and the node agent resolves the class to its `handler`. The node
//! registers the handlers it has (`process`, `container`) as built-in
//! classes of the same names.

use chrono::{DateTime, Utc};
use k8s_openapi::api::node::v1::RuntimeClass;
use serde_json::{json, Value};

use super::{ResourceInfo, VERBS};
use crate::strategy::Strategy;
use crate::table::{age_col, age_of, col, name_col, name_of, s};
use crate::validation::{
    name_is_dns_label, name_is_dns_subdomain, validate_labels, validate_object_meta,
    validate_object_meta_update, validate_resource_requirements, validate_tolerations,
    FieldError, FieldPath, FIELD_IMMUTABLE,
};

/// node.k8s.io/v1 `runtimeclasses`.
pub static RUNTIMECLASSES: ResourceInfo = ResourceInfo {
    group: "node.k8s.io",
    version: "v1",
    plural: "runtimeclasses",
    singular: "runtimeclass",
    kind: "RuntimeClass",
    list_kind: "RuntimeClassList",
    namespaced: false,
    short_names: &[],
    categories: &[],
    has_generation: false,
    subresources: &[],
    verbs: VERBS,
    strategy: &RuntimeClassStrategy,
};

const HANDLER_DESC: &str = "handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class. The possible values are specific to the node & CRI configuration.  It is assumed that all handlers are available on every node, and handlers of the same name are equivalent on every node. For example, a handler called \"runc\" might specify that the runc OCI runtime (using native Linux containers) will be used to run the containers in a pod. The Handler must be lowercase, conform to the DNS Label (RFC 1123) requirements, and is immutable.";

/// The RuntimeClass strategy (no status, no generation).
pub struct RuntimeClassStrategy;

impl Strategy for RuntimeClassStrategy {
    type Object = RuntimeClass;

    fn info(&self) -> &'static ResourceInfo {
        &RUNTIMECLASSES
    }

    fn validate_create(&self, rc: &RuntimeClass) -> Vec<FieldError> {
        validate(rc)
    }

    /// `ValidateRuntimeClassUpdate`, after `ValidateRuntimeClass` of the
    /// new object (upstream's strategy runs both).
    fn validate_update(&self, new: &RuntimeClass, old: &RuntimeClass) -> Vec<FieldError> {
        let mut errs = validate(new);
        errs.extend(validate_object_meta_update(
            &new.metadata,
            &old.metadata,
            &FieldPath::new("metadata"),
        ));
        if new.handler != old.handler {
            errs.push(FieldError::invalid(
                &FieldPath::new("handler"),
                new.handler.as_str(),
                FIELD_IMMUTABLE,
            ));
        }
        errs
    }

    fn columns(&self) -> Vec<Value> {
        vec![
            name_col(),
            col("Handler", "string", "", HANDLER_DESC, 0),
            age_col(),
        ]
    }

    fn cells(&self, rc: &Value, now: DateTime<Utc>) -> Vec<Value> {
        vec![name_of(rc), json!(s(rc, "/handler")), age_of(rc, now)]
    }
}

/// `ValidateRuntimeClass`.
fn validate(rc: &RuntimeClass) -> Vec<FieldError> {
    let mut errs = validate_object_meta(
        &rc.metadata,
        false,
        name_is_dns_subdomain,
        &FieldPath::new("metadata"),
    );
    let handler = FieldPath::new("handler");
    for msg in name_is_dns_label(&rc.handler, false) {
        errs.push(FieldError::invalid(&handler, rc.handler.as_str(), msg));
    }
    if let Some(overhead) = &rc.overhead {
        // `validateOverhead`: the pod-fixed overhead as resource limits.
        let req = k8s_openapi::api::core::v1::ResourceRequirements {
            limits: overhead.pod_fixed.clone(),
            ..Default::default()
        };
        errs.extend(validate_resource_requirements(
            &req,
            &FieldPath::new("overhead"),
        ));
    }
    if let Some(sched) = &rc.scheduling {
        let path = FieldPath::new("scheduling");
        errs.extend(validate_labels(
            sched.node_selector.as_ref(),
            &path.child("nodeSelector"),
        ));
        errs.extend(validate_tolerations(
            sched.tolerations.as_deref().unwrap_or_default(),
            &path.child("tolerations"),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(v: Value) -> Result<(), String> {
        let mut obj = RUNTIMECLASSES.strategy.decode(v).map_err(|e| e.to_string())?;
        RUNTIMECLASSES
            .strategy
            .create(obj.as_mut())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn handler_must_be_a_dns_label() {
        create(json!({"metadata": {"name": "gvisor"}, "handler": "runsc"})).unwrap();
        let e = create(json!({"metadata": {"name": "x"}, "handler": "Run_SC"})).unwrap_err();
        assert!(
            e.starts_with("RuntimeClass.node.k8s.io \"x\" is invalid: handler: Invalid value: \"Run_SC\": a lowercase RFC 1123 label"),
            "{e}"
        );
        let e = create(json!({"metadata": {"name": "x"}, "handler": ""})).unwrap_err();
        assert!(e.contains("handler: Invalid value: \"\""), "{e}");
    }

    #[test]
    fn the_handler_is_immutable() {
        let old: RuntimeClass =
            serde_json::from_value(json!({"metadata": {"name": "x"}, "handler": "a"})).unwrap();
        let new: RuntimeClass =
            serde_json::from_value(json!({"metadata": {"name": "x"}, "handler": "b"})).unwrap();
        let errs = RuntimeClassStrategy.validate_update(&new, &old);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "handler");
    }

    #[test]
    fn the_row_is_name_handler_age() {
        let cols = Strategy::columns(&RuntimeClassStrategy);
        let names: Vec<&str> = cols.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Name", "Handler", "Age"]);
        let row = Strategy::cells(
            &RuntimeClassStrategy,
            &json!({"metadata": {"name": "process"}, "handler": "process"}),
            Utc::now(),
        );
        assert_eq!(row[1], "process");
    }
}
