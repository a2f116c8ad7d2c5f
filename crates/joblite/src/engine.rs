//! The in-process parts of the engine beside the API server: the
//! controllers and the node agent, started over the same store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use api::status::ApiError;
use futures::future::BoxFuture;
use futures::StreamExt;
use serde_json::Value;

/// What `serve` keeps of the running engine.
pub(crate) struct Engine {
    pub logs: Arc<dyn apiserver::PodLogs>,
    pub usage: Arc<dyn apiserver::resource_metrics::ResourceUsage>,
    pub streams: Arc<dyn apiserver::PodStreams>,
    pub controllers: controllers::JoinHandles,
    pub node: node::agent::NodeHandle,
    pub runtime: RuntimeDecision,
}

/// `joblite serve --runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum RuntimeChoice {
    Auto,
    Process,
    Container,
}

/// The node's default runtime, and why.
#[derive(Debug, Clone)]
pub(crate) struct RuntimeDecision {
    pub kind: node::runtime::RuntimeKind,
    /// `containerRuntimeVersion` of the default runtime.
    pub version: String,
    pub reason: String,
    pub engine: Option<node::runtime::container::Engine>,
}

/// How long an engine whose socket exists may take to answer (a busy
/// Podman service takes seconds); a missing socket fails at once.
const PROBE_WAIT: std::time::Duration = std::time::Duration::from_secs(15);
/// How long `--runtime container` waits for its engine to answer.
const CONTAINER_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Decides the default runtime: `auto` takes the first engine that answers.
pub(crate) async fn decide_runtime(choice: RuntimeChoice) -> anyhow::Result<RuntimeDecision> {
    use node::runtime::container::engine;
    use node::runtime::RuntimeKind;
    let process = |reason: String| RuntimeDecision {
        kind: RuntimeKind::Process,
        version: format!("joblite://{}", env!("CARGO_PKG_VERSION")),
        reason,
        engine: None,
    };
    let container = |e: engine::Engine, how: &str| RuntimeDecision {
        kind: RuntimeKind::Container,
        version: e.runtime_version(),
        reason: format!(
            "{how}: {} {} answers on {} ({})",
            e.scheme, e.version, e.endpoint, e.source
        ),
        engine: Some(e),
    };
    Ok(match choice {
        RuntimeChoice::Process => process("--runtime=process".into()),
        RuntimeChoice::Container => {
            // Asked for explicitly: give a busy engine a minute.
            let deadline = std::time::Instant::now() + CONTAINER_WAIT;
            loop {
                match engine::discover(PROBE_WAIT).await {
                    Ok(e) => break container(e, "--runtime=container"),
                    Err(why) if std::time::Instant::now() > deadline => anyhow::bail!(
                        "--runtime=container: no container engine answers: {}",
                        why.join("; ")
                    ),
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
                }
            }
        }
        RuntimeChoice::Auto => match engine::discover(PROBE_WAIT).await {
            Ok(e) => container(e, "auto"),
            Err(why) => process(format!(
                "auto: no container engine answers ({}); start Podman (`podman system service --time=0`) or Docker, or set DOCKER_HOST, then restart joblite",
                why.join("; ")
            )),
        },
    })
}

/// The machine's host name, the default node name.
pub(crate) fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// Pod logs come straight from the node's log files.
struct NodeLogs {
    node_dir: PathBuf,
}

impl apiserver::PodLogs for NodeLogs {
    fn logs<'a>(
        &'a self,
        pod: &'a Value,
        opts: api::logs::LogOptions,
    ) -> BoxFuture<'a, Result<apiserver::LogStream, ApiError>> {
        Box::pin(async move {
            let stream = node::logs::stream_logs(&self.node_dir, pod, opts)
                .await
                .map_err(|e| match e {
                    node::Error::BadRequest(m) => ApiError::BadRequest(m),
                    node::Error::NotFound(m) => ApiError::BadRequest(m),
                    other => ApiError::InternalError(other.to_string()),
                })?;
            Ok(stream
                .map(|r| r.map_err(|e| std::io::Error::other(e.to_string())))
                .boxed())
        })
    }
}

/// exec, attach and port-forward go to the runtime that runs the pod.
struct NodeStreams {
    streams: node::streams::Streams,
}

/// A node error as the API answers it: a container that is not running is
/// the kubelet's plain-text 500 (kubectl prints `unable to upgrade
/// connection: container not found ("c")`).
fn refusal(e: node::Error) -> apiserver::Refusal {
    match e {
        node::Error::ContainerNotFound(_) => apiserver::Refusal::Text(500, e.to_string()),
        node::Error::BadRequest(m) => apiserver::Refusal::Api(ApiError::BadRequest(m)),
        other => apiserver::Refusal::Api(ApiError::InternalError(other.to_string())),
    }
}

