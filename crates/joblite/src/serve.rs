//! `joblite serve`: the engine in the foreground — store, API server, the
//! controllers and the node agent in one process over one data directory.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};

/// Flags of `joblite serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Directory holding the store, logs and kubeconfig.
    #[arg(long, env = "JOBLITE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Port to listen on (0 picks a free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Address to listen on (loopback unless given).
    #[arg(long, default_value = "127.0.0.1")]
    pub address: String,
    /// Port of the web dashboard (0 picks a free port).
    #[arg(long, default_value_t = 0)]
    pub dashboard_port: u16,
    /// Name of the node this engine registers (default: the host name).
    #[arg(long)]
    pub node_name: Option<String>,
    /// How pods run by default: `container` in a container engine that
    /// serves the Docker Engine API (Docker, Podman), `process` as host
    /// processes, or `auto`: `container` when an engine answers on
    /// $DOCKER_HOST, /var/run/docker.sock, /run/podman/podman.sock or
    /// $XDG_RUNTIME_DIR/podman/podman.sock, else `process`. A pod picks
    /// the other one with `spec.runtimeClassName`.
    #[arg(long, env = "JOBLITE_RUNTIME", value_enum, default_value_t = crate::engine::RuntimeChoice::Auto)]
    pub runtime: crate::engine::RuntimeChoice,
    /// Also record the kubelet's routine events for pods on the process
    /// runtime (`Scheduled`, `Pulled`, `Created`, `Started`), as the
    /// container runtime always does. Off by default: they are four event
    /// writes per pod (see the README for the throughput they cost).
    #[arg(long, env = "JOBLITE_ROUTINE_EVENTS")]
    pub routine_events: bool,
    /// The kubelet's `containerLogMaxSize`: a container's log file is
    /// rotated before it grows past this size (a quantity; negative turns
    /// rotation off).
    #[arg(
        long,
        env = "JOBLITE_CONTAINER_LOG_MAX_SIZE",
        default_value = "10Mi",
        allow_hyphen_values = true
    )]
    pub container_log_max_size: String,
    /// The kubelet's `containerLogMaxFiles`: the most log files kept per
    /// container, the current one included (more than 1); the older rotated
    /// files are gzipped.
    #[arg(long, env = "JOBLITE_CONTAINER_LOG_MAX_FILES", default_value_t = node::log_rotation::DEFAULT_MAX_FILES)]
    pub container_log_max_files: u32,
}

/// Holds `DIR/engine.lock` for the life of the process, so one engine
/// serves one data directory and clients can tell whether one runs.
fn lock_data_dir(dir: &Path) -> anyhow::Result<fs::File> {
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join("engine.lock"))?;
    if rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        bail!(
            "another joblite engine is running for {} (see {}/engine.json)",
            dir.display(),
            dir.display()
        );
    }
    Ok(f)
}

/// Runs the engine in the foreground until SIGTERM or SIGINT.
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(crate::cli::engine::default_data_dir);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    let _lock = lock_data_dir(&dir)?;
    let address: IpAddr = args
        .address
        .parse()
        .with_context(|| format!("--address {:?} is not an IP address", args.address))?;

    let logs = node::log_rotation::LogPolicy::parse(
        &args.container_log_max_size,
        args.container_log_max_files,
    )
    .map_err(|e| anyhow::anyhow!("--container-log-max-size/--container-log-max-files: {e}"))?;
    let store = store::Store::open(&dir, store::Options::default())
        .with_context(|| format!("opening the store in {}", dir.display()))?;

    let node_name = args
        .node_name
        .clone()
        .unwrap_or_else(crate::engine::host_name);
    let engine = crate::engine::start(
        &store,
        &dir,
        &node_name,
        args.runtime,
        args.routine_events,
        logs,
    )
    .await?;

    let metrics = prometheus::Registry::new();
    store::metrics::register(&metrics)?;
    controllers::job::metrics::register(&metrics)?;
    node::metrics::register(&metrics)?;
    let server = apiserver::serve(apiserver::ServerConfig {
        store: store.clone(),
        data_dir: dir.clone(),
        address,
        port: args.port,
        logs: Arc::clone(&engine.logs),
        metrics,
        usage: Arc::clone(&engine.usage),
        streams: Arc::clone(&engine.streams),
    })
    .await?;

    let dashboard = dashboard::serve(dashboard::DashboardConfig {
        api: server.api.clone(),
        tls: server.browser_tls.clone(),
        address,
        port: args.dashboard_port,
    })
    .await?;
    let info = serde_json::json!({
        "pid": std::process::id(),
        "address": server.addr.ip().to_string(),
        "port": server.addr.port(),
        "dashboardPort": dashboard.addr.port(),
        "kubeconfig": server.kubeconfig,
        "runtime": engine.runtime.kind.name(),
        "runtimeVersion": engine.runtime.version,
        "runtimeReason": engine.runtime.reason,
    });
    let tmp = dir.join("engine.json.tmp");
    {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(info.to_string().as_bytes())?;
    }
    fs::rename(&tmp, dir.join("engine.json"))?;
    tracing::info!(
        "joblite engine serving https://{} (dashboard https://{}/ui/) for {} (kubeconfig {}); pods run as {} by default: {}",
        server.addr,
        dashboard.addr,
        dir.display(),
        server.kubeconfig.display(),
        engine.runtime.kind.name(),
        engine.runtime.reason
    );

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
        r = server.task => { r?; }
    }
    engine.controllers.abort();
    // Pods keep running under the supervisor; the next engine reattaches.
    engine.node.shutdown().await;
    let _ = fs::remove_file(dir.join("engine.json"));
    Ok(())
}
