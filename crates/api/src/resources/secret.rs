//! core/v1 Secret (upstream `pkg/registry/core/secret/strategy.go`,
//! `ValidateSecret`/`ValidateSecretUpdate` in
//! `pkg/apis/core/validation/validation.go`, the v1 conversion that merges
//! `stringData`, `printSecret`, kubectl's `describeSecret`). Values are never
//! printed: tables count keys, describe shows sizes.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Event, Secret};
use k8s_openapi::ByteString;
use serde_json::{json, Map, Value};

use super::configmap::{non_empty, IMMUTABLE, MAX_SIZE};
use super::{ResourceInfo, VERBS};
use crate::describe::{annotations_multiline, labels_multiline, Out};
use crate::strategy::Strategy;
use crate::table::{age_col, age_of, col, name_col, name_of, s};
use crate::validation::{
    is_config_map_key, name_is_dns_subdomain, validate_object_meta, validate_object_meta_update,
    FieldError, FieldPath, FIELD_IMMUTABLE,
};

/// core/v1 `secrets`.
pub static SECRETS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    plural: "secrets",
    singular: "secret",
    kind: "Secret",
    list_kind: "SecretList",
    namespaced: true,
    short_names: &[],
    categories: &[],
    has_generation: false,
    subresources: &[],
    verbs: VERBS,
    strategy: &SecretStrategy,
};

const TYPE_DESC: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
const DATA_DESC: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";

/// The Secret strategy.
pub struct SecretStrategy;

impl Strategy for SecretStrategy {
    type Object = Secret;

    fn info(&self) -> &'static ResourceInfo {
        &SECRETS
    }

    /// `SetDefaults_Secret` (type `Opaque`) and the v1 conversion, which
    /// merges the write-only `stringData` into `data` (stringData wins) and
    /// drops it, so it is never stored or returned.
    fn default(&self, secret: &mut Secret) {
        if secret.type_.as_deref().unwrap_or_default().is_empty() {
            secret.type_ = Some("Opaque".into());
        }
        if let Some(string_data) = secret.string_data.take() {
            let data = secret.data.get_or_insert_with(Default::default);
            for (k, v) in string_data {
                data.insert(k, ByteString(v.into_bytes()));
            }
        }
    }

    fn validate_create(&self, secret: &Secret) -> Vec<FieldError> {
        validate(secret)
    }

    fn validate_update(&self, new: &Secret, old: &Secret) -> Vec<FieldError> {
        let mut errs =
            validate_object_meta_update(&new.metadata, &old.metadata, &FieldPath::new("metadata"));
        if new.type_ != old.type_ {
            errs.push(FieldError::invalid(
                &FieldPath::new("type"),
                new.type_.clone().unwrap_or_default(),
                FIELD_IMMUTABLE,
            ));
        }
        if old.immutable == Some(true) {
            if new.immutable != Some(true) {
                errs.push(FieldError::forbidden(&FieldPath::new("immutable"), IMMUTABLE));
            }
            if non_empty(&new.data) != non_empty(&old.data) {
                errs.push(FieldError::forbidden(&FieldPath::new("data"), IMMUTABLE));
            }
        }
        errs.extend(validate(new));
        errs
    }

    fn columns(&self) -> Vec<Value> {
        vec![
            name_col(),
            col("Type", "string", "", TYPE_DESC, 0),
            col("Data", "string", "", DATA_DESC, 0),
            age_col(),
        ]
    }

    fn cells(&self, secret: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let data = secret
            .get("data")
            .and_then(Value::as_object)
            .map_or(0, Map::len);
        vec![
            name_of(secret),
            json!(s(secret, "/type")),
            json!(data),
            age_of(secret, now),
        ]
    }

    /// Secrets select on `type` too (`pkg/apis/core/v1/conversion.go`).
    fn field_label<'a>(&self, label: &'a str) -> Result<&'a str, crate::status::ApiError> {
        match label {
            "metadata.name" | "metadata.namespace" | "type" => Ok(label),
            _ => Err(crate::selectors::core_field_label_error(label)),
        }
    }

    fn field_value(&self, secret: &Value, field: &str) -> Option<String> {
        (field == "type").then(|| s(secret, "/type").to_string())
    }

    fn decode_protobuf(&self, raw: &[u8]) -> Option<Result<Map<String, Value>, prost::DecodeError>> {
        use crate::protobuf::{convert, k8s_pb::api::core::v1 as pb, object_meta, Obj};
        convert(raw, |secret: &pb::Secret| {
            let mut o = Obj::default();
            o.inline_msg("metadata", &secret.metadata, object_meta)
                .ptr("immutable", secret.immutable)
                .bytes_map("data", &secret.data)
                .smap("stringData", &secret.string_data)
                .s("type", &secret.r#type);
            o.0
        })
    }

    /// kubectl's `describeSecret`: sizes, never values (no events).
    fn describe(&self, secret: &Secret, _events: &[Event]) -> String {
        let mut out = Out::default();
        let meta = &secret.metadata;
        out.w(0, &format!("Name:\t{}\n", meta.name.clone().unwrap_or_default()));
        out.w(0, &format!("Namespace:\t{}\n", meta.namespace.clone().unwrap_or_default()));
        labels_multiline(&mut out, "Labels", meta.labels.as_ref());
        annotations_multiline(&mut out, "Annotations", meta.annotations.as_ref());
        out.w(0, &format!("\nType:\t{}\n", secret.type_.clone().unwrap_or_default()));
        out.w(0, "\nData\n====\n");
        for (k, v) in secret.data.iter().flatten() {
            out.w(0, &format!("{k}:\t{} bytes\n", v.0.len()));
        }
        out.aligned()
    }
}

