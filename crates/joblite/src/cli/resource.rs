//! Resource words as users type them (`job`, `jobs`, `po`, `job.batch`,
//! `job/NAME`), resolved against joblite's resource table so messages name
//! resources exactly as kubectl does (`job.batch/x`, `jobs.batch "x"`).

use anyhow::bail;
use api::resources::{ResourceInfo, ALL};
use kube::discovery::ApiResource;

/// Finds the resource a user's word names.
pub(crate) fn lookup(word: &str) -> anyhow::Result<&'static ResourceInfo> {
    let word = word.to_ascii_lowercase();
    let (name, group) = match word.split_once('.') {
        Some((name, group)) => (name.to_string(), Some(group.to_string())),
        None => (word.clone(), None),
    };
    for info in ALL.iter() {
        let names = name == info.plural
            || name == info.singular
            || name == info.kind.to_ascii_lowercase()
            || info.short_names.contains(&name.as_str());
        let group_ok = group.as_deref().is_none_or(|g| g == info.group);
        if names && group_ok {
            return Ok(info);
        }
    }
    bail!("the server doesn't have a resource type \"{word}\"")
}

/// Splits `TYPE/NAME`; a bare word is taken as `default_kind/NAME` when a
/// default kind is given (as `kubectl logs NAME` means a pod).
pub(crate) fn parse_ref(
    text: &str,
    default_kind: Option<&'static ResourceInfo>,
) -> anyhow::Result<(&'static ResourceInfo, String)> {
    match text.split_once('/') {
        Some((kind, name)) if !name.is_empty() => Ok((lookup(kind)?, name.to_string())),
        Some(_) => bail!("arguments in resource/name form must have a single resource and name"),
        None => match default_kind {
            Some(kind) => Ok((kind, text.to_string())),
            None => bail!("arguments in resource/name form must have a single resource and name"),
        },
    }
}

/// The resource and names of `get`/`describe`/`delete` arguments: either
/// `TYPE NAME...` or `TYPE/NAME NAME...`.
pub(crate) fn parse_targets(
    resource: &str,
    names: &[String],
) -> anyhow::Result<(&'static ResourceInfo, Vec<String>)> {
    let (info, mut all) = match resource.split_once('/') {
        Some(_) => {
            let (info, name) = parse_ref(resource, None)?;
            (info, vec![name])
        }
        None => (lookup(resource)?, Vec::new()),
    };
    all.extend(names.iter().cloned());
    Ok((info, all))
}

/// `job.batch` or `pod`: the prefix of kubectl's `job.batch/x created`.
pub(crate) fn display_kind(info: &ResourceInfo) -> String {
    if info.group.is_empty() {
        info.singular.to_string()
    } else {
        format!("{}.{}", info.singular, info.group)
    }
}

/// `job.batch/x`.
pub(crate) fn display_ref(info: &ResourceInfo, name: &str) -> String {
    format!("{}/{}", display_kind(info), name)
}

/// The kube-rs description of a resource, for `Api<DynamicObject>`.
pub(crate) fn api_resource(info: &ResourceInfo) -> ApiResource {
    ApiResource {
        group: info.group.to_string(),
        version: info.version.to_string(),
        api_version: info.api_version(),
        kind: info.kind.to_string(),
        plural: info.plural.to_string(),
    }
}

/// The URL of a collection: `/apis/batch/v1/namespaces/ns/jobs`; `None`
/// namespace means all namespaces (or a cluster-scoped resource).
pub(crate) fn collection_path(info: &ResourceInfo, namespace: Option<&str>) -> String {
    let prefix = if info.group.is_empty() {
        format!("/api/{}", info.version)
    } else {
        format!("/apis/{}/{}", info.group, info.version)
    };
    match namespace {
        Some(ns) if info.namespaced => format!("{prefix}/namespaces/{ns}/{}", info.plural),
        _ => format!("{prefix}/{}", info.plural),
    }
}

/// A typed `Api` handle that is namespaced only when the resource is.
pub(crate) fn dynamic_api(
    client: &kube::Client,
    info: &ResourceInfo,
    namespace: &str,
) -> kube::Api<kube::core::DynamicObject> {
    let ar = api_resource(info);
    if info.namespaced {
        kube::Api::namespaced_with(client.clone(), namespace, &ar)
    } else {
        kube::Api::all_with(client.clone(), &ar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::resources::{EVENTS, JOBS, NODES, PODS};

    #[test]
    fn words_resolve_like_kubectl() {
        let cases: &[(&str, &ResourceInfo)] = &[
            ("job", &JOBS),
            ("jobs", &JOBS),
            ("Job", &JOBS),
            ("jobs.batch", &JOBS),
            ("job.batch", &JOBS),
            ("po", &PODS),
            ("pods", &PODS),
            ("ev", &EVENTS),
            ("events", &EVENTS),
            ("no", &NODES),
            ("node", &NODES),
        ];
        for (word, want) in cases {
            assert_eq!(lookup(word).unwrap(), *want, "{word}");
        }
        assert!(lookup("jobs.apps").is_err());
        assert!(lookup("deployments").is_err());
    }

    #[test]
    fn refs_and_paths() {
        let (info, name) = parse_ref("job/pi", None).unwrap();
        assert_eq!((info.plural, name.as_str()), ("jobs", "pi"));
        let (info, name) = parse_ref("pi-abc", Some(&PODS)).unwrap();
        assert_eq!((info.plural, name.as_str()), ("pods", "pi-abc"));
        assert!(parse_ref("pi", None).is_err());
        assert!(parse_ref("job/", None).is_err());
        assert_eq!(display_ref(&JOBS, "pi"), "job.batch/pi");
        assert_eq!(display_ref(&PODS, "p"), "pod/p");
        assert_eq!(
            collection_path(&JOBS, Some("default")),
            "/apis/batch/v1/namespaces/default/jobs"
        );
        assert_eq!(collection_path(&PODS, None), "/api/v1/pods");
        assert_eq!(collection_path(&NODES, Some("default")), "/api/v1/nodes");
    }

    #[test]
    fn targets_take_a_type_or_a_first_ref() {
        let more = vec!["b".to_string()];
        let (info, names) = parse_targets("jobs", &more).unwrap();
        assert_eq!((info.plural, names), ("jobs", more.clone()));
        let (info, names) = parse_targets("po/a", &more).unwrap();
        assert_eq!((info.plural, names), ("pods", vec!["a".into(), "b".into()]));
        assert!(parse_targets("job/", &more).is_err());
        assert!(parse_targets("deployments", &[]).is_err());
    }
}
