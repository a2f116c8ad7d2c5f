//! How a process pod is fenced off from the engine and from other pods.
//!
//! A process pod runs on the host, so without care it could read the
//! engine's secrets: `DATA_DIR/pki`, `DATA_DIR/kubeconfig` (the admin
//! token) and `DATA_DIR/joblite.db` (every object, Secrets included), and
//! other pods' volumes under `DATA_DIR/node/volumes`. When the engine runs
//! as root, each run gets its own mount namespace in which (see
//! `sys.rs`, which makes the calls):
//!
//! - a read-only tmpfs covers the engine's data directory; the run's own
//!   volumes and working directory are bound back at the paths it sees;
//! - `/dev` is a fresh tmpfs with the devices a container gets (`null`,
//!   `zero`, `full`, `random`, `urandom`, `tty`, `pts`, a private `shm`), so
//!   no disk device is reachable; `/sys`, `/proc/sys` and
//!   `/proc/sysrq-trigger` are read-only, as runc mounts them;
//! - the capability bounding set is cut to containerd's default set less
//!   `CAP_MKNOD` ([`KEPT_CAPABILITIES`]): without `CAP_SYS_ADMIN` a root pod
//!   cannot unmount the mask, and without `CAP_SYS_PTRACE` (and with fewer
//!   capabilities than the engine) it cannot reach the engine's files
//!   through `/proc/<pid>/root` or `/proc/<pid>/fd`;
//! - then the run drops to `runAsUser`/`runAsGroup` when the pod asks.
//!
//! An engine that is not root cannot make mount namespaces nor switch
//! users: its pods run as its own user, and a pod that asks for another
//! user is refused ([`user_problem`]) rather than run as the wrong one.
//!
//! This file holds the decisions, free of system calls, so they are
//! unit-tested without root.

use std::path::Path;

/// Linux capability numbers (`linux/capability.h`).
pub mod cap {
    pub const CHOWN: u32 = 0;
    pub const DAC_OVERRIDE: u32 = 1;
    pub const FOWNER: u32 = 3;
    pub const FSETID: u32 = 4;
    pub const KILL: u32 = 5;
    pub const SETGID: u32 = 6;
    pub const SETUID: u32 = 7;
    pub const SETPCAP: u32 = 8;
    pub const NET_BIND_SERVICE: u32 = 10;
    pub const NET_RAW: u32 = 13;
    pub const SYS_CHROOT: u32 = 18;
    pub const SYS_PTRACE: u32 = 19;
    pub const SYS_ADMIN: u32 = 21;
    pub const MKNOD: u32 = 27;
    pub const AUDIT_WRITE: u32 = 29;
    pub const SETFCAP: u32 = 31;
}

/// The capabilities a root process pod keeps: containerd's default set
/// (`oci.WithDefaultSpec`, the same as Docker's) without `CAP_MKNOD`,
/// which a container may keep only because its device cgroup forbids
/// opening the nodes it makes; a process pod has no device cgroup.
pub const KEPT_CAPABILITIES: &[u32] = &[
    cap::CHOWN,
    cap::DAC_OVERRIDE,
    cap::FSETID,
    cap::FOWNER,
    cap::NET_RAW,
    cap::SETGID,
    cap::SETUID,
    cap::SETFCAP,
    cap::SETPCAP,
    cap::NET_BIND_SERVICE,
    cap::SYS_CHROOT,
    cap::KILL,
    cap::AUDIT_WRITE,
];

/// The capabilities to drop from the bounding set, up to the kernel's
/// last one (`/proc/sys/kernel/cap_last_cap`).
pub fn dropped_capabilities(cap_last: u32) -> Vec<u32> {
    (0..=cap_last)
        .filter(|c| !KEPT_CAPABILITIES.contains(c))
        .collect()
}

/// The character devices of a run's `/dev`: name, major, minor (runc's
/// `DefaultSimpleDevices` plus `tty`).
pub const DEVICES: &[(&str, u32, u32)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The symbolic links of a run's `/dev`, as runc makes them.
pub const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

/// Kernel interfaces a root run sees read-only (runc's `readonlyPaths` and
/// its read-only sysfs).
pub const READ_ONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/sys",
];

/// Whether `path` is `dir` or inside it (by components, not by prefix:
/// `/data2` is not inside `/data`).
pub fn is_under(dir: &Path, path: &Path) -> bool {
    path.starts_with(dir)
}

