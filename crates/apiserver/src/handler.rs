//! The request handler: authentication, routing, and the verbs.

use std::sync::Arc;

use api::status::ApiError;
use axum::body::Body;
use http::{header, HeaderMap, Method, Request, StatusCode};

use crate::query::Query;
use crate::request::{route, ResourceRequest, Route};
use crate::respond::{self, Resp};
use crate::AppState;

/// Largest request body accepted (kube-apiserver's limit is 3 MiB).
pub(crate) const MAX_BODY: usize = 3 * 1024 * 1024;

/// How much of an oversize body is read (and dropped) so the client gets
/// the 413 rather than a reset connection.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Whether the connection presented a client certificate signed by our CA.
#[derive(Clone, Copy)]
pub(crate) struct ClientCertVerified(pub bool);

pub(crate) async fn handle(state: Arc<AppState>, req: Request<Body>) -> Resp {
    let verified = req
        .extensions()
        .get::<ClientCertVerified>()
        .is_some_and(|v| v.0);
    if !verified && !authorized(&state, req.headers()) {
        // Read (and drop) the body first, up to the body limit: answering
        // before a client has sent it makes the connection close under the
        // client, which then sees a reset instead of the 401 (Go's server
        // drains a request body too).
        drain(req.into_body(), MAX_BODY).await;
        return respond::error(&ApiError::Unauthorized("Unauthorized".into()));
    }
    match dispatch(&state, req).await {
        Ok(r) => r,
        Err(e) => respond::error(&e),
    }
}

/// Reads a body to its end or until `limit` bytes, dropping it.
pub(crate) async fn drain(mut body: Body, limit: usize) {
    use http_body_util::BodyExt;
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > limit {
                return;
            }
        }
    }
}

fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), state.token.as_bytes()))
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn dispatch(state: &Arc<AppState>, req: Request<Body>) -> Result<Resp, ApiError> {
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query());
    let method = req.method().clone();
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // The resource metrics API is computed, not stored: it has its own routes.
    if let Some(r) = crate::resource_metrics::route(&path) {
        return crate::resource_metrics::serve(state, &method, r, &query).await;
    }
    match route(&path) {
        Route::Version => Ok(respond::json(StatusCode::OK, &crate::version())),
        Route::Health(_) => Ok(respond::bytes(StatusCode::OK, "text/plain", b"ok".to_vec())),
        Route::Metrics if method == Method::GET => Ok(crate::metrics::serve(&state.metrics)),
        Route::CoreGroups => Ok(crate::discovery_routes::core(
            &accept,
            &state.server_address,
        )),
        Route::Groups => Ok(crate::discovery_routes::groups(&accept)),
        Route::Group(g) => crate::discovery_routes::group(&g),
        Route::GroupVersion { group, version } => {
            crate::discovery_routes::group_version(&group, &version)
        }
        Route::OpenApiV3Index => Ok(respond::bytes(
            StatusCode::OK,
            "application/json",
            crate::openapi::index().to_vec(),
        )),
        Route::OpenApiV3Doc(p) => match crate::openapi::document(&p) {
            Some(doc) => Ok(respond::bytes(
                StatusCode::OK,
                "application/json",
                doc.to_vec(),
            )),
            None => Err(respond::not_found_generic()),
        },
        Route::OpenApiV2 | Route::Metrics | Route::NotFound => Err(respond::not_found_generic()),
        Route::Resource(r) if crate::streams::is_stream(&r) => {
            crate::streams::serve(state, r, req).await
        }
        Route::Resource(r) => resource(state, method, r, query, &accept, req).await,
    }
}

async fn read_body(req: Request<Body>) -> Result<(Option<String>, Vec<u8>), ApiError> {
    use http_body_util::BodyExt;
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let too_large = || ApiError::RequestEntityTooLarge(format!("limit is {MAX_BODY}"));
    let mut body = req.into_body();
    let mut out = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= MAX_BODY {
                out.extend_from_slice(&data);
            } else if seen > DRAIN_LIMIT {
                // Past this the connection is dropped rather than drained.
                return Err(too_large());
            }
        }
    }
    if seen > MAX_BODY {
        // The rest was read and dropped so the client sees the 413.
        return Err(too_large());
    }
    Ok((ct, out))
}

