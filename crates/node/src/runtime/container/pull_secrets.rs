//! A pod's `imagePullSecrets` as registry credentials for one image, with
//! no I/O: the kubelet's keyring.
//!
//! Upstream (1.33): `pkg/kubelet/kubelet_pods.go` (`getPullSecretsForPod`:
//! a Secret that cannot be read is skipped with the Warning event
//! `FailedToRetrieveImagePullSecret`), `pkg/credentialprovider/secrets`
//! (`MakeDockerKeyring`: only `kubernetes.io/dockerconfigjson` Secrets'
//! `.dockerconfigjson` `auths` and `kubernetes.io/dockercfg` Secrets'
//! `.dockercfg` count), `pkg/credentialprovider/config.go` (an entry's
//! `auth`, base64 `user:password`, wins over `username`/`password`) and
//! `keyring.go` (`BasicDockerKeyring`: entries keyed by registry host and
//! optional path, matched against the image's normalized repository, most
//! specific key first, host labels as globs, ports exactly; Docker Hub's
//! `index.docker.io` entry serves any Docker Hub image no other key matched).
//! `pkg/kubelet/kuberuntime/kuberuntime_image.go` (`PullImage`) then pulls
//! anonymously when no credential matches, and otherwise tries each match
//! in order until one pull succeeds, reporting every failure together.
//!
//! Credentials never reach a log, an event or an error: [`Credential`]'s
//! `Debug` hides them, and the errors here name no value.

use std::collections::HashMap;

use base64::Engine as _;
use k8s_openapi::api::core::v1::{PodSpec, Secret};
use serde::Deserialize;

use crate::config_sources::Sources;

/// `v1.SecretTypeDockerConfigJson` and its key.
const DOCKER_CONFIG_JSON: (&str, &str) = ("kubernetes.io/dockerconfigjson", ".dockerconfigjson");
/// `v1.SecretTypeDockercfg` and its key.
const DOCKERCFG: (&str, &str) = ("kubernetes.io/dockercfg", ".dockercfg");
/// The keyring's key for Docker Hub (`index.docker.io/v1/` once parsed).
const DEFAULT_REGISTRY_HOST: &str = "index.docker.io";

/// The pod's pull Secrets that exist, in the pod's order, and the names of
/// those that do not (`getPullSecretsForPod`; empty names are skipped).
pub(super) fn resolve(
    sources: &dyn Sources,
    namespace: &str,
    spec: &PodSpec,
) -> (Vec<Secret>, Vec<String>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for r in spec.image_pull_secrets.iter().flatten() {
        if r.name.is_empty() {
            continue;
        }
        match sources.secret(namespace, &r.name) {
            Some(s) => found.push(s),
            None => missing.push(r.name.clone()),
        }
    }
    (found, missing)
}

/// The `FailedToRetrieveImagePullSecret` event's message.
pub(super) fn missing_message(missing: &[String]) -> String {
    format!(
        "Unable to retrieve some image pull secrets ({}); attempting to pull the image may not succeed.",
        missing.join(", ")
    )
}

/// One registry login. Its `Debug` shows no value.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Credential {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

impl Credential {
    /// The engine API's `X-Registry-Auth` header: an `AuthConfig` as JSON
    /// in base64url, padded, as Go's `base64.URLEncoding` reads it.
    pub(super) fn registry_auth(&self) -> String {
        let json = serde_json::json!({"username": self.username, "password": self.password});
        base64::engine::general_purpose::URL_SAFE.encode(json.to_string())
    }
}

/// The credentials to try, in order, for pulling `image` (a reference as
/// written, tag or digest allowed): empty means an anonymous pull. An
/// unreadable pull Secret is an error, as upstream's `MakeDockerKeyring`.
pub(super) fn credentials_for(secrets: &[Secret], image: &str) -> Result<Vec<Credential>, String> {
    let keyring = Keyring::from_secrets(secrets)?;
    Ok(keyring.lookup(&normalized_repository(image)))
}

/// Upstream's `utilerrors.NewAggregate(...).Error()`: one message as is,
/// several distinct ones as `[a, b]`.
pub(super) fn aggregate(messages: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for m in messages {
        if !seen.contains(&m.as_str()) {
            seen.push(m);
        }
    }
    match seen.as_slice() {
        [one] => one.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// `credentialprovider.BasicDockerKeyring`.
#[derive(Debug, Default)]
struct Keyring {
    /// Keys, deduplicated and reverse-sorted (more specific paths first).
    index: Vec<String>,
    creds: HashMap<String, Vec<Credential>>,
}

/// An entry of a docker config (`DockerConfigEntry` with its `auth`).
#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    auth: String,
}

#[derive(Deserialize)]
struct ConfigJson {
    #[serde(default)]
    auths: HashMap<String, Entry>,
}

/// A JSON error without the input's values (serde's messages quote them).
fn json_error(e: serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "unexpected end of JSON input".into(),
        Category::Syntax => format!(
            "invalid JSON in an image pull secret at line {} column {}",
            e.line(),
            e.column()
        ),
        _ => "cannot unmarshal an image pull secret into a docker config".into(),
    }
}

