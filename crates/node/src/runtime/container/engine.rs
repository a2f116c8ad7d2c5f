//! Finding and naming the container engine.
//!
//! `--runtime auto` looks where Docker and Podman clients look: at
//! `$DOCKER_HOST` when it is set, else in order at `/var/run/docker.sock`,
//! `/run/podman/podman.sock` and `$XDG_RUNTIME_DIR/podman/podman.sock`;
//! the first that answers `GET /version` is the engine. Its `GET /version` says which engine it is:
//! Podman's compatible API lists a "Podman Engine" component.

use std::time::Duration;

use bollard::Docker;

/// A container engine that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// Where it answers: `unix:///path` or `tcp://host:port`.
    pub endpoint: String,
    /// Where the endpoint came from (`DOCKER_HOST`, `default socket`, …).
    pub source: String,
    /// `podman` or `docker`: the scheme of container IDs.
    pub scheme: String,
    pub version: String,
}

impl Engine {
    /// `status.nodeInfo.containerRuntimeVersion`, e.g. `podman://4.3.1`.
    pub fn runtime_version(&self) -> String {
        format!("{}://{}", self.scheme, self.version)
    }
}

/// The endpoints `auto` tries, with where each comes from. A set
/// `DOCKER_HOST` is the only one, as for the docker client.
pub fn candidates() -> Vec<(String, String)> {
    let mut v = Vec::new();
    if let Some(h) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
        v.push((h, "DOCKER_HOST".to_string()));
        return v;
    }
    v.push((
        "unix:///var/run/docker.sock".into(),
        "the Docker socket".into(),
    ));
    v.push((
        "unix:///run/podman/podman.sock".into(),
        "the Podman socket".into(),
    ));
    if let Some(x) = std::env::var("XDG_RUNTIME_DIR")
        .ok()
        .filter(|x| !x.is_empty())
    {
        v.push((
            format!("unix://{x}/podman/podman.sock"),
            "the rootless Podman socket".into(),
        ));
    }
    v
}

/// A client for an endpoint (no I/O yet).
pub fn client(endpoint: &str, timeout: Duration) -> Result<Docker, String> {
    let d = if let Some(path) = endpoint.strip_prefix("unix://") {
        if !std::path::Path::new(path).exists() {
            return Err(format!("{path}: no such socket"));
        }
        Docker::connect_with_unix(endpoint, timeout.as_secs(), bollard::API_DEFAULT_VERSION)
    } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
        Docker::connect_with_http(endpoint, timeout.as_secs(), bollard::API_DEFAULT_VERSION)
    } else if endpoint.starts_with('/') {
        Docker::connect_with_unix(endpoint, timeout.as_secs(), bollard::API_DEFAULT_VERSION)
    } else {
        return Err(format!(
            "{endpoint}: unsupported endpoint (use unix:// or tcp://)"
        ));
    };
    d.map_err(|e| format!("{endpoint}: {e}"))
}

/// Asks an endpoint what it is; `Err` says why it does not answer.
pub async fn probe(endpoint: &str, source: &str, wait: Duration) -> Result<Engine, String> {
    let docker = client(endpoint, wait)?;
    let answer = tokio::time::timeout(wait, async {
        let docker = docker.negotiate_version().await?;
        docker.version().await
    })
    .await
    .map_err(|_| format!("{endpoint}: no answer within {wait:?}"))?
    .map_err(|e| format!("{endpoint}: {e}"))?;
    let podman = answer
        .components
        .iter()
        .flatten()
        .find(|c| c.name.contains("Podman"));
    let (scheme, version) = match podman {
        Some(c) => ("podman", c.version.clone()),
        None => ("docker", answer.version.clone().unwrap_or_default()),
    };
    Ok(Engine {
        endpoint: endpoint.to_string(),
        source: source.to_string(),
        scheme: scheme.into(),
        version,
    })
}

/// The first candidate that answers, or every reason none did.
pub async fn discover(wait: Duration) -> Result<Engine, Vec<String>> {
    let mut why = Vec::new();
    for (endpoint, source) in candidates() {
        match probe(&endpoint, &source, wait).await {
            Ok(e) => return Ok(e),
            Err(e) => why.push(format!("{source}: {e}")),
        }
    }
    Err(why)
}
