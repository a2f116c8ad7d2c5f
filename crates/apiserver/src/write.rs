//! create, update, patch (four kinds), delete and deletecollection.

use std::sync::Arc;

use api::resources::{ResourceInfo, PODS};
use api::status::ApiError;
use api::strategy::UpdateScope;
use http::StatusCode;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{json, Value};
use store::{DeleteOptions, Propagation};

use crate::filter::Filter;
use crate::query::Query;
use crate::request::ResourceRequest;
use crate::respond::{self, Resp};
use crate::AppState;

/// `ValidateDryRun`: every value is `All`. Returns whether to dry-run.
fn dry_run_causes(values: &[&str], causes: &mut Vec<api::status::Cause>) -> bool {
    if let Some(bad) = values.iter().find(|v| **v != "All") {
        causes.push(api::status::Cause::not_supported("dryRun", *bad, &["All"]));
    }
    !values.is_empty()
}

/// The write options of a create, update or patch, validated as upstream's
/// `ValidateCreateOptions` / `ValidateUpdateOptions` / `ValidatePatchOptions`
/// (`staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go`):
/// `dryRun` only `All`, `fieldManager` at most 128 printable characters
/// (and required for apply, `force` only with it), `fieldValidation` one of
/// `Ignore`, `Warn`, `Strict`. A failure is 422 Invalid on
/// `<kind>.meta.k8s.io` (`handlers/create.go`, `update.go`, `patch.go`).
/// Returns whether the write is a dry run.
fn write_options(query: &Query, kind: &str, patch: Option<PatchType>) -> Result<bool, ApiError> {
    let mut causes = Vec::new();
    let dry_values: Vec<&str> = query
        .get("dryRun")
        .into_iter()
        .filter(|v| !v.is_empty())
        .collect();
    let dry = dry_run_causes(&dry_values, &mut causes);
    let manager = query.get("fieldManager").unwrap_or("");
    match patch {
        Some(PatchType::Apply) if manager.is_empty() => {
            causes.push(api::status::Cause::required(
                "fieldManager",
                "is required for apply patch",
            ));
        }
        Some(PatchType::Apply) | None => {}
        Some(_) => {
            if query.get("force").is_some() {
                causes.push(api::status::Cause::forbidden(
                    "force",
                    "may not be specified for non-apply patch",
                ));
            }
        }
    }
    if manager.len() > 128 {
        causes.push(api::status::Cause::too_long("fieldManager", 128));
    }
    for (i, c) in manager.char_indices() {
        if c.is_control() || c == '\u{fffd}' {
            causes.push(api::status::Cause::invalid(
                "fieldManager",
                manager,
                &format!("invalid character U+{:04X} (at position {i})", c as u32),
            ));
        }
    }
    if let Some(fv) = query.get("fieldValidation") {
        if !["", "Ignore", "Warn", "Strict"].contains(&fv) {
            causes.push(api::status::Cause::not_supported(
                "fieldValidation",
                fv,
                &["", "Ignore", "Strict", "Warn"],
            ));
        }
    }
    if causes.is_empty() {
        Ok(dry)
    } else {
        Err(ApiError::Invalid {
            group: "meta.k8s.io".into(),
            kind: kind.into(),
            name: String::new(),
            causes,
        })
    }
}

fn set_namespace(
    info: &ResourceInfo,
    meta: &mut ObjectMeta,
    ns: Option<&str>,
) -> Result<(), ApiError> {
    if !info.namespaced {
        return Ok(());
    }
    let url_ns = ns.unwrap_or("");
    match meta.namespace.as_deref() {
        Some(b) if !b.is_empty() && b != url_ns => Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        )),
        _ => {
            meta.namespace = Some(url_ns.to_string());
            Ok(())
        }
    }
}

/// `rest.WipeObjectMetaSystemFields`: what a client may not set on create.
fn wipe_system_fields(meta: &mut ObjectMeta) {
    meta.uid = None;
    meta.resource_version = None;
    meta.creation_timestamp = None;
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    meta.generation = None;
    meta.self_link = None;
}

/// The response for a stored object.
fn stored(code: StatusCode, s: &store::Stored, warnings: &[String]) -> Resp {
    respond::with_warnings(
        respond::bytes(code, "application/json", s.bytes.to_vec()),
        warnings,
    )
}

/// Which rules an update follows, by subresource.
fn scope(subresource: Option<&str>) -> UpdateScope {
    match subresource {
        Some("status") => UpdateScope::Status,
        _ => UpdateScope::Main,
    }
}

