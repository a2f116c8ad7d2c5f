//! The Job controller (upstream `pkg/controller/job/job_controller.go`).
//!
//! `sync_job` is upstream's `syncJob` step by step, in the same order,
//! because the order decides which condition wins when several hold in one
//! sync (§5 of the reference). Pod counting is exact across restarts
//! because it rests on the tracking finalizer and
//! `status.uncountedTerminatedPods` (see [`tracking`]), not on memory.
//!
//! Deliberate differences from upstream, for latency on one machine:
//! pod events trigger a sync at once (`pod_event_delay`, 0 by default)
//! instead of after 1 s, and `syncJobBatchPeriod` (for a pod's first
//! failure and Job status updates) is `batch_period` (20 ms by default)
//! instead of 1 s. The per-Job pod index only holds pods that can still
//! matter (non-terminal, or holding the tracking finalizer), so a sync of a
//! Job with 10,000 finished pods does not walk them all.

pub mod backoff;
pub mod conditions;
pub mod events;
pub mod indexed;
pub mod metrics;
pub mod pod_failure_policy;
pub mod pods;
pub mod success_policy;
pub mod tracking;

#[cfg(test)]
mod fake_clock_tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use api::index_set::IndexSet;
use api::resources::{JOBS, PODS};
use api::selectors::Selector;
use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use store::{DeleteOptions, EventType, Store, Stored};
use tokio::task::JoinHandle;

use crate::clock::{self, Clock};
use crate::kit::edit;
use crate::kit::expectations::{Expectations, FinalizerExpectations};
use crate::kit::informer::{self, Handler};
use crate::kit::objects::{Job, JobCondition, Pod};
use crate::kit::queue::WorkQueue;
use crate::{ControllerOptions, Error, Result};
use backoff::BackoffRecord;
use conditions::*;
use pod_failure_policy::match_pod_failure_policy;

pub use api::vocabulary::{JOB_CONTROLLER_NAME, JOB_TRACKING_FINALIZER};
/// Upstream `MaxPodCreateDeletePerSync`.
pub const MAX_POD_CREATE_DELETE_PER_SYNC: usize = 500;
/// Upstream `MaxUncountedPods`.
pub const MAX_UNCOUNTED_PODS: usize = 500;

/// Upstream `isPodFailed`.
pub fn is_pod_failed(p: &Pod, job: &Job) -> bool {
    if p.phase() == "Failed" {
        return true;
    }
    if job.only_replace_failed_pods() {
        return false;
    }
    // Deleted pods count as failures, for orphans that never reach Failed.
    p.metadata.deletion_timestamp.is_some() && p.phase() != "Succeeded"
}

#[derive(Default)]
struct PodIndex {
    by_key: HashMap<String, Arc<Pod>>,
    /// Controller uid → pods that can still matter to that Job: not
    /// terminal, or still holding the tracking finalizer.
    by_owner: HashMap<String, HashSet<String>>,
    /// Namespace → pods without a controller (adoption candidates).
    orphans: HashMap<String, HashSet<String>>,
}

impl PodIndex {
    fn unindex(&mut self, p: &Pod) {
        let key = p.key();
        match p.metadata.controller_ref() {
            Some(r) => {
                if let Some(s) = self.by_owner.get_mut(&*r.uid) {
                    s.remove(&key);
                    if s.is_empty() {
                        self.by_owner.remove(&*r.uid);
                    }
                }
            }
            None => {
                if let Some(s) = self.orphans.get_mut(&p.metadata.namespace) {
                    s.remove(&key);
                    if s.is_empty() {
                        self.orphans.remove(&p.metadata.namespace);
                    }
                }
            }
        }
    }

    fn index(&mut self, p: &Pod) {
        let key = p.key();
        match p.metadata.controller_ref() {
            Some(r) => {
                if !p.is_terminal() || p.metadata.has_finalizer(JOB_TRACKING_FINALIZER) {
                    self.by_owner
                        .entry(r.uid.to_string())
                        .or_default()
                        .insert(key);
                }
            }
            None => {
                self.orphans
                    .entry(p.metadata.namespace.clone())
                    .or_default()
                    .insert(key);
            }
        }
    }

    fn upsert(&mut self, p: Arc<Pod>) -> Option<Arc<Pod>> {
        let key = p.key();
        if let Some(old) = self.by_key.get(&key) {
            if old.rev >= p.rev {
                return None;
            }
        }
        let old = self.by_key.insert(key, p.clone());
        if let Some(o) = &old {
            self.unindex(o);
        }
        self.index(&p);
        old
    }

    fn remove(&mut self, key: &str) -> Option<Arc<Pod>> {
        let old = self.by_key.remove(key)?;
        self.unindex(&old);
        Some(old)
    }
}

/// The Job controller.
pub struct JobController {
    store: Store,
    clock: Arc<dyn Clock>,
    opts: ControllerOptions,
    jobs: RwLock<HashMap<String, Arc<Job>>>,
    pods: RwLock<PodIndex>,
    queue: WorkQueue<String>,
    orphan_queue: WorkQueue<String>,
    expectations: Expectations,
    finalizer_expectations: FinalizerExpectations,
    backoff: Mutex<HashMap<String, BackoffRecord>>,
    /// The last Job objects this controller wrote, by key: a sync reads
    /// them instead of an older cached copy, so it never acts on (and
    /// conflicts with) its own stale status.
    written: Mutex<HashMap<String, Arc<Job>>>,
    recorder: Arc<events::Recorder>,
}

struct JobHandler(Arc<JobController>);
struct PodHandler(Arc<JobController>);

impl Handler for JobHandler {
    fn apply(&self, kind: EventType, object: &Stored) {
        let Some(job) = Job::of(object) else {
            return;
        };
        let rev = object.rev;
        let c = &self.0;
        let key = job.key();
        if kind == EventType::Deleted {
            let old = c.jobs.write().remove(&key);
            c.on_job_deleted(old.unwrap_or_else(|| Arc::new(job)));
            return;
        }
        let job = Arc::new(job);
        let old = {
            let mut jobs = c.jobs.write();
            if jobs.get(&key).is_some_and(|o| o.rev >= rev) {
                return;
            }
            jobs.insert(key, job.clone())
        };
        c.on_job_upsert(old, job);
    }

