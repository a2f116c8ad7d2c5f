//! The API server's request metrics, named and labelled as kube-apiserver's
//! (`staging/src/k8s.io/apiserver/pkg/endpoints/metrics/metrics.go`), and
//! the `/metrics` endpoint that serves every registered family.
//!
//! A request is classified once from its method, path, query and content
//! type ([`classify`], a pure function: upstream's `RequestInfoFactory` plus
//! `CleanVerb`/`CleanScope`/`cleanDryRun`). Short requests are recorded
//! when the handler returns; long-running ones (watches, `pods/log`) are
//! counted in `apiserver_longrunning_requests` while they stream and their
//! duration is recorded when the body ends, as upstream does.

use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use bytes::Bytes;
use http::{header, Method, StatusCode};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::query::Query;
use crate::request::{route, Route};
use crate::respond::{self, Resp};

/// `apiserver_request_total` [STABLE].
pub(crate) static REQUEST_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    IntCounterVec::new(
        Opts::new(
            "apiserver_request_total",
            "[STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
        ),
        &[
            "verb",
            "dry_run",
            "group",
            "version",
            "resource",
            "subresource",
            "scope",
            "component",
            "code",
        ],
    )
    .expect("valid metric definition")
});

/// `apiserver_request_duration_seconds` [STABLE], upstream's buckets.
pub(crate) static REQUEST_DURATION_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    HistogramVec::new(
        HistogramOpts::new(
            "apiserver_request_duration_seconds",
            "[STABLE] Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
        )
        .buckets(vec![
            0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0,
            8.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
        ]),
        &[
            "verb",
            "dry_run",
            "group",
            "version",
            "resource",
            "subresource",
            "scope",
            "component",
        ],
    )
    .expect("valid metric definition")
});

/// `apiserver_longrunning_requests` [STABLE].
pub(crate) static LONGRUNNING_REQUESTS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    IntGaugeVec::new(
        Opts::new(
            "apiserver_longrunning_requests",
            "[STABLE] Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component. Not all requests are tracked this way.",
        ),
        &[
            "verb",
            "group",
            "version",
            "resource",
            "subresource",
            "scope",
            "component",
        ],
    )
    .expect("valid metric definition")
});

/// Upstream's `APIServerComponent`.
const COMPONENT: &str = "apiserver";

/// Registers the API server's request metrics.
pub(crate) fn register(registry: &Registry) -> prometheus::Result<()> {
    registry.register(Box::new(REQUEST_TOTAL.clone()))?;
    registry.register(Box::new(REQUEST_DURATION_SECONDS.clone()))?;
    registry.register(Box::new(LONGRUNNING_REQUESTS.clone()))?;
    Ok(())
}

/// What a request is, in the metrics' label values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestLabels {
    pub verb: &'static str,
    pub dry_run: &'static str,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: String,
    pub scope: &'static str,
    /// Upstream `BasicLongRunningRequestCheck`: watches and the
    /// attach/exec/log/portforward/proxy subresources.
    pub long_running: bool,
}

