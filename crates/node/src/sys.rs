//! The system calls the supervisor makes, behind a trait.
//!
//! This is youki's pattern: the supervision logic in `supervisor.rs`
//! (idempotent starts, exit recording, OOM attribution, signalling, journal
//! recovery) talks only to [`Sys`], so it is unit-tested with a fake that
//! needs no root and forks nothing. [`RealSys`] is the one implementation
//! that touches the kernel.

// The node's system calls live here, behind safe functions.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cgroups::{self, Cgroups, Handle};
use crate::isolation::{self, Ids};
use crate::protocol::{StartSpec, StreamRequest};

mod userns;
use userns::{Handshake, Mapper};

/// A started process and the supervisor's ends of its stdio: the write end
/// of its stdin (when it has one) and the read ends of its output. Under a
/// TTY, `stdout` and `stdin` are both the terminal's master side (`pty`
/// is a third handle on it, for resizing) and `stderr` is `None`.
#[derive(Debug, Default)]
pub struct Spawned {
    pub pid: i32,
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    pub pty: Option<OwnedFd>,
    pub cgroup: Option<Handle>,
}

/// What an exec needs to know of the run it enters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecTarget {
    /// The run's main process: its namespaces and user are the exec's.
    pub pid: i32,
    /// The run's environment and working directory.
    pub env: Vec<(String, String)>,
    pub cwd: String,
    /// `cgroup.procs` files of the run's cgroup, if it has one.
    pub cgroup_procs: Vec<PathBuf>,
}

/// Why a start failed; the message becomes the container's termination message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnError {
    pub message: String,
}

/// How a reaped process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStatus {
    Exited(i32),
    Signaled(i32),
}

/// The kernel, as the supervisor sees it.
pub trait Sys {
    /// Fork and exec a container run.
    fn spawn(&mut self, spec: &StartSpec) -> Result<Spawned, SpawnError>;
    /// Fork and exec `req.command` inside a running run, as `kubectl exec`.
    fn spawn_exec(
        &mut self,
        target: &ExecTarget,
        req: &StreamRequest,
    ) -> Result<Spawned, SpawnError>;
    /// `kill(2)`; a negative pid signals a process group.
    fn kill(&mut self, pid: i32, signal: i32) -> io::Result<()>;
    /// Processes left in a run's cgroup.
    fn cgroup_pids(&mut self, cgroup: &Handle) -> Vec<i32>;
    /// Whether the OOM killer fired in a run's cgroup.
    fn cgroup_oom_killed(&mut self, cgroup: &Handle) -> bool;
    /// Removes a run's cgroup; false while processes remain.
    fn cgroup_remove(&mut self, cgroup: &Handle) -> bool;
    /// The current time as RFC3339Nano.
    fn now(&self) -> String;
}

/// RFC3339 with nanoseconds and `Z`, as the CRI log format and upstream
/// status timestamps use.
pub(crate) fn rfc3339_nano(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The real kernel.
pub(crate) struct RealSys {
    pub cgroups: Cgroups,
    pub root: bool,
    /// The capabilities a fenced run's bounding set loses (`isolation.rs`).
    dropped_caps: Vec<u32>,
    /// The mapper of fenced runs' user namespaces (`sys/userns.rs`): every
    /// id as itself for a root engine; the engine's own ids alone for one
    /// that is not, when the kernel lets it make user namespaces; `None`
    /// when it cannot fence runs at all.
    fence: Option<Mapper>,
}

impl RealSys {
    pub(crate) fn new() -> io::Result<RealSys> {
        let cap_last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40);
        let root = rustix::process::geteuid().is_root();
        let fence = if root {
            let all = "0 0 4294967295\n".to_string();
            Some(Mapper::start((all.clone(), all))?)
        } else {
            let uid = rustix::process::geteuid().as_raw();
            let gid = rustix::process::getegid().as_raw();
            let mapper = Mapper::start((format!("{uid} {uid} 1\n"), format!("{gid} {gid} 1\n")))?;
            match mapper.probe() {
                Ok(()) => Some(mapper),
                Err(e) => {
                    tracing::warn!("process pods are not fenced off from the engine's data directory: this non-root engine cannot make user namespaces ({e})");
                    None
                }
            }
        };
        Ok(RealSys {
            cgroups: Cgroups::detect(),
            root,
            dropped_caps: isolation::dropped_capabilities(cap_last),
            fence,
        })
    }
}

