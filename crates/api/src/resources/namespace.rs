//! core/v1 Namespace (upstream `pkg/registry/core/namespace/strategy.go`,
//! `printNamespace`, kubectl's `describeNamespace`).

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Event, Namespace, NamespaceSpec, NamespaceStatus};
use serde_json::{json, Value};

use super::ResourceInfo;
use crate::describe::{annotations_multiline, labels_multiline, Out};
use crate::patch_schema::PatchSchema;
use crate::selectors::{core_field_label_error, str_at};
use crate::status::ApiError;
use crate::strategy::Strategy;
use crate::table::{age_col, age_of, col, name_col, name_of, s};
use crate::validation::{self, FieldError};
use crate::vocabulary::{FINALIZER_KUBERNETES, LABEL_METADATA_NAME};

/// core/v1 `namespaces` (no `deletecollection`, as upstream's namespace
/// registry does not offer it).
pub static NAMESPACES: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    plural: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    list_kind: "NamespaceList",
    namespaced: false,
    short_names: &["ns"],
    categories: &[],
    has_generation: false,
    subresources: &["status"],
    verbs: &[
        "create", "delete", "get", "list", "patch", "update", "watch",
    ],
    strategy: &NamespaceStrategy,
};

/// The Namespace strategy. The namespace controller empties
/// `spec.finalizers` once the namespace's content is gone; only then does a
/// deleted namespace go.
pub struct NamespaceStrategy;

impl Strategy for NamespaceStrategy {
    type Object = Namespace;

    fn info(&self) -> &'static ResourceInfo {
        &NAMESPACES
    }

    /// Every create in a namespace reads it (does it exist, is it being
    /// deleted?), so it stays decoded; there are few.
    fn cache_decoded(&self, _ns: &Namespace) -> bool {
        true
    }

    /// `SetDefaults_Namespace`: the `kubernetes.io/metadata.name` label.
    fn default(&self, ns: &mut Namespace) {
        if let Some(name) = ns.metadata.name.clone().filter(|n| !n.is_empty()) {
            ns.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert(LABEL_METADATA_NAME.to_string(), name);
        }
    }

    /// Phase `Active` and the `kubernetes` finalizer.
    fn prepare_for_create(&self, ns: &mut Namespace) {
        ns.status = Some(NamespaceStatus {
            phase: Some("Active".into()),
            ..Default::default()
        });
        let finalizers = ns
            .spec
            .get_or_insert_with(NamespaceSpec::default)
            .finalizers
            .get_or_insert_with(Vec::new);
        if !finalizers.iter().any(|f| f == FINALIZER_KUBERNETES) {
            finalizers.push(FINALIZER_KUBERNETES.to_string());
        }
    }

    fn validate_create(&self, ns: &Namespace) -> Vec<FieldError> {
        validation::validate_namespace_create(ns)
    }

    fn prepare_for_update(&self, new: &mut Namespace, old: &Namespace) {
        new.status = old.status.clone();
    }

    fn validate_update(&self, new: &Namespace, old: &Namespace) -> Vec<FieldError> {
        validation::validate_namespace_update(new, old)
    }

    fn prepare_for_status_update(&self, new: &mut Namespace, old: &Namespace) {
        new.spec = old.spec.clone();
    }

    fn finalizing(&self, ns: &Namespace) -> bool {
        ns.spec
            .as_ref()
            .and_then(|s| s.finalizers.as_ref())
            .is_some_and(|f| !f.is_empty())
    }

    fn prepare_for_delete(&self, ns: &mut Namespace) {
        ns.status.get_or_insert_with(Default::default).phase = Some("Terminating".into());
    }

    fn columns(&self) -> Vec<Value> {
        vec![
            name_col(),
            col("Status", "string", "", "The status of the namespace", 0),
            age_col(),
        ]
    }

    fn cells(&self, ns: &Value, now: DateTime<Utc>) -> Vec<Value> {
        vec![name_of(ns), json!(s(ns, "/status/phase")), age_of(ns, now)]
    }

    fn field_label<'a>(&self, label: &'a str) -> Result<&'a str, ApiError> {
        match label {
            "metadata.name" | "status.phase" => Ok(label),
            _ => Err(core_field_label_error(label)),
        }
    }

    fn field_value(&self, ns: &Value, field: &str) -> Option<String> {
        (field == "status.phase").then(|| str_at(ns, "/status/phase"))
    }

    fn patch_schema(&self) -> &'static PatchSchema {
        PatchSchema::namespace()
    }

    fn decode_protobuf(
        &self,
        raw: &[u8],
    ) -> Option<Result<serde_json::Map<String, Value>, prost::DecodeError>> {
        crate::protobuf::convert(raw, crate::protobuf::namespace_to_json)
    }

    /// kubectl's `describeNamespace` (joblite has no quotas or limit ranges).
    fn describe(&self, ns: &Namespace, _events: &[Event]) -> String {
        let mut out = Out::default();
        out.w(0, &format!("Name:\t{}\n", ns.metadata.name.clone().unwrap_or_default()));
        labels_multiline(&mut out, "Labels", ns.metadata.labels.as_ref());
        annotations_multiline(&mut out, "Annotations", ns.metadata.annotations.as_ref());
        let phase = ns.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
        out.w(0, &format!("Status:\t{phase}\n"));
        out.w(0, "\nNo resource quota.\n\nNo LimitRange resource.\n");
        out.aligned()
    }
}