/// Classifies a request (upstream `RequestInfoFactory.NewRequestInfo`
/// followed by `CleanVerb`, `CleanScope` and `cleanDryRun`).
pub(crate) fn classify(
    method: &Method,
    path: &str,
    query: &Query,
    content_type: Option<&str>,
) -> RequestLabels {
    let dry_run = match query.get("dryRun") {
        None | Some("") => "",
        Some("All") => "All",
        Some(_) => "invalid",
    };
    let upper = |m: &Method| -> &'static str {
        match *m {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            Method::HEAD => "HEAD",
            Method::OPTIONS => "OPTIONS",
            _ => "other",
        }
    };
    let non_resource = |subresource: &str| RequestLabels {
        verb: upper(method),
        dry_run,
        group: String::new(),
        version: String::new(),
        resource: String::new(),
        subresource: subresource.to_string(),
        scope: "",
        long_running: false,
    };
    if let Some(m) = crate::resource_metrics::route(path) {
        use crate::resource_metrics::{MetricsRoute, GROUP, VERSION};
        let (resource, named, namespaced) = match m {
            MetricsRoute::Nodes { name } => ("nodes", name.is_some(), false),
            MetricsRoute::Pods { namespace, name } => ("pods", name.is_some(), namespace.is_some()),
            _ => return non_resource("/apis/<group>"),
        };
        return RequestLabels {
            verb: if named { "GET" } else { "LIST" },
            dry_run,
            group: GROUP.into(),
            version: VERSION.into(),
            resource: resource.into(),
            subresource: String::new(),
            scope: if named {
                "resource"
            } else if namespaced {
                "namespace"
            } else {
                "cluster"
            },
            long_running: false,
        };
    }
    let r = match route(path) {
        Route::Resource(r) => r,
        Route::Health(p) => return non_resource(&format!("/{p}")),
        Route::Version => return non_resource("/version"),
        Route::Metrics => return non_resource("/metrics"),
        Route::CoreGroups => return non_resource("/api"),
        Route::Groups => return non_resource("/apis"),
        Route::Group(_) | Route::GroupVersion { .. } => return non_resource("/apis/<group>"),
        Route::OpenApiV3Index | Route::OpenApiV3Doc(_) => return non_resource("/openapi/v3"),
        Route::OpenApiV2 => return non_resource("/openapi/v2"),
        // Unknown paths must not mint label values.
        Route::NotFound => return non_resource(""),
    };
    let sub = r.subresource.clone().unwrap_or_default();
    let named = r.name.is_some();
    let watch = matches!(query.get("watch"), Some("true" | "1" | "True"));
    // Connecter subresources are CONNECT whatever the method (upstream
    // installs them as CONNECT routes).
    let connect = matches!(sub.as_str(), "exec" | "attach" | "portforward" | "proxy");
    let verb = match (method.as_str(), named) {
        _ if connect => "CONNECT",
        ("GET" | "HEAD", false) if watch => "WATCH",
        ("GET" | "HEAD", false) => "LIST",
        ("GET" | "HEAD", true) => "GET",
        ("POST", _) => "POST",
        ("PUT", _) => "PUT",
        ("PATCH", _) if content_type.is_some_and(|c| c.starts_with("application/apply-patch")) => {
            "APPLY"
        }
        ("PATCH", _) => "PATCH",
        ("DELETE", false) => "DELETECOLLECTION",
        ("DELETE", true) => "DELETE",
        ("CONNECT", _) => "CONNECT",
        _ => upper(method),
    };
    // CleanScope: a named object or a create is `resource`.
    let scope = if named || verb == "POST" {
        "resource"
    } else if r.namespace.is_some() {
        "namespace"
    } else {
        "cluster"
    };
    let long_running = verb == "WATCH"
        || matches!(
            sub.as_str(),
            "attach" | "exec" | "proxy" | "log" | "portforward"
        );
    RequestLabels {
        verb,
        dry_run,
        group: r.info.group.to_string(),
        version: r.info.version.to_string(),
        resource: r.info.plural.to_string(),
        subresource: sub,
        scope,
        long_running,
    }
}

impl RequestLabels {
    fn duration_labels(&self) -> [&str; 8] {
        [
            self.verb,
            self.dry_run,
            &self.group,
            &self.version,
            &self.resource,
            &self.subresource,
            self.scope,
            COMPONENT,
        ]
    }

    fn longrunning_labels(&self) -> [&str; 7] {
        [
            self.verb,
            &self.group,
            &self.version,
            &self.resource,
            &self.subresource,
            self.scope,
            COMPONENT,
        ]
    }

    fn record(&self, code: u16, started: Instant) {
        let d = self.duration_labels();
        REQUEST_DURATION_SECONDS
            .with_label_values(&d)
            .observe(started.elapsed().as_secs_f64());
        let code = code.to_string();
        let mut t: [&str; 9] = [""; 9];
        t[..8].copy_from_slice(&d);
        t[8] = &code;
        REQUEST_TOTAL.with_label_values(&t).inc();
    }
}

/// Runs `handle` for `req` and records it.
pub(crate) async fn instrument<F>(
    req: http::Request<Body>,
    handle: impl FnOnce(http::Request<Body>) -> F,
) -> Resp
where
    F: std::future::Future<Output = Resp>,
{
    let query = Query::parse(req.uri().query());
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let labels = classify(req.method(), req.uri().path(), &query, content_type);
    let started = Instant::now();
    if !labels.long_running {
        let resp = handle(req).await;
        labels.record(resp.status().as_u16(), started);
        return resp;
    }
    LONGRUNNING_REQUESTS
        .with_label_values(&labels.longrunning_labels())
        .inc();
    let resp = handle(req).await;
    let code = resp.status().as_u16();
    let (parts, body) = resp.into_parts();
    let body = Body::new(Recorded {
        inner: body,
        done: Some(Finish {
            labels,
            code,
            started,
        }),
    });
    http::Response::from_parts(parts, body)
}

/// Records a long-running request when its body ends or is dropped (the
/// client went away).
struct Finish {
    labels: RequestLabels,
    code: u16,
    started: Instant,
}

