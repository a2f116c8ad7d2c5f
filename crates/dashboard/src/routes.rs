//! The dashboard's HTTP routes: the page, the login, the session, the two
//! projections, and the API for a logged-in session.

use std::time::Instant;

use axum::body::Body;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::session::{self, Session};
use crate::State;

type Resp = Response<Body>;

/// What a page without a session is told.
pub(crate) const LOGIN_HINT: &str =
    "Run `joblite dashboard` on the machine that runs the engine and open the link it prints.";

/// Headers every response carries: a strict CSP (the page loads only its
/// own script and style), no framing, no sniffing, and no referrer, so a
/// login URL never leaks.
fn secure(mut r: Resp) -> Resp {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

fn respond(code: StatusCode, content_type: &str, body: impl Into<Body>) -> Resp {
    let mut r = Response::new(body.into());
    *r.status_mut() = code;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn json(code: StatusCode, v: &Value) -> Resp {
    respond(
        code,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

/// A Kubernetes `Status` error, so the page handles every failure alike.
fn status(code: StatusCode, reason: &str, message: &str) -> Resp {
    json(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code.as_u16()}),
    )
}

fn redirect(to: &str) -> Resp {
    let mut r = respond(StatusCode::SEE_OTHER, "text/plain", "");
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn header_str<'a>(req: &'a Request<Body>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn query_param(req: &Request<Body>, key: &str) -> Option<String> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

fn session_of(state: &State, req: &Request<Body>) -> Option<(String, Session)> {
    let id = header_str(req, "cookie").and_then(session::cookie_value)?;
    let s = state.sessions.lock().get(id, Instant::now())?;
    Some((id.to_string(), s))
}

pub(crate) async fn handle(state: &State, req: Request<Body>) -> Resp {
    secure(route(state, req).await)
}

async fn route(state: &State, req: Request<Body>) -> Resp {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match (method.clone(), path.as_str()) {
        (Method::GET, "/" | "/ui") => redirect("/ui/"),
        (Method::POST, "/ui/login-codes") => login_code(state, &req),
        (Method::GET, "/ui/login") => login(state, &req),
        (Method::GET, "/ui/session") => match session_of(state, &req) {
            Some((_, s)) => json(StatusCode::OK, &json!({"csrfToken": s.csrf})),
            None => status(StatusCode::UNAUTHORIZED, "Unauthorized", LOGIN_HINT),
        },
        (Method::POST, "/ui/logout") => {
            let Some((id, s)) = session_of(state, &req) else {
                return status(StatusCode::UNAUTHORIZED, "Unauthorized", LOGIN_HINT);
            };
            if !write_allowed(&req, &s) {
                return forbidden();
            }
            state.sessions.lock().remove(&id);
            let mut r = json(StatusCode::OK, &json!({}));
            if let Ok(v) = HeaderValue::from_str(&session::clear_cookie()) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        (Method::GET, p) if p.starts_with("/ui/") && !p.starts_with("/ui/data/") => {
            match crate::assets::find(&p["/ui/".len()..]) {
                Some((ct, body)) => {
                    let mut r = respond(StatusCode::OK, ct, body);
                    r.headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                    r
                }
                None => status(StatusCode::NOT_FOUND, "NotFound", "no such page"),
            }
        }
        (_, p)
            if p.starts_with("/ui/data/") || p.starts_with("/api/") || p.starts_with("/apis/") =>
        {
            // A refused write's body is read first, or the client may see
            // the connection reset instead of the answer.
            let Some((_, s)) = session_of(state, &req) else {
                apiserver::discard_body(req.into_body()).await;
                return status(StatusCode::UNAUTHORIZED, "Unauthorized", LOGIN_HINT);
            };
            let reading = matches!(method, Method::GET | Method::HEAD);
            if !reading && !write_allowed(&req, &s) {
                apiserver::discard_body(req.into_body()).await;
                return forbidden();
            }
            match p {
                "/ui/data/pods" => pod_rows(state, &req),
                "/ui/data/next-runs" => json(
                    StatusCode::OK,
                    &crate::next_runs::next_runs(
                        state.api.store(),
                        query_param(&req, "namespace")
                            .filter(|n| !n.is_empty())
                            .as_deref(),
                    ),
                ),
                p if p.starts_with("/ui/data/") => {
                    status(StatusCode::NOT_FOUND, "NotFound", "no such data")
                }
                _ if crate::watch_batches::is_watch(&req) => {
                    let r = state.api.call(strip_credentials(req)).await;
                    r.map(crate::watch_batches::batched)
                }
                _ => state.api.call(strip_credentials(req)).await,
            }
        }
        _ => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        ),
    }
}

fn forbidden() -> Resp {
    status(
        StatusCode::FORBIDDEN,
        "Forbidden",
        "a write needs the session's CSRF token from this dashboard's own page",
    )
}

fn write_allowed(req: &Request<Body>, s: &Session) -> bool {
    session::write_allowed(
        s,
        header_str(req, session::CSRF_HEADER),
        header_str(req, "sec-fetch-site"),
    )
}

/// The session cookie and CSRF header are the dashboard's, not the API's.
fn strip_credentials(mut req: Request<Body>) -> Request<Body> {
    let h = req.headers_mut();
    h.remove(header::COOKIE);
    h.remove(session::CSRF_HEADER);
    h.remove(header::AUTHORIZATION);
    req
}

/// `POST /ui/login-codes` with the API's bearer token: a one-time login
/// URL for `joblite dashboard` to print.
fn login_code(state: &State, req: &Request<Body>) -> Resp {
    let token = header_str(req, "authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if !token.is_some_and(|t| state.api.is_token(t)) {
        return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    }
    let code = state.sessions.lock().new_code(Instant::now());
    json(
        StatusCode::CREATED,
        &json!({
            "code": code,
            "url": format!("{}/ui/login?code={code}", state.origin),
            "expiresInSeconds": session::CODE_TTL.as_secs(),
        }),
    )
}

/// `GET /ui/login?code=…`: a good code becomes a session cookie.
fn login(state: &State, req: &Request<Body>) -> Resp {
    let code = query_param(req, "code").unwrap_or_default();
    // `next` may only name a view of this page (`#/jobs/ns/name`), never
    // another location.
    let next = query_param(req, "next")
        .filter(|n| n.starts_with("#/") && !n.contains(['\r', '\n']))
        .unwrap_or_default();
    match state.sessions.lock().redeem(&code, Instant::now()) {
        Some(id) => {
            let mut r = redirect(&format!("/ui/{next}"));
            if let Ok(v) = HeaderValue::from_str(&session::set_cookie(&id)) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        None => respond(
            StatusCode::UNAUTHORIZED,
            "text/html; charset=utf-8",
            format!(
                "<!doctype html><meta charset=utf-8><title>joblite: login code not valid</title>\
                 <p>This login link was already used or has expired. {LOGIN_HINT}</p>"
            ),
        ),
    }
}

/// `GET /ui/data/pods?namespace=&controllerUid=`: the Job's pods as rows.
fn pod_rows(state: &State, req: &Request<Body>) -> Resp {
    let (Some(ns), Some(uid)) = (
        query_param(req, "namespace"),
        query_param(req, "controllerUid"),
    ) else {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "namespace and controllerUid are required",
        );
    };
    match crate::pod_rows::stream(state.api.store(), &ns, uid) {
        Ok(s) => respond(StatusCode::OK, "application/x-ndjson", Body::from_stream(s)),
        Err(e) => status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            &e.to_string(),
        ),
    }
}
