//! Content negotiation for responses: `meta.k8s.io/v1` Tables when the
//! client asks for them (every `kubectl get`), plain JSON otherwise.

use api::resources::ResourceInfo;
use api::status::ApiError;
use serde_json::Value;

use crate::query::Query;

pub(crate) use api::table::IncludeObject;

/// The media types an object or list is served as.
const SERVED: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

/// Checks that the Accept header names something the server can answer
/// with, as upstream's `negotiation.NegotiateOutputMediaType`
/// (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/negotiation`):
/// an empty header, a wildcard, or one of [`SERVED`] (joblite writes JSON
/// for each), where an `as=` conversion must be a `meta.k8s.io` Table or
/// partial-object metadata of `v1`/`v1beta1`. Otherwise 406 NotAcceptable.
pub(crate) fn negotiate(accept: &str) -> Result<(), ApiError> {
    if accept.trim().is_empty() {
        return Ok(());
    }
    let acceptable = |clause: &str| {
        let mut parts = clause.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut as_kind = None;
        let mut group = None;
        let mut version = None;
        for p in parts {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            match k.trim() {
                "as" => as_kind = Some(v.trim()),
                "g" => group = Some(v.trim()),
                "v" => version = Some(v.trim()),
                _ => {}
            }
        }
        let media_ok =
            matches!(media.as_str(), "*/*" | "application/*") || SERVED.contains(&media.as_str());
        let conversion_ok = match as_kind {
            None => true,
            Some("Table" | "PartialObjectMetadata" | "PartialObjectMetadataList") => {
                group == Some("meta.k8s.io") && matches!(version, Some("v1" | "v1beta1"))
            }
            Some(_) => false,
        };
        media_ok && conversion_ok
    };
    if accept.split(',').any(acceptable) {
        Ok(())
    } else {
        Err(ApiError::not_acceptable(SERVED))
    }
}

/// Whether the Accept header asks for a Table.
pub(crate) fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let p = part.replace(' ', "");
        p.contains("as=Table") && p.contains("g=meta.k8s.io")
    })
}

/// The `includeObject` parameter.
pub(crate) fn include_object(q: &Query) -> Result<IncludeObject, ApiError> {
    let v = q.get("includeObject");
    IncludeObject::from_query(v).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "includeObject: Unsupported value: {:?}: supported values: \"Metadata\", \"None\", \"Object\"",
            v.unwrap_or("")
        ))
    })
}

/// A Table of `objects` at revision `rev`.
pub(crate) fn table(
    info: &ResourceInfo,
    objects: &[Value],
    include: IncludeObject,
    rev: u64,
    continue_token: Option<String>,
) -> Value {
    let now = chrono::Utc::now();
    let rv = if rev == 0 {
        String::new()
    } else {
        rev.to_string()
    };
    let mut t = api::table::table(info, objects, include, &rv, now);
    if let Some(c) = continue_token {
        t["metadata"]["continue"] = Value::String(c);
    }
    t
}