    fn replace(&self, items: &mut dyn Iterator<Item = Stored>) {
        let c = &self.0;
        let fresh: Vec<(Stored, Job)> = items
            .filter_map(|s| {
                let j = Job::of(&s)?;
                Some((s, j))
            })
            .collect();
        let keys: HashSet<String> = fresh.iter().map(|(_, j)| j.key()).collect();
        let gone: Vec<Arc<Job>> = {
            let mut jobs = c.jobs.write();
            let gone_keys: Vec<String> = jobs
                .keys()
                .filter(|k| !keys.contains(*k))
                .cloned()
                .collect();
            gone_keys.iter().filter_map(|k| jobs.remove(k)).collect()
        };
        for j in gone {
            c.on_job_deleted(j);
        }
        for (s, _) in fresh {
            self.apply(EventType::Added, &s);
        }
    }
}

impl Handler for PodHandler {
    fn apply(&self, kind: EventType, object: &Stored) {
        let Some(pod) = Pod::of(object) else {
            return;
        };
        let rev = object.rev;
        let c = &self.0;
        let pod = Arc::new(pod);
        if kind == EventType::Deleted {
            let old = c.pods.write().remove(&pod.key());
            let _ = old;
            metrics::record_finished_pod_with_tracking_finalizer(Some(&pod), None);
            c.on_pod_deleted(&pod, true);
            return;
        }
        let old = {
            let mut idx = c.pods.write();
            if idx.by_key.get(&pod.key()).is_some_and(|o| o.rev >= rev) {
                return;
            }
            idx.upsert(pod.clone())
        };
        match old {
            None => c.on_pod_added(&pod),
            Some(old) => c.on_pod_updated(&old, &pod),
        }
    }

    fn replace(&self, items: &mut dyn Iterator<Item = Stored>) {
        let c = &self.0;
        let fresh: Vec<Arc<Pod>> = items.filter_map(|s| Pod::of(&s)).map(Arc::new).collect();
        let keys: HashSet<String> = fresh.iter().map(|p| p.key()).collect();
        let gone: Vec<Arc<Pod>> = {
            let mut idx = c.pods.write();
            let gone_keys: Vec<String> = idx
                .by_key
                .keys()
                .filter(|k| !keys.contains(*k))
                .cloned()
                .collect();
            gone_keys.iter().filter_map(|k| idx.remove(k)).collect()
        };
        for p in gone {
            c.on_pod_deleted(&p, true);
        }
        for p in fresh {
            let old = {
                let mut idx = c.pods.write();
                if idx.by_key.get(&p.key()).is_some_and(|o| o.rev >= p.rev) {
                    continue; // unchanged since we last saw it
                }
                idx.upsert(p.clone())
            };
            match old {
                None => c.on_pod_added(&p),
                Some(old) => c.on_pod_updated(&old, &p),
            }
        }
    }
}

/// Starts the Job controller: fills its caches, then spawns the watch
/// followers and the workers.
pub fn start(store: Store, opts: ControllerOptions) -> Result<Vec<JoinHandle<()>>> {
    Ok(start_controller(store, opts)?.1)
}

/// [`start`], also returning the controller (tests drive `sync_job` directly).
pub fn start_controller(
    store: Store,
    opts: ControllerOptions,
) -> Result<(Arc<JobController>, Vec<JoinHandle<()>>)> {
    let c = JobController::new(store, opts);
    let mut handles = vec![
        informer::start(&c.store, &JOBS, Arc::new(JobHandler(c.clone())))?,
        informer::start(&c.store, &PODS, Arc::new(PodHandler(c.clone())))?,
    ];
    // `workers: 0` starts no workers: tests then drive `sync_job` themselves.
    for _ in 0..c.opts.workers {
        let c = c.clone();
        handles.push(tokio::spawn(async move { c.run_worker().await }));
    }
    let oc = c.clone();
    handles.push(tokio::spawn(async move { oc.run_orphan_worker().await }));
    Ok((c, handles))
}

impl JobController {
    pub fn new(store: Store, opts: ControllerOptions) -> Arc<JobController> {
        let recorder = events::Recorder::new(store.clone(), opts.clock.clone());
        Arc::new(JobController {
            store,
            clock: opts.clock.clone(),
            opts,
            jobs: RwLock::new(HashMap::new()),
            pods: RwLock::new(PodIndex::default()),
            queue: WorkQueue::new(Duration::from_secs(1), Duration::from_secs(60)),
            orphan_queue: WorkQueue::new(Duration::from_secs(1), Duration::from_secs(60)),
            expectations: Expectations::default(),
            finalizer_expectations: FinalizerExpectations::default(),
            backoff: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
            recorder,
        })
    }

    async fn run_worker(self: Arc<Self>) {
        loop {
            let key = self.queue.get().await;
            let t0 = std::time::Instant::now();
            let r = self.sync_job(&key).await;
            tracing::trace!(job = %key, took = ?t0.elapsed(), ok = r.is_ok(), "job synced");
            match r {
                Ok(()) => self.queue.forget(&key),
                Err(e) => {
                    tracing::debug!(job = %key, error = %e, "job sync failed; retrying");
                    self.queue.add_rate_limited(key.clone());
                }
            }
            self.queue.done(&key);
        }
    }

    async fn run_orphan_worker(self: Arc<Self>) {
        loop {
            let key = self.orphan_queue.get().await;
            match self.sync_orphan_pod(&key).await {
                Ok(()) => self.orphan_queue.forget(&key),
                Err(_) => self.orphan_queue.add_rate_limited(key.clone()),
            }
            self.orphan_queue.done(&key);
        }
    }

    fn enqueue_after(&self, key: &str, delay: Duration) {
        self.queue.add_after(key.to_string(), delay);
    }

    // ---- event handlers (upstream addJob/updateJob/deleteJob, addPod/updatePod/deletePod)

    fn on_job_upsert(&self, old: Option<Arc<Job>>, job: Arc<Job>) {
        let key = job.key();
        // Our own status write: the sync that wrote it already acted on it.
        if self
            .written
            .lock()
            .get(&key)
            .is_some_and(|w| w.rev == job.rev)
        {
            return;
        }
        match old {
            None => {
                if let Some(name) = job.external_manager() {
                    metrics::record_external_controller(name);
                }
                self.queue.add(key)
            }
            Some(old) => {
                if old.metadata.uid != job.metadata.uid
                    || old.metadata.generation != job.metadata.generation
                    || old.metadata.deletion_timestamp != job.metadata.deletion_timestamp
                {
                    self.queue.add(key);
                } else {
                    self.enqueue_after(&key, self.opts.batch_period);
                }
            }
        }
    }

