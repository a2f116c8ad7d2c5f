//! `joblite wait job/NAME --for=...`: kubectl's wait, plus `--for=done`.
//!
//! Conditions are checked as `staging/src/k8s.io/kubectl/pkg/cmd/wait/condition.go`
//! does: type and status compared case-insensitively, and a condition whose
//! `observedGeneration` (or the status's) is older than the object's
//! generation does not count.
//!
//! Exit codes: 0 when the condition asked for is met. `--for=done` waits for
//! Complete or Failed and says which: it prints `job.batch/NAME complete`
//! and exits 0, or `job.batch/NAME failed` and exits 1. A timeout prints
//! `error: timed out waiting for the condition on jobs/NAME` and exits 1.

use std::time::Duration;

use anyhow::bail;
use futures::StreamExt;
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::Value;

use super::client::{connect, TargetArgs};
use super::duration::parse_go_duration;
use super::errors::{api_error, is_not_found};
use super::resource;
use super::CmdResult;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WaitArgs {
    /// The object, as TYPE/NAME (job/x, pod/y).
    pub object: String,
    /// complete, failed, done, delete, or condition=TYPE[=VALUE].
    #[arg(long = "for", value_name = "CONDITION")]
    pub for_: String,
    /// How long to wait (Go duration; negative waits a week).
    #[arg(long, default_value = "30s")]
    pub timeout: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// What `--for` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WaitFor {
    Condition {
        type_: String,
        value: String,
    },
    /// Complete or Failed, whichever comes first.
    Done,
    Delete,
}

/// Parses `--for`.
pub(crate) fn parse_for(text: &str) -> anyhow::Result<WaitFor> {
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "complete" => return Ok(condition("Complete", "True")),
        "failed" => return Ok(condition("Failed", "True")),
        "done" => return Ok(WaitFor::Done),
        "delete" => return Ok(WaitFor::Delete),
        _ => {}
    }
    if let Some(rest) = text.strip_prefix("condition=") {
        let (type_, value) = rest.split_once('=').unwrap_or((rest, "True"));
        if type_.is_empty() {
            bail!("condition name cannot be empty");
        }
        return Ok(condition(type_, value));
    }
    bail!("unrecognized condition: {text:?} (want complete, failed, done, delete or condition=TYPE[=VALUE])")
}

fn condition(type_: &str, value: &str) -> WaitFor {
    WaitFor::Condition {
        type_: type_.to_string(),
        value: value.to_string(),
    }
}

/// Whether the object has the condition `type_` with `value`, honouring
/// observedGeneration.
pub(crate) fn has_condition(object: &Value, type_: &str, value: &str) -> bool {
    let generation = object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64);
    let status_observed = object
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    let Some(conditions) = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
    else {
        return false;
    };
    conditions.iter().any(|c| {
        let matches = c
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case(type_))
            && c.get("status")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(value));
        let observed = c
            .get("observedGeneration")
            .and_then(Value::as_i64)
            .or(status_observed);
        let current = match (generation, observed) {
            (Some(g), Some(o)) => o >= g,
            _ => true,
        };
        matches && current
    })
}

/// The decision for one observed state: `Some(exit code)` when done.
pub(crate) fn decide(for_: &WaitFor, object: Option<&Value>) -> Option<(u8, &'static str)> {
    match (for_, object) {
        (WaitFor::Delete, None) => Some((0, "condition met")),
        (WaitFor::Delete, Some(_)) | (_, None) => None,
        (WaitFor::Condition { type_, value }, Some(o)) => {
            has_condition(o, type_, value).then_some((0, "condition met"))
        }
        (WaitFor::Done, Some(o)) => {
            if has_condition(o, "Complete", "True") {
                Some((0, "complete"))
            } else if has_condition(o, "Failed", "True") {
                Some((1, "failed"))
            } else {
                None
            }
        }
    }
}

/// kubectl: a negative timeout means a week.
pub(crate) fn timeout_from(text: &str) -> anyhow::Result<Duration> {
    let d = parse_go_duration(text)?;
    Ok(if d.negative {
        Duration::from_secs(7 * 24 * 3600)
    } else {
        d.magnitude
    })
}