/// The user and groups a run executes as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// The ids of a run that sets `user` and/or `group`; `None` keeps the
/// engine's. As containerd's `WithUser`: a user with no group takes its
/// primary group from `/etc/passwd` (the host's, the process runtime's
/// "image"), else 0; a group with no user keeps the engine's user.
pub fn ids(
    user: Option<u32>,
    group: Option<u32>,
    groups: &[u32],
    passwd: &str,
    engine_uid: u32,
) -> Option<Ids> {
    if user.is_none() && group.is_none() {
        return None;
    }
    let uid = user.unwrap_or(engine_uid);
    let gid = group.or_else(|| primary_gid(passwd, uid)).unwrap_or(0);
    let mut gs: Vec<u32> = Vec::new();
    for g in groups {
        if !gs.contains(g) {
            gs.push(*g);
        }
    }
    Some(Ids {
        uid,
        gid,
        groups: gs,
    })
}

/// The primary group of `uid` in an `/etc/passwd` text.
pub fn primary_gid(passwd: &str, uid: u32) -> Option<u32> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && f[2].parse::<u32>().ok() == Some(uid))
            .then(|| f[3].parse().ok())
            .flatten()
    })
}

/// Why an engine running as `engine` (uid, gid; root or not) cannot run
/// a container as `user`/`group`, if it cannot. Only root can switch
/// users; a non-root engine runs a pod that names its own ids.
pub fn user_problem(
    container: &str,
    user: Option<u32>,
    group: Option<u32>,
    engine: (u32, u32),
) -> Option<String> {
    if engine.0 == 0 {
        return None;
    }
    let (field, id) = match (user, group) {
        (Some(u), _) if u != engine.0 => ("runAsUser", u),
        (_, Some(g)) if g != engine.1 => ("runAsGroup", g),
        _ => return None,
    };
    let what = if field == "runAsUser" {
        "user"
    } else {
        "group"
    };
    Some(format!(
        "cannot run container {container:?} as {what} {id} ({field}): joblite is not running as root (uid {}, gid {}), and the process runtime can only switch users as root; run joblite as root, drop {field}, or use the container runtime",
        engine.0, engine.1
    ))
}

/// A `runAsUser`/`runAsGroup` value as an id: upstream validation
/// (`ValidateSecurityContext`) bounds them to `0..=2147483647`.
pub fn id_value(field: &str, v: i64) -> Result<u32, String> {
    if (0..=i64::from(i32::MAX)).contains(&v) {
        Ok(v as u32)
    } else {
        Err(format!(
            "{field}: Invalid value: {v}: must be between 0 and 2147483647, inclusive"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_pods_lose_the_capabilities_that_reach_the_engine() {
        let dropped = dropped_capabilities(40);
        for c in [cap::SYS_ADMIN, cap::SYS_PTRACE, cap::MKNOD] {
            assert!(dropped.contains(&c), "{c}");
        }
        for c in KEPT_CAPABILITIES {
            assert!(!dropped.contains(c));
        }
        assert_eq!(dropped.len() + KEPT_CAPABILITIES.len(), 41);
    }

    #[test]
    fn under_is_by_component() {
        assert!(is_under(Path::new("/d"), Path::new("/d/node/x")));
        assert!(is_under(Path::new("/d"), Path::new("/d")));
        assert!(!is_under(Path::new("/d"), Path::new("/d2/x")));
    }

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nbad\n";

    #[test]
    fn a_user_without_a_group_takes_its_passwd_group_else_root() {
        assert_eq!(ids(None, None, &[5], PASSWD, 0), None);
        assert_eq!(
            ids(Some(65534), None, &[], PASSWD, 0),
            Some(Ids {
                uid: 65534,
                gid: 65534,
                groups: vec![]
            })
        );
        assert_eq!(ids(Some(1000), None, &[], PASSWD, 0).unwrap().gid, 0);
        assert_eq!(
            ids(Some(1000), Some(3000), &[4, 4, 5], PASSWD, 0),
            Some(Ids {
                uid: 1000,
                gid: 3000,
                groups: vec![4, 5]
            })
        );
        // A group alone keeps the engine's user, as the container runtime
        // keeps the image's.
        assert_eq!(ids(None, Some(7), &[], PASSWD, 0).unwrap().uid, 0);
    }

    #[test]
    fn only_root_switches_users() {
        assert_eq!(user_problem("c", Some(1000), Some(7), (0, 0)), None);
        assert_eq!(user_problem("c", Some(500), None, (500, 500)), None);
        assert_eq!(user_problem("c", None, None, (500, 500)), None);
        let m = user_problem("c", Some(1000), None, (500, 500)).unwrap();
        assert!(
            m.starts_with("cannot run container \"c\" as user 1000 (runAsUser): joblite is not running as root (uid 500"),
            "{m}"
        );
        let m = user_problem("c", Some(500), Some(1), (500, 500)).unwrap();
        assert!(m.contains("as group 1 (runAsGroup)"), "{m}");
    }

    #[test]
    fn ids_are_bounded_as_upstream_validates_them() {
        assert_eq!(id_value("runAsUser", 1000), Ok(1000));
        assert!(id_value("runAsUser", -1).is_err());
        assert!(id_value("runAsGroup", 1 << 31).is_err());
    }
}