/// `decodeDockerConfigFieldAuth`: padded or unpadded standard base64 of
/// `user:password`.
fn decode_auth(field: &str) -> Result<(String, String), String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    let decoded = if field.trim().ends_with('=') {
        STANDARD.decode(field)
    } else {
        STANDARD_NO_PAD.decode(field)
    };
    let decoded = decoded.map_err(|e| match e {
        base64::DecodeError::InvalidByte(at, _) | base64::DecodeError::InvalidLastSymbol(at, _) => {
            format!("illegal base64 data at input byte {at}")
        }
        _ => "illegal base64 data in an image pull secret".into(),
    })?;
    let text = String::from_utf8_lossy(&decoded);
    match text.split_once(':') {
        Some((u, p)) => Ok((u.to_string(), p.to_string())),
        None => {
            Err("unable to parse auth field, must be formatted as base64(username:password)".into())
        }
    }
}

impl Keyring {
    /// `MakeDockerKeyring` over the pod's Secrets, in order.
    fn from_secrets(secrets: &[Secret]) -> Result<Keyring, String> {
        let mut k = Keyring::default();
        for s in secrets {
            let ty = s.type_.as_deref().unwrap_or("");
            let data = |key: &str| {
                s.data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .map(|b| b.0.as_slice())
                    .filter(|b| !b.is_empty())
            };
            let entries = if let Some(b) =
                data(DOCKER_CONFIG_JSON.1).filter(|_| ty == DOCKER_CONFIG_JSON.0)
            {
                serde_json::from_slice::<ConfigJson>(b)
                    .map_err(json_error)?
                    .auths
            } else if let Some(b) = data(DOCKERCFG.1).filter(|_| ty == DOCKERCFG.0) {
                serde_json::from_slice::<HashMap<String, Entry>>(b).map_err(json_error)?
            } else {
                continue;
            };
            // A stable order where upstream iterates a Go map.
            let mut entries: Vec<(String, Entry)> = entries.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (location, e) in entries {
                let (username, password) = if e.auth.is_empty() {
                    (e.username, e.password)
                } else {
                    decode_auth(&e.auth)?
                };
                let key = keyring_key(&location);
                k.creds
                    .entry(key.clone())
                    .or_default()
                    .push(Credential { username, password });
                k.index.push(key);
            }
        }
        k.index.sort();
        k.index.dedup();
        k.index.reverse();
        Ok(k)
    }

    /// `BasicDockerKeyring.Lookup` for a normalized repository.
    fn lookup(&self, repository: &str) -> Vec<Credential> {
        let target = Location::parse(repository);
        let mut out = Vec::new();
        for key in &self.index {
            if Location::parse(key).matches(&target) {
                out.extend(self.creds[key].iter().cloned());
            }
        }
        if out.is_empty() && is_default_registry_match(repository) {
            if let Some(c) = self.creds.get(DEFAULT_REGISTRY_HOST) {
                out.extend(c.iter().cloned());
            }
        }
        out
    }
}

/// The key of a config entry's location: its host, plus its path unless
/// that is empty or `/` once a leading `/v1` or `/v2` is dropped (a scheme
/// is allowed and dropped).
fn keyring_key(location: &str) -> String {
    let rest = location
        .strip_prefix("https://")
        .or_else(|| location.strip_prefix("http://"))
        .unwrap_or(location);
    let (host, path) = split_host_path(rest);
    let path = if path.starts_with("/v2/") || path.starts_with("/v1/") {
        &path[3..]
    } else {
        path
    };
    if path.is_empty() || path == "/" {
        host.to_string()
    } else {
        format!("{host}{path}")
    }
}

/// `host[/path]` into the host (with any port) and the path (with its `/`),
/// as `url.Parse` splits an authority from its path (query and fragment
/// dropped).
fn split_host_path(s: &str) -> (&str, &str) {
    let s = s.split(['?', '#']).next().unwrap_or("");
    match s.find('/') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// A schemeless URL as `URLsMatch` compares it.
struct Location<'a> {
    labels: Vec<&'a str>,
    port: &'a str,
    path: &'a str,
}