    fn on_job_deleted(&self, job: Arc<Job>) {
        let key = job.key();
        self.queue.add(key);
        // Upstream `cleanupPodFinalizers`: the job's pods lose the finalizer.
        let idx = self.pods.read();
        if let Some(keys) = idx.by_owner.get(&job.metadata.uid) {
            for k in keys {
                if idx
                    .by_key
                    .get(k)
                    .is_some_and(|p| p.metadata.has_finalizer(JOB_TRACKING_FINALIZER))
                {
                    self.orphan_queue.add(k.clone());
                }
            }
        }
    }

    /// Upstream `resolveControllerRef`.
    fn resolve_job(&self, namespace: &str, r: &crate::kit::objects::OwnerRef) -> Option<Arc<Job>> {
        if &*r.kind != "Job" {
            return None;
        }
        let jobs = self.jobs.read();
        jobs.get(&format!("{namespace}/{}", r.name))
            .filter(|j| j.metadata.uid == *r.uid)
            .cloned()
    }

    /// Jobs in the pod's namespace whose selector matches it.
    fn matching_jobs(&self, pod: &Pod) -> Vec<String> {
        let jobs = self.jobs.read();
        jobs.values()
            .filter(|j| j.metadata.namespace == pod.metadata.namespace)
            .filter(|j| {
                j.spec
                    .selector
                    .as_ref()
                    .and_then(|s| Selector::from_label_selector_value(s).ok())
                    .is_some_and(|s| pod.metadata.labels.matched_by(&s))
            })
            .map(|j| j.key())
            .collect()
    }

    fn on_pod_added(&self, pod: &Arc<Pod>) {
        metrics::record_finished_pod_with_tracking_finalizer(None, Some(pod));
        if pod.metadata.deletion_timestamp.is_some() {
            self.on_pod_deleted(pod, false);
            return;
        }
        let has_finalizer = pod.metadata.has_finalizer(JOB_TRACKING_FINALIZER);
        if let Some(r) = pod.metadata.controller_ref() {
            match self.resolve_job(&pod.metadata.namespace, r) {
                None => {
                    if has_finalizer {
                        self.orphan_queue.add(pod.key());
                    }
                }
                Some(job) => {
                    let key = job.key();
                    self.expectations.creation_observed(&key);
                    self.enqueue_after(&key, self.opts.pod_event_delay);
                }
            }
            return;
        }
        if has_finalizer {
            self.orphan_queue.add(pod.key());
        }
        for key in self.matching_jobs(pod) {
            self.enqueue_after(&key, self.opts.batch_period);
        }
    }

    fn on_pod_updated(&self, old: &Arc<Pod>, cur: &Arc<Pod>) {
        metrics::record_finished_pod_with_tracking_finalizer(Some(old), Some(cur));
        if cur.metadata.deletion_timestamp.is_some() {
            self.on_pod_deleted(cur, false);
            return;
        }
        // Backoff only kicks in on a pod's first failure: that sync is batched.
        let immediate = !(cur.phase() == "Failed" && old.phase() != "Failed");
        let delay = if immediate {
            self.opts.pod_event_delay
        } else {
            self.opts.batch_period
        };
        let finalizer_removed = !cur.metadata.has_finalizer(JOB_TRACKING_FINALIZER);
        let cur_ref = cur.metadata.controller_ref();
        let old_ref = old.metadata.controller_ref();
        let ref_changed = cur_ref != old_ref;
        if ref_changed {
            if let Some(r) = old_ref {
                if let Some(job) = self.resolve_job(&old.metadata.namespace, r) {
                    let key = job.key();
                    if finalizer_removed {
                        self.finalizer_expectations
                            .removal_observed(&key, &cur.metadata.uid);
                    }
                    self.enqueue_after(&key, self.opts.batch_period);
                }
            }
        }
        if let Some(r) = cur_ref {
            match self.resolve_job(&cur.metadata.namespace, r) {
                None => {
                    if !finalizer_removed {
                        self.orphan_queue.add(cur.key());
                    }
                }
                Some(job) => {
                    let key = job.key();
                    if finalizer_removed {
                        self.finalizer_expectations
                            .removal_observed(&key, &cur.metadata.uid);
                    }
                    self.enqueue_after(&key, delay);
                }
            }
            return;
        }
        if !finalizer_removed {
            self.orphan_queue.add(cur.key());
        }
        if ref_changed || cur.metadata.labels != old.metadata.labels {
            for key in self.matching_jobs(cur) {
                self.enqueue_after(&key, self.opts.batch_period);
            }
        }
    }

    fn on_pod_deleted(&self, pod: &Arc<Pod>, is_final: bool) {
        let has_finalizer = pod.metadata.has_finalizer(JOB_TRACKING_FINALIZER);
        let Some(r) = pod.metadata.controller_ref() else {
            if has_finalizer && !is_final {
                self.orphan_queue.add(pod.key());
            }
            return;
        };
        let job = self.resolve_job(&pod.metadata.namespace, r);
        let Some(job) = job.filter(|j| !j.is_finished()) else {
            if has_finalizer && !is_final {
                self.orphan_queue.add(pod.key());
            }
            return;
        };
        let key = job.key();
        self.expectations.deletion_observed(&key, &pod.metadata.uid);
        if is_final || !has_finalizer {
            self.finalizer_expectations
                .removal_observed(&key, &pod.metadata.uid);
        }
        self.enqueue_after(&key, self.opts.batch_period);
    }

    // ---- orphan pods (upstream `syncOrphanPod`)

    async fn sync_orphan_pod(&self, key: &str) -> Result<()> {
        let Some(pod) = self.pods.read().by_key.get(key).cloned() else {
            return Ok(());
        };
        if !pod.metadata.has_finalizer(JOB_TRACKING_FINALIZER) {
            return Ok(());
        }
        if let Some(r) = pod.metadata.controller_ref() {
            if &*r.kind != "Job" || &*r.api_version != "batch/v1" {
                return Ok(()); // not ours to clean
            }
            if let Some(job) = self.resolve_job(&pod.metadata.namespace, r) {
                if job.external_manager().is_some() || !job.is_finished() {
                    return Ok(());
                }
            }
        }
        match self.remove_finalizer(&pod).await {
            Ok(()) | Err(Error::Store(store::Error::NotFound(_))) => Ok(()),
            Err(e) => Err(e),
        }
    }

