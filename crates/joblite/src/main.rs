//! `joblite`: run Kubernetes batch/v1 Jobs on one machine, with no cluster.
//!
//! One binary holds both halves: `joblite serve` is the engine (API server,
//! store, controllers, node agent), and every other subcommand is a plain
//! Kubernetes client that mirrors kubectl. The client starts an engine on
//! first use, the way build servers do, so a fresh machine needs no set-up;
//! with `--kubeconfig`/`--context` (or `KUBECONFIG`) the same commands drive
//! a real cluster instead.

mod cli;
mod engine;
mod serve;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Run Kubernetes batch/v1 Jobs on one machine, with no cluster.
#[derive(Debug, Parser)]
#[command(name = "joblite", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the engine in the foreground.
    Serve(serve::ServeArgs),
    /// Print a shell completion script.
    #[command(display_order = 100)]
    Completion(CompletionArgs),
    /// Run a pod supervisor (started by the node agent, not by users).
    #[command(hide = true)]
    Supervise {
        /// The engine's data directory.
        data_dir: std::path::PathBuf,
    },
    #[command(flatten)]
    Client(ClientCommand),
}

/// The Kubernetes client commands.
#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Apply a configuration to a resource by file name or stdin.
    Apply(cli::apply::ApplyArgs),
    /// Create resources from files or stdin, or a Job from a CronJob
    /// (`create job NAME --from=cronjob/CJ`).
    Create(cli::create::CreateArgs),
    /// Create a Job that runs a command; with -i, stream its output and wait.
    Run(cli::run::RunArgs),
    /// Execute a command in a pod's container (POD or job/NAME).
    Exec(cli::exec::ExecArgs),
    /// Attach to a running container (POD or job/NAME).
    Attach(cli::attach::AttachArgs),
    /// Display one or many resources.
    Get(cli::get::GetArgs),
    /// Show details of a job or pod.
    Describe(cli::describe::DescribeArgs),
    /// Print the logs of a pod, or of all the pods of a job.
    Logs(cli::logs::LogsArgs),
    /// Wait for a condition on a job or pod.
    Wait(cli::wait::WaitArgs),
    /// Delete resources by name, or all of a type.
    Delete(cli::delete::DeleteArgs),
    /// Suspend a job (its active pods are deleted and no new ones start) or
    /// a cronjob (it creates no more Jobs).
    Suspend(cli::suspend::SuspendArgs),
    /// Resume a suspended job or cronjob.
    Resume(cli::suspend::SuspendArgs),
    /// Print the engine's kubeconfig, or its path with --path.
    Kubeconfig(cli::kubeconfig::KubeconfigArgs),
    /// Print a one-time login link to the engine's web dashboard and open it.
    Dashboard(cli::dashboard::DashboardArgs),
    /// Show whether an engine runs for the data directory.
    Status(cli::engine_cmd::EngineArgs),
    /// Stop the engine for the data directory.
    Stop(cli::engine_cmd::EngineArgs),
}

#[derive(Debug, clap::Args)]
struct CompletionArgs {
    /// The shell to generate the script for.
    shell: clap_complete::Shell,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve_main(args),
        Command::Completion(args) => {
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "joblite",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        // Runs the pod supervisor without a tokio runtime; never returns.
        Command::Supervise { data_dir } => node::supervisor::supervisor_main(&data_dir),
        Command::Client(command) => client_main(command),
    }
}

/// The engine wants every core; it gets the multi-threaded runtime.
fn serve_main(args: serve::ServeArgs) -> ExitCode {
    init_server_log();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return cli::report_error(&err.into()),
    };
    match runtime.block_on(serve::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => cli::report_error(&err),
    }
}

/// The server log is the engine's stderr (`DATA_DIR/engine.log` when a
/// client started it). `JOBLITE_LOG` takes an `EnvFilter` directive such as
/// `debug` or `controllers=trace`; the default keeps one line per notable
/// event (start, unenforceable limits, lost connections, failed writes).
fn init_server_log() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("JOBLITE_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,h2=warn,hyper=warn,rustls=warn")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        // A log line that cannot be written (the log's disk is full) is
        // dropped: reporting it would `eprintln!`, which panics when
        // stderr fails, and took the store's writer thread down with it.
        .log_internal_errors(false)
        .try_init();
}

/// Client commands are I/O bound and short; a current-thread runtime starts
/// faster, which matters for the cold-start budget of `joblite run -i`.
fn client_main(command: ClientCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return cli::report_error(&err.into()),
    };
    let result = runtime.block_on(async move {
        match command {
            ClientCommand::Apply(args) => cli::apply::run(args).await,
            ClientCommand::Create(args) => cli::create::run(args).await,
            ClientCommand::Run(args) => cli::run::run(args).await,
            ClientCommand::Exec(args) => cli::exec::run(args).await,
            ClientCommand::Attach(args) => cli::attach::run(args).await,
            ClientCommand::Get(args) => cli::get::run(args).await,
            ClientCommand::Describe(args) => cli::describe::run(args).await,
            ClientCommand::Logs(args) => cli::logs::run(args).await,
            ClientCommand::Wait(args) => cli::wait::run(args).await,
            ClientCommand::Delete(args) => cli::delete::run(args).await,
            ClientCommand::Suspend(args) => cli::suspend::run(args, true).await,
            ClientCommand::Resume(args) => cli::suspend::run(args, false).await,
            ClientCommand::Kubeconfig(args) => cli::kubeconfig::run(args).await,
            ClientCommand::Dashboard(args) => cli::dashboard::run(args).await,
            ClientCommand::Status(args) => cli::engine_cmd::status(args).await,
            ClientCommand::Stop(args) => cli::engine_cmd::stop(args).await,
        }
    });
    // Dropping the runtime would wait for detached log streams; the command
    // has finished, so leave at once.
    runtime.shutdown_background();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => cli::report_error(&err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
