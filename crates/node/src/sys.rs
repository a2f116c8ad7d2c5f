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
use crate::protocol::{StartSpec, StreamRequest};

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
}

impl RealSys {
    pub(crate) fn new() -> RealSys {
        RealSys {
            cgroups: Cgroups::detect(),
            root: rustix::process::geteuid().is_root(),
        }
    }
}

impl Default for RealSys {
    fn default() -> Self {
        Self::new()
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
        if !spec.mounts.is_empty() && !self.root {
            return Err(err(
                "emptyDir volume mounts need root: the process runtime mounts them in a private mount namespace".into(),
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
        let ns_mounts: Vec<(CString, CString, bool)> = if self.root {
            spec.mounts
                .iter()
                .filter_map(|(s, t, ro)| {
                    Some((
                        CString::new(s.as_bytes()).ok()?,
                        CString::new(t.as_bytes()).ok()?,
                        *ro,
                    ))
                })
                .collect()
        } else {
            Vec::new()
        };
        let hostname = if self.root {
            spec.hostname.clone()
        } else {
            None
        };
        // The common case (no cgroup, no namespace) needs nothing between
        // fork and exec, so std can use posix_spawn (vfork): no page-table
        // copy, and the supervisor's loop is blocked for less time per start.
        let plain = proc_fds.is_empty()
            && ns_mounts.is_empty()
            && hostname.is_none()
            && pty.is_none()
            && Path::new(&spec.cwd).is_dir();
        let tty = pty.is_some();
        let supervisor = std::process::id() as libc::pid_t;
        if plain {
            cmd.current_dir(&spec.cwd);
        } else {
            // SAFETY: the forking thread is the supervisor's only event-loop
            // thread; the closure makes system calls and small allocations.
            unsafe {
                cmd.pre_exec(move || {
                    child_setup(supervisor, &proc_fds, &ns_mounts, hostname.as_deref(), &cwd)?;
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
        let namespaces: Vec<OwnedFd> = ["ipc", "uts", "net", "mnt"]
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
        // SAFETY: the closure makes system calls only (see exec_setup).
        unsafe {
            cmd.pre_exec(move || exec_setup(&proc_fds, &ns_fds, &cwd, ids, tty));
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

/// What the forked child does before exec: die with the supervisor, join the
/// cgroups, enter private UTS/mount namespaces (root), bind the volumes and
/// change directory. (Runs started through posix_spawn have no parent-death
/// signal; a new supervisor kills the process groups of runs it finds lost
/// in the journal.)
fn child_setup(
    supervisor: libc::pid_t,
    cgroup_fds: &[i32],
    mounts: &[(CString, CString, bool)],
    hostname: Option<&str>,
    cwd: &CString,
) -> io::Result<()> {
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
    if unsafe { libc::getppid() } != supervisor {
        return Err(io::Error::other("the supervisor exited"));
    }
    cgroups::join_fds(cgroup_fds)?;
    let mut flags = 0;
    if hostname.is_some() {
        flags |= libc::CLONE_NEWUTS;
    }
    if !mounts.is_empty() {
        flags |= libc::CLONE_NEWNS;
    }
    if flags != 0 {
        // SAFETY: see above.
        if unsafe { libc::unshare(flags) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if let Some(h) = hostname {
        // SAFETY: see above.
        if unsafe { libc::sethostname(h.as_ptr().cast(), h.len()) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if !mounts.is_empty() {
        let root = c"/";
        // SAFETY: see above.
        unsafe {
            if libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) < 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        for (src, target, ro) in mounts {
            let t = Path::new(std::ffi::OsStr::from_bytes(target.as_bytes()));
            // A file (a subPath into a ConfigMap volume) is bound onto a
            // file, which is made as runc makes a missing mount point.
            let file = std::fs::metadata(std::ffi::OsStr::from_bytes(src.as_bytes()))
                .is_ok_and(|m| !m.is_dir());
            if file {
                if let Some(parent) = t.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                if std::fs::symlink_metadata(t).is_err() {
                    std::fs::File::create(t)?;
                }
            } else {
                std::fs::create_dir_all(t)?;
            }
            // SAFETY: see above.
            unsafe {
                if libc::mount(
                    src.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ) < 0
                {
                    return Err(io::Error::last_os_error());
                }
                if *ro
                    && libc::mount(
                        std::ptr::null(),
                        target.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
                        std::ptr::null(),
                    ) < 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
        }
    }
    // SAFETY: see above.
    if unsafe { libc::chdir(cwd.as_ptr()) } < 0 {
        // Like runc, create a missing working directory.
        std::fs::create_dir_all(std::ffi::OsStr::from_bytes(cwd.as_bytes()))?;
        // SAFETY: see above.
        if unsafe { libc::chdir(cwd.as_ptr()) } < 0 {
            return Err(io::Error::last_os_error());
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

/// The effective uid and gid of `pid` (`/proc/<pid>/status`).
fn process_ids(pid: i32) -> Option<(u32, u32)> {
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
    Some((field("Uid:")?, field("Gid:")?))
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
    ids: Option<(u32, u32)>,
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
    if let Some((uid, gid)) = ids {
        // SAFETY: see above.
        unsafe {
            if gid != libc::getegid()
                && (libc::setgroups(0, std::ptr::null()) < 0 || libc::setgid(gid) < 0)
            {
                return Err(io::Error::last_os_error());
            }
            if uid != libc::geteuid() && libc::setuid(uid) < 0 {
                return Err(io::Error::last_os_error());
            }
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
