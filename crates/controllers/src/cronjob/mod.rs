//! The CronJob controller (upstream `ControllerV2`,
//! `pkg/controller/cronjob/cronjob_controllerv2.go`, Kubernetes 1.33).
//!
//! Watch-driven like upstream: CronJob and Job caches, a work queue keyed
//! by CronJob, and a sync ([`sync::Reconciler`]) that returns when the
//! CronJob is next due, so the key is requeued exactly then (plus
//! upstream's 100 ms) and nothing polls. Time comes from the controllers'
//! [`Clock`], so every rule is unit tested on a fake clock.
//!
//! Files by concept: [`schedule`] (when a CronJob runs: missed slots, the
//! deadline window, Job names and the Job built from the template),
//! [`sync`] (one reconcile: children, history, concurrency, creation),
//! [`control`] (the API calls, behind traits as upstream's
//! `injection.go`), [`view`] (the CronJob as read and written),
//! [`events`] (the `cronjob-controller` recorder).

pub(crate) mod control;
pub(crate) mod events;
pub(crate) mod schedule;
pub(crate) mod sync;
pub(crate) mod view;

#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod sync_tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use api::cron::Zone;
use api::cronjob::CRONJOBS;
use api::resources::JOBS;
use parking_lot::RwLock;
use store::{EventType, Store, Stored};
use tokio::task::JoinHandle;

use crate::kit::informer::{self, Handler};
use crate::kit::objects::{Job, OwnerRef};
use crate::kit::queue::WorkQueue;
use crate::{ControllerOptions, Result};
use control::StoreControl;
use sync::Reconciler;
use view::CronJob;

/// Upstream `--concurrent-cron-job-syncs` is 5; CronJobs are few here.
const WORKERS: usize = 2;

/// The CronJob controller.
pub(crate) struct CronJobController {
    cronjobs: RwLock<BTreeMap<String, Arc<CronJob>>>,
    /// Jobs by `namespace/name`, so a namespace is one range.
    jobs: RwLock<BTreeMap<String, Arc<Job>>>,
    queue: WorkQueue<String>,
    pub reconciler: Reconciler,
}

struct CronJobHandler(Arc<CronJobController>);
struct JobHandler(Arc<CronJobController>);

impl Handler for CronJobHandler {
    fn apply(&self, kind: EventType, object: &Stored) {
        let rev = object.rev;
        let Some(cj) = CronJob::parse(&object.bytes, rev) else {
            return;
        };
        let c = &self.0;
        let key = cj.key();
        if kind == EventType::Deleted {
            c.cronjobs.write().remove(&key);
            c.queue.add(key);
            return;
        }
        let cj = Arc::new(cj);
        let old = {
            let mut m = c.cronjobs.write();
            if m.get(&key).is_some_and(|o| o.rev >= rev) {
                return;
            }
            m.insert(key.clone(), cj.clone())
        };
        match old {
            None => c.queue.add(key),
            Some(old) => c.on_cronjob_updated(&old, &cj),
        }
    }

    fn replace(&self, items: &mut dyn Iterator<Item = Stored>) {
        let c = &self.0;
        let fresh: Vec<CronJob> = items
            .filter_map(|s| CronJob::parse(&s.bytes, s.rev))
            .collect();
        let mut m = c.cronjobs.write();
        let keys: Vec<String> = m.keys().cloned().collect();
        for k in keys {
            if !fresh.iter().any(|cj| cj.key() == k) {
                m.remove(&k);
                c.queue.add(k);
            }
        }
        for cj in fresh {
            let key = cj.key();
            m.insert(key.clone(), Arc::new(cj));
            c.queue.add(key);
        }
    }
}

impl Handler for JobHandler {
    fn apply(&self, kind: EventType, object: &Stored) {
        let rev = object.rev;
        let Some(job) = Job::of(object) else {
            return;
        };
        let c = &self.0;
        let key = job.key();
        if kind == EventType::Deleted {
            c.jobs.write().remove(&key);
            c.enqueue_owner(&job.metadata.namespace, job.metadata.controller_ref());
            return;
        }
        let job = Arc::new(job);
        let old = {
            let mut m = c.jobs.write();
            if m.get(&key).is_some_and(|o| o.rev >= rev) {
                return;
            }
            m.insert(key, job.clone())
        };
        // upstream updateJob: a changed controller ref wakes the old owner too.
        if let Some(old) = old {
            let (o, n) = (old.metadata.controller_ref(), job.metadata.controller_ref());
            if o != n {
                c.enqueue_owner(&old.metadata.namespace, o);
            }
        }
        c.enqueue_owner(&job.metadata.namespace, job.metadata.controller_ref());
    }

    fn replace(&self, items: &mut dyn Iterator<Item = Stored>) {
        let c = &self.0;
        let fresh: Vec<Arc<Job>> = items.filter_map(|s| Job::of(&s)).map(Arc::new).collect();
        let gone: Vec<Arc<Job>> = {
            let mut m = c.jobs.write();
            let keys: std::collections::HashSet<String> = fresh.iter().map(|j| j.key()).collect();
            let gone_keys: Vec<String> = m.keys().filter(|k| !keys.contains(*k)).cloned().collect();
            let gone = gone_keys.iter().filter_map(|k| m.remove(k)).collect();
            for j in &fresh {
                m.insert(j.key(), j.clone());
            }
            gone
        };
        for j in gone.iter().chain(fresh.iter()) {
            c.enqueue_owner(&j.metadata.namespace, j.metadata.controller_ref());
        }
    }
}

