//! The container runtime: each container runs in a container engine
//! through the Docker Engine API (`bollard`), which Docker Engine and
//! Podman (`podman system service`) both serve.
//!
//! A pod gets a sandbox container first (`pause.rs`): it holds the pod's
//! network, IPC and UTS namespaces, so its containers share one IP,
//! `localhost` and the pod's hostname, as the kubelet's pause container
//! does; `hostNetwork` pods use the host's network and hostname. Each
//! container attempt then goes through the kubelet's steps, each reported
//! to the agent as it happens: the image per its pull policy (`image.rs`;
//! `Pulling`/`Pulled` events, `ErrImagePull` and its back-off, which the
//! pod worker keeps), create (`create.rs`; `Created`), start (`Started`),
//! then its output is copied into the run's CRI log file (`cri_log.rs`)
//! and its exit is awaited.
//!
//! Nothing is lost or leaked: containers carry labels with this node's
//! instance, the run id and the pod's uid and container name, and have
//! deterministic names, so a restarted joblite finds and adopts them (a
//! listing is the [`RuntimeEvent::Snapshot`]), a lost create response is
//! found again by its name, and an exit that happened while joblite was
//! down is read from the engine. A container is removed only when the agent
//! forgets its run, which it does after the run's outcome is committed; a
//! pod's sandbox goes when the pod is released. If the engine stops
//! answering, nothing is reported as failed: follows stop, the runtime
//! says it is disconnected, pings until the engine is back, and lists
//! again.

pub mod create;
pub mod cri_log;
pub mod engine;
pub mod image;
pub mod pause;
mod pull_secrets;
pub mod raw;
pub mod streams;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::errors::Error as EngineError;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, KillContainerOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Container, PodSpec, Secret};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::mpsc;

use super::{
    spec, BuildError, RunState, Runtime, RuntimeEvent, RuntimeKind, StartFailure, StartRequest,
};
use crate::env::EnvContext;
use crate::protocol::{parse_run_id, ExitRecord};
pub use engine::Engine;

/// How the node reaches its container engine.
#[derive(Debug, Clone)]
pub struct ContainerConfig {
    pub engine: Engine,
}

/// How long an ordinary API call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// How often an unreachable engine is pinged.
const PING_EVERY: Duration = Duration::from_secs(1);
/// The first and the longest pause before asking again whether a container
/// whose log stream ended has exited.
const EXIT_RECHECK_FIRST: Duration = Duration::from_millis(5);
const EXIT_RECHECK_LAST: Duration = Duration::from_millis(500);
/// The pauses between the inspections that look for the early exit of a
/// container just started (0.3 s in all; then its log stream's end
/// tells).
const EARLY_EXIT_CHECKS: [Duration; 6] = [
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(20),
    Duration::from_millis(40),
    Duration::from_millis(80),
    Duration::from_millis(160),
];

/// The pod's sandbox.
#[derive(Debug, Clone)]
struct Sandbox {
    id: String,
}

/// One run this runtime knows.
#[derive(Debug, Default)]
struct Run {
    /// The engine's container id, once created.
    container: Option<String>,
    /// A signal asked for before the container existed.
    cancelled: Option<i32>,
    /// joblite signalled it (an exit 137 is then not an OOM kill).
    signalled: bool,
    following: bool,
    memory_limited: bool,
    log_path: PathBuf,
}

#[derive(Default)]
struct State {
    runs: HashMap<String, Run>,
    sandboxes: HashMap<String, Arc<tokio::sync::Mutex<Option<Sandbox>>>>,
    /// While a sweep for leftovers runs ([`Runtime::release_all_but`]):
    /// the pods started meanwhile, which it must not release.
    sweep: Option<HashSet<String>>,
}

struct Inner {
    docker: Docker,
    /// The same engine with no practical timeout, for waits and follows.
    waiter: Docker,
    engine: Engine,
    data_dir: PathBuf,
    /// This node's instance id: only containers labelled with it are ours.
    instance: String,
    tx: mpsc::UnboundedSender<RuntimeEvent>,
    state: Mutex<State>,
    /// Image pulls run one at a time (the kubelet's serialized pulls).
    pulls: tokio::sync::Mutex<()>,
    pause_ready: tokio::sync::Mutex<bool>,
    connected: AtomicBool,
    /// Wakes the watchdog when the engine stops answering (and when this
    /// runtime goes): it sleeps while the engine answers.
    lost: Arc<tokio::sync::Notify>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.lost.notify_one();
    }
}

/// The agent's handle on the container engine.
pub struct ContainerRuntime {
    inner: Arc<Inner>,
}

/// The node's instance id, made once per data directory.
fn instance_id(data_dir: &std::path::Path) -> std::io::Result<String> {
    let path = data_dir.join("instance-id");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => {
            let id = format!("{:016x}", rand_u64());
            std::fs::write(&path, &id)?;
            Ok(id)
        }
    }
}

fn rand_u64() -> u64 {
    use std::io::Read;
    let mut b = [0u8; 8];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if read.is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return t.as_nanos() as u64 ^ std::process::id() as u64;
    }
    u64::from_le_bytes(b)
}

