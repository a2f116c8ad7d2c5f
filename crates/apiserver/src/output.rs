//! Content negotiation for responses: `meta.k8s.io/v1` Tables when the
//! client asks for them (every `kubectl get`), plain JSON otherwise.

use api::resources::ResourceInfo;
use api::status::ApiError;
use serde_json::Value;

use crate::query::Query;

pub(crate) use api::table::IncludeObject;

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
