//! `Status` errors, byte-for-byte as kube-apiserver writes them.
//!
//! kubectl and the Python client do not just show an error's message: kubectl
//! builds `The Job "x" is invalid` from `details.kind`, retries `apply` on
//! `reason: Conflict`, re-lists on `reason: Expired`, and prints
//! `Error from server (NotFound): jobs.batch "x" not found` from the message.
//! So every error the server returns goes through [`ApiError`], whose
//! constructors mirror upstream
//! `staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go` (`NewNotFound`,
//! `NewInvalid`, ...) and whose [`ApiError::to_status`] renders the
//! `meta/v1` `Status` with the same field order and omissions as Go's JSON
//! encoder.

use serde_json::{json, Map, Value};

use crate::resources::ResourceInfo;

/// The message upstream registries put in a resourceVersion conflict
/// (`staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go`,
/// `OptimisticLockErrorMsg`).
pub const OPTIMISTIC_LOCK_ERROR_MSG: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// One field-level validation failure: a `meta/v1` `StatusCause`.
///
/// `message` is what upstream calls `ErrorBody()` (the message without the
/// field), e.g. `Required value` or `Invalid value: -1: must be greater than or
/// equal to 0`; the aggregate `Status.message` prefixes it with the field.
/// Build causes with the constructors, which reproduce
/// `staging/src/k8s.io/apimachinery/pkg/util/validation/field/errors.go`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, ... (JSON key `reason`).
    pub reason: String,
    /// The field path, e.g. `spec.template.spec.containers[0].image`.
    pub field: String,
    /// The error body without the field.
    pub message: String,
}

impl Cause {
    fn new(reason: &str, field: &str, message: String) -> Self {
        Cause {
            reason: reason.to_string(),
            field: field.to_string(),
            message,
        }
    }

    fn with_detail(mut body: String, detail: &str) -> String {
        if !detail.is_empty() {
            body.push_str(": ");
            body.push_str(detail);
        }
        body
    }

    fn with_value(kind: &str, value: &Value, detail: &str) -> String {
        Self::with_detail(format!("{kind}: {}", go_value(value)), detail)
    }

    /// `field.Required`: `Required value[: detail]`.
    pub fn required(field: &str, detail: &str) -> Self {
        Self::new(
            "FieldValueRequired",
            field,
            Self::with_detail("Required value".into(), detail),
        )
    }

    /// `field.Invalid`: `Invalid value: <value>[: detail]`.
    pub fn invalid(field: &str, value: impl Into<Value>, detail: &str) -> Self {
        Self::new(
            "FieldValueInvalid",
            field,
            Self::with_value("Invalid value", &value.into(), detail),
        )
    }

    /// `field.TypeInvalid`: same body as Invalid, different reason.
    pub fn type_invalid(field: &str, value: impl Into<Value>, detail: &str) -> Self {
        Self::new(
            "FieldValueTypeInvalid",
            field,
            Self::with_value("Invalid value", &value.into(), detail),
        )
    }