/// Connects to the engine. The first event is a [`RuntimeEvent::Snapshot`]
/// of every container of this node the engine has.
pub async fn connect(
    config: ContainerConfig,
    data_dir: &std::path::Path,
) -> Result<(Arc<ContainerRuntime>, mpsc::UnboundedReceiver<RuntimeEvent>), crate::Error> {
    let e = &config.engine;
    let err = |m: String| crate::Error::Supervisor(format!("container engine: {m}"));
    let docker = engine::client(&e.endpoint, CALL_TIMEOUT).map_err(err)?;
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|x| err(format!("{}: {x}", e.endpoint)))?;
    let waiter = docker
        .clone()
        .with_timeout(Duration::from_secs(u32::MAX as u64));
    let (tx, rx) = mpsc::unbounded_channel();
    let lost = Arc::new(tokio::sync::Notify::new());
    let inner = Arc::new(Inner {
        docker,
        waiter,
        engine: e.clone(),
        data_dir: data_dir.to_path_buf(),
        instance: instance_id(data_dir)?,
        tx,
        state: Mutex::new(State::default()),
        pulls: tokio::sync::Mutex::new(()),
        pause_ready: tokio::sync::Mutex::new(false),
        connected: AtomicBool::new(true),
        lost: lost.clone(),
    });
    let runs = inner.snapshot().await.map_err(|x| err(x.to_string()))?;
    let _ = inner.tx.send(RuntimeEvent::Snapshot(runs));
    tokio::spawn(watchdog(Arc::downgrade(&inner), lost));
    Ok((Arc::new(ContainerRuntime { inner }), rx))
}

/// Whether an engine error means the engine did not answer (as opposed to
/// answering with an error).
fn unreachable(e: &EngineError) -> bool {
    !matches!(
        e,
        EngineError::DockerResponseServerError { .. }
            | EngineError::DockerStreamError { .. }
            | EngineError::DockerContainerWaitError { .. }
            | EngineError::JsonDataError { .. }
    )
}