impl Drop for Finish {
    fn drop(&mut self) {
        LONGRUNNING_REQUESTS
            .with_label_values(&self.labels.longrunning_labels())
            .dec();
        self.labels.record(self.code, self.started);
    }
}

struct Recorded {
    inner: Body,
    done: Option<Finish>,
}

impl http_body::Body for Recorded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let p = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = p {
            self.done.take();
        }
        p
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// `GET /metrics`: every registered family in the Prometheus text format
/// 0.0.4, the format kube components serve.
pub(crate) fn serve(registry: &Registry) -> Resp {
    let encoder = TextEncoder::new();
    let mut out = Vec::with_capacity(16 * 1024);
    if let Err(e) = encoder.encode(&registry.gather(), &mut out) {
        return respond::bytes(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            format!("encoding metrics: {e}").into_bytes(),
        );
    }
    respond::bytes(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(method: Method, uri: &str, ct: Option<&str>) -> RequestLabels {
        let (path, q) = uri.split_once('?').unwrap_or((uri, ""));
        classify(&method, path, &Query::parse(Some(q)), ct)
    }

    /// Verb and scope as upstream's `CleanVerb`/`CleanScope` assign them.
    #[test]
    fn verbs_and_scopes_follow_upstream() {
        let cases = [
            (
                Method::GET,
                "/apis/batch/v1/namespaces/d/jobs",
                None,
                "LIST",
                "namespace",
                false,
            ),
            (
                Method::GET,
                "/apis/batch/v1/jobs?watch=true",
                None,
                "WATCH",
                "cluster",
                true,
            ),
            (
                Method::GET,
                "/apis/batch/v1/namespaces/d/jobs/x",
                None,
                "GET",
                "resource",
                false,
            ),
            (
                Method::POST,
                "/apis/batch/v1/namespaces/d/jobs",
                None,
                "POST",
                "resource",
                false,
            ),
            (
                Method::PATCH,
                "/apis/batch/v1/namespaces/d/jobs/x",
                Some("application/apply-patch+yaml"),
                "APPLY",
                "resource",
                false,
            ),
            (
                Method::PATCH,
                "/apis/batch/v1/namespaces/d/jobs/x",
                Some("application/merge-patch+json"),
                "PATCH",
                "resource",
                false,
            ),
            (
                Method::DELETE,
                "/apis/batch/v1/namespaces/d/jobs",
                None,
                "DELETECOLLECTION",
                "namespace",
                false,
            ),
            (
                Method::DELETE,
                "/apis/batch/v1/namespaces/d/jobs/x",
                None,
                "DELETE",
                "resource",
                false,
            ),
            (
                Method::GET,
                "/api/v1/namespaces/d/pods/p/log",
                None,
                "GET",
                "resource",
                true,
            ),
        ];
        for (m, uri, ct, verb, scope, long) in cases {
            let l = c(m, uri, ct);
            assert_eq!(
                (l.verb, l.scope, l.long_running),
                (verb, scope, long),
                "{uri}"
            );
        }
        let l = c(Method::GET, "/api/v1/namespaces/d/pods/p/log", None);
        assert_eq!(
            (
                l.group.as_str(),
                l.resource.as_str(),
                l.subresource.as_str()
            ),
            ("", "pods", "log")
        );
    }

    #[test]
    fn connecter_subresources_are_connect() {
        for uri in [
            "/api/v1/namespaces/d/pods/p/exec?command=sh",
            "/api/v1/namespaces/d/pods/p/attach",
            "/api/v1/namespaces/d/pods/p/portforward",
        ] {
            for m in [Method::GET, Method::POST] {
                let l = c(m, uri, None);
                assert_eq!(
                    (l.verb, l.scope, l.long_running),
                    ("CONNECT", "resource", true),
                    "{uri}"
                );
            }
        }
    }

    #[test]
    fn dry_run_and_non_resource_paths() {
        let l = c(
            Method::POST,
            "/apis/batch/v1/namespaces/d/jobs?dryRun=All",
            None,
        );
        assert_eq!(l.dry_run, "All");
        assert_eq!(
            c(
                Method::POST,
                "/apis/batch/v1/namespaces/d/jobs?dryRun=x",
                None
            )
            .dry_run,
            "invalid"
        );
        let l = c(Method::GET, "/healthz", None);
        assert_eq!(
            (l.verb, l.subresource.as_str(), l.scope),
            ("GET", "/healthz", "")
        );
        assert_eq!(c(Method::GET, "/no/such/path", None).subresource, "");
    }
}