    /// `field.NotSupported`: `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(field: &str, value: impl Into<Value>, valid: &[&str]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(
            "FieldValueNotSupported",
            field,
            Self::with_value("Unsupported value", &value.into(), &detail),
        )
    }

    /// `field.Forbidden`: `Forbidden[: detail]` (the value is never shown).
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self::new(
            "FieldValueForbidden",
            field,
            Self::with_detail("Forbidden".into(), detail),
        )
    }

    /// `field.Duplicate`: `Duplicate value: <value>`.
    pub fn duplicate(field: &str, value: impl Into<Value>) -> Self {
        Self::new(
            "FieldValueDuplicate",
            field,
            Self::with_value("Duplicate value", &value.into(), ""),
        )
    }

    /// `field.NotFound`: `Not found: <value>`.
    pub fn not_found(field: &str, value: impl Into<Value>) -> Self {
        Self::new(
            "FieldValueNotFound",
            field,
            Self::with_value("Not found", &value.into(), ""),
        )
    }

    /// `field.TooLong` (apimachinery 1.33): `Too long: may not be more than N bytes`.
    pub fn too_long(field: &str, max_bytes: usize) -> Self {
        Self::too_long_max_length(field, Some(max_bytes))
    }

    /// `field.TooLongMaxLength`, which 1.33 makes `TooLong`: `Too long: may
    /// not be more than N bytes` (`value is too long` without a maximum).
    pub fn too_long_max_length(field: &str, max: Option<usize>) -> Self {
        let detail = match max {
            Some(1) => "may not be more than 1 byte".to_string(),
            Some(m) => format!("may not be more than {m} bytes"),
            None => "value is too long".to_string(),
        };
        Self::new("FieldValueTooLong", field, format!("Too long: {detail}"))
    }

    /// `field.TooMany`: `Too many: <actual>: must have at most N items`.
    pub fn too_many(field: &str, actual: Option<usize>, max: Option<usize>) -> Self {
        let detail = match max {
            Some(m) => format!("must have at most {m} items"),
            None => "has too many items".to_string(),
        };
        let body = match actual {
            Some(a) => format!("Too many: {a}: {detail}"),
            None => format!("Too many: {detail}"),
        };
        Self::new("FieldValueTooMany", field, body)
    }

    /// `field.InternalError`: `Internal error: <err>`.
    pub fn internal(field: &str, err: &str) -> Self {
        Self::new(
            "InternalError",
            field,
            Self::with_detail("Internal error".into(), err),
        )
    }

    /// `field.Error.Error()`: `<field>: <body>`, the form used in the
    /// aggregate message.
    pub fn full_message(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }

    fn to_json(&self) -> Value {
        // StatusCause: reason, message, field; all omitempty.
        let mut m = Map::new();
        if !self.reason.is_empty() {
            m.insert("reason".into(), json!(self.reason));
        }
        if !self.message.is_empty() {
            m.insert("message".into(), json!(self.message));
        }
        if !self.field.is_empty() {
            m.insert("field".into(), json!(self.field));
        }
        Value::Object(m)
    }
}