pub(crate) async fn run(args: WaitArgs) -> CmdResult {
    let for_ = parse_for(&args.for_)?;
    let timeout = timeout_from(&args.timeout)?;
    let (info, name) = resource::parse_ref(&args.object, None)?;
    let target = connect(&args.target).await?;
    let api = resource::dynamic_api(&target.client, info, &target.namespace);
    let display = resource::display_ref(info, &name);

    let current = match api.get(&name).await {
        Ok(o) => Some(serde_json::to_value(o)?),
        Err(e) if is_not_found(&e) && for_ == WaitFor::Delete => None,
        Err(e) => return Err(api_error(e, None)),
    };
    if let Some((code, word)) = decide(&for_, current.as_ref()) {
        println!("{display} {word}");
        return Ok(code);
    }
    let events = watcher(
        api,
        watcher::Config::default().fields(&format!("metadata.name={name}")),
    )
    .default_backoff();
    futures::pin_mut!(events);
    let waited = tokio::time::timeout(timeout, async {
        while let Some(event) = events.next().await {
            let state = match event? {
                watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                    Some(serde_json::to_value(o)?)
                }
                watcher::Event::Delete(_) => None,
                watcher::Event::Init | watcher::Event::InitDone => continue,
            };
            if state.is_none() && for_ != WaitFor::Delete {
                bail!("{} {name:?} not found", info.qualified());
            }
            if let Some(decision) = decide(&for_, state.as_ref()) {
                return Ok(decision);
            }
        }
        bail!("the watch of {display} ended")
    })
    .await;
    match waited {
        Ok(Ok((code, word))) => {
            println!("{display} {word}");
            Ok(code)
        }
        Ok(Err(err)) => Err(err),
        Err(_) => bail!(
            "timed out waiting for the condition on {}/{name}",
            info.plural
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn for_values() {
        let cases = [
            ("complete", condition("Complete", "True")),
            ("Failed", condition("Failed", "True")),
            ("condition=complete", condition("complete", "True")),
            ("condition=Suspended=false", condition("Suspended", "false")),
            ("done", WaitFor::Done),
            ("delete", WaitFor::Delete),
        ];
        for (text, want) in cases {
            assert_eq!(parse_for(text).unwrap(), want, "{text}");
        }
        assert!(parse_for("jsonpath={.x}").is_err());
        assert!(parse_for("condition=").is_err());
    }

    fn job(conds: Value, generation: i64, observed: Option<i64>) -> Value {
        let mut j = json!({"metadata": {"name": "x", "generation": generation}, "status": {"conditions": conds}});
        if let Some(o) = observed {
            j["status"]["observedGeneration"] = json!(o);
        }
        j
    }

    #[test]
    fn decisions() {
        let complete = job(json!([{"type": "Complete", "status": "True"}]), 1, None);
        let failed = job(json!([{"type": "Failed", "status": "True"}]), 1, None);
        let running = job(json!([]), 1, None);
        let stale = job(
            json!([{"type": "Complete", "status": "True", "observedGeneration": 1}]),
            2,
            None,
        );
        let stale_status = job(json!([{"type": "Complete", "status": "true"}]), 3, Some(2));
        type Case<'a> = (WaitFor, Option<&'a Value>, Option<(u8, &'static str)>);
        let cases: Vec<Case> = vec![
            (
                condition("complete", "true"),
                Some(&complete),
                Some((0, "condition met")),
            ),
            (condition("Complete", "True"), Some(&failed), None),
            (
                condition("Failed", "True"),
                Some(&failed),
                Some((0, "condition met")),
            ),
            (condition("Complete", "True"), Some(&stale), None),
            (condition("Complete", "True"), Some(&stale_status), None),
            (WaitFor::Done, Some(&complete), Some((0, "complete"))),
            (WaitFor::Done, Some(&failed), Some((1, "failed"))),
            (WaitFor::Done, Some(&running), None),
            (WaitFor::Delete, Some(&running), None),
            (WaitFor::Delete, None, Some((0, "condition met"))),
            (WaitFor::Done, None, None),
        ];
        for (for_, object, want) in cases {
            assert_eq!(decide(&for_, object), want, "{for_:?} {object:?}");
        }
    }

    #[test]
    fn timeouts() {
        assert_eq!(timeout_from("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(timeout_from("-1s").unwrap(), Duration::from_secs(604800));
        assert_eq!(timeout_from("0").unwrap(), Duration::ZERO);
        assert!(timeout_from("soon").is_err());
    }
}
