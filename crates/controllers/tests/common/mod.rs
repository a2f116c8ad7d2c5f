//! Shared fixtures: a real store in a temp dir, the controllers, and a
//! stand-in kubelet that moves pods to the phase a test chooses. (The
//! black-box suite with real processes lives elsewhere; these tests only
//! exercise the controllers against the store.)
#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::resources::{JOBS, NAMESPACES, PODS};
use controllers::{ControllerOptions, JoinHandles};
use serde_json::{json, Value};
use store::{Options, Store};

pub(crate) struct Env {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub controllers: Option<JoinHandles>,
    pub kubelet: Option<tokio::task::JoinHandle<()>>,
}

pub(crate) fn opts() -> ControllerOptions {
    ControllerOptions {
        pod_failure_backoff: Duration::from_millis(100),
        ..Default::default()
    }
}

impl Env {
    pub(crate) async fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            dir.path(),
            Options {
                synchronous_full: false,
                ..Default::default()
            },
        )
        .unwrap();
        store
            .create(
                &NAMESPACES,
                json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}),
            )
            .await
            .unwrap();
        let controllers = controllers::run(store.clone(), opts()).await.unwrap();
        Env {
            dir,
            store,
            controllers: Some(controllers),
            kubelet: None,
        }
    }

    /// Stops the controllers (a controller restart is `stop` + `start`).
    /// Stops the controllers as a process exit would: their tasks end, and
    /// every write they already handed to the store is committed before this
    /// returns (a barrier write queues behind them on the single writer).
    /// Without the barrier a create still in the writer's queue would land
    /// after the next controller's initial list, a state no real restart has.
    pub(crate) async fn stop(&mut self) {
        if let Some(c) = self.controllers.take() {
            c.abort();
            for h in c.handles {
                let _ = h.await;
            }
            self.store
                .create(
                    &api::resources::EVENTS,
                    json!({"apiVersion": "v1", "kind": "Event",
                        "metadata": {"namespace": "default", "generateName": "barrier-"},
                        "involvedObject": {"kind": "Job", "namespace": "default", "name": "barrier"},
                        "reason": "TestBarrier", "message": "controllers stopped"}),
                )
                .await
                .unwrap();
        }
    }

    pub(crate) async fn start(&mut self) {
        self.controllers = Some(controllers::run(self.store.clone(), opts()).await.unwrap());
    }

    /// Runs a fake kubelet: each new pod gets the outcome `decide` picks.
    pub(crate) fn kubelet(&mut self, decide: impl Fn(&Value) -> Outcome + Send + Sync + 'static) {
        let store = self.store.clone();
        let decide = Arc::new(decide);
        self.kubelet = Some(tokio::spawn(async move {
            let (list, mut w) = store.list_and_watch(&PODS, None).unwrap();
            let mut seen: HashSet<String> = HashSet::new();
            let mut pending: Vec<Value> = list.items.iter().map(|s| s.value()).collect();
            loop {
                for pod in pending.drain(..) {
                    let uid = pod["metadata"]["uid"].as_str().unwrap_or("").to_string();
                    if pod["metadata"].get("deletionTimestamp").is_some()
                        || pod["status"]["phase"].as_str().unwrap_or("Pending") != "Pending"
                        || !seen.insert(uid.clone())
                    {
                        continue;
                    }
                    let outcome = decide(&pod);
                    let store = store.clone();
                    tokio::spawn(async move { apply(&store, &pod, outcome).await });
                }
                match w.next().await {
                    Some(ev) => {
                        if ev.kind != store::EventType::Deleted {
                            pending.push(serde_json::from_slice(&ev.object).unwrap());
                        }
                    }
                    None => return,
                }
            }
        }));
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(c) = self.controllers.take() {
            c.abort();
        }
        if let Some(k) = self.kubelet.take() {
            k.abort();
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Outcome {
    Succeed,
    Fail(i32),
    Run,
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Writes the pod status a kubelet would.
pub(crate) async fn apply(store: &Store, pod: &Value, outcome: Outcome) {
    let ns = pod["metadata"]["namespace"].as_str().unwrap().to_string();
    let name = pod["metadata"]["name"].as_str().unwrap().to_string();
    let uid = pod["metadata"]["uid"].as_str().unwrap().to_string();
    let _ = store
        .modify(&PODS, &ns, &name, |mut v| {
            if v["metadata"]["uid"] != json!(uid) || v["metadata"].get("deletionTimestamp").is_some() {
                return Ok(None);
            }
            let t = now();
            v["status"] = match outcome {
                Outcome::Succeed => json!({"phase": "Succeeded", "startTime": t,
                    "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": t}],
                    "containerStatuses": [{"name": "c", "restartCount": 0, "ready": false,
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": t, "finishedAt": t}}}]}),
                Outcome::Fail(code) => json!({"phase": "Failed", "startTime": t,
                    "conditions": [{"type": "Ready", "status": "False", "reason": "PodFailed", "lastTransitionTime": t}],
                    "containerStatuses": [{"name": "c", "restartCount": 0, "ready": false,
                        "state": {"terminated": {"exitCode": code, "reason": "Error", "startedAt": t, "finishedAt": t}}}]}),
                Outcome::Run => json!({"phase": "Running", "startTime": t,
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": t}],
                    "containerStatuses": [{"name": "c", "restartCount": 0, "ready": true,
                        "state": {"running": {"startedAt": t}}}]}),
            };
            Ok(Some(v))
        })
        .await;
}

/// Creates a Job the way the API server would (defaults, generated selector).
pub(crate) async fn create_job(store: &Store, name: &str, spec: Value) -> Value {
    create_job_in(store, "default", name, spec).await
}

pub(crate) async fn create_job_in(store: &Store, ns: &str, name: &str, mut spec: Value) -> Value {
    if spec.get("template").is_none() {
        spec["template"] = json!({"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}});
    }
    let v = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": ns}, "spec": spec});
    let mut job: k8s_openapi::api::batch::v1::Job = serde_json::from_value(v).unwrap();
    let uid = format!("uid-{name}-{}", rand::random::<u32>());
    api::defaults::default_job(&mut job);
    api::defaults::prepare_job_for_create(&mut job, &uid);
    api::defaults::default_job(&mut job);
    let mut v = serde_json::to_value(&job).unwrap();
    v["apiVersion"] = json!("batch/v1");
    v["kind"] = json!("Job");
    store.create(&JOBS, v).await.unwrap().value()
}

pub(crate) fn get_job(store: &Store, name: &str) -> Option<Value> {
    store.get(&JOBS, "default", name).ok().map(|s| s.value())
}

pub(crate) fn pods_of(store: &Store, ns: &str, job: &str) -> Vec<Value> {
    store
        .list(&PODS, Some(ns))
        .items
        .iter()
        .map(|s| s.value())
        .filter(|p| p["metadata"]["labels"]["job-name"] == json!(job))
        .collect()
}

pub(crate) fn condition_types(job: &Value) -> Vec<(String, String, String)> {
    job["status"]["conditions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c["type"].as_str().unwrap_or("").to_string(),
                        c["status"].as_str().unwrap_or("").to_string(),
                        c["reason"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn is_finished(job: &Value) -> bool {
    condition_types(job)
        .iter()
        .any(|(t, s, _)| (t == "Complete" || t == "Failed") && s == "True")
}

/// Polls until `f` returns Some, or panics after `timeout`.
pub(crate) async fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(t) = f() {
            return t;
        }
        if start.elapsed() > timeout {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(crate) async fn wait_finished(store: &Store, name: &str) -> Value {
    wait_for(
        Duration::from_secs(30),
        &format!("job {name} to finish"),
        || get_job(store, name).filter(is_finished),
    )
    .await
}

pub(crate) fn events_for(store: &Store, name: &str) -> Vec<(String, String)> {
    store
        .list(&api::resources::EVENTS, Some("default"))
        .items
        .iter()
        .map(|s| s.value())
        .filter(|e| e["involvedObject"]["name"] == json!(name))
        .map(|e| {
            (
                e["reason"].as_str().unwrap_or("").to_string(),
                e["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}
