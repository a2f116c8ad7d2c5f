//! `joblite logs`: a pod's output, or the output of **all** the pods of a
//! Job, each line prefixed `[pod/NAME/CONTAINER] ` (kubectl's `--prefix`
//! form). kubectl shows one pod of a Job; showing all is the point here.
//!
//! With `-f` on a Job, new pods are followed as they appear until the Job
//! finishes (the same loop as `run -i`).

use std::time::Instant;

use anyhow::bail;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams};
use kube::Api;

use super::client::{connect, TargetArgs};
use super::errors::{api_error, render};
use super::follow::{copy_lines, follow_job, selector_string, FollowOptions};
use super::progress::Progress;
use super::resource;
use super::CmdResult;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LogsArgs {
    /// job/NAME, pod/NAME, or a pod name.
    pub object: String,
    /// Follow the output.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// The previous instance of the container.
    #[arg(short = 'p', long)]
    pub previous: bool,
    /// Lines of recent output to show (-1 for all).
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub tail: i64,
    /// Only this container.
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Prefix lines with the pod and container (always on for a Job).
    #[arg(long)]
    pub prefix: bool,
    /// Include timestamps.
    #[arg(long)]
    pub timestamps: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

impl LogsArgs {
    fn params(&self, container: &str) -> LogParams {
        LogParams {
            container: Some(container.to_string()),
            follow: self.follow,
            previous: self.previous,
            tail_lines: (self.tail >= 0).then_some(self.tail),
            timestamps: self.timestamps,
            ..Default::default()
        }
    }
}

/// The container kubectl picks: the default-container annotation, else the
/// first one (it notes the choice on stderr when there are several).
pub(crate) fn default_container(pod: &Pod) -> Option<String> {
    let annotated = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("kubectl.kubernetes.io/default-container"))
        .cloned();
    let containers: Vec<String> = pod
        .spec
        .as_ref()
        .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    annotated
        .filter(|a| containers.contains(a))
        .or_else(|| containers.first().cloned())
}

pub(crate) async fn run(args: LogsArgs) -> CmdResult {
    let (info, name) = resource::parse_ref(&args.object, Some(&api::resources::PODS))?;
    let target = connect(&args.target).await?;
    let pods: Api<Pod> = Api::namespaced(target.client.clone(), &target.namespace);
    let progress = Progress::hidden();
    match info.plural {
        "pods" => {
            let pod = pods.get(&name).await.map_err(|e| api_error(e, None))?;
            let container = match &args.container {
                Some(c) => c.clone(),
                None => {
                    let Some(c) = default_container(&pod) else {
                        bail!("pod {name:?} has no containers");
                    };
                    let count = pod.spec.as_ref().map_or(0, |s| s.containers.len());
                    if count > 1 {
                        let all: Vec<String> = pod
                            .spec
                            .iter()
                            .flat_map(|s| s.containers.iter().map(|c| c.name.clone()))
                            .collect();
                        eprintln!("Defaulted container {c:?} out of: {}", all.join(", "));
                    }
                    c
                }
            };
            let prefix = if args.prefix {
                format!("[pod/{name}/{container}] ")
            } else {
                String::new()
            };
            // Errors (a container still waiting, say) come back as a Status.
            let reader = pods
                .log_stream(&name, &args.params(&container))
                .await
                .map_err(|e| api_error(e, None))?;
            copy_lines(reader, &prefix, &progress).await;
            Ok(0)
        }
        "jobs" => job_logs(&target.client, &target.namespace, &name, &args, progress).await,
        other => bail!("cannot get logs of {other}; use job/NAME or pod/NAME"),
    }
}

async fn job_logs(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    args: &LogsArgs,
    progress: Progress,
) -> CmdResult {
    if args.follow {
        let options = FollowOptions {
            logs: true,
            prefix: true,
            container: args.container.clone(),
            timestamps: args.timestamps,
            progress,
            started: Instant::now(),
        };
        follow_job(client, namespace, name, None, &options).await?;
        return Ok(0);
    }
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let job = jobs.get(name).await.map_err(|e| api_error(e, None))?;
    let selector = job
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .map(selector_string)
        .unwrap_or_else(|| format!("batch.kubernetes.io/job-name={name}"));
    let mut list = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| api_error(e, None))?
        .items;
    // Oldest first: the order the Job ran them in.
    list.sort_by(|a, b| {
        let key = |p: &Pod| {
            (
                p.metadata.creation_timestamp.as_ref().map(|t| t.0),
                p.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut failed = false;
    for pod in &list {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let containers: Vec<String> = match &args.container {
            Some(c) => vec![c.clone()],
            None => pod
                .spec
                .iter()
                .flat_map(|s| s.containers.iter().map(|c| c.name.clone()))
                .collect(),
        };
        for container in containers {
            let params = args.params(&container);
            let prefix = format!("[pod/{pod_name}/{container}] ");
            match pods.logs(&pod_name, &params).await {
                Ok(text) => {
                    let mut out = String::with_capacity(text.len());
                    for line in text.lines() {
                        out.push_str(&prefix);
                        out.push_str(line);
                        out.push('\n');
                    }
                    progress.print_stdout(out.as_bytes());
                }
                // A pod that has not started has no output yet; say so and go on.
                Err(e) => {
                    eprintln!("{}", render(&api_error(e, None)));
                    failed = true;
                }
            }
        }
    }
    Ok(u8::from(failed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use std::collections::BTreeMap;

    fn pod(containers: &[&str], annotation: Option<&str>) -> Pod {
        let mut p = Pod {
            spec: Some(PodSpec {
                containers: containers
                    .iter()
                    .map(|n| Container {
                        name: n.to_string(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        if let Some(a) = annotation {
            p.metadata.annotations = Some(BTreeMap::from([(
                "kubectl.kubernetes.io/default-container".to_string(),
                a.to_string(),
            )]));
        }
        p
    }

    #[test]
    fn container_choice() {
        let cases = [
            (pod(&["a", "b"], None), Some("a")),
            (pod(&["a", "b"], Some("b")), Some("b")),
            (pod(&["a", "b"], Some("zz")), Some("a")),
            (pod(&[], None), None),
        ];
        for (p, want) in cases {
            assert_eq!(default_container(&p).as_deref(), want);
        }
    }
}