/// Required keys of the built-in secret types.
fn required(errs: &mut Vec<FieldError>, secret: &Secret, key: &str) -> bool {
    let present = secret.data.as_ref().is_some_and(|d| d.contains_key(key));
    if !present {
        errs.push(FieldError::required(&FieldPath::new("data").key(key), ""));
    }
    present
}

/// A data value that must be a JSON object (`json.Unmarshal` into a map).
fn json_object(errs: &mut Vec<FieldError>, secret: &Secret, key: &str) {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.as_slice())
        .unwrap_or_default();
    if let Err(e) = serde_json::from_slice::<Map<String, Value>>(bytes) {
        errs.push(FieldError::invalid(
            &FieldPath::new("data").key(key),
            "<secret contents redacted>",
            e.to_string(),
        ));
    }
}

/// `ValidateSecret`.
fn validate(secret: &Secret) -> Vec<FieldError> {
    let mut errs = validate_object_meta(
        &secret.metadata,
        true,
        name_is_dns_subdomain,
        &FieldPath::new("metadata"),
    );
    let data_path = FieldPath::new("data");
    let mut total = 0;
    for (key, value) in secret.data.iter().flatten() {
        for msg in is_config_map_key(key) {
            errs.push(FieldError::invalid(&data_path.key(key), key.as_str(), msg));
        }
        total += value.0.len();
    }
    if total > MAX_SIZE {
        errs.push(FieldError::too_long(&data_path, MAX_SIZE));
    }
    let data = |k: &str| secret.data.as_ref().and_then(|d| d.get(k));
    match secret.type_.as_deref().unwrap_or_default() {
        "kubernetes.io/service-account-token" => {
            let name = secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .filter(|v| !v.is_empty());
            if name.is_none() {
                errs.push(FieldError::required(
                    &FieldPath::new("metadata")
                        .child("annotations")
                        .key("kubernetes.io/service-account.name"),
                    "",
                ));
            }
        }
        ty @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let key = if ty == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            if required(&mut errs, secret, key) {
                json_object(&mut errs, secret, key);
            }
        }
        "kubernetes.io/basic-auth" => {
            // Either may be empty, but one must be there.
            let neither = data("username").is_none() && data("password").is_none();
            if neither {
                errs.push(FieldError::required(&data_path.key("username"), ""));
                errs.push(FieldError::required(&data_path.key("password"), ""));
            }
        }
        "kubernetes.io/ssh-auth" => {
            let empty = data("ssh-privatekey").is_none_or(|v| v.0.is_empty());
            if empty {
                errs.push(FieldError::required(&data_path.key("ssh-privatekey"), ""));
            }
        }
        "kubernetes.io/tls" => {
            required(&mut errs, secret, "tls.crt");
            required(&mut errs, secret, "tls.key");
        }
        _ => {}
    }
    errs
}
