//! `joblite run`: kubectl's `run` flags, but it creates a **Job** (the seed's
//! `kubectl run --restart=OnFailure` used to), and `-i` streams the output of
//! the Job's pods and waits, exiting 0 if the Job completed and 1 if it failed.
//!
//! As in kubectl (`staging/src/k8s.io/kubectl/pkg/cmd/run/run.go`), every
//! word after NAME, before or after `--`, is the container's `args` unless
//! `--command` is given (the seed's `--command /kuard -- --keygen-enable`),
//! and the container is named after the Job.
//!
//! With `-i` the container gets `stdin` and `stdinOnce` and our stdin is
//! attached to the Job's first pod; the output comes from the pods' logs,
//! which hold every byte from the first (an attach sees only what is
//! written after it, so a command's first lines would be lost), live. With
//! `-t` the first pod's terminal is attached instead, as `kubectl run -it`.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::bail;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, EnvVar, Pod, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{AttachParams, ListParams, PostParams};
use kube::Api;

use super::client::{connect, TargetArgs};
use super::errors::api_error;
use super::follow::{follow_job, FollowOptions};
use super::progress::Progress;
use super::session;
use super::CmdResult;

/// Field manager for objects the CLI creates.
pub(crate) const FIELD_MANAGER: &str = "joblite";

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunArgs {
    /// Name of the Job (and of its container).
    pub name: String,
    /// The container image (a process runtime ignores it, a cluster needs it).
    #[arg(long)]
    pub image: String,
    /// The pods' restart policy.
    #[arg(long, default_value = "Never", value_parser = ["Never", "OnFailure"])]
    pub restart: String,
    /// Number of successful pods the Job needs.
    #[arg(long)]
    pub completions: Option<i32>,
    /// Number of pods running at once.
    #[arg(long)]
    pub parallelism: Option<i32>,
    /// Give each pod an index (completionMode: Indexed).
    #[arg(long)]
    pub indexed: bool,
    /// Retries before the Job is marked failed.
    #[arg(long)]
    pub backoff_limit: Option<i32>,
    /// Environment variables, KEY=VALUE.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Labels for the Job and its pods, KEY=VALUE[,KEY=VALUE].
    #[arg(short = 'l', long)]
    pub labels: Option<String>,
    /// Treat the words after -- as the command rather than its arguments.
    #[arg(long)]
    pub command: bool,
    /// Stream the output of the Job's pods, pass stdin to its first pod, and
    /// wait for the Job to finish.
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Allocate a terminal and attach it to the Job's first pod (needs -i).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Print no progress or prompts, only the pods' output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Wait for the Job to finish, without streaming output.
    #[arg(long)]
    pub wait: bool,
    /// Delete the Job (and its pods) once it has finished; needs -i or --wait.
    #[arg(long)]
    pub rm: bool,
    #[command(flatten)]
    pub target: TargetArgs,
    /// The command (with --command) or the arguments: every word after
    /// NAME, before or after `--`.
    pub words: Vec<String>,
}

fn parse_pairs(text: &str, what: &str) -> anyhow::Result<Vec<(String, String)>> {
    text.split(',')
        .filter(|p| !p.is_empty())
        .map(|pair| parse_pair(pair, what))
        .collect()
}

fn parse_pair(pair: &str, what: &str) -> anyhow::Result<(String, String)> {
    match pair.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => bail!("invalid {what}: {pair:?} (want KEY=VALUE)"),
    }
}