async fn resource(
    state: &Arc<AppState>,
    method: Method,
    r: ResourceRequest,
    query: Query,
    accept: &str,
    req: Request<Body>,
) -> Result<Resp, ApiError> {
    let info = r.info;
    let sub = r.subresource.as_deref();
    if let Some(s) = sub {
        if !info.subresources.contains(&s) {
            return Err(respond::not_found_generic());
        }
    } else if let Some(verb) = verb(method.as_str(), r.name.is_some(), query.flag("watch")) {
        // The registry's verbs decide (no `deletecollection` of namespaces,
        // reviews are create-only).
        if !info.allows(verb) {
            return Err(ApiError::MethodNotAllowed {
                group: info.group.into(),
                resource: info.plural.into(),
                action: verb.to_string(),
            });
        }
    }
    if method == Method::GET && sub != Some("log") {
        crate::output::negotiate(accept)?;
        // `timeoutSeconds` and `limit` are integers (upstream converts
        // every list option; one that does not convert is a 400).
        query.int("timeoutSeconds")?;
        query.int("limit")?;
    }
    match (method.as_str(), r.name.as_deref(), sub) {
        ("GET", None, None) if query.flag("watch") => {
            // On HTTP/2 the connection carries other streams: only the
            // watch ends there.
            let close = req
                .extensions()
                .get::<crate::watch::CloseConnection>()
                .filter(|_| req.version() < http::Version::HTTP_2)
                .cloned();
            crate::watch::serve(state, info, r.namespace.as_deref(), &query, accept, close)
        }
        ("GET", None, None) => {
            crate::read::list(state, info, r.namespace.as_deref(), &query, accept)
        }
        ("GET", Some(name), Some("log")) => {
            crate::read::log(state, r.namespace.as_deref().unwrap_or(""), name, &query).await
        }
        ("GET", Some(name), None | Some("status")) => {
            crate::read::get(state, info, r.namespace.as_deref(), name, &query, accept)
        }
        ("POST", None, None) => {
            let (ct, bytes) = read_body(req).await?;
            crate::write::create(
                state,
                info,
                r.namespace.as_deref(),
                ct.as_deref(),
                &bytes,
                &query,
            )
            .await
        }
        ("POST", Some(name), Some("eviction")) => {
            let (ct, bytes) = read_body(req).await?;
            crate::write::evict(
                state,
                r.namespace.as_deref().unwrap_or(""),
                name,
                ct.as_deref(),
                &bytes,
            )
            .await
        }
        ("PUT", Some(name), None | Some("status")) => {
            let (ct, bytes) = read_body(req).await?;
            crate::write::update(state, info, &r, name, ct.as_deref(), &bytes, &query).await
        }
        ("PATCH", Some(name), None | Some("status")) => {
            let (ct, bytes) = read_body(req).await?;
            crate::write::patch(state, info, &r, name, ct.as_deref(), &bytes, &query).await
        }
        ("DELETE", Some(name), None) => {
            let (_, bytes) = read_body(req).await?;
            crate::write::delete(state, info, r.namespace.as_deref(), name, &bytes, &query).await
        }
        ("DELETE", None, None) => {
            let (_, bytes) = read_body(req).await?;
            crate::write::delete_collection(state, info, r.namespace.as_deref(), &bytes, &query)
                .await
        }
        (m, _, _) => Err(ApiError::MethodNotAllowed {
            group: info.group.into(),
            resource: info.plural.into(),
            action: method_action(m),
        }),
    }
}

/// The verb of a request on a resource (not a subresource).
fn verb(method: &str, named: bool, watch: bool) -> Option<&'static str> {
    Some(match (method, named) {
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", false) => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => return None,
    })
}

fn method_action(m: &str) -> String {
    match m {
        "GET" => "get",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        other => other,
    }
    .to_string()
}
