//! create, update, patch (four kinds), delete and deletecollection.

use std::sync::Arc;

use api::resources::{ResourceInfo, JOBS, PODS};
use api::status::ApiError;
use http::StatusCode;
use serde_json::{json, Value};
use store::{DeleteOptions, Propagation};

use crate::filter::Filter;
use crate::handler::decode_object;
use crate::query::Query;
use crate::request::ResourceRequest;
use crate::respond::{self, Resp};
use crate::{registry, AppState};

fn dry_run(query: &Query) -> Result<bool, ApiError> {
    match query.get("dryRun") {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!(
            "Invalid dryRun value: {other:?}: supported values: \"All\""
        ))),
    }
}

fn name_of(v: &Value) -> String {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn set_namespace(info: &ResourceInfo, v: &mut Value, ns: Option<&str>) -> Result<(), ApiError> {
    if !info.namespaced {
        return Ok(());
    }
    let url_ns = ns.unwrap_or("");
    let meta = v
        .as_object_mut()
        .and_then(|o| {
            o.entry("metadata")
                .or_insert_with(|| json!({}))
                .as_object_mut()
        })
        .ok_or_else(|| ApiError::BadRequest("metadata must be an object".into()))?;
    match meta.get("namespace").and_then(Value::as_str) {
        Some(b) if !b.is_empty() && b != url_ns => Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        )),
        _ => {
            meta.insert("namespace".into(), json!(url_ns));
            Ok(())
        }
    }
}

pub async fn create(
    state: &Arc<AppState>,
    info: &'static ResourceInfo,
    ns: Option<&str>,
    content_type: Option<&str>,
    bytes: &[u8],
    query: &Query,
) -> Result<Resp, ApiError> {
    if info.namespaced && ns.is_none() {
        return Err(ApiError::MethodNotAllowed {
            group: info.group.into(),
            resource: info.plural.into(),
            action: "create".into(),
        });
    }
    let dry = dry_run(query)?;
    let (mut obj, mut warnings) = decode_object(info, content_type, bytes, query)?;
    set_namespace(info, &mut obj, ns)?;
    warnings.extend(registry::prepare_create(info, &mut obj)?);
    registry::validate_create(info, &obj)?;
    registry::finish_create(info, &mut obj)?;
    let name = name_of(&obj);
    let out = if dry {
        if !name.is_empty() && state.store.get(info, ns.unwrap_or(""), &name).is_ok() {
            return Err(ApiError::already_exists(info, &name));
        }
        let mut o = obj;
        if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert(
                "creationTimestamp".into(),
                json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            );
            if info.has_generation {
                m.insert("generation".into(), json!(1));
            }
        }
        o
    } else {
        state
            .store
            .create(info, obj)
            .await
            .map_err(|e| respond::store_error(e, info, &name))?
            .value()
    };
    Ok(respond::with_warnings(
        respond::json(StatusCode::CREATED, &out),
        &warnings,
    ))
}

/// Applies an update (`new` is the full desired object) with the
/// subresource rules, validation and CAS, then writes it.
async fn apply_update(
    state: &Arc<AppState>,
    info: &'static ResourceInfo,
    r: &ResourceRequest,
    mut new: Value,
    current: &store::Stored,
    dry: bool,
) -> Result<Value, ApiError> {
    let old = current.value();
    let name = name_of(&old);
    registry::prepare_update(info, &mut new, &old, r.subresource.as_deref())?;
    registry::validate_update(info, &new, &old, r.subresource.as_deref())?;
    if dry {
        return Ok(new);
    }
    state
        .store
        .update(info, new)
        .await
        .map(|s| s.value())
        .map_err(|e| respond::store_error(e, info, &name))
}

