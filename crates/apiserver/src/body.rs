//! Request bodies: JSON, YAML and Kubernetes protobuf in; the kind's typed
//! object out, decoded once, with unknown and duplicate fields found as
//! `fieldValidation` asks (`Strict`, `Warn`, `Ignore`).
//!
//! YAML is parsed to `serde_json::Value` first so YAML and JSON behave alike.

use std::fmt;

use api::resources::ResourceInfo;
use api::status::ApiError;
use api::strategy::Object;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The `fieldValidation` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldValidation {
    Strict,
    Warn,
    Ignore,
}

impl FieldValidation {
    pub(crate) fn parse(s: Option<&str>) -> Result<Self, ApiError> {
        match s {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::BadRequest(format!(
                "fieldValidation parameter unsupported: {other}, must be one of Ignore, Warn, or Strict"
            ))),
        }
    }
}

/// Media types a body may have.
pub(crate) const ACCEPTED: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

/// Problems found while decoding that `fieldValidation` decides about.
#[derive(Debug, Default)]
pub(crate) struct FieldIssues {
    pub duplicates: Vec<String>,
    pub unknown: Vec<String>,
}

impl FieldIssues {
    /// The upstream messages, duplicates first.
    pub(crate) fn messages(&self) -> Vec<String> {
        self.duplicates
            .iter()
            .map(|d| format!("duplicate field {d:?}"))
            .chain(self.unknown.iter().map(|u| format!("unknown field {u:?}")))
            .collect()
    }

    /// Applies the policy: an error for Strict, warnings for Warn.
    pub(crate) fn enforce(&self, mode: FieldValidation) -> Result<Vec<String>, ApiError> {
        let msgs = self.messages();
        if msgs.is_empty() {
            return Ok(vec![]);
        }
        match mode {
            FieldValidation::Strict => Err(ApiError::BadRequest(format!(
                "strict decoding error: {}",
                msgs.join(", ")
            ))),
            FieldValidation::Warn => Ok(msgs),
            FieldValidation::Ignore => Ok(vec![]),
        }
    }
}

/// Decodes a request body by its Content-Type. A missing Content-Type
/// means JSON, as kube-apiserver treats it (the Python client sends none).
pub(crate) fn decode(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(Value, FieldIssues), ApiError> {
    let mime = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "application/json".into());
    match mime.as_str() {
        "application/json" | "" | "*/*" => decode_json(body),
        "application/yaml" | "application/x-yaml" | "text/yaml" => decode_yaml(body),
        "application/vnd.kubernetes.protobuf" => {
            let v = crate::protobuf::decode(body).map_err(|e| {
                ApiError::BadRequest(format!("unable to decode protobuf body: {e}"))
            })?;
            Ok((v, FieldIssues::default()))
        }
        _ => Err(ApiError::unsupported_media_type(ACCEPTED)),
    }
}

/// Decodes JSON, recording duplicate keys instead of silently keeping the last.
pub(crate) fn decode_json(body: &[u8]) -> Result<(Value, FieldIssues), ApiError> {
    let mut issues = FieldIssues::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = Seed {
        path: String::new(),
        dups: &mut issues.duplicates,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|_| v))
    .map_err(|e| ApiError::BadRequest(json_error_message(&e, body)))?;
    Ok((value, issues))
}

fn json_error_message(e: &serde_json::Error, _body: &[u8]) -> String {
    // Upstream wording: `couldn't get version/kind; json parse error: ...`.
    format!(
        "couldn't get version/kind; json parse error: {} (line {}, column {})",
        e,
        e.line(),
        e.column()
    )
}

/// Decodes YAML (one document) to JSON. Errors name the line.
pub(crate) fn decode_yaml(body: &[u8]) -> Result<(Value, FieldIssues), ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::BadRequest(format!("yaml: invalid UTF-8: {e}")))?;
    let value: Value = serde_saphyr::from_str(text)
        .map_err(|e| ApiError::BadRequest(format!("error converting YAML to JSON: {e}")))?;
    Ok((value, FieldIssues::default()))
}

struct Seed<'a> {
    path: String,
    dups: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(v) = seq.next_element_seed(Seed {
            path: format!("{}[{i}]", self.path),
            dups: &mut *self.dups,
        })? {
            out.push(v);
            i += 1;
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                k.clone()
            } else {
                format!("{}.{k}", self.path)
            };
            let v = map.next_value_seed(Seed {
                path: path.clone(),
                dups: &mut *self.dups,
            })?;
            if out.insert(k, v).is_some() {
                self.dups.push(path);
            }
        }
        Ok(Value::Object(out))
    }
}

