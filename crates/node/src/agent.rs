//! The node agent: joblite's kubelet and the scheduler of its one node.
//!
//! One task owns all pod state and reacts to three streams: the pod watch,
//! the runtime's events, and timers (back-offs, deadlines, grace periods).
//! Per-pod work is O(1) per event; nothing scans all pods on an event, and
//! there is no thread or helper process per pod.
//!
//! Status writes are coalesced: a pod's changes mark it dirty and a flush
//! every few milliseconds writes the dirty pods concurrently (the store
//! group-commits them). A pod's non-terminal writes are at least
//! [`NodeConfig::status_write_interval`] apart, its first one included, so a
//! `/bin/true` that starts and exits in that window costs one write: binding
//! (`spec.nodeName`) and the terminal status together. Terminal statuses are
//! written at once: a Job's next pod waits on them. A pod's finished runs are forgotten by the
//! runtime only after its terminal status is committed, so an agent crash
//! at any point loses no exit code.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::events::Source;
use api::resources::{NODES, PODS};
use k8s_openapi::api::core::v1::PodSpec;
use serde_json::{json, Value};
use store::recorder::Recorder;
use store::{DeleteOptions, Store};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::admission::{self, Resources};
use crate::config_sources::{self, Dependents, SourceRef};
use crate::env::EnvContext;
use crate::node_object;
use crate::paths;
use crate::pod_worker::{Action, Cause, PodWorker};
use crate::protocol::parse_run_id;
use crate::runtime::{process, RunState, Runtime, RuntimeEvent, RuntimeKind, StartRequest};
use crate::status::{self, ConditionTimes, NodeIdentity};
use crate::{Error, Result};

/// How the node agent runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The node's directory: supervisor socket, journal, pod logs and volumes.
    pub data_dir: PathBuf,
    /// The Node object's name (the hostname by default).
    pub node_name: String,
    /// argv that starts the supervisor for `data_dir`, e.g.
    /// `[<joblite exe>, "supervise", <data_dir>]`; the process must call
    /// [`crate::supervisor_main`] with `data_dir`. It also gets the
    /// directory in `$JOBLITE_SUPERVISOR_DIR`.
    pub supervisor_command: Vec<OsString>,
    /// How often the Ready condition's `lastHeartbeatTime` is refreshed.
    pub heartbeat_interval: Duration,
    /// Overrides the machine's CPU and memory (tests).
    pub allocatable: Option<Resources>,
    /// Also emit the routine kubelet events (Scheduled, Pulled, Created,
    /// Started) for pods on the process runtime (the container runtime
    /// always does). Off by default: four event writes per pod cost
    /// throughput (`bench throughput-events` measures how much).
    pub routine_events: bool,
    /// The shortest interval between two non-terminal status writes of a
    /// pod, and the delay of its first write: transitions inside it are
    /// coalesced (a short pod goes from nothing to Succeeded in one write).
    /// Terminal statuses are written at once.
    pub status_write_interval: Duration,
    /// The runtime of pods that name none in `spec.runtimeClassName`.
    pub default_runtime: RuntimeKind,
    /// The container engine, when this node has one.
    pub container: Option<crate::runtime::container::ContainerConfig>,
    /// Container log rotation (`containerLogMaxSize`/`containerLogMaxFiles`;
    /// see `log_rotation.rs`).
    pub logs: crate::log_rotation::LogPolicy,
}

impl NodeConfig {
    /// Defaults: node name = hostname, heartbeat 40 s.
    pub fn new(data_dir: impl Into<PathBuf>, supervisor_command: Vec<OsString>) -> NodeConfig {
        NodeConfig {
            data_dir: data_dir.into(),
            node_name: node_object::hostname(),
            supervisor_command,
            heartbeat_interval: Duration::from_secs(40),
            allocatable: None,
            routine_events: false,
            status_write_interval: Duration::from_millis(30),
            default_runtime: RuntimeKind::Process,
            container: None,
            logs: crate::log_rotation::LogPolicy::default(),
        }
    }
}

