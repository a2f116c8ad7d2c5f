//! `joblite dashboard`: starts the engine if needed, asks it for a one-time
//! login link to its web dashboard, prints it, and opens a browser where
//! one is available.

use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use super::engine::{ensure_running, EnginePaths};
use super::CmdResult;

#[derive(Debug, clap::Args)]
pub(crate) struct DashboardArgs {
    /// joblite's data directory.
    #[arg(long, env = "JOBLITE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// Only print the login link; do not open a browser.
    #[arg(long)]
    pub no_open: bool,
}

pub(crate) async fn run(args: DashboardArgs) -> CmdResult {
    let paths = EnginePaths::new(args.data_dir.as_deref());
    ensure_running(&paths).await?;
    let info = paths
        .read_info()
        .context("the engine is running but its engine.json is missing")?;
    let Some(port) = info.dashboard_port else {
        bail!("this engine serves no dashboard (it predates it); restart it with `joblite stop`");
    };
    // The dashboard's port, with the API's CA and bearer token.
    let kubeconfig = kube::config::Kubeconfig::read_from(paths.kubeconfig())
        .with_context(|| format!("reading {}", paths.kubeconfig().display()))?;
    let mut config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    config.cluster_url = format!("https://{}:{port}", info.address).parse()?;
    let client = kube::Client::try_from(config)?;
    let text = client
        .request_text(http::Request::post("/ui/login-codes").body(Vec::new())?)
        .await
        .context("asking the engine for a login link")?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let url = v["url"].as_str().context("no url in the engine's answer")?;
    println!("{url}");
    eprintln!(
        "joblite: a one-time login link to the dashboard (valid for {} minutes); the engine's certificate is signed by {}",
        v["expiresInSeconds"].as_u64().unwrap_or(300) / 60,
        paths.dir.join("pki/ca.crt").display()
    );
    if !args.no_open {
        open_browser(url);
    }
    Ok(0)
}

/// `$BROWSER`, else `xdg-open` when a display is there; silent otherwise
/// (the printed link is enough on a headless machine).
fn open_browser(url: &str) {
    let browser = std::env::var("BROWSER").ok().filter(|b| !b.is_empty());
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
    let program = match browser {
        Some(b) => b,
        None if has_display => "xdg-open".to_string(),
        None => return,
    };
    let started = Command::new(&program)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if started.is_ok() {
        eprintln!("joblite: opening the dashboard with {program}");
    }
}