/// Decodes a request body for `info`: reads the `fieldValidation`
/// parameter, parses JSON, YAML or protobuf, checks `apiVersion`/`kind`, and
/// decodes once into the kind's typed object, naming unknown and duplicate
/// fields as `fieldValidation` asks. Returns the object and the warnings.
pub(crate) fn decode_object(
    info: &ResourceInfo,
    content_type: Option<&str>,
    bytes: &[u8],
    field_validation: Option<&str>,
) -> Result<(Box<dyn Object>, Vec<String>), ApiError> {
    let mode = FieldValidation::parse(field_validation)?;
    let (value, issues) = decode(content_type, bytes)?;
    if !value.is_object() {
        return Err(ApiError::BadRequest(format!(
            "Object 'Kind' is missing in '{}'",
            String::from_utf8_lossy(bytes)
        )));
    }
    decode_value(info, value, issues, mode)
}

/// Decodes an already parsed value (a patched object) into the kind's
/// typed object under `mode`.
pub(crate) fn decode_value(
    info: &ResourceInfo,
    value: Value,
    mut issues: FieldIssues,
    mode: FieldValidation,
) -> Result<(Box<dyn Object>, Vec<String>), ApiError> {
    let value = check_type_meta(info, value)?;
    let (object, unknown) = info.strategy.decode_strict(value)?;
    issues.unknown = unknown;
    let warnings = issues.enforce(mode)?;
    Ok((object, warnings))
}

/// Decodes the result of a patch: as [`decode_value`], except that a
/// result that does not decode into the kind's type is 422 Invalid on
/// `patch` with the patched document as the value, as upstream's
/// `jsonPatcher.applyPatchToCurrentObject` answers (`handlers/patch.go`).
pub(crate) fn decode_patched(
    info: &ResourceInfo,
    value: Value,
    mode: FieldValidation,
) -> Result<(Box<dyn Object>, Vec<String>), ApiError> {
    let value = check_type_meta(info, value)?;
    let text = value.to_string();
    let (object, unknown) = info.strategy.decode_strict(value).map_err(|e| match e {
        ApiError::BadRequest(msg) => ApiError::Invalid {
            group: String::new(),
            kind: String::new(),
            name: String::new(),
            causes: vec![api::status::Cause::invalid("patch", text, &msg)],
        },
        other => other,
    })?;
    let issues = FieldIssues {
        duplicates: Vec::new(),
        unknown,
    };
    let warnings = issues.enforce(mode)?;
    Ok((object, warnings))
}

/// Checks the body's `apiVersion` and `kind` against the URL's, and fills
/// in an empty one: empty is unset, and the decoder's default GVK (the
/// URL's) applies, as upstream.
fn check_type_meta(info: &ResourceInfo, mut value: Value) -> Result<Value, ApiError> {
    if let Some(av) = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        if av != info.api_version() {
            return Err(ApiError::BadRequest(format!(
                "the API version in the data ({av}) does not match the expected API version ({})",
                info.api_version()
            )));
        }
    }
    if let Some(kind) = value
        .get("kind")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        if kind != info.kind {
            return Err(ApiError::BadRequest(format!(
                "the kind in the data ({kind}) does not match the expected kind ({})",
                info.kind
            )));
        }
    }
    if let Some(m) = value.as_object_mut() {
        if m.get("apiVersion") == Some(&Value::String(String::new())) {
            m.insert("apiVersion".into(), Value::String(info.api_version()));
        }
        if m.get("kind") == Some(&Value::String(String::new())) {
            m.insert("kind".into(), Value::String(info.kind.into()));
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_fields_are_reported_with_their_path() {
        let (_, issues) =
            decode_json(br#"{"metadata":{"name":"a","name":"b"},"spec":{}}"#).unwrap();
        assert_eq!(issues.duplicates, vec!["metadata.name".to_string()]);
        let err = issues.enforce(FieldValidation::Strict).unwrap_err();
        assert_eq!(
            err.message(),
            "strict decoding error: duplicate field \"metadata.name\""
        );
    }

    #[test]
    fn malformed_json_names_the_position() {
        let err = decode_json(b"{\n  \"a\": ,\n}").unwrap_err();
        assert!(err.message().contains("line 2"), "{}", err.message());
    }

    #[test]
    fn missing_content_type_is_json_and_unknown_types_are_415() {
        assert!(decode(None, b"{}").is_ok());
        let err = decode(Some("text/csv"), b"a,b").unwrap_err();
        assert_eq!(err.code(), 415);
    }

    #[test]
    fn yaml_errors_name_the_line() {
        let err = decode_yaml(b"a: 1\nb: [\n").unwrap_err();
        assert!(err.message().contains("line"), "{}", err.message());
    }
}
