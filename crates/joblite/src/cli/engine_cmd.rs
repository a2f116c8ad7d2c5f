//! `joblite status` and `joblite stop`: the engine's life from outside.

use std::time::{Duration, Instant, SystemTime};

use anyhow::bail;

use super::duration::human_duration_ms;
use super::engine::EnginePaths;
use super::CmdResult;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct EngineArgs {
    /// joblite's data directory.
    #[arg(long, env = "JOBLITE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
}

/// Prints whether an engine runs; exits 0 if it does, 1 if not.
pub(crate) async fn status(args: EngineArgs) -> CmdResult {
    let paths = EnginePaths::new(args.data_dir.as_deref());
    if !paths.is_running()? {
        println!("engine:      not running");
        println!("data dir:    {}", paths.dir.display());
        return Ok(1);
    }
    println!("engine:      running");
    if let Some(info) = paths.read_info() {
        println!("pid:         {}", info.pid);
        println!("address:     https://{}:{}", info.address, info.port);
        if let Some(rt) = &info.runtime {
            let version = info.runtime_version.as_deref().unwrap_or("");
            println!("runtime:     {rt} ({version})");
            if let Some(why) = &info.runtime_reason {
                println!("why:         {why}");
            }
        }
    }
    println!("data dir:    {}", paths.dir.display());
    // engine.json is written once at start, so its age is the uptime.
    if let Some(age) = std::fs::metadata(paths.info())
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
    {
        println!("uptime:      {}", human_duration_ms(age.as_millis() as i64));
    }
    println!("kubeconfig:  {}", paths.kubeconfig().display());
    println!("log:         {}", paths.log().display());
    Ok(0)
}

/// Sends SIGTERM to the engine and waits until it has released its lock.
pub(crate) async fn stop(args: EngineArgs) -> CmdResult {
    let paths = EnginePaths::new(args.data_dir.as_deref());
    if !paths.is_running()? {
        eprintln!("joblite: no engine running for {}", paths.dir.display());
        return Ok(0);
    }
    let Some(info) = paths.read_info() else {
        bail!(
            "an engine holds {} but {} is missing; cannot tell its pid",
            paths.lock().display(),
            paths.info().display()
        );
    };
    let Some(pid) = rustix::process::Pid::from_raw(info.pid) else {
        bail!("invalid pid {} in {}", info.pid, paths.info().display());
    };
    rustix::process::kill_process(pid, rustix::process::Signal::TERM)
        .map_err(|e| anyhow::anyhow!("signalling engine pid {}: {e}", info.pid))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while paths.is_running()? {
        if Instant::now() > deadline {
            bail!(
                "the engine (pid {}) did not stop within 30s; see {}",
                info.pid,
                paths.log().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "joblite: stopped engine for {} (pid {})",
        paths.dir.display(),
        info.pid
    );
    Ok(0)
}
