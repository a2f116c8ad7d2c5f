//! Building responses: JSON bodies, `Status` errors, warnings, and the
//! mapping from store errors to upstream reasons.

use api::resources::ResourceInfo;
use api::status::ApiError;
use axum::body::Body;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::Value;

pub(crate) type Resp = Response<Body>;

/// A JSON response.
pub(crate) fn json(code: StatusCode, value: &Value) -> Resp {
    bytes(
        code,
        "application/json",
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

/// A response with raw bytes and a content type.
pub(crate) fn bytes(code: StatusCode, content_type: &str, body: Vec<u8>) -> Resp {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/json")),
    );
    r
}

/// A `Status` error response.
pub(crate) fn error(e: &ApiError) -> Resp {
    let code = StatusCode::from_u16(e.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(code, &e.to_status())
}

/// Adds `Warning: 299 - "text"` headers, as kube-apiserver does.
pub(crate) fn with_warnings(mut r: Resp, warnings: &[String]) -> Resp {
    for w in warnings {
        let v = format!("299 - {}", api::status::go_quote(w));
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().append(header::WARNING, v);
        }
    }
    r
}

/// Maps a store error for `resource`/`name` to the upstream Status.
pub(crate) fn store_error(e: store::Error, resource: &ResourceInfo, name: &str) -> ApiError {
    use store::Error as E;
    match e {
        E::NotFound(_) => ApiError::not_found(resource, name),
        // A generated name is only known from the key.
        E::AlreadyExists(key) => ApiError::already_exists(resource, &key.name),
        E::Rejected(e) => e,
        E::Conflict(_) => ApiError::conflict_modified(resource, name),
        E::Precondition(msg) => ApiError::conflict(resource, name, &msg),
        E::Expired { requested, oldest } => ApiError::too_old_resource_version(requested, oldest),
        E::NamespaceNotFound(ns) => ApiError::not_found(&api::resources::NAMESPACES, &ns),
        E::NamespaceTerminating(ns) => ApiError::Forbidden {
            group: resource.group.into(),
            resource: resource.plural.into(),
            name: name.into(),
            reason: format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ),
        },
        E::Invalid(msg) => ApiError::BadRequest(msg),
        e @ E::SpaceExceeded(_) => ApiError::Storage(e.to_string()),
        other => ApiError::InternalError(other.to_string()),
    }
}

/// The 404 for a path nothing serves.
pub(crate) fn not_found_generic() -> ApiError {
    ApiError::RouteNotFound
}