impl<'a> Location<'a> {
    fn parse(s: &'a str) -> Location<'a> {
        let (host, path) = split_host_path(s);
        // `net.SplitHostPort`, falling back to the whole host.
        let (host, port) = if let Some(rest) = host.strip_prefix('[') {
            match rest.split_once(']') {
                Some((h, p)) => match p.strip_prefix(':') {
                    Some(port) => (h, port),
                    None => (host, ""),
                },
                None => (host, ""),
            }
        } else {
            match host.split_once(':') {
                Some((h, p)) if !p.contains(':') => (h, p),
                _ => (host, ""),
            }
        };
        Location {
            labels: host.split('.').collect(),
            port,
            path,
        }
    }

    /// `URLsMatch(self as the glob, target)`.
    fn matches(&self, target: &Location<'_>) -> bool {
        self.port == target.port
            && self.labels.len() == target.labels.len()
            && target.path.starts_with(self.path)
            && self
                .labels
                .iter()
                .zip(&target.labels)
                .all(|(g, t)| glob_match(g.as_bytes(), t.as_bytes()))
    }
}

/// `filepath.Match` on one host label: `*` any run, `?` any one byte,
/// `[...]` a class (`^` negates, `a-z` ranges), `\` escapes.
fn glob_match(p: &[u8], t: &[u8]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some(b'*') => (0..=t.len()).any(|i| glob_match(&p[1..], &t[i..])),
        Some(b'?') => !t.is_empty() && glob_match(&p[1..], &t[1..]),
        Some(b'[') => {
            let Some(&c) = t.first() else { return false };
            let mut i = 1;
            let negate = p.get(i) == Some(&b'^');
            if negate {
                i += 1;
            }
            let mut hit = false;
            let mut first = true;
            loop {
                match p.get(i) {
                    None => return false,
                    Some(b']') if !first => break,
                    _ => {}
                }
                first = false;
                let lo = p[i];
                i += 1;
                if p.get(i) == Some(&b'-') && p.get(i + 1).is_some_and(|&x| x != b']') {
                    let hi = p[i + 1];
                    i += 2;
                    hit |= lo <= c && c <= hi;
                } else {
                    hit |= lo == c;
                }
            }
            hit != negate && glob_match(&p[i + 1..], &t[1..])
        }
        Some(b'\\') if p.len() > 1 => t.first() == Some(&p[1]) && glob_match(&p[2..], &t[1..]),
        Some(&c) => t.first() == Some(&c) && glob_match(&p[1..], &t[1..]),
    }
}

/// `isDefaultRegistryMatch`: whether a repository is on Docker Hub.
fn is_default_registry_match(repository: &str) -> bool {
    match repository.split_once('/') {
        None => !repository.is_empty(),
        Some(("", _)) => false,
        Some((first, _)) => {
            first == "docker.io" || first == "index.docker.io" || !first.contains(['.', ':'])
        }
    }
}

