//! `joblite attach POD|job/NAME [-c C] [-i] [-t]`: kubectl's `attach`: the
//! container's output from now on, and with `-i` its stdin
//! (`staging/src/k8s.io/kubectl/pkg/cmd/attach/attach.go`).

use anyhow::bail;
use k8s_openapi::api::core::v1::Pod;
use kube::api::AttachParams;
use kube::Api;

use super::client::{connect, TargetArgs};
use super::session;
use super::CmdResult;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AttachArgs {
    /// POD, pod/NAME or job/NAME (a Job's first running pod).
    pub object: String,
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

/// Whether `container` of `pod` was started with a TTY.
pub(crate) fn container_tty(pod: &Pod, container: &str) -> bool {
    pod.spec
        .iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
        })
        .find(|c| c.name == container)
        .and_then(|c| c.tty)
        .unwrap_or(false)
}

pub(crate) async fn run(args: AttachArgs) -> CmdResult {
    let target = connect(&args.target).await?;
    let pod = session::attachable_pod(&target, &args.object, args.pod_running_timeout).await?;
    if let Some(phase) = session::completed_phase(&pod) {
        bail!("cannot attach a container in a completed pod; current phase is {phase}");
    }
    let container = session::container(&pod, args.container.as_deref(), args.quiet)?;
    let name = pod.metadata.name.clone().unwrap_or_default();
    attach(
        &target.client,
        &target.namespace,
        &name,
        &pod,
        &container,
        &args,
    )
    .await
}

/// Attaches to `container` of `pod` with kubectl's TTY rules: the
/// container's setting wins, with a warning when `-t` asks for a terminal
/// it does not have.
pub(crate) async fn attach(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    pod: &Pod,
    container: &str,
    args: &AttachArgs,
) -> CmdResult {
    let has_tty = container_tty(pod, container);
    let mut tty = args.tty;
    if tty && !has_tty {
        if !args.quiet {
            eprintln!("error: Unable to use a TTY - container {container} did not allocate one");
        }
        tty = false;
    } else if !tty && has_tty {
        tty = true;
    }
    let raw = tty && args.stdin && session::stdin_is_terminal();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = AttachParams {
        container: Some(container.to_string()),
        stdin: args.stdin,
        stdout: true,
        stderr: !tty,
        tty,
        ..Default::default()
    };
    let proc = pods
        .attach(name, &params)
        .await
        .map_err(session::open_error)?;
    if !args.quiet {
        eprintln!("If you don't see a command prompt, try pressing enter.");
    }
    let _raw = if raw {
        Some(session::RawTerminal::enter()?)
    } else {
        None
    };
    let status = session::drive(proc, args.stdin, raw).await;
    drop(_raw);
    session::exit_code(status)
}
