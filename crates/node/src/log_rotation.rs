//! Container log rotation, as the kubelet's `containerLogMaxSize` and
//! `containerLogMaxFiles` do it (`pkg/kubelet/logs/container_log_manager.go`),
//! so a chatty pod cannot fill the disk and stop the engine.
//!
//! Upstream's log manager checks running containers every 10 s and, when
//! a log has reached `MaxSize`, removes the oldest rotated files so that at
//! most `MaxFiles - 2` are left, gzips those (`<log>.<ts>.gz`, written as
//! `.tmp` and renamed), renames the current log to
//! `<log>.<YYYYMMDD-hhmmss>` and has the runtime reopen `<log>`. So at most
//! `MaxFiles` files exist per container: the current one, the newest
//! rotated one (plain, for readers that are still on it) and the
//! compressed rest. `kubectl logs` reads the current file only.
//!
//! Here the supervisor writes the log itself, so it rotates before the
//! record that would take the file past the limit: the current file never
//! exceeds `max_size` (unless one record alone does), with no 10 s window.
//! A run's rotated files are known to its writer in order, so two
//! rotations within one second get distinct names (`<ts>.1`, …) instead
//! of upstream's overwrite. Compression runs on a short-lived thread, off
//! the supervisor's event loop.
//!
//! The current file of a run that has rotated is created with the
//! other-read bit (0644, then 0444 when complete, against 0640/0440), so
//! removing a pod lists the log directory only for runs that have rotated
//! files (`paths::remove_pod`).

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// Upstream's `containerLogMaxSize` default.
pub const DEFAULT_MAX_SIZE: i64 = 10 * 1024 * 1024;
/// Upstream's `containerLogMaxFiles` default.
pub const DEFAULT_MAX_FILES: u32 = 5;
/// Upstream `timestampFormat` (Go's `20060102-150405`).
const TIMESTAMP_FORMAT: &str = "%Y%m%d-%H%M%S";
const COMPRESS_SUFFIX: &str = "gz";
const TMP_SUFFIX: &str = "tmp";

/// When a container's log is rotated and how many files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPolicy {
    /// Bytes a log file may hold before it is rotated; negative disables
    /// rotation (upstream's rule for `containerLogMaxSize`).
    pub max_size: i64,
    /// Most files per container, the current one included (> 1).
    pub max_files: u32,
}

impl Default for LogPolicy {
    fn default() -> Self {
        LogPolicy {
            max_size: DEFAULT_MAX_SIZE,
            max_files: DEFAULT_MAX_FILES,
        }
    }
}

impl LogPolicy {
    /// Builds a policy from the kubelet's configuration values, with
    /// upstream's checks: the size is a quantity (`10Mi`), `max_files > 1`.
    pub fn parse(max_size: &str, max_files: u32) -> Result<LogPolicy, String> {
        if max_files <= 1 {
            return Err(format!("invalid MaxFiles {max_files}, must be > 1"));
        }
        let q = api::quantity::parse_quantity(max_size)
            .map_err(|e| format!("failed to parse container log max size {max_size:?}: {e}"))?;
        let max_size = q.value().ok_or_else(|| {
            format!("failed to parse container log max size {max_size:?}: invalid max log size")
        })?;
        Ok(LogPolicy {
            max_size,
            max_files,
        })
    }
}

/// The rotation state of one run's log, owned by the task that writes it.
#[derive(Debug)]
pub(crate) struct Rotator {
    path: PathBuf,
    max_size: u64,
    max_files: u32,
    /// Rotated files, oldest first (without the `.gz` a compression adds).
    rotated: VecDeque<PathBuf>,
    /// The last rotation's timestamp and its count within that second.
    last: Option<(String, u32)>,
    /// The compression the last rotation started.
    compressing: Option<std::thread::JoinHandle<()>>,
}

impl Rotator {
    /// `None` when the policy disables rotation.
    pub(crate) fn new(path: &Path, max_size: i64, max_files: u32) -> Option<Rotator> {
        (max_size >= 0 && max_files > 1).then(|| Rotator {
            path: path.to_path_buf(),
            max_size: max_size as u64,
            max_files,
            rotated: VecDeque::new(),
            last: None,
            compressing: None,
        })
    }

    /// Whether writing `incoming` bytes to a file of `size` bytes must
    /// first rotate it.
    pub(crate) fn due(&self, size: u64, incoming: usize) -> bool {
        size > 0 && size + incoming as u64 > self.max_size
    }

    /// Whether this run has rotated files.
    pub(crate) fn has_rotated(&self) -> bool {
        !self.rotated.is_empty()
    }