/// Starts the CronJob controller over `store`; schedules without a
/// `timeZone` run in the machine's zone, as kube-controller-manager's do.
pub(crate) fn start(store: Store, opts: ControllerOptions) -> Result<Vec<JoinHandle<()>>> {
    Ok(start_controller(store, opts, Zone::Local, WORKERS)?.1)
}

/// [`start`] with the local zone and worker count chosen, also returning
/// the controller (tests call [`CronJobController::sync`] themselves with
/// `workers: 0`).
pub(crate) fn start_controller(
    store: Store,
    opts: ControllerOptions,
    local: Zone,
    workers: usize,
) -> Result<(Arc<CronJobController>, Vec<JoinHandle<()>>)> {
    let control = StoreControl::new(store.clone());
    let c = Arc::new(CronJobController {
        cronjobs: RwLock::new(BTreeMap::new()),
        jobs: RwLock::new(BTreeMap::new()),
        queue: WorkQueue::new(Duration::from_millis(5), Duration::from_secs(1000)),
        reconciler: Reconciler {
            job_control: control.clone(),
            cj_control: control,
            recorder: events::Recorder::new(store.clone(), opts.clock.clone()),
            clock: opts.clock.clone(),
            local,
        },
    });
    // Jobs first, so the first CronJob syncs see their children.
    let mut handles = vec![
        informer::start(&store, &JOBS, Arc::new(JobHandler(c.clone())))?,
        informer::start(&store, &CRONJOBS, Arc::new(CronJobHandler(c.clone())))?,
    ];
    for _ in 0..workers {
        let c = c.clone();
        handles.push(tokio::spawn(async move { c.run_worker().await }));
    }
    Ok((c, handles))
}

impl CronJobController {
    async fn run_worker(self: Arc<Self>) {
        loop {
            let key = self.queue.get().await;
            match self.sync(&key).await {
                Err(e) => {
                    tracing::debug!(cronjob = %key, error = %e, "cronjob sync failed; requeuing");
                    self.queue.add_rate_limited(key.clone());
                }
                Ok(Some(d)) => {
                    self.queue.forget(&key);
                    self.queue.add_after(key.clone(), d);
                }
                Ok(None) => {}
            }
            self.queue.done(&key);
        }
    }

    /// upstream `ControllerV2.sync`: the CronJob and its children from the
    /// caches, then [`Reconciler::sync`]. Returns when to sync again.
    pub(crate) async fn sync(
        &self,
        key: &str,
    ) -> std::result::Result<Option<Duration>, control::ControlError> {
        let Some(cj) = self.cronjobs.read().get(key).cloned() else {
            return Ok(None);
        };
        let jobs = self.jobs_to_be_reconciled(&cj);
        self.reconciler.sync(&cj, &jobs).await
    }

    /// upstream `getJobsToBeReconciled`: every Job in the namespace whose
    /// controller reference names this CronJob, whatever its labels.
    pub(crate) fn jobs_to_be_reconciled(&self, cj: &CronJob) -> Vec<Arc<Job>> {
        let prefix = format!("{}/", cj.metadata.namespace);
        self.jobs
            .read()
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, j)| {
                j.metadata
                    .controller_ref()
                    .is_some_and(|r| *r.name == cj.metadata.name)
            })
            .map(|(_, j)| j.clone())
            .collect()
    }

    /// upstream `resolveControllerRef` + `enqueueController`.
    fn enqueue_owner(&self, namespace: &str, r: Option<&OwnerRef>) {
        let Some(r) = r else { return };
        if &*r.kind != "CronJob" {
            return;
        }
        let key = format!("{namespace}/{}", r.name);
        if self
            .cronjobs
            .read()
            .get(&key)
            .is_some_and(|cj| cj.metadata.uid == *r.uid)
        {
            self.queue.add(key);
        }
    }

    /// upstream `updateCronJob`: a new schedule or time zone requeues at
    /// the new next slot; anything else syncs now.
    fn on_cronjob_updated(&self, old: &CronJob, new: &CronJob) {
        let key = new.key();
        if old.spec.schedule != new.spec.schedule || old.spec.time_zone != new.spec.time_zone {
            match self.reconciler.requeue_after_schedule_change(new) {
                Ok(d) => self.queue.add_after(key, d),
                Err(msg) => {
                    self.reconciler
                        .recorder
                        .warning(new, "UnParseableCronJobSchedule", &msg)
                }
            }
            return;
        }
        self.queue.add(key);
    }

    /// The cached CronJob (tests).
    #[cfg(test)]
    pub(crate) fn cached(&self, key: &str) -> Option<Arc<CronJob>> {
        self.cronjobs.read().get(key).cloned()
    }
}