/// Finds `cmd` the way `exec.LookPath` does with the container's PATH.
pub(crate) fn look_path(cmd: &str, path_env: Option<&str>) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if cmd.contains('/') {
        return match std::fs::metadata(cmd) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(format!(
                "exec: \"{cmd}\": stat {cmd}: no such file or directory"
            )),
            Err(e) => Err(format!("exec: \"{cmd}\": {e}")),
            Ok(_) if !is_exec(Path::new(cmd)) => Err(format!("exec: \"{cmd}\": permission denied")),
            Ok(_) => Ok(PathBuf::from(cmd)),
        };
    }
    let path = path_env.unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let p = Path::new(dir).join(cmd);
        if is_exec(&p) {
            return Ok(p);
        }
    }
    Err(format!(
        "exec: \"{cmd}\": executable file not found in $PATH"
    ))
}

impl Sys for RealSys {
    fn spawn(&mut self, spec: &StartSpec) -> Result<Spawned, SpawnError> {
        let err = |message: String| SpawnError { message };
        let path_env = spec
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str());
        let exe = look_path(&spec.path, path_env).map_err(err)?;
        if !spec.mounts.is_empty() && self.fence.is_none() {
            return Err(err(
                "volume mounts need root or user namespaces: the process runtime mounts them in a private mount namespace".into(),
            ));
        }
        // Unenforceable limits do not stop the pod: the agent has already
        // reported that cgroups are unavailable.
        let cgroup = if spec.memory_limit.is_some() || spec.cpu_limit_millis.is_some() {
            self.cgroups
                .create(&spec.id, spec.memory_limit, spec.cpu_limit_millis)
                .ok()
        } else {
            None
        };
        let procs: Vec<std::fs::File> = cgroup
            .as_ref()
            .map(|h| {
                h.procs_files()
                    .iter()
                    .filter_map(|p| std::fs::OpenOptions::new().write(true).open(p).ok())
                    .collect()
            })
            .unwrap_or_default();
        let proc_fds: Vec<i32> = procs.iter().map(|f| f.as_raw_fd()).collect();

