//! The process runtime: each container is a process on the host, run by
//! the node's supervisor (see `supervisor.rs`), like Nomad's `raw_exec`.
//!
//! This file holds the agent's side: the client of the supervisor socket
//! (spawning the supervisor when none serves the data directory) and the
//! translation of a pod's container into a [`StartSpec`]: `command` + `args`
//! exec'd directly with no shell (`args` alone when there is no `command`),
//! `$(VAR)` expansion, the environment, working directory, volumes,
//! hostname and limits.
//!
//! The pod's hostname is always in `$HOSTNAME`; when the pod sets
//! `spec.hostname` (Indexed Jobs do), the process also gets it from
//! `hostname(1)` through a private UTS namespace.
//!
//! Every run is fenced off from the engine's data directory in its own
//! user and mount namespaces (`isolation.rs`; `hide` in the spec). An
//! engine that is neither root nor allowed unprivileged user namespaces
//! cannot: its containers run unfenced, and one that mounts a volume fails
//! with `ContainerCannotRun` and a message that says so (rather than
//! silently writing to the host's `/data`). Only a root engine switches to
//! `runAsUser`/`runAsGroup`; any other refuses a container that asks for
//! ids not its own with `CreateContainerError`.

// `pre_exec` (a new session for the supervisor) is unsafe by nature.
#![allow(unsafe_code)]

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::PodSpec;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::{spec, BuildError, RunState, Runtime, RuntimeEvent, RuntimeKind, StartRequest};
use crate::log_rotation::LogPolicy;
use crate::paths;
use crate::protocol::{Event, Request, StartSpec};
use crate::supervisor::socket_path;
use crate::Error;

/// The default PATH of a process whose image would have set one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The agent's handle on the supervisor.
pub struct ProcessRuntime {
    tx: mpsc::UnboundedSender<Request>,
    /// How the supervisor rotates the runs' logs.
    logs: LogPolicy,
    /// Why cgroup limits cannot be enforced, if they cannot.
    limits_problem: Option<String>,
}

/// The container ID of a process run.
pub fn container_id(run_id: &str) -> String {
    format!("joblite://{run_id}")
}

impl ProcessRuntime {
    /// Hands a built spec to the supervisor (tests and benchmarks).
    pub fn start_spec(&self, spec: StartSpec) {
        let _ = self.tx.send(Request::Start(spec));
    }
}

impl Runtime for ProcessRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Process
    }
    fn start(&self, req: &StartRequest<'_>) -> Result<(), BuildError> {
        let mut spec = build_spec(req)?;
        spec.log_max_size = self.logs.max_size;
        spec.log_max_files = self.logs.max_files;
        tracing::trace!(run = %spec.id, "start");
        let _ = self.tx.send(Request::Start(spec));
        Ok(())
    }
    fn limits_problem(&self) -> Option<String> {
        self.limits_problem.clone()
    }
    fn version(&self) -> String {
        format!("joblite://{}", env!("CARGO_PKG_VERSION"))
    }
    fn signal(&self, id: &str, signal: i32) {
        let _ = self.tx.send(Request::Signal {
            id: id.to_string(),
            signal,
        });
    }
    fn forget(&self, id: &str) {
        let _ = self.tx.send(Request::Forget { id: id.to_string() });
    }
    fn list(&self) {
        let _ = self.tx.send(Request::List);
    }
}

/// Connects to the data directory's supervisor, starting it with
/// `supervisor_command` when none is running. The first event is a
/// [`RuntimeEvent::Snapshot`].
pub async fn connect(
    data_dir: &Path,
    supervisor_command: &[OsString],
) -> Result<(Arc<ProcessRuntime>, mpsc::UnboundedReceiver<RuntimeEvent>), Error> {
    connect_with(data_dir, supervisor_command, LogPolicy::default()).await
}

/// [`connect`], with the node's log rotation policy for every run.
pub async fn connect_with(
    data_dir: &Path,
    supervisor_command: &[OsString],
    logs: LogPolicy,
) -> Result<(Arc<ProcessRuntime>, mpsc::UnboundedReceiver<RuntimeEvent>), Error> {
    let dir = data_dir.to_path_buf();
    let cmd = supervisor_command.to_vec();
    let stream = connect_or_spawn(&dir, &cmd).await?;
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    tokio::spawn(conn_loop(dir, cmd, stream, req_rx, ev_tx));
    let cgroups = crate::cgroups::Cgroups::detect();
    Ok((
        Arc::new(ProcessRuntime {
            tx: req_tx,
            logs,
            limits_problem: cgroups.unavailable,
        }),
        ev_rx,
    ))
}

