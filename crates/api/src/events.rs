//! Building `v1` Event objects the way client-go's event recorder does, so
//! `kubectl describe` shows controller and node events as on a cluster.
//!
//! [`Correlator`] ports client-go's event correlator
//! (`staging/src/k8s.io/client-go/tools/record/events_cache.go`), because
//! what `kubectl describe` shows depends on it:
//! * identical events (same reason and message) bump `count` on one Event;
//! * from the 10th distinct message with the same reason within 10 minutes,
//!   events are folded into one `(combined from similar events): <msg>` Event;
//! * a source may record 25 events about one object, then one per 5 minutes
//!   (the spam filter), so a 10,000-pod Job does not write 10,000 Events.
//!
//! It decides what to write and does no I/O; `store::recorder` writes.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// Who reports an event (`job-controller`, or `kubelet` on a host).
#[derive(Debug, Clone)]
pub struct Source {
    pub component: String,
    pub host: Option<String>,
}

/// A new Event about `involved` (any object with kind/apiVersion/metadata).
/// Its name is `<object name>.<hex nanoseconds>`, as client-go names events.
pub fn build(
    involved: &Value,
    kind: EventType,
    reason: &str,
    message: &str,
    source: &Source,
    now: DateTime<Utc>,
) -> Value {
    let meta = involved.get("metadata").cloned().unwrap_or(json!({}));
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    let namespace = meta
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let ts = crate::vocabulary::time_string(now);
    let nanos = now.timestamp_nanos_opt().unwrap_or_default();
    let mut source_json = json!({ "component": source.component });
    if let Some(h) = &source.host {
        source_json["host"] = Value::String(h.clone());
    }
    let mut involved_ref = json!({
        "kind": involved.get("kind").cloned().unwrap_or(Value::Null),
        "namespace": namespace,
        "name": name,
        "uid": meta.get("uid").cloned().unwrap_or(Value::Null),
        "apiVersion": involved.get("apiVersion").cloned().unwrap_or(Value::Null),
        "resourceVersion": meta.get("resourceVersion").cloned().unwrap_or(Value::Null),
    });
    if let Some(o) = involved_ref.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    json!({
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {
            "name": format!("{name}.{nanos:x}"),
            "namespace": namespace,
        },
        "involvedObject": involved_ref,
        "reason": reason,
        "message": message,
        "source": source_json,
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "eventTime": Value::Null,
        "count": 1,
        "type": kind.as_str(),
        "reportingComponent": source.component,
        "reportingInstance": source.host.clone().unwrap_or_default(),
    })
}

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

/// client-go's `EventCorrelator` for one recorder (see the module docs).
#[derive(Default)]
pub struct Correlator {
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
    /// `None`: the spam filter dropped the event.
    pub fn correlate(
        &mut self,
        involved: &Value,
        warning: bool,
        reason: &str,
        message: &str,
        source: &Source,
        now: DateTime<Utc>,
    ) -> Option<Write> {
        let meta = &involved["metadata"];
        let object_key = format!(
            "{}/{}/{}/{}/{}/{}",
            source.component,
            source.host.as_deref().unwrap_or(""),
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
                let event = build(involved, kind, reason, &message, source, now);
                let name = event["metadata"]["name"].as_str().unwrap_or("").to_string();
                self.observed.insert(key, Observed { count: 1, name });
                Write::Create { event }
            }
        };
        cap(&mut self.observed);
        Some(write)
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
        let src = Source {
            component: "job-controller".into(),
            host: None,
        };
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let j = job();
        // Identical events: one Event, count bumped.
        assert!(matches!(
            c.correlate(&j, false, "Suspended", "Job suspended", &src, t0),
            Some(Write::Create { .. })
        ));
        match c.correlate(&j, false, "Suspended", "Job suspended", &src, t0) {
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
                &src,
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
                .correlate(&j, false, "Completed", "Job completed", &src, t0)
                .is_some());
        }
        assert!(c
            .correlate(&j, false, "Completed", "Job completed", &src, t0)
            .is_none());
        // One token comes back every 5 minutes.
        let later = t0 + chrono::Duration::seconds(301);
        assert!(c
            .correlate(&j, false, "Completed", "Job completed", &src, later)
            .is_some());
        assert!(c
            .correlate(&j, false, "Completed", "Job completed", &src, later)
            .is_none());
    }
}
