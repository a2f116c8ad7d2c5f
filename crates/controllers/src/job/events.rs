//! Events the Job controller records (reference §18), through a port of
//! client-go's event correlator (`staging/src/k8s.io/client-go/tools/record/events_cache.go`),
//! because what `kubectl describe job` shows depends on it:
//! * identical events (same reason and message) bump `count` on one Event;
//! * from the 10th distinct message with the same reason within 10 minutes,
//!   events are folded into one `(combined from similar events): <msg>` Event;
//! * a source may record 25 events about one object, then one per 5 minutes
//!   (the spam filter), so a 10,000-pod Job does not write 10,000 Events.
//!
//! Writes happen in order on one background task, so the sync never waits
//! for an event and a count bump never overtakes the Event it updates.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use api::events::{build, EventType, Source};
use api::resources::EVENTS;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde_json::Value;
use store::Store;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::kit::objects::format_time;

/// Upstream event source component.
pub const COMPONENT: &str = "job-controller";

const MAX_CACHE_ENTRIES: usize = 4096;
const AGGREGATE_MAX_EVENTS: usize = 10;
const AGGREGATE_INTERVAL_SECS: i64 = 600;
const SPAM_BURST: f64 = 25.0;
const SPAM_QPS: f64 = 1.0 / 300.0;

struct Bucket {
    tokens: f64,
    last: DateTime<Utc>,
}

struct Aggregate {
    messages: HashSet<String>,
    last: DateTime<Utc>,
}

struct Observed {
    count: i64,
    name: String,
}

#[derive(Default)]
struct Correlator {
    spam: HashMap<String, Bucket>,
    aggregates: HashMap<String, Aggregate>,
    observed: HashMap<String, Observed>,
}

/// What to write for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// A new Event object.
    Create { event: Value },
    /// Bump `count` (and times/message) on an existing Event.
    Bump {
        namespace: String,
        name: String,
        count: i64,
        message: String,
        at: DateTime<Utc>,
    },
}

fn cap<K, V>(m: &mut HashMap<K, V>) {
    // A coarse stand-in for upstream's LRU: forget everything when full.
    if m.len() > MAX_CACHE_ENTRIES {
        m.clear();
    }
}

impl Correlator {
    /// Upstream `EventCorrelate`: aggregate, observe, then spam-filter.
    fn correlate(
        &mut self,
        involved: &Value,
        warning: bool,
        reason: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> Option<Write> {
        let meta = &involved["metadata"];
        let object_key = format!(
            "{COMPONENT}/{}/{}/{}/{}",
            meta["namespace"].as_str().unwrap_or(""),
            meta["name"].as_str().unwrap_or(""),
            meta["uid"].as_str().unwrap_or(""),
            involved["kind"].as_str().unwrap_or("")
        );
        let kind = if warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        // Aggregation by reason (EventAggregatorByReasonFunc).
        let agg_key = format!("{object_key}/{}/{reason}", kind.as_str());
        let agg = self
            .aggregates
            .entry(agg_key.clone())
            .or_insert_with(|| Aggregate {
                messages: HashSet::new(),
                last: now,
            });
        if (now - agg.last).num_seconds() > AGGREGATE_INTERVAL_SECS {
            agg.messages.clear();
        }
        agg.messages.insert(message.to_string());
        agg.last = now;
        let (message, key) = if agg.messages.len() < AGGREGATE_MAX_EVENTS {
            (message.to_string(), format!("{agg_key}/{message}"))
        } else {
            if let Some(any) = agg.messages.iter().next().cloned() {
                agg.messages.remove(&any);
            }
            (
                format!("(combined from similar events): {message}"),
                agg_key,
            )
        };
        cap(&mut self.aggregates);
        // Spam filter: a token bucket per source + object.
        let b = self.spam.entry(object_key).or_insert(Bucket {
            tokens: SPAM_BURST,
            last: now,
        });
        let elapsed = (now - b.last).num_milliseconds().max(0) as f64 / 1000.0;
        b.tokens = (b.tokens + elapsed * SPAM_QPS).min(SPAM_BURST);
        b.last = now;
        if b.tokens < 1.0 {
            return None;
        }
        b.tokens -= 1.0;
        cap(&mut self.spam);
        // Counting identical events (eventLogger).
        let source = Source {
            component: COMPONENT.into(),
            host: None,
        };
        let write = match self.observed.get_mut(&key) {
            Some(o) => {
                o.count += 1;
                Write::Bump {
                    namespace: meta["namespace"].as_str().unwrap_or("default").to_string(),
                    name: o.name.clone(),
                    count: o.count,
                    message,
                    at: now,
                }
            }
            None => {
                let event = build(involved, kind, reason, &message, &source, now);
                let name = event["metadata"]["name"].as_str().unwrap_or("").to_string();
                self.observed.insert(key, Observed { count: 1, name });
                Write::Create { event }
            }
        };
        cap(&mut self.observed);
        Some(write)
    }
}

/// The Job controller's event recorder.
pub struct Recorder {
    clock: Arc<dyn Clock>,
    correlator: Mutex<Correlator>,
    tx: mpsc::UnboundedSender<Write>,
}

impl Recorder {
    /// A recorder writing to `store` from a background task.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Arc<Recorder> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Write>();
        tokio::spawn(async move {
            while let Some(w) = rx.recv().await {
                write(&store, w).await;
            }
        });
        Arc::new(Recorder {
            clock,
            correlator: Mutex::new(Correlator::default()),
            tx,
        })
    }

