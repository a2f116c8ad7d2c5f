//! core/v1 ConfigMap (upstream `pkg/registry/core/configmap/strategy.go`,
//! `ValidateConfigMap`/`ValidateConfigMapUpdate` in
//! `pkg/apis/core/validation/validation.go`, `printConfigMap`, kubectl's
//! `describeConfigMap`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{ConfigMap, Event};
use serde_json::{json, Map, Value};

use super::{ResourceInfo, VERBS};
use crate::describe::{annotations_multiline, describe_events, labels_multiline, Out};
use crate::strategy::Strategy;
use crate::table::{age_col, age_of, col, name_col, name_of};
use crate::validation::{
    is_config_map_key, name_is_dns_subdomain, validate_object_meta, validate_object_meta_update,
    FieldError, FieldPath,
};

/// core/v1 `configmaps`.
pub static CONFIGMAPS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    plural: "configmaps",
    singular: "configmap",
    kind: "ConfigMap",
    list_kind: "ConfigMapList",
    namespaced: true,
    short_names: &["cm"],
    categories: &[],
    has_generation: false,
    subresources: &[],
    verbs: VERBS,
    strategy: &ConfigMapStrategy,
};

/// `corev1.MaxSecretSize`: the limit on a ConfigMap's (or Secret's) data.
pub const MAX_SIZE: usize = 1024 * 1024;

/// What `field.Forbidden` says about a change to an immutable object.
pub const IMMUTABLE: &str = "field is immutable when `immutable` is set";

const DATA_DESC: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";

/// The ConfigMap strategy.
pub struct ConfigMapStrategy;

impl Strategy for ConfigMapStrategy {
    type Object = ConfigMap;

    fn info(&self) -> &'static ResourceInfo {
        &CONFIGMAPS
    }

    fn validate_create(&self, cm: &ConfigMap) -> Vec<FieldError> {
        validate(cm)
    }

    fn validate_update(&self, new: &ConfigMap, old: &ConfigMap) -> Vec<FieldError> {
        let mut errs =
            validate_object_meta_update(&new.metadata, &old.metadata, &FieldPath::new("metadata"));
        if old.immutable == Some(true) {
            if new.immutable != Some(true) {
                errs.push(FieldError::forbidden(&FieldPath::new("immutable"), IMMUTABLE));
            }
            if non_empty(&new.data) != non_empty(&old.data) {
                errs.push(FieldError::forbidden(&FieldPath::new("data"), IMMUTABLE));
            }
            if non_empty(&new.binary_data) != non_empty(&old.binary_data) {
                errs.push(FieldError::forbidden(&FieldPath::new("binaryData"), IMMUTABLE));
            }
        }
        errs.extend(validate(new));
        errs
    }

    fn columns(&self) -> Vec<Value> {
        vec![name_col(), col("Data", "string", "", DATA_DESC, 0), age_col()]
    }

    fn cells(&self, cm: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let count = |k: &str| cm.get(k).and_then(Value::as_object).map_or(0, Map::len);
        vec![
            name_of(cm),
            json!(count("data") + count("binaryData")),
            age_of(cm, now),
        ]
    }

    fn decode_protobuf(&self, raw: &[u8]) -> Option<Result<Map<String, Value>, prost::DecodeError>> {
        use crate::protobuf::{convert, k8s_pb::api::core::v1 as pb, object_meta, Obj};
        convert(raw, |cm: &pb::ConfigMap| {
            let mut o = Obj::default();
            o.inline_msg("metadata", &cm.metadata, object_meta)
                .ptr("immutable", cm.immutable)
                .smap("data", &cm.data)
                .bytes_map("binaryData", &cm.binary_data);
            o.0
        })
    }

    /// kubectl's `describeConfigMap`.
    fn describe(&self, cm: &ConfigMap, events: &[Event]) -> String {
        let mut out = Out::default();
        let meta = &cm.metadata;
        out.w(0, &format!("Name:\t{}\n", meta.name.clone().unwrap_or_default()));
        out.w(0, &format!("Namespace:\t{}\n", meta.namespace.clone().unwrap_or_default()));
        labels_multiline(&mut out, "Labels", meta.labels.as_ref());
        annotations_multiline(&mut out, "Annotations", meta.annotations.as_ref());
        out.w(0, "\nData\n====\n");
        for (k, v) in cm.data.iter().flatten() {
            out.w(0, &format!("{k}:\n----\n{v}\n\n"));
        }
        out.w(0, "\nBinaryData\n====\n");
        for (k, v) in cm.binary_data.iter().flatten() {
            out.w(0, &format!("{k}: {} bytes\n", v.0.len()));
        }
        out.w(0, "\n");
        let events_table = describe_events(&mut out, events);
        out.aligned() + &events_table
    }
}

/// An absent map and an empty one hold the same data.
pub(crate) fn non_empty<K, V>(m: &Option<BTreeMap<K, V>>) -> Option<&BTreeMap<K, V>> {
    m.as_ref().filter(|m| !m.is_empty())
}

/// `ValidateConfigMap`.
fn validate(cm: &ConfigMap) -> Vec<FieldError> {
    let mut errs = validate_object_meta(
        &cm.metadata,
        true,
        name_is_dns_subdomain,
        &FieldPath::new("metadata"),
    );
    let mut total = 0;
    let binary = cm.binary_data.as_ref();
    for (key, value) in cm.data.iter().flatten() {
        let path = FieldPath::new("data").key(key);
        for msg in is_config_map_key(key) {
            errs.push(FieldError::invalid(&path, key.as_str(), msg));
        }
        if binary.is_some_and(|b| b.contains_key(key)) {
            errs.push(FieldError::invalid(
                &path,
                key.as_str(),
                "duplicate of key present in binaryData",
            ));
        }
        total += value.len();
    }
    for (key, value) in binary.into_iter().flatten() {
        for msg in is_config_map_key(key) {
            errs.push(FieldError::invalid(
                &FieldPath::new("binaryData").key(key),
                key.as_str(),
                msg,
            ));
        }
        total += value.0.len();
    }
    if total > MAX_SIZE {
        // `field.NewPath("")`, which prints as `[]`: the whole object.
        errs.push(FieldError::too_long(&FieldPath::new("[]"), MAX_SIZE));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_map_keys_follow_is_config_map_key() {
        assert!(is_config_map_key("key.name").is_empty());
        assert!(is_config_map_key("KEY_NAME-1").is_empty());
        assert_eq!(is_config_map_key("."), ["must not be '.'"]);
        assert_eq!(is_config_map_key(".."), ["must not be '..'"]);
        assert_eq!(is_config_map_key("..x"), ["must not start with '..'"]);
        assert_eq!(
            is_config_map_key("bad/key"),
            ["a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]
        );
        assert_eq!(
            is_config_map_key(&"a".repeat(254)),
            ["must be no more than 253 characters"]
        );
    }

    #[test]
    fn duplicates_and_size_are_refused() {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "c", "namespace": "d"},
            "data": {"k": "a".repeat(MAX_SIZE)},
            "binaryData": {"k": "AA=="},
        }))
        .unwrap();
        let errs: Vec<String> = validate(&cm).iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            [
                "data[k]: Invalid value: \"k\": duplicate of key present in binaryData",
                "[]: Too long: may not be more than 1048576 bytes"
            ]
        );
    }
}
