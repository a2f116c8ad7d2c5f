//! get, list (with selectors, paging and resourceVersion rules) and pod logs.

use std::sync::Arc;

use api::resources::{ResourceInfo, PODS};
use api::status::ApiError;
use base64::Engine;
use http::StatusCode;
use serde_json::{json, Value};

use crate::filter::Filter;
use crate::output;
use crate::query::Query;
use crate::respond::{self, Resp};
use crate::AppState;

pub(crate) fn get(
    state: &Arc<AppState>,
    info: &'static ResourceInfo,
    ns: Option<&str>,
    name: &str,
    query: &Query,
    accept: &str,
) -> Result<Resp, ApiError> {
    let stored = state
        .store
        .get(info, ns.unwrap_or(""), name)
        .map_err(|e| respond::store_error(e, info, name))?;
    if output::wants_table(accept) {
        let obj = stored.value();
        let table = output::table(
            info,
            &[obj],
            output::include_object(query)?,
            stored.rev,
            None,
        );
        return Ok(respond::json(StatusCode::OK, &table));
    }
    Ok(respond::bytes(
        StatusCode::OK,
        "application/json",
        stored.bytes.to_vec(),
    ))
}

/// The continue token: the revision of the first page and the last key served.
#[derive(serde::Serialize, serde::Deserialize)]
struct Continue {
    rv: u64,
    start: String,
}

fn decode_continue(token: &str) -> Result<Continue, ApiError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| ApiError::BadRequest("continue key is not valid: illegal base64".into()))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into()))
}

fn encode_continue(c: &Continue) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(c).expect("serializes"))
}

/// Resolves `resourceVersion`/`resourceVersionMatch` to the revision to
/// list at: `None` for the current state (unset, "0", or "not older than"
/// a revision we have reached), `Some(n)` for an exact older snapshot
/// (upstream `staging/src/k8s.io/apiserver/pkg/storage/cacher`).
fn list_revision(state: &AppState, query: &Query) -> Result<Option<u64>, ApiError> {
    let rv = query.get("resourceVersion").unwrap_or("");
    let mode = query.get("resourceVersionMatch").unwrap_or("");
    if !matches!(mode, "" | "NotOlderThan" | "Exact") {
        return Err(ApiError::BadRequest(format!(
            "resourceVersionMatch: Unsupported value: {mode:?}: supported values: \"Exact\", \"NotOlderThan\""
        )));
    }
    if rv.is_empty() || rv == "0" {
        if mode == "Exact" && rv.is_empty() {
            return Err(ApiError::BadRequest(
                "resourceVersionMatch is forbidden unless resourceVersion is provided".into(),
            ));
        }
        return Ok(None);
    }
    let n: u64 = rv
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv}")))?;
    let head = state.store.revision();
    if n > head {
        return Err(ApiError::Timeout {
            message: format!("Too large resource version: {n}, current: {head}"),
            retry_after_seconds: 1,
        });
    }
    Ok((mode == "Exact" && n != head).then_some(n))
}

pub(crate) fn list(
    state: &Arc<AppState>,
    info: &'static ResourceInfo,
    ns: Option<&str>,
    query: &Query,
    accept: &str,
) -> Result<Resp, ApiError> {
    let filter = Filter::from_query(info, query)?;
    let exact = list_revision(state, query)?;
    let limit = query.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
    let cont = query
        .get("continue")
        .filter(|c| !c.is_empty())
        .map(decode_continue)
        .transpose()?;
    let table = output::wants_table(accept);
    let after = cont.as_ref().and_then(|c| c.start.split_once('/'));
    let mut items: Vec<(String, Option<Value>, bytes::Bytes)> = Vec::new();
    let mut next: Option<String> = None;
    let mut keep = |key: String, v: Option<Value>, b: &bytes::Bytes| -> bool {
        if limit.is_some_and(|l| items.len() >= l) {
            next = items.last().map(|i| i.0.clone());
            return false;
        }
        items.push((key, v, b.clone()));
        true
    };
    // An exact older revision is a snapshot from the log; otherwise the
    // current state, paged by key (continue pages see later writes, as
    // upstream's do once their revision is compacted).
    let list_rv = match exact {
        Some(rev) => {
            let list = state
                .store
                .list_at(info, ns, rev)
                .map_err(|e| crate::respond::store_error(e, info, ""))?;
            for s in &list.items {
                let v = s.value();
                let key = format!(
                    "{}/{}",
                    v.pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                    v.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                );
                if after.is_some_and(|(a, b)| key.as_str() <= format!("{a}/{b}").as_str()) {
                    continue;
                }
                if filter.matches(info, &v) && !keep(key, table.then_some(v), &s.bytes) {
                    break;
                }
            }
            list.rev
        }
        None => {
            let rev = state.store.visit_after(info, ns, after, |k, s| {
                let key = format!("{}/{}", k.namespace, k.name);
                if filter.is_empty() && !table {
                    return keep(key, None, &s.bytes);
                }
                let v = s.value();
                if !filter.matches(info, &v) {
                    return true;
                }
                keep(key, table.then_some(v), &s.bytes)
            });
            cont.as_ref().map_or(rev, |c| c.rv)
        }
    };
    let cont_token = next.map(|start| encode_continue(&Continue { rv: list_rv, start }));
    if table {
        let objs: Vec<Value> = items.into_iter().filter_map(|i| i.1).collect();
        let t = output::table(
            info,
            &objs,
            output::include_object(query)?,
            list_rv,
            cont_token,
        );
        return Ok(respond::json(StatusCode::OK, &t));
    }
    let mut meta = json!({ "resourceVersion": list_rv.to_string() });
    if let Some(c) = cont_token {
        meta["continue"] = Value::String(c);
    }
    let mut out = Vec::with_capacity(items.iter().map(|i| i.2.len() + 1).sum::<usize>() + 128);
    out.extend_from_slice(
        format!(
            "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
            info.list_kind,
            info.api_version(),
            meta
        )
        .as_bytes(),
    );
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&item.2);
    }
    out.extend_from_slice(b"]}");
    Ok(respond::bytes(StatusCode::OK, "application/json", out))
}

pub(crate) async fn log(
    state: &Arc<AppState>,
    ns: &str,
    name: &str,
    query: &Query,
) -> Result<Resp, ApiError> {
    let pod = state
        .store
        .get(&PODS, ns, name)
        .map_err(|e| respond::store_error(e, &PODS, name))?
        .value();
    let since_time = match query.get("sinceTime") {
        None | Some("") => None,
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|_| ApiError::BadRequest(format!("invalid sinceTime: {t}")))?
                .with_timezone(&chrono::Utc),
        ),
    };
    let opts = api::logs::LogOptions {
        container: query
            .get("container")
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        follow: query.flag("follow"),
        tail_lines: query.int("tailLines")?,
        since_seconds: query.int("sinceSeconds")?,
        since_time,
        timestamps: query.flag("timestamps"),
        previous: query.flag("previous"),
        limit_bytes: query.int("limitBytes")?,
    };
    if opts.since_seconds.is_some() && opts.since_time.is_some() {
        return Err(ApiError::Invalid {
            group: String::new(),
            kind: "PodLogOptions".into(),
            name: String::new(),
            causes: vec![api::status::Cause::forbidden(
                "",
                "at most one of `sinceTime` or `sinceSeconds` may be specified",
            )],
        });
    }
    let stream = state.logs.logs(&pod, opts).await?;
    let mut r = http::Response::new(axum::body::Body::from_stream(stream));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    Ok(r)
}
