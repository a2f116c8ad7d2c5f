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

/// The default data directory: `$JOBLITE_DATA_DIR`, else the XDG data home
/// (`$XDG_DATA_HOME/joblite`, or `~/.local/share/joblite`), as the `dirs`
/// crate would compute it on Linux.
pub fn default_data_dir() -> PathBuf {
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
pub struct EnginePaths {
    pub dir: PathBuf,
}

/// What the engine writes to `engine.json`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct EngineInfo {
    pub pid: i32,
    pub address: String,
    pub port: u16,
}

impl EnginePaths {
    pub fn new(dir: Option<&Path>) -> Self {
        let dir = dir.map(Path::to_path_buf).unwrap_or_else(default_data_dir);
        // Absolute, so messages and the spawned engine agree on the place.
        let dir = if dir.is_absolute() {
            dir
        } else {
            std::env::current_dir().map(|cwd| cwd.join(&dir)).unwrap_or(dir)
        };
        EnginePaths { dir }
    }
    pub fn lock(&self) -> PathBuf {
        self.dir.join("engine.lock")
    }
    pub fn info(&self) -> PathBuf {
        self.dir.join("engine.json")
    }
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("engine.log")
    }

    /// Creates the data directory (mode 0700: it holds a bearer token).
    pub fn ensure_dir(&self) -> anyhow::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .with_context(|| format!("creating data directory {}", self.dir.display()))
    }

    /// Whether an engine holds the lock right now.
    pub fn is_running(&self) -> anyhow::Result<bool> {
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
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(err)) => {
                Err(err).with_context(|| format!("locking {}", self.lock().display()))
            }
        }
    }

    /// Reads `engine.json`, if present and well-formed.
    pub fn read_info(&self) -> Option<EngineInfo> {
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
pub async fn client_from_kubeconfig(path: &Path) -> anyhow::Result<kube::Client> {
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
pub async fn ensure_running(paths: &EnginePaths) -> anyhow::Result<kube::Client> {
    paths.ensure_dir()?;
    let mut child: Option<Child> = None;
    match paths.try_lock()? {
        None => {} // An engine runs (or is starting): just wait for it below.
        Some(lock) => {
            // Nobody runs here, so whatever kubeconfig and engine.json remain
            // are stale; remove them while holding the lock so the wait below
            // only ever sees the new engine's files.
            for stale in [paths.kubeconfig(), paths.info()] {
                let _ = std::fs::remove_file(stale);
            }
            drop(lock);
            child = Some(spawn(paths)?);
            eprintln!(
                "joblite: started engine for {} (log: {})",
                paths.dir.display(),
                paths.log().display()
            );
        }
    }
    wait_ready(paths, child).await
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

/// Polls until the engine's kubeconfig exists and `/readyz` answers.
async fn wait_ready(paths: &EnginePaths, mut child: Option<Child>) -> anyhow::Result<kube::Client> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut seen: Option<(Vec<u8>, kube::Client)> = None;
    loop {
        if let Ok(bytes) = std::fs::read(paths.kubeconfig()) {
            let fresh = seen.as_ref().map(|(b, _)| b != &bytes).unwrap_or(true);
            if fresh {
                match client_from_kubeconfig(&paths.kubeconfig()).await {
                    Ok(client) => seen = Some((bytes, client)),
                    // Possibly half-written by a non-atomic writer; retry.
                    Err(_) => seen = None,
                }
            }
            if let Some((_, client)) = &seen {
                if ready(client).await {
                    return Ok(client.clone());
                }
            }
        }
        if let Some(proc) = child.as_mut() {
            if let Some(status) = proc.try_wait()? {
                // It may have lost a start race to another engine, which
                // then holds the lock; only fail when nobody runs.
                if !paths.is_running()? {
                    bail!(
                        "the joblite engine exited ({status}) before it was ready; its log {} ends with:\n{}",
                        paths.log().display(),
                        log_tail(&paths.log(), 20)
                    );
                }
                child = None;
            }
        } else if !paths.is_running()? && !paths.kubeconfig().exists() {
            bail!(
                "no joblite engine runs for {} (it stopped while starting); see {}",
                paths.dir.display(),
                paths.log().display()
            );
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

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
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
        held.lock().unwrap();
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
                port: 6443
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