pub async fn update(
    state: &Arc<AppState>,
    info: &'static ResourceInfo,
    r: &ResourceRequest,
    name: &str,
    content_type: Option<&str>,
    bytes: &[u8],
    query: &Query,
) -> Result<Resp, ApiError> {
    let dry = dry_run(query)?;
    let (mut obj, warnings) = decode_object(info, content_type, bytes, query)?;
    set_namespace(info, &mut obj, r.namespace.as_deref())?;
    let body_name = name_of(&obj);
    if body_name != name {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let current = state
        .store
        .get(info, r.namespace.as_deref().unwrap_or(""), name)
        .map_err(|e| respond::store_error(e, info, name))?;
    let out = apply_update(state, info, r, obj, &current, dry).await?;
    Ok(respond::with_warnings(
        respond::json(StatusCode::OK, &out),
        &warnings,
    ))
}

/// The four patch types, by Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

fn patch_type(ct: Option<&str>) -> Result<PatchType, ApiError> {
    let mime = ct
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    match mime {
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
        "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(PatchType::Apply),
        _ => Err(ApiError::unsupported_media_type(&[
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml",
            "application/strategic-merge-patch+json",
        ])),
    }
}

pub async fn patch(
    state: &Arc<AppState>,
    info: &'static ResourceInfo,
    r: &ResourceRequest,
    name: &str,
    content_type: Option<&str>,
    bytes: &[u8],
    query: &Query,
) -> Result<Resp, ApiError> {
    let dry = dry_run(query)?;
    let kind = patch_type(content_type)?;
    let mode = crate::body::FieldValidation::parse(query.get("fieldValidation"))?;
    let ns = r.namespace.as_deref().unwrap_or("");
    let patch_doc: Value = match kind {
        PatchType::Apply => crate::body::decode_yaml(bytes)?.0,
        _ => crate::body::decode_json(bytes)?.0,
    };
    if kind == PatchType::Apply && query.get("fieldManager").unwrap_or("").is_empty() {
        return Err(ApiError::BadRequest(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(),
        ));
    }
    // Retried on conflict unless the patch pins a resourceVersion, as
    // kube-apiserver's patcher does.
    for _ in 0..16 {
        let current = match state.store.get(info, ns, name) {
            Ok(c) => c,
            Err(store::Error::NotFound(_)) if kind == PatchType::Apply => {
                // Create on apply.
                let mut obj = patch_doc.clone();
                if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.entry("name").or_insert(json!(name));
                }
                let body = serde_json::to_vec(&obj).unwrap_or_default();
                return create(
                    state,
                    info,
                    r.namespace.as_deref(),
                    Some("application/json"),
                    &body,
                    query,
                )
                .await;
            }
            Err(e) => return Err(respond::store_error(e, info, name)),
        };
        let original = current.value();
        let patched = match kind {
            PatchType::Json => {
                let p: json_patch::Patch =
                    serde_json::from_value(patch_doc.clone()).map_err(|e| {
                        ApiError::BadRequest(format!(
                            "the server rejected our request due to an error in our request: {e}"
                        ))
                    })?;
                let mut doc = original.clone();
                json_patch::patch(&mut doc, &p).map_err(|e| match e.kind {
                    json_patch::PatchErrorKind::TestFailed => ApiError::Invalid {
                        group: info.group.into(),
                        kind: info.kind.into(),
                        name: name.into(),
                        causes: vec![],
                    },
                    _ => ApiError::Invalid {
                        group: info.group.into(),
                        kind: info.kind.into(),
                        name: name.into(),
                        causes: vec![api::status::Cause::invalid("", Value::Null, &e.to_string())],
                    },
                })?;
                doc
            }
            PatchType::Merge => {
                let mut doc = original.clone();
                json_patch::merge(&mut doc, &patch_doc);
                doc
            }
            PatchType::Strategic | PatchType::Apply => crate::patch::strategic::apply(
                &original,
                &patch_doc,
                crate::patch::strategic::schema_for(info),
            )
            .map_err(|e| patch_error(&e))?,
        };
        let pinned = match kind {
            PatchType::Json => patch_doc.as_array().is_some_and(|ops| {
                ops.iter()
                    .any(|op| op.get("path") == Some(&json!("/metadata/resourceVersion")))
            }),
            _ => patch_doc.pointer("/metadata/resourceVersion").is_some(),
        };
        // Validate unknown fields of the result under fieldValidation.
        let (mut normalized, unknown) = registry::normalize(info, patched)?;
        let issues = crate::body::FieldIssues {
            duplicates: vec![],
            unknown,
        };
        let warnings = issues.enforce(mode)?;
        if !pinned {
            store::set_resource_version(&mut normalized, current.rev);
        }
        match apply_update(state, info, r, normalized, &current, dry).await {
            Err(ApiError::Conflict { .. }) if !pinned => continue,
            Err(e) => return Err(e),
            Ok(out) => {
                return Ok(respond::with_warnings(
                    respond::json(StatusCode::OK, &out),
                    &warnings,
                ))
            }
        }
    }
    Err(ApiError::conflict_modified(info, name))
}

