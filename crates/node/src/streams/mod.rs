//! Interactive streams into a pod: `exec`, `attach` and `port-forward`,
//! whatever runtime runs it.
//!
//! The seam is [`ContainerStreams`], one implementation per runtime, chosen
//! by the scheme of the container's `status.containerStatuses[].containerID`
//! as the kubelet's CRI would: `joblite://<run>` is the process runtime
//! ([`process::ProcessStreams`], through the node's supervisor), and an
//! engine's `docker://<id>` / `podman://<id>` is the container runtime
//! (`runtime::container::streams`, through the engine's exec and attach
//! API). [`Streams`] holds the
//! implementations and routes a request to one.
//!
//! A session is a pair of channels carrying `api::streams` messages, so the
//! API server's transports (WebSocket channels, SPDY streams) never see a
//! runtime, and a runtime never sees a transport.

pub mod process;

use std::collections::HashMap;
use std::sync::Arc;

use api::streams::{Input, Output, StreamOptions};
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::Error;

/// A running session: send input, receive output up to its `End`.
pub type Session = (mpsc::Sender<Input>, mpsc::Receiver<Output>);

/// A byte stream to a port in a pod.
pub trait Tunnel: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Tunnel for T {}

/// A runtime's interactive side, addressed by container ID (without its
/// `scheme://`).
pub trait ContainerStreams: Send + Sync {
    /// Runs `opts.command` in the container, as `kubectl exec`.
    fn exec<'a>(
        &'a self,
        container_id: &'a str,
        opts: &'a StreamOptions,
    ) -> BoxFuture<'a, Result<Session, Error>>;
    /// Joins the container's stdio from now on, as `kubectl attach`.
    fn attach<'a>(
        &'a self,
        container_id: &'a str,
        opts: &'a StreamOptions,
    ) -> BoxFuture<'a, Result<Session, Error>>;
    /// Connects to `port` in the pod's network; `container_id` is any of
    /// the pod's containers.
    fn port_forward<'a>(
        &'a self,
        pod: &'a Value,
        container_id: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Box<dyn Tunnel>, Error>>;
}

/// The runtimes' [`ContainerStreams`], by container ID scheme.
#[derive(Clone, Default)]
pub struct Streams {
    runtimes: HashMap<String, Arc<dyn ContainerStreams>>,
    /// The scheme of a pod none of whose containers has an ID yet.
    default_scheme: String,
}

impl Streams {
    /// The process runtime's streams for the node in `node_dir`.
    pub fn for_node(node_dir: &std::path::Path) -> Streams {
        let mut s = Streams {
            runtimes: HashMap::new(),
            default_scheme: process::SCHEME.to_string(),
        };
        s.register(
            process::SCHEME,
            Arc::new(process::ProcessStreams::new(node_dir)),
        );
        s
    }

    /// Serves container IDs `scheme://…` with `runtime`.
    pub fn register(&mut self, scheme: &str, runtime: Arc<dyn ContainerStreams>) {
        self.runtimes.insert(scheme.to_string(), runtime);
    }

    /// Serves pods none of whose containers has an ID yet with the
    /// runtime of `scheme` (the node's default runtime).
    pub fn set_default_scheme(&mut self, scheme: &str) {
        self.default_scheme = scheme.to_string();
    }

    fn runtime(&self, container_id: &str) -> Result<(&dyn ContainerStreams, String), Error> {
        let (scheme, id) = container_id
            .split_once("://")
            .unwrap_or((self.default_scheme.as_str(), container_id));
        let rt = self.runtimes.get(scheme).ok_or_else(|| {
            Error::BadRequest(format!(
                "no runtime serves streams for container {container_id}"
            ))
        })?;
        Ok((rt.as_ref(), id.to_string()))
    }

    /// `kubectl exec` into `container` of `pod`.
    pub async fn exec(
        &self,
        pod: &Value,
        container: &str,
        opts: &StreamOptions,
    ) -> Result<Session, Error> {
        let cid = running_container_id(pod, container)?;
        let (rt, id) = self.runtime(&cid)?;
        rt.exec(&id, opts).await.map_err(|e| named(e, container))
    }

    /// `kubectl attach` to `container` of `pod`.
    pub async fn attach(
        &self,
        pod: &Value,
        container: &str,
        opts: &StreamOptions,
    ) -> Result<Session, Error> {
        let cid = running_container_id(pod, container)?;
        let (rt, id) = self.runtime(&cid)?;
        rt.attach(&id, opts).await.map_err(|e| named(e, container))
    }

    /// `kubectl port-forward` to `port` of `pod`.
    pub async fn port_forward(&self, pod: &Value, port: u16) -> Result<Box<dyn Tunnel>, Error> {
        let cid = any_container_id(pod).unwrap_or_default();
        let (rt, id) = self.runtime(&cid)?;
        rt.port_forward(pod, &id, port).await
    }
}

/// A runtime's `ContainerNotFound` names the container as the pod does
/// (a runtime knows only its ID).
fn named(e: Error, container: &str) -> Error {
    match e {
        Error::ContainerNotFound(_) => Error::ContainerNotFound(container.to_string()),
        other => other,
    }
}

fn statuses(pod: &Value) -> impl Iterator<Item = &Value> {
    [
        "/status/initContainerStatuses",
        "/status/containerStatuses",
        "/status/ephemeralContainerStatuses",
    ]
    .into_iter()
    .filter_map(|k| pod.pointer(k).and_then(Value::as_array))
    .flatten()
}

/// The ID of `container` while it runs; otherwise the kubelet's
/// `container not found ("c")`.
pub fn running_container_id(pod: &Value, container: &str) -> Result<String, Error> {
    statuses(pod)
        .find(|s| s.get("name").and_then(Value::as_str) == Some(container))
        .filter(|s| s.pointer("/state/running").is_some())
        .and_then(|s| s.get("containerID").and_then(Value::as_str))
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .ok_or_else(|| Error::ContainerNotFound(container.to_string()))
}

fn any_container_id(pod: &Value) -> Option<String> {
    statuses(pod)
        .filter_map(|s| s.get("containerID").and_then(Value::as_str))
        .find(|id| !id.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_running_containers_have_streams() {
        let pod = json!({"status": {"containerStatuses": [
            {"name": "a", "containerID": "joblite://u_a_0", "state": {"running": {}}},
            {"name": "b", "containerID": "joblite://u_b_1", "state": {"terminated": {}}},
            {"name": "c", "state": {"waiting": {}}},
        ]}});
        assert_eq!(running_container_id(&pod, "a").unwrap(), "joblite://u_a_0");
        for c in ["b", "c", "nope"] {
            assert_eq!(
                running_container_id(&pod, c).unwrap_err().to_string(),
                format!("container not found (\"{c}\")")
            );
        }
        assert_eq!(any_container_id(&pod).as_deref(), Some("joblite://u_a_0"));
    }

    #[test]
    fn container_ids_route_by_scheme() {
        let s = Streams::for_node(std::path::Path::new("/nonexistent"));
        assert_eq!(s.runtime("joblite://u_a_0").unwrap().1, "u_a_0");
        assert_eq!(s.runtime("").unwrap().1, "");
        assert!(s.runtime("docker://abc").is_err());
    }
}
