//! Following a Job to its end: its status (for bars and the result) and,
//! optionally, the output of every pod it creates, as the pods appear.
//!
//! `run -i`, `apply --wait` and `logs -f job/NAME` are all this one loop.
//! It watches the Job and its pods (the Job's own selector, so it works on
//! any cluster), starts a follow log stream for each container instance once
//! it has started, and returns when the Job has a Complete or Failed
//! condition and the streams have drained.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{ListParams, LogParams};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;

use super::duration;
use super::errors::api_error;
use super::progress::{self, Counts, Progress};

/// How long log streams may run on after the Job finished (a killed pod's
/// stream ends when its process does; this bounds the wait if one hangs).
const DRAIN: Duration = Duration::from_secs(5);

/// The end state of a Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finished {
    Complete,
    Failed { reason: String, message: String },
}

/// The terminal condition of a Job, if it has one (`Complete` or `Failed`
/// with status True; see `pkg/controller/job/job_controller.go`, which adds
/// them only once every pod has terminated).
pub(crate) fn finished(job: &Job) -> Option<Finished> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    for c in conditions {
        if c.status != "True" {
            continue;
        }
        match c.type_.as_str() {
            "Complete" => return Some(Finished::Complete),
            "Failed" => {
                return Some(Finished::Failed {
                    reason: c.reason.clone().unwrap_or_default(),
                    message: c.message.clone().unwrap_or_default(),
                })
            }
            _ => {}
        }
    }
    None
}

/// A label selector in its string form (`a=b,c in (d,e),!f`).
pub(crate) fn selector_string(selector: &LabelSelector) -> String {
    let mut parts = Vec::new();
    if let Some(labels) = &selector.match_labels {
        for (k, v) in labels {
            parts.push(format!("{k}={v}"));
        }
    }
    for expr in selector.match_expressions.iter().flatten() {
        let values = expr.values.clone().unwrap_or_default().join(",");
        parts.push(match expr.operator.as_str() {
            "In" => format!("{} in ({values})", expr.key),
            "NotIn" => format!("{} notin ({values})", expr.key),
            "Exists" => expr.key.clone(),
            "DoesNotExist" => format!("!{}", expr.key),
            other => format!("{} {other} ({values})", expr.key),
        });
    }
    parts.join(",")
}

/// What to do while following.
#[derive(Clone)]
pub(crate) struct FollowOptions {
    /// Stream the pods' output to stdout.
    pub logs: bool,
    /// Prefix each line with `[pod/NAME/CONTAINER] `.
    pub prefix: bool,
    /// Only this container's output.
    pub container: Option<String>,
    pub timestamps: bool,
    pub progress: Progress,
    /// When the user's wait began (for the summary's duration).
    pub started: Instant,
}

/// How a followed Job ended.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub name: String,
    pub finished: Finished,
    pub counts: Counts,
    pub pods: usize,
    pub elapsed: Duration,
}

impl Outcome {
    /// The one-line summary: result, duration, pods, retries.
    pub(crate) fn summary(&self) -> String {
        let result = match &self.finished {
            Finished::Complete => "complete".to_string(),
            Finished::Failed { reason, message } if !message.is_empty() => {
                format!("failed ({reason}: {message})")
            }
            Finished::Failed { reason, .. } => format!("failed ({reason})"),
        };
        format!(
            "job.batch/{} {result} in {}: {} succeeded, {} failed, {} pods, {} retries",
            self.name,
            duration::elapsed(self.elapsed),
            self.counts.succeeded,
            self.counts.failed,
            self.pods,
            self.counts.retries
        )
    }

    pub(crate) fn exit_code(&self) -> u8 {
        match self.finished {
            Finished::Complete => 0,
            Finished::Failed { .. } => 1,
        }
    }
}

/// Per-pod bookkeeping.
#[derive(Default)]
struct PodSeen {
    restarts: i64,
    /// (container, restartCount) instances whose output is streaming.
    streamed: HashSet<(String, i32)>,
    /// (container, restartCount) instances whose failure was reported.
    reported: HashSet<(String, i32)>,
    /// A failure no retry can fix (the process runtime cannot run the
    /// image's own command): following stops with it.
    hopeless: Option<String>,
}

/// Whether a start failure will repeat on every retry: the process runtime
/// has no image to take a missing command from.
fn hopeless(why: &str) -> bool {
    why.contains(node::runtime::process::CONTAINER_RUNTIME_HINT)
}

/// Why a container could not run, when that is not the program's own
/// doing: a start failure (`ContainerCannotRun`, `StartError`, ...) carries
/// a message the user needs, since the program printed nothing.
pub(crate) fn start_failure(cs: &k8s_openapi::api::core::v1::ContainerStatus) -> Option<String> {
    // A container restarted in place shows its failed start as lastState.
    let t = cs
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| cs.last_state.as_ref()?.terminated.as_ref())?;
    let reason = t.reason.clone().unwrap_or_default();
    if matches!(reason.as_str(), "" | "Completed" | "Error" | "OOMKilled") {
        return None;
    }
    let message = t.message.clone().filter(|m| !m.is_empty())?;
    Some(format!("{reason}: {message}"))
}