/// A running node agent.
pub struct NodeHandle {
    pub node_name: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl NodeHandle {
    /// Stops the agent. Containers keep running under the supervisor; the
    /// next agent on the same data directory reattaches to them.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Whether the agent's loop is still running.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

fn now_seconds() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// Starts the node agent: registers the Node, connects to (or starts) the
/// supervisor, reattaches to running pods and starts watching pods.
pub async fn run(store: Store, config: NodeConfig) -> Result<NodeHandle> {
    for dir in paths::roots(&config.data_dir) {
        std::fs::create_dir_all(dir)?;
    }
    let alloc = config
        .allocatable
        .unwrap_or_else(node_object::machine_capacity);
    register_node(&store, &config.node_name, alloc).await?;
    crate::runtime_class::register(&store).await?;
    crate::metrics::allocatable(alloc);

    let (ev_tx, events) = mpsc::unbounded_channel::<(RuntimeKind, RuntimeEvent)>();
    let mut rts: HashMap<RuntimeKind, Arc<dyn Runtime>> = HashMap::new();
    let mut runs: Vec<RunState> = Vec::new();
    let (prt, pev) =
        process::connect_with(&config.data_dir, &config.supervisor_command, config.logs).await?;
    if let Some(why) = prt.limits_problem() {
        tracing::warn!("node: process resource limits will not be enforced: {why}");
    }
    runs.extend(first_snapshot(RuntimeKind::Process, pev, &ev_tx).await?);
    rts.insert(RuntimeKind::Process, prt);
    if let Some(cc) = &config.container {
        let (crt, cev) = crate::runtime::container::connect(cc.clone(), &config.data_dir).await?;
        runs.extend(first_snapshot(RuntimeKind::Container, cev, &ev_tx).await?);
        rts.insert(RuntimeKind::Container, crt);
    }
    let versions: Vec<(RuntimeKind, String)> = rts.iter().map(|(k, r)| (*k, r.version())).collect();
    let runtime_version = versions
        .iter()
        .find(|(k, _)| *k == config.default_runtime)
        .or(versions.first())
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    set_runtime_version(&store, &config.node_name, &runtime_version).await;

    let (list, watch) = store::Follower::start(&store, &PODS, None)?;
    let source_changes = config_sources::watch(&store)?;
    let (writes_tx, writes_rx) = mpsc::unbounded_channel();
    let mut agent = Agent {
        store: store.clone(),
        events: Recorder::new(store.clone()),
        rts,
        node: NodeIdentity {
            host_ip: "127.0.0.1".into(),
            pod_ip: "127.0.0.1".into(),
        },
        alloc,
        allocated: Resources::default(),
        pods: HashMap::new(),
        done: HashSet::new(),
        keys: HashMap::new(),
        unschedulable: HashMap::new(),
        queue: VecDeque::new(),
        timers: BTreeSet::new(),
        dirty: HashSet::new(),
        writes_tx,
        name: config.node_name.clone(),
        cfg: config.clone(),
        urgent: false,
        dependents: Dependents::default(),
        runtime_error: None,
    };
    // One parsed pod at a time: a Vec of every pod's JSON value held 360 MB
    // at the start of an engine with 20,000 finished pods (heaptrack).
    agent.recover(list.iter().map(|s| s.value()), &runs);

    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(agent.run_loop(watch, events, source_changes, writes_rx, stop_rx));
    Ok(NodeHandle {
        node_name: config.node_name,
        stop: Some(stop_tx),
        task,
    })
}

/// Waits for a runtime's first event after its connect, the snapshot of
/// every run it knows, then forwards the rest of its events tagged with
/// its kind.
async fn first_snapshot(
    kind: RuntimeKind,
    mut rx: mpsc::UnboundedReceiver<RuntimeEvent>,
    tx: &mpsc::UnboundedSender<(RuntimeKind, RuntimeEvent)>,
) -> Result<Vec<RunState>> {
    let runs = loop {
        match tokio::time::timeout(Duration::from_secs(15), rx.recv()).await {
            Ok(Some(RuntimeEvent::Snapshot(runs))) => break runs,
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => {
                return Err(Error::Supervisor(format!(
                    "no snapshot from the {} runtime",
                    kind.name()
                )))
            }
        }
    };
    let tx = tx.clone();
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            if tx.send((kind, ev)).is_err() {
                return;
            }
        }
    });
    Ok(runs)
}

/// Records the default runtime in `status.nodeInfo.containerRuntimeVersion`.
async fn set_runtime_version(store: &Store, name: &str, version: &str) {
    let r = store
        .modify(&NODES, "", name, |mut n| {
            if n.pointer("/status/nodeInfo/containerRuntimeVersion")
                .and_then(Value::as_str)
                == Some(version)
            {
                return Ok(None);
            }
            n["status"]["nodeInfo"]["containerRuntimeVersion"] = json!(version);
            Ok(Some(n))
        })
        .await;
    if let Err(e) = r {
        tracing::warn!("node: recording the runtime version: {e}");
    }
}