/// DeleteOptions from the body (kubectl) or the query (Python client).
struct Deletion {
    options: DeleteOptions,
    dry: bool,
    warn_orphan_default: bool,
}

fn delete_options(info: &ResourceInfo, bytes: &[u8], query: &Query) -> Result<Deletion, ApiError> {
    let body: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        crate::body::decode_json(bytes)?.0
    };
    let field = |k: &str| -> Option<Value> {
        body.get(k)
            .cloned()
            .filter(|v| !v.is_null())
            .or_else(|| query.get(k).map(|s| json!(s)))
    };
    let mut propagation = match field("propagationPolicy").as_ref().and_then(Value::as_str) {
        None => None,
        Some("Background") => Some(Propagation::Background),
        Some("Foreground") => Some(Propagation::Foreground),
        Some("Orphan") => Some(Propagation::Orphan),
        Some(other) => {
            return Err(ApiError::Invalid {
                group: "meta.k8s.io".into(),
                kind: "DeleteOptions".into(),
                name: String::new(),
                causes: vec![api::status::Cause::not_supported(
                    "propagationPolicy",
                    other,
                    &["Foreground", "Background", "Orphan", "nil"],
                )],
            })
        }
    };
    if propagation.is_none() {
        if let Some(orphan) = field("orphanDependents") {
            let o = orphan.as_bool().unwrap_or(orphan.as_str() == Some("true"));
            propagation = Some(if o {
                Propagation::Orphan
            } else {
                Propagation::Background
            });
        }
    }
    // batch/v1 Jobs orphan by default (`pkg/registry/batch/job/strategy.go`
    // DefaultGarbageCollectionPolicy), with a warning.
    let warn_orphan_default = propagation.is_none() && std::ptr::eq(info, &JOBS);
    if warn_orphan_default {
        propagation = Some(Propagation::Orphan);
    }
    let grace = match field("gracePeriodSeconds") {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| ApiError::BadRequest("invalid gracePeriodSeconds".into()))?,
        ),
    };
    let pre = body.get("preconditions");
    let dry = match field("dryRun") {
        None => false,
        Some(Value::Array(a)) => a.iter().any(|v| v == "All"),
        Some(Value::String(s)) => s == "All",
        Some(_) => false,
    };
    Ok(Deletion {
        options: DeleteOptions {
            propagation,
            grace_period_seconds: grace,
            precondition_uid: pre
                .and_then(|p| p.get("uid"))
                .and_then(Value::as_str)
                .map(str::to_string),
            precondition_resource_version: pre
                .and_then(|p| p.get("resourceVersion"))
                .and_then(Value::as_str)
                .map(str::to_string),
        },
        dry,
        warn_orphan_default,
    })
}

const ORPHAN_WARNING: &str = "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning";

pub async fn delete(
    state: &Arc<AppState>,
    info: &'static ResourceInfo,
    ns: Option<&str>,
    name: &str,
    bytes: &[u8],
    query: &Query,
) -> Result<Resp, ApiError> {
    let d = delete_options(info, bytes, query)?;
    let warnings = if d.warn_orphan_default {
        vec![ORPHAN_WARNING.to_string()]
    } else {
        vec![]
    };
    if d.dry {
        let s = state
            .store
            .get(info, ns.unwrap_or(""), name)
            .map_err(|e| respond::store_error(e, info, name))?;
        return Ok(respond::with_warnings(
            respond::json(StatusCode::OK, &s.value()),
            &warnings,
        ));
    }
    let out = state
        .store
        .delete(info, ns.unwrap_or(""), name, d.options)
        .await
        .map_err(|e| respond::store_error(e, info, name))?;
    let obj = out.object.value();
    // Pods return the object; other resources return Success once gone
    // (kube-apiserver's ReturnDeletedObject is set for pods only).
    let body = if out.removed && !std::ptr::eq(info, &PODS) {
        api::status::success_status(
            info,
            name,
            obj.pointer("/metadata/uid").and_then(Value::as_str),
        )
    } else {
        obj
    };
    Ok(respond::with_warnings(
        respond::json(StatusCode::OK, &body),
        &warnings,
    ))
}