/// An API error, rendered as a `Status` by [`ApiError::to_status`].
///
/// `group`/`resource` are the *resource* (plural) coordinates used in messages
/// such as `jobs.batch "x" not found`; `kind` in [`ApiError::Invalid`] is the
/// Kind (`Job`), as upstream `NewInvalid` takes a `GroupKind`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 404 `NotFound`: `jobs.batch "x" not found`.
    #[error("{}", self.message())]
    NotFound {
        group: String,
        resource: String,
        name: String,
    },
    /// 404 `NotFound` for a URL the server does not route, worded as
    /// kube-apiserver's not-found handler (`NewGenericServerResponse(404, ...)`):
    /// `the server could not find the requested resource`, with empty details.
    #[error("{}", self.message())]
    RouteNotFound,
    /// 409 `AlreadyExists`: `jobs.batch "x" already exists`.
    #[error("{}", self.message())]
    AlreadyExists {
        group: String,
        resource: String,
        name: String,
    },
    /// 409 `Conflict`: `Operation cannot be fulfilled on jobs.batch "x": <detail>`.
    #[error("{}", self.message())]
    Conflict {
        group: String,
        resource: String,
        name: String,
        detail: String,
    },
    /// 409 `Conflict` with a free-form message and causes (server-side apply
    /// conflicts, upstream `NewApplyConflict`).
    #[error("{}", self.message())]
    ConflictMessage { message: String, causes: Vec<Cause> },
    /// 422 `Invalid`: `Job.batch "x" is invalid: [a: Required value, b: ...]`.
    #[error("{}", self.message())]
    Invalid {
        group: String,
        kind: String,
        name: String,
        causes: Vec<Cause>,
    },
    /// 400 `BadRequest` with the message as given.
    #[error("{}", self.message())]
    BadRequest(String),
    /// 415 `UnsupportedMediaType` with the message as given (see
    /// [`ApiError::unsupported_media_type`]).
    #[error("{}", self.message())]
    UnsupportedMediaType(String),
    /// 406 `NotAcceptable` with the message as given (see
    /// [`ApiError::not_acceptable`]).
    #[error("{}", self.message())]
    NotAcceptable(String),
    /// 413 `RequestEntityTooLarge`: `Request entity too large: <msg>`.
    #[error("{}", self.message())]
    RequestEntityTooLarge(String),
    /// 410 `Expired` (upstream `NewResourceExpired`), e.g.
    /// `too old resource version: 5 (100)`.
    #[error("{}", self.message())]
    Expired(String),
    /// 410 `Gone` (upstream `NewGone`, deprecated in favour of Expired).
    #[error("{}", self.message())]
    Gone(String),
    /// 405 `MethodNotAllowed`: `<action> is not supported on resources of kind "jobs.batch"`.
    #[error("{}", self.message())]
    MethodNotAllowed {
        group: String,
        resource: String,
        action: String,
    },
    /// 401 `Unauthorized` (`not authorized` when the message is empty).
    #[error("{}", self.message())]
    Unauthorized(String),
    /// 403 `Forbidden`: `jobs.batch "x" is forbidden: <reason>`.
    #[error("{}", self.message())]
    Forbidden {
        group: String,
        resource: String,
        name: String,
        reason: String,
    },
    /// 500 `InternalError`: `Internal error occurred: <err>`.
    #[error("{}", self.message())]
    InternalError(String),
    /// 504 `Timeout`: `Timeout: <msg>`.
    #[error("{}", self.message())]
    Timeout {
        message: String,
        retry_after_seconds: i32,
    },
    /// 429 `TooManyRequests` with the message as given.
    #[error("{}", self.message())]
    TooManyRequests {
        message: String,
        retry_after_seconds: i32,
    },
    /// 503 `ServiceUnavailable` with the message as given.
    #[error("{}", self.message())]
    ServiceUnavailable(String),
    /// 500 with no reason (`StatusReasonUnknown`) and the storage's message
    /// as given: upstream's `convertStorageErrorOrNot`
    /// (`apiserver/pkg/endpoints/handlers/responsewriters/status.go`) for a
    /// storage error it does not recognise, such as etcd's `etcdserver:
    /// mvcc: database space exceeded`.
    #[error("{}", self.message())]
    Storage(String),
}

fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// Aggregates field errors the way `field.ErrorList.ToAggregate().Error()`
/// does: duplicates dropped, one error bare, several in `[a, b]`.
pub fn aggregate_causes(causes: &[Cause]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for c in causes {
        let m = c.full_message();
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    if seen.len() == 1 {
        seen.pop().unwrap_or_default()
    } else {
        format!("[{}]", seen.join(", "))
    }
}

impl ApiError {
    /// `NewNotFound(resource, name)`.
    pub fn not_found(resource: &ResourceInfo, name: &str) -> Self {
        ApiError::NotFound {
            group: resource.group.into(),
            resource: resource.plural.into(),
            name: name.into(),
        }
    }

    /// `NewAlreadyExists(resource, name)`.
    pub fn already_exists(resource: &ResourceInfo, name: &str) -> Self {
        ApiError::AlreadyExists {
            group: resource.group.into(),
            resource: resource.plural.into(),
            name: name.into(),
        }
    }

    /// `NewConflict(resource, name, errors.New(OptimisticLockErrorMsg))`: the
    /// resourceVersion precondition failed.
    pub fn conflict_modified(resource: &ResourceInfo, name: &str) -> Self {
        Self::conflict(resource, name, OPTIMISTIC_LOCK_ERROR_MSG)
    }

    /// `NewConflict(resource, name, err)` with any detail (e.g. a UID precondition).
    pub fn conflict(resource: &ResourceInfo, name: &str, detail: &str) -> Self {
        ApiError::Conflict {
            group: resource.group.into(),
            resource: resource.plural.into(),
            name: name.into(),
            detail: detail.into(),
        }
    }

    /// `NewInvalid(kind, name, errs)`.
    pub fn invalid(resource: &ResourceInfo, name: &str, causes: Vec<Cause>) -> Self {
        ApiError::Invalid {
            group: resource.group.into(),
            kind: resource.kind.into(),
            name: name.into(),
            causes,
        }
    }

    /// `NewMethodNotSupported(resource, action)`.
    pub fn method_not_allowed(resource: &ResourceInfo, action: &str) -> Self {
        ApiError::MethodNotAllowed {
            group: resource.group.into(),
            resource: resource.plural.into(),
            action: action.into(),
        }
    }

    /// `NewForbidden(resource, name, err)`.
    pub fn forbidden(resource: &ResourceInfo, name: &str, reason: &str) -> Self {
        ApiError::Forbidden {
            group: resource.group.into(),
            resource: resource.plural.into(),
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// The 410 a watch (or list) gets for a resourceVersion older than the
    /// retained history, as the etcd3 watcher words it.
    pub fn too_old_resource_version(requested: u64, oldest: u64) -> Self {
        ApiError::Expired(format!("too old resource version: {requested} ({oldest})"))
    }

    /// The 415 for a body in a format the server cannot decode
    /// (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/negotiation/errors.go`).
    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        ))
    }

    /// The 406 for an `Accept` the server cannot satisfy (same upstream file).
    pub fn not_acceptable(accepted: &[&str]) -> Self {
        ApiError::NotAcceptable(format!(
            "only the following media types are accepted: {}",
            accepted.join(", ")
        ))
    }

    /// HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } | ApiError::RouteNotFound => 404,
            ApiError::AlreadyExists { .. }
            | ApiError::Conflict { .. }
            | ApiError::ConflictMessage { .. } => 409,
            ApiError::Invalid { .. } => 422,
            ApiError::BadRequest(_) => 400,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::NotAcceptable(_) => 406,
            ApiError::RequestEntityTooLarge(_) => 413,
            ApiError::Expired(_) | ApiError::Gone(_) => 410,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::InternalError(_) => 500,
            ApiError::Timeout { .. } => 504,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::ServiceUnavailable(_) => 503,
            ApiError::Storage(_) => 500,
        }
    }

    /// `Status.reason` (`metav1.StatusReason*`).
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::RouteNotFound => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::ConflictMessage { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::NotAcceptable(_) => "NotAcceptable",
            ApiError::RequestEntityTooLarge(_) => "RequestEntityTooLarge",
            ApiError::Expired(_) => "Expired",
            ApiError::Gone(_) => "Gone",
            ApiError::MethodNotAllowed { .. } => "MethodNotAllowed",
            ApiError::Unauthorized(_) => "Unauthorized",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::InternalError(_) => "InternalError",
            ApiError::Timeout { .. } => "Timeout",
            ApiError::TooManyRequests { .. } => "TooManyRequests",
            ApiError::ServiceUnavailable(_) => "ServiceUnavailable",
            ApiError::Storage(_) => "",
        }
    }

    /// `Status.message`, worded as upstream.
    pub fn message(&self) -> String {
        match self {
            ApiError::NotFound {
                group,
                resource,
                name,
            } => format!(
                "{} {} not found",
                qualified(group, resource),
                go_quote(name)
            ),
            ApiError::AlreadyExists {
                group,
                resource,
                name,
            } => format!(
                "{} {} already exists",
                qualified(group, resource),
                go_quote(name)
            ),
            ApiError::Conflict {
                group,
                resource,
                name,
                detail,
            } => format!(
                "Operation cannot be fulfilled on {} {}: {detail}",
                qualified(group, resource),
                go_quote(name)
            ),
            ApiError::RouteNotFound => {
                "the server could not find the requested resource".to_string()
            }
            ApiError::ConflictMessage { message, .. } => message.clone(),
            ApiError::Invalid {
                group,
                kind,
                name,
                causes,
            } => {
                let qk = qualified(group, kind);
                if causes.is_empty() {
                    format!("{qk} {} is invalid", go_quote(name))
                } else {
                    format!(
                        "{qk} {} is invalid: {}",
                        go_quote(name),
                        aggregate_causes(causes)
                    )
                }
            }
            ApiError::BadRequest(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::NotAcceptable(m)
            | ApiError::Expired(m)
            | ApiError::Gone(m)
            | ApiError::ServiceUnavailable(m)
            | ApiError::Storage(m) => m.clone(),
            ApiError::RequestEntityTooLarge(m) => format!("Request entity too large: {m}"),
            ApiError::MethodNotAllowed {
                group,
                resource,
                action,
            } => format!(
                "{action} is not supported on resources of kind {}",
                go_quote(&qualified(group, resource))
            ),
            ApiError::Unauthorized(m) => {
                if m.is_empty() {
                    "not authorized".to_string()
                } else {
                    m.clone()
                }
            }
            ApiError::Forbidden {
                group,
                resource,
                name,
                reason,
            } => {
                if resource.is_empty() && group.is_empty() {
                    format!("forbidden: {reason}")
                } else if name.is_empty() {
                    format!("{} is forbidden: {reason}", qualified(group, resource))
                } else {
                    format!(
                        "{} {} is forbidden: {reason}",
                        qualified(group, resource),
                        go_quote(name)
                    )
                }
            }
            ApiError::InternalError(m) => format!("Internal error occurred: {m}"),
            ApiError::Timeout { message, .. } => format!("Timeout: {message}"),
            ApiError::TooManyRequests { message, .. } => message.clone(),
        }
    }

    /// `Status.details`, or `None` where upstream leaves it nil.
    fn details(&self) -> Option<Value> {
        fn gkn(name: &str, group: &str, kind: &str) -> Map<String, Value> {
            // StatusDetails field order: name, group, kind, uid, causes,
            // retryAfterSeconds; all omitempty.
            let mut m = Map::new();
            if !name.is_empty() {
                m.insert("name".into(), json!(name));
            }
            if !group.is_empty() {
                m.insert("group".into(), json!(group));
            }
            if !kind.is_empty() {
                m.insert("kind".into(), json!(kind));
            }
            m
        }
        fn causes_json(causes: &[Cause]) -> Value {
            Value::Array(causes.iter().map(Cause::to_json).collect())
        }
        match self {
            ApiError::NotFound {
                group,
                resource,
                name,
            }
            | ApiError::AlreadyExists {
                group,
                resource,
                name,
            }
            | ApiError::Conflict {
                group,
                resource,
                name,
                ..
            }
            | ApiError::Forbidden {
                group,
                resource,
                name,
                ..
            } => Some(Value::Object(gkn(name, group, resource))),
            ApiError::MethodNotAllowed {
                group, resource, ..
            } => Some(Value::Object(gkn("", group, resource))),
            ApiError::Invalid {
                group,
                kind,
                name,
                causes,
            } => {
                let mut m = gkn(name, group, kind);
                if !causes.is_empty() {
                    m.insert("causes".into(), causes_json(causes));
                }
                Some(Value::Object(m))
            }
            ApiError::ConflictMessage { causes, .. } => {
                let mut m = Map::new();
                if !causes.is_empty() {
                    m.insert("causes".into(), causes_json(causes));
                }
                Some(Value::Object(m))
            }
            ApiError::InternalError(err) => Some(json!({"causes": [{"message": err}]})),
            ApiError::RouteNotFound => Some(json!({})),
            ApiError::Timeout {
                retry_after_seconds,
                ..
            }
            | ApiError::TooManyRequests {
                retry_after_seconds,
                ..
            } => {
                let mut m = Map::new();
                if *retry_after_seconds != 0 {
                    m.insert("retryAfterSeconds".into(), json!(retry_after_seconds));
                }
                Some(Value::Object(m))
            }
            _ => None,
        }
    }

    /// The `meta/v1` `Status` body for this error.
    pub fn to_status(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), json!("Status"));
        m.insert("apiVersion".into(), json!("v1"));
        m.insert("metadata".into(), json!({}));
        m.insert("status".into(), json!("Failure"));
        m.insert("message".into(), json!(self.message()));
        // `reason` is omitempty upstream: an unknown reason is left out.
        if !self.reason().is_empty() {
            m.insert("reason".into(), json!(self.reason()));
        }
        if let Some(d) = self.details() {
            m.insert("details".into(), d);
        }
        m.insert("code".into(), json!(self.code()));
        Value::Object(m)
    }
}