async fn register_node(store: &Store, name: &str, alloc: Resources) -> Result<()> {
    let now = now_seconds();
    let fresh = node_object::build(name, alloc, &now);
    match store.get(&NODES, "", name) {
        Err(store::Error::NotFound(_)) => match store.create(&NODES, fresh.clone()).await {
            Ok(_) | Err(store::Error::AlreadyExists(_)) => {}
            Err(e) => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
        Ok(_) => {
            store
                .modify(&NODES, "", name, |mut cur| {
                    cur["status"] = fresh["status"].clone();
                    if let Some(labels) =
                        fresh.pointer("/metadata/labels").and_then(Value::as_object)
                    {
                        let meta = &mut cur["metadata"];
                        if !meta.get("labels").is_some_and(Value::is_object) {
                            meta["labels"] = json!({});
                        }
                        for (k, v) in labels {
                            meta["labels"][k] = v.clone();
                        }
                    }
                    Ok(Some(cur))
                })
                .await?;
        }
    }
    Ok(())
}

/// One admitted pod.
struct Entry {
    w: PodWorker,
    req: Resources,
    times: ConditionTimes,
    /// When the last status write was issued (admission time before any).
    last_write: Instant,
    /// `w.version` last committed.
    written: u64,
    writing: bool,
    /// `spec.nodeName` is committed.
    bound: bool,
    /// Resources given back (terminal).
    released: bool,
    /// The pod is being deleted: remove the object after the final write.
    deleting: bool,
    /// The runtime that runs the pod.
    rt: RuntimeKind,
    /// The object is already gone from the store.
    gone: bool,
    limits_warned: bool,
    /// A write failed (the store refused it: a full disk): not before this.
    retry_at: Option<Instant>,
}

/// How long a pod waits to write its status again after the store refused
/// a write (a full disk), so a refusing store is not retried in a loop.
const WRITE_RETRY: Duration = Duration::from_millis(500);

struct WriteReq {
    uid: String,
    namespace: String,
    name: String,
    status: Value,
    bind: bool,
    version: u64,
    terminal: bool,
    delete_after: bool,
}

struct WriteDone {
    uid: String,
    version: u64,
    terminal: bool,
    outcome: WriteOutcome,
}

enum WriteOutcome {
    Written,
    Removed,
    Gone,
    Failed,
}

struct Agent {
    store: Store,
    /// The kubelet's and the scheduler's events, correlated as client-go does.
    events: Arc<Recorder>,
    /// The runtimes this node has, by kind.
    rts: HashMap<RuntimeKind, Arc<dyn Runtime>>,
    node: NodeIdentity,
    alloc: Resources,
    allocated: Resources,
    pods: HashMap<String, Entry>,
    /// Pods whose terminal status is committed (their later events are ignored).
    done: HashSet<String>,
    /// (namespace, name) → uid of the pods in `pods` and `done`.
    keys: HashMap<(String, String), String>,
    /// Pods that did not fit: uid → (namespace, name, request).
    unschedulable: HashMap<String, (String, String, Resources)>,
    queue: VecDeque<String>,
    timers: BTreeSet<(Instant, String)>,
    dirty: HashSet<String>,
    writes_tx: mpsc::UnboundedSender<WriteDone>,
    name: String,
    cfg: NodeConfig,
    /// A pod finished: flush now rather than at the next tick, since a
    /// Job's next pod waits on this write.
    urgent: bool,
    /// The pods that name each ConfigMap and Secret.
    dependents: Dependents,
    /// Why Node Ready is False (a runtime that does not answer), if it is.
    runtime_error: Option<&'static str>,
}

/// The kubelet's `runtimeErrors` when the runtime stopped answering
/// (`pkg/kubelet/runtime.go`).
const CONTAINER_RUNTIME_DOWN: &str = "container runtime is down";

impl Agent {
    async fn run_loop(
        mut self,
        mut watch: store::Follower,
        mut events: mpsc::UnboundedReceiver<(RuntimeKind, RuntimeEvent)>,
        mut source_changes: mpsc::UnboundedReceiver<SourceRef>,
        mut writes_rx: mpsc::UnboundedReceiver<WriteDone>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let mut flush = tokio::time::interval(Duration::from_millis(5));
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heartbeat = tokio::time::interval(self.cfg.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        loop {
            // The flush tick runs only while pods are dirty, so an idle
            // node does not wake every 5 ms. It restarts when the first pod
            // turns dirty, so that pod waits one period, as before.
            let was_clean = self.dirty.is_empty();
            let next_timer = self.timers.first().map(|(t, _)| *t);
            let sleep = async {
                match next_timer {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut stop => return,
                ev = watch.next() => match ev {
                    Some(store::Change::Event(ev)) => self.on_watch(&ev),
                    Some(store::Change::Relisted(list)) => self.relisted(list),
                    None => return,
                },
                ev = events.recv() => match ev {
                    Some((kind, ev)) => self.on_runtime(kind, ev),
                    None => {
                        tracing::error!("node: runtime event stream ended");
                        return;
                    }
                },
                Some(source) = source_changes.recv() => self.on_source_changed(&source),
                done = writes_rx.recv() => {
                    if let Some(d) = done {
                        self.on_written(d);
                    }
                },
                _ = sleep => self.on_timers(),
                _ = flush.tick(), if !was_clean => self.flush(),
                _ = heartbeat.tick() => self.heartbeat(),
            }
            if self.urgent {
                self.urgent = false;
                self.flush();
            }
            if was_clean && !self.dirty.is_empty() {
                flush.reset();
            }
        }
    }

    /// The pod watch was compacted past us: reconcile with a fresh list.
    fn relisted(&mut self, list: store::Listing) {
        // Parsed one at a time, twice, rather than all held at once.
        let present: HashSet<String> = list
            .iter()
            .map(|st| s(&st.value(), "/metadata/uid").to_string())
            .collect();
        let missing: Vec<String> = self
            .pods
            .keys()
            .filter(|u| !present.contains(*u))
            .cloned()
            .collect();
        for uid in missing {
            self.on_pod_gone(&uid);
        }
        for st in list.iter() {
            self.on_pod(st.value());
        }
    }

    fn heartbeat(&self) {
        let store = self.store.clone();
        let name = self.name.clone();
        let alloc = self.alloc;
        tokio::spawn(async move {
            let now = now_seconds();
            let r = store
                .modify(&NODES, "", &name, |mut n| {
                    node_object::heartbeat(&mut n, &now);
                    Ok(Some(n))
                })
                .await;
            match r {
                Ok(_) => {}
                // Someone deleted the Node: register it again, as a kubelet does.
                Err(store::Error::NotFound(_)) => {
                    if let Err(e) = register_node(&store, &name, alloc).await {
                        tracing::warn!("node: re-registering: {e}");
                    }
                }
                Err(e) => tracing::warn!("node: heartbeat: {e}"),
            }
        });
    }

    /// Node Ready follows the runtimes, as the kubelet's `runtimeErrors`
    /// do: False (`KubeletNotReady`, `container runtime is down`) while
    /// the engine does not answer, True again once it does, each flip with
    /// the kubelet's `NodeNotReady`/`NodeReady` event. Pods that are
    /// running are not touched, and process pods still start.
    fn set_ready(&mut self, runtime_error: Option<&'static str>) {
        if self.runtime_error == runtime_error {
            return;
        }
        self.runtime_error = runtime_error;
        let store = self.store.clone();
        let events = self.events.clone();
        let name = self.name.clone();
        tokio::spawn(async move {
            let now = now_seconds();
            let r = store
                .modify(&NODES, "", &name, |mut n| {
                    node_object::set_ready(&mut n, runtime_error, &now);
                    Ok(Some(n))
                })
                .await;
            if let Err(e) = r {
                tracing::warn!("node: recording Ready: {e}");
                return;
            }
            let state = if runtime_error.is_some() {
                "NodeNotReady"
            } else {
                "NodeReady"
            };
            // The kubelet's node reference: kind Node, uid = name.
            let node = json!({"kind": "Node", "apiVersion": "v1",
                              "metadata": {"name": name, "uid": name}});
            events.record(
                &node,
                false,
                state,
                &format!("Node {name} status is now: {state}"),
                &Source {
                    component: "kubelet".into(),
                    host: Some(name.clone()),
                },
                chrono::Utc::now(),
            );
        });
    }

    fn emit(&self, pod: &Value, warning: bool, reason: &str, message: &str, component: &str) {
        emit(
            &self.events,
            &self.name,
            pod,
            warning,
            reason,
            message,
            component,
        );
    }

    // ---- pods -------------------------------------------------------------

    /// The runtime a pod asks for, or why it cannot have one (upstream:
    /// the sandbox cannot be created, `FailedCreatePodSandBox`).
    fn runtime_for(&self, spec: &PodSpec) -> std::result::Result<RuntimeKind, String> {
        crate::runtime_class::resolve(&self.store, spec, self.cfg.default_runtime, |k| {
            self.rts.contains_key(&k)
        })
    }

    /// The runtime of an admitted pod.
    fn rt(&self, uid: &str) -> Option<Arc<dyn Runtime>> {
        let kind = self.pods.get(uid)?.rt;
        self.rts.get(&kind).cloned()
    }

    fn recover(&mut self, pods: impl Iterator<Item = Value>, runs: &[RunState]) {
        let now = Instant::now();
        let mut known: HashSet<String> = HashSet::new();
        for pod in pods {
            let uid = s(&pod, "/metadata/uid").to_string();
            // Every existing pod keeps its runs: one admitted before the
            // crash but not yet bound is admitted again below and its start
            // finds the run the supervisor already has (starts are
            // idempotent per run id), so it neither dies nor runs twice.
            known.insert(uid.clone());
            if s(&pod, "/spec/nodeName") != self.name {
                self.on_pod(pod);
                continue;
            }
            let phase = s(&pod, "/status/phase");
            if phase == "Succeeded" || phase == "Failed" {
                // Committed: whatever the runtime still holds can go.
                self.done.insert(uid.clone());
                let key = (
                    s(&pod, "/metadata/namespace").to_string(),
                    s(&pod, "/metadata/name").to_string(),
                );
                self.keys.insert(key, uid.clone());
                continue;
            }
            let Ok(spec) = serde_json::from_value::<PodSpec>(pod["spec"].clone()) else {
                continue;
            };
            let mut acts = Vec::new();
            let deleting = pod.pointer("/metadata/deletionTimestamp").is_some();
            let grace = pod
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let kind = self.runtime_for(&spec).unwrap_or(self.cfg.default_runtime);
            let w = PodWorker::recover(pod, spec, runs, now, &mut acts);
            let req = admission::pod_requests(&w.spec);
            self.allocated.add(req);
            crate::metrics::pod_admitted(true, self.allocated);
            self.keys
                .insert((w.namespace.clone(), w.name.clone()), uid.clone());
            self.dependents.track(&uid, &w.namespace, &w.spec);
            self.pods.insert(
                uid.clone(),
                Entry {
                    w,
                    req,
                    times: ConditionTimes::default(),
                    last_write: now,
                    written: 0,
                    writing: false,
                    bound: true,
                    released: false,
                    deleting,
                    rt: kind,
                    gone: false,
                    limits_warned: false,
                    retry_at: None,
                },
            );
            if deleting {
                let g = self.termination_grace(&uid, Some(grace));
                if let Some(e) = self.pods.get_mut(&uid) {
                    e.w.terminate(Cause::Deleted, g, now, &mut acts);
                }
            }
            self.exec(&uid, acts);
            self.after(&uid);
        }
        // Runs of pods that no longer exist (deleted while we were down),
        // or whose terminal status is committed: kill what runs and forget
        // the rest. Whatever else a runtime holds for such pods goes too
        // (a sandbox, even one whose containers were already removed when
        // the engine stopped).
        let keep: HashSet<String> = known.difference(&self.done).cloned().collect();
        for rt in self.rts.values() {
            for r in runs {
                let Some((uid, _, _)) = parse_run_id(&r.id) else {
                    continue;
                };
                if keep.contains(uid) {
                    continue;
                }
                if r.exit.is_none() {
                    rt.signal(&r.id, libc::SIGKILL);
                } else {
                    rt.forget(&r.id);
                }
            }
            rt.release_all_but(&keep);
        }
    }

    fn termination_grace(&self, uid: &str, requested: Option<i64>) -> Duration {
        let own = self
            .pods
            .get(uid)
            .and_then(|e| e.w.spec.termination_grace_period_seconds)
            .unwrap_or(30);
        Duration::from_secs(requested.unwrap_or(own).max(0) as u64)
    }

    fn on_watch(&mut self, ev: &store::Event) {
        tracing::trace!(kind = ?ev.kind, pod = %ev.key.name, "pod event");
        // Most events are echoes of our own status writes: skip parsing
        // them when the key is a pod we hold or have finished and nothing
        // we act on (a deletion) can be in it.
        if ev.kind == store::EventType::Modified {
            if let Some(uid) = self
                .keys
                .get(&(ev.key.namespace.clone(), ev.key.name.clone()))
            {
                let known = self.done.contains(uid) || self.pods.contains_key(uid);
                if known && !contains(&ev.object, b"\"deletionTimestamp\"") {
                    return;
                }
            }
        }
        let pod = ev.stored().value();
        match ev.kind {
            store::EventType::Deleted => {
                let uid = s(&pod, "/metadata/uid").to_string();
                let key = (
                    s(&pod, "/metadata/namespace").to_string(),
                    s(&pod, "/metadata/name").to_string(),
                );
                if self.keys.get(&key) == Some(&uid) {
                    self.keys.remove(&key);
                }
                self.unschedulable.remove(&uid);
                if self.pods.contains_key(&uid) {
                    self.on_pod_gone(&uid);
                } else {
                    self.done.remove(&uid);
                    if s(&pod, "/spec/nodeName") == self.name {
                        let runs = paths::runs_of(&pod);
                        paths::remove_pod(
                            &self.cfg.data_dir,
                            s(&pod, "/metadata/namespace"),
                            s(&pod, "/metadata/name"),
                            &uid,
                            runs.iter().map(|(c, n)| (c.as_str(), *n)),
                        );
                    }
                }
            }
            _ => self.on_pod(pod),
        }
    }

    /// The object is gone: kill what runs at once; clean up when it stops.
    fn on_pod_gone(&mut self, uid: &str) {
        let now = Instant::now();
        let Some(e) = self.pods.get_mut(uid) else {
            return;
        };
        e.gone = true;
        e.deleting = true;
        let mut acts = Vec::new();
        e.w.terminate(Cause::Deleted, Duration::ZERO, now, &mut acts);
        self.exec(uid, acts);
        self.after(uid);
    }

    fn on_pod(&mut self, pod: Value) {
        let node = s(&pod, "/spec/nodeName");
        if !node.is_empty() && node != self.name {
            return;
        }
        let uid = s(&pod, "/metadata/uid").to_string();
        if let Some(e) = self.pods.get_mut(&uid) {
            let deleting = pod.pointer("/metadata/deletionTimestamp").is_some();
            if deleting {
                let grace = pod
                    .pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_i64);
                e.deleting = true;
                let g = self.termination_grace(&uid, grace);
                let mut acts = Vec::new();
                if let Some(e) = self.pods.get_mut(&uid) {
                    e.w.terminate(Cause::Deleted, g, Instant::now(), &mut acts);
                }
                self.exec(&uid, acts);
                self.after(&uid);
            }
            return;
        }
        if self.done.contains(&uid) {
            return;
        }
        let phase = s(&pod, "/status/phase");
        if phase == "Succeeded" || phase == "Failed" {
            return;
        }
        if pod.pointer("/metadata/deletionTimestamp").is_some() {
            if node == self.name {
                // Ours from before, with nothing running: finish the deletion.
                let store = self.store.clone();
                let (ns, name) = (
                    s(&pod, "/metadata/namespace").to_string(),
                    s(&pod, "/metadata/name").to_string(),
                );
                tokio::spawn(async move {
                    let _ = store
                        .delete(
                            &PODS,
                            &ns,
                            &name,
                            DeleteOptions {
                                grace_period_seconds: Some(0),
                                precondition_uid: Some(uid),
                                ..Default::default()
                            },
                        )
                        .await;
                });
            }
            return;
        }
        if pod
            .pointer("/spec/schedulingGates")
            .and_then(Value::as_array)
            .is_some_and(|g| !g.is_empty())
        {
            return;
        }
        self.admit(pod);
    }

    fn admit(&mut self, pod: Value) {
        let uid = s(&pod, "/metadata/uid").to_string();
        let spec: PodSpec = match serde_json::from_value(pod["spec"].clone()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("node: pod {uid}: bad spec: {e}");
                return;
            }
        };
        let req = admission::pod_requests(&spec);
        if let Err(unfit) = admission::fits(self.alloc, self.allocated, req) {
            if self.unschedulable.contains_key(&uid) {
                return;
            }
            let (ns, name) = (
                s(&pod, "/metadata/namespace").to_string(),
                s(&pod, "/metadata/name").to_string(),
            );
            self.unschedulable
                .insert(uid.clone(), (ns.clone(), name.clone(), req));
            self.queue.push_back(uid.clone());
            let msg = unfit.message();
            self.emit(&pod, true, "FailedScheduling", &msg, "default-scheduler");
            let store = self.store.clone();
            let now = now_seconds();
            tokio::spawn(async move {
                let _ = store
                    .modify(&PODS, &ns, &name, |mut cur| {
                        if s(&cur, "/metadata/uid") != uid || !s(&cur, "/spec/nodeName").is_empty()
                        {
                            return Ok(None);
                        }
                        if !cur.get("status").is_some_and(Value::is_object) {
                            cur["status"] = json!({});
                        }
                        cur["status"]["phase"] = json!("Pending");
                        cur["status"]["conditions"] = json!([{
                            "type": "PodScheduled", "status": "False", "lastProbeTime": null,
                            "lastTransitionTime": now, "reason": "Unschedulable", "message": msg,
                        }]);
                        Ok(Some(cur))
                    })
                    .await;
            });
            return;
        }
        self.unschedulable.remove(&uid);
        self.allocated.add(req);
        crate::metrics::pod_admitted(true, self.allocated);
        let now = Instant::now();
        let kind = self.runtime_for(&spec);
        let rt = kind.clone().unwrap_or(self.cfg.default_runtime);
        let events = self.cfg.routine_events
            || self
                .rts
                .get(&rt)
                .is_some_and(|r| r.emits_container_events());
        if events {
            let msg = format!(
                "Successfully assigned {}/{} to {}",
                s(&pod, "/metadata/namespace"),
                s(&pod, "/metadata/name"),
                self.name
            );
            self.emit(&pod, false, "Scheduled", &msg, "default-scheduler");
        }
        let mut w = PodWorker::new(pod, spec, now_seconds(), now);
        if let Err(message) = kind {
            self.emit(&w.pod, true, "FailedCreatePodSandBox", &message, "kubelet");
            w.block_all("ContainerCreating", &message);
        }
        self.keys
            .insert((w.namespace.clone(), w.name.clone()), uid.clone());
        self.dependents.track(&uid, &w.namespace, &w.spec);
        self.pods.insert(
            uid.clone(),
            Entry {
                w,
                req,
                times: ConditionTimes::default(),
                last_write: now,
                written: 0,
                writing: false,
                bound: false,
                released: false,
                deleting: false,
                rt,
                gone: false,
                limits_warned: false,
                retry_at: None,
            },
        );
        self.after(&uid);
    }

    /// After anything happened to a pod: start what may start, arm its
    /// timer, mark it dirty, give back its resources when it is done.
    fn after(&mut self, uid: &str) {
        loop {
            let mut acts = Vec::new();
            let Some(e) = self.pods.get_mut(uid) else {
                return;
            };
            e.w.sync(&mut acts);
            if acts.is_empty() {
                break;
            }
            self.exec(uid, acts);
        }
        let Some(e) = self.pods.get_mut(uid) else {
            return;
        };
        if let Some(t) = e.w.next_wakeup() {
            self.timers.insert((t, uid.to_string()));
        }
        if e.w.version != e.written || e.deleting {
            self.dirty.insert(uid.to_string());
        }
        let finished = e.w.finished();
        let gone = e.gone;
        if finished && e.written != e.w.version {
            self.urgent = true;
        }
        if finished && !e.released {
            e.released = true;
            let req = e.req;
            self.allocated.sub(req);
            crate::metrics::pod_admitted(false, self.allocated);
            self.retry_unschedulable();
        }
        if finished && gone {
            // Nothing to write to: the object is gone.
            self.cleanup(uid);
        }
    }

    fn exec(&mut self, uid: &str, acts: Vec<Action>) {
        let mut queue: VecDeque<Action> = acts.into();
        while let Some(a) = queue.pop_front() {
            match a {
                Action::Start {
                    name,
                    init,
                    attempt,
                } => {
                    let Some(rt) = self.rt(uid) else { return };
                    let Some(e) = self.pods.get_mut(uid) else {
                        return;
                    };
                    let container =
                        e.w.spec
                            .init_containers
                            .iter()
                            .flatten()
                            .filter(|_| init)
                            .chain(e.w.spec.containers.iter().filter(|_| !init))
                            .find(|c| c.name == name)
                            .cloned();
                    let Some(container) = container else { continue };
                    let req = StartRequest {
                        pod: &e.w.pod,
                        spec: &e.w.spec,
                        container: &container,
                        init,
                        attempt,
                        data_dir: &self.cfg.data_dir,
                        env: EnvContext {
                            node_name: &self.name,
                            host_ip: &self.node.host_ip,
                            pod_ip: &self.node.pod_ip,
                            node_cpu_millis: self.alloc.cpu_millis,
                            node_memory_bytes: self.alloc.memory_bytes,
                            sources: &self.store,
                        },
                    };
                    match rt.start(&req) {
                        Ok(()) => {
                            let run = crate::protocol::run_id(uid, &name, attempt);
                            crate::metrics::start_requested(run, e.rt.name());
                            let limits = crate::runtime::spec::resources(&container);
                            let limited =
                                limits.memory_limit.is_some() || limits.cpu_limit_millis.is_some();
                            if limited && !e.limits_warned {
                                if let Some(why) = rt.limits_problem() {
                                    e.limits_warned = true;
                                    let msg = format!(
                                        "resource limits of container {} are not enforced: {why}",
                                        container.name
                                    );
                                    emit(
                                        &self.events,
                                        &self.name,
                                        &e.w.pod,
                                        true,
                                        "ResourceLimitsNotEnforced",
                                        &msg,
                                        "kubelet",
                                    );
                                }
                            }
                            if self.cfg.routine_events && !rt.emits_container_events() {
                                let pod = &e.w.pod;
                                let image = container.image.clone().unwrap_or_default();
                                emit(
                                    &self.events,
                                    &self.name,
                                    pod,
                                    false,
                                    "Pulled",
                                    &format!(
                                        "Container image \"{image}\" already present on machine"
                                    ),
                                    "kubelet",
                                );
                                emit(
                                    &self.events,
                                    &self.name,
                                    pod,
                                    false,
                                    "Created",
                                    &format!("Created container: {name}"),
                                    "kubelet",
                                );
                                emit(
                                    &self.events,
                                    &self.name,
                                    pod,
                                    false,
                                    "Started",
                                    &format!("Started container {name}"),
                                    "kubelet",
                                );
                            }
                        }
                        Err(err) => {
                            let mut more = Vec::new();
                            e.w.on_start_error(&name, init, err, Instant::now(), &mut more);
                            queue.extend(more);
                        }
                    }
                }
                Action::Signal { id, signal } => {
                    if let Some(rt) = self.rt(uid) {
                        rt.signal(&id, signal);
                    }
                }
                Action::SetUpVolumes => {
                    let Some(e) = self.pods.get_mut(uid) else {
                        return;
                    };
                    let ctx = crate::volumes::SetUp {
                        pod: &e.w.pod,
                        data_dir: &self.cfg.data_dir,
                        sources: &self.store,
                    };
                    let result = crate::volumes::set_up(&e.w.spec, &ctx);
                    let mut more = Vec::new();
                    e.w.on_volumes(result, Instant::now(), &mut more);
                    queue.extend(more);
                }
                Action::Event {
                    warning,
                    reason,
                    message,
                } => {
                    if let Some(e) = self.pods.get(uid) {
                        emit(
                            &self.events,
                            &self.name,
                            &e.w.pod,
                            warning,
                            reason,
                            &message,
                            "kubelet",
                        );
                    }
                }
            }
        }
    }

    fn retry_unschedulable(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        let queue: Vec<String> = self.queue.drain(..).collect();
        for uid in queue {
            let Some((ns, name, req)) = self.unschedulable.get(&uid).cloned() else {
                continue;
            };
            if admission::fits(self.alloc, self.allocated, req).is_err() {
                self.queue.push_back(uid);
                continue;
            }
            match self.store.get(&PODS, &ns, &name) {
                Ok(stored) => {
                    let pod = stored.value();
                    self.unschedulable.remove(&uid);
                    if s(&pod, "/metadata/uid") == uid {
                        self.on_pod(pod);
                    }
                }
                Err(_) => {
                    self.unschedulable.remove(&uid);
                }
            }
        }
    }

    /// A ConfigMap or Secret was created, changed or deleted: the pods
    /// that name it try again what waits on it (a container's start, a
    /// mount) and running pods get its new files, as the kubelet's
    /// watch-based managers make happen.
    fn on_source_changed(&mut self, source: &SourceRef) {
        for uid in self.dependents.of(source) {
            let Some(e) = self.pods.get_mut(&uid) else {
                continue;
            };
            if e.w.on_config_changed() {
                let ctx = crate::volumes::SetUp {
                    pod: &e.w.pod,
                    data_dir: &self.cfg.data_dir,
                    sources: &self.store,
                };
                crate::volumes::refresh(&e.w.spec, &ctx);
            }
            self.after(&uid);
        }
    }

    // ---- runtime ----------------------------------------------------------

    fn on_runtime(&mut self, kind: RuntimeKind, ev: RuntimeEvent) {
        tracing::trace!(?ev, "runtime event");
        let now = Instant::now();
        let uid_of = |id: &str| parse_run_id(id).map(|(u, _, _)| u.to_string());
        match ev {
            RuntimeEvent::Started {
                id,
                container_id,
                image_id,
                started_at,
            } => {
                crate::metrics::start_settled(&id, true);
                let Some(uid) = uid_of(&id) else { return };
                let mut acts = Vec::new();
                if let Some(e) = self.pods.get_mut(&uid) {
                    e.w.on_started(&id, &container_id, &started_at, &mut acts);
                    if !image_id.is_empty() {
                        e.w.note_image_id(&id, &image_id);
                    }
                    self.exec(&uid, acts);
                    self.after(&uid);
                }
            }
            RuntimeEvent::Exited(x) => {
                crate::metrics::start_settled(&x.id, false);
                let Some(uid) = uid_of(&x.id) else { return };
                let mut acts = Vec::new();
                match self.pods.get_mut(&uid) {
                    Some(e) => {
                        e.w.on_exit(&x, now, &mut acts);
                        self.exec(&uid, acts);
                        self.after(&uid);
                    }
                    None => {
                        // A pod that is gone (or finished and committed):
                        // nothing more of it will run.
                        if let Some(rt) = self.rts.get(&kind) {
                            rt.forget(&x.id);
                            rt.release_pod(&uid);
                        }
                    }
                }
            }
            RuntimeEvent::Failed { id, failure } => {
                crate::metrics::start_settled(&id, false);
                let Some(uid) = uid_of(&id) else { return };
                let mut acts = Vec::new();
                if let Some(e) = self.pods.get_mut(&uid) {
                    e.w.on_start_failed(&id, failure, now, &mut acts);
                    self.exec(&uid, acts);
                    self.after(&uid);
                }
            }
            RuntimeEvent::PodEvent {
                uid,
                warning,
                reason,
                message,
            } => {
                if let Some(e) = self.pods.get(&uid) {
                    emit(
                        &self.events,
                        &self.name,
                        &e.w.pod,
                        warning,
                        reason,
                        &message,
                        "kubelet",
                    );
                }
            }
            RuntimeEvent::SandboxReady { uid, ip } => {
                if let Some(e) = self.pods.get_mut(&uid) {
                    e.w.on_sandbox(&ip);
                    self.after(&uid);
                }
            }
            RuntimeEvent::Snapshot(runs) => {
                // A snapshot follows every (re)connect: the runtime is up.
                self.set_ready(None);
                self.reconcile(kind, &runs)
            }
            RuntimeEvent::Disconnected { message } => {
                tracing::warn!("node: {} runtime: {message}; reconnecting", kind.name());
                self.set_ready(Some(CONTAINER_RUNTIME_DOWN));
            }
        }
    }

    /// After a reconnect: replay exits we missed, restart requests that were
    /// lost, and report runs that vanished.
    fn reconcile(&mut self, kind: RuntimeKind, runs: &[RunState]) {
        let by_id: HashMap<&str, &RunState> = runs.iter().map(|r| (r.id.as_str(), r)).collect();
        let now = Instant::now();
        let uids: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, e)| e.rt == kind)
            .map(|(u, _)| u.clone())
            .collect();
        for uid in uids {
            let Some(e) = self.pods.get_mut(&uid) else {
                continue;
            };
            let mut acts = Vec::new();
            let mut resend = Vec::new();
            for c in e.w.all() {
                let Some(id) = c.live_id() else { continue };
                match (by_id.get(id), &c.state) {
                    (Some(r), _) => {
                        if matches!(c.state, crate::pod_worker::CState::Starting { .. }) {
                            acts.push((None, Some((*r).clone())));
                        }
                        if let Some(x) = &r.exit {
                            acts.push((Some(x.clone()), None));
                        }
                    }
                    (None, crate::pod_worker::CState::Starting { .. }) => {
                        resend.push(Action::Start {
                            name: c.name.clone(),
                            init: c.init,
                            attempt: c.restart_count,
                        });
                    }
                    (None, _) => {
                        let ts = crate::sys::rfc3339_nano(chrono::Utc::now());
                        acts.push((
                            Some(crate::protocol::ExitRecord {
                                id: id.to_string(),
                                exit_code: 137,
                                signal: None,
                                oom_killed: false,
                                reason: Some("ContainerStatusUnknown".into()),
                                message: Some("The container could not be located when the pod was terminated".into()),
                                started_at: ts.clone(),
                                finished_at: ts,
                            }),
                            None,
                        ));
                    }
                }
            }
            let mut out = Vec::new();
            for (exit, started) in acts {
                if let Some(r) = started {
                    e.w.on_started(&r.id, &r.container_id, &r.started_at, &mut out);
                    if !r.image_id.is_empty() {
                        e.w.note_image_id(&r.id, &r.image_id);
                    }
                }
                if let Some(x) = exit {
                    e.w.on_exit(&x, now, &mut out);
                }
            }
            out.extend(resend);
            self.exec(&uid, out);
            self.after(&uid);
        }
    }

    // ---- timers and writes ------------------------------------------------

    fn on_timers(&mut self) {
        let now = Instant::now();
        while let Some((t, uid)) = self.timers.first().cloned() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            let grace = self.termination_grace(&uid, None);
            let mut acts = Vec::new();
            if let Some(e) = self.pods.get_mut(&uid) {
                e.w.on_timer(now, grace, &mut acts);
                self.exec(&uid, acts);
                self.after(&uid);
            }
        }
    }

    fn flush(&mut self) {
        if self.dirty.is_empty() {
            return;
        }
        let now = Instant::now();
        let now_s = now_seconds();
        let mut batch = Vec::new();
        let dirty: Vec<String> = self.dirty.drain().collect();
        for uid in dirty {
            let Some(e) = self.pods.get_mut(&uid) else {
                continue;
            };
            if e.gone {
                continue;
            }
            let finished = e.w.finished();
            let recent = now < e.last_write + self.cfg.status_write_interval;
            let backing_off = e.retry_at.is_some_and(|t| now < t);
            if e.writing || backing_off || (recent && !finished) {
                self.dirty.insert(uid);
                continue;
            }
            if e.w.version == e.written && !(finished && e.deleting) {
                continue;
            }
            let status = status::pod_status(&e.w, &self.node, &mut e.times, &now_s);
            e.writing = true;
            e.last_write = now;
            batch.push(WriteReq {
                uid: uid.clone(),
                namespace: e.w.namespace.clone(),
                name: e.w.name.clone(),
                status,
                bind: !e.bound,
                version: e.w.version,
                terminal: finished,
                delete_after: finished && e.deleting,
            });
        }
        if batch.is_empty() {
            return;
        }
        tracing::trace!(pods = batch.len(), "status flush");
        let store = self.store.clone();
        let node = self.name.clone();
        let tx = self.writes_tx.clone();
        tokio::spawn(async move {
            let writes = batch.into_iter().map(|r| {
                let store = store.clone();
                let node = node.clone();
                async move {
                    let outcome = write_status(&store, &node, &r).await;
                    WriteDone {
                        uid: r.uid,
                        version: r.version,
                        terminal: r.terminal,
                        outcome,
                    }
                }
            });
            for d in futures::future::join_all(writes).await {
                let _ = tx.send(d);
            }
        });
    }

    fn on_written(&mut self, d: WriteDone) {
        let Some(e) = self.pods.get_mut(&d.uid) else {
            return;
        };
        e.writing = false;
        match d.outcome {
            WriteOutcome::Written => {
                e.retry_at = None;
                e.written = d.version;
                e.bound = true;
                if d.terminal && !e.deleting {
                    // Committed: the runtime may drop the runs, and this
                    // pod's later events are ignored.
                    if let Some(rt) = self.rts.get(&e.rt) {
                        for id in e.w.all_run_ids() {
                            rt.forget(&id);
                        }
                        rt.release_pod(&d.uid);
                    }
                    let uid = d.uid.clone();
                    self.pods.remove(&uid);
                    self.dependents.forget(&uid);
                    self.done.insert(uid);
                    return;
                }
                if e.w.version != e.written || (e.deleting && e.w.finished()) {
                    self.dirty.insert(d.uid);
                }
            }
            WriteOutcome::Removed | WriteOutcome::Gone => {
                if d.terminal || e.w.finished() {
                    self.cleanup(&d.uid);
                } else {
                    self.on_pod_gone(&d.uid);
                }
            }
            WriteOutcome::Failed => {
                // Not committed, so not counted: the status stays ours to
                // write, and is written again when the store takes writes.
                e.retry_at = Some(Instant::now() + WRITE_RETRY);
                self.dirty.insert(d.uid);
            }
        }
    }

    /// Forgets a finished pod whose object is gone, with its files.
    fn cleanup(&mut self, uid: &str) {
        let Some(e) = self.pods.remove(uid) else {
            return;
        };
        self.dependents.forget(uid);
        let key = (e.w.namespace.clone(), e.w.name.clone());
        if self.keys.get(&key).map(String::as_str) == Some(uid) {
            self.keys.remove(&key);
        }
        if !e.released {
            self.allocated.sub(e.req);
            crate::metrics::pod_admitted(false, self.allocated);
            self.retry_unschedulable();
        }
        if let Some(rt) = self.rts.get(&e.rt) {
            for id in e.w.all_run_ids() {
                rt.forget(&id);
            }
            rt.release_pod(uid);
        }
        paths::remove_pod(
            &self.cfg.data_dir,
            &e.w.namespace,
            &e.w.name,
            uid,
            e.w.all().map(|c| (c.name.as_str(), c.restart_count + 1)),
        );
    }
}

