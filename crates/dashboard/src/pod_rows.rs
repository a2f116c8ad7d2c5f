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

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::time::Duration;

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

/// How long changes gather before they go to the page as one line.
const BATCH: Duration = Duration::from_millis(250);

/// Changes gathered for the next batch: the latest row of each pod that
/// changed, `None` for one that went, and what the page already has (a
/// hash of each row), so a change the table cannot show is not sent.
#[derive(Default)]
struct Batch {
    rows: HashMap<String, Option<Value>>,
    sent: HashMap<String, u64>,
}

impl Batch {
    fn add(&mut self, ev: &store::Event, uid: &str) {
        // Most pods in a namespace may belong to other Jobs: skip them
        // before paying for a parse.
        if !contains(&ev.object, uid.as_bytes()) {
            return;
        }
        let Some(r) = row(&ev.object, uid) else {
            return;
        };
        let name = r[0].as_str().unwrap_or_default().to_string();
        if ev.kind == store::EventType::Deleted {
            self.rows.insert(name, None);
        } else {
            self.rows.insert(name, Some(r));
        }
    }

    /// `{"t":"B","r":[rows],"d":[names]}`, or nothing when no change shows.
    fn take(&mut self) -> Option<Bytes> {
        let mut rows = Vec::new();
        let mut gone = Vec::new();
        for (name, r) in self.rows.drain() {
            match r {
                Some(r) => {
                    let h = hash(&r);
                    if self.sent.insert(name, h) != Some(h) {
                        rows.push(r);
                    }
                }
                None => {
                    if self.sent.remove(&name).is_some() {
                        gone.push(Value::from(name));
                    }
                }
            }
        }
        (!rows.is_empty() || !gone.is_empty())
            .then(|| line(json!({"t": "B", "r": rows, "d": gone})))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn hash(v: &Value) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    h.finish()
}

/// The stream: rows in chunks, `{"t":"synced"}`, then changes in batches
/// of up to [`BATCH`] as `{"t":"B","r":[rows],"d":[names]}`: one line per
/// batch, whatever the rate of change, and at most one row per pod in it.
pub(crate) fn stream(
    store: &store::Store,
    namespace: &str,
    controller_uid: String,
) -> Result<impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, store::Error>
{
    let (list, watch) = store.list_and_watch(&PODS, Some(namespace))?;
    let mut batch = Batch::default();
    // The snapshot, in lines of up to 500 rows so the page can start
    // drawing before a huge Job has arrived.
    let mut first: Vec<Bytes> = Vec::new();
    let mut chunk: Vec<Value> = Vec::new();
    for s in &list.items {
        if let Some(r) = row(&s.bytes, &controller_uid) {
            batch
                .sent
                .insert(r[0].as_str().unwrap_or_default().to_string(), hash(&r));
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
    let tail = futures::stream::unfold(
        (Some(watch), controller_uid, batch),
        |(mut watch, uid, mut batch)| async move {
            loop {
                let w = watch.as_mut()?;
                match w.next().await {
                    Some(ev) => batch.add(&ev, &uid),
                    None => watch = None,
                }
                if let Some(w) = watch.as_mut() {
                    let deadline = tokio::time::Instant::now() + BATCH;
                    loop {
                        tokio::select! {
                            ev = w.next() => match ev {
                                Some(ev) => batch.add(&ev, &uid),
                                None => {
                                    watch = None;
                                    break;
                                }
                            },
                            _ = tokio::time::sleep_until(deadline) => break,
                        }
                    }
                }
                // The watch ended: send what was gathered, then end too,
                // and the page lists again.
                if let Some(b) = batch.take() {
                    return Some((Ok(b), (watch, uid, batch)));
                }
            }
        },
    );
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

    #[test]
    fn a_batch_sends_the_last_row_of_each_pod_and_only_what_changed() {
        let mut b = Batch::default();
        let running = json!(["p1", "Running", 0, null, null, "vm", "t", null, false]);
        let done = json!(["p1", "Succeeded", 0, 0, "Completed", "vm", "t", null, false]);
        b.rows.insert("p1".into(), Some(running.clone()));
        b.rows.insert("p2".into(), None); // never sent: nothing to delete
        let v: Value = serde_json::from_slice(&b.take().unwrap()).unwrap();
        assert_eq!(v, json!({"t": "B", "r": [running.clone()], "d": []}));
        b.rows.insert("p1".into(), Some(running));
        assert!(b.take().is_none(), "an unchanged row is not sent again");
        b.rows.insert("p1".into(), Some(done.clone()));
        let v: Value = serde_json::from_slice(&b.take().unwrap()).unwrap();
        assert_eq!(v, json!({"t": "B", "r": [done], "d": []}));
        b.rows.insert("p1".into(), None);
        let v: Value = serde_json::from_slice(&b.take().unwrap()).unwrap();
        assert_eq!(v, json!({"t": "B", "r": [], "d": ["p1"]}));
    }
}
