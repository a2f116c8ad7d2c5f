//! Each fenced run's own user namespace (`isolation.rs`).
//!
//! A root engine maps every id to itself: files and `runAsUser` behave as
//! on the host, but the run's capabilities hold only in its own namespace,
//! so it cannot reach the engine's or another run's processes through
//! `/proc/<pid>/root`, `/fd` or `ptrace`. A non-root engine maps only its
//! own ids (all an unprivileged process may map), which is enough to mount
//! the fence.
//!
//! The run's forked child makes its namespace itself (`unshare`) and the
//! [`Mapper`], a thread of the supervisor, writes the id maps: a process
//! cannot map ids outside its own namespace, and the supervisor's loop
//! thread is blocked in `spawn` until the child execs. So a run costs one
//! fork. A helper process per namespace cost a second one: a page-table
//! copy, and a write fault on each supervisor page touched afterwards.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc;

/// A uid map and a gid map, as written to `/proc/<pid>/{uid,gid}_map`.
type IdMap = (String, String);

/// Writes `pid`'s maps; `pid` has just made its user namespace. An
/// unprivileged map of the group needs `setgroups` off first.
fn write_maps(pid: i32, map: &IdMap, deny_setgroups: bool) -> io::Result<()> {
    std::fs::write(format!("/proc/{pid}/uid_map"), &map.0)?;
    if deny_setgroups {
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")?;
    }
    std::fs::write(format!("/proc/{pid}/gid_map"), &map.1)
}

/// Two `O_CLOEXEC` pipe ends: (read, write).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}

/// One run's hand-shake, supervisor side.
struct Job {
    /// The child writes its pid here once it has unshared.
    ready: OwnedFd,
    /// The mapper answers here: 0, or the errno of the failed map.
    go: OwnedFd,
}

/// The thread that maps each run's new user namespace.
pub(crate) struct Mapper {
    jobs: mpsc::Sender<Job>,
}

impl Mapper {
    pub(crate) fn start(map: IdMap) -> io::Result<Mapper> {
        let deny_setgroups = !rustix::process::geteuid().is_root();
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("userns-mapper".into())
            .spawn(move || {
                for job in rx {
                    let mut pid = [0u8; 4];
                    // End of file: the child failed (or was never forked)
                    // before it unshared; its spawn reports why.
                    if (&std::fs::File::from(job.ready))
                        .read_exact(&mut pid)
                        .is_err()
                    {
                        continue;
                    }
                    let status = match write_maps(i32::from_ne_bytes(pid), &map, deny_setgroups) {
                        Ok(()) => 0,
                        Err(e) => e.raw_os_error().unwrap_or(libc::EPERM).clamp(1, 255) as u8,
                    };
                    let _ = (&std::fs::File::from(job.go)).write_all(&[status]);
                }
            })?;
        Ok(Mapper { jobs })
    }

    /// Checks that a child can make a user namespace that this mapper maps
    /// (unprivileged user namespaces may be off: a sysctl, an LSM).
    pub(crate) fn probe(&self) -> io::Result<()> {
        let handshake = self.begin()?;
        // SAFETY: the child makes only async-signal-safe calls (`enter`,
        // `_exit`); the parent keeps the hand-shake until it has reaped it.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: see above.
            unsafe {
                let code = match handshake.child.enter() {
                    Ok(()) => 0,
                    Err(e) => e.raw_os_error().unwrap_or(libc::EPERM).clamp(1, 255),
                };
                libc::_exit(code);
            }
        }
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut status = 0;
        // SAFETY: reaps our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        drop(handshake);
        match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
            Some(0) => Ok(()),
            Some(errno) => Err(io::Error::from_raw_os_error(errno)),
            None => Err(io::Error::other("the probe process was killed")),
        }
    }

    /// Prepares the hand-shake of the next run. The caller keeps the
    /// returned value until the spawn has returned (its end of file tells
    /// the mapper that a child failed early); the child calls
    /// [`ChildEnds::enter`] on [`Handshake::child`].
    pub(crate) fn begin(&self) -> io::Result<Handshake> {
        let (ready_r, ready_w) = pipe()?;
        let (go_r, go_w) = pipe()?;
        let child = ChildEnds {
            ready: ready_w.as_raw_fd(),
            go: go_r.as_raw_fd(),
            theirs: [ready_r.as_raw_fd(), go_w.as_raw_fd()],
        };
        self.jobs
            .send(Job {
                ready: ready_r,
                go: go_w,
            })
            .map_err(|_| io::Error::other("the user namespace mapper thread is gone"))?;
        Ok(Handshake {
            _ends: [ready_w, go_r],
            child,
        })
    }
}

/// The child's ends of a hand-shake, owned by the supervisor (closed on
/// exec in the child).
pub(crate) struct Handshake {
    _ends: [OwnedFd; 2],
    pub(crate) child: ChildEnds,
}

/// The numbers the forked child uses.
#[derive(Clone, Copy)]
pub(crate) struct ChildEnds {
    ready: i32,
    go: i32,
    /// The mapper's ends: the child closes its copies.
    theirs: [i32; 2],
}

impl ChildEnds {
    /// In the forked child: makes the run's user namespace and waits until
    /// the mapper has written its maps.
    ///
    /// # Safety
    /// Only between fork and exec, in a single-threaded child, while the
    /// supervisor holds the [`Handshake`] (so these numbers are its fds).
    pub(crate) unsafe fn enter(&self) -> io::Result<()> {
        // SAFETY: async-signal-safe calls on descriptors this child holds.
        unsafe {
            for fd in self.theirs {
                libc::close(fd);
            }
            if libc::unshare(libc::CLONE_NEWUSER) < 0 {
                return Err(io::Error::last_os_error());
            }
            let pid = libc::getpid().to_ne_bytes();
            if libc::write(self.ready, pid.as_ptr().cast(), 4) != 4 {
                return Err(io::Error::last_os_error());
            }
            let mut status = 0u8;
            if libc::read(self.go, (&mut status as *mut u8).cast(), 1) != 1 {
                return Err(io::Error::other(
                    "the supervisor did not map the run's user namespace",
                ));
            }
            if status != 0 {
                return Err(io::Error::from_raw_os_error(status.into()));
            }
        }
        Ok(())
    }
}
