//! Resource limits through cgroups, whatever layout the host has.
//!
//! Hosts come as pure v2, pure v1, or hybrid (v1 controllers plus an empty
//! v2 tree, as on these machines). So the layout is detected per controller
//! at start: memory and cpu each go to the hierarchy that actually has them,
//! never assuming v2. Cgroups are created under the supervisor's own cgroup
//! of each hierarchy (`…/joblite/<run id>`), only for containers that carry
//! limits: a cgroup costs a mkdir and an rmdir, which a 10,000-pod job of
//! `/bin/true` should not pay.

// Writes a pid between fork and exec, where only raw syscalls are safe.
#![allow(unsafe_code)]

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Which cgroup version a controller lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// One controller's hierarchy: where joblite's cgroups go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    pub version: Version,
    /// `<mount>/<own cgroup>/joblite`.
    pub base: PathBuf,
}

/// The detected layout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cgroups {
    pub memory: Option<Controller>,
    pub cpu: Option<Controller>,
    /// Why limits cannot be enforced, when they cannot.
    pub unavailable: Option<String>,
}

/// The cgroup directories of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handle {
    pub dirs: Vec<(Version, PathBuf)>,
}

impl Cgroups {
    /// Detects the layout from `/proc/self/mountinfo` and `/proc/self/cgroup`
    /// and checks that joblite's base cgroups can be created.
    pub fn detect() -> Cgroups {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mut cg = Self::from_tables(&mountinfo, &own);
        let mut failures = Vec::new();
        for c in [&cg.memory, &cg.cpu].into_iter().flatten() {
            if let Err(e) = fs::create_dir_all(&c.base) {
                failures.push(format!("{}: {e}", c.base.display()));
            }
        }
        if cg.memory.is_none() && cg.cpu.is_none() {
            cg.unavailable = Some("no memory or cpu cgroup controller is mounted".into());
        } else if !failures.is_empty() {
            cg.unavailable = Some(format!(
                "cgroups are not writable ({})",
                failures.join("; ")
            ));
            cg.memory = None;
            cg.cpu = None;
        } else if let Some(c) = cg.memory.as_ref().filter(|c| c.version == Version::V2) {
            // v2 needs the controllers enabled in the parent's subtree.
            let _ = fs::write(c.base.join("cgroup.subtree_control"), "+memory +cpu");
        }
        cg
    }