pub(crate) async fn create(
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
    let dry = write_options(query, "CreateOptions", None)?;
    let (mut obj, mut warnings) =
        crate::body::decode_object(info, content_type, bytes, query.get("fieldValidation"))?;
    set_namespace(info, obj.meta_mut(), ns)?;
    wipe_system_fields(obj.meta_mut());
    if !info.strategy.stored() {
        // A review (SelfSubjectAccessReview): validated, answered, forgotten.
        warnings.extend(info.strategy.create(obj.as_mut())?);
        info.strategy.answer(obj.as_mut());
        return Ok(respond::with_warnings(
            respond::bytes(StatusCode::CREATED, "application/json", obj.to_bytes()),
            &warnings,
        ));
    }
    let name = obj.meta().name.clone().unwrap_or_default();
    let written = state
        .store
        .create_object(info, obj, dry)
        .await
        .map_err(|e| respond::store_error(e, info, &name))?;
    warnings.extend(written.warnings);
    Ok(stored(StatusCode::CREATED, &written.stored, &warnings))
}

pub(crate) async fn update(
    state: &Arc<AppState>,
    info: &'static ResourceInfo,
    r: &ResourceRequest,
    name: &str,
    content_type: Option<&str>,
    bytes: &[u8],
    query: &Query,
) -> Result<Resp, ApiError> {
    let dry = write_options(query, "UpdateOptions", None)?;
    let (mut obj, mut warnings) =
        crate::body::decode_object(info, content_type, bytes, query.get("fieldValidation"))?;
    set_namespace(info, obj.meta_mut(), r.namespace.as_deref())?;
    let body_name = obj.meta().name.clone().unwrap_or_default();
    if body_name != name {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let written = state
        .store
        .update_object(info, obj, scope(r.subresource.as_deref()), dry)
        .await
        .map_err(|e| respond::store_error(e, info, name))?;
    warnings.extend(written.warnings);
    Ok(stored(StatusCode::OK, &written.stored, &warnings))
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

pub(crate) async fn patch(
    state: &Arc<AppState>,
    info: &'static ResourceInfo,
    r: &ResourceRequest,
    name: &str,
    content_type: Option<&str>,
    bytes: &[u8],
    query: &Query,
) -> Result<Resp, ApiError> {
    let kind = patch_type(content_type)?;
    let dry = write_options(query, "PatchOptions", Some(kind))?;
    let mode = crate::body::FieldValidation::parse(query.get("fieldValidation"))?;
    let ns = r.namespace.as_deref().unwrap_or("");
    let patch_doc: Value = match kind {
        PatchType::Apply => crate::body::decode_yaml(bytes)?.0,
        _ => crate::body::decode_json(bytes)?.0,
    };
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
                // Upstream decodes the document as a list of objects (400
                // when it is not) and finds a bad operation when applying
                // it (422): `jsonPatcher.applyJSPatch` in `handlers/patch.go`.
                let p: json_patch::Patch =
                    serde_json::from_value(patch_doc.clone()).map_err(|e| {
                        let ops = patch_doc
                            .as_array()
                            .is_some_and(|a| a.iter().all(Value::is_object));
                        if ops {
                            ApiError::Invalid {
                                group: info.group.into(),
                                kind: info.kind.into(),
                                name: name.into(),
                                causes: vec![api::status::Cause::invalid("", Value::Null, &e.to_string())],
                            }
                        } else {
                            ApiError::BadRequest(format!(
                                "the server rejected our request due to an error in our request: {e}"
                            ))
                        }
                    })?;
                let mut doc = original.clone();
                json_patch::patch(&mut doc, &p).map_err(|e| match e.kind {
                    json_patch::PatchErrorKind::TestFailed => ApiError::Invalid {
                        group: info.group.into(),
                        kind: info.kind.into(),
                        name: name.into(),
                        causes: vec![api::status::Cause::invalid("", Value::Null, &e.to_string())],
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
            PatchType::Strategic | PatchType::Apply => {
                crate::patch::strategic::apply(&original, &patch_doc, info.strategy.patch_schema())
                    .map_err(|e| patch_error(&e))?
            }
        };
        let pinned = match kind {
            PatchType::Json => patch_doc.as_array().is_some_and(|ops| {
                ops.iter()
                    .any(|op| op.get("path") == Some(&json!("/metadata/resourceVersion")))
            }),
            _ => patch_doc.pointer("/metadata/resourceVersion").is_some(),
        };
        // Decode the result once, with unknown fields under fieldValidation.
        let (mut obj, mut warnings) = crate::body::decode_patched(info, patched, mode)?;
        // upstream `checkName` (`handlers/patch.go`): a patch may not move
        // the object to another name or namespace.
        let meta = obj.meta();
        let patched_name = meta.name.as_deref().unwrap_or("");
        if patched_name != name {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({patched_name}) does not match the name on the URL ({name})"
            )));
        }
        if info.namespaced {
            let patched_ns = meta.namespace.as_deref().unwrap_or("");
            if !patched_ns.is_empty() && patched_ns != ns {
                return Err(ApiError::BadRequest(format!(
                    "the namespace of the object ({patched_ns}) does not match the namespace on the request ({ns})"
                )));
            }
            obj.meta_mut().namespace = Some(ns.to_string());
        }
        if !pinned {
            obj.meta_mut().resource_version = Some(current.rev.to_string());
        }
        match state
            .store
            .update_object(info, obj, scope(r.subresource.as_deref()), dry)
            .await
        {
            Err(store::Error::Conflict(_)) if !pinned => continue,
            Err(e) => return Err(respond::store_error(e, info, name)),
            Ok(written) => {
                warnings.extend(written.warnings);
                return Ok(stored(StatusCode::OK, &written.stored, &warnings));
            }
        }
    }
    Err(ApiError::conflict_modified(info, name))
}

