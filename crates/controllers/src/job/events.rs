//! Events the Job controller records (reference §18), written without
//! blocking the sync, as client-go's recorder does.

use std::sync::Arc;

use api::events::{build, EventType, Source};
use api::resources::EVENTS;
use serde_json::Value;
use store::Store;

use crate::clock::Clock;

/// Upstream event source component.
pub const COMPONENT: &str = "job-controller";

/// Records one event about `involved` in the background.
pub fn record(
    store: &Store,
    clock: &Arc<dyn Clock>,
    involved: &Value,
    warning: bool,
    reason: &str,
    message: &str,
) {
    let mut involved = involved.clone();
    if let Some(o) = involved.as_object_mut() {
        o.entry("kind").or_insert_with(|| "Job".into());
        o.entry("apiVersion").or_insert_with(|| "batch/v1".into());
    }
    let kind = if warning {
        EventType::Warning
    } else {
        EventType::Normal
    };
    let source = Source {
        component: COMPONENT.into(),
        host: None,
    };
    let now = clock.now();
    let (reason, message) = (reason.to_string(), message.to_string());
    let store = store.clone();
    tokio::spawn(async move {
        // Event names carry the time in nanoseconds; two events in the same
        // nanosecond (or on a fake clock) would collide, so nudge and retry.
        for i in 0..8 {
            let nudge = if i == 0 {
                0
            } else {
                i64::from(rand::random::<u32>() % 1_000_000)
            };
            let at = now + chrono::Duration::nanoseconds(nudge);
            let ev = build(&involved, kind, &reason, &message, &source, at);
            match store.create(&EVENTS, ev).await {
                Err(store::Error::AlreadyExists(_)) => continue,
                Err(e) => {
                    tracing::debug!(error = %e, "recording event failed");
                    return;
                }
                Ok(_) => return,
            }
        }
    });
}