/// Follows the Job `name` until it finishes; see the module docs. `known`
/// is the Job when the caller has it already (saves a request).
pub(crate) async fn follow_job(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    known: Option<Job>,
    options: &FollowOptions,
) -> anyhow::Result<Outcome> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let job = match known {
        Some(job) => job,
        None => jobs.get(name).await.map_err(|e| api_error(e, None))?,
    };
    let selector = job
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .map(selector_string)
        .unwrap_or_else(|| format!("batch.kubernetes.io/job-name={name}"));
    let bar = options
        .progress
        .job_bar(&format!("job.batch/{name}"), progress::target(&job));

    let job_events = watcher(
        jobs.clone(),
        watcher::Config::default().fields(&format!("metadata.name={name}")),
    )
    .default_backoff()
    .applied_objects();
    let pod_events = watcher(pods.clone(), watcher::Config::default().labels(&selector))
        .default_backoff()
        .applied_objects();
    futures::pin_mut!(job_events, pod_events);

    let mut seen: HashMap<String, PodSeen> = HashMap::new();
    let mut streams = tokio::task::JoinSet::new();
    let mut last = job;
    let mut result = finished(&last);
    while result.is_none() {
        tokio::select! {
            event = job_events.next() => match event {
                Some(Ok(job)) => {
                    bar.update(Counts::of(&job, restarts(&seen)));
                    result = finished(&job);
                    last = job;
                }
                Some(Err(err)) => return Err(anyhow::Error::new(err)),
                None => anyhow::bail!("the watch of job.batch/{name} ended"),
            },
            event = pod_events.next() => match event {
                Some(Ok(pod)) => {
                    observe_pod(&pods, &pod, &mut seen, options, &mut streams);
                    bar.update(Counts::of(&last, restarts(&seen)));
                    if let Some(why) = seen.values().find_map(|p| p.hopeless.clone()) {
                        // Every retry would fail the same way: say so now
                        // rather than after the Job's back-off runs out.
                        result = Some(Finished::Failed {
                            reason: "ContainerCannotRun".into(),
                            message: why,
                        });
                    }
                }
                Some(Err(err)) => return Err(anyhow::Error::new(err)),
                None => anyhow::bail!("the watch of the pods of job.batch/{name} ended"),
            },
        }
    }
    // The Job may finish before the pod watch reports its last pods (a
    // `/bin/true` pod is over in a millisecond): one list closes that gap.
    if let Ok(list) = pods.list(&ListParams::default().labels(&selector)).await {
        for pod in &list.items {
            observe_pod(&pods, pod, &mut seen, options, &mut streams);
        }
    }
    let _ = tokio::time::timeout(DRAIN, async {
        while streams.join_next().await.is_some() {}
    })
    .await;
    streams.abort_all();
    bar.finish();
    let mut counts = Counts::of(&last, restarts(&seen));
    let finished = result.expect("loop exits only when finished");
    if matches!(&finished, Finished::Failed { reason, .. } if reason == "ContainerCannotRun") {
        options.progress.print_stderr(&format!(
            "joblite: job.batch/{name} keeps retrying in the background; `joblite delete job {name}` removes it"
        ));
    }
    // The failure that ended a failed Job was not retried.
    if matches!(finished, Finished::Failed { .. }) && counts.failed > 0 {
        counts.retries -= 1;
    }
    let status = last.status.clone().unwrap_or_default();
    let from_status = (status.succeeded.unwrap_or(0)
        + status.failed.unwrap_or(0)
        + status.active.unwrap_or(0)) as usize;
    Ok(Outcome {
        name: name.to_string(),
        finished,
        counts,
        pods: seen.len().max(from_status),
        elapsed: options.started.elapsed(),
    })
}

fn restarts(seen: &HashMap<String, PodSeen>) -> i64 {
    seen.values().map(|p| p.restarts).sum()
}

/// Records a pod and starts streams for container instances that started.
fn observe_pod(
    pods: &Api<Pod>,
    pod: &Pod,
    seen: &mut HashMap<String, PodSeen>,
    options: &FollowOptions,
    streams: &mut tokio::task::JoinSet<()>,
) {
    let Some(pod_name) = pod.metadata.name.clone() else {
        return;
    };
    let entry = seen.entry(pod_name.clone()).or_default();
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default();
    entry.restarts = entry
        .restarts
        .max(statuses.iter().map(|c| i64::from(c.restart_count)).sum());
    for cs in &statuses {
        if let Some(why) = start_failure(cs) {
            if entry.reported.insert((cs.name.clone(), cs.restart_count)) {
                options
                    .progress
                    .print_stderr(&format!("joblite: pod/{pod_name}/{}: {why}", cs.name));
                if hopeless(&why) {
                    entry.hopeless = Some(why);
                }
            }
        }
    }
    if !options.logs {
        return;
    }
    for cs in statuses {
        if options.container.as_ref().is_some_and(|c| c != &cs.name) {
            continue;
        }
        let state = cs.state.clone().unwrap_or_default();
        let started = state.running.is_some() || state.terminated.is_some();
        if !started || !entry.streamed.insert((cs.name.clone(), cs.restart_count)) {
            continue;
        }
        let pods = pods.clone();
        let params = LogParams {
            follow: true,
            container: Some(cs.name.clone()),
            timestamps: options.timestamps,
            ..Default::default()
        };
        let prefix = if options.prefix {
            format!("[pod/{pod_name}/{}] ", cs.name)
        } else {
            String::new()
        };
        let progress = options.progress.clone();
        let pod_name = pod_name.clone();
        streams.spawn(async move {
            stream_lines(&pods, &pod_name, &params, &prefix, &progress).await;
        });
    }
}

