//! One pod's lifecycle on the node, as a state machine with no I/O.
//!
//! The agent feeds it what happens (admission, container started/exited,
//! timers, deletion) and carries out the [`Action`]s it returns; the status
//! the pod reports is derived from its state by `status.rs`. Keeping it free
//! of I/O makes the kubelet's rules testable with a fake clock:
//! init containers run in order, app containers side by side
//! (`pkg/kubelet/kuberuntime/kuberuntime_manager.go` `computePodActions`);
//! restarts follow `restart.rs`; the pod phase follows `getPhase` in
//! `pkg/kubelet/kubelet_pods.go`; the active deadline follows
//! `pkg/kubelet/active_deadline.go`; deletion sends SIGTERM, then SIGKILL
//! after the grace period (`killContainer`).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::PodSpec;
use serde_json::Value;

use crate::protocol::{parse_run_id, run_id, ExitRecord};
use crate::restart::{self, Backoff, RestartPolicy};
use crate::runtime::{BuildError, RunState, StartFailure};

/// When the kubelet's next sync of a pod whose pull failed shows the pull
/// in back-off (`ImagePullBackOff`).
pub(crate) const PULL_RESYNC: Duration = Duration::from_secs(1);
/// How soon a start that found the container runtime unreachable is tried again.
pub(crate) const RUNTIME_RETRY: Duration = Duration::from_secs(2);

/// `status.message` of a pod killed by its active deadline.
pub(crate) const DEADLINE_MESSAGE: &str =
    "Pod was active on the node longer than the specified deadline";

/// How a run ended, as the status reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Term {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub reason: String,
    pub message: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub container_id: String,
}

/// A container's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CState {
    /// Not running and not started yet: `ContainerCreating`,
    /// `PodInitializing`, or a configuration error.
    Waiting {
        reason: String,
        message: Option<String>,
    },
    /// Start requested from the runtime.
    Starting {
        id: String,
    },
    Running {
        id: String,
        /// The container ID the status shows (`joblite://…`, `podman://…`).
        container_id: String,
        started_at: String,
    },
    /// A start that did not reach the container's process, tried again at
    /// `retry_at` with the same attempt: an image pull in back-off
    /// (`ErrImagePull`, then `ImagePullBackOff` from `then`'s instant) or
    /// a container runtime outage.
    Retry {
        retry_at: Instant,
        reason: String,
        message: String,
        then: Option<(Instant, String, String)>,
    },
    /// Waiting out a CrashLoopBackOff.
    BackOff {
        until: Instant,
        message: String,
    },
    Terminated(Term),
}

/// One container (init or app).
#[derive(Debug, Clone)]
pub(crate) struct Ctr {
    pub name: String,
    pub image: String,
    pub init: bool,
    pub state: CState,
    pub last: Option<Term>,
    pub restart_count: u32,
    pub backoff: Backoff,
    pub finished_at: Option<Instant>,
    /// Will not run again.
    pub done: bool,
    /// Stuck on a configuration error (waits, as upstream, until fixed).
    pub blocked: bool,
    pub ever_started: bool,
    /// The image ID the runtime ran (`status.containerStatuses[].imageID`).
    pub image_id: String,
    /// The image pull back-off after the last failed pull.
    pub pull_backoff: Option<Duration>,
}

impl Ctr {
    fn new(name: &str, image: Option<&str>, init: bool, reason: &str) -> Ctr {
        Ctr {
            name: name.to_string(),
            image: image.unwrap_or("").to_string(),
            init,
            state: CState::Waiting {
                reason: reason.to_string(),
                message: None,
            },
            last: None,
            restart_count: 0,
            backoff: Backoff::default(),
            finished_at: None,
            done: false,
            blocked: false,
            ever_started: false,
            image_id: String::new(),
            pull_backoff: None,
        }
    }

    /// The id of the run in flight.
    pub(crate) fn live_id(&self) -> Option<&str> {
        match &self.state {
            CState::Starting { id } | CState::Running { id, .. } => Some(id),
            _ => None,
        }
    }

    fn succeeded(&self) -> bool {
        matches!(&self.state, CState::Terminated(t) if t.exit_code == 0)
    }
}

/// Why the pod is being torn down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    Deleted,
    Deadline,
}

/// An ongoing teardown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Termination {
    pub cause: Cause,
    pub kill_at: Instant,
    pub killed: bool,
}

/// What the agent must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Start {
        name: String,
        init: bool,
        attempt: u32,
    },
    Signal {
        id: String,
        signal: i32,
    },
    Event {
        warning: bool,
        reason: &'static str,
        message: String,
    },
    /// Set up the pod's volumes, then report with [`PodWorker::on_volumes`].
    SetUpVolumes,
}

/// Where the pod's volume set-up stands (see `volumes.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mount {
    /// Done, or nothing to set up: containers may start.
    Ready,
    /// To be tried at the next sync; `last` is the previous retry delay.
    Due { last: Option<Duration> },
    /// Failed; tried again at `at`.
    Retry { at: Instant, delay: Duration },
}

/// The pod phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl Phase {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }
    pub(crate) fn terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed)
    }
}

/// One pod on this node.
#[derive(Debug, Clone)]
pub(crate) struct PodWorker {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub pod: Value,
    pub spec: PodSpec,
    pub policy: RestartPolicy,
    pub init: Vec<Ctr>,
    pub apps: Vec<Ctr>,
    /// `status.startTime` (RFC3339).
    pub start_time: String,
    pub deadline: Option<Instant>,
    pub termination: Option<Termination>,
    /// Volumes are set up before the first container starts.
    pub mount: Mount,
    /// The pod's own IP, when its runtime gave it one (a sandbox).
    pub pod_ip: Option<String>,
    /// Bumped on every change that the status shows.
    pub version: u64,
}

fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// The termination reason of an exit record.
pub(crate) fn exit_reason(x: &ExitRecord) -> String {
    if let Some(r) = &x.reason {
        return r.clone();
    }
    if x.oom_killed {
        "OOMKilled".into()
    } else if x.exit_code == 0 {
        "Completed".into()
    } else {
        "Error".into()
    }
}

/// Status timestamps are whole seconds (`metav1.Time`).
pub(crate) fn to_seconds(ts: &str) -> String {
    if ts.len() > 19 && ts.as_bytes()[19] == b'.' {
        format!("{}Z", &ts[..19])
    } else {
        ts.to_string()
    }
}

impl PodWorker {
    /// A newly admitted pod. `start_time` is now (RFC3339).
    pub(crate) fn new(pod: Value, spec: PodSpec, start_time: String, now: Instant) -> PodWorker {
        let has_init = spec.init_containers.as_ref().is_some_and(|v| !v.is_empty());
        let init = spec
            .init_containers
            .iter()
            .flatten()
            .map(|c| Ctr::new(&c.name, c.image.as_deref(), true, "PodInitializing"))
            .collect();
        let app_reason = if has_init {
            "PodInitializing"
        } else {
            "ContainerCreating"
        };
        let apps = spec
            .containers
            .iter()
            .map(|c| Ctr::new(&c.name, c.image.as_deref(), false, app_reason))
            .collect();
        let deadline = spec
            .active_deadline_seconds
            .map(|s| now + Duration::from_secs(s.max(0) as u64));
        let mount = if crate::volumes::needs_set_up(&spec) {
            Mount::Due { last: None }
        } else {
            Mount::Ready
        };
        PodWorker {
            uid: str_at(&pod, "/metadata/uid").to_string(),
            namespace: str_at(&pod, "/metadata/namespace").to_string(),
            name: str_at(&pod, "/metadata/name").to_string(),
            policy: RestartPolicy::parse(spec.restart_policy.as_deref()),
            pod,
            spec,
            init,
            apps,
            start_time,
            deadline,
            termination: None,
            mount,
            pod_ip: None,
            version: 1,
        }
    }