        let mut cmd = Command::new(&exe);
        cmd.arg0(spec.args.first().map(String::as_str).unwrap_or(&spec.path))
            .args(spec.args.iter().skip(1))
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)));
        let pty = if spec.tty {
            let pty = open_pty().map_err(|e| err(format!("allocating a terminal: {e}")))?;
            let slave = |p: &Pty| p.slave.try_clone().map(Stdio::from);
            let io = |e: io::Error| err(format!("allocating a terminal: {e}"));
            cmd.stdin(slave(&pty).map_err(io)?)
                .stdout(slave(&pty).map_err(io)?)
                .stderr(slave(&pty).map_err(io)?);
            Some(pty)
        } else {
            // A terminal's process leads its own session (below); others
            // lead their own process group, so signals reach the tree.
            cmd.stdin(if spec.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
            None
        };
        let cwd = CString::new(spec.cwd.as_bytes()).map_err(|e| err(e.to_string()))?;
        let engine_uid = rustix::process::geteuid().as_raw();
        let engine_gid = rustix::process::getegid().as_raw();
        if let Some(m) = isolation::user_problem(
            spec.args.first().map(String::as_str).unwrap_or(""),
            spec.user,
            spec.group,
            (engine_uid, engine_gid),
        ) {
            return Err(err(m));
        }
        let passwd = if spec.user.is_some() && spec.group.is_none() {
            std::fs::read_to_string("/etc/passwd").unwrap_or_default()
        } else {
            String::new()
        };
        // Only root switches users; a non-root engine runs only a spec that
        // names its own ids (checked above), as itself.
        let ids = isolation::ids(spec.user, spec.group, &spec.groups, &passwd, engine_uid)
            .filter(|_| self.root);
        // Every run is fenced off when the engine can (isolation.rs).
        let fence = match &self.fence {
            Some(mapper) => Some(Fence::prepare(spec, mapper, &self.dropped_caps).map_err(err)?),
            None => None,
        };
        let hostname = if fence.is_some() {
            spec.hostname.clone()
        } else {
            None
        };
        // The common case of a non-root engine (no cgroup, no namespace)
        // needs nothing between fork and exec, so std can use posix_spawn
        // (vfork): no page-table copy, and the supervisor's loop is blocked
        // for less time per start.
        let plain = proc_fds.is_empty()
            && fence.is_none()
            && ids.is_none()
            && hostname.is_none()
            && pty.is_none()
            && Path::new(&spec.cwd).is_dir();
        let tty = pty.is_some();
        let supervisor = std::process::id() as libc::pid_t;
        let fence_ref = fence.as_ref().map(|f| &f.child);
        if plain {
            cmd.current_dir(&spec.cwd);
        } else {
            let mut child = ChildSetup {
                supervisor,
                cgroup_fds: proc_fds,
                fence: fence_ref.cloned(),
                hostname,
                cwd,
                ids,
            };
            // SAFETY: the forking thread is the supervisor's only event-loop
            // thread; the closure makes system calls and small allocations.
            unsafe {
                cmd.pre_exec(move || {
                    child_setup(&mut child)?;
                    if tty {
                        controlling_terminal()?;
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().map_err(|e| {
            let e = e
                .to_string()
                .split(" (os error")
                .next()
                .unwrap_or_default()
                .to_lowercase();
            // The executable was resolved above, so a failure with set-up
            // work before exec is most likely that work (runc's wording).
            err(if plain {
                format!("exec: \"{}\": {e}", spec.path)
            } else {
                format!(
                    "error during container init (cgroups, namespaces, mounts, working directory) or exec of \"{}\": {e}",
                    spec.path
                )
            })
        })?;
        drop(procs);
        drop(fence);
        // The parent's copies of the terminal's slave side must go, or the
        // master never sees the end of the output.
        drop(cmd);
        let pid = child.id() as i32;
        match pty {
            Some(p) => {
                let master = |p: &Pty| p.master.try_clone().map_err(|e| err(e.to_string()));
                Ok(Spawned {
                    pid,
                    stdin: Some(master(&p)?),
                    stdout: Some(master(&p)?),
                    stderr: None,
                    pty: Some(p.master),
                    cgroup,
                })
            }
            None => Ok(Spawned {
                pid,
                stdin: child.stdin.take().map(OwnedFd::from),
                stdout: child.stdout.take().map(OwnedFd::from),
                stderr: child.stderr.take().map(OwnedFd::from),
                pty: None,
                cgroup,
            }),
        }
    }

    fn spawn_exec(
        &mut self,
        target: &ExecTarget,
        req: &StreamRequest,
    ) -> Result<Spawned, SpawnError> {
        let err = |message: String| SpawnError { message };
        let Some(program) = req.command.first() else {
            return Err(err("cmd must not be empty".into()));
        };
        // Enter only the namespaces the run does not share with us.
        let namespaces: Vec<OwnedFd> = ["user", "ipc", "uts", "net", "mnt"]
            .iter()
            .filter_map(|ns| foreign_namespace(target.pid, ns))
            .collect();
        let ns_fds: Vec<i32> = namespaces.iter().map(|f| f.as_raw_fd()).collect();
        let procs: Vec<std::fs::File> = target
            .cgroup_procs
            .iter()
            .filter_map(|p| std::fs::OpenOptions::new().write(true).open(p).ok())
            .collect();
        let proc_fds: Vec<i32> = procs.iter().map(|f| f.as_raw_fd()).collect();
        let ids = process_ids(target.pid);
        let cwd = CString::new(target.cwd.as_bytes()).map_err(|e| err(e.to_string()))?;
        let mut cmd = Command::new(program);
        cmd.args(&req.command[1..])
            .env_clear()
            .envs(target.env.iter().map(|(k, v)| (k, v)));
        let pty = if req.tty {
            let pty = open_pty().map_err(|e| err(format!("allocating a terminal: {e}")))?;
            let io = |e: io::Error| err(format!("allocating a terminal: {e}"));
            let slave = |p: &Pty| p.slave.try_clone().map(Stdio::from);
            cmd.stdin(slave(&pty).map_err(io)?)
                .stdout(slave(&pty).map_err(io)?)
                .stderr(slave(&pty).map_err(io)?);
            Some(pty)
        } else {
            let pipe = |on: bool| if on { Stdio::piped() } else { Stdio::null() };
            cmd.stdin(pipe(req.stdin))
                .stdout(pipe(req.stdout))
                .stderr(pipe(req.stderr))
                .process_group(0);
            None
        };
        let tty = pty.is_some();
        // An exec into a fenced run is fenced as the run is.
        let dropped = if !ns_fds.is_empty() {
            self.dropped_caps.clone()
        } else {
            Vec::new()
        };
        // SAFETY: the closure makes system calls only (see exec_setup).
        unsafe {
            cmd.pre_exec(move || exec_setup(&proc_fds, &ns_fds, &cwd, ids.as_ref(), &dropped, tty));
        }
        let mut child = cmd.spawn().map_err(|e| err(exec_error(program, &e)))?;
        drop(cmd);
        drop(namespaces);
        drop(procs);
        let pid = child.id() as i32;
        match pty {
            Some(p) => {
                let master = |p: &Pty| p.master.try_clone().map_err(|e| err(e.to_string()));
                Ok(Spawned {
                    pid,
                    stdin: Some(master(&p)?),
                    stdout: Some(master(&p)?),
                    stderr: None,
                    pty: Some(p.master),
                    cgroup: None,
                })
            }
            None => Ok(Spawned {
                pid,
                stdin: child.stdin.take().map(OwnedFd::from),
                stdout: child.stdout.take().map(OwnedFd::from),
                stderr: child.stderr.take().map(OwnedFd::from),
                pty: None,
                cgroup: None,
            }),
        }
    }

    fn kill(&mut self, pid: i32, signal: i32) -> io::Result<()> {
        // SAFETY: plain kill(2).
        if unsafe { libc::kill(pid, signal) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn cgroup_pids(&mut self, cgroup: &Handle) -> Vec<i32> {
        cgroup.pids()
    }

    fn cgroup_oom_killed(&mut self, cgroup: &Handle) -> bool {
        cgroup.oom_killed()
    }

    fn cgroup_remove(&mut self, cgroup: &Handle) -> bool {
        cgroup.remove()
    }

    fn now(&self) -> String {
        rfc3339_nano(chrono::Utc::now())
    }
}

/// One bind mount in a run's namespace. The source is a host path, taken
/// (`open_tree`) before anything is masked and attached (`move_mount`)
/// after: the data directory's volumes stay reachable only this way.
#[derive(Clone)]
struct Bind {
    source: CString,
    target: CString,
    read_only: bool,
    file: bool,
}

/// What a root engine's child does to fence a run off (`isolation.rs`),
/// prepared in the supervisor so the child only makes system calls.
#[derive(Clone)]
struct ChildFence {
    /// The hand-shake that makes the run's own user namespace (`userns.rs`).
    userns: userns::ChildEnds,
    hide: Option<CString>,
    /// The devices and `/dev/pts` first, then the volumes, then the
    /// working directory when it is inside the masked directory.
    binds: Vec<Bind>,
    /// The detached copies of `binds`' sources, filled in the child
    /// (capacity reserved here: the child does not allocate for them).
    trees: Vec<i32>,
    read_only: Vec<CString>,
    dropped_caps: Vec<u32>,
}

/// A [`ChildFence`] and its user namespace hand-shake, closed in the
/// supervisor once the spawn has returned.
struct Fence {
    child: ChildFence,
    _userns: Handshake,
}

impl Fence {
    fn prepare(spec: &StartSpec, mapper: &Mapper, dropped_caps: &[u32]) -> Result<Fence, String> {
        let c = |s: &str| CString::new(s.as_bytes()).map_err(|e| e.to_string());
        let mut binds = Vec::new();
        for (name, _, _) in isolation::DEVICES {
            let p = format!("/dev/{name}");
            if Path::new(&p).exists() {
                binds.push(Bind {
                    source: c(&p)?,
                    target: c(&p)?,
                    read_only: false,
                    file: true,
                });
            }
        }
        binds.push(Bind {
            source: c("/dev/pts")?,
            target: c("/dev/pts")?,
            read_only: false,
            file: false,
        });
        for (src, target, ro) in &spec.mounts {
            let file = std::fs::metadata(src)
                .map_err(|e| format!("error mounting volume source {src}: {e}"))?
                .is_file();
            binds.push(Bind {
                source: c(src)?,
                target: c(target)?,
                read_only: *ro,
                file,
            });
        }
        let hide = spec.hide.as_deref().filter(|h| !h.is_empty());
        // A working directory inside the masked data directory (the pod's
        // default one is) is bound back, unless a volume provides it.
        if let Some(h) = hide {
            let cwd = Path::new(&spec.cwd);
            let in_volume = spec
                .mounts
                .iter()
                .any(|(_, t, _)| isolation::is_under(Path::new(t), cwd));
            if isolation::is_under(Path::new(h), cwd) && !in_volume {
                // Like runc, create a missing working directory.
                std::fs::create_dir_all(cwd)
                    .map_err(|e| format!("working directory {}: {e}", cwd.display()))?;
                binds.push(Bind {
                    source: c(&spec.cwd)?,
                    target: c(&spec.cwd)?,
                    read_only: false,
                    file: false,
                });
            }
        }
        let userns = mapper
            .begin()
            .map_err(|e| format!("making the run's user namespace: {e}"))?;
        Ok(Fence {
            child: ChildFence {
                userns: userns.child,
                hide: hide.map(c).transpose()?,
                trees: Vec::with_capacity(binds.len()),
                binds,
                read_only: isolation::READ_ONLY_PATHS
                    .iter()
                    .filter(|p| Path::new(p).exists())
                    .map(|p| c(p))
                    .collect::<Result<_, _>>()?,
                dropped_caps: dropped_caps.to_vec(),
            },
            _userns: userns,
        })
    }
}

/// Everything the forked child needs, made before the fork.
struct ChildSetup {
    supervisor: libc::pid_t,
    cgroup_fds: Vec<i32>,
    fence: Option<ChildFence>,
    hostname: Option<String>,
    cwd: CString,
    ids: Option<Ids>,
}

/// `mount(2)` with C strings; `None` is NULL.
fn mount(
    source: Option<&std::ffi::CStr>,
    target: &std::ffi::CStr,
    fstype: Option<&std::ffi::CStr>,
    flags: libc::c_ulong,
    data: Option<&std::ffi::CStr>,
) -> io::Result<()> {
    let p = |s: Option<&std::ffi::CStr>| s.map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: NUL-terminated strings or NULL, as mount(2) takes them.
    let r = unsafe { libc::mount(p(source), target.as_ptr(), p(fstype), flags, p(data).cast()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the mount at `path` (and, `recursive`, every mount under it)
/// read-only, leaving its other flags: in a user namespace, a remount
/// that would clear a locked flag (`nosuid`, `nodev`) is refused.
fn set_read_only(path: &std::ffi::CStr, recursive: bool) -> io::Result<()> {
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr(2) reads one mount_attr of the given size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            if recursive { AT_RECURSIVE } else { 0 },
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if r == 0 {
        return Ok(());
    }
    // Kernels before 5.12: remount the top mount with its flags kept.
    // SAFETY: statvfs fills the struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
    for (st_flag, ms) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if st.f_flag & st_flag != 0 {
            flags |= ms;
        }
    }
    mount(None, path, None, flags, None)
}

/// Binds `path` onto itself and makes the whole tree read-only.
fn read_only_tree(path: &std::ffi::CStr) -> io::Result<()> {
    mount(Some(path), path, None, libc::MS_BIND | libc::MS_REC, None)?;
    set_read_only(path, true)
}

/// `open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)`: a detached copy of the
/// mount tree at `path`.
fn open_tree(path: &std::ffi::CStr) -> io::Result<i32> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    // SAFETY: open_tree(2) with a NUL-terminated path.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | AT_RECURSIVE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd as i32)
}

/// `move_mount`: attaches a detached tree at `target`.
fn move_mount(tree: i32, target: &std::ffi::CStr) -> io::Result<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    // SAFETY: move_mount(2) with an fd, an empty path and a target path.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree,
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The fence's mounts, in the run's new mount namespace.
fn fence_mounts(f: &mut ChildFence) -> io::Result<()> {
    let ctx = |what: &str, e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
    mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None)
        .map_err(|e| ctx("making / private", e))?;
    // Take every source while it is still visible.
    f.trees.clear();
    for b in &f.binds {
        let t = open_tree(&b.source).map_err(|e| ctx("taking a mount source", e))?;
        f.trees.push(t);
    }
    let nosuid = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    if let Some(h) = &f.hide {
        mount(
            Some(c"tmpfs"),
            h,
            Some(c"tmpfs"),
            nosuid,
            Some(c"mode=755,size=1m"),
        )
        .map_err(|e| ctx("masking the data directory", e))?;
    }
    // /dev: the devices a container gets, no disks.
    mount(
        Some(c"tmpfs"),
        c"/dev",
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_STRICTATIME,
        Some(c"mode=755,size=64k"),
    )
    .map_err(|e| ctx("mounting /dev", e))?;
    std::fs::create_dir("/dev/shm")?;
    mount(
        Some(c"shm"),
        c"/dev/shm",
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        Some(c"mode=1777,size=65536k"),
    )
    .map_err(|e| ctx("mounting /dev/shm", e))?;
    for (name, to) in isolation::DEV_LINKS {
        let _ = std::os::unix::fs::symlink(to, format!("/dev/{name}"));
    }
    for (b, tree) in f.binds.iter().zip(&f.trees) {
        let t = Path::new(std::ffi::OsStr::from_bytes(b.target.as_bytes()));
        // A file (a subPath into a ConfigMap volume, a device) is bound
        // onto a file, which is made as runc makes a missing mount point.
        if b.file {
            if let Some(parent) = t.parent() {
                std::fs::create_dir_all(parent)?;
            }
            if std::fs::symlink_metadata(t).is_err() {
                std::fs::File::create(t)?;
            }
        } else {
            std::fs::create_dir_all(t)?;
        }
        let what = || format!("mounting {}", t.display());
        move_mount(*tree, &b.target).map_err(|e| ctx(&what(), e))?;
        // SAFETY: closing our own descriptor.
        unsafe { libc::close(*tree) };
        if b.read_only {
            set_read_only(&b.target, false).map_err(|e| ctx(&what(), e))?;
        }
    }
    if let Some(h) = &f.hide {
        set_read_only(h, false).map_err(|e| ctx("masking the data directory", e))?;
    }
    for p in &f.read_only {
        read_only_tree(p).map_err(|e| ctx("read-only kernel paths", e))?;
    }
    Ok(())
}

/// Cuts the bounding set (so no exec, setuid binaries included, gets the
/// dropped capabilities back) and empties the inheritable and ambient sets.
fn drop_capabilities(dropped: &[u32]) -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    for c in dropped {
        // SAFETY: prctl with valid arguments; EINVAL for a capability the
        // kernel does not know is harmless.
        unsafe { libc::prctl(libc::PR_CAPBSET_DROP, *c as libc::c_ulong, 0, 0, 0) };
    }
    let mut h = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut d = [Data::default(); 2];
    // SAFETY: capget/capset with a v3 header read or write two Data.
    unsafe {
        if libc::syscall(libc::SYS_capget, &mut h as *mut Header, d.as_mut_ptr()) < 0 {
            return Err(io::Error::last_os_error());
        }
        d[0].inheritable = 0;
        d[1].inheritable = 0;
        if libc::syscall(libc::SYS_capset, &mut h as *mut Header, d.as_ptr()) < 0 {
            return Err(io::Error::last_os_error());
        }
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    Ok(())
}

/// `setgroups`, `setgid`, `setuid`, in that order (runc's `setupUser`).
fn switch_user(ids: &Ids) -> io::Result<()> {
    let groups: Vec<libc::gid_t> = ids.groups.clone();
    // SAFETY: async-signal-safe calls with valid arguments.
    unsafe {
        if libc::setgroups(groups.len(), groups.as_ptr()) < 0
            || libc::setgid(ids.gid) < 0
            || libc::setuid(ids.uid) < 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// What the forked child does before exec: die with the supervisor, join
/// the cgroups, enter private UTS/mount namespaces and fence itself off
/// (root), change directory, drop capabilities and switch user. (Runs
/// started through posix_spawn have no parent-death signal; a new
/// supervisor kills the process groups of runs it finds lost in the
/// journal.)
fn child_setup(c: &mut ChildSetup) -> io::Result<()> {
    // SAFETY: prctl with valid arguments.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    // The supervisor may have died between the fork and the prctl: then no
    // signal comes, and the run must not start untracked (the next
    // supervisor does not know it and the agent starts it again).
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } != c.supervisor {
        return Err(io::Error::other("the supervisor exited"));
    }
    cgroups::join_fds(&c.cgroup_fds)?;
    if let Some(f) = &c.fence {
        // SAFETY: the child is single-threaded, as unshare(CLONE_NEWUSER)
        // requires, and the supervisor holds the hand-shake's fds.
        unsafe { f.userns.enter()? };
    }
    let mut flags = 0;
    if c.hostname.is_some() {
        flags |= libc::CLONE_NEWUTS;
    }
    if c.fence.is_some() {
        flags |= libc::CLONE_NEWNS;
    }
    if flags != 0 {
        // SAFETY: see above.
        if unsafe { libc::unshare(flags) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if let Some(h) = &c.hostname {
        // SAFETY: see above.
        if unsafe { libc::sethostname(h.as_ptr().cast(), h.len()) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if let Some(f) = &mut c.fence {
        fence_mounts(f)?;
    }
    // SAFETY: see above.
    if unsafe { libc::chdir(c.cwd.as_ptr()) } < 0 {
        // Like runc, create a missing working directory.
        std::fs::create_dir_all(std::ffi::OsStr::from_bytes(c.cwd.as_bytes()))?;
        // SAFETY: see above.
        if unsafe { libc::chdir(c.cwd.as_ptr()) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if let Some(f) = &c.fence {
        drop_capabilities(&f.dropped_caps)?;
    }
    if let Some(ids) = &c.ids {
        switch_user(ids)?;
        // A change of user clears the parent-death signal.
        // SAFETY: see above.
        unsafe {
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
            if libc::getppid() != c.supervisor {
                return Err(io::Error::other("the supervisor exited"));
            }
        }
    }
    Ok(())
}

/// Go's `exec` wording for a command that cannot start, as runc reports it.
fn exec_error(program: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound if program.contains('/') => {
            format!("exec: \"{program}\": stat {program}: no such file or directory")
        }
        io::ErrorKind::NotFound => {
            format!("exec: \"{program}\": executable file not found in $PATH")
        }
        io::ErrorKind::PermissionDenied => format!("exec: \"{program}\": permission denied"),
        _ => format!(
            "exec: \"{program}\": {}",
            e.to_string()
                .split(" (os error")
                .next()
                .unwrap_or_default()
                .to_lowercase()
        ),
    }
}

/// `/proc/<pid>/ns/<ns>`, opened, when it is not our own namespace.
fn foreign_namespace(pid: i32, ns: &str) -> Option<OwnedFd> {
    use std::os::unix::fs::MetadataExt;
    let theirs = format!("/proc/{pid}/ns/{ns}");
    let a = std::fs::metadata(&theirs).ok()?;
    let b = std::fs::metadata(format!("/proc/self/ns/{ns}")).ok()?;
    if (a.dev(), a.ino()) == (b.dev(), b.ino()) {
        return None;
    }
    std::fs::File::open(theirs).ok().map(OwnedFd::from)
}

/// The effective uid, gid and supplementary groups of `pid`
/// (`/proc/<pid>/status`).
fn process_ids(pid: i32) -> Option<Ids> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u32> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let groups = status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))?
        .split_whitespace()
        .filter_map(|g| g.parse().ok())
        .collect();
    Some(Ids {
        uid: field("Uid:")?,
        gid: field("Gid:")?,
        groups,
    })
}

/// A pseudo-terminal pair.
pub(crate) struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Opens a pseudo-terminal (`posix_openpt`, as `openpty(3)` does).
pub(crate) fn open_pty() -> io::Result<Pty> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain libc calls on fds we own; ptsname_r writes into `name`.
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if m < 0 {
            return Err(io::Error::last_os_error());
        }
        let master = OwnedFd::from_raw_fd(m);
        if libc::grantpt(m) < 0 || libc::unlockpt(m) < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut name = [0 as libc::c_char; 128];
        let rc = libc::ptsname_r(m, name.as_mut_ptr(), name.len());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        let s = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if s < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Pty {
            master,
            slave: OwnedFd::from_raw_fd(s),
        })
    }
}

/// Sets a terminal's size (`TIOCSWINSZ`); the foreground job gets `SIGWINCH`.
pub(crate) fn set_window_size(fd: &impl AsRawFd, width: u16, height: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// In the child: a new session whose controlling terminal is stdin.
fn controlling_terminal() -> io::Result<()> {
    // SAFETY: async-signal-safe calls in a forked child.
    unsafe {
        if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// What an exec'd child does before exec: die with the supervisor, join
/// the run's cgroup and namespaces, change to its working directory (as
/// the run sees it), take its terminal or its own process group, and drop
/// to the run's user.
fn exec_setup(
    cgroup_fds: &[i32],
    ns_fds: &[i32],
    cwd: &CString,
    ids: Option<&Ids>,
    dropped_caps: &[u32],
    tty: bool,
) -> io::Result<()> {
    // SAFETY: async-signal-safe calls in a forked child.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    cgroups::join_fds(cgroup_fds)?;
    for fd in ns_fds {
        // SAFETY: see above.
        if unsafe { libc::setns(*fd, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: see above.
    if unsafe { libc::chdir(cwd.as_ptr()) } < 0 {
        // A working directory that went away: the root, as runc does.
        // SAFETY: see above.
        unsafe { libc::chdir(c"/".as_ptr()) };
    }
    if tty {
        controlling_terminal()?;
    }
    if !dropped_caps.is_empty() {
        drop_capabilities(dropped_caps)?;
    }
    if let Some(ids) = ids {
        // SAFETY: see above.
        let same = unsafe { ids.uid == libc::geteuid() && ids.gid == libc::getegid() };
        if !same {
            switch_user(ids)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_path_messages_follow_exec_lookpath() {
        assert_eq!(
            look_path("true", Some("/bin:/usr/bin"))
                .unwrap()
                .file_name()
                .unwrap(),
            "true"
        );
        assert_eq!(
            look_path("no-such-cmd-xyz", Some("/bin")).unwrap_err(),
            "exec: \"no-such-cmd-xyz\": executable file not found in $PATH"
        );
        assert_eq!(
            look_path("/nonexistent/x", None).unwrap_err(),
            "exec: \"/nonexistent/x\": stat /nonexistent/x: no such file or directory"
        );
    }
}
