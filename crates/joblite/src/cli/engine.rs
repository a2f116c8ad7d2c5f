//! The engine as seen from a client: where its data directory is, whether it
//! runs, and how to start it in the background.
//!
//! The contract with `joblite serve` is files in the data directory:
//! `engine.lock` (held with an exclusive flock while the engine runs),
//! `engine.json` (`{"pid","address","port"}`), `kubeconfig` (written once the
//! engine is ready) and `engine.log` (the engine's stderr when a client
//! started it). The lock, not the pid, decides whether an engine runs: it is
//! released by the kernel however the engine dies.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Deserialize;

/// How long a client waits for an engine it started (or found starting).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Poll interval while waiting; small because cold start is measured in ms.
const POLL: Duration = Duration::from_millis(5);
/// How many engines one client starts before it gives up.
const MAX_STARTS: u32 = 3;

/// The default data directory: `$JOBLITE_DATA_DIR`, else the XDG data home
/// (`$XDG_DATA_HOME/joblite`, or `~/.local/share/joblite`), as the `dirs`
/// crate would compute it on Linux.
pub(crate) fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("JOBLITE_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    data_home().join("joblite")
}

fn data_home() -> PathBuf {
    match std::env::var_os("XDG_DATA_HOME").filter(|d| Path::new(d).is_absolute()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/".into());
            PathBuf::from(home).join(".local/share")
        }
    }
}

/// The files of one data directory.
#[derive(Debug, Clone)]
pub(crate) struct EnginePaths {
    pub dir: PathBuf,
}

/// What the engine writes to `engine.json`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub(crate) struct EngineInfo {
    pub pid: i32,
    pub address: String,
    pub port: u16,
    /// The default runtime (`process`, `container`), its version and why.
    #[serde(default)]
    pub runtime: Option<String>,
    #[serde(default, rename = "runtimeVersion")]
    pub runtime_version: Option<String>,
    #[serde(default, rename = "runtimeReason")]
    pub runtime_reason: Option<String>,
    /// The web dashboard's port.
    #[serde(rename = "dashboardPort", default)]
    pub dashboard_port: Option<u16>,
}

impl EnginePaths {
    pub(crate) fn new(dir: Option<&Path>) -> Self {
        let dir = dir.map(Path::to_path_buf).unwrap_or_else(default_data_dir);
        // Absolute, so messages and the spawned engine agree on the place.
        let dir = if dir.is_absolute() {
            dir
        } else {
            std::env::current_dir()
                .map(|cwd| cwd.join(&dir))
                .unwrap_or(dir)
        };
        EnginePaths { dir }
    }
    pub(crate) fn lock(&self) -> PathBuf {
        self.dir.join("engine.lock")
    }
    pub(crate) fn info(&self) -> PathBuf {
        self.dir.join("engine.json")
    }
    pub(crate) fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }
    pub(crate) fn log(&self) -> PathBuf {
        self.dir.join("engine.log")
    }

    /// Creates the data directory (mode 0700: it holds a bearer token).
    pub(crate) fn ensure_dir(&self) -> anyhow::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .with_context(|| format!("creating data directory {}", self.dir.display()))
    }

    /// Whether an engine holds the lock right now.
    pub(crate) fn is_running(&self) -> anyhow::Result<bool> {
        match self.try_lock()? {
            Some(_guard) => Ok(false),
            None => Ok(true),
        }
    }

    /// Takes the engine lock if nobody holds it; `None` means an engine runs.
    /// The lock is released when the returned file is dropped.
    fn try_lock(&self) -> anyhow::Result<Option<File>> {
        let file = match OpenOptions::new().read(true).write(true).open(self.lock()) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                // Never created: no engine ever ran here. Create it only when
                // the directory exists, so `status` does not create one.
                if !self.dir.is_dir() {
                    return Ok(Some(no_engine_placeholder()?));
                }
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(self.lock())
                    .with_context(|| format!("opening {}", self.lock().display()))?
            }
            Err(err) => {
                return Err(err).with_context(|| format!("opening {}", self.lock().display()))
            }
        };
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(file)),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(err) => Err(std::io::Error::from(err))
                .with_context(|| format!("locking {}", self.lock().display())),
        }
    }

    /// Reads `engine.json`, if present and well-formed.
    pub(crate) fn read_info(&self) -> Option<EngineInfo> {
        let text = std::fs::read(self.info()).ok()?;
        serde_json::from_slice(&text).ok()
    }
}

/// A stand-in "lock" for a data directory that does not exist: nothing can
/// run there, and nothing needs to be created to say so.
fn no_engine_placeholder() -> anyhow::Result<File> {
    File::open("/dev/null").context("opening /dev/null")
}