/// The Job that `run` creates, built from its flags alone.
pub(crate) fn build_job(args: &RunArgs) -> anyhow::Result<Job> {
    let env: Vec<EnvVar> = args
        .env
        .iter()
        .map(|e| {
            parse_pair(e, "--env").map(|(name, value)| EnvVar {
                name,
                value: Some(value),
                ..Default::default()
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let labels: Option<BTreeMap<String, String>> = match &args.labels {
        Some(text) => Some(parse_pairs(text, "--labels")?.into_iter().collect()),
        None => None,
    };
    let words = (!args.words.is_empty()).then(|| args.words.clone());
    let container = Container {
        name: args.name.clone(),
        image: Some(args.image.clone()),
        command: if args.command { words.clone() } else { None },
        args: if args.command { None } else { words },
        env: (!env.is_empty()).then_some(env),
        // kubectl run -i: a stdin that closes when the first attacher leaves.
        stdin: args.stdin.then_some(true),
        stdin_once: args.stdin.then_some(true),
        tty: args.tty.then_some(true),
        ..Default::default()
    };
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(args.name.clone()),
            labels: labels.clone(),
            ..Default::default()
        },
        spec: Some(JobSpec {
            completions: args.completions,
            parallelism: args.parallelism,
            backoff_limit: args.backoff_limit,
            completion_mode: args.indexed.then(|| "Indexed".to_string()),
            template: PodTemplateSpec {
                metadata: labels.map(|labels| ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    restart_policy: Some(args.restart.clone()),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    })
}

pub(crate) async fn run(args: RunArgs) -> CmdResult {
    let started = Instant::now();
    if args.tty && !args.stdin {
        bail!("-i/--stdin is required for containers with -t/--tty=true");
    }
    if args.rm && !args.stdin && !args.wait {
        bail!("--rm should only be used for attached containers (-i or --wait)");
    }
    let job = build_job(&args)?;
    let target = connect(&args.target).await?;
    let jobs: Api<Job> = Api::namespaced(target.client.clone(), &target.namespace);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    let created = jobs
        .create(&params, &job)
        .await
        .map_err(|e| api_error(e, None))?;
    if !args.stdin && !args.wait {
        println!("job.batch/{} created", args.name);
        return Ok(0);
    }
    let progress = if args.quiet || args.tty {
        Progress::hidden()
    } else {
        Progress::for_stderr()
    };
    let mut logs = args.stdin;
    let mut feeding = None;
    if args.tty {
        // The terminal is the output; logs follow only if it cannot attach.
        logs = !attach_terminal(&target, &args).await;
    } else if args.stdin {
        feeding = Some(tokio::spawn(feed_stdin(
            target.client.clone(),
            target.namespace.clone(),
            args.name.clone(),
        )));
    }
    let parallel = args.completions.unwrap_or(1) > 1 || args.parallelism.unwrap_or(1) > 1;
    let options = FollowOptions {
        logs,
        // One pod at a time prints its output as is, like `kubectl run -i`.
        prefix: parallel,
        container: None,
        timestamps: false,
        progress: progress.clone(),
        started,
    };
    let outcome = follow_job(
        &target.client,
        &target.namespace,
        &args.name,
        Some(created),
        &options,
    )
    .await?;
    if let Some(f) = feeding {
        f.abort();
    }
    if !args.quiet {
        progress.print_stderr(&outcome.summary());
    }
    if args.rm {
        let params = kube::api::DeleteParams {
            propagation_policy: Some(kube::api::PropagationPolicy::Background),
            ..Default::default()
        };
        jobs.delete(&args.name, &params)
            .await
            .map_err(|e| api_error(e, None))?;
    }
    Ok(outcome.exit_code())
}

/// The Job's first pod once its container runs (`None` if none does in
/// time, or the Job's pods finished first).
async fn first_running_pod(client: &kube::Client, namespace: &str, job: &str) -> Option<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = format!("batch.kubernetes.io/job-name={job}");
    let deadline = tokio::time::Instant::now() + session::POD_RUNNING_TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if let Ok(list) = pods.list(&ListParams::default().labels(&selector)).await {
            let mut items = list.items;
            items.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
            let Some(first) = items.into_iter().next() else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let statuses = first
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref());
            if statuses.is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
            }) {
                return Some(first);
            }
            if session::completed_phase(&first).is_some() {
                return None;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// `-i`: our stdin to the Job's first pod (its output comes from the logs).
/// A pod that finished first simply had no use for it.
async fn feed_stdin(client: kube::Client, namespace: String, job: String) {
    let Some(pod) = first_running_pod(&client, &namespace, &job).await else {
        return;
    };
    let name = pod.metadata.name.clone().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(client, &namespace);
    let params = AttachParams {
        container: Some(job.clone()),
        stdin: true,
        stdout: false,
        stderr: false,
        tty: false,
        ..Default::default()
    };
    if let Ok(proc) = pods.attach(&name, &params).await {
        let _ = session::drive(proc, true, false).await;
    }
}

/// `-t`: the first pod's terminal, attached as `kubectl run -it` does.
/// False when it could not attach (the caller then follows the logs).
async fn attach_terminal(target: &super::client::Target, args: &RunArgs) -> bool {
    let Some(pod) = first_running_pod(&target.client, &target.namespace, &args.name).await else {
        return false;
    };
    let name = pod.metadata.name.clone().unwrap_or_default();
    let attach = super::attach::AttachArgs {
        object: name.clone(),
        container: Some(args.name.clone()),
        stdin: true,
        tty: true,
        quiet: args.quiet,
        pod_running_timeout: session::POD_RUNNING_TIMEOUT,
        target: args.target.clone(),
    };
    match super::attach::attach(
        &target.client,
        &target.namespace,
        &name,
        &pod,
        &args.name,
        &attach,
    )
    .await
    {
        Ok(_) => true,
        Err(e) => {
            eprintln!(
                "warning: couldn't attach to pod/{name}, falling back to streaming logs: {e}"
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[derive(Parser)]
    struct Harness {
        #[command(flatten)]
        run: RunArgs,
    }

    fn job_json(argv: &[&str]) -> serde_json::Value {
        let mut full = vec!["run"];
        full.extend_from_slice(argv);
        let args = Harness::try_parse_from(full).unwrap().run;
        serde_json::to_value(build_job(&args).unwrap()).unwrap()
    }

    #[test]
    fn words_are_args_by_default() {
        let job = job_json(&[
            "oneshot",
            "--image",
            "busybox",
            "--restart=OnFailure",
            "--",
            "echo",
            "hi",
        ]);
        assert_eq!(
            job,
            json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "oneshot"},
                "spec": {"template": {"spec": {
                    "containers": [{"name": "oneshot", "image": "busybox", "args": ["echo", "hi"]}],
                    "restartPolicy": "OnFailure"}}}
            })
        );
    }

    #[test]
    fn command_flag_and_job_knobs() {
        let job = job_json(&[
            "par",
            "--image=x",
            "--command",
            "--completions",
            "10",
            "--parallelism",
            "5",
            "--indexed",
            "--backoff-limit",
            "2",
            "--env",
            "A=1",
            "--env",
            "B=x=y",
            "-l",
            "team=a,tier=batch",
            "--",
            "/bin/sh",
            "-c",
            "echo $A",
        ]);
        let spec = &job["spec"];
        assert_eq!(spec["completions"], 10);
        assert_eq!(spec["parallelism"], 5);
        assert_eq!(spec["completionMode"], "Indexed");
        assert_eq!(spec["backoffLimit"], 2);
        assert_eq!(
            job["metadata"]["labels"],
            json!({"team": "a", "tier": "batch"})
        );
        assert_eq!(
            spec["template"]["metadata"]["labels"],
            json!({"team": "a", "tier": "batch"})
        );
        let c = &spec["template"]["spec"]["containers"][0];
        assert_eq!(c["command"], json!(["/bin/sh", "-c", "echo $A"]));
        assert!(c.get("args").is_none());
        assert_eq!(
            c["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "x=y"}])
        );
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");
    }

    #[test]
    fn every_word_after_the_name_counts_as_kubectl_takes_them() {
        // The seed: `--command /kuard -- --keygen-enable ...`.
        let job = job_json(&[
            "oneshot",
            "--image=gcr.io/kuar-demo/kuard-amd64:blue",
            "--restart=OnFailure",
            "-i",
            "--command",
            "/kuard",
            "--",
            "--keygen-enable",
            "--keygen-exit-on-complete",
            "--keygen-num-to-gen",
            "10",
        ]);
        let c = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            c["command"],
            json!([
                "/kuard",
                "--keygen-enable",
                "--keygen-exit-on-complete",
                "--keygen-num-to-gen",
                "10"
            ])
        );
        assert_eq!((&c["stdin"], &c["stdinOnce"]), (&json!(true), &json!(true)));
        assert!(c.get("tty").is_none());
        // Flags may follow the words before `--`, as pflag allows.
        let job = job_json(&["x", "echo", "hi", "--image=busybox", "-it"]);
        let c = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["args"], json!(["echo", "hi"]));
        assert_eq!((&c["image"], &c["tty"]), (&json!("busybox"), &json!(true)));
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(Harness::try_parse_from(["run", "x", "--image=i", "--restart=Always"]).is_err());
        let args = Harness::try_parse_from(["run", "x", "--image=i", "--env", "NOEQUALS"])
            .unwrap()
            .run;
        assert!(build_job(&args).is_err());
    }
}