    /// Rotates the current file away (the caller then opens a new one):
    /// drops the oldest rotated files beyond `max_files - 2`, compresses
    /// the rest in the background, and renames the current file to
    /// `<log>.<timestamp>`.
    pub(crate) fn rotate(&mut self, now: chrono::DateTime<chrono::Utc>) -> io::Result<()> {
        // The previous compression first: it must not race the removals
        // (it has had a whole file's worth of output to finish).
        if let Some(h) = self.compressing.take() {
            let _ = h.join();
        }
        let keep = self.max_files.saturating_sub(2) as usize;
        while self.rotated.len() > keep {
            if let Some(old) = self.rotated.pop_front() {
                let _ = fs::remove_file(&old);
                let _ = fs::remove_file(with_suffix(&old, COMPRESS_SUFFIX));
            }
        }
        let to_compress: Vec<PathBuf> = self.rotated.iter().cloned().collect();
        if !to_compress.is_empty() {
            self.compressing = std::thread::Builder::new()
                .name("log-compress".into())
                .spawn(move || {
                    for f in to_compress {
                        let _ = compress(&f);
                    }
                })
                .ok();
        }
        let stamp = now.format(TIMESTAMP_FORMAT).to_string();
        // Within one second, names go on counting so they keep their order.
        let n = match &self.last {
            Some((s, n)) if *s == stamp => n + 1,
            _ => 0,
        };
        let target = if n == 0 {
            with_suffix(&self.path, &stamp)
        } else {
            with_suffix(&self.path, &format!("{stamp}.{n}"))
        };
        fs::rename(&self.path, &target)?;
        self.last = Some((stamp, n));
        self.rotated.push_back(target);
        Ok(())
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".");
    s.push(suffix);
    PathBuf::from(s)
}

/// Upstream `compressLog`: `<f>` to `<f>.gz` through `<f>.tmp`, then
/// `<f>` goes. A file already gone (removed as excess meanwhile) is fine.
fn compress(file: &Path) -> io::Result<()> {
    use std::io::Write;
    let mut input = match File::open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let tmp = with_suffix(file, TMP_SUFFIX);
    let result = (|| {
        let out = File::create(&tmp)?;
        let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        io::copy(&mut input, &mut gz)?;
        gz.finish()?.flush()?;
        fs::rename(&tmp, with_suffix(file, COMPRESS_SUFFIX))?;
        fs::remove_file(file)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes the rotated files of the run whose current log is `log`
/// (`<log>.*`), listing its directory.
pub(crate) fn remove_rotated(log: &Path) {
    let (Some(dir), Some(name)) = (log.parent(), log.file_name()) else {
        return;
    };
    let mut prefix = name.to_os_string();
    prefix.push(".");
    let prefix = prefix.to_string_lossy().into_owned();
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Whether the current log file `log` says its run has rotated files (the
/// other-read bit, see the module docs).
pub(crate) fn marks_rotation(log: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(log).is_ok_and(|m| m.permissions().mode() & 0o004 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn policy_follows_the_kubelet_rules() {
        assert_eq!(LogPolicy::parse("10Mi", 5).unwrap(), LogPolicy::default());
        assert_eq!(LogPolicy::parse("1k", 2).unwrap().max_size, 1000);
        assert!(LogPolicy::parse("-1", 2).unwrap().max_size < 0);
        assert_eq!(
            LogPolicy::parse("10Mi", 1).unwrap_err(),
            "invalid MaxFiles 1, must be > 1"
        );
        assert!(LogPolicy::parse("ten", 5).is_err());
        assert!(Rotator::new(Path::new("/x"), -1, 5).is_none());
    }

    #[test]
    fn keeps_max_files_with_the_newest_rotated_file_plain() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ns_p_u_c_0.log");
        let mut r = Rotator::new(&log, 10, 3).unwrap();
        assert!(!r.due(0, 100), "an empty file is never rotated");
        assert!(!r.due(5, 5));
        assert!(r.due(5, 6));
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-03T16:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        for i in 0..5 {
            fs::write(&log, format!("run {i}\n")).unwrap();
            r.rotate(t).unwrap();
        }
        fs::write(&log, "current\n").unwrap();
        // Compression runs on a thread: wait for the rename.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let want = vec![
            "ns_p_u_c_0.log".to_string(),
            "ns_p_u_c_0.log.20261203-160000.3.gz".to_string(),
            "ns_p_u_c_0.log.20261203-160000.4".to_string(),
        ];
        while names(dir.path()) != want {
            assert!(
                std::time::Instant::now() < deadline,
                "{:?}",
                names(dir.path())
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let gz = File::open(dir.path().join("ns_p_u_c_0.log.20261203-160000.3.gz")).unwrap();
        let mut text = String::new();
        io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz), &mut text).unwrap();
        assert_eq!(text, "run 3\n");
        assert!(r.has_rotated());
        remove_rotated(&log);
        assert_eq!(names(dir.path()), vec!["ns_p_u_c_0.log".to_string()]);
    }
}