fn status_code(e: &EngineError) -> Option<u16> {
    match e {
        EngineError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The engine's message of an error.
fn message(e: &EngineError) -> String {
    match e {
        EngineError::DockerResponseServerError { message, .. } => message.clone(),
        EngineError::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

/// Pings the engine while it is unreachable; lists again once it answers.
/// While it answers, the watchdog sleeps until [`Inner::lost`] wakes it.
async fn watchdog(inner: std::sync::Weak<Inner>, lost: Arc<tokio::sync::Notify>) {
    loop {
        let connected = match inner.upgrade() {
            Some(i) => i.connected.load(Ordering::Acquire),
            None => return,
        };
        if connected {
            // `notify_one` keeps a permit, so a loss between the load and
            // this wait is not missed.
            lost.notified().await;
            continue;
        }
        tokio::time::sleep(PING_EVERY).await;
        let Some(inner) = inner.upgrade() else { return };
        if inner.connected.load(Ordering::Acquire) {
            continue;
        }
        if inner.docker.ping().await.is_err() {
            continue;
        }
        match inner.snapshot().await {
            Ok(runs) => {
                inner.connected.store(true, Ordering::Release);
                tracing::info!("container engine {} answers again", inner.engine.endpoint);
                let _ = inner.tx.send(RuntimeEvent::Snapshot(runs));
            }
            Err(e) => tracing::debug!("container engine: listing after reconnect: {e}"),
        }
    }
}

/// What a start task needs, owned.
struct Plan {
    pod: Value,
    spec: PodSpec,
    container: Container,
    init: bool,
    attempt: u32,
    data_dir: PathBuf,
    node_name: String,
    host_ip: String,
    pod_ip: String,
    cpu: i64,
    memory: i64,
    /// The environment, resolved at `start` (it may read ConfigMaps and
    /// Secrets, which only the request's sources reach).
    env: Vec<(String, String)>,
    /// The pod's `imagePullSecrets` that exist, read at `start`.
    pull_secrets: Vec<Secret>,
}

impl Plan {
    fn request(&self) -> StartRequest<'_> {
        StartRequest {
            pod: &self.pod,
            spec: &self.spec,
            container: &self.container,
            init: self.init,
            attempt: self.attempt,
            data_dir: &self.data_dir,
            env: EnvContext {
                node_name: &self.node_name,
                host_ip: &self.host_ip,
                pod_ip: &self.pod_ip,
                node_cpu_millis: self.cpu,
                node_memory_bytes: self.memory,
                ..EnvContext::default()
            },
        }
    }
    fn image(&self) -> String {
        self.container.image.clone().unwrap_or_default()
    }
    fn host_network(&self) -> bool {
        self.spec.host_network.unwrap_or(false)
    }
}

/// Why a pull failed.
enum Pull {
    /// The engine did not answer.
    Engine(EngineError),
    /// The pull was refused; the kubelet's message.
    Failed(String),
}

/// How a start task ended early.
enum Abort {
    /// The engine did not answer.
    Unreachable(String),
    /// The engine refused a step that a later try may pass (the sandbox).
    Retry(String),
    /// Reported already (a failure event was sent).
    Reported,
    /// Signalled before its process ran.
    Cancelled(i32),
}

impl From<EngineError> for Abort {
    fn from(e: EngineError) -> Abort {
        if unreachable(&e) {
            Abort::Unreachable(message(&e))
        } else {
            Abort::Retry(message(&e))
        }
    }
}

impl Inner {
    fn event(&self, uid: &str, warning: bool, reason: &'static str, message: String) {
        let _ = self.tx.send(RuntimeEvent::PodEvent {
            uid: uid.to_string(),
            warning,
            reason,
            message,
        });
    }

    fn lost(&self, what: &str, e: &str) {
        if self.connected.swap(false, Ordering::AcqRel) {
            self.lost.notify_one();
            tracing::warn!("container engine {}: {what}: {e}", self.engine.endpoint);
            let _ = self.tx.send(RuntimeEvent::Disconnected {
                message: format!("the container engine does not answer: {e}"),
            });
        }
    }

    fn container_id(&self, id: &str) -> String {
        format!("{}://{id}", self.engine.scheme)
    }

    fn cancelled(&self, run: &str) -> Option<i32> {
        self.state.lock().runs.get(run).and_then(|r| r.cancelled)
    }

    /// Every container of this node, as run states; starts following the
    /// running ones that nobody follows and completes the logs of exited
    /// ones.
    async fn snapshot(self: &Arc<Self>) -> Result<Vec<RunState>, EngineError> {
        let list = raw::list(
            &self.engine.endpoint,
            &[format!("{}={}", create::LABEL_INSTANCE, self.instance)],
        )
        .await?;
        let mut out = Vec::new();
        for c in list {
            let (id, labels) = (c.id, c.labels);
            let uid = labels
                .get(create::LABEL_POD_UID)
                .cloned()
                .unwrap_or_default();
            if labels.get(create::LABEL_ROLE).map(String::as_str) == Some(create::ROLE_SANDBOX) {
                let slot = self.sandbox_slot(&uid);
                let mut g = slot.lock().await;
                if g.is_none() {
                    *g = Some(Sandbox { id });
                }
                continue;
            }
            let Some(run) = labels.get(create::LABEL_RUN).cloned() else {
                continue;
            };
            let Some((_, cname, attempt)) = parse_run_id(&run) else {
                continue;
            };
            let info = match raw::inspect(&self.engine.endpoint, &id).await {
                Ok(i) => i,
                Err(e) if status_code(&e) == Some(404) => continue,
                Err(e) => return Err(e),
            };
            if !info.ran() {
                // Made but never started (joblite stopped in between): not
                // a run yet; the agent's start finds and starts it.
                continue;
            }
            let ns = labels
                .get(create::LABEL_POD_NAMESPACE)
                .cloned()
                .unwrap_or_default();
            let pod = labels
                .get(create::LABEL_POD_NAME)
                .cloned()
                .unwrap_or_default();
            let log_path = self.log_path(&ns, &pod, &uid, cname, attempt);
            let follow = {
                let mut st = self.state.lock();
                let r = st.runs.entry(run.clone()).or_default();
                r.container = Some(id.clone());
                r.memory_limited = info.memory_limit > 0;
                r.log_path = log_path.clone();
                let f = info.running && !r.following;
                if f {
                    r.following = true;
                }
                f
            };
            let exit = if info.running {
                if follow {
                    tokio::spawn(self.clone().follow(run.clone(), id.clone(), false));
                }
                None
            } else {
                if !cri_log::is_finished(&log_path) {
                    if let Copied::Broken = self.copy_logs(&id, &log_path, false, false).await {
                        return Err(EngineError::RequestTimeoutError);
                    }
                    cri_log::finish(&log_path);
                }
                Some(self.exit_record(&run, &info))
            };
            out.push(RunState {
                id: run,
                container_id: self.container_id(&id),
                image_id: info.image.clone(),
                started_at: crate::sys::rfc3339_nano(parse_time(&info.started_at)),
                exit,
            });
        }
        Ok(out)
    }

    fn log_path(&self, ns: &str, pod: &str, uid: &str, c: &str, attempt: u32) -> PathBuf {
        crate::paths::log_path(&self.data_dir, ns, pod, uid, c, attempt)
    }

    fn sandbox_slot(&self, uid: &str) -> Arc<tokio::sync::Mutex<Option<Sandbox>>> {
        self.state
            .lock()
            .sandboxes
            .entry(uid.to_string())
            .or_default()
            .clone()
    }

    /// The run's exit as the status reports it. On cgroup v1 the engine's
    /// OOMKilled flag can stay false for a container the memory cgroup
    /// killed, so an exit by SIGKILL (137) of a memory-limited container
    /// that joblite did not signal counts as an OOM kill too.
    fn exit_record(&self, run: &str, info: &raw::Inspect) -> ExitRecord {
        let code = info.exit_code;
        let (limited, signalled) = {
            let g = self.state.lock();
            g.runs
                .get(run)
                .map(|r| (r.memory_limited, r.signalled))
                .unwrap_or((false, false))
        };
        let oom = info.oom_killed || (code == 137 && limited && !signalled);
        let err = Some(info.error.clone()).filter(|e| !e.is_empty());
        let started = parse_time(&info.started_at);
        let finished = parse_time(&info.finished_at);
        let (reason, message) = if code == 128 && err.is_some() {
            (Some("ContainerCannotRun".to_string()), err)
        } else {
            (None, None)
        };
        ExitRecord {
            id: run.to_string(),
            exit_code: code,
            signal: (code > 128 && code < 160).then_some(code - 128),
            oom_killed: oom,
            reason,
            message,
            started_at: crate::sys::rfc3339_nano(started),
            finished_at: crate::sys::rfc3339_nano(finished.max(started)),
        }
    }

    /// Copies a container's output into its CRI file from where the file
    /// ends; with `follow`, until the container stops.
    ///
    /// With `early` (a follow of a container just started), the engine is
    /// also asked a few times in the container's first 0.3 s whether it
    /// has exited ([`Inner::early_exit`]). Podman ends a follow only after
    /// its `died` event and a 250 ms file-poll pause, which was most of a
    /// short pod's life. If the container has exited before the follow
    /// delivered anything, the follow is dropped and the output is read to
    /// its end in one request from the same point, so nothing is written
    /// twice or missed. Once output flows, only the stream's end tells.
    async fn copy_logs(
        &self,
        id: &str,
        path: &std::path::Path,
        follow: bool,
        early: bool,
    ) -> Copied {
        let mut w = match cri_log::CriWriter::open(path) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!("container logs {}: {e}", path.display());
                return Copied::Ended;
            }
        };
        let since = w.resume_since();
        let opts = |follow: bool| {
            LogsOptionsBuilder::default()
                .follow(follow)
                .stdout(true)
                .stderr(true)
                .timestamps(true)
                .since(since)
                .build()
        };
        let client = if follow { &self.waiter } else { &self.docker };
        let mut stream = client.logs(id, Some(opts(follow)));
        let watch = self.early_exit(id);
        tokio::pin!(watch);
        let mut watching = follow && early;
        loop {
            tokio::select! {
                biased;
                item = stream.next() => {
                    watching = false;
                    let Some(item) = item else { return Copied::Ended };
                    if let Some(end) = write_log(&mut w, item, path) {
                        return end;
                    }
                }
                exited = &mut watch, if watching => {
                    watching = false;
                    let Some(info) = exited else { continue };
                    drop(stream);
                    let mut all = self.docker.logs(id, Some(opts(false)));
                    while let Some(item) = all.next().await {
                        match write_log(&mut w, item, path) {
                            None => {}
                            Some(Copied::Broken) => return Copied::Broken,
                            Some(_) => break,
                        }
                    }
                    return Copied::Exited(info);
                }
            }
        }
    }

    /// Inspects a started container a few times soon after its start; its
    /// state once it has exited, None if it still runs after them (or the
    /// engine did not answer: the log stream tells then).
    async fn early_exit(&self, id: &str) -> Option<raw::Inspect> {
        for pause in EARLY_EXIT_CHECKS {
            tokio::time::sleep(pause).await;
            match raw::inspect(&self.engine.endpoint, id).await {
                Ok(i) if i.running || !i.ran() => {}
                Ok(i) => return Some(i),
                Err(_) => return None,
            }
        }
        None
    }

    /// Follows a started container: copies its output until it exits, then
    /// reports the exit. The end of the engine's log stream says the
    /// container stopped (Podman 4.3's `wait` costs a core while it
    /// waits); an inspection confirms it.
    ///
    /// With `early` (a container this runtime just started), an early
    /// exit is also looked for (see [`Inner::copy_logs`]).
    ///
    /// Stops quietly if the engine stops answering: the next listing picks
    /// the container up again.
    async fn follow(self: Arc<Self>, run: String, id: String, early: bool) {
        let path = self
            .state
            .lock()
            .runs
            .get(&run)
            .map(|r| r.log_path.clone())
            .unwrap_or_default();
        let Some(info) = self.follow_to_exit(&run, &id, &path, early).await else {
            return;
        };
        // No second read after the follow ends: the resume skips whole
        // records, so a partial line resent from the last second was
        // written twice (duplicated log lines). A line Podman's follow
        // misses at exit stays a known gap.
        cri_log::finish(&path);
        let x = self.exit_record(&run, &info);
        self.unfollow(&run);
        let _ = self.tx.send(RuntimeEvent::Exited(x));
    }

    /// Marks a run as followed by nobody (a listing may follow it again).
    fn unfollow(&self, run: &str) {
        if let Some(r) = self.state.lock().runs.get_mut(run) {
            r.following = false;
        }
    }

    /// Copies a running container's output until its log stream ends and
    /// an inspection says it has exited. None, with the run unfollowed, if
    /// the engine stopped answering (reported) or the container is gone.
    async fn follow_to_exit(
        &self,
        run: &str,
        id: &str,
        path: &std::path::Path,
        mut early: bool,
    ) -> Option<raw::Inspect> {
        // The log stream can end a moment before the engine records the
        // exit (Podman's conmon writes the exit file after the output
        // closes), so a running answer is asked again soon, then less
        // often: a fixed 500 ms pause cost every short pod half a second.
        let mut pause = EXIT_RECHECK_FIRST;
        loop {
            let began = Instant::now();
            match self.copy_logs(id, path, true, early).await {
                Copied::Ended => {}
                Copied::Exited(i) => return Some(i),
                Copied::Broken => {
                    self.unfollow(run);
                    self.lost("following a container", "the log stream broke");
                    return None;
                }
            }
            early = false;
            match raw::inspect(&self.engine.endpoint, id).await {
                Ok(i) if i.running => {
                    if began.elapsed() > EXIT_RECHECK_LAST {
                        // The stream was live: a new end is a new wait.
                        pause = EXIT_RECHECK_FIRST;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(EXIT_RECHECK_LAST);
                }
                Ok(i) => return Some(i),
                Err(e) if status_code(&e) == Some(404) => {
                    // Removed behind our back: the next listing reports it.
                    self.unfollow(run);
                    return None;
                }
                Err(e) => {
                    self.unfollow(run);
                    if unreachable(&e) {
                        self.lost("inspecting a container", &message(&e));
                    } else {
                        tracing::warn!("container engine: inspecting {id}: {}", message(&e));
                    }
                    return None;
                }
            }
        }
    }

    /// Imports the sandbox image once, if the engine lacks it.
    async fn ensure_pause(&self) -> Result<(), Abort> {
        let mut ready = self.pause_ready.lock().await;
        if *ready {
            return Ok(());
        }
        let name = pause::image_name();
        match self.docker.inspect_image(&name).await {
            Ok(_) => {}
            Err(e) if status_code(&e) == Some(404) => {
                let tar = pause::rootfs_tar().ok_or_else(|| {
                    Abort::Unreachable(format!("no sandbox program for {}", std::env::consts::ARCH))
                })?;
                let (repo, tag) = name.rsplit_once(':').unwrap_or((&name, "latest"));
                let opts = CreateImageOptionsBuilder::default()
                    .from_src("-")
                    .repo(repo)
                    .tag(tag)
                    .build();
                let mut s = self.docker.create_image(
                    Some(opts),
                    Some(bollard::body_full(tar.into())),
                    None,
                );
                while let Some(r) = s.next().await {
                    r?;
                }
            }
            Err(e) => return Err(e.into()),
        }
        *ready = true;
        Ok(())
    }

    /// The pod's sandbox, made on its first container.
    async fn ensure_sandbox(&self, plan: &Plan) -> Result<Sandbox, Abort> {
        let req = plan.request();
        let uid = req.uid().to_string();
        let slot = self.sandbox_slot(&uid);
        let mut g = slot.lock().await;
        if let Some(s) = g.as_ref() {
            return Ok(s.clone());
        }
        self.ensure_pause().await?;
        let name = create::sandbox_name(req.namespace(), req.pod_name(), &uid);
        let hostname = super::process::pod_hostname(req.pod, req.spec);
        let body = create::sandbox_body(
            &self.instance,
            (req.namespace(), req.pod_name(), &uid),
            &hostname,
            plan.host_network(),
        );
        let refused = |e: EngineError| {
            if unreachable(&e) {
                Abort::Unreachable(message(&e))
            } else {
                let m = format!("Failed to create pod sandbox: {}", message(&e));
                self.event(&uid, true, "FailedCreatePodSandBox", m.clone());
                Abort::Retry(m)
            }
        };
        let (id, _) = self.create_named(&name, body).await.map_err(refused)?;
        match self.docker.start_container(&id, None).await {
            Ok(()) => {}
            Err(e) if status_code(&e) == Some(304) => {}
            Err(e) => {
                self.remove(&id).await;
                return Err(refused(e));
            }
        }
        let s = Sandbox { id };
        let ip = self.sandbox_ip(&s, plan).await;
        let _ = self.tx.send(RuntimeEvent::SandboxReady {
            uid: uid.clone(),
            ip,
        });
        *g = Some(s.clone());
        Ok(s)
    }

    /// The pod's IP: the sandbox's address on the engine's network, or
    /// the host's for `hostNetwork`.
    async fn sandbox_ip(&self, s: &Sandbox, plan: &Plan) -> String {
        if plan.host_network() {
            return plan.host_ip.clone();
        }
        let Ok(info) = raw::inspect(&self.engine.endpoint, &s.id).await else {
            return plan.pod_ip.clone();
        };
        info.ip.unwrap_or_else(|| plan.pod_ip.clone())
    }

    /// Creates a container by name; a name already taken is the same
    /// container made before (a lost response, or an earlier joblite).
    ///
    /// Returns the id and whether this call made it.
    async fn create_named(
        &self,
        name: &str,
        body: bollard::models::ContainerCreateBody,
    ) -> Result<(String, bool), EngineError> {
        let opts = CreateContainerOptionsBuilder::default().name(name).build();
        match self.docker.create_container(Some(opts), body).await {
            Ok(r) => Ok((r.id, true)),
            // Docker answers 409; Podman 500 "… is already in use".
            Err(e) if status_code(&e) == Some(409) || message(&e).contains("already in use") => {
                let info = raw::inspect(&self.engine.endpoint, name).await?;
                Ok((info.id, false))
            }
            Err(e) => Err(e),
        }
    }

    /// The image per the container's pull policy; failures are reported.
    async fn ensure_image(&self, plan: &Plan, run: &str) -> Result<String, Abort> {
        let uid = plan.request().uid().to_string();
        let image = plan.image();
        let parsed = image::parse(&image).map_err(|_| Abort::Reported)?;
        let policy = image::PullPolicy::of(plan.container.image_pull_policy.as_deref(), &parsed);
        let name = parsed.with_default_tag();
        let present = if policy == image::PullPolicy::Always {
            None
        } else {
            match self.docker.inspect_image(&name).await {
                Ok(i) => Some(i),
                Err(e) if status_code(&e) == Some(404) => None,
                Err(e) => return Err(e.into()),
            }
        };
        if let Some(i) = present {
            self.event(&uid, false, "Pulled", image::present_message(&image));
            return Ok(image_ref_id(&i));
        }
        if policy == image::PullPolicy::Never {
            let msg = image::never_pull_message(&image);
            self.event(&uid, true, "ErrImageNeverPull", msg.clone());
            let _ = self.tx.send(RuntimeEvent::Failed {
                id: run.to_string(),
                failure: StartFailure::Blocked {
                    reason: "ErrImageNeverPull".into(),
                    message: msg,
                },
            });
            return Err(Abort::Reported);
        }
        self.event(&uid, false, "Pulling", format!("Pulling image {image:?}"));
        let asked = Instant::now();
        let pulled = {
            let _turn = self.pulls.lock().await;
            let began = Instant::now();
            let (repo, tag) = parsed.pull_args();
            self.pull(&repo, &tag, &plan.pull_secrets)
                .await
                .map(|()| began.elapsed())
        };
        match pulled {
            Ok(took) => {
                let info = self.docker.inspect_image(&name).await?;
                let size = info.size.unwrap_or(0);
                self.event(
                    &uid,
                    false,
                    "Pulled",
                    image::pulled_message(&image, took, asked.elapsed(), size),
                );
                Ok(image_ref_id(&info))
            }
            Err(Pull::Engine(e)) => Err(e.into()),
            Err(Pull::Failed(msg)) => {
                self.event(
                    &uid,
                    true,
                    "Failed",
                    format!("Failed to pull image {image:?}: {msg}"),
                );
                let _ = self.tx.send(RuntimeEvent::Failed {
                    id: run.to_string(),
                    failure: StartFailure::ImagePull { message: msg },
                });
                Err(Abort::Reported)
            }
        }
    }

    /// Pulls `repo:tag` as the kubelet's `PullImage`: anonymously when no
    /// pull Secret has a credential for it, else with each credential in
    /// turn until one pull succeeds.
    async fn pull(&self, repo: &str, tag: &str, secrets: &[Secret]) -> Result<(), Pull> {
        let creds = pull_secrets::credentials_for(secrets, repo).map_err(Pull::Failed)?;
        let attempts: Vec<Option<pull_secrets::Credential>> = if creds.is_empty() {
            vec![None]
        } else {
            creds.into_iter().map(Some).collect()
        };
        let mut failures = Vec::new();
        for cred in attempts {
            let result = match cred {
                Some(c) => {
                    let auth = c.registry_auth();
                    raw::pull(&self.engine.endpoint, repo, tag, &auth, CALL_TIMEOUT).await
                }
                None => self.pull_anonymous(repo, tag).await,
            };
            match result {
                Ok(()) => return Ok(()),
                Err(e) if unreachable(&e) => return Err(Pull::Engine(e)),
                Err(e) => failures.push(message(&e)),
            }
        }
        Err(Pull::Failed(pull_secrets::aggregate(&failures)))
    }

    async fn pull_anonymous(&self, repo: &str, tag: &str) -> Result<(), EngineError> {
        let opts = CreateImageOptionsBuilder::default()
            .from_image(repo)
            .tag(tag)
            .build();
        let mut s = self.docker.create_image(Some(opts), None, None);
        while let Some(r) = s.next().await {
            r?;
        }
        Ok(())
    }

    /// One container attempt, from sandbox to a followed process.
    async fn start_run(self: Arc<Self>, plan: Plan) {
        let req = plan.request();
        let run = req.run_id();
        let uid = req.uid().to_string();
        let outcome = self.clone().try_start(&plan, &run).await;
        let failure = match outcome {
            Ok(()) => return,
            Err(Abort::Reported) => None,
            Err(Abort::Cancelled(sig)) => {
                let now = crate::sys::rfc3339_nano(chrono::Utc::now());
                let container = self
                    .state
                    .lock()
                    .runs
                    .get(&run)
                    .and_then(|r| r.container.clone());
                if let Some(c) = container {
                    let _ = self
                        .docker
                        .remove_container(
                            &c,
                            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
                        )
                        .await;
                }
                self.state.lock().runs.remove(&run);
                let _ = self.tx.send(RuntimeEvent::Exited(ExitRecord {
                    id: run.clone(),
                    exit_code: 128 + sig,
                    signal: Some(sig),
                    oom_killed: false,
                    reason: None,
                    message: None,
                    started_at: now.clone(),
                    finished_at: now,
                }));
                return;
            }
            Err(Abort::Unreachable(m)) => {
                self.lost("starting a container", &m);
                Some(StartFailure::Unavailable {
                    message: format!("the container engine does not answer: {m}"),
                })
            }
            Err(Abort::Retry(m)) => {
                tracing::warn!("container engine: starting {run}: {m}; trying again");
                Some(StartFailure::Unavailable { message: m })
            }
        };
        self.state.lock().runs.remove(&run);
        if let Some(f) = failure {
            if let StartFailure::Unavailable { message } = &f {
                if !self.connected.load(Ordering::Acquire) {
                    self.event(&uid, true, "Failed", format!("Error: {message}"));
                }
            }
            let _ = self.tx.send(RuntimeEvent::Failed {
                id: run,
                failure: f,
            });
        }
    }

    async fn try_start(self: Arc<Self>, plan: &Plan, run: &str) -> Result<(), Abort> {
        // The image does not depend on the sandbox: look it up (or pull
        // it) while the sandbox starts. The events keep the kubelet's
        // order, as a sandbox that starts has no event of its own.
        let (sandbox, image_id) =
            tokio::try_join!(self.ensure_sandbox(plan), self.ensure_image(plan, run))?;
        if let Some(sig) = self.cancelled(run) {
            return Err(Abort::Cancelled(sig));
        }
        let req = plan.request();
        let uid = req.uid().to_string();
        let cname = req.container.name.clone();
        let mut body =
            match create::container_body(&req, plan.env.clone(), &self.instance, &sandbox.id) {
                Ok(b) => b,
                Err(e) => {
                    let (reason, m) = match e {
                        BuildError::Create(m) => ("CreateContainerError", m),
                        BuildError::Config(m) | BuildError::CannotRun(m) => {
                            ("CreateContainerConfigError", m)
                        }
                    };
                    let _ = self.tx.send(RuntimeEvent::Failed {
                        id: run.to_string(),
                        failure: StartFailure::Blocked {
                            reason: reason.into(),
                            message: m,
                        },
                    });
                    return Err(Abort::Reported);
                }
            };
        if let Some(gid) = create::group_only(&req) {
            let image_user = match self.docker.inspect_image(&image_id).await {
                Ok(i) => i.config.and_then(|c| c.user),
                Err(e) => return Err(e.into()),
            };
            body.user = Some(create::image_user_with_group(image_user.as_deref(), gid));
        }
        let (id, fresh) = match self.create_named(&create::container_name(&req), body).await {
            Ok(made) => made,
            Err(e) if unreachable(&e) => return Err(e.into()),
            Err(e) => {
                let _ = self.tx.send(RuntimeEvent::Failed {
                    id: run.to_string(),
                    failure: StartFailure::Blocked {
                        reason: "CreateContainerError".into(),
                        message: message(&e),
                    },
                });
                return Err(Abort::Reported);
            }
        };
        record_attempt(&req, &self.container_id(&id));
        if let Some(r) = self.state.lock().runs.get_mut(run) {
            r.container = Some(id.clone());
        }
        self.event(
            &uid,
            false,
            "Created",
            format!("Created container: {cname}"),
        );
        if let Some(sig) = self.cancelled(run) {
            return Err(Abort::Cancelled(sig));
        }
        // A container made before (a lost answer, an earlier try) is
        // started only if it never ran: a run is never started twice.
        let ran_before = !fresh && raw::inspect(&self.engine.endpoint, &id).await?.ran();
        let started = if ran_before {
            Ok(())
        } else {
            self.docker.start_container(&id, None).await
        };
        let info = match started {
            Err(e) if unreachable(&e) => return Err(e.into()),
            other => {
                let info = raw::inspect(&self.engine.endpoint, &id).await?;
                if let Err(e) = other {
                    if status_code(&e) != Some(304) {
                        // The process could not be started (no such
                        // executable, …): the container ends at once.
                        let msg = message(&e);
                        self.event(&uid, true, "Failed", format!("Error: {msg}"));
                        let now = crate::sys::rfc3339_nano(chrono::Utc::now());
                        let _ = self.tx.send(RuntimeEvent::Started {
                            id: run.to_string(),
                            container_id: self.container_id(&id),
                            image_id: image_id.clone(),
                            started_at: now.clone(),
                        });
                        let _ = self.tx.send(RuntimeEvent::Exited(ExitRecord {
                            id: run.to_string(),
                            exit_code: 128,
                            signal: None,
                            oom_killed: false,
                            reason: Some("ContainerCannotRun".into()),
                            message: Some(msg),
                            started_at: now.clone(),
                            finished_at: now,
                        }));
                        return Ok(());
                    }
                }
                info
            }
        };
        self.event(&uid, false, "Started", format!("Started container {cname}"));
        let started_at = info.started_at.clone();
        let _ = self.tx.send(RuntimeEvent::Started {
            id: run.to_string(),
            container_id: self.container_id(&id),
            image_id,
            started_at: crate::sys::rfc3339_nano(parse_time(&started_at)),
        });
        let follow = {
            let mut st = self.state.lock();
            match st.runs.get_mut(run) {
                Some(r) if !r.following => {
                    r.following = true;
                    true
                }
                _ => false,
            }
        };
        if follow {
            tokio::spawn(self.clone().follow(run.to_string(), id, true));
        }
        Ok(())
    }

    async fn remove(&self, id: &str) {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(opts)).await {
            Ok(()) => {}
            Err(e) if matches!(status_code(&e), Some(404) | Some(409)) => {}
            Err(e) => tracing::warn!("container engine: removing {id}: {}", message(&e)),
        }
    }

    /// Removes what is left of a pod: its containers, then its sandbox.
    async fn release(&self, uid: &str) {
        let Ok(list) = raw::list(
            &self.engine.endpoint,
            &[
                format!("{}={}", create::LABEL_INSTANCE, self.instance),
                format!("{}={uid}", create::LABEL_POD_UID),
            ],
        )
        .await
        else {
            return;
        };
        let (sandboxes, containers): (Vec<_>, Vec<_>) = list.into_iter().partition(|c| {
            c.labels.get(create::LABEL_ROLE).map(String::as_str) == Some(create::ROLE_SANDBOX)
        });
        for c in containers.iter().chain(sandboxes.iter()) {
            self.remove(&c.id).await;
        }
    }
}

/// How a copy of a container's output ended.
enum Copied {
    /// The engine's stream ended (or the engine answered with an error).
    Ended,
    /// The container had exited early, and all its output is copied.
    Exited(raw::Inspect),
    /// The engine stopped answering.
    Broken,
}

/// Writes one item of an engine log stream; what ends the copy, if it
/// does.
fn write_log(
    w: &mut cri_log::CriWriter,
    item: Result<bollard::container::LogOutput, EngineError>,
    path: &std::path::Path,
) -> Option<Copied> {
    use bollard::container::LogOutput;
    let r = match item {
        Ok(LogOutput::StdOut { message }) => w.write("stdout", &message),
        Ok(LogOutput::Console { message }) => w.write_raw(&message),
        Ok(LogOutput::StdErr { message }) => w.write("stderr", &message),
        Ok(LogOutput::StdIn { .. }) => Ok(()),
        Err(e) if unreachable(&e) => return Some(Copied::Broken),
        Err(_) => return Some(Copied::Ended),
    };
    if let Err(e) = r {
        tracing::warn!("container logs {}: {e}", path.display());
    }
    None
}

/// Records which engine container ran which attempt, for `logs.rs`.
fn record_attempt(req: &StartRequest<'_>, container_id: &str) {
    use std::io::Write;
    let path = crate::paths::attempts_path(
        req.data_dir,
        req.namespace(),
        req.pod_name(),
        req.uid(),
        &req.container.name,
    );
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{} {container_id}", req.attempt);
    }
}

