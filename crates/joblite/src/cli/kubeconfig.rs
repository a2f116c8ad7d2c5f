//! `joblite kubeconfig [--path]`: hands the engine to other clients, as in
//! `export KUBECONFIG=$(joblite kubeconfig --path)`.
//!
//! Both forms start the engine when none runs: the file names a port that
//! changes with every engine start, so it is only useful while one runs.

use super::client::TargetArgs;
use super::engine;
use super::CmdResult;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct KubeconfigArgs {
    /// Print the file's path instead of its content.
    #[arg(long)]
    pub path: bool,
    /// joblite's data directory.
    #[arg(long, env = "JOBLITE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
}

pub(crate) async fn run(args: KubeconfigArgs) -> CmdResult {
    let target = TargetArgs {
        data_dir: args.data_dir.clone(),
        ..Default::default()
    };
    let paths = target.engine_paths();
    engine::ensure_running(&paths).await?;
    if args.path {
        println!("{}", paths.kubeconfig().display());
    } else {
        print!("{}", std::fs::read_to_string(paths.kubeconfig())?);
    }
    Ok(0)
}
