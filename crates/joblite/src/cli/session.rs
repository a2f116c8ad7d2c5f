//! The client side of `exec` and `attach`, shared by `joblite exec`,
//! `joblite attach` and `joblite run -i/-t`: which pod and container a
//! command means (as kubectl picks them), the local terminal (raw mode,
//! resizes), copying stdio, and the exit code from the session's `Status`.
//!
//! Sessions go through kube's WebSocket client (`v5.channel.k8s.io`, so
//! closing stdin reaches the container), which joblite's engine and any
//! Kubernetes 1.30+ API server speak.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{anyhow, bail};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{AttachedProcess, ListParams};
use kube::Api;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::client::Target;
use super::errors::api_error;
use super::resource;

/// How long to wait for a Job's pod to appear (kubectl's
/// `--pod-running-timeout` default).
pub(crate) const POD_RUNNING_TIMEOUT: Duration = Duration::from_secs(60);

/// The pod `POD`, `pod/NAME` or `job/NAME` means. For a Job, the pod kubectl
/// would pick: running and ready before running before pending, then the
/// oldest; waiting up to `timeout` for one to exist.
pub(crate) async fn attachable_pod(
    target: &Target,
    object: &str,
    timeout: Duration,
) -> anyhow::Result<Pod> {
    let (info, name) = resource::parse_ref(object, Some(&api::resources::PODS))?;
    let pods: Api<Pod> = Api::namespaced(target.client.clone(), &target.namespace);
    match info.plural {
        "pods" => pods.get(&name).await.map_err(|e| api_error(e, None)),
        "jobs" => {
            let jobs: Api<k8s_openapi::api::batch::v1::Job> =
                Api::namespaced(target.client.clone(), &target.namespace);
            let job = jobs.get(&name).await.map_err(|e| api_error(e, None))?;
            let selector = job
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .map(super::follow::selector_string)
                .unwrap_or_else(|| format!("batch.kubernetes.io/job-name={name}"));
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let list = pods
                    .list(&ListParams::default().labels(&selector))
                    .await
                    .map_err(|e| api_error(e, None))?;
                if let Some(pod) = most_active(list.items) {
                    return Ok(pod);
                }
                if tokio::time::Instant::now() >= deadline {
                    bail!("timed out waiting for the condition");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        other => bail!("cannot attach to {other}: use a pod or job/NAME"),
    }
}

/// kubectl's choice among a controller's pods (`podutils.ActivePods`,
/// reversed): the most active first, the oldest among equals.
fn most_active(mut pods: Vec<Pod>) -> Option<Pod> {
    fn rank(p: &Pod) -> (u8, u8) {
        let st = p.status.as_ref();
        let phase = match st.and_then(|s| s.phase.as_deref()) {
            Some("Running") => 2,
            Some("Pending") => 1,
            _ => 0,
        };
        let ready = st
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        (phase, u8::from(ready))
    }
    pods.sort_by(|a, b| {
        rank(b).cmp(&rank(a)).then_with(|| {
            a.metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0)
                .cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0))
        })
    });
    pods.into_iter().next()
}

/// The pod's phase when it can no longer run anything.
pub(crate) fn completed_phase(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .filter(|p| p == "Succeeded" || p == "Failed")
}

/// The container `-c` names, or kubectl's default (noting the choice on
/// stderr when the pod has several, unless quiet).
pub(crate) fn container(pod: &Pod, requested: Option<&str>, quiet: bool) -> anyhow::Result<String> {
    if let Some(c) = requested {
        return Ok(c.to_string());
    }
    let Some(c) = super::logs::default_container(pod) else {
        bail!(
            "pod {:?} has no containers",
            pod.metadata.name.as_deref().unwrap_or("")
        );
    };
    let all: Vec<String> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter().map(|c| c.name.clone()))
        .collect();
    if all.len() > 1 && !quiet {
        eprintln!("Defaulted container {c:?} out of: {}", all.join(", "));
    }
    Ok(c)
}

/// A kube error from opening a session, worded as kubectl words it: a
/// `Status` as `Error from server`, a plain-text refusal (the kubelet's
/// `container not found`) as `unable to upgrade connection`.
pub(crate) fn open_error(err: kube::Error) -> anyhow::Error {
    match err {
        kube::Error::Api(s) if s.reason == "Failed to parse error data" => {
            anyhow!("unable to upgrade connection: {}", s.message)
        }
        other => api_error(other, None),
    }
}

/// Whether our stdin is a terminal.
pub(crate) fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// The local terminal in raw mode until dropped (what kubectl's `term.Safe`
/// does for `-t`).
pub(crate) struct RawTerminal {
    saved: rustix::termios::Termios,
}

