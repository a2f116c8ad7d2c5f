//! Events the Job controller records (reference §18), as the
//! `job-controller` source through the store's event recorder, whose
//! correlation (counts, aggregation, spam filter) is client-go's; see
//! `api::events`.

use std::sync::Arc;

use api::events::Source;
use serde_json::Value;
use store::recorder::Recorder as StoreRecorder;
use store::Store;

use crate::clock::Clock;

/// Upstream event source component.
pub use api::vocabulary::JOB_CONTROLLER_COMPONENT as COMPONENT;

/// The Job controller's event recorder.
pub struct Recorder {
    clock: Arc<dyn Clock>,
    inner: Arc<StoreRecorder>,
    source: Source,
}

impl Recorder {
    /// A recorder writing to `store` from a background task.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Arc<Recorder> {
        Arc::new(Recorder {
            clock,
            inner: StoreRecorder::new(store),
            source: Source {
                component: COMPONENT.into(),
                host: None,
            },
        })
    }

    /// Records one event about `involved` (a Job as stored).
    pub fn record(&self, involved: &Value, warning: bool, reason: &str, message: &str) {
        let mut involved = involved.clone();
        if let Some(o) = involved.as_object_mut() {
            o.entry("kind").or_insert_with(|| "Job".into());
            o.entry("apiVersion").or_insert_with(|| "batch/v1".into());
        }
        self.inner.record(
            &involved,
            warning,
            reason,
            message,
            &self.source,
            self.clock.now(),
        );
    }
}
