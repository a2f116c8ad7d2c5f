//! Turning a URL into what it addresses, as kube-apiserver's
//! `RequestInfoFactory` does (`staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`).

use api::resources::{self, ResourceInfo};

/// A request for a resource collection or object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceRequest {
    pub info: &'static ResourceInfo,
    /// The namespace in the path; `None` for cluster-scoped resources and
    /// for cluster-wide lists of namespaced ones.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// What a path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Version,
    Health(&'static str),
    /// `/metrics`
    Metrics,
    /// `/api`
    CoreGroups,
    /// `/apis`
    Groups,
    /// `/apis/{group}`
    Group(String),
    /// `/api/v1`, `/apis/batch/v1`
    GroupVersion {
        group: String,
        version: String,
    },
    OpenApiV3Index,
    OpenApiV3Doc(String),
    OpenApiV2,
    Resource(ResourceRequest),
    NotFound,
}

fn known_version(group: &str, version: &str) -> bool {
    resources::ALL
        .iter()
        .any(|r| r.group == group && r.version == version)
}

/// Parses a request path (without query).
pub(crate) fn route(path: &str) -> Route {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let parts: Vec<&str> = if parts == [""] { vec![] } else { parts };
    match parts.as_slice() {
        ["version"] => return Route::Version,
        ["metrics"] => return Route::Metrics,
        ["healthz"] => return Route::Health("healthz"),
        ["livez"] => return Route::Health("livez"),
        ["readyz"] => return Route::Health("readyz"),
        ["healthz", _] | ["livez", _] | ["readyz", _] => return Route::Health("check"),
        ["api"] => return Route::CoreGroups,
        ["apis"] => return Route::Groups,
        ["openapi", "v3"] => return Route::OpenApiV3Index,
        ["openapi", "v2"] => return Route::OpenApiV2,
        ["openapi", "v3", rest @ ..] => return Route::OpenApiV3Doc(rest.join("/")),
        _ => {}
    }
    let (group, version, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g] => {
            return if resources::ALL.iter().any(|r| r.group == *g) {
                Route::Group(g.to_string())
            } else {
                Route::NotFound
            }
        }
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::NotFound,
    };
    if !known_version(group, version) {
        return Route::NotFound;
    }
    let resource = |plural: &str| resources::lookup(group, plural);
    let req = |info, namespace: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        Route::Resource(ResourceRequest {
            info,
            namespace: namespace.map(str::to_string),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
        })
    };
    match rest {
        [] => Route::GroupVersion {
            group: group.into(),
            version: version.into(),
        },
        // /namespaces/{ns}/{plural}[/{name}[/{sub}]] — unless {plural} is a
        // subresource of the namespace itself (`status`, `finalize`).
        ["namespaces", ns, plural, tail @ ..] if resource(plural).is_some_and(|r| r.namespaced) => {
            let info = resource(plural).expect("checked");
            match tail {
                [] => req(info, Some(ns), None, None),
                [name] => req(info, Some(ns), Some(name), None),
                [name, sub] => req(info, Some(ns), Some(name), Some(sub)),
                _ => Route::NotFound,
            }
        }
        [plural, tail @ ..] => {
            let Some(info) = resource(plural) else {
                return Route::NotFound;
            };
            match tail {
                // A cluster-wide list of a namespaced resource, or a
                // cluster-scoped collection.
                [] => req(info, None, None, None),
                [name] if !info.namespaced => req(info, None, Some(name), None),
                [name, sub] if !info.namespaced => req(info, None, Some(name), Some(sub)),
                _ => Route::NotFound,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::resources::{JOBS, NAMESPACES, PODS};

    fn res(
        info: &'static ResourceInfo,
        ns: Option<&str>,
        name: Option<&str>,
        sub: Option<&str>,
    ) -> Route {
        Route::Resource(ResourceRequest {
            info,
            namespace: ns.map(Into::into),
            name: name.map(Into::into),
            subresource: sub.map(Into::into),
        })
    }

    #[test]
    fn routes_like_request_info_factory() {
        let cases = [
            ("/version", Route::Version),
            ("/api", Route::CoreGroups),
            ("/apis", Route::Groups),
            (
                "/apis/batch/v1",
                Route::GroupVersion {
                    group: "batch".into(),
                    version: "v1".into(),
                },
            ),
            ("/apis/batch/v1/jobs", res(&JOBS, None, None, None)),
            (
                "/apis/batch/v1/namespaces/default/jobs",
                res(&JOBS, Some("default"), None, None),
            ),
            (
                "/apis/batch/v1/namespaces/default/jobs/pi/status",
                res(&JOBS, Some("default"), Some("pi"), Some("status")),
            ),
            (
                "/api/v1/namespaces/default/pods/p/log",
                res(&PODS, Some("default"), Some("p"), Some("log")),
            ),
            ("/api/v1/namespaces", res(&NAMESPACES, None, None, None)),
            (
                "/api/v1/namespaces/default",
                res(&NAMESPACES, None, Some("default"), None),
            ),
            (
                "/api/v1/namespaces/default/status",
                res(&NAMESPACES, None, Some("default"), Some("status")),
            ),
            ("/apis/apps/v1/deployments", Route::NotFound),
            ("/api/v1/foos", Route::NotFound),
        ];
        for (path, want) in cases {
            assert_eq!(route(path), want, "{path}");
        }
    }
}
