//! Field-level validation errors, rendered exactly like upstream.
//!
//! kubectl prints `The Job "x" is invalid: <field>: <body>` and clients match on
//! those strings, so the rendering follows
//! `staging/src/k8s.io/apimachinery/pkg/util/validation/field/errors.go`
//! (`Error.Error()` / `Error.ErrorBody()`) rather than anything home-grown.

use serde_json::Value;
use std::fmt;

/// Why a field is invalid; mirrors `field.ErrorType` (and the Status cause `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal,
}

impl ErrorType {
    /// The machine-readable cause reason (`FieldValueRequired`, ...).
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Internal => "InternalError",
        }
    }

    /// The human prefix of the message (`Required value`, ...).
    pub fn description(self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// One validation failure. `bad_value: None` means "omit the value" (upstream
/// `field.OmitValueType{}`); `Some(Value::Null)` renders as `null`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub reason_type: ErrorType,
    /// Dotted path such as `spec.template.spec.containers[0].image`.
    pub field: String,
    pub detail: String,
    pub bad_value: Option<Value>,
}

impl FieldError {
    fn new(
        reason_type: ErrorType,
        field: &FieldPath,
        bad_value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            reason_type,
            field: field.to_string(),
            detail: detail.into(),
            bad_value,
        }
    }

    /// `field.Required`.
    pub fn required(field: &FieldPath, detail: impl Into<String>) -> Self {
        Self::new(
            ErrorType::Required,
            field,
            Some(Value::String(String::new())),
            detail,
        )
    }

    /// `field.Invalid`.
    pub fn invalid(field: &FieldPath, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, field, Some(value.into()), detail)
    }

    /// `field.Invalid(path, field.OmitValueType{}, detail)`.
    pub fn invalid_omit(field: &FieldPath, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, field, None, detail)
    }

    /// `field.NotFound`.
    pub fn not_found(field: &FieldPath, value: impl Into<Value>) -> Self {
        Self::new(ErrorType::NotFound, field, Some(value.into()), "")
    }

    /// `field.Duplicate`.
    pub fn duplicate(field: &FieldPath, value: impl Into<Value>) -> Self {
        Self::new(ErrorType::Duplicate, field, Some(value.into()), "")
    }

    /// `field.NotSupported`: the detail lists the quoted valid values.
    pub fn not_supported<S: AsRef<str>>(
        field: &FieldPath,
        value: impl Into<Value>,
        valid: &[S],
    ) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v.as_ref())).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorType::NotSupported, field, Some(value.into()), detail)
    }

    /// `field.Forbidden`.
    pub fn forbidden(field: &FieldPath, detail: impl Into<String>) -> Self {
        Self::new(
            ErrorType::Forbidden,
            field,
            Some(Value::String(String::new())),
            detail,
        )
    }

    /// `field.TooLong` (apimachinery 1.33): `may not be more than N bytes`;
    /// the value is never shown.
    pub fn too_long(field: &FieldPath, max: usize) -> Self {
        let unit = if max == 1 { "byte" } else { "bytes" };
        Self::new(
            ErrorType::TooLong,
            field,
            None,
            format!("may not be more than {max} {unit}"),
        )
    }

    /// `field.TooLongMaxLength`, which 1.33 makes `TooLong`.
    pub fn too_long_max_length(field: &FieldPath, _value: impl Into<Value>, max: usize) -> Self {
        Self::too_long(field, max)
    }

    /// `field.TooMany`: `Too many: <actual>: must have at most N items`.
    pub fn too_many(field: &FieldPath, actual: usize, max: usize) -> Self {
        Self::new(
            ErrorType::TooMany,
            field,
            Some(Value::from(actual)),
            format!("must have at most {max} items"),
        )
    }

    /// `ErrorBody()`: the message without the field name, e.g. `Required value`
    /// or `Unsupported value: "Always": supported values: "OnFailure", "Never"`.
    pub fn message(&self) -> String {
        let t = self.reason_type;
        let mut s = match (t, &self.bad_value) {
            (
                ErrorType::Required
                | ErrorType::Forbidden
                | ErrorType::TooLong
                | ErrorType::Internal,
                _,
            ) => t.description().to_string(),
            (_, None) => t.description().to_string(),
            (_, Some(v)) => format!("{}: {}", t.description(), render_value(v)),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    /// `Error()`: `<field>: <body>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message())
    }
}

