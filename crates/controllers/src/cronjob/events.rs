//! Events the CronJob controller records, as the `cronjob-controller`
//! source (upstream `EventSource{Component: "cronjob-controller"}`), through
//! the store's recorder and its client-go correlation. Tests record to
//! memory instead, as upstream's tests use `record.NewFakeRecorder`.

use std::sync::Arc;

use api::events::Source;
use parking_lot::Mutex;
use store::recorder::Recorder as StoreRecorder;
use store::Store;

use super::view::CronJob;
use crate::clock::Clock;

/// Upstream event source component.
pub(crate) const COMPONENT: &str = "cronjob-controller";

/// One recorded event: (warning, reason, message).
pub(crate) type Recorded = (bool, String, String);

/// The CronJob controller's event recorder.
pub(crate) struct Recorder {
    clock: Arc<dyn Clock>,
    inner: Option<Arc<StoreRecorder>>,
    source: Source,
    memory: Mutex<Vec<Recorded>>,
}

impl Recorder {
    /// A recorder writing to `store` from a background task.
    pub(crate) fn new(store: Store, clock: Arc<dyn Clock>) -> Arc<Recorder> {
        Arc::new(Recorder {
            clock,
            inner: Some(StoreRecorder::new(store)),
            source: Source {
                component: COMPONENT.into(),
                host: None,
            },
            memory: Mutex::new(Vec::new()),
        })
    }

    /// A recorder that only remembers (tests).
    #[cfg(test)]
    pub(crate) fn memory(clock: Arc<dyn Clock>) -> Arc<Recorder> {
        Arc::new(Recorder {
            clock,
            inner: None,
            source: Source {
                component: COMPONENT.into(),
                host: None,
            },
            memory: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn normal(&self, cj: &CronJob, reason: &str, message: &str) {
        self.record(cj, false, reason, message);
    }

    pub(crate) fn warning(&self, cj: &CronJob, reason: &str, message: &str) {
        self.record(cj, true, reason, message);
    }

    fn record(&self, cj: &CronJob, warning: bool, reason: &str, message: &str) {
        match &self.inner {
            Some(r) => r.record(
                &cj.involved(),
                warning,
                reason,
                message,
                &self.source,
                self.clock.now(),
            ),
            None => self
                .memory
                .lock()
                .push((warning, reason.to_string(), message.to_string())),
        }
    }

    /// What a memory recorder has seen, oldest first.
    #[cfg(test)]
    pub(crate) fn recorded(&self) -> Vec<Recorded> {
        self.memory.lock().clone()
    }
}