impl RawTerminal {
    pub(crate) fn enter() -> anyhow::Result<RawTerminal> {
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin)?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw)?;
        Ok(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

fn terminal_size() -> Option<kube::api::TerminalSize> {
    let ws = rustix::termios::tcgetwinsize(std::io::stdin()).ok()?;
    (ws.ws_col > 0 && ws.ws_row > 0).then_some(kube::api::TerminalSize {
        width: ws.ws_col,
        height: ws.ws_row,
    })
}

/// Copies `from` to `to` chunk by chunk, flushing each (a prompt without a
/// newline must show at once).
async fn pump(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).await.is_err() || to.flush().await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Runs an opened session to its end: our stdin to it (when `stdin`), its
/// output to ours, terminal resizes (when `tty`). Returns its `Status`;
/// `None` when the connection ended without one.
pub(crate) async fn drive(mut proc: AttachedProcess, stdin: bool, tty: bool) -> Option<Status> {
    let status = proc.take_status();
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(out) = proc.stdout() {
        tasks.spawn(pump(out, tokio::io::stdout()));
    }
    if let Some(err) = proc.stderr() {
        tasks.spawn(pump(err, tokio::io::stderr()));
    }
    let input = if stdin {
        proc.stdin().map(|mut w| {
            tokio::spawn(async move {
                pump(tokio::io::stdin(), &mut w).await;
                // Our stdin ended: so does the session's (v5 close signal).
                let _ = w.shutdown().await;
            })
        })
    } else {
        None
    };
    let resizes = if tty {
        proc.terminal_size().map(|mut tx| {
            tokio::spawn(async move {
                use futures::SinkExt;
                if let Some(size) = terminal_size() {
                    let _ = tx.send(size).await;
                }
                let Ok(mut winch) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
                else {
                    return;
                };
                while winch.recv().await.is_some() {
                    if let Some(size) = terminal_size() {
                        if tx.send(size).await.is_err() {
                            break;
                        }
                    }
                }
            })
        })
    } else {
        None
    };
    while tasks.join_next().await.is_some() {}
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    for t in [input, resizes].into_iter().flatten() {
        t.abort();
    }
    let _ = proc.join().await;
    status
}

/// The exit code a session's `Status` means, as kubectl reads it: 0 for
/// `Success`, the `ExitCode` cause of a `NonZeroExitCode` (printing
/// `command terminated with exit code N`), an error for anything else.
pub(crate) fn exit_code(status: Option<Status>) -> anyhow::Result<u8> {
    let Some(status) = status else {
        bail!("error reading from error stream: the connection closed without a status");
    };
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    if status.reason.as_deref() == Some("NonZeroExitCode") {
        let code = status
            .details
            .as_ref()
            .and_then(|d| d.causes.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
            .ok_or_else(|| anyhow!("error stream protocol error: details must be set"))?
            .message
            .as_deref()
            .unwrap_or("")
            .parse::<u8>()
            .map_err(|e| anyhow!("error stream protocol error: invalid exit code value: {e}"))?;
        eprintln!("command terminated with exit code {code}");
        return Ok(code);
    }
    Err(anyhow!("{}", status.message.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, phase: &str, ready: bool, created: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": created},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        }))
        .unwrap()
    }

    #[test]
    fn a_jobs_most_active_pod_is_picked() {
        let pick = |pods: Vec<Pod>| most_active(pods).and_then(|p| p.metadata.name);
        assert_eq!(
            pick(vec![
                pod("done", "Succeeded", false, "2026-01-01T00:00:00Z"),
                pod("pending", "Pending", false, "2026-01-01T00:00:01Z"),
                pod("new", "Running", true, "2026-01-01T00:00:03Z"),
                pod("old", "Running", true, "2026-01-01T00:00:02Z"),
                pod("unready", "Running", false, "2026-01-01T00:00:00Z"),
            ]),
            Some("old".into())
        );
        assert_eq!(
            pick(vec![pod(
                "done",
                "Succeeded",
                false,
                "2026-01-01T00:00:00Z"
            )]),
            Some("done".into())
        );
        assert_eq!(pick(vec![]), None);
    }

    #[test]
    fn exit_codes_come_from_the_status() {
        let status = |v: serde_json::Value| Some(serde_json::from_value::<Status>(v).unwrap());
        assert_eq!(
            exit_code(status(json!({"metadata": {}, "status": "Success"}))).unwrap(),
            0
        );
        let seven = json!({"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": "7"}]}});
        assert_eq!(exit_code(status(seven)).unwrap(), 7);
        let failed = json!({"status": "Failure", "reason": "InternalError", "message": "Internal error occurred: boom"});
        assert_eq!(
            exit_code(status(failed)).unwrap_err().to_string(),
            "Internal error occurred: boom"
        );
        assert!(exit_code(None).is_err());
    }
}
