//! `joblite exec POD|job/NAME [-c C] [-i] [-t] -- COMMAND [ARGS…]`: kubectl's
//! `exec`, with its flags, messages and exit codes
//! (`staging/src/k8s.io/kubectl/pkg/cmd/exec/exec.go`).

use anyhow::bail;
use k8s_openapi::api::core::v1::Pod;
use kube::api::AttachParams;
use kube::Api;

use super::client::{connect, TargetArgs};
use super::session;
use super::CmdResult;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ExecArgs {
    /// POD, pod/NAME or job/NAME (a Job's first running pod).
    pub object: String,
    /// The command and its arguments (after `--`).
    #[arg(allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// Container name (default: the pod's default container).
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Pass stdin to the container.
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Stdin is a TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Only print output from the remote session.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// How long to wait for a pod of a Job (e.g. 30s, 1m).
    #[arg(long, default_value = "1m", value_parser = super::duration::parse_duration)]
    pub pod_running_timeout: std::time::Duration,
    #[command(flatten)]
    pub target: TargetArgs,
}

pub(crate) async fn run(args: ExecArgs) -> CmdResult {
    if args.command.is_empty() {
        bail!("you must specify at least one command for the container");
    }
    let mut tty = args.tty;
    if tty && !(args.stdin && session::stdin_is_terminal()) {
        if !args.quiet {
            eprintln!("Unable to use a TTY - input is not a terminal or the right kind of file");
        }
        tty = false;
    }
    let target = connect(&args.target).await?;
    let pod = session::attachable_pod(&target, &args.object, args.pod_running_timeout).await?;
    if let Some(phase) = session::completed_phase(&pod) {
        bail!("cannot exec into a container in a completed pod; current phase is {phase}");
    }
    let container = session::container(&pod, args.container.as_deref(), args.quiet)?;
    let name = pod.metadata.name.clone().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(target.client.clone(), &target.namespace);
    let params = AttachParams {
        container: Some(container),
        stdin: args.stdin,
        stdout: true,
        // A terminal has one output.
        stderr: !tty,
        tty,
        ..Default::default()
    };
    let proc = pods
        .exec(&name, args.command.iter().map(String::as_str), &params)
        .await
        .map_err(session::open_error)?;
    let _raw = if tty {
        Some(session::RawTerminal::enter()?)
    } else {
        None
    };
    let status = session::drive(proc, args.stdin, tty).await;
    drop(_raw);
    session::exit_code(status)
}