    /// Pure part of [`detect`]: mountinfo and /proc/self/cgroup contents.
    pub fn from_tables(mountinfo: &str, own: &str) -> Cgroups {
        let mut v1: Vec<(Vec<String>, PathBuf)> = Vec::new();
        let mut v2: Option<PathBuf> = None;
        for line in mountinfo.lines() {
            // `id parent major:minor root mountpoint opts - fstype source superopts`
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mount = left.split(' ').nth(4).unwrap_or("");
            let mut r = right.split(' ');
            let fstype = r.next().unwrap_or("");
            let _source = r.next();
            let superopts = r.next().unwrap_or("");
            match fstype {
                "cgroup2" => v2 = Some(PathBuf::from(mount)),
                "cgroup" => v1.push((
                    superopts.split(',').map(str::to_string).collect(),
                    PathBuf::from(mount),
                )),
                _ => {}
            }
        }
        let own_path = |ctl: Option<&str>| -> String {
            for line in own.lines() {
                let mut p = line.splitn(3, ':');
                let _id = p.next();
                let ctls = p.next().unwrap_or("");
                let path = p.next().unwrap_or("/");
                match ctl {
                    None if ctls.is_empty() => return path.to_string(),
                    Some(c) if ctls.split(',').any(|x| x == c) => return path.to_string(),
                    _ => {}
                }
            }
            "/".to_string()
        };
        let join =
            |mount: &Path, rel: &str| mount.join(rel.trim_start_matches('/')).join("joblite");
        let v2_controllers: Vec<String> = v2
            .as_ref()
            .map(|m| {
                fs::read_to_string(m.join("cgroup.controllers"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let pick = |name: &str| -> Option<Controller> {
            if let Some((_, mount)) = v1.iter().find(|(opts, _)| opts.iter().any(|o| o == name)) {
                return Some(Controller {
                    version: Version::V1,
                    base: join(mount, &own_path(Some(name))),
                });
            }
            let m = v2.as_ref()?;
            if v2_controllers.iter().any(|c| c == name) {
                return Some(Controller {
                    version: Version::V2,
                    base: join(m, &own_path(None)),
                });
            }
            None
        };
        Cgroups {
            memory: pick("memory"),
            cpu: pick("cpu"),
            unavailable: None,
        }
    }

    /// Creates the cgroups of one run with its limits.
    pub fn create(
        &self,
        id: &str,
        memory: Option<i64>,
        cpu_millis: Option<i64>,
    ) -> Result<Handle, String> {
        if let Some(why) = &self.unavailable {
            return Err(why.clone());
        }
        let mut h = Handle::default();
        let mut add = |c: &Controller| -> io::Result<PathBuf> {
            let dir = c.base.join(id);
            if !h.dirs.iter().any(|(_, d)| d == &dir) {
                fs::create_dir_all(&dir)?;
                h.dirs.push((c.version, dir.clone()));
            }
            Ok(dir)
        };
        if let Some(bytes) = memory {
            let c = self.memory.as_ref().ok_or("no memory cgroup controller")?;
            let dir = add(c).map_err(|e| e.to_string())?;
            let res = match c.version {
                Version::V1 => fs::write(dir.join("memory.limit_in_bytes"), bytes.to_string()),
                Version::V2 => {
                    let _ = fs::write(dir.join("memory.swap.max"), "0");
                    fs::write(dir.join("memory.max"), bytes.to_string())
                }
            };
            res.map_err(|e| format!("memory limit: {e}"))?;
        }
        if let Some(m) = cpu_millis {
            let c = self.cpu.as_ref().ok_or("no cpu cgroup controller")?;
            let dir = add(c).map_err(|e| e.to_string())?;
            let quota = (m * 100).max(1000);
            let res = match c.version {
                Version::V1 => fs::write(dir.join("cpu.cfs_period_us"), "100000")
                    .and_then(|_| fs::write(dir.join("cpu.cfs_quota_us"), quota.to_string())),
                Version::V2 => fs::write(dir.join("cpu.max"), format!("{quota} 100000")),
            };
            res.map_err(|e| format!("cpu limit: {e}"))?;
        }
        Ok(h)
    }
}

impl Handle {
    /// `cgroup.procs` of every directory, for the child to join before exec.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|(_, d)| d.join("cgroup.procs"))
            .collect()
    }

    /// Whether the OOM killer fired in this cgroup.
    pub fn oom_killed(&self) -> bool {
        self.dirs.iter().any(|(v, d)| {
            let file = match v {
                Version::V1 => d.join("memory.oom_control"),
                Version::V2 => d.join("memory.events"),
            };
            fs::read_to_string(file)
                .ok()
                .and_then(|s| {
                    s.lines().find_map(|l| {
                        l.strip_prefix("oom_kill ")
                            .map(|n| n.trim().parse::<u64>().unwrap_or(0))
                    })
                })
                .is_some_and(|n| n > 0)
        })
    }

    /// Every process still in the cgroups.
    pub fn pids(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for (_, d) in &self.dirs {
            if let Ok(s) = fs::read_to_string(d.join("cgroup.procs")) {
                out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Removes the cgroups; false while processes remain.
    pub fn remove(&self) -> bool {
        let mut ok = true;
        for (_, d) in &self.dirs {
            if let Err(e) = fs::remove_dir(d) {
                if e.kind() != io::ErrorKind::NotFound {
                    ok = false;
                }
            }
        }
        ok
    }
}

/// Writes the calling process into `cgroup.procs` files. Runs in the forked
/// child before exec, so it avoids allocation: the pid is formatted on the stack.
pub fn join_fds(fds: &[i32]) -> io::Result<()> {
    let pid = std::process::id();
    let mut buf = [0u8; 16];
    let mut n = pid;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &fd in fds {
        // SAFETY: fd is an open cgroup.procs file owned by the parent; writing
        // a decimal pid is what the kernel expects.
        let r = unsafe { libc::write(fd, buf[i..].as_ptr().cast(), buf.len() - i) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Appends one line to a file (used for error-tolerant writes).
pub fn write_file(path: &Path, s: &str) -> io::Result<()> {
    let mut f = fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate
34 30 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
35 30 0:31 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
36 30 0:32 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
";
    const OWN: &str = "9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n";

    #[test]
    fn hybrid_layout_puts_memory_and_cpu_on_v1() {
        let cg = Cgroups::from_tables(HYBRID, OWN);
        let m = cg.memory.unwrap();
        assert_eq!(m.version, Version::V1);
        assert_eq!(
            m.base,
            PathBuf::from("/sys/fs/cgroup/memory/process_api/abc/joblite")
        );
        let c = cg.cpu.unwrap();
        assert_eq!(c.version, Version::V1);
        assert_eq!(c.base, PathBuf::from("/sys/fs/cgroup/cpu/joblite"));
    }

    #[test]
    fn no_cgroup_mounts_means_no_controllers() {
        let cg = Cgroups::from_tables("1 0 0:1 / / rw - ext4 /dev/sda rw\n", "0::/\n");
        assert_eq!(cg.memory, None);
        assert_eq!(cg.cpu, None);
    }

    #[test]
    fn unavailable_layout_refuses_limits() {
        let cg = Cgroups {
            unavailable: Some("cgroups are not writable".into()),
            ..Default::default()
        };
        assert!(cg
            .create("x", Some(1), None)
            .unwrap_err()
            .contains("not writable"));
    }
}