impl apiserver::PodStreams for NodeStreams {
    fn exec<'a>(
        &'a self,
        pod: &'a Value,
        container: &'a str,
        opts: &'a api::streams::StreamOptions,
    ) -> BoxFuture<'a, Result<apiserver::Session, apiserver::Refusal>> {
        Box::pin(async move {
            self.streams
                .exec(pod, container, opts)
                .await
                .map_err(refusal)
        })
    }

    fn attach<'a>(
        &'a self,
        pod: &'a Value,
        container: &'a str,
        opts: &'a api::streams::StreamOptions,
    ) -> BoxFuture<'a, Result<apiserver::Session, apiserver::Refusal>> {
        Box::pin(async move {
            self.streams
                .attach(pod, container, opts)
                .await
                .map_err(refusal)
        })
    }

    fn port_forward<'a>(
        &'a self,
        pod: &'a Value,
        port: u16,
    ) -> BoxFuture<'a, Result<Box<dyn apiserver::Tunnel>, String>> {
        Box::pin(async move {
            match self.streams.port_forward(pod, port).await {
                Ok(t) => Ok(Box::new(t) as Box<dyn apiserver::Tunnel>),
                Err(e) => Err(e.to_string()),
            }
        })
    }
}

/// `kubectl top` reads the node's own accounting (`node::usage`).
struct NodeUsage(node::usage::Sampler);

impl apiserver::resource_metrics::ResourceUsage for NodeUsage {
    fn usage(&self) -> BoxFuture<'_, apiserver::resource_metrics::Usage> {
        Box::pin(async move {
            let u = self.0.usage().await;
            apiserver::resource_metrics::Usage {
                timestamp: u.timestamp,
                window: u.window,
                containers: u
                    .containers
                    .into_iter()
                    .map(|c| apiserver::resource_metrics::ContainerUsage {
                        pod_uid: c.pod_uid,
                        container: c.container,
                        cpu_nanocores: c.cpu_nanocores,
                        memory_bytes: c.memory_bytes,
                    })
                    .collect(),
                node_cpu_nanocores: u.node_cpu_nanocores,
                node_memory_bytes: u.node_memory_bytes,
            }
        })
    }
}

/// exec, attach and port-forward for both runtimes: the process runtime's
/// through the supervisor, the container engine's through its API.
fn node_streams(node_dir: &Path, runtime: &RuntimeDecision) -> node::streams::Streams {
    let mut s = node::streams::Streams::for_node(node_dir);
    if let Some(engine) = &runtime.engine {
        s.register(
            &engine.scheme,
            Arc::new(node::runtime::container::streams::EngineStreams::new(
                engine,
            )),
        );
        if runtime.kind == node::runtime::RuntimeKind::Container {
            s.set_default_scheme(&engine.scheme);
        }
    }
    s
}

/// Starts the controllers and the node agent. Pods run under a supervisor
/// process (`joblite supervise DIR/node`) that outlives this one.
pub(crate) async fn start(
    store: &store::Store,
    dir: &Path,
    node_name: &str,
    choice: RuntimeChoice,
    routine_events: bool,
    logs: node::log_rotation::LogPolicy,
) -> anyhow::Result<Engine> {
    let runtime = decide_runtime(choice).await?;
    let node_dir = dir.join("node");
    let exe = std::env::current_exe().context("locating the joblite binary")?;
    let mut config = node::agent::NodeConfig::new(
        &node_dir,
        vec![
            exe.into_os_string(),
            "supervise".into(),
            node_dir.clone().into_os_string(),
        ],
    );
    config.node_name = node_name.to_string();
    config.default_runtime = runtime.kind;
    config.routine_events = routine_events;
    config.logs = logs;
    config.container = runtime
        .engine
        .clone()
        .map(|engine| node::runtime::container::ContainerConfig { engine });
    let node = node::agent::run(store.clone(), config)
        .await
        .context("starting the node agent")?;
    let controllers = controllers::run(store.clone(), controllers::ControllerOptions::default())
        .await
        .context("starting the controllers")?;
    Ok(Engine {
        usage: Arc::new(NodeUsage(node::usage::Sampler::new(&node_dir))),
        streams: Arc::new(NodeStreams {
            streams: node_streams(&node_dir, &runtime),
        }),
        logs: Arc::new(NodeLogs { node_dir }),
        controllers,
        node,
        runtime,
    })
}
