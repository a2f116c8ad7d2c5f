//! Per-resource strategies: decode through the typed object, default,
//! prepare for create/update, and validate — what kube-apiserver's registry
//! strategies do (`pkg/registry/batch/job/strategy.go`,
//! `pkg/registry/core/pod/strategy.go`).

use api::resources::{ResourceInfo, EVENTS, JOBS, NAMESPACES, NODES, PODS};
use api::status::{ApiError, Cause};
use api::validation::FieldError;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod};
use serde_json::{json, Value};

use crate::body;

fn is(info: &ResourceInfo, other: &ResourceInfo) -> bool {
    std::ptr::eq(info, other)
}

/// Round-trips `value` through the resource's type.
pub fn normalize(info: &ResourceInfo, value: Value) -> Result<(Value, Vec<String>), ApiError> {
    if is(info, &JOBS) {
        body::normalize::<Job>(info, value)
    } else if is(info, &PODS) {
        body::normalize::<Pod>(info, value)
    } else if is(info, &NAMESPACES) {
        body::normalize::<Namespace>(info, value)
    } else if is(info, &EVENTS) {
        body::normalize::<Event>(info, value)
    } else if is(info, &NODES) {
        body::normalize::<Node>(info, value)
    } else {
        Err(ApiError::InternalError(format!(
            "no type for {}",
            info.plural
        )))
    }
}

fn to<T: serde::de::DeserializeOwned>(info: &ResourceInfo, v: &Value) -> Result<T, ApiError> {
    serde_json::from_value(v.clone()).map_err(|e| {
        ApiError::BadRequest(format!(
            "{kind} in version \"{ver}\" cannot be handled as a {kind}: {e}",
            kind = info.kind,
            ver = info.version
        ))
    })
}

fn back<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("typed objects serialize")
}

fn invalid(info: &ResourceInfo, obj: &Value, errs: Vec<FieldError>) -> Result<(), ApiError> {
    if errs.is_empty() {
        return Ok(());
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let causes = errs
        .iter()
        .map(|e| Cause {
            reason: e.reason_type.reason().to_string(),
            field: e.field.clone(),
            message: e.message(),
        })
        .collect();
    Err(ApiError::invalid(info, &name, causes))
}

/// Server-owned metadata a client may not set on create.
fn strip_server_fields(obj: &mut Value) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "selfLink",
        ] {
            m.remove(k);
        }
        m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    }
}

/// Defaults and prepares a new object; returns warnings.
pub fn prepare_create(info: &ResourceInfo, obj: &mut Value) -> Result<Vec<String>, ApiError> {
    strip_server_fields(obj);
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut warnings = Vec::new();
    if is(info, &JOBS) {
        // Upstream order: default, prepare, validate (in validate_create),
        // default again on the way out (copies generated labels onto the Job).
        let mut job: Job = to(info, obj)?;
        api::defaults::default_job(&mut job);
        api::defaults::prepare_job_for_create(&mut job, &uid);
        warnings.extend(api::validation::job_warnings_on_create(&job));
        *obj = back(&job);
    } else if is(info, &PODS) {
        let mut pod: Pod = to(info, obj)?;
        api::defaults::default_pod(&mut pod);
        api::defaults::admit_pod_for_create(&mut pod);
        api::defaults::prepare_pod_for_create(&mut pod);
        *obj = back(&pod);
    } else if is(info, &NAMESPACES) {
        if let Some(o) = obj.as_object_mut() {
            let name = o
                .get("metadata")
                .and_then(|m| m.get("name"))
                .cloned()
                .unwrap_or(Value::Null);
            let m = o.entry("metadata").or_insert_with(|| json!({}));
            if let Some(n) = name.as_str() {
                m["labels"]["kubernetes.io/metadata.name"] = json!(n);
            }
            o.insert("spec".into(), json!({"finalizers": ["kubernetes"]}));
            o.insert("status".into(), json!({"phase": "Active"}));
        }
    }
    Ok(warnings)
}

/// Defaulting again after validation, as upstream does when the object is
/// read back (it copies the generated template labels onto the Job).
pub fn finish_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    if is(info, &JOBS) {
        let mut job: Job = to(info, obj)?;
        api::defaults::default_job(&mut job);
        *obj = back(&job);
    }
    Ok(())
}

pub fn validate_create(info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    if is(info, &JOBS) {
        let job: Job = to(info, obj)?;
        invalid(info, obj, api::validation::validate_job_create(&job))
    } else if is(info, &PODS) {
        let pod: Pod = to(info, obj)?;
        invalid(info, obj, api::validation::validate_pod_create(&pod))
    } else if is(info, &NAMESPACES) {
        let ns: Namespace = to(info, obj)?;
        invalid(info, obj, api::validation::validate_namespace_create(&ns))
    } else {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if name.is_empty()
            && obj
                .pointer("/metadata/generateName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
        {
            return invalid(
                info,
                obj,
                vec![FieldError::required(
                    &api::validation::Path::new("metadata").child("name"),
                    "name or generateName is required",
                )],
            );
        }
        Ok(())
    }
}

/// Carries over what an update may not change: `status` for the main
/// resource, everything but `status` (and metadata) for `/status`.
pub fn prepare_update(
    info: &ResourceInfo,
    new: &mut Value,
    old: &Value,
    subresource: Option<&str>,
) -> Result<(), ApiError> {
    let has_status = info.subresources.contains(&"status");
    if let Some(o) = new.as_object_mut() {
        match subresource {
            Some("status") => {
                for (k, v) in old.as_object().into_iter().flatten() {
                    if !matches!(k.as_str(), "status" | "metadata") {
                        o.insert(k.clone(), v.clone());
                    }
                }
            }
            _ if has_status => match old.get("status") {
                Some(s) => {
                    o.insert("status".into(), s.clone());
                }
                None => {
                    o.remove("status");
                }
            },
            _ => {}
        }
    }
    if is(info, &JOBS) {
        let mut job: Job = to(info, new)?;
        api::defaults::default_job(&mut job);
        *new = back(&job);
    } else if is(info, &PODS) {
        let mut pod: Pod = to(info, new)?;
        api::defaults::default_pod(&mut pod);
        *new = back(&pod);
    }
    Ok(())
}

pub fn validate_update(
    info: &ResourceInfo,
    new: &Value,
    old: &Value,
    subresource: Option<&str>,
) -> Result<(), ApiError> {
    if is(info, &JOBS) {
        let (n, o): (Job, Job) = (to(info, new)?, to(info, old)?);
        let errs = if subresource == Some("status") {
            api::validation::validate_job_status_update(&n, &o)
        } else {
            api::validation::validate_job_update(&n, &o)
        };
        invalid(info, new, errs)
    } else if is(info, &PODS) {
        let (n, o): (Pod, Pod) = (to(info, new)?, to(info, old)?);
        let errs = if subresource == Some("status") {
            api::validation::validate_pod_status_update(&n, &o)
        } else {
            api::validation::validate_pod_update(&n, &o)
        };
        invalid(info, new, errs)
    } else {
        Ok(())
    }
}
