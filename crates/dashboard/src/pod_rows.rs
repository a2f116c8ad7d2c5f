//! The pods of one Job as compact rows, listed then followed by a watch.
//!
//! A Job view must stay usable at 100,000 pods. The API would send each
//! pod whole (2–3 KB of JSON, 250 MB for such a Job, and again on every
//! status change); the table shows eight fields. So the dashboard projects
//! each pod to one short row here (about 120 bytes) and streams newline-
//! delimited JSON: the current rows, a `synced` line, then one line per
//! change, from the same store watch the API uses (gapless after the
//! list). The page keeps the rows in a map and renders only the visible
//! slice of its table.

use std::collections::BTreeMap;

use api::resources::PODS;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

/// The label the Job controller puts on its pods.
const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Meta {
    name: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    deletion_timestamp: Option<String>,
    creation_timestamp: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Spec {
    node_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ContainerStatus {
    restart_count: i64,
    state: Value,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Status {
    phase: Option<String>,
    reason: Option<String>,
    start_time: Option<String>,
    container_statuses: Vec<ContainerStatus>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Pod {
    metadata: Meta,
    spec: Spec,
    status: Status,
}

/// One pod's row: `[name, phase, restarts, exitCode, reason, node,
/// startTime, index, terminating]`, or `None` when it is not the Job's.
pub(crate) fn row(bytes: &[u8], controller_uid: &str) -> Option<Value> {
    let p: Pod = serde_json::from_slice(bytes).ok()?;
    if p.metadata.labels.get(CONTROLLER_UID).map(String::as_str) != Some(controller_uid) {
        return None;
    }
    let restarts: i64 = p
        .status
        .container_statuses
        .iter()
        .map(|c| c.restart_count)
        .sum();
    // The first container that ended (or is waiting) names the exit code
    // and reason the table shows, as `kubectl get pods` does.
    let mut exit = Value::Null;
    let mut reason = p
        .status
        .reason
        .clone()
        .map(Value::from)
        .unwrap_or(Value::Null);
    for c in &p.status.container_statuses {
        if let Some(t) = c.state.get("terminated") {
            exit = t.get("exitCode").cloned().unwrap_or(Value::Null);
            if reason.is_null() {
                reason = t.get("reason").cloned().unwrap_or(Value::Null);
            }
            break;
        }
        if let Some(w) = c.state.get("waiting") {
            if reason.is_null() {
                reason = w.get("reason").cloned().unwrap_or(Value::Null);
            }
        }
    }
    let index = p
        .metadata
        .annotations
        .get(COMPLETION_INDEX)
        .and_then(|i| i.parse::<i64>().ok());
    Some(json!([
        p.metadata.name,
        p.status.phase.unwrap_or_else(|| "Pending".into()),
        restarts,
        exit,
        reason,
        p.spec.node_name,
        p.status.start_time.or(p.metadata.creation_timestamp),
        index,
        p.metadata.deletion_timestamp.is_some(),
    ]))
}

fn line(v: Value) -> Bytes {
    let mut b = serde_json::to_vec(&v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

/// The stream: rows in chunks, `{"t":"synced"}`, then changes as
/// `{"t":"A"|"M"|"D","r":row}` (`D` carries just the name).
pub(crate) fn stream(
    store: &store::Store,
    namespace: &str,
    controller_uid: String,
) -> Result<impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, store::Error>
{
    let (list, watch) = store.list_and_watch(&PODS, Some(namespace))?;
    // The snapshot, in lines of up to 500 rows so the page can start
    // drawing before a huge Job has arrived.
    let mut first: Vec<Bytes> = Vec::new();
    let mut chunk: Vec<Value> = Vec::new();
    for s in &list.items {
        if let Some(r) = row(&s.bytes, &controller_uid) {
            chunk.push(r);
            if chunk.len() == 500 {
                first.push(line(json!({"t": "rows", "r": std::mem::take(&mut chunk)})));
            }
        }
    }
    if !chunk.is_empty() {
        first.push(line(json!({"t": "rows", "r": chunk})));
    }
    first.push(line(json!({"t": "synced"})));
    let head = futures::stream::iter(first.into_iter().map(Ok));
    let tail = futures::stream::unfold((watch, controller_uid), |(mut watch, uid)| async move {
        loop {
            let ev = watch.next().await?;
            let out = match ev.kind {
                store::EventType::Deleted => {
                    row(&ev.object, &uid).map(|r| json!({"t": "D", "r": [r[0].clone()]}))
                }
                store::EventType::Added => row(&ev.object, &uid).map(|r| json!({"t": "A", "r": r})),
                store::EventType::Modified => {
                    row(&ev.object, &uid).map(|r| json!({"t": "M", "r": r}))
                }
            };
            if let Some(v) = out {
                return Some((Ok(line(v)), (watch, uid)));
            }
        }
    });
    Ok(futures::StreamExt::chain(head, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_carry_what_the_pods_table_shows() {
        let pod = json!({
            "metadata": {"name": "pi-0-abc", "labels": {CONTROLLER_UID: "u1"},
                          "annotations": {COMPLETION_INDEX: "0"}},
            "spec": {"nodeName": "vm"},
            "status": {"phase": "Failed", "startTime": "2026-01-01T00:00:00Z",
                "containerStatuses": [{"restartCount": 2,
                    "state": {"terminated": {"exitCode": 42, "reason": "Error"}}}]}
        });
        let r = row(&serde_json::to_vec(&pod).unwrap(), "u1").unwrap();
        assert_eq!(
            r,
            json!([
                "pi-0-abc",
                "Failed",
                2,
                42,
                "Error",
                "vm",
                "2026-01-01T00:00:00Z",
                0,
                false
            ])
        );
        assert!(row(&serde_json::to_vec(&pod).unwrap(), "u2").is_none());
        let waiting = json!({
            "metadata": {"name": "p", "labels": {CONTROLLER_UID: "u1"}, "deletionTimestamp": "t"},
            "status": {"containerStatuses": [{"restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}}}]}
        });
        let r = row(&serde_json::to_vec(&waiting).unwrap(), "u1").unwrap();
        assert_eq!(r[1], "Pending");
        assert_eq!(r[4], "ContainerCreating");
        assert_eq!(r[8], true);
    }
}