/// Render a bad value the way Go's `%v`/`%q`/`%#v` would for the shapes the
/// validators use: strings quoted, numbers and bools bare, string maps and int
/// slices in Go syntax. Other composite values fall back to compact JSON,
/// where Go would print a struct literal.
fn render_value(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => go_quote(s),
        Value::Object(m) if m.values().all(Value::is_string) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        go_quote(k),
                        go_quote(m[k.as_str()].as_str().unwrap_or_default())
                    )
                })
                .collect();
            format!("map[string]string{{{}}}", parts.join(", "))
        }
        Value::Array(a) if !a.is_empty() && a.iter().all(|x| x.is_i64()) => {
            let parts: Vec<String> = a.iter().map(|x| x.to_string()).collect();
            format!("[]int32{{{}}}", parts.join(", "))
        }
        other => other.to_string(),
    }
}

/// Go's `strconv.Quote` for the characters that occur in API strings.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A field path under construction (`field.Path`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(String);

impl FieldPath {
    /// `field.NewPath(name)`.
    pub fn new(name: &str) -> Self {
        FieldPath(name.to_string())
    }

    /// An empty root; `child` on it yields the bare name.
    pub fn root() -> Self {
        FieldPath(String::new())
    }

    /// `.Child(name)`.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            FieldPath(name.to_string())
        } else {
            FieldPath(format!("{}.{}", self.0, name))
        }
    }

    /// `.Index(i)`: `[i]`.
    pub fn index(&self, i: usize) -> Self {
        FieldPath(format!("{}[{}]", self.0, i))
    }

    /// `.Key(k)`: `[k]`.
    pub fn key(&self, k: &str) -> Self {
        FieldPath(format!("{}[{}]", self.0, k))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_like_upstream_errors_go() {
        let p = FieldPath::new("spec")
            .child("template")
            .child("spec")
            .child("containers")
            .index(0)
            .child("image");
        let cases: Vec<(FieldError, &str)> = vec![
            (
                FieldError::required(&p, ""),
                "spec.template.spec.containers[0].image: Required value",
            ),
            (
                FieldError::required(
                    &FieldPath::new("metadata").child("name"),
                    "name or generateName is required",
                ),
                "metadata.name: Required value: name or generateName is required",
            ),
            (
                FieldError::invalid(
                    &FieldPath::new("spec").child("parallelism"),
                    -1,
                    "must be greater than or equal to 0",
                ),
                "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                FieldError::not_supported(&FieldPath::new("x"), "Always", &["OnFailure", "Never"]),
                "x: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"",
            ),
            (
                FieldError::forbidden(&FieldPath::new("spec"), "nope"),
                "spec: Forbidden: nope",
            ),
            (
                FieldError::duplicate(&FieldPath::new("a").index(1), "c"),
                "a[1]: Duplicate value: \"c\"",
            ),
            (
                FieldError::not_found(&FieldPath::new("a").child("name"), "v"),
                "a.name: Not found: \"v\"",
            ),
            (
                FieldError::too_many(&FieldPath::new("r"), 21, 20),
                "r: Too many: 21: must have at most 20 items",
            ),
            (
                FieldError::too_long(&FieldPath::new("metadata").child("annotations"), 262144),
                "metadata.annotations: Too long: may not be more than 262144 bytes",
            ),
            (
                FieldError::invalid_omit(&FieldPath::new("rules").index(0), "both"),
                "rules[0]: Invalid value: both",
            ),
            (
                FieldError::invalid(&FieldPath::new("l"), json!({"b": "2", "a": "1"}), "x"),
                "l: Invalid value: map[string]string{\"a\":\"1\", \"b\":\"2\"}: x",
            ),
            (
                FieldError::invalid(&FieldPath::new("v"), json!([2, 1]), "must be ordered"),
                "v: Invalid value: []int32{2, 1}: must be ordered",
            ),
            (
                FieldError::invalid(&FieldPath::new("n"), Value::Null, "d"),
                "n: Invalid value: null: d",
            ),
            (
                FieldError::invalid(&FieldPath::new("q"), "a\"b", ""),
                "q: Invalid value: \"a\\\"b\"",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn reasons_match_status_causes() {
        assert_eq!(ErrorType::Required.reason(), "FieldValueRequired");
        assert_eq!(ErrorType::NotSupported.reason(), "FieldValueNotSupported");
        assert_eq!(ErrorType::TooMany.reason(), "FieldValueTooMany");
    }
}
