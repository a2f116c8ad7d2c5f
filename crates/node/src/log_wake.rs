//! Wakes a log follower (`logs -f`) when its file changes, rather than on a
//! timer: an idle follower costs nothing.
//!
//! A follower owns one inotify instance with two watches: the file it reads
//! (appends, the chmod that marks the run complete, its rename by
//! `log_rotation.rs`, its removal) and the log directory, for creations
//! only (the file appearing, or a rotation's new file), so other pods'
//! writes never wake it. The watch on the file is renewed by path before
//! each read: whatever changes after that read queues an event, so no
//! change is missed between a read and the wait.
//!
//! When inotify is unavailable (the per-user instance limit, a directory
//! that does not exist yet) the follower polls every [`POLL`] instead, as
//! it always did.
//!
//! Unsafe code: registering the inotify descriptor with tokio's reactor
//! (`AsyncFd::register_with_interest`), which asks the caller to vouch that
//! the descriptor stays open; the `AsyncFd` owns it.
#![allow(unsafe_code)]

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The poll interval when inotify cannot watch: a poll is an open, a seek
/// and a read, and at 10 ms a line shows in about 10 ms at the median.
pub(crate) const POLL: Duration = Duration::from_millis(10);

/// What changes of the followed file wake it.
fn file_mask() -> WatchFlags {
    WatchFlags::MODIFY
        | WatchFlags::ATTRIB
        | WatchFlags::CLOSE_WRITE
        | WatchFlags::MOVE_SELF
        | WatchFlags::DELETE_SELF
}

/// What changes of the log directory wake it: a file appearing in it.
fn dir_mask() -> WatchFlags {
    WatchFlags::CREATE | WatchFlags::MOVED_TO | WatchFlags::ONLYDIR
}

/// One follower's waker.
pub(crate) struct LogWaker {
    fd: Option<AsyncFd<OwnedFd>>,
    dir_watched: bool,
    file_wd: Option<i32>,
    /// Whether the last [`arm`](Self::arm) set up every watch it needs;
    /// otherwise [`wait`](Self::wait) polls.
    armed: bool,
}

impl LogWaker {
    pub(crate) fn new() -> LogWaker {
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)
            .ok()
            // SAFETY: the AsyncFd owns the OwnedFd, so the descriptor stays
            // open and the same until the AsyncFd is dropped.
            .and_then(|fd| unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.ok());
        LogWaker {
            fd,
            dir_watched: false,
            file_wd: None,
            armed: false,
        }
    }

    /// Watches `path` as it is now (and its directory), before the
    /// follower reads it.
    pub(crate) fn arm(&mut self, path: &Path) {
        self.armed = false;
        let Some(fd) = &self.fd else { return };
        if !self.dir_watched {
            let Some(dir) = path.parent() else { return };
            if inotify::add_watch(fd.get_ref(), dir, dir_mask()).is_err() {
                return;
            }
            self.dir_watched = true;
        }
        match inotify::add_watch(fd.get_ref(), path, file_mask()) {
            Ok(wd) => {
                // A rotated file's watch is dropped once the name is the
                // new file's.
                if let Some(old) = self.file_wd.replace(wd).filter(|o| *o != wd) {
                    let _ = inotify::remove_watch(fd.get_ref(), old);
                }
            }
            // Not there yet: its creation wakes us through the directory.
            Err(rustix::io::Errno::NOENT) => {}
            Err(_) => return,
        }
        self.armed = true;
    }

    /// Waits until something armed for changes (or one poll interval when
    /// nothing could be armed).
    pub(crate) async fn wait(&mut self) {
        let Some(fd) = self.fd.as_ref().filter(|_| self.armed) else {
            tokio::time::sleep(POLL).await;
            return;
        };
        loop {
            let Ok(mut guard) = fd.readable().await else {
                tokio::time::sleep(POLL).await;
                return;
            };
            // Which event does not matter: the follower reads again.
            let mut buf = [0u8; 4096];
            let mut any = false;
            loop {
                match rustix::io::read(fd.get_ref(), &mut buf) {
                    Ok(n) if n > 0 => any = true,
                    Err(rustix::io::Errno::INTR) => {}
                    _ => break,
                }
            }
            guard.clear_ready();
            if any {
                return;
            }
        }
    }

    /// Whether changes wake this follower (rather than a poll).
    #[cfg(test)]
    pub(crate) fn watching(&self) -> bool {
        self.armed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Instant;

    /// Waits with a bound: an event that never comes fails the test rather
    /// than hanging it.
    async fn woken(w: &mut LogWaker) -> bool {
        tokio::time::timeout(Duration::from_secs(10), w.wait())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn an_append_a_chmod_a_rotation_and_a_creation_wake_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p_c_0.log");
        let mut w = LogWaker::new();

        // Not there yet: the directory's watch sees it created.
        w.arm(&path);
        assert!(w.watching());
        std::fs::write(&path, "a\n").unwrap();
        assert!(woken(&mut w).await);

        // An append.
        w.arm(&path);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"b\n")
            .unwrap();
        assert!(woken(&mut w).await);

        // A rotation: the old file is renamed, a new one created.
        w.arm(&path);
        std::fs::rename(&path, dir.path().join("p_c_0.log.1")).unwrap();
        assert!(woken(&mut w).await);
        w.arm(&path);
        std::fs::write(&path, "c\n").unwrap();
        assert!(woken(&mut w).await);

        // The run completes: its file turns read-only.
        w.arm(&path);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o440)).unwrap();
        assert!(woken(&mut w).await);
    }

    #[tokio::test]
    async fn nothing_changing_does_not_wake_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p_c_0.log");
        std::fs::write(&path, "a\n").unwrap();
        let mut w = LogWaker::new();
        w.arm(&path);
        assert!(w.watching());
        // Another pod's log being written is not a change of ours.
        let other = dir.path().join("q_c_0.log");
        std::fs::write(&other, "x\n").unwrap();
        // Its creation wakes us once (a creation in the directory); its
        // writes afterwards do not.
        let _ = tokio::time::timeout(Duration::from_millis(50), w.wait()).await;
        w.arm(&path);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&other)
            .unwrap()
            .write_all(b"y\n")
            .unwrap();
        let t0 = Instant::now();
        let r = tokio::time::timeout(Duration::from_millis(200), w.wait()).await;
        assert!(r.is_err(), "woken after {:?}", t0.elapsed());
    }

    #[tokio::test]
    async fn without_a_directory_it_polls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("p_c_0.log");
        let mut w = LogWaker::new();
        w.arm(&path);
        assert!(!w.watching());
        // A poll interval, not forever.
        assert!(woken(&mut w).await);
    }
}