/// The repository a reference names, as `reference.ParseNormalizedNamed`
/// gives it (`parsers.ParseImageName`): tag and digest dropped, Docker Hub
/// made explicit (`busybox` is `docker.io/library/busybox`).
fn normalized_repository(image: &str) -> String {
    let name = image.split('@').next().unwrap_or(image);
    let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    let name = match name[last_slash..].rfind(':') {
        Some(i) => &name[..last_slash + i],
        None => name,
    };
    let (domain, rest) = match name.split_once('/') {
        Some((d, r)) if d.contains(['.', ':']) || d == "localhost" => (d, r),
        _ => ("docker.io", name),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io"
    } else {
        domain
    };
    if domain == "docker.io" && !rest.contains('/') {
        format!("docker.io/library/{rest}")
    } else {
        format!("{domain}/{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn secret(ty: &str, key: &str, value: &Value) -> Secret {
        let b64 = base64::engine::general_purpose::STANDARD.encode(value.to_string());
        serde_json::from_value(json!({
            "metadata": {"name": "s", "namespace": "default"},
            "type": ty,
            "data": {key: b64},
        }))
        .unwrap()
    }

    fn config_json(auths: Value) -> Secret {
        secret(
            DOCKER_CONFIG_JSON.0,
            DOCKER_CONFIG_JSON.1,
            &json!({"auths": auths}),
        )
    }

    fn login(u: &str, p: &str) -> Credential {
        Credential {
            username: u.into(),
            password: p.into(),
        }
    }

    fn auth(u: &str, p: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
    }

    #[test]
    fn normalizes_repositories_as_parse_normalized_named() {
        for (image, repo) in [
            ("busybox", "docker.io/library/busybox"),
            ("busybox:1.36", "docker.io/library/busybox"),
            ("library/busybox", "docker.io/library/busybox"),
            ("me/app:v1", "docker.io/me/app"),
            ("docker.io/busybox", "docker.io/library/busybox"),
            ("index.docker.io/me/app", "docker.io/me/app"),
            (
                "gcr.io/kuar-demo/kuard-amd64:blue",
                "gcr.io/kuar-demo/kuard-amd64",
            ),
            (
                "127.0.0.1:5000/private/busybox:latest",
                "127.0.0.1:5000/private/busybox",
            ),
            ("localhost/app@sha256:0123", "localhost/app"),
        ] {
            assert_eq!(normalized_repository(image), repo, "{image}");
        }
    }

    #[test]
    fn keys_drop_scheme_and_the_v1_v2_api_paths() {
        assert_eq!(
            keyring_key("https://index.docker.io/v1/"),
            "index.docker.io"
        );
        assert_eq!(keyring_key("http://127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(keyring_key("quay.io/v2/coreos"), "quay.io/coreos");
        assert_eq!(keyring_key("quay.io/coreos"), "quay.io/coreos");
        assert_eq!(keyring_key("quay.io/"), "quay.io");
    }

    /// What `kubectl create secret docker-registry` writes: `username`,
    /// `password` and `auth`; `auth` wins, padded or not.
    #[test]
    fn reads_dockerconfigjson_with_auth_winning() {
        let s = config_json(json!({
            "127.0.0.1:5000": {"username": "u", "password": "p", "auth": auth("u", "p")},
            "reg.example": {"username": "x", "password": "y", "auth": auth("a", "b:c")},
            "other.example": {"auth": auth("ab", "c").trim_end_matches('=')},
        }));
        let c =
            credentials_for(std::slice::from_ref(&s), "127.0.0.1:5000/private/busybox").unwrap();
        assert_eq!(c, vec![login("u", "p")]);
        let c = credentials_for(std::slice::from_ref(&s), "reg.example/app").unwrap();
        assert_eq!(c, vec![login("a", "b:c")]);
        let c = credentials_for(std::slice::from_ref(&s), "other.example/app").unwrap();
        assert_eq!(c, vec![login("ab", "c")]);
        // Nothing matches: an anonymous pull.
        assert!(credentials_for(&[s], "gcr.io/kuar-demo/kuard-amd64:blue")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn reads_legacy_dockercfg() {
        let s = secret(
            DOCKERCFG.0,
            DOCKERCFG.1,
            &json!({"https://reg.example": {"username": "u", "password": "p", "email": "e@x"}}),
        );
        assert_eq!(
            credentials_for(&[s], "reg.example/a/b:1").unwrap(),
            vec![login("u", "p")]
        );
    }

    /// Only the two docker types count, each with its own key.
    #[test]
    fn ignores_other_types_and_mismatched_keys() {
        let auths = json!({"auths": {"reg.example": {"username": "u", "password": "p"}}});
        for (ty, key) in [
            ("Opaque", DOCKER_CONFIG_JSON.1),
            (DOCKERCFG.0, DOCKER_CONFIG_JSON.1),
            (DOCKER_CONFIG_JSON.0, DOCKERCFG.1),
        ] {
            let s = secret(ty, key, &auths);
            assert!(
                credentials_for(&[s], "reg.example/app").unwrap().is_empty(),
                "{ty} {key}"
            );
        }
    }

    /// Most specific first, then the host; several Secrets for one key keep
    /// the pod's order; host labels are globs; ports must be equal.
    #[test]
    fn orders_matches_most_specific_first() {
        let a = config_json(json!({
            "quay.io": {"username": "host", "password": "1"},
            "quay.io/coreos": {"username": "path", "password": "2"},
            "*.example.com": {"username": "glob", "password": "3"},
            "reg.example.com:5000": {"username": "port", "password": "4"},
        }));
        let b = config_json(json!({"quay.io": {"username": "host2", "password": "5"}}));
        let secrets = [a, b];
        let names = |image: &str| -> Vec<String> {
            credentials_for(&secrets, image)
                .unwrap()
                .into_iter()
                .map(|c| c.username)
                .collect()
        };
        assert_eq!(names("quay.io/coreos/etcd:v3"), ["path", "host", "host2"]);
        assert_eq!(names("quay.io/other/app"), ["host", "host2"]);
        assert_eq!(names("reg.example.com/app"), ["glob"]);
        assert_eq!(names("reg.example.com:5000/app"), ["port"]);
        assert!(names("a.b.example.com/app").is_empty());
        assert!(names("example.com/app").is_empty());
    }

    /// `kubectl`'s default server, `https://index.docker.io/v1/`, serves
    /// every Docker Hub image; a `docker.io` entry matches directly.
    #[test]
    fn docker_hub_aliases() {
        let hub = config_json(
            json!({"https://index.docker.io/v1/": {"username": "hub", "password": "p"}}),
        );
        for image in [
            "busybox",
            "me/app:v1",
            "docker.io/me/app",
            "index.docker.io/library/busybox",
        ] {
            assert_eq!(
                credentials_for(std::slice::from_ref(&hub), image).unwrap(),
                vec![login("hub", "p")],
                "{image}"
            );
        }
        assert!(credentials_for(std::slice::from_ref(&hub), "gcr.io/app")
            .unwrap()
            .is_empty());
        let io = config_json(json!({"docker.io": {"username": "io", "password": "p"}}));
        assert_eq!(
            credentials_for(&[io, hub], "busybox").unwrap(),
            vec![login("io", "p")]
        );
    }

    /// A Secret that cannot be read fails the pull, and the error quotes
    /// none of its values.
    #[test]
    fn unreadable_secrets_fail_without_showing_values() {
        let bad_json = {
            let mut s = config_json(json!({}));
            s.data.as_mut().unwrap().insert(
                DOCKER_CONFIG_JSON.1.into(),
                k8s_openapi::ByteString(b"{\"auths\": {\"r\": {\"password\": hunter2".to_vec()),
            );
            s
        };
        let wrong_type = config_json(json!({"r": {"username": "u", "password": 5}}));
        let not_pair = config_json(
            json!({"r": {"auth": base64::engine::general_purpose::STANDARD.encode("hunter2")}}),
        );
        let not_b64 = config_json(json!({"r": {"auth": "hunter2!"}}));
        let errors: Vec<String> = [bad_json, wrong_type, not_pair, not_b64]
            .into_iter()
            .map(|s| credentials_for(&[s], "r/app").unwrap_err())
            .collect();
        for e in &errors {
            assert!(!e.contains("hunter2"), "{e}");
        }
        assert_eq!(
            errors[1],
            "cannot unmarshal an image pull secret into a docker config"
        );
        assert_eq!(
            errors[2],
            "unable to parse auth field, must be formatted as base64(username:password)"
        );
        assert_eq!(errors[3], "illegal base64 data at input byte 7");
    }

    #[test]
    fn missing_secrets_and_their_event() {
        let src = crate::config_sources::Fake::new(
            json!({}),
            json!({"ns/regcred": config_json(json!({}))}),
        );
        let spec: PodSpec = serde_json::from_value(json!({
            "containers": [],
            "imagePullSecrets": [{"name": "gone"}, {"name": "regcred"}, {"name": ""}, {"name": "other"}],
        }))
        .unwrap();
        let (found, missing) = resolve(&src, "ns", &spec);
        assert_eq!(found.len(), 1);
        assert_eq!(missing, ["gone", "other"]);
        assert_eq!(
            missing_message(&missing),
            "Unable to retrieve some image pull secrets (gone, other); attempting to pull the image may not succeed."
        );
    }

    #[test]
    fn credentials_do_not_debug_print() {
        let c = login("user", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    /// `?>` and `~~~` encode to `+` and `/` in standard base64; the header
    /// must hold `-` and `_` instead, and decode to the login.
    #[test]
    fn registry_auth_is_base64url() {
        let c = login("u?>", "~~~p");
        let h = c.registry_auth();
        assert!(!h.contains('+') && !h.contains('/'), "{h}");
        let json = base64::engine::general_purpose::URL_SAFE
            .decode(&h)
            .unwrap();
        let v: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v, json!({"username": "u?>", "password": "~~~p"}));
        let standard = base64::engine::general_purpose::STANDARD.encode(&json);
        assert!(
            standard.contains('+') || standard.contains('/'),
            "{standard}"
        );
    }

    #[test]
    fn aggregates_as_upstream() {
        assert_eq!(aggregate(&["a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "b".into(), "a".into()]), "[a, b]");
    }

    #[test]
    fn globs_as_filepath_match() {
        for (p, t, want) in [
            ("*", "abc", true),
            ("a*c", "abbbc", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("[a-c]x", "bx", true),
            ("[^a-c]x", "bx", false),
            ("reg", "reg", true),
            ("reg", "regx", false),
        ] {
            assert_eq!(glob_match(p.as_bytes(), t.as_bytes()), want, "{p} {t}");
        }
    }
}