async fn write_status(store: &Store, node: &str, r: &WriteReq) -> WriteOutcome {
    let res = store
        .modify(&PODS, &r.namespace, &r.name, |mut cur| {
            if s(&cur, "/metadata/uid") != r.uid {
                return Err(store::Error::NotFound(store::Key::new(
                    &PODS,
                    &r.namespace,
                    &r.name,
                )));
            }
            if r.bind && s(&cur, "/spec/nodeName").is_empty() {
                cur["spec"]["nodeName"] = json!(node);
            }
            let merged = status::merge_status(&cur, r.status.clone());
            cur["status"] = merged;
            Ok(Some(cur))
        })
        .await;
    match res {
        Ok(_) => {}
        Err(store::Error::NotFound(_)) => return WriteOutcome::Gone,
        Err(e) => {
            tracing::warn!("node: pod {}/{} status: {e}", r.namespace, r.name);
            return WriteOutcome::Failed;
        }
    }
    if r.delete_after {
        let opts = DeleteOptions {
            grace_period_seconds: Some(0),
            precondition_uid: Some(r.uid.clone()),
            ..Default::default()
        };
        return match store.delete(&PODS, &r.namespace, &r.name, opts).await {
            Ok(_) | Err(store::Error::NotFound(_)) | Err(store::Error::Precondition(_)) => {
                WriteOutcome::Removed
            }
            Err(e) => {
                tracing::warn!("node: pod {}/{} delete: {e}", r.namespace, r.name);
                WriteOutcome::Failed
            }
        };
    }
    WriteOutcome::Written
}

/// Records an Event about a pod, as the kubelet (or the scheduler) would.
fn emit(
    events: &Recorder,
    node: &str,
    pod: &Value,
    warning: bool,
    reason: &str,
    message: &str,
    component: &str,
) {
    let source = Source {
        component: component.into(),
        host: (component == "kubelet").then(|| node.to_string()),
    };
    let mut involved = json!({
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": pod.get("metadata").cloned().unwrap_or(Value::Null),
    });
    if let Some(m) = involved.get_mut("metadata").and_then(Value::as_object_mut) {
        m.retain(|k, _| matches!(k.as_str(), "name" | "namespace" | "uid" | "resourceVersion"));
    }
    events.record(
        &involved,
        warning,
        reason,
        message,
        &source,
        chrono::Utc::now(),
    );
}

/// Whether `hay` contains `needle`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