pub async fn delete_collection(
    state: &Arc<AppState>,
    info: &'static ResourceInfo,
    ns: Option<&str>,
    bytes: &[u8],
    query: &Query,
) -> Result<Resp, ApiError> {
    let filter = Filter::from_query(info, query)?;
    let d = delete_options(info, bytes, query)?;
    let list = state.store.list(info, ns);
    let mut deleted = Vec::new();
    for s in &list.items {
        let v = s.value();
        if !filter.matches(info, &v) {
            continue;
        }
        let name = name_of(&v);
        let ons = v
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if d.dry {
            deleted.push(v);
            continue;
        }
        match state
            .store
            .delete(info, &ons, &name, d.options.clone())
            .await
        {
            Ok(o) => deleted.push(o.object.value()),
            Err(store::Error::NotFound(_)) => {}
            Err(e) => return Err(respond::store_error(e, info, &name)),
        }
    }
    let list = json!({
        "kind": info.list_kind,
        "apiVersion": info.api_version(),
        "metadata": { "resourceVersion": state.store.revision().to_string() },
        "items": deleted,
    });
    let warnings = if d.warn_orphan_default {
        vec![ORPHAN_WARNING.to_string()]
    } else {
        vec![]
    };
    Ok(respond::with_warnings(
        respond::json(StatusCode::OK, &list),
        &warnings,
    ))
}

/// `POST pods/{name}/eviction`: marks the pod with `DisruptionTarget`
/// (reason `EvictionByEvictionAPI`) and deletes it gracefully, as the
/// eviction subresource does (`pkg/registry/core/pod/storage/eviction.go`).
pub async fn evict(
    state: &Arc<AppState>,
    ns: &str,
    name: &str,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<Resp, ApiError> {
    let (body, _) = crate::body::decode(content_type, bytes)?;
    let grace = body
        .pointer("/deleteOptions/gracePeriodSeconds")
        .and_then(Value::as_i64);
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    state
        .store
        .modify(&PODS, ns, name, |mut pod| {
            let phase = pod
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or("");
            if phase == "Succeeded" || phase == "Failed" {
                return Ok(None);
            }
            let conds = pod
                .as_object_mut()
                .and_then(|o| {
                    o.entry("status")
                        .or_insert_with(|| json!({}))
                        .as_object_mut()
                })
                .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
            if let Some(Value::Array(c)) = conds {
                c.retain(|c| c.get("type") != Some(&json!("DisruptionTarget")));
                c.push(json!({
                    "type": "DisruptionTarget",
                    "status": "True",
                    "lastTransitionTime": now,
                    "reason": "EvictionByEvictionAPI",
                    "message": "Eviction API: evicting",
                }));
            }
            Ok(Some(pod))
        })
        .await
        .map_err(|e| respond::store_error(e, &PODS, name))?;
    state
        .store
        .delete(
            &PODS,
            ns,
            name,
            DeleteOptions {
                grace_period_seconds: grace,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| respond::store_error(e, &PODS, name))?;
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
    });
    Ok(respond::json(StatusCode::CREATED, &status))
}

fn patch_error(e: &crate::patch::strategic::PatchError) -> ApiError {
    match e.status_code() {
        400 => ApiError::BadRequest(e.to_string()),
        422 => ApiError::Invalid {
            group: String::new(),
            kind: String::new(),
            name: String::new(),
            causes: vec![api::status::Cause::invalid("", Value::Null, &e.to_string())],
        },
        _ => ApiError::InternalError(e.to_string()),
    }
}
