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
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc;

/// A uid map and a gid map, as written to `/proc/<pid>/{uid,gid}_map`.
pub(crate) type IdMap = (String, String);

/// Writes `pid`'s maps; `pid` has just made its user namespace.
fn write_maps(pid: i32, map: &IdMap) -> io::Result<()> {
    std::fs::write(format!("/proc/{pid}/uid_map"), &map.0)?;
    if !rustix::process::geteuid().is_root() {
        // An unprivileged map of the group needs setgroups off.
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")?;
    }
    std::fs::write(format!("/proc/{pid}/gid_map"), &map.1)
}

/// Two `O_CLOEXEC` pipe ends: (read, write).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two fds, which we then own.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

/// A new user namespace with `map`, held by the returned descriptor, made
/// by a short-lived child. The supervisor's start-up check that it can
/// fence runs uses it; runs use [`Mapper`].
pub(crate) fn new_user_namespace(map: &IdMap) -> io::Result<OwnedFd> {
    let (ready_r, ready_w) = pipe()?;
    let (done_r, done_w) = pipe()?;
    // SAFETY: the forked child only makes async-signal-safe calls
    // (close, unshare, write, read, _exit).
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: see above; only the supervisor's ends keep the pipes open.
        unsafe {
            libc::close(ready_r.as_raw_fd());
            libc::close(done_w.as_raw_fd());
            let errno = unshare_errno();
            libc::write(ready_w.as_raw_fd(), (&errno as *const u8).cast(), 1);
            let mut b = 0u8;
            libc::read(done_r.as_raw_fd(), (&mut b as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    drop(ready_w);
    drop(done_r);
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    let result = (|| {
        let mut errno = [0u8];
        if (&std::fs::File::from(ready_r))
            .read_exact(&mut errno)
            .is_err()
        {
            return Err(io::Error::other(
                "unshare(CLONE_NEWUSER): the helper process died",
            ));
        }
        if errno[0] != 0 {
            let e = io::Error::from_raw_os_error(errno[0].into());
            return Err(io::Error::other(format!(
                "unshare(CLONE_NEWUSER) failed: {e}"
            )));
        }
        write_maps(pid, map)?;
        std::fs::File::open(format!("/proc/{pid}/ns/user")).map(OwnedFd::from)
    })();
    drop(done_w);
    let mut status = 0;
    // SAFETY: reaps our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    result
}

/// `unshare(CLONE_NEWUSER)`: 0, or the errno (they all fit in a byte).
///
/// # Safety
/// Async-signal-safe; callable between fork and exec.
unsafe fn unshare_errno() -> u8 {
    // SAFETY: plain unshare(2).
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } == 0 {
        0
    } else {
        io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(0)
            .clamp(1, 255) as u8
    }
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
                    let status = match write_maps(i32::from_ne_bytes(pid), &map) {
                        Ok(()) => 0,
                        Err(e) => e.raw_os_error().unwrap_or(libc::EPERM).clamp(1, 255) as u8,
                    };
                    let _ = (&std::fs::File::from(job.go)).write_all(&[status]);
                }
            })?;
        Ok(Mapper { jobs })
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
            let errno = unshare_errno();
            if errno != 0 {
                return Err(io::Error::from_raw_os_error(errno.into()));
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
