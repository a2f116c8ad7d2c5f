//! TTL-after-finished controller (upstream
//! `pkg/controller/ttlafterfinished/ttlafterfinished_controller.go`).
//!
//! A finished Job with `ttlSecondsAfterFinished` is deleted at
//! `lastTransitionTime(Complete|Failed) + ttl`, with Foreground
//! propagation and a uid precondition, after re-reading it (the TTL may
//! have changed). No events, as upstream.

use std::sync::Arc;
use std::time::Duration;

use api::resources::JOBS;
use chrono::{DateTime, Utc};
use store::{DeleteOptions, EventType, Propagation, Store, Stored};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::kit::informer::{self, Handler};
use crate::kit::objects::Job;
use crate::kit::queue::WorkQueue;
use crate::Result;

struct Ttl {
    store: Store,
    clock: Arc<dyn Clock>,
    queue: WorkQueue<(String, String)>,
}

/// When a Job expires, if it is subject to the TTL at all (upstream `timeLeft`/`needsCleanup`).
pub(crate) fn expire_at(job: &Job) -> Option<DateTime<Utc>> {
    let ttl = job.spec.ttl_seconds_after_finished?;
    if job.metadata.deletion_timestamp.is_some() || !job.is_finished() {
        return None;
    }
    let finished = job.finish_time()?;
    Some(finished + chrono::Duration::seconds(i64::from(ttl)))
}

impl Ttl {
    fn enqueue(&self, job: &Job) {
        if let Some(at) = expire_at(job) {
            let left = (at - self.clock.now()).to_std().unwrap_or_default();
            self.queue.add_after(
                (job.metadata.namespace.clone(), job.metadata.name.clone()),
                left,
            );
        }
    }

    async fn process(&self, ns: &str, name: &str) -> Result<()> {
        let Ok(stored) = self.store.get(&JOBS, ns, name) else {
            return Ok(());
        };
        let Some(job) = Job::of(&stored) else {
            return Ok(());
        };
        let Some(at) = expire_at(&job) else {
            return Ok(());
        };
        let now = self.clock.now();
        if now < at {
            let left = (at - now).to_std().unwrap_or_default();
            self.queue
                .add_after((ns.to_string(), name.to_string()), left);
            return Ok(());
        }
        let opts = DeleteOptions {
            propagation: Some(Propagation::Foreground),
            precondition_uid: Some(job.metadata.uid.clone()),
            ..Default::default()
        };
        match self.store.delete(&JOBS, ns, name, opts).await {
            Ok(_) | Err(store::Error::NotFound(_)) | Err(store::Error::Precondition(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

struct TtlHandler(Arc<Ttl>);

impl Handler for TtlHandler {
    fn apply(&self, kind: EventType, object: &Stored) {
        if kind == EventType::Deleted {
            return;
        }
        if let Some(job) = Job::of(object) {
            self.0.enqueue(&job);
        }
    }

    fn replace(&self, items: &mut dyn Iterator<Item = Stored>) {
        for s in items {
            self.apply(EventType::Added, &s);
        }
    }
}

/// Starts the TTL controller.
pub(crate) fn start(store: Store, clock: Arc<dyn Clock>) -> Result<Vec<JoinHandle<()>>> {
    let t = Arc::new(Ttl {
        store,
        clock,
        queue: WorkQueue::new(Duration::from_secs(1), Duration::from_secs(60)),
    });
    let mut handles = vec![informer::start(
        &t.store,
        &JOBS,
        Arc::new(TtlHandler(t.clone())),
    )?];
    let w = t.clone();
    handles.push(tokio::spawn(async move {
        loop {
            let key = w.queue.get().await;
            match w.process(&key.0, &key.1).await {
                Ok(()) => w.queue.forget(&key),
                Err(_) => w.queue.add_rate_limited(key.clone()),
            }
            w.queue.done(&key);
        }
    }));
    Ok(handles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expire_at_table() {
        let job = |spec: serde_json::Value, status: serde_json::Value, deleting: bool| {
            let mut meta = json!({"name": "j", "namespace": "d", "uid": "u"});
            if deleting {
                meta["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
            }
            let v = json!({"metadata": meta, "spec": spec, "status": status});
            Job::parse(&serde_json::to_vec(&v).unwrap(), 1).unwrap()
        };
        let done = json!({"conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": "2024-01-01T00:00:10Z"}]});
        let failed = json!({"conditions": [{"type": "FailureTarget", "status": "True", "lastTransitionTime": "2024-01-01T00:00:01Z"},
            {"type": "Failed", "status": "True", "lastTransitionTime": "2024-01-01T00:00:20Z"}]});
        let cases = vec![
            ("no ttl", job(json!({}), done.clone(), false), None),
            (
                "running",
                job(json!({"ttlSecondsAfterFinished": 5}), json!({}), false),
                None,
            ),
            (
                "complete",
                job(json!({"ttlSecondsAfterFinished": 5}), done.clone(), false),
                Some("2024-01-01T00:00:15Z"),
            ),
            (
                "failed",
                job(json!({"ttlSecondsAfterFinished": 0}), failed, false),
                Some("2024-01-01T00:00:20Z"),
            ),
            (
                "being deleted",
                job(json!({"ttlSecondsAfterFinished": 5}), done, true),
                None,
            ),
        ];
        for (name, j, want) in cases {
            let got = expire_at(&j).map(crate::kit::objects::format_time);
            assert_eq!(got.as_deref(), want, "{name}");
        }
    }
}