/// Opens a pod's log stream and copies it to stdout; errors end it quietly
/// (a pod deleted under us simply has no more output).
pub(crate) async fn stream_lines(
    pods: &Api<Pod>,
    pod: &str,
    params: &LogParams,
    prefix: &str,
    progress: &Progress,
) {
    if let Ok(reader) = pods.log_stream(pod, params).await {
        copy_lines(reader, prefix, progress).await;
    }
}

/// Copies a log stream to stdout line by line, each line with the prefix.
pub(crate) async fn copy_lines(
    reader: impl futures::AsyncBufRead,
    prefix: &str,
    progress: &Progress,
) {
    let lines = reader.lines();
    futures::pin_mut!(lines);
    while let Ok(Some(line)) = lines.try_next().await {
        let mut out = Vec::with_capacity(prefix.len() + line.len() + 1);
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
        progress.print_stdout(&out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use std::collections::BTreeMap;

    fn job_with(conditions: &[(&str, &str, &str)]) -> Job {
        Job {
            status: Some(JobStatus {
                conditions: Some(
                    conditions
                        .iter()
                        .map(|(t, s, r)| JobCondition {
                            type_: t.to_string(),
                            status: s.to_string(),
                            reason: Some(r.to_string()),
                            message: Some(format!("{r} message")),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn terminal_conditions() {
        type Case<'a> = (Vec<(&'a str, &'a str, &'a str)>, Option<Finished>);
        let cases: Vec<Case> = vec![
            (vec![], None),
            (vec![("SuccessCriteriaMet", "True", "x")], None),
            (
                vec![("FailureTarget", "True", "BackoffLimitExceeded")],
                None,
            ),
            (
                vec![
                    ("SuccessCriteriaMet", "True", "x"),
                    ("Complete", "True", "x"),
                ],
                Some(Finished::Complete),
            ),
            (vec![("Complete", "False", "x")], None),
            (
                vec![("Failed", "True", "BackoffLimitExceeded")],
                Some(Finished::Failed {
                    reason: "BackoffLimitExceeded".into(),
                    message: "BackoffLimitExceeded message".into(),
                }),
            ),
        ];
        for (conds, want) in cases {
            assert_eq!(finished(&job_with(&conds)), want, "{conds:?}");
        }
    }

    #[test]
    fn selectors_render() {
        let selector = LabelSelector {
            match_labels: Some(BTreeMap::from([
                (
                    "batch.kubernetes.io/controller-uid".to_string(),
                    "u1".to_string(),
                ),
                ("team".to_string(), "a".to_string()),
            ])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "env".into(),
                    operator: "In".into(),
                    values: Some(vec!["a".into(), "b".into()]),
                },
                LabelSelectorRequirement {
                    key: "gone".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        assert_eq!(
            selector_string(&selector),
            "batch.kubernetes.io/controller-uid=u1,team=a,env in (a,b),!gone"
        );
    }

    #[test]
    fn start_failures_are_reported_but_exits_are_not() {
        let status = |reason: &str, message: &str| -> k8s_openapi::api::core::v1::ContainerStatus {
            serde_json::from_value(serde_json::json!({
                "name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 128, "reason": reason, "message": message}}
            }))
            .unwrap()
        };
        assert_eq!(
            start_failure(&status("ContainerCannotRun", "no command")).as_deref(),
            Some("ContainerCannotRun: no command")
        );
        assert_eq!(start_failure(&status("Error", "exit 1")), None);
        assert_eq!(start_failure(&status("Completed", "")), None);
        assert_eq!(start_failure(&status("StartError", "")), None);
    }

    #[test]
    fn summaries() {
        let outcome = Outcome {
            name: "pi".into(),
            finished: Finished::Failed {
                reason: "BackoffLimitExceeded".into(),
                message: "Job has reached the specified backoff limit".into(),
            },
            counts: Counts {
                succeeded: 0,
                failed: 7,
                active: 0,
                retries: 7,
            },
            pods: 7,
            elapsed: Duration::from_millis(1270),
        };
        assert_eq!(
            outcome.summary(),
            "job.batch/pi failed (BackoffLimitExceeded: Job has reached the specified backoff limit) in 1.27s: 0 succeeded, 7 failed, 7 pods, 7 retries"
        );
        assert_eq!(outcome.exit_code(), 1);
    }
}