async fn connect_or_spawn(dir: &Path, cmd: &[OsString]) -> Result<UnixStream, Error> {
    let sock = socket_path(dir);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last_spawn: Option<Instant> = None;
    loop {
        if let Ok(s) = UnixStream::connect(&sock).await {
            return Ok(s);
        }
        if last_spawn.is_none_or(|t| t.elapsed() > Duration::from_secs(2)) {
            spawn_supervisor(dir, cmd)
                .map_err(|e| Error::Supervisor(format!("starting the supervisor: {e}")))?;
            last_spawn = Some(Instant::now());
        }
        if Instant::now() > deadline {
            return Err(Error::Supervisor(format!(
                "no supervisor answers on {}",
                sock.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn spawn_supervisor(dir: &Path, cmd: &[OsString]) -> io::Result<()> {
    let (prog, args) = cmd
        .split_first()
        .ok_or_else(|| io::Error::other("no supervisor command configured"))?;
    std::fs::create_dir_all(dir)?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("supervisor.log"))?;
    let mut c = tokio::process::Command::new(prog);
    c.args(args)
        .env("JOBLITE_SUPERVISOR_DIR", dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(false);
    // SAFETY: setsid is async-signal-safe. A new session keeps the
    // supervisor out of the server's process group and terminal.
    unsafe {
        c.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = c.spawn()?;
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    Ok(())
}

async fn conn_loop(
    dir: PathBuf,
    cmd: Vec<OsString>,
    first: UnixStream,
    mut req_rx: mpsc::UnboundedReceiver<Request>,
    ev_tx: mpsc::UnboundedSender<RuntimeEvent>,
) {
    let mut next = Some(first);
    loop {
        let stream = match next.take() {
            Some(s) => s,
            None => match connect_or_spawn(&dir, &cmd).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("process runtime: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        let (rd, mut wr) = stream.into_split();
        let mut lines = tokio::io::BufReader::new(rd).lines();
        let mut ok = wr.write_all(b"{\"op\":\"list\"}\n").await.is_ok();
        let mut buf = Vec::new();
        while ok {
            tokio::select! {
                req = req_rx.recv() => {
                    let Some(req) = req else { return };
                    buf.clear();
                    let _ = serde_json::to_writer(&mut buf, &req);
                    buf.push(b'\n');
                    while let Ok(more) = req_rx.try_recv() {
                        let _ = serde_json::to_writer(&mut buf, &more);
                        buf.push(b'\n');
                        if buf.len() > 1 << 20 {
                            break;
                        }
                    }
                    ok = wr.write_all(&buf).await.is_ok();
                }
                line = lines.next_line() => {
                    match line {
                        Ok(Some(l)) => {
                            let ev = match Event::from_line(&l) {
                                Ok(Event::Started { id, started_at, .. }) => RuntimeEvent::Started {
                                    container_id: container_id(&id),
                                    image_id: String::new(),
                                    id,
                                    started_at,
                                },
                                Ok(Event::Exited(x)) => RuntimeEvent::Exited(x),
                                Ok(Event::Snapshot { runs }) => RuntimeEvent::Snapshot(
                                    runs.into_iter()
                                        .map(|r| RunState {
                                            container_id: container_id(&r.id),
                                            image_id: String::new(),
                                            id: r.id,
                                            started_at: r.started_at,
                                            exit: r.exit,
                                        })
                                        .collect(),
                                ),
                                Err(e) => {
                                    tracing::warn!("process runtime: bad event: {e}");
                                    continue;
                                }
                            };
                            if ev_tx.send(ev).is_err() {
                                return;
                            }
                        }
                        _ => ok = false,
                    }
                }
            }
        }
        let lost = RuntimeEvent::Disconnected {
            message: "lost the supervisor connection".into(),
        };
        if ev_tx.send(lost).is_err() {
            return;
        }
    }
}

/// The pod's hostname: `spec.hostname`, else its name, cut to 63 characters
/// (`GeneratePodHostNameAndDomain` in `pkg/kubelet/kubelet_pods.go`).
pub fn pod_hostname(pod: &Value, spec: &PodSpec) -> String {
    let name = spec
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| {
            pod.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        });
    let mut h: String = name.chars().take(63).collect();
    while h.ends_with(['-', '.']) {
        h.pop();
    }
    h
}

/// How to get images run, for messages about a command that is not on the host.
pub const CONTAINER_RUNTIME_HINT: &str = "to run images, start a container engine that serves the Docker Engine API (Podman: `podman system service --time=0`, or Docker) and restart joblite (`joblite stop`; `joblite serve --runtime=auto` picks the engine when its socket answers), or set DOCKER_HOST";

/// Builds the process run of the request's container attempt.
///
/// `command` + `args` are exec'd directly, with no shell. With no
/// `command`, `args` is the command line: on a cluster an image with no
/// ENTRYPOINT (busybox, alpine) runs its args that way, and the process
/// runtime has no image to read an entrypoint from.
pub fn build_spec(req: &StartRequest<'_>) -> Result<StartSpec, BuildError> {
    let container = req.container;
    let hostname = pod_hostname(req.pod, req.spec);
    let envs = spec::environment(
        req,
        vec![
            ("PATH".into(), DEFAULT_PATH.into()),
            ("HOSTNAME".into(), hostname.clone()),
            ("HOME".into(), "/root".into()),
        ],
    )?;
    let (command, args) = spec::command_and_args(container, &envs);
    let image = container.image.as_deref().unwrap_or("");
    let argv: Vec<String> = if command.is_empty() {
        args
    } else {
        command.into_iter().chain(args).collect()
    };
    if argv.is_empty() {
        return Err(BuildError::CannotRun(format!(
            "container {:?} has no command or args: the entrypoint of image {image:?} is unknown to the process runtime, which runs command and args directly on the host; set command in the pod spec, or {CONTAINER_RUNTIME_HINT}",
            container.name
        )));
    }
    let mounts = spec::mounts(req)?;
    // A command that is not on the host (the image's own binary, such as
    // kuard's `/kuard`) fails here with a message that says why, rather
    // than as a bare "no such file" from the supervisor. One that a volume
    // provides is left to the supervisor, which sees the mount.
    let from_volume = mounts
        .iter()
        .any(|m| Path::new(&argv[0]).starts_with(&m.target));
    if !from_volume {
        let path_env = envs
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str());
        if let Err(e) = crate::sys::look_path(&argv[0], path_env) {
            return Err(BuildError::CannotRun(format!(
                "{e}: the process runtime runs command and args on the host, and image {image:?} is not used; {CONTAINER_RUNTIME_HINT}"
            )));
        }
    }

    let (ns, pod_name, uid) = (req.namespace(), req.pod_name(), req.uid());
    let cwd = match container.working_dir.as_deref().filter(|s| !s.is_empty()) {
        Some(w) => w.to_string(),
        None => {
            let w = paths::pod_dir(req.data_dir, ns, pod_name, uid);
            match std::fs::create_dir(&w) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(_) => std::fs::create_dir_all(&w)
                    .map_err(|e| BuildError::CannotRun(format!("working directory: {e}")))?,
            }
            w.to_string_lossy().into_owned()
        }
    };
    let res = spec::resources(container);
    let run_as = spec::run_as(req.spec, container);
    let id = |field: &str, v: Option<i64>| {
        v.map(|v| crate::isolation::id_value(field, v))
            .transpose()
            .map_err(BuildError::Config)
    };
    let user = id("runAsUser", run_as.user)?;
    let group = id("runAsGroup", run_as.group)?;
    let groups = run_as
        .groups
        .iter()
        .map(|g| crate::isolation::id_value("supplementalGroups", *g))
        .collect::<Result<Vec<u32>, String>>()
        .map_err(BuildError::Config)?;
    let engine = (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    );
    if let Some(m) = crate::isolation::user_problem(&container.name, user, group, engine) {
        return Err(BuildError::Create(m));
    }
    Ok(StartSpec {
        id: req.run_id(),
        path: argv[0].clone(),
        args: argv,
        env: envs,
        cwd,
        log_path: req.log_path().to_string_lossy().into_owned(),
        // A UTS namespace only when the pod asks for a hostname (Indexed
        // Jobs do): it forces a full fork per start. Otherwise the name is
        // in $HOSTNAME.
        hostname: req
            .spec
            .hostname
            .as_ref()
            .filter(|h| !h.is_empty())
            .map(|_| hostname),
        mounts: mounts
            .into_iter()
            .map(|m| {
                (
                    m.source.to_string_lossy().into_owned(),
                    m.target,
                    m.read_only,
                )
            })
            .collect(),
        memory_limit: res.memory_limit,
        cpu_limit_millis: res.cpu_limit_millis,
        stdin: container.stdin.unwrap_or(false),
        stdin_once: container.stdin_once.unwrap_or(false),
        tty: container.tty.unwrap_or(false),
        // The node directory lives in the engine's data directory, which
        // holds the engine's credentials and store.
        hide: req
            .data_dir
            .parent()
            .filter(|p| p.parent().is_some())
            .map(|p| p.to_string_lossy().into_owned()),
        user,
        group,
        groups: if user.is_some() || group.is_some() {
            groups
        } else {
            Vec::new()
        },
        // The runtime sets the node's log policy (`ProcessRuntime::start`).
        log_max_size: -1,
        log_max_files: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Builds attempt `attempt` of the pod's first container in a fresh
    /// data directory, returned with the result.
    fn build_first(
        pod: &Value,
        attempt: u32,
    ) -> (Result<StartSpec, BuildError>, tempfile::TempDir) {
        let spec: PodSpec = serde_json::from_value(pod["spec"].clone()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let req = StartRequest {
            pod,
            spec: &spec,
            container: &spec.containers[0],
            init: false,
            attempt,
            data_dir: dir.path(),
            env: crate::env::EnvContext::default(),
        };
        (build_spec(&req), dir)
    }

    #[test]
    fn command_and_args_are_expanded_without_a_shell() {
        let pod = json!({"metadata": {"name": "p", "uid": "u"}, "spec": {"containers": [{
            "name": "c", "image": "busybox",
            "command": ["echo", "$(GREETING)", "$$(GREETING)"], "args": ["$(NAME)", "$(NOPE)"],
            "env": [{"name": "GREETING", "value": "hi"}, {"name": "NAME", "value": "$(GREETING)-there"}],
            "resources": {"limits": {"memory": "64Mi", "cpu": "250m"}}
        }]}});
        let (s, _dir) = build_first(&pod, 2);
        let s = s.unwrap();
        assert_eq!(
            s.args,
            vec!["echo", "hi", "$(GREETING)", "hi-there", "$(NOPE)"]
        );
        assert_eq!(s.path, "echo");
        assert_eq!(s.id, "u_c_2");
        assert!(s.log_path.ends_with("logs/_p_u_c_2.log"), "{}", s.log_path);
        assert_eq!(s.memory_limit, Some(64 << 20));
        assert_eq!(s.cpu_limit_millis, Some(250));
        assert_eq!(s.hostname, None);
        assert!(s.env.contains(&("HOSTNAME".into(), "p".into())));
    }

    #[test]
    fn no_command_and_no_args_cannot_run() {
        let pod = json!({"metadata": {"name": "p", "uid": "u"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        let (r, _dir) = build_first(&pod, 0);
        match r {
            Err(BuildError::CannotRun(m)) => {
                assert!(m.contains("entrypoint") && m.contains("busybox"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// Issue 10 item 6: `args` with no `command` is the command line, as
    /// an image with no ENTRYPOINT (busybox) runs it on a cluster.
    #[test]
    fn args_without_a_command_are_the_command_line() {
        let pod = json!({"metadata": {"name": "p", "uid": "u"}, "spec": {"containers": [{
            "name": "c", "image": "busybox", "args": ["sh", "-c", "echo $(WHO)"],
            "env": [{"name": "WHO", "value": "hi"}]}]}});
        let (s, _dir) = build_first(&pod, 0);
        let s = s.unwrap();
        assert_eq!(s.path, "sh");
        assert_eq!(s.args, vec!["sh", "-c", "echo hi"]);
    }

    /// The seed's `/kuard` on a machine with no engine: the message names
    /// the process runtime and how to get the container runtime.
    #[test]
    fn a_command_missing_on_the_host_names_the_container_runtime() {
        let pod = json!({"metadata": {"name": "p", "uid": "u"}, "spec": {"containers": [{
            "name": "kuard", "image": "gcr.io/kuar-demo/kuard-amd64:blue",
            "command": ["/kuard"], "args": ["--keygen-enable"]}]}});
        let (r, _dir) = build_first(&pod, 0);
        match r {
            Err(BuildError::CannotRun(m)) => {
                assert!(
                    m.starts_with("exec: \"/kuard\": stat /kuard: no such file or directory"),
                    "{m}"
                );
                assert!(
                    m.contains("process runtime") && m.contains("podman system service"),
                    "{m}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_dirs_are_per_pod_directories_mounted_at_their_path() {
        let pod = json!({"metadata": {"name": "p", "uid": "u"}, "spec": {
            "hostname": "web-0", "subdomain": "svc",
            "volumes": [{"name": "data", "emptyDir": {}}],
            "containers": [{"name": "c", "command": ["true"], "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}});
        let (s, dir) = build_first(&pod, 0);
        let s = s.unwrap();
        let src = dir.path().join("volumes/_p_u/data");
        assert!(src.is_dir());
        assert_eq!(
            s.mounts,
            vec![(
                src.to_string_lossy().into_owned(),
                "/data".to_string(),
                false
            )]
        );
        assert_eq!(s.hostname.as_deref(), Some("web-0"));
    }

    /// An untyped hostPath that does not exist is created (containerd's
    /// `WithMounts`), so the bind mount has a source; an existing one is
    /// left as it is.
    #[test]
    fn missing_untyped_host_path_is_created() {
        let host = tempfile::tempdir().unwrap();
        let missing = host.path().join("in/put");
        let pod = json!({"metadata": {"name": "p", "uid": "u"}, "spec": {
            "volumes": [{"name": "in", "hostPath": {"path": missing}}],
            "containers": [{"name": "c", "command": ["true"], "volumeMounts": [{"name": "in", "mountPath": "/in"}]}]}});
        let (s, _dir) = build_first(&pod, 0);
        let s = s.unwrap();
        assert!(missing.is_dir());
        assert_eq!(s.mounts[0].0, missing.to_string_lossy());
    }
}