    // ---- writes

    /// Removes the tracking finalizer from one pod (upstream
    /// `removeTrackingFinalizerPatch`); a pod that is gone counts as done.
    async fn remove_finalizer(&self, pod: &Pod) -> Result<()> {
        let r = edit::remove_finalizer(
            &self.store,
            &PODS,
            &pod.metadata.namespace,
            &pod.metadata.name,
            &pod.metadata.uid,
            JOB_TRACKING_FINALIZER,
        )
        .await;
        match r {
            Ok(_) | Err(store::Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes one pod (upstream `RealPodControl.DeletePod`), with a
    /// `SuccessfulDelete`/`FailedDelete` event. Ok(false) when it was gone.
    async fn delete_pod(&self, job: &Job, pod: &Pod) -> Result<bool> {
        let opts = DeleteOptions {
            precondition_uid: Some(pod.metadata.uid.clone()),
            ..Default::default()
        };
        match self
            .store
            .delete(&PODS, &pod.metadata.namespace, &pod.metadata.name, opts)
            .await
        {
            Ok(_) => {
                self.event(
                    job,
                    false,
                    "SuccessfulDelete",
                    &format!("Deleted pod: {}", pod.metadata.name),
                );
                Ok(true)
            }
            Err(store::Error::NotFound(_)) | Err(store::Error::Precondition(_)) => Ok(false),
            Err(e) => {
                self.event(job, true, "FailedDelete", &format!("Error deleting: {e}"));
                Err(e.into())
            }
        }
    }

    /// Records an event about `job` without waiting for it.
    fn event(&self, job: &Job, warning: bool, reason: &str, message: &str) {
        self.recorder.record(&job.raw, warning, reason, message);
    }

    /// Writes the Job status through `/status` (upstream `updateJobStatus`
    /// calls `UpdateStatus`), CAS on resourceVersion: only the status is
    /// validated, not the whole spec again.
    async fn update_status(&self, job: &mut Job) -> Result<()> {
        let v = job.with_status(&job.status);
        let stored = self.store.update_status(&JOBS, v).await?;
        if let Some(fresh) = Job::of(&stored) {
            *job = fresh;
            self.written.lock().insert(job.key(), Arc::new(job.clone()));
        }
        Ok(())
    }

    /// The Job to sync: the newer of the cache and our last write.
    fn current_job(&self, key: &str) -> Option<Arc<Job>> {
        let cached = self.jobs.read().get(key).cloned();
        let mut written = self.written.lock();
        match (cached, written.get(key).cloned()) {
            (None, _) => {
                written.remove(key);
                None
            }
            (Some(c), Some(w)) if w.rev > c.rev && w.metadata.uid == c.metadata.uid => Some(w),
            (Some(c), _) => {
                written.remove(key);
                Some(c)
            }
        }
    }

    // ---- claiming pods (upstream `getPodsForJob` + `ClaimPods`)

    async fn get_pods_for_job(&self, job: &Job) -> Result<Vec<Arc<Pod>>> {
        let selector = job
            .spec
            .selector
            .as_ref()
            .and_then(|s| Selector::from_label_selector_value(s).ok())
            .unwrap_or_else(Selector::nothing);
        let (owned, orphans): (Vec<Arc<Pod>>, Vec<Arc<Pod>>) = {
            let idx = self.pods.read();
            let get = |keys: Option<&HashSet<String>>| -> Vec<Arc<Pod>> {
                keys.map(|ks| {
                    ks.iter()
                        .filter_map(|k| idx.by_key.get(k).cloned())
                        .collect()
                })
                .unwrap_or_default()
            };
            (
                get(idx.by_owner.get(&job.metadata.uid))
                    .into_iter()
                    .filter(|p| p.metadata.namespace == job.metadata.namespace)
                    .collect(),
                get(idx.orphans.get(&job.metadata.namespace)),
            )
        };
        let mut pods = Vec::with_capacity(owned.len());
        let deleting = job.metadata.deletion_timestamp.is_some();
        let mut err = None;
        for p in owned {
            if p.metadata.labels.matched_by(&selector) {
                pods.push(p);
            } else if !deleting {
                if let Err(e) = self.release_pod(job, &p).await {
                    err = Some(e);
                }
            }
        }
        if !deleting {
            let candidates: Vec<Arc<Pod>> = orphans
                .into_iter()
                .filter(|p| {
                    p.metadata.deletion_timestamp.is_none()
                        && p.metadata.labels.matched_by(&selector)
                })
                .collect();
            if !candidates.is_empty() {
                // RecheckDeletionTimestamp: adopt only for a live Job with this uid.
                let fresh = self
                    .store
                    .get(&JOBS, &job.metadata.namespace, &job.metadata.name)
                    .ok()
                    .and_then(|s| Job::of(&s));
                let can_adopt = fresh.is_some_and(|f| {
                    f.metadata.uid == job.metadata.uid && f.metadata.deletion_timestamp.is_none()
                });
                if can_adopt {
                    for p in candidates {
                        match self.adopt_pod(job, &p).await {
                            Ok(Some(adopted)) => pods.push(Arc::new(adopted)),
                            Ok(None) => {}
                            Err(e) => err = Some(e),
                        }
                    }
                }
            }
        }
        match err {
            Some(e) => Err(e),
            None => Ok(pods),
        }
    }

    /// [`edit::modify_metadata`] on one of the Job's pods, as cached.
    async fn modify_pod_metadata(
        &self,
        pod: &Pod,
        edit: impl FnMut(&mut serde_json::Map<String, Value>) -> bool,
    ) -> store::Result<Option<store::Stored>> {
        edit::modify_metadata(
            &self.store,
            &PODS,
            &pod.metadata.namespace,
            &pod.metadata.name,
            &pod.metadata.uid,
            edit,
        )
        .await
    }

    /// Adds the controller ownerReference and tracking finalizer.
    async fn adopt_pod(&self, job: &Job, pod: &Pod) -> Result<Option<Pod>> {
        let owner = serde_json::json!({
            "apiVersion": "batch/v1", "kind": "Job", "name": job.metadata.name,
            "uid": job.metadata.uid, "controller": true, "blockOwnerDeletion": true,
        });
        let r = self
            .modify_pod_metadata(pod, |m| {
                let refs = edit::array_entry(m, "ownerReferences");
                if refs
                    .iter()
                    .any(|r| r.get("controller") == Some(&Value::Bool(true)))
                {
                    return false; // someone else adopted it meanwhile
                }
                refs.push(owner.clone());
                let fs = edit::array_entry(m, "finalizers");
                if !fs.iter().any(|f| f == JOB_TRACKING_FINALIZER) {
                    fs.push(JOB_TRACKING_FINALIZER.into());
                }
                true
            })
            .await;
        match r {
            Ok(Some(s)) => Ok(Pod::parse(&s.bytes, s.rev)),
            Ok(None) | Err(store::Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes our ownerReference and the tracking finalizer.
    async fn release_pod(&self, job: &Job, pod: &Pod) -> Result<()> {
        let owner_uid = job.metadata.uid.as_str();
        let r = self
            .modify_pod_metadata(pod, |m| {
                edit::retain_in_array(m, "ownerReferences", |r| {
                    r.get("uid").and_then(Value::as_str) != Some(owner_uid)
                });
                edit::remove_from_string_array(m, "finalizers", JOB_TRACKING_FINALIZER);
                true
            })
            .await;
        match r {
            Ok(_) | Err(store::Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    // ---- syncJob

    /// Upstream `syncJob`.
    pub async fn sync_job(&self, key: &str) -> Result<()> {
        let started = std::time::Instant::now();
        let Some(shared) = self.current_job(key) else {
            self.expectations.delete(key);
            self.finalizer_expectations.delete(key);
            self.backoff.lock().remove(key);
            return Ok(());
        };
        if shared.external_manager().is_some() {
            return Ok(());
        }
        if shared.is_finished() {
            self.backoff.lock().remove(key);
            return Ok(());
        }
        match shared.spec.completion_mode.as_deref() {
            None | Some("NonIndexed") | Some("Indexed") => {}
            Some(_) => {
                self.event(
                    &shared,
                    true,
                    "UnknownCompletionMode",
                    "Skipped Job sync because completion mode is unknown",
                );
                return Ok(());
            }
        }
        let mode = metrics::completion_mode(&shared);
        let mut action = metrics::ACTION_RECONCILING;
        let r = self.sync_unfinished_job(key, &shared, &mut action).await;
        metrics::record_sync(mode, r.is_ok(), action, started.elapsed());
        r
    }

    /// The part of upstream `syncJob` past its early returns, where the
    /// sync metrics are recorded; `action` is the metrics' `action` label.
    async fn sync_unfinished_job(
        &self,
        key: &str,
        shared: &Arc<Job>,
        action: &mut &'static str,
    ) -> Result<()> {
        let mut job: Job = (**shared).clone();
        let now = self.clock.now();
        let uncounted = job
            .status
            .uncounted_terminated_pods
            .get_or_insert_with(Default::default)
            .clone();
        let satisfied = self.expectations.satisfied(key);
        // Read before the pods, unlike upstream `syncJob`, which reads them
        // after `getPodsForJob`: a finalizer removal observed in between
        // would leave a pod that still shows the finalizer in the snapshot
        // but is no longer expected, and it would be counted a second time.
        // Read first, a pod the snapshot shows with the finalizer cannot
        // have been observed losing it yet, so it is still in the set.
        let expected_rm_finalizers = self.finalizer_expectations.expected(key);
        let pods = self.get_pods_for_job(&job).await?;
        let active: Vec<Arc<Pod>> = pods.iter().filter(|p| p.is_active()).cloned().collect();
        let mut ctx = SyncCtx {
            ready: active.iter().filter(|p| p.is_ready()).count() as i32,
            terminating: pods.iter().filter(|p| p.is_terminating()).count() as i32,
            uncounted_succeeded: uncounted.succeeded.iter().cloned().collect(),
            uncounted_failed: uncounted.failed.iter().cloned().collect(),
            expected_rm_finalizers,
            pods,
            active,
            ..Default::default()
        };
        let mut active_count = ctx.active.len() as i32;
        let (new_succeeded, new_failed) = ctx.new_finished_pods(&job);
        let non_ignored_failed = match &job.spec.pod_failure_policy {
            None => new_failed.len(),
            Some(p) => new_failed
                .iter()
                .filter(|f| match_pod_failure_policy(Some(p), f).count_failed)
                .count(),
        };
        ctx.succeeded = job.status.succeeded
            + new_succeeded.len() as i32
            + ctx.uncounted_succeeded.len() as i32;
        ctx.failed =
            job.status.failed + non_ignored_failed as i32 + ctx.uncounted_failed.len() as i32;

        if job.status.start_time.is_none() && !job.suspended() {
            job.status.start_time = Some(crate::kit::objects::trunc_secs(now));
        }
        let old_backoff = self.backoff.lock().get(key).cloned().unwrap_or_default();
        {
            let s: Vec<&Pod> = new_succeeded.iter().map(|p| &**p).collect();
            let f: Vec<&Pod> = new_failed.iter().map(|p| &**p).collect();
            ctx.new_backoff = old_backoff.next(&s, &f);
        }

        let exceeds_backoff_limit = ctx.failed > job.backoff_limit();
        ctx.finished_condition = find_true(&job.status.conditions, SUCCESS_CRITERIA_MET)
            .cloned()
            .or_else(|| {
                find_true(&job.status.conditions, FAILURE_TARGET)
                    .map(|ft| failed_for_failure_target(ft, now))
            });
        let decided_in_status = ctx.finished_condition.is_some();
        if ctx.finished_condition.is_none() {
            if let Some(msg) = fail_job_message(&job, &ctx.pods) {
                ctx.finished_condition = Some(new_condition(
                    FAILURE_TARGET,
                    "True",
                    REASON_POD_FAILURE_POLICY,
                    &msg,
                    now,
                ));
            }
        }
        if ctx.finished_condition.is_none() {
            if exceeds_backoff_limit || past_backoff_limit_on_failure(&job, &ctx.pods) {
                ctx.finished_condition = Some(new_condition(
                    FAILURE_TARGET,
                    "True",
                    REASON_BACKOFF_LIMIT_EXCEEDED,
                    MSG_BACKOFF_LIMIT_EXCEEDED,
                    now,
                ));
            } else if self.past_active_deadline(&job) {
                ctx.finished_condition = Some(new_condition(
                    FAILURE_TARGET,
                    "True",
                    REASON_DEADLINE_EXCEEDED,
                    MSG_DEADLINE_EXCEEDED,
                    now,
                ));
            } else if let (Some(ads), false, Some(start)) = (
                job.spec.active_deadline_seconds,
                job.suspended(),
                job.status.start_time,
            ) {
                let allowed = Duration::from_secs(ads.max(0) as u64);
                let left = allowed.saturating_sub(clock::since(&*self.clock, start));
                self.enqueue_after(key, left);
            }
        }

        if job.is_indexed() {
            let (prev, succ) = indexed::calculate_succeeded_indexes(&job, &ctx.pods);
            ctx.prev_succeeded_indexes = prev;
            ctx.succeeded_indexes = succ;
            ctx.succeeded = ctx.succeeded_indexes.count() as i32;
            if job.spec.backoff_limit_per_index.is_some() {
                let failed_ix =
                    indexed::calculate_failed_indexes(&job, &ctx.pods, &ctx.expected_rm_finalizers);
                if ctx.finished_condition.is_none() {
                    let nfailed = failed_ix.count();
                    if job
                        .spec
                        .max_failed_indexes
                        .is_some_and(|m| nfailed > i64::from(m))
                    {
                        ctx.finished_condition = Some(new_condition(
                            FAILURE_TARGET,
                            "True",
                            REASON_MAX_FAILED_INDEXES_EXCEEDED,
                            MSG_MAX_FAILED_INDEXES_EXCEEDED,
                            now,
                        ));
                    } else if nfailed > 0
                        && nfailed + ctx.succeeded_indexes.count() >= i64::from(job.completions())
                    {
                        ctx.finished_condition = Some(new_condition(
                            FAILURE_TARGET,
                            "True",
                            REASON_FAILED_INDEXES,
                            MSG_FAILED_INDEXES,
                            now,
                        ));
                    }
                }
                ctx.delayed_deletion = indexed::pods_with_delayed_deletion_per_index(
                    &job,
                    &ctx.pods,
                    &ctx.active,
                    &ctx.succeeded_indexes,
                    &failed_ix,
                    &ctx.expected_rm_finalizers,
                );
                ctx.failed_indexes = Some(failed_ix);
            }
            if ctx.finished_condition.is_none() {
                if let Some(msg) = success_policy::match_success_policy(
                    job.spec.success_policy.as_ref(),
                    job.completions(),
                    &ctx.succeeded_indexes,
                ) {
                    ctx.finished_condition = Some(new_condition(
                        SUCCESS_CRITERIA_MET,
                        "True",
                        REASON_SUCCESS_POLICY,
                        &msg,
                        now,
                    ));
                }
            }
        }

        // Deviation from upstream `syncJob` (`pkg/controller/job/job_controller.go`),
        // which deletes the active pods and then drops a newly reached finished
        // condition when expectations are unsatisfied: the next sync sees those
        // pods terminating and, for lack of the condition, counts them as
        // failed (or their indexes as failed). joblite's watch is fast enough
        // to hit that window, so a newly reached decision waits until the
        // pending creations and deletions are observed (each observation
        // resyncs the Job). A decision already in status is enacted as upstream.
        if ctx.finished_condition.is_some() && !satisfied && !decided_in_status {
            ctx.finished_condition = None;
        }
        let mut suspend_cond_changed = false;
        let mut manage_err: Option<Error> = None;
        if ctx.finished_condition.is_some() {
            let (deleted_ready, deleted, err) = self.delete_active_pods(&job, &ctx.active).await;
            if deleted != active_count || !satisfied {
                ctx.finished_condition = None;
            }
            active_count -= deleted;
            ctx.terminating += deleted;
            ctx.ready -= deleted_ready;
            manage_err = err;
        } else {
            let mut manage_called = false;
            if satisfied && job.metadata.deletion_timestamp.is_none() {
                let (a, act, err) = self.manage_job(&job, &mut ctx).await;
                active_count = a;
                *action = act;
                manage_err = err;
                manage_called = true;
            }
            let complete = match job.spec.completions {
                None => ctx.succeeded > 0 && active_count == 0,
                Some(c) => ctx.succeeded >= c && active_count == 0,
            };
            // Completion waits for satisfied expectations too (see above): a
            // pod whose creation is not yet observed could still succeed.
            if complete && satisfied {
                ctx.finished_condition = Some(success_criteria_met(now));
            } else if manage_called {
                if job.suspended() {
                    if ensure_condition(
                        &mut job.status.conditions,
                        SUSPENDED,
                        "True",
                        "JobSuspended",
                        "Job suspended",
                        now,
                    ) {
                        suspend_cond_changed = true;
                        self.event(&job, false, "Suspended", "Job suspended");
                    }
                } else if ensure_condition(
                    &mut job.status.conditions,
                    SUSPENDED,
                    "False",
                    "JobResumed",
                    "Job resumed",
                    now,
                ) {
                    suspend_cond_changed = true;
                    self.event(&job, false, "Resumed", "Job resumed");
                    // Resumed jobs restart the activeDeadlineSeconds clock.
                    job.status.start_time = Some(crate::kit::objects::trunc_secs(now));
                }
            }
        }

        let needs_update = suspend_cond_changed
            || active_count != job.status.active
            || Some(ctx.ready) != job.status.ready
            || Some(ctx.terminating) != job.status.terminating
            || job.status.start_time != shared.status.start_time
            || shared.status.uncounted_terminated_pods.is_none();
        job.status.active = active_count;
        job.status.ready = Some(ctx.ready);
        job.status.terminating = Some(ctx.terminating);
        // Creations run alongside the status tracking: they are independent
        // (the new pods are already counted as active, as upstream counts
        // them before creating), and overlapping the two halves the sync's
        // latency. A failed creation makes the sync fail and retry, which
        // corrects `active`.
        let creations = std::mem::take(&mut ctx.creations);
        let (created, tracked) = futures::join!(
            self.create_pods(key, shared, creations, ctx.creation_reason),
            self.track_job_status_and_remove_finalizers(key, &mut job, &mut ctx, needs_update)
        );
        tracked?;
        if created.0 > 0 && manage_err.is_none() {
            manage_err = Some(
                created
                    .1
                    .unwrap_or_else(|| Error::Sync("pods not created".into())),
            );
        }
        match manage_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Upstream `pastActiveDeadline`.
    fn past_active_deadline(&self, job: &Job) -> bool {
        let (Some(ads), Some(start)) = (job.spec.active_deadline_seconds, job.status.start_time)
        else {
            return false;
        };
        if job.suspended() {
            return false;
        }
        clock::since(&*self.clock, start) >= Duration::from_secs(ads.max(0) as u64)
    }

    /// Upstream `deleteActivePods`: used once the Job's fate is decided;
    /// finalizers stay so the pods are counted.
    async fn delete_active_pods(&self, job: &Job, pods: &[Arc<Pod>]) -> (i32, i32, Option<Error>) {
        let results = futures::future::join_all(pods.iter().map(|p| self.delete_pod(job, p))).await;
        let mut deleted = 0;
        let mut ready = 0;
        let mut err = None;
        for (p, r) in pods.iter().zip(results) {
            match r {
                Ok(_) => {
                    deleted += 1;
                    if p.is_ready() {
                        ready += 1;
                    }
                }
                Err(e) => err = Some(e),
            }
        }
        (ready, deleted, err)
    }

    /// Upstream `deleteJobPods`: suspend and scale-down; the finalizer is
    /// removed first, so these pods are never counted.
    async fn delete_job_pods(
        &self,
        key: &str,
        job: &Job,
        pods: &[Arc<Pod>],
    ) -> (i32, i32, Option<Error>) {
        for p in pods {
            self.expectations.expect_deletion(key, &p.metadata.uid);
        }
        let results = futures::future::join_all(pods.iter().map(|p| async move {
            if p.metadata.has_finalizer(JOB_TRACKING_FINALIZER) {
                if let Err(e) = self.remove_finalizer(p).await {
                    self.expectations.deletion_observed(key, &p.metadata.uid);
                    return Err(e);
                }
            }
            match self.delete_pod(job, p).await {
                Ok(true) => Ok(()),
                Ok(false) => {
                    self.expectations.deletion_observed(key, &p.metadata.uid);
                    Ok(())
                }
                Err(e) => {
                    self.expectations.deletion_observed(key, &p.metadata.uid);
                    Err(e)
                }
            }
        }))
        .await;
        let mut deleted = 0;
        let mut ready = 0;
        let mut err = None;
        for (p, r) in pods.iter().zip(results) {
            match r {
                Ok(()) => {
                    deleted += 1;
                    if p.is_ready() {
                        ready += 1;
                    }
                }
                Err(e) => err = Some(e),
            }
        }
        (ready, deleted, err)
    }

    /// Upstream `manageJob`: creates or deletes pods toward the wanted
    /// number of active pods. Returns the new active count.
    async fn manage_job(&self, job: &Job, ctx: &mut SyncCtx) -> (i32, &'static str, Option<Error>) {
        use metrics::{ACTION_PODS_CREATED, ACTION_PODS_DELETED, ACTION_TRACKING};
        let key = job.key();
        let mut active = ctx.active.len() as i32;
        let parallelism = job.parallelism();
        if job.suspended() {
            let to_delete = pods::active_pods_for_removal(job, &ctx.active, ctx.active.len());
            let (ready, removed, err) = self.delete_job_pods(&key, job, &to_delete).await;
            active -= removed;
            ctx.terminating += removed;
            ctx.ready -= ready;
            return (active, ACTION_PODS_DELETED, err);
        }
        let want_active = match job.spec.completions {
            None => {
                if ctx.succeeded > 0 {
                    active
                } else {
                    parallelism
                }
            }
            Some(c) => (c - ctx.succeeded).min(parallelism).max(0),
        };
        let rm_at_least = (active - want_active).max(0) as usize;
        let mut to_delete = pods::active_pods_for_removal(job, &ctx.active, rm_at_least);
        to_delete.truncate(MAX_POD_CREATE_DELETE_PER_SYNC);
        if !to_delete.is_empty() {
            let (ready, removed, err) = self.delete_job_pods(&key, job, &to_delete).await;
            active -= removed;
            ctx.terminating += removed;
            ctx.ready -= ready;
            // Deletions take precedence: no creations in the same sync.
            return (active, ACTION_PODS_DELETED, err);
        }
        let terminating = if job.only_replace_failed_pods() {
            ctx.terminating
        } else {
            0
        };
        let mut diff = want_active - terminating - active;
        if diff <= 0 {
            return (active, ACTION_TRACKING, None);
        }
        let per_index = job.spec.backoff_limit_per_index.is_some();
        if !per_index {
            let remaining = ctx.new_backoff.remaining(
                &*self.clock,
                self.opts.pod_failure_backoff,
                self.opts.max_pod_failure_backoff,
            );
            if !remaining.is_zero() {
                // Upstream `enqueueSyncJobWithDelay` floors the delay at the
                // batch period. Upstream also reports `active: 0` from this
                // path; joblite keeps the real count.
                self.enqueue_after(&key, remaining.max(self.opts.batch_period));
                return (active, ACTION_PODS_CREATED, None);
            }
        }
        diff = diff.min(MAX_POD_CREATE_DELETE_PER_SYNC as i32);
        let mut indexes: Vec<i32> = Vec::new();
        if job.is_indexed() {
            let terminating_pods: Vec<Arc<Pod>> = ctx
                .pods
                .iter()
                .filter(|p| p.is_terminating())
                .cloned()
                .collect();
            indexes = indexed::first_pending_indexes(
                job,
                &ctx.succeeded_indexes,
                ctx.failed_indexes.as_ref(),
                &ctx.active,
                &terminating_pods,
                diff as usize,
            );
            if per_index {
                let mut now_ix = Vec::new();
                let mut min_remaining: Option<Duration> = None;
                for ix in indexes {
                    let r = backoff::remaining_per_index(
                        &*self.clock,
                        self.opts.pod_failure_backoff,
                        self.opts.max_pod_failure_backoff,
                        ctx.delayed_deletion.get(&ix).map(|p| &**p),
                    );
                    if r.is_zero() {
                        now_ix.push(ix);
                    } else if min_remaining.is_none_or(|m| r < m) {
                        min_remaining = Some(r);
                    }
                }
                if now_ix.is_empty() {
                    if let Some(r) = min_remaining {
                        self.enqueue_after(&key, r.max(self.opts.batch_period));
                    }
                    return (active, ACTION_PODS_CREATED, None);
                }
                indexes = now_ix;
            }
            diff = indexes.len() as i32;
        }
        if diff <= 0 {
            return (active, ACTION_PODS_CREATED, None);
        }
        self.expectations.expect_creations(&key, diff as usize);
        let specs: Vec<Value> = (0..diff as usize)
            .map(|i| {
                let index = indexes.get(i).copied();
                let failure_counts = match (index, per_index) {
                    (Some(ix), true) => Some(indexed::new_index_failure_counts(
                        job,
                        ctx.delayed_deletion.get(&ix).map(|p| &**p),
                    )),
                    _ => None,
                };
                pods::new_pod(
                    job,
                    &pods::PodOptions {
                        index,
                        failure_counts,
                    },
                )
            })
            .collect();
        // Upstream counts the pods as active before creating them.
        active += diff;
        ctx.creations = specs;
        // Upstream `recordJobPodsCreationTotal` (JobPodReplacementPolicy on).
        ctx.creation_reason =
            if job.spec.pod_replacement_policy.as_deref() == Some("Failed") && ctx.failed > 0 {
                metrics::POD_RECREATE_FAILED
            } else if ctx.failed > 0 || ctx.terminating > 0 {
                metrics::POD_RECREATE_TERMINATING_OR_FAILED
            } else {
                metrics::POD_CREATE_NEW
            };
        (active, ACTION_PODS_CREATED, None)
    }

    /// The creation half of upstream `manageJob`: slow-start batches of 1,
    /// 2, 4, … (`SlowStartInitialBatchSize`); a failure in a batch skips the
    /// rest for this sync. Returns how many pods were not created.
    async fn create_pods(
        &self,
        key: &str,
        job: &Job,
        specs: Vec<Value>,
        reason: &str,
    ) -> (i32, Option<Error>) {
        if specs.is_empty() {
            return (0, None);
        }
        let (mut created, mut failed) = (0u64, 0u64);
        let mut specs = specs.into_iter();
        let mut remaining = specs.len() as i32;
        let mut batch = 1.min(remaining);
        let mut not_created = 0;
        let mut err = None;
        while remaining > 0 {
            let this: Vec<Value> = specs.by_ref().take(batch as usize).collect();
            let results =
                futures::future::join_all(this.into_iter().map(|p| self.store.create(&PODS, p)))
                    .await;
            let mut failed_in_batch = false;
            for r in results {
                match r {
                    Ok(s) => {
                        created += 1;
                        let name = Pod::parse(&s.bytes, s.rev)
                            .map(|p| p.metadata.name)
                            .unwrap_or_default();
                        self.event(
                            job,
                            false,
                            "SuccessfulCreate",
                            &format!("Created pod: {name}"),
                        );
                    }
                    Err(store::Error::NamespaceTerminating(_)) => {
                        // Namespace teardown: later creations would fail too.
                        self.expectations.creation_observed(key);
                        not_created += 1;
                    }
                    Err(e) => {
                        failed += 1;
                        self.event(job, true, "FailedCreate", &format!("Error creating: {e}"));
                        self.expectations.creation_observed(key);
                        not_created += 1;
                        failed_in_batch = true;
                        err = Some(e.into());
                    }
                }
            }
            remaining -= batch;
            if failed_in_batch && remaining > 0 {
                // Slow start: skip the rest this sync.
                for _ in 0..remaining {
                    self.expectations.creation_observed(key);
                }
                not_created += remaining;
                break;
            }
            batch = (2 * batch).min(remaining);
        }
        metrics::record_pods_creation(reason, created, failed);
        (not_created, err)
    }
}

/// Per-sync state (upstream `syncJobCtx`).
#[derive(Default)]
pub(crate) struct SyncCtx {
    pub pods: Vec<Arc<Pod>>,
    pub active: Vec<Arc<Pod>>,
    pub ready: i32,
    pub terminating: i32,
    pub succeeded: i32,
    pub failed: i32,
    pub uncounted_succeeded: HashSet<String>,
    pub uncounted_failed: HashSet<String>,
    pub expected_rm_finalizers: HashSet<String>,
    pub new_backoff: BackoffRecord,
    pub finished_condition: Option<JobCondition>,
    pub prev_succeeded_indexes: IndexSet,
    pub succeeded_indexes: IndexSet,
    pub failed_indexes: Option<IndexSet>,
    pub delayed_deletion: HashMap<i32, Arc<Pod>>,
    /// Pods `manage_job` decided to create (already counted as active).
    pub creations: Vec<Value>,
    /// The `reason` label their creation is counted under.
    pub creation_reason: &'static str,
}

impl SyncCtx {
    /// Upstream `getNewFinishedPods`/`getValidPodsWithFilter`: finished pods
    /// that still hold the finalizer and are not yet in the uncounted lists.
    fn new_finished_pods(&self, job: &Job) -> (Vec<Arc<Pod>>, Vec<Arc<Pod>>) {
        let valid = |p: &Pod, uncounted: &HashSet<String>| {
            let uid = &p.metadata.uid;
            if !p.metadata.has_finalizer(JOB_TRACKING_FINALIZER)
                || uncounted.contains(uid)
                || self.expected_rm_finalizers.contains(uid)
            {
                return false;
            }
            if job.is_indexed() {
                return indexed::completion_index(p).is_some_and(|i| i < job.completions());
            }
            true
        };
        let succeeded = self
            .pods
            .iter()
            .filter(|p| valid(p, &self.uncounted_succeeded) && p.phase() == "Succeeded")
            .cloned()
            .collect();
        let failed = self
            .pods
            .iter()
            .filter(|p| valid(p, &self.uncounted_failed) && is_pod_failed(p, job))
            .cloned()
            .collect();
        (succeeded, failed)
    }
}

/// Upstream `getFailJobMessage`.
fn fail_job_message(job: &Job, pods: &[Arc<Pod>]) -> Option<String> {
    let policy = job.spec.pod_failure_policy.as_ref()?;
    pods.iter()
        .filter(|p| is_pod_failed(p, job))
        .find_map(|p| match_pod_failure_policy(Some(policy), p).fail_job_message)
}

/// Upstream `pastBackoffLimitOnFailure`: restarts of pods still Pending or
/// Running count toward backoffLimit under `restartPolicy: OnFailure`.
pub fn past_backoff_limit_on_failure(job: &Job, pods: &[Arc<Pod>]) -> bool {
    if job.restart_policy() != "OnFailure" {
        return false;
    }
    let restarts: i64 = pods
        .iter()
        .filter(|p| p.phase() == "Running" || p.phase() == "Pending")
        .flat_map(|p| {
            p.status
                .init_container_statuses
                .iter()
                .chain(p.status.container_statuses.iter())
        })
        .map(|c| i64::from(c.restart_count))
        .sum();
    let limit = job.backoff_limit();
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= i64::from(limit)
    }
}