    fn all_mut(&mut self) -> impl Iterator<Item = &mut Ctr> {
        self.init.iter_mut().chain(self.apps.iter_mut())
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Ctr> {
        self.init.iter().chain(self.apps.iter())
    }

    fn find_mut(&mut self, name: &str, init: bool) -> Option<&mut Ctr> {
        let list = if init { &mut self.init } else { &mut self.apps };
        list.iter_mut().find(|c| c.name == name)
    }

    /// Runs in flight (starting or running).
    pub(crate) fn live_ids(&self) -> Vec<String> {
        self.all()
            .filter_map(|c| c.live_id().map(str::to_string))
            .collect()
    }

    /// Every run id this pod may have had, for the runtime to forget.
    pub(crate) fn all_run_ids(&self) -> Vec<String> {
        self.all()
            .flat_map(|c| (0..=c.restart_count).map(move |a| run_id(&self.uid, &c.name, a)))
            .collect()
    }

    pub(crate) fn init_done(&self) -> bool {
        self.init.iter().all(|c| c.done && c.succeeded())
    }

    fn init_failed(&self) -> bool {
        self.init.iter().any(|c| c.done && !c.succeeded())
    }

    /// `getPhase`, plus the final phase of a torn-down pod.
    pub(crate) fn phase(&self) -> Phase {
        let live = self.all().any(|c| c.live_id().is_some());
        if let Some(t) = &self.termination {
            if !live {
                if t.cause == Cause::Deadline {
                    return Phase::Failed;
                }
                let ok = self.init_done() && self.apps.iter().all(|c| c.succeeded());
                return if ok { Phase::Succeeded } else { Phase::Failed };
            }
        }
        if self.init_failed() {
            return if live { Phase::Pending } else { Phase::Failed };
        }
        if !self.init_done() {
            return Phase::Pending;
        }
        if self.apps.iter().all(|c| c.done) {
            return if self.apps.iter().all(|c| c.succeeded()) {
                Phase::Succeeded
            } else {
                Phase::Failed
            };
        }
        if self.apps.iter().any(|c| c.ever_started) {
            Phase::Running
        } else {
            Phase::Pending
        }
    }

    /// Terminal and nothing left running: the final status can be written.
    pub(crate) fn finished(&self) -> bool {
        self.phase().terminal() && self.all().all(|c| c.live_id().is_none())
    }

    /// The pod-level reason and message (`DeadlineExceeded`).
    pub(crate) fn reason(&self) -> Option<(&'static str, &'static str)> {
        match self.termination {
            Some(Termination {
                cause: Cause::Deadline,
                ..
            }) => Some(("DeadlineExceeded", DEADLINE_MESSAGE)),
            _ => None,
        }
    }

    /// When the agent must call [`on_timer`](Self::on_timer) next.
    pub(crate) fn next_wakeup(&self) -> Option<Instant> {
        let mut at: Option<Instant> = None;
        let mut consider = |t: Instant| at = Some(at.map_or(t, |a: Instant| a.min(t)));
        match &self.termination {
            Some(t) if !t.killed => consider(t.kill_at),
            Some(_) => {}
            None => {
                if let Some(d) = self.deadline {
                    if !self.phase().terminal() {
                        consider(d);
                    }
                }
                if let Mount::Retry { at, .. } = self.mount {
                    consider(at);
                }
                for c in self.all() {
                    match &c.state {
                        CState::BackOff { until, .. } => consider(*until),
                        CState::Retry { retry_at, then, .. } => {
                            consider(*retry_at);
                            if let Some((at, _, _)) = then {
                                consider(*at);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        at
    }

    /// Starts what may start now: the next init container, or every app
    /// container once init is done.
    pub(crate) fn sync(&mut self, acts: &mut Vec<Action>) {
        if self.termination.is_some() || self.phase().terminal() {
            return;
        }
        match self.mount {
            Mount::Ready => {}
            Mount::Due { .. } => {
                acts.push(Action::SetUpVolumes);
                return;
            }
            Mount::Retry { .. } => return,
        }
        let uid = self.uid.clone();
        for c in self.init.iter_mut() {
            if c.done && c.succeeded() {
                continue;
            }
            if !c.blocked && !c.done && matches!(c.state, CState::Waiting { .. }) {
                start(&uid, c, acts);
                self.version += 1;
            }
            return;
        }
        let mut changed = false;
        for c in self.apps.iter_mut() {
            if !c.blocked && !c.done && matches!(c.state, CState::Waiting { .. }) {
                if let CState::Waiting { reason, .. } = &mut c.state {
                    *reason = "ContainerCreating".into();
                }
                start(&uid, c, acts);
                changed = true;
            }
        }
        if changed {
            self.version += 1;
        }
    }

    /// The runtime started a run.
    pub(crate) fn on_started(
        &mut self,
        id: &str,
        container_id: &str,
        started_at: &str,
        acts: &mut Vec<Action>,
    ) {
        let term = self.termination;
        for c in self.init.iter_mut().chain(self.apps.iter_mut()) {
            if matches!(&c.state, CState::Starting { id: i } if i == id) {
                c.state = CState::Running {
                    id: id.to_string(),
                    container_id: container_id.to_string(),
                    started_at: to_seconds(started_at),
                };
                c.ever_started = true;
                c.pull_backoff = None;
                if let Some(t) = term {
                    let signal = if t.killed {
                        libc::SIGKILL
                    } else {
                        libc::SIGTERM
                    };
                    acts.push(Action::Signal {
                        id: id.to_string(),
                        signal,
                    });
                }
                self.version += 1;
                return;
            }
        }
    }

    /// A start the runtime accepted did not reach the container's process.
    pub(crate) fn on_start_failed(
        &mut self,
        id: &str,
        failure: StartFailure,
        now: Instant,
        acts: &mut Vec<Action>,
    ) {
        let terminating = self.termination.is_some();
        let Some(c) = self.all_mut().find(|c| c.live_id() == Some(id)) else {
            return;
        };
        if terminating {
            // Nothing ran and nothing will: the container is done.
            c.state = CState::Waiting {
                reason: "ContainerCreating".into(),
                message: None,
            };
            c.done = true;
            self.version += 1;
            return;
        }
        match failure {
            StartFailure::ImagePull { message } => {
                // `imageBackOffPeriod` 10 s doubling to `MaxImageBackOff`
                // 300 s (`pkg/kubelet/images/image_manager.go`). The status
                // shows ErrImagePull until the kubelet's next sync finds the
                // pull in back-off and shows ImagePullBackOff.
                let delay = match c.pull_backoff {
                    None => restart::INITIAL_BACKOFF,
                    Some(d) => (d * 2).min(restart::MAX_BACKOFF),
                };
                c.pull_backoff = Some(delay);
                let backoff_msg = format!("Back-off pulling image {:?}", c.image);
                c.state = CState::Retry {
                    retry_at: now + delay,
                    reason: "ErrImagePull".into(),
                    message: message.clone(),
                    then: Some((
                        now + PULL_RESYNC.min(delay),
                        "ImagePullBackOff".into(),
                        format!("{backoff_msg}: ErrImagePull: {message}"),
                    )),
                };
                acts.push(Action::Event {
                    warning: true,
                    reason: "Failed",
                    message: "Error: ErrImagePull".into(),
                });
            }
            StartFailure::Blocked { reason, message } => {
                c.state = CState::Waiting {
                    reason: reason.clone(),
                    message: Some(message),
                };
                c.blocked = true;
                acts.push(Action::Event {
                    warning: true,
                    reason: "Failed",
                    message: format!("Error: {reason}"),
                });
            }
            StartFailure::Unavailable { message } => {
                c.state = CState::Retry {
                    retry_at: now + RUNTIME_RETRY,
                    reason: "ContainerCreating".into(),
                    message,
                    then: None,
                };
            }
        }
        self.version += 1;
    }

    /// Keeps every container waiting with `reason` (the pod's sandbox cannot
    /// be made: no such runtime on this node).
    pub(crate) fn block_all(&mut self, reason: &str, message: &str) {
        for c in self.all_mut() {
            c.state = CState::Waiting {
                reason: reason.to_string(),
                message: Some(message.to_string()),
            };
            c.blocked = true;
        }
        self.version += 1;
    }

    /// The runtime made the pod's sandbox, with this IP.
    pub(crate) fn on_sandbox(&mut self, ip: &str) {
        if self.pod_ip.as_deref() != Some(ip) {
            self.pod_ip = Some(ip.to_string());
            self.version += 1;
        }
    }

    /// The runtime reports the image ID a run uses.
    pub(crate) fn note_image_id(&mut self, id: &str, image_id: &str) {
        let mut changed = false;
        if let Some(c) = self.all_mut().find(|c| c.live_id() == Some(id)) {
            changed = c.image_id != image_id;
            c.image_id = image_id.to_string();
        }
        if changed {
            self.version += 1;
        }
    }

    /// A run ended (or could not start).
    pub(crate) fn on_exit(&mut self, x: &ExitRecord, now: Instant, acts: &mut Vec<Action>) {
        let Some((_, name, _)) = parse_run_id(&x.id) else {
            return;
        };
        let (pod, ns, uid) = (self.name.clone(), self.namespace.clone(), self.uid.clone());
        let policy = self.policy;
        let termination = self.termination;
        let Some(c) = self
            .all_mut()
            .find(|c| c.name == name && c.live_id() == Some(x.id.as_str()))
        else {
            return;
        };
        let mut reason = exit_reason(x);
        if matches!(
            termination,
            Some(Termination {
                cause: Cause::Deadline,
                ..
            })
        ) && x.reason.is_none()
            && !x.oom_killed
        {
            reason = "DeadlineExceeded".into();
        }
        let container_id = match &c.state {
            CState::Running { container_id, .. } => container_id.clone(),
            _ => crate::runtime::process::container_id(&x.id),
        };
        let term = Term {
            exit_code: x.exit_code,
            signal: x.signal,
            reason,
            message: x.message.clone(),
            started_at: to_seconds(&x.started_at),
            finished_at: to_seconds(&x.finished_at),
            container_id,
        };
        if x.reason.as_deref() != Some("ContainerCannotRun") {
            c.ever_started = true;
        }
        let restart = termination.is_none()
            && if c.init {
                restart::should_restart_init(policy, x.exit_code)
            } else {
                restart::should_restart(policy, x.exit_code)
            };
        if !restart {
            c.state = CState::Terminated(term);
            c.done = true;
        } else {
            c.finished_at = Some(now);
            c.last = Some(term);
            match c.backoff.remaining(now, now) {
                Some(wait) => {
                    c.state = CState::BackOff {
                        until: now + wait,
                        message: restart::backoff_message(
                            c.backoff.current(),
                            &c.name,
                            &pod,
                            &ns,
                            &uid,
                        ),
                    };
                    acts.push(Action::Event {
                        warning: true,
                        reason: "BackOff",
                        message: format!(
                            "Back-off restarting failed container {} in pod {pod}_{ns}({uid})",
                            c.name
                        ),
                    });
                }
                None => {
                    c.backoff.next(now, now);
                    c.restart_count += 1;
                    c.state = CState::Waiting {
                        reason: "ContainerCreating".into(),
                        message: None,
                    };
                }
            }
        }
        self.version += 1;
    }

    /// The outcome of [`Action::SetUpVolumes`]. A failure keeps every
    /// container waiting, records `FailedMount` and schedules a retry.
    pub(crate) fn on_volumes(
        &mut self,
        result: Result<(), crate::volumes::MountError>,
        now: Instant,
        acts: &mut Vec<Action>,
    ) {
        let Mount::Due { last } = self.mount else {
            return;
        };
        match result {
            Ok(()) => self.mount = Mount::Ready,
            Err(e) => {
                let delay = crate::volumes::retry_delay(last);
                self.mount = Mount::Retry {
                    at: now + delay,
                    delay,
                };
                acts.push(Action::Event {
                    warning: true,
                    reason: "FailedMount",
                    message: e.event_message(),
                });
            }
        }
    }

    /// A ConfigMap or Secret the pod names changed. Containers stuck on a
    /// configuration error are tried again at the next sync, and a failed
    /// mount is retried now (keeping its back-off). Returns whether the
    /// volumes are set up, so their files may need rewriting.
    pub(crate) fn on_config_changed(&mut self) -> bool {
        for c in self.all_mut() {
            let config_error = matches!(&c.state,
                CState::Waiting { reason, .. } if reason == "CreateContainerConfigError");
            if c.blocked && config_error {
                c.blocked = false;
            }
        }
        match self.mount {
            Mount::Ready => true,
            Mount::Retry { delay, .. } => {
                self.mount = Mount::Due { last: Some(delay) };
                false
            }
            Mount::Due { .. } => false,
        }
    }

    /// A container could not be turned into a run.
    pub(crate) fn on_start_error(
        &mut self,
        name: &str,
        init: bool,
        err: BuildError,
        now: Instant,
        acts: &mut Vec<Action>,
    ) {
        let Some(c) = self.find_mut(name, init) else {
            return;
        };
        let Some(id) = c.live_id().map(str::to_string) else {
            return;
        };
        match err {
            BuildError::CannotRun(message) => {
                let ts = crate::sys::rfc3339_nano(chrono::Utc::now());
                let x = ExitRecord {
                    id,
                    exit_code: 128,
                    signal: None,
                    oom_killed: false,
                    reason: Some("ContainerCannotRun".into()),
                    message: Some(message),
                    started_at: ts.clone(),
                    finished_at: ts,
                };
                self.on_exit(&x, now, acts);
            }
            BuildError::Config(_) | BuildError::Create(_) => {
                let (reason, message) = match err {
                    BuildError::Create(m) => ("CreateContainerError", m),
                    BuildError::Config(m) | BuildError::CannotRun(m) => {
                        ("CreateContainerConfigError", m)
                    }
                };
                c.state = CState::Waiting {
                    reason: reason.into(),
                    message: Some(message.clone()),
                };
                c.blocked = true;
                acts.push(Action::Event {
                    warning: true,
                    reason: "Failed",
                    message: format!("Error: {message}"),
                });
                self.version += 1;
            }
        }
    }

    /// Timers: back-offs that ran out, the active deadline, the kill deadline.
    pub(crate) fn on_timer(&mut self, now: Instant, grace: Duration, acts: &mut Vec<Action>) {
        if let Some(t) = &mut self.termination {
            if !t.killed && t.kill_at <= now {
                t.killed = true;
                for id in self.live_ids() {
                    acts.push(Action::Signal {
                        id,
                        signal: libc::SIGKILL,
                    });
                }
            }
            return;
        }
        if self.deadline.is_some_and(|d| d <= now) && !self.phase().terminal() {
            acts.push(Action::Event {
                warning: false,
                reason: "DeadlineExceeded",
                message: DEADLINE_MESSAGE.into(),
            });
            self.terminate(Cause::Deadline, grace, now, acts);
            return;
        }
        if let Mount::Retry { at, delay } = self.mount {
            if at <= now {
                self.mount = Mount::Due { last: Some(delay) };
            }
        }
        let mut changed = false;
        for c in self.init.iter_mut().chain(self.apps.iter_mut()) {
            if let CState::Retry {
                retry_at,
                reason,
                message,
                then,
            } = &mut c.state
            {
                if let Some((at, r, m)) = then.take_if(|(at, _, _)| *at <= now) {
                    let _ = at;
                    *reason = r;
                    *message = m;
                    acts.push(Action::Event {
                        warning: false,
                        reason: "BackOff",
                        message: format!("Back-off pulling image {:?}", c.image),
                    });
                    acts.push(Action::Event {
                        warning: true,
                        reason: "Failed",
                        message: format!("Error: {reason}"),
                    });
                    changed = true;
                }
                if *retry_at <= now {
                    c.state = CState::Waiting {
                        reason: "ContainerCreating".into(),
                        message: None,
                    };
                    changed = true;
                }
            }
            if let CState::BackOff { until, .. } = c.state {
                if until <= now {
                    let finished = c.finished_at.unwrap_or(now);
                    c.backoff.next(finished, now);
                    c.restart_count += 1;
                    c.state = CState::Waiting {
                        reason: "ContainerCreating".into(),
                        message: None,
                    };
                    changed = true;
                }
            }
        }
        if changed {
            self.version += 1;
        }
    }

    /// Tears the pod down: SIGTERM now, SIGKILL at `now + grace`; a zero
    /// grace kills at once. A second call may only shorten the grace.
    pub(crate) fn terminate(
        &mut self,
        cause: Cause,
        grace: Duration,
        now: Instant,
        acts: &mut Vec<Action>,
    ) {
        let kill_at = now + grace;
        if let Some(t) = &mut self.termination {
            if kill_at < t.kill_at && !t.killed {
                t.kill_at = kill_at;
                if grace.is_zero() {
                    t.killed = true;
                    for id in self.live_ids() {
                        acts.push(Action::Signal {
                            id,
                            signal: libc::SIGKILL,
                        });
                    }
                }
            }
            return;
        }
        let killed = grace.is_zero();
        self.termination = Some(Termination {
            cause,
            kill_at,
            killed,
        });
        let signal = if killed { libc::SIGKILL } else { libc::SIGTERM };
        for c in self.all_mut() {
            match &c.state {
                CState::Starting { id } | CState::Running { id, .. } => {
                    acts.push(Action::Event {
                        warning: false,
                        reason: "Killing",
                        message: format!("Stopping container {}", c.name),
                    });
                    acts.push(Action::Signal {
                        id: id.clone(),
                        signal,
                    });
                }
                CState::BackOff { .. } => {
                    if let Some(last) = c.last.take() {
                        c.state = CState::Terminated(last);
                    }
                    c.done = true;
                }
                CState::Waiting { .. } | CState::Retry { .. } => c.done = true,
                CState::Terminated(_) => c.done = true,
            }
        }
        self.version += 1;
    }

    /// Rebuilds a worker after an agent restart from the pod's stored status
    /// and the runtime's records: a run that exists is attached to, a run
    /// that ended while the agent was down is replayed, and nothing is
    /// started twice (run ids carry the attempt).
    pub(crate) fn recover(
        pod: Value,
        spec: PodSpec,
        runs: &[RunState],
        now: Instant,
        acts: &mut Vec<Action>,
    ) -> PodWorker {
        let start_time = str_at(&pod, "/status/startTime").to_string();
        let start_time = if start_time.is_empty() {
            crate::sys::rfc3339_nano(chrono::Utc::now())
        } else {
            start_time
        };
        let mut w = PodWorker::new(pod.clone(), spec, to_seconds(&start_time), now);
        w.pod_ip = pod
            .pointer("/status/podIP")
            .and_then(Value::as_str)
            .filter(|ip| !ip.is_empty())
            .map(str::to_string);
        if let (Some(ads), Ok(st)) = (
            w.spec.active_deadline_seconds,
            chrono::DateTime::parse_from_rfc3339(&start_time),
        ) {
            let elapsed = (chrono::Utc::now() - st.with_timezone(&chrono::Utc))
                .to_std()
                .unwrap_or_default();
            let left = Duration::from_secs(ads.max(0) as u64).saturating_sub(elapsed);
            w.deadline = Some(now + left);
        }
        let uid = w.uid.clone();
        let mut replays: Vec<ExitRecord> = Vec::new();
        for c in w.init.iter_mut().chain(w.apps.iter_mut()) {
            let key = if c.init {
                "/status/initContainerStatuses"
            } else {
                "/status/containerStatuses"
            };
            let stored = pod
                .pointer(key)
                .and_then(Value::as_array)
                .and_then(|a| {
                    a.iter()
                        .find(|s| s.get("name").and_then(Value::as_str) == Some(&c.name))
                })
                .cloned()
                .unwrap_or(Value::Null);
            let mine: Vec<(&RunState, u32)> = runs
                .iter()
                .filter_map(|r| {
                    let (u, n, a) = parse_run_id(&r.id)?;
                    (u == uid && n == c.name).then_some((r, a))
                })
                .collect();
            let stored_count = stored
                .get("restartCount")
                .and_then(Value::as_u64)
                .unwrap_or(0) as u32;
            let max_attempt = mine.iter().map(|(_, a)| *a).max();
            c.restart_count = stored_count.max(max_attempt.unwrap_or(0));
            c.last = stored.pointer("/lastState/terminated").map(term_from_json);
            c.image_id = str_at(&stored, "/imageID").to_string();
            let id = run_id(&uid, &c.name, c.restart_count);
            let current = mine
                .iter()
                .find(|(_, a)| *a == c.restart_count)
                .map(|(r, _)| *r);
            match current {
                Some(r) => {
                    c.ever_started = true;
                    c.state = CState::Running {
                        id: id.clone(),
                        container_id: r.container_id.clone(),
                        started_at: to_seconds(&r.started_at),
                    };
                    if !r.image_id.is_empty() {
                        c.image_id = r.image_id.clone();
                    }
                    if let Some(x) = &r.exit {
                        replays.push(x.clone());
                    }
                }
                None => {
                    if let Some(t) = stored.pointer("/state/terminated") {
                        // Ended and reported before the restart.
                        let t = term_from_json(t);
                        c.ever_started = true;
                        c.state = CState::Running {
                            id: id.clone(),
                            container_id: if t.container_id.is_empty() {
                                crate::runtime::process::container_id(&id)
                            } else {
                                t.container_id.clone()
                            },
                            started_at: t.started_at.clone(),
                        };
                        replays.push(ExitRecord {
                            id: id.clone(),
                            exit_code: t.exit_code,
                            signal: t.signal,
                            oom_killed: t.reason == "OOMKilled",
                            reason: Some(t.reason.clone()),
                            message: t.message.clone(),
                            started_at: t.started_at.clone(),
                            finished_at: t.finished_at.clone(),
                        });
                    } else if stored.pointer("/state/running").is_some() {
                        // Reported running, but the runtime has no record: lost.
                        let at = str_at(&stored, "/state/running/startedAt").to_string();
                        let cid = str_at(&stored, "/containerID");
                        c.ever_started = true;
                        c.state = CState::Running {
                            id: id.clone(),
                            container_id: if cid.is_empty() {
                                crate::runtime::process::container_id(&id)
                            } else {
                                cid.to_string()
                            },
                            started_at: at.clone(),
                        };
                        replays.push(ExitRecord {
                            id: id.clone(),
                            exit_code: 137,
                            signal: None,
                            oom_killed: false,
                            reason: Some("ContainerStatusUnknown".into()),
                            message: Some(
                                "The container could not be located when the pod was terminated"
                                    .into(),
                            ),
                            started_at: at.clone(),
                            finished_at: crate::sys::rfc3339_nano(chrono::Utc::now()),
                        });
                    } else {
                        c.ever_started = c.last.is_some();
                    }
                }
            }
        }
        for x in replays {
            w.on_exit(&x, now, acts);
        }
        w
    }
}

fn start(uid: &str, c: &mut Ctr, acts: &mut Vec<Action>) {
    let id = run_id(uid, &c.name, c.restart_count);
    acts.push(Action::Start {
        name: c.name.clone(),
        init: c.init,
        attempt: c.restart_count,
    });
    c.state = CState::Starting { id };
}

/// A stored `terminated` state back into a [`Term`].
pub(crate) fn term_from_json(t: &Value) -> Term {
    Term {
        exit_code: t.get("exitCode").and_then(Value::as_i64).unwrap_or(0) as i32,
        signal: t.get("signal").and_then(Value::as_i64).map(|s| s as i32),
        reason: str_at(t, "/reason").to_string(),
        message: t.get("message").and_then(Value::as_str).map(str::to_string),
        started_at: str_at(t, "/startedAt").to_string(),
        finished_at: str_at(t, "/finishedAt").to_string(),
        container_id: str_at(t, "/containerID").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn worker(spec: Value) -> (PodWorker, Instant) {
        let pod =
            json!({"metadata": {"name": "p", "namespace": "default", "uid": "u"}, "spec": spec});
        let spec: PodSpec = serde_json::from_value(pod["spec"].clone()).unwrap();
        let now = Instant::now();
        (
            PodWorker::new(pod, spec, "2026-01-01T00:00:00Z".into(), now),
            now,
        )
    }

    fn exit(id: &str, code: i32) -> ExitRecord {
        ExitRecord {
            id: id.into(),
            exit_code: code,
            signal: None,
            oom_killed: false,
            reason: None,
            message: None,
            started_at: "2026-01-01T00:00:01.5Z".into(),
            finished_at: "2026-01-01T00:00:02.5Z".into(),
        }
    }

    fn starts(acts: &[Action]) -> Vec<(String, u32)> {
        acts.iter()
            .filter_map(|a| match a {
                Action::Start { name, attempt, .. } => Some((name.clone(), *attempt)),
                _ => None,
            })
            .collect()
    }

    /// The kubelet's volume manager: no container starts while a hostPath
    /// check fails; FailedMount is recorded and retried 0.5 s, 1 s, … later.
    #[test]
    fn failed_mount_keeps_containers_creating_and_retries() {
        let (mut w, now) = worker(json!({
            "restartPolicy": "Never",
            "volumes": [{"name": "in", "hostPath": {"path": "/nonexistent", "type": "Directory"}}],
            "containers": [{"name": "a"}]
        }));
        let mut acts = vec![];
        w.sync(&mut acts);
        assert_eq!(acts, vec![Action::SetUpVolumes]);
        acts.clear();
        let err = || crate::volumes::MountError {
            volume: "in".into(),
            message: "hostPath /nonexistent doesn't exist".into(),
        };
        w.on_volumes(Err(err()), now, &mut acts);
        assert!(
            matches!(&acts[..], [Action::Event { warning: true, reason: "FailedMount", message }]
            if message == "MountVolume.SetUp failed for volume \"in\" : hostPath /nonexistent doesn't exist")
        );
        acts.clear();
        w.sync(&mut acts);
        assert!(acts.is_empty(), "waits for the retry");
        assert_eq!(w.phase(), Phase::Pending);
        assert!(
            matches!(&w.apps[0].state, CState::Waiting { reason, .. } if reason == "ContainerCreating")
        );
        assert_eq!(w.next_wakeup(), Some(now + Duration::from_millis(500)));
        w.on_timer(now + Duration::from_millis(500), Duration::ZERO, &mut acts);
        w.sync(&mut acts);
        assert_eq!(acts, vec![Action::SetUpVolumes]);
        acts.clear();
        let later = now + Duration::from_millis(500);
        w.on_volumes(Err(err()), later, &mut acts);
        assert_eq!(w.next_wakeup(), Some(later + Duration::from_secs(1)));
        w.on_timer(later + Duration::from_secs(1), Duration::ZERO, &mut acts);
        acts.clear();
        w.sync(&mut acts);
        w.on_volumes(Ok(()), later, &mut acts);
        acts.clear();
        w.sync(&mut acts);
        assert_eq!(starts(&acts), vec![("a".into(), 0)]);
    }

    #[test]
    fn pods_without_checked_volumes_start_at_once() {
        let (mut w, _) = worker(json!({
            "restartPolicy": "Never",
            "volumes": [{"name": "d", "emptyDir": {}}, {"name": "h", "hostPath": {"path": "/tmp", "type": ""}}],
            "containers": [{"name": "a"}]
        }));
        let mut acts = vec![];
        w.sync(&mut acts);
        assert_eq!(starts(&acts), vec![("a".into(), 0)]);
    }

    #[test]
    fn init_containers_run_in_order_before_apps_side_by_side() {
        let (mut w, now) = worker(json!({
            "restartPolicy": "Never",
            "initContainers": [{"name": "i1"}, {"name": "i2"}],
            "containers": [{"name": "a"}, {"name": "b"}]
        }));
        let mut acts = vec![];
        w.sync(&mut acts);
        assert_eq!(starts(&acts), vec![("i1".into(), 0)]);
        assert_eq!(w.phase(), Phase::Pending);
        w.on_started("u_i1_0", "joblite://u_i1_0", "t", &mut acts);
        acts.clear();
        w.on_exit(&exit("u_i1_0", 0), now, &mut acts);
        w.sync(&mut acts);
        assert_eq!(starts(&acts), vec![("i2".into(), 0)]);
        acts.clear();
        w.on_started("u_i2_0", "joblite://u_i2_0", "t", &mut acts);
        w.on_exit(&exit("u_i2_0", 0), now, &mut acts);
        w.sync(&mut acts);
        assert_eq!(starts(&acts), vec![("a".into(), 0), ("b".into(), 0)]);
        w.on_started("u_a_0", "joblite://u_a_0", "t", &mut acts);
        assert_eq!(w.phase(), Phase::Running);
        w.on_exit(&exit("u_a_0", 0), now, &mut acts);
        assert_eq!(w.phase(), Phase::Running);
        w.on_started("u_b_0", "joblite://u_b_0", "t", &mut acts);
        w.on_exit(&exit("u_b_0", 1), now, &mut acts);
        assert_eq!(w.phase(), Phase::Failed);
        assert!(w.finished());
    }

    #[test]
    fn a_failed_init_container_fails_a_never_pod() {
        let (mut w, now) = worker(
            json!({"restartPolicy": "Never", "initContainers": [{"name": "i"}], "containers": [{"name": "a"}]}),
        );
        let mut acts = vec![];
        w.sync(&mut acts);
        w.on_started("u_i_0", "joblite://u_i_0", "t", &mut acts);
        w.on_exit(&exit("u_i_0", 2), now, &mut acts);
        acts.clear();
        w.sync(&mut acts);
        assert!(acts.is_empty());
        assert_eq!(w.phase(), Phase::Failed);
    }

    #[test]
    fn on_failure_restarts_in_place_with_crash_loop_backoff() {
        let (mut w, t0) =
            worker(json!({"restartPolicy": "OnFailure", "containers": [{"name": "c"}]}));
        let mut acts = vec![];
        w.sync(&mut acts);
        w.on_started("u_c_0", "joblite://u_c_0", "t", &mut acts);
        // First failure: restarted at once.
        w.on_exit(&exit("u_c_0", 1), t0, &mut acts);
        acts.clear();
        w.sync(&mut acts);
        assert_eq!(starts(&acts), vec![("c".into(), 1)]);
        assert_eq!(w.apps[0].restart_count, 1);
        assert_eq!(w.apps[0].last.as_ref().unwrap().reason, "Error");
        assert_eq!(w.phase(), Phase::Running);
        // Second failure: back-off 10s.
        w.on_started("u_c_1", "joblite://u_c_1", "t", &mut acts);
        acts.clear();
        let t1 = t0 + Duration::from_secs(1);
        w.on_exit(&exit("u_c_1", 1), t1, &mut acts);
        match &w.apps[0].state {
            CState::BackOff { until, message } => {
                assert_eq!(*until, t1 + Duration::from_secs(10));
                assert_eq!(
                    message,
                    "back-off 10s restarting failed container=c pod=p_default(u)"
                );
            }
            s => panic!("{s:?}"),
        }
        assert!(acts.iter().any(|a| matches!(
            a,
            Action::Event {
                reason: "BackOff",
                ..
            }
        )));
        assert_eq!(w.next_wakeup(), Some(t1 + Duration::from_secs(10)));
        acts.clear();
        w.sync(&mut acts);
        assert!(starts(&acts).is_empty());
        w.on_timer(
            t1 + Duration::from_secs(10),
            Duration::from_secs(30),
            &mut acts,
        );
        w.sync(&mut acts);
        assert_eq!(starts(&acts), vec![("c".into(), 2)]);
        // Success ends it.
        w.on_started("u_c_2", "joblite://u_c_2", "t", &mut acts);
        w.on_exit(&exit("u_c_2", 0), t1 + Duration::from_secs(12), &mut acts);
        assert_eq!(w.phase(), Phase::Succeeded);
        assert_eq!(w.apps[0].restart_count, 2);
    }

    #[test]
    fn always_restarts_even_on_success() {
        let (mut w, t0) = worker(json!({"containers": [{"name": "c"}]}));
        let mut acts = vec![];
        w.sync(&mut acts);
        w.on_started("u_c_0", "joblite://u_c_0", "t", &mut acts);
        w.on_exit(&exit("u_c_0", 0), t0, &mut acts);
        acts.clear();
        w.sync(&mut acts);
        assert_eq!(starts(&acts), vec![("c".into(), 1)]);
        assert_eq!(w.phase(), Phase::Running);
    }

    #[test]
    fn deletion_terms_then_kills_and_ends_failed() {
        let (mut w, t0) = worker(json!({"restartPolicy": "Never", "containers": [{"name": "c"}]}));
        let mut acts = vec![];
        w.sync(&mut acts);
        w.on_started("u_c_0", "joblite://u_c_0", "t", &mut acts);
        acts.clear();
        w.terminate(Cause::Deleted, Duration::from_secs(5), t0, &mut acts);
        assert!(acts.contains(&Action::Signal {
            id: "u_c_0".into(),
            signal: libc::SIGTERM
        }));
        assert_eq!(w.phase(), Phase::Running);
        assert_eq!(w.next_wakeup(), Some(t0 + Duration::from_secs(5)));
        acts.clear();
        w.on_timer(t0 + Duration::from_secs(5), Duration::ZERO, &mut acts);
        assert_eq!(
            acts,
            vec![Action::Signal {
                id: "u_c_0".into(),
                signal: libc::SIGKILL
            }]
        );
        let mut x = exit("u_c_0", 137);
        x.signal = Some(9);
        w.on_exit(&x, t0 + Duration::from_secs(5), &mut acts);
        assert_eq!(w.phase(), Phase::Failed);
        assert!(w.finished());
        // Nothing restarts after a deletion.
        acts.clear();
        w.sync(&mut acts);
        assert!(acts.is_empty());
    }

    #[test]
    fn a_force_delete_kills_at_once() {
        let (mut w, t0) = worker(json!({"containers": [{"name": "c"}]}));
        let mut acts = vec![];
        w.sync(&mut acts);
        w.on_started("u_c_0", "joblite://u_c_0", "t", &mut acts);
        acts.clear();
        w.terminate(Cause::Deleted, Duration::ZERO, t0, &mut acts);
        assert!(acts.contains(&Action::Signal {
            id: "u_c_0".into(),
            signal: libc::SIGKILL
        }));
    }

    #[test]
    fn the_active_deadline_fails_the_pod() {
        let (mut w, t0) = worker(
            json!({"restartPolicy": "Never", "activeDeadlineSeconds": 2, "containers": [{"name": "c"}]}),
        );
        let mut acts = vec![];
        w.sync(&mut acts);
        w.on_started("u_c_0", "joblite://u_c_0", "t", &mut acts);
        assert_eq!(w.next_wakeup(), Some(t0 + Duration::from_secs(2)));
        acts.clear();
        w.on_timer(
            t0 + Duration::from_secs(2),
            Duration::from_secs(30),
            &mut acts,
        );
        assert!(acts.contains(&Action::Signal {
            id: "u_c_0".into(),
            signal: libc::SIGTERM
        }));
        let mut x = exit("u_c_0", 143);
        x.signal = Some(15);
        w.on_exit(&x, t0 + Duration::from_secs(2), &mut acts);
        assert_eq!(w.phase(), Phase::Failed);
        assert_eq!(w.reason(), Some(("DeadlineExceeded", DEADLINE_MESSAGE)));
        match &w.apps[0].state {
            CState::Terminated(t) => {
                assert_eq!((t.exit_code, t.reason.as_str()), (143, "DeadlineExceeded"))
            }
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn cannot_run_and_config_errors() {
        let (mut w, t0) =
            worker(json!({"restartPolicy": "Never", "containers": [{"name": "c"}, {"name": "d"}]}));
        let mut acts = vec![];
        w.sync(&mut acts);
        w.on_start_error(
            "c",
            false,
            BuildError::CannotRun("no command".into()),
            t0,
            &mut acts,
        );
        match &w.apps[0].state {
            CState::Terminated(t) => assert_eq!(
                (t.exit_code, t.reason.as_str()),
                (128, "ContainerCannotRun")
            ),
            s => panic!("{s:?}"),
        }
        w.on_start_error(
            "d",
            false,
            BuildError::Config("bad env".into()),
            t0,
            &mut acts,
        );
        assert!(
            matches!(&w.apps[1].state, CState::Waiting { reason, .. } if reason == "CreateContainerConfigError")
        );
        acts.clear();
        w.sync(&mut acts);
        assert!(acts.is_empty());
        assert_eq!(w.phase(), Phase::Pending);
    }

    #[test]
    fn recovery_attaches_replays_and_never_starts_twice() {
        let pod = json!({"metadata": {"name": "p", "namespace": "default", "uid": "u"},
        "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]},
        "status": {"startTime": "2026-01-01T00:00:00Z", "containerStatuses": [
            {"name": "a", "restartCount": 0, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}},
            {"name": "b", "restartCount": 0, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}},
            {"name": "c", "restartCount": 0, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}
        ]}});
        let spec: PodSpec = serde_json::from_value(pod["spec"].clone()).unwrap();
        let runs = vec![
            // a: still running.
            RunState {
                id: "u_a_0".into(),
                container_id: "joblite://u_a_0".into(),
                image_id: String::new(),
                started_at: "s".into(),
                exit: None,
            },
            // b: finished while the agent was down.
            RunState {
                id: "u_b_0".into(),
                container_id: "joblite://u_b_0".into(),
                image_id: String::new(),
                started_at: "s".into(),
                exit: Some(exit("u_b_0", 0)),
            },
        ];
        let mut acts = vec![];
        let now = Instant::now();
        let mut w = PodWorker::recover(pod, spec, &runs, now, &mut acts);
        w.sync(&mut acts);
        assert!(matches!(w.apps[0].state, CState::Running { .. }));
        assert!(matches!(&w.apps[1].state, CState::Terminated(t) if t.exit_code == 0));
        // c was lost: reported as ContainerStatusUnknown and restarted (OnFailure).
        assert_eq!(
            w.apps[2].last.as_ref().unwrap().reason,
            "ContainerStatusUnknown"
        );
        assert_eq!(starts(&acts), vec![("c".into(), 1)]);
    }
}
