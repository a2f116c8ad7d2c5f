//! Which cluster a command talks to, and the client for it.
//!
//! With `--kubeconfig`/`--context`, or `KUBECONFIG` in the environment, the
//! command is an ordinary Kubernetes client of that cluster. Otherwise it
//! talks to joblite's own engine for the data directory and starts one when
//! none runs (see `engine.rs`). `--data-dir` (or `JOBLITE_DATA_DIR`) always
//! means the engine, even when `KUBECONFIG` is set.

use std::path::PathBuf;

use anyhow::Context;

use super::engine::{self, EnginePaths};

/// Flags shared by every client command.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct TargetArgs {
    /// Path to a kubeconfig; talk to that cluster instead of joblite's engine.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// The namespace (default: the context's, or `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// joblite's data directory (default: $XDG_DATA_HOME/joblite).
    #[arg(long, env = "JOBLITE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// A connected client and the namespace commands default to.
#[derive(Clone)]
pub(crate) struct Target {
    pub client: kube::Client,
    pub namespace: String,
    /// True when `-n` was given: manifests naming another namespace are refused.
    pub namespace_explicit: bool,
}

/// Where the connection goes, decided from flags and environment alone.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// A kubeconfig file given with `--kubeconfig`.
    File(PathBuf),
    /// kube's default loading (KUBECONFIG or ~/.kube/config), maybe with a context.
    Default,
    /// joblite's own engine.
    Engine(Option<PathBuf>),
}

impl TargetArgs {
    /// Decides the route; `kubeconfig_env` is `$KUBECONFIG`.
    pub(crate) fn route(&self, kubeconfig_env: Option<&str>) -> Route {
        if let Some(file) = &self.kubeconfig {
            return Route::File(file.clone());
        }
        if self.context.is_some() {
            return Route::Default;
        }
        if self.data_dir.is_some() {
            return Route::Engine(self.data_dir.clone());
        }
        if kubeconfig_env.is_some_and(|v| !v.is_empty()) {
            return Route::Default;
        }
        Route::Engine(None)
    }

    /// The engine's data directory for this invocation.
    pub(crate) fn engine_paths(&self) -> EnginePaths {
        EnginePaths::new(self.data_dir.as_deref())
    }
}

/// Connects to the target, starting joblite's engine when that is the target.
pub(crate) async fn connect(args: &TargetArgs) -> anyhow::Result<Target> {
    let env = std::env::var("KUBECONFIG").ok();
    let options = kube::config::KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    let client = match args.route(env.as_deref()) {
        Route::File(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(&path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?;
            kube::Client::try_from(config)?
        }
        Route::Default => {
            let config = kube::Config::from_kubeconfig(&options).await?;
            kube::Client::try_from(config)?
        }
        Route::Engine(dir) => engine::ensure_running(&EnginePaths::new(dir.as_deref())).await?,
    };
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    Ok(Target {
        client,
        namespace,
        namespace_explicit: args.namespace.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_precedence() {
        let file = TargetArgs {
            kubeconfig: Some("/k".into()),
            data_dir: Some("/d".into()),
            ..Default::default()
        };
        assert_eq!(file.route(Some("/env")), Route::File("/k".into()));
        let ctx = TargetArgs {
            context: Some("prod".into()),
            ..Default::default()
        };
        assert_eq!(ctx.route(None), Route::Default);
        let dir = TargetArgs {
            data_dir: Some("/d".into()),
            ..Default::default()
        };
        assert_eq!(dir.route(Some("/env")), Route::Engine(Some("/d".into())));
        let bare = TargetArgs::default();
        assert_eq!(bare.route(Some("/env")), Route::Default);
        assert_eq!(bare.route(Some("")), Route::Engine(None));
        assert_eq!(bare.route(None), Route::Engine(None));
    }
}
