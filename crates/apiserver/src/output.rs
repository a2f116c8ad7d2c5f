//! Content negotiation for responses: `meta.k8s.io/v1` Tables when the
//! client asks for them (every `kubectl get`), plain JSON otherwise.

use api::resources::ResourceInfo;
use api::status::ApiError;
use serde_json::Value;

use crate::query::Query;

pub use api::table::IncludeObject;

/// Whether the Accept header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let p = part.replace(' ', "");
        p.contains("as=Table") && p.contains("g=meta.k8s.io")
    })
}

pub trait IncludeFromQuery: Sized {
    fn from_query(q: &Query) -> Result<Self, ApiError>;
}

impl IncludeFromQuery for IncludeObject {
    fn from_query(q: &Query) -> Result<Self, ApiError> {
        match q.get("includeObject") {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("Object") => Ok(IncludeObject::Object),
            Some("None") => Ok(IncludeObject::None),
            Some(other) => Err(ApiError::BadRequest(format!(
                "includeObject: Unsupported value: {other:?}: supported values: \"Metadata\", \"None\", \"Object\""
            ))),
        }
    }
}

/// A Table of `objects` at revision `rev`.
pub fn table(
    info: &ResourceInfo,
    objects: &[Value],
    include: IncludeObject,
    rev: u64,
    continue_token: Option<String>,
) -> Value {
    let now = chrono::Utc::now();
    let mut t = api::table::table(info, objects, include, rev, now);
    if let Some(c) = continue_token {
        t["metadata"]["continue"] = Value::String(c);
    }
    t
}