    /// Records one event about `involved` (a Job as stored).
    pub fn record(&self, involved: &Value, warning: bool, reason: &str, message: &str) {
        let mut involved = involved.clone();
        if let Some(o) = involved.as_object_mut() {
            o.entry("kind").or_insert_with(|| "Job".into());
            o.entry("apiVersion").or_insert_with(|| "batch/v1".into());
        }
        let now = self.clock.now();
        if let Some(w) = self
            .correlator
            .lock()
            .correlate(&involved, warning, reason, message, now)
        {
            let _ = self.tx.send(w);
        }
    }
}

async fn write(store: &Store, w: Write) {
    match w {
        Write::Create { mut event } => {
            // Event names carry the time in nanoseconds; on a collision
            // (same nanosecond, or a fake clock) nudge the name and retry.
            for _ in 0..8 {
                match store.create(&EVENTS, event.clone()).await {
                    Err(store::Error::AlreadyExists(_)) => {
                        let name = event["metadata"]["name"].as_str().unwrap_or("").to_string();
                        event["metadata"]["name"] =
                            format!("{name}{:x}", rand::random::<u8>() & 0xf).into();
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "recording event failed");
                        return;
                    }
                    Ok(_) => return,
                }
            }
        }
        Write::Bump {
            namespace,
            name,
            count,
            message,
            at,
        } => {
            let r = store
                .modify(&EVENTS, &namespace, &name, |mut v| {
                    v["count"] = count.into();
                    v["lastTimestamp"] = format_time(at).into();
                    v["message"] = message.clone().into();
                    Ok(Some(v))
                })
                .await;
            if let Err(e) = r {
                tracing::debug!(error = %e, "updating event failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job() -> Value {
        json!({"kind": "Job", "apiVersion": "batch/v1", "metadata": {"name": "j", "namespace": "d", "uid": "u"}})
    }

    /// Upstream `TestEventCorrelator` behaviours: counting, aggregation
    /// after 10 distinct messages, spam filter after 25 events.
    #[test]
    fn correlator_counts_aggregates_and_filters() {
        let mut c = Correlator::default();
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let j = job();
        // Identical events: one Event, count bumped.
        assert!(matches!(
            c.correlate(&j, false, "Suspended", "Job suspended", t0),
            Some(Write::Create { .. })
        ));
        match c.correlate(&j, false, "Suspended", "Job suspended", t0) {
            Some(Write::Bump { count, .. }) => assert_eq!(count, 2),
            other => panic!("expected a bump, got {other:?}"),
        }
        // Distinct messages with one reason: 9 plain, then combined.
        let mut plain = 0;
        let mut combined = Vec::new();
        for i in 0..20 {
            match c.correlate(
                &j,
                false,
                "SuccessfulCreate",
                &format!("Created pod: p{i}"),
                t0,
            ) {
                Some(Write::Create { event }) => {
                    let m = event["message"].as_str().unwrap().to_string();
                    if m.starts_with("(combined from similar events): ") {
                        combined.push(m);
                    } else {
                        plain += 1;
                    }
                }
                Some(Write::Bump { message, .. }) => combined.push(message),
                None => panic!("filtered too early at {i}"),
            }
        }
        assert_eq!(plain, 9);
        assert_eq!(combined.len(), 11);
        // 22 events so far; 3 more pass, then the spam filter drops.
        for _ in 0..3 {
            assert!(c
                .correlate(&j, false, "Completed", "Job completed", t0)
                .is_some());
        }
        assert!(c
            .correlate(&j, false, "Completed", "Job completed", t0)
            .is_none());
        // One token comes back every 5 minutes.
        let later = t0 + chrono::Duration::seconds(301);
        assert!(c
            .correlate(&j, false, "Completed", "Job completed", later)
            .is_some());
        assert!(c
            .correlate(&j, false, "Completed", "Job completed", later)
            .is_none());
    }
}