/// The `Status` a DELETE may answer with once an object is gone:
/// `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{...}}`
/// (upstream `staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go`
/// returns it when the deleted object is not echoed back).
pub fn success_status(resource: &ResourceInfo, name: &str, uid: Option<&str>) -> Value {
    let mut d = Map::new();
    if !name.is_empty() {
        d.insert("name".into(), json!(name));
    }
    if !resource.group.is_empty() {
        d.insert("group".into(), json!(resource.group));
    }
    d.insert("kind".into(), json!(resource.plural));
    if let Some(uid) = uid.filter(|u| !u.is_empty()) {
        d.insert("uid".into(), json!(uid));
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": Value::Object(d),
    })
}

/// Go's `%q` (`strconv.Quote`) for the strings that appear in messages.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// How `field.Error.ErrorBody` prints a bad value: numbers and booleans bare,
/// strings quoted, `null` for nil, string slices as Go's `%#v`
/// (`[]string{"a", "b"}`), anything else as compact JSON.
fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => go_quote(s),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let inner: Vec<String> = items
                .iter()
                .map(|i| go_quote(i.as_str().unwrap_or_default()))
                .collect();
            format!("[]string{{{}}}", inner.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{JOBS, PODS};

    #[test]
    fn not_found_matches_errors_go_new_not_found() {
        let e = ApiError::not_found(&JOBS, "x");
        assert_eq!(e.code(), 404);
        assert_eq!(e.to_string(), r#"jobs.batch "x" not found"#);
        assert_eq!(
            serde_json::to_string(&e.to_status()).unwrap(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"jobs.batch \"x\" not found","reason":"NotFound","details":{"name":"x","group":"batch","kind":"jobs"},"code":404}"#
        );
    }

    #[test]
    fn core_group_has_no_suffix_and_no_group_detail() {
        let e = ApiError::not_found(&PODS, "p");
        assert_eq!(e.to_string(), r#"pods "p" not found"#);
        assert_eq!(e.to_status()["details"], json!({"name":"p","kind":"pods"}));
    }

    #[test]
    fn already_exists_and_conflicts() {
        let cases: Vec<(ApiError, u16, &str, &str)> = vec![
            (
                ApiError::already_exists(&JOBS, "x"),
                409,
                "AlreadyExists",
                r#"jobs.batch "x" already exists"#,
            ),
            (
                ApiError::conflict_modified(&JOBS, "x"),
                409,
                "Conflict",
                r#"Operation cannot be fulfilled on jobs.batch "x": the object has been modified; please apply your changes to the latest version and try again"#,
            ),
            (
                ApiError::conflict(
                    &PODS,
                    "p",
                    "Precondition failed: UID in precondition: a, UID in object meta: b",
                ),
                409,
                "Conflict",
                r#"Operation cannot be fulfilled on pods "p": Precondition failed: UID in precondition: a, UID in object meta: b"#,
            ),
        ];
        for (e, code, reason, msg) in cases {
            assert_eq!(e.code(), code);
            assert_eq!(e.reason(), reason);
            assert_eq!(e.message(), msg);
            // details.kind is the resource (plural), not the Kind.
            assert!(matches!(
                e.to_status()["details"]["kind"].as_str(),
                Some("jobs") | Some("pods")
            ));
        }
        assert_eq!(
            ApiError::conflict_modified(&JOBS, "x").to_status()["details"],
            json!({"name":"x","group":"batch","kind":"jobs"})
        );
    }

    #[test]
    fn invalid_single_cause_has_no_brackets() {
        let e = ApiError::invalid(
            &JOBS,
            "x",
            vec![Cause::required(
                "spec.template.spec.containers[0].image",
                "",
            )],
        );
        assert_eq!(e.code(), 422);
        assert_eq!(
            e.message(),
            r#"Job.batch "x" is invalid: spec.template.spec.containers[0].image: Required value"#
        );
        assert_eq!(
            e.to_status()["details"],
            json!({"name":"x","group":"batch","kind":"Job","causes":[
                {"reason":"FieldValueRequired","message":"Required value","field":"spec.template.spec.containers[0].image"}
            ]})
        );
    }

    #[test]
    fn invalid_several_causes_bracketed_and_deduplicated() {
        let e = ApiError::invalid(
            &JOBS,
            "x",
            vec![
                Cause::required("spec.a", ""),
                Cause::invalid("spec.parallelism", -1, "must be greater than or equal to 0"),
                Cause::required("spec.a", ""),
            ],
        );
        assert_eq!(
            e.message(),
            r#"Job.batch "x" is invalid: [spec.a: Required value, spec.parallelism: Invalid value: -1: must be greater than or equal to 0]"#
        );
        // The causes list keeps every entry, as upstream NewInvalid does.
        assert_eq!(
            e.to_status()["details"]["causes"].as_array().unwrap().len(),
            3
        );
    }

    #[test]
    fn invalid_without_causes() {
        let e = ApiError::invalid(&PODS, "p", vec![]);
        assert_eq!(e.message(), r#"Pod "p" is invalid"#);
        assert_eq!(e.to_status()["details"], json!({"name":"p","kind":"Pod"}));
    }

    #[test]
    fn field_error_bodies_match_field_errors_go() {
        let cases = vec![
            (
                Cause::required("f", "must be set"),
                "FieldValueRequired",
                "Required value: must be set",
            ),
            (
                Cause::invalid("f", "a b", "bad"),
                "FieldValueInvalid",
                r#"Invalid value: "a b": bad"#,
            ),
            (
                Cause::invalid("f", true, ""),
                "FieldValueInvalid",
                "Invalid value: true",
            ),
            (
                Cause::invalid("f", Value::Null, "x"),
                "FieldValueInvalid",
                "Invalid value: null: x",
            ),
            (
                Cause::invalid("f", vec!["a", "b"], "x"),
                "FieldValueInvalid",
                r#"Invalid value: []string{"a", "b"}: x"#,
            ),
            (
                Cause::not_supported("f", "Always", &["OnFailure", "Never"]),
                "FieldValueNotSupported",
                r#"Unsupported value: "Always": supported values: "OnFailure", "Never""#,
            ),
            (
                Cause::forbidden("f", "field is immutable"),
                "FieldValueForbidden",
                "Forbidden: field is immutable",
            ),
            (
                Cause::duplicate("f", "a"),
                "FieldValueDuplicate",
                r#"Duplicate value: "a""#,
            ),
            (
                Cause::not_found("f", "a"),
                "FieldValueNotFound",
                r#"Not found: "a""#,
            ),
            (
                Cause::too_long("f", 63),
                "FieldValueTooLong",
                "Too long: may not be more than 63 bytes",
            ),
            (
                Cause::too_long_max_length("f", Some(63)),
                "FieldValueTooLong",
                "Too long: may not be more than 63 bytes",
            ),
            (
                Cause::too_many("f", Some(5), Some(3)),
                "FieldValueTooMany",
                "Too many: 5: must have at most 3 items",
            ),
            (
                Cause::internal("f", "boom"),
                "InternalError",
                "Internal error: boom",
            ),
        ];
        for (cause, reason, body) in cases {
            assert_eq!(cause.reason, reason);
            assert_eq!(cause.message, body);
            assert_eq!(cause.full_message(), format!("f: {body}"));
        }
    }

    #[test]
    fn reasonless_errors() {
        let cases: Vec<(ApiError, u16, &str, &str)> = vec![
            (ApiError::BadRequest("strict decoding error: unknown field \"spec.foo\"".into()), 400, "BadRequest", "strict decoding error: unknown field \"spec.foo\""),
            (
                ApiError::unsupported_media_type(&["application/json", "application/yaml"]),
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
            ),
            (ApiError::not_acceptable(&["application/json"]), 406, "NotAcceptable", "only the following media types are accepted: application/json"),
            (ApiError::RequestEntityTooLarge("limit is 3145728".into()), 413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728"),
            (ApiError::too_old_resource_version(5, 100), 410, "Expired", "too old resource version: 5 (100)"),
            (ApiError::Gone("gone".into()), 410, "Gone", "gone"),
            (ApiError::method_not_allowed(&JOBS, "deletecollection"), 405, "MethodNotAllowed", r#"deletecollection is not supported on resources of kind "jobs.batch""#),
            (ApiError::Unauthorized(String::new()), 401, "Unauthorized", "not authorized"),
            (ApiError::forbidden(&JOBS, "x", "no"), 403, "Forbidden", r#"jobs.batch "x" is forbidden: no"#),
            (ApiError::forbidden(&JOBS, "", "no"), 403, "Forbidden", "jobs.batch is forbidden: no"),
            (ApiError::InternalError("db locked".into()), 500, "InternalError", "Internal error occurred: db locked"),
            (ApiError::Timeout { message: "slow".into(), retry_after_seconds: 2 }, 504, "Timeout", "Timeout: slow"),
            (ApiError::TooManyRequests { message: "wait".into(), retry_after_seconds: 1 }, 429, "TooManyRequests", "wait"),
            (ApiError::ServiceUnavailable("down".into()), 503, "ServiceUnavailable", "down"),
            (ApiError::Storage("database space exceeded".into()), 500, "", "database space exceeded"),
        ];
        for (e, code, reason, msg) in cases {
            let s = e.to_status();
            assert_eq!(
                (e.code(), e.reason(), e.message().as_str()),
                (code, reason, msg)
            );
            assert_eq!(s["code"], json!(code));
            if reason.is_empty() {
                assert!(s.get("reason").is_none(), "{s}");
            } else {
                assert_eq!(s["reason"], json!(reason));
            }
            assert_eq!(s["message"], json!(msg));
            assert_eq!(s["status"], json!("Failure"));
        }
    }

    #[test]
    fn details_shapes_for_special_errors() {
        assert!(ApiError::BadRequest("x".into())
            .to_status()
            .get("details")
            .is_none());
        assert_eq!(
            ApiError::InternalError("db locked".into()).to_status()["details"],
            json!({"causes":[{"message":"db locked"}]})
        );
        assert_eq!(
            ApiError::Timeout {
                message: "m".into(),
                retry_after_seconds: 2
            }
            .to_status()["details"],
            json!({"retryAfterSeconds": 2})
        );
        assert_eq!(
            ApiError::method_not_allowed(&PODS, "watch").to_status()["details"],
            json!({"kind":"pods"})
        );
    }

    #[test]
    fn unrouted_paths_get_the_generic_not_found() {
        assert_eq!(
            serde_json::to_string(&ApiError::RouteNotFound.to_status()).unwrap(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}"#
        );
    }

    #[test]
    fn expired_status_is_the_watch_error_object() {
        assert_eq!(
            serde_json::to_string(&ApiError::too_old_resource_version(5, 100).to_status()).unwrap(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (100)","reason":"Expired","code":410}"#
        );
    }

    #[test]
    fn success_status_for_delete() {
        assert_eq!(
            serde_json::to_string(&success_status(&JOBS, "x", Some("u1"))).unwrap(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":"x","group":"batch","kind":"jobs","uid":"u1"}}"#
        );
        assert_eq!(
            success_status(&PODS, "p", None)["details"],
            json!({"name":"p","kind":"pods"})
        );
    }

    #[test]
    fn go_quote_escapes_like_strconv_quote() {
        assert_eq!(go_quote("a\"b\\c\n\t\u{1}é"), r#""a\"b\\c\n\t\x01é""#);
    }
}