fn parse_time(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok()
        .filter(|t| t.timestamp() > 0)
        .unwrap_or_else(chrono::Utc::now)
}

/// The image ID a status shows: the repo digest the image was pulled by,
/// else the engine's image id.
fn image_ref_id(i: &bollard::models::ImageInspect) -> String {
    i.repo_digests
        .as_ref()
        .and_then(|d| d.first().cloned())
        .or_else(|| i.id.clone())
        .unwrap_or_default()
}

impl Runtime for ContainerRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Container
    }

    fn start(&self, req: &StartRequest<'_>) -> Result<(), BuildError> {
        let run = req.run_id();
        let inner = &self.inner;
        if inner.state.lock().runs.contains_key(&run) {
            return Ok(());
        }
        // The kubelet reads them on every pod sync, pull or not.
        let (pull_secrets, missing) =
            pull_secrets::resolve(req.env.sources, req.namespace(), req.spec);
        if !missing.is_empty() {
            let msg = pull_secrets::missing_message(&missing);
            inner.event(req.uid(), true, "FailedToRetrieveImagePullSecret", msg);
        }
        let image = req.container.image.clone().unwrap_or_default();
        if let Err(e) = image::parse(&image) {
            let msg = image::invalid_name_message(&image, &e);
            inner.event(req.uid(), true, "InspectFailed", msg.clone());
            let _ = inner.tx.send(RuntimeEvent::Failed {
                id: run,
                failure: StartFailure::Blocked {
                    reason: "InvalidImageName".into(),
                    message: msg,
                },
            });
            return Ok(());
        }
        // Configuration errors show at once, as on the process runtime.
        let env = spec::environment(req, Vec::new())?;
        spec::mounts(req)?;
        let res = spec::resources(req.container);
        {
            let mut st = inner.state.lock();
            if let Some(started) = st.sweep.as_mut() {
                started.insert(req.uid().to_string());
            }
            st.runs.insert(
                run,
                Run {
                    memory_limited: res.memory_limit.is_some(),
                    log_path: req.log_path(),
                    ..Default::default()
                },
            );
        }
        let plan = Plan {
            pod: req.pod.clone(),
            spec: req.spec.clone(),
            container: req.container.clone(),
            init: req.init,
            attempt: req.attempt,
            data_dir: req.data_dir.to_path_buf(),
            node_name: req.env.node_name.to_string(),
            host_ip: req.env.host_ip.to_string(),
            pod_ip: req.env.pod_ip.to_string(),
            cpu: req.env.node_cpu_millis,
            memory: req.env.node_memory_bytes,
            env,
            pull_secrets,
        };
        tokio::spawn(inner.clone().start_run(plan));
        Ok(())
    }

    fn signal(&self, id: &str, signal: i32) {
        let container = {
            let mut st = self.inner.state.lock();
            let Some(r) = st.runs.get_mut(id) else { return };
            r.signalled = true;
            if r.container.is_none() {
                r.cancelled = Some(signal);
                return;
            }
            r.container.clone()
        };
        let Some(c) = container else { return };
        let inner = self.inner.clone();
        tokio::spawn(async move {
            // A stop sends the image's STOPSIGNAL, as the CRI's
            // StopContainer does; SIGTERM when it names none.
            let name = if signal == libc::SIGKILL {
                "SIGKILL".to_string()
            } else {
                match inner.docker.inspect_container(&c, None).await {
                    Ok(i) => i
                        .config
                        .and_then(|c| c.stop_signal)
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "SIGTERM".into()),
                    Err(_) => "SIGTERM".into(),
                }
            };
            let opts = KillContainerOptionsBuilder::default().signal(&name).build();
            match inner.docker.kill_container(&c, Some(opts)).await {
                Ok(()) => {}
                Err(e) if matches!(status_code(&e), Some(404) | Some(409)) => {}
                Err(e) if unreachable(&e) => inner.lost("signalling a container", &message(&e)),
                Err(e) => tracing::warn!("container engine: signal {c}: {}", message(&e)),
            }
        });
    }

    fn forget(&self, id: &str) {
        let Some(r) = self.inner.state.lock().runs.remove(id) else {
            return;
        };
        if let Some(c) = r.container {
            let inner = self.inner.clone();
            tokio::spawn(async move { inner.remove(&c).await });
        }
    }

    fn release_pod(&self, uid: &str) {
        let slot = self.inner.state.lock().sandboxes.remove(uid);
        let prefix = format!("{uid}_");
        self.inner
            .state
            .lock()
            .runs
            .retain(|k, _| !k.starts_with(&prefix));
        let inner = self.inner.clone();
        let uid = uid.to_string();
        tokio::spawn(async move {
            // Wait out a sandbox still being made, then remove everything.
            if let Some(s) = slot {
                let _ = s.lock().await;
            }
            inner.release(&uid).await;
        });
    }

    fn release_all_but(&self, keep: &HashSet<String>) {
        let keep = keep.clone();
        let inner = self.inner.clone();
        inner.state.lock().sweep = Some(HashSet::new());
        tokio::spawn(async move {
            let listed = raw::list(
                &inner.engine.endpoint,
                &[format!("{}={}", create::LABEL_INSTANCE, inner.instance)],
            )
            .await;
            let uids: BTreeSet<String> = listed
                .unwrap_or_default()
                .into_iter()
                .filter_map(|c| c.labels.get(create::LABEL_POD_UID).cloned())
                .collect();
            for uid in uids {
                let leftover = {
                    let mut st = inner.state.lock();
                    let started = st.sweep.as_ref().is_some_and(|s| s.contains(&uid));
                    let leftover = !keep.contains(&uid) && !started;
                    if leftover {
                        st.sandboxes.remove(&uid);
                    }
                    leftover
                };
                if leftover {
                    inner.release(&uid).await;
                }
            }
            inner.state.lock().sweep = None;
        });
    }

    fn list(&self) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            match inner.snapshot().await {
                Ok(runs) => {
                    let _ = inner.tx.send(RuntimeEvent::Snapshot(runs));
                }
                Err(e) => inner.lost("listing containers", &message(&e)),
            }
        });
    }

    fn emits_container_events(&self) -> bool {
        true
    }

    fn version(&self) -> String {
        self.inner.engine.runtime_version()
    }
}