/// Builds a client from a kubeconfig file.
pub(crate) async fn client_from_kubeconfig(path: &Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("reading kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .with_context(|| format!("loading kubeconfig {}", path.display()))?;
    Ok(kube::Client::try_from(config)?)
}

/// Asks the server whether it is ready.
async fn ready(client: &kube::Client) -> bool {
    let Ok(request) = http::Request::get("/readyz").body(Vec::new()) else {
        return false;
    };
    client.request_text(request).await.is_ok()
}

/// Returns a client for the engine of `paths`, starting the engine in the
/// background when none runs.
///
/// Clients may race to start an engine; the engine's own lock makes one
/// win, and every client waits for whichever engine holds the lock. A
/// client whose engine lost (or died) starts another, a bounded number of
/// times, before it gives up and shows the engine's log.
pub(crate) async fn ensure_running(paths: &EnginePaths) -> anyhow::Result<kube::Client> {
    paths.ensure_dir()?;
    let deadline = Instant::now() + START_TIMEOUT;
    let mut child = start_if_free(paths)?;
    let mut starts = u32::from(child.is_some());
    let mut last_exit = None;
    let mut seen: Option<(Vec<u8>, kube::Client)> = None;
    let mut polls: u32 = 0;
    loop {
        if let Some(client) = try_ready(paths, &mut seen).await {
            return Ok(client);
        }
        if let Some(proc) = child.as_mut() {
            if let Some(status) = proc.try_wait()? {
                last_exit = Some(status);
                child = None;
            }
        }
        // Without a child of our own, look at the lock now and then (not
        // every poll: even a probe takes the lock for an instant).
        polls += 1;
        if polls > 10 {
            polls = 1;
        }
        if child.is_none() && polls >= 10 && !paths.is_running()? {
            if starts >= MAX_STARTS {
                let exit = last_exit.map(|s| format!(" ({s})")).unwrap_or_default();
                bail!(
                    "the joblite engine for {} exited{exit} before it was ready; its log {} ends with:\n{}",
                    paths.dir.display(),
                    paths.log().display(),
                    log_tail(&paths.log(), 20)
                );
            }
            child = start_if_free(paths)?;
            starts += u32::from(child.is_some());
        }
        if Instant::now() > deadline {
            bail!(
                "timed out after {}s waiting for the joblite engine for {}; see {}",
                START_TIMEOUT.as_secs(),
                paths.dir.display(),
                paths.log().display()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Starts an engine when nobody holds the lock; `None` when one runs.
fn start_if_free(paths: &EnginePaths) -> anyhow::Result<Option<Child>> {
    let Some(lock) = paths.try_lock()? else {
        return Ok(None);
    };
    // Nobody runs here, so whatever kubeconfig and engine.json remain are
    // stale; remove them while holding the lock so that only the new
    // engine's files are ever read.
    for stale in [paths.kubeconfig(), paths.info()] {
        let _ = std::fs::remove_file(stale);
    }
    drop(lock);
    let child = spawn(paths)?;
    eprintln!(
        "joblite: started engine for {} (log: {})",
        paths.dir.display(),
        paths.log().display()
    );
    Ok(Some(child))
}

/// Starts `joblite serve` for the data directory, detached into its own
/// process group so a Ctrl-C in the terminal does not reach it.
fn spawn(paths: &EnginePaths) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("locating the joblite binary")?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(paths.log())
        .with_context(|| format!("opening {}", paths.log().display()))?;
    let log_err = log.try_clone()?;
    Command::new(exe)
        .arg("serve")
        .arg("--data-dir")
        .arg(&paths.dir)
        .arg("--port")
        .arg("0")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .context("starting the joblite engine")
}

/// A client for the engine once its kubeconfig exists and `/readyz`
/// answers; `seen` caches the client built from the current file.
async fn try_ready(
    paths: &EnginePaths,
    seen: &mut Option<(Vec<u8>, kube::Client)>,
) -> Option<kube::Client> {
    let bytes = std::fs::read(paths.kubeconfig()).ok()?;
    if seen.as_ref().is_none_or(|(b, _)| b != &bytes) {
        // A failure may be a half-written file; the next poll retries.
        *seen = client_from_kubeconfig(&paths.kubeconfig())
            .await
            .ok()
            .map(|client| (bytes, client));
    }
    let (_, client) = seen.as_ref()?;
    ready(client).await.then(|| client.clone())
}

/// The last `lines` lines of a log file, for error messages.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(16 * 1024);
    let _ = file.seek(SeekFrom::Start(start));
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_decides_running() {
        let dir = tempfile::tempdir().unwrap();
        let paths = EnginePaths::new(Some(dir.path()));
        assert!(!paths.is_running().unwrap());
        std::fs::write(paths.lock(), b"").unwrap();
        let held = File::open(paths.lock()).unwrap();
        rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
        assert!(paths.is_running().unwrap());
        drop(held);
        assert!(!paths.is_running().unwrap());
    }

    #[test]
    fn missing_dir_is_not_running_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let paths = EnginePaths::new(Some(&dir.path().join("nope")));
        assert!(!paths.is_running().unwrap());
        assert!(!paths.dir.exists());
    }

    #[test]
    fn engine_info_parses() {
        let dir = tempfile::tempdir().unwrap();
        let paths = EnginePaths::new(Some(dir.path()));
        assert_eq!(paths.read_info(), None);
        std::fs::write(
            paths.info(),
            br#"{"pid":42,"address":"127.0.0.1","port":6443}"#,
        )
        .unwrap();
        assert_eq!(
            paths.read_info(),
            Some(EngineInfo {
                pid: 42,
                address: "127.0.0.1".into(),
                port: 6443,
                runtime: None,
                runtime_version: None,
                runtime_reason: None,
                dashboard_port: None,
            })
        );
    }

    #[test]
    fn log_tail_keeps_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("engine.log");
        std::fs::write(&log, "a\nb\nc\nd\n").unwrap();
        assert_eq!(log_tail(&log, 2), "c\nd");
        assert_eq!(log_tail(&dir.path().join("none"), 2), "");
    }
}