/// DeleteOptions from the body (kubectl) or the query (Python client).
struct Deletion {
    options: DeleteOptions,
    dry: bool,
    orphan_warning: Option<&'static str>,
}

fn delete_options(info: &ResourceInfo, bytes: &[u8], query: &Query) -> Result<Deletion, ApiError> {
    let body: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        crate::body::decode_json(bytes)?.0
    };
    let body = if body.is_null() { json!({}) } else { body };
    let field = |k: &str| -> Option<Value> {
        body.get(k)
            .cloned()
            .filter(|v| !v.is_null())
            .or_else(|| query.get(k).map(|s| json!(s)))
    };
    // The body decodes as a DeleteOptions, so a field of the wrong type is
    // refused rather than read as unset (a `propagationPolicy: 1` or a
    // `dryRun: "x"` must not turn into a real delete).
    let mut typed = body.clone();
    if let Some(m) = typed.as_object_mut() {
        m.remove("kind");
        m.remove("apiVersion");
    }
    serde_json::from_value::<k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions>(typed)
        .map_err(|e| ApiError::BadRequest(format!("unable to decode DeleteOptions: {e}")))?;
    // `ValidateDeleteOptions` (apimachinery `meta/v1/validation`): 422.
    let mut causes = Vec::new();
    if let (Some(_), Some(p)) = (field("orphanDependents"), field("propagationPolicy")) {
        causes.push(api::status::Cause::invalid(
            "propagationPolicy",
            p,
            "orphanDependents and deletionPropagation cannot be both set",
        ));
    }
    let dry_values: Vec<String> = match field("dryRun") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_string())
            .collect(),
        Some(v) => vec![v.as_str().unwrap_or("").to_string()],
    };
    let dry_values: Vec<&str> = dry_values
        .iter()
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .collect();
    let dry = dry_run_causes(&dry_values, &mut causes);
    if !causes.is_empty() {
        return Err(ApiError::Invalid {
            group: "meta.k8s.io".into(),
            kind: "DeleteOptions".into(),
            name: String::new(),
            causes,
        });
    }
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
    // Kinds whose strategy orphans by default (batch/v1 Jobs,
    // `DefaultGarbageCollectionPolicy`) say so in a warning.
    let orphan_warning = propagation
        .is_none()
        .then(|| info.strategy.orphan_by_default_warning())
        .flatten();
    if orphan_warning.is_some() {
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
        orphan_warning,
    })
}

pub(crate) async fn delete(
    state: &Arc<AppState>,
    info: &'static ResourceInfo,
    ns: Option<&str>,
    name: &str,
    bytes: &[u8],
    query: &Query,
) -> Result<Resp, ApiError> {
    let d = delete_options(info, bytes, query)?;
    let warnings: Vec<String> = d.orphan_warning.iter().map(|w| w.to_string()).collect();
    let out = state
        .store
        .delete_with(info, ns.unwrap_or(""), name, &d.options, d.dry)
        .await
        .map_err(|e| respond::store_error(e, info, name))?;
    // Pods return the object; other resources return Success once gone
    // (kube-apiserver's ReturnDeletedObject).
    if out.removed && !info.strategy.returns_deleted_object() {
        let obj = out.object.value();
        let body = api::status::success_status(
            info,
            name,
            obj.pointer("/metadata/uid").and_then(Value::as_str),
        );
        return Ok(respond::with_warnings(
            respond::json(StatusCode::OK, &body),
            &warnings,
        ));
    }
    Ok(stored(StatusCode::OK, &out.object, &warnings))
}

pub(crate) async fn delete_collection(
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
        let name = v
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let ons = v
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match state
            .store
            .delete_with(info, &ons, &name, &d.options, d.dry)
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
    let warnings: Vec<String> = d.orphan_warning.iter().map(|w| w.to_string()).collect();
    Ok(respond::with_warnings(
        respond::json(StatusCode::OK, &list),
        &warnings,
    ))
}

/// `POST pods/{name}/eviction`: marks the pod with `DisruptionTarget`
/// (reason `EvictionByEvictionAPI`) and deletes it gracefully, as the
/// eviction subresource does (`pkg/registry/core/pod/storage/eviction.go`).
pub(crate) async fn evict(
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
    let now = api::vocabulary::now_string();
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
        422 => ApiError::Invalid {
            group: String::new(),
            kind: String::new(),
            name: String::new(),
            causes: vec![api::status::Cause::invalid("", Value::Null, &e.to_string())],
        },
        _ => ApiError::BadRequest(e.to_string()),
    }
}
