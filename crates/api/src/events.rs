//! Building `v1` Event objects the way client-go's event recorder does, so
//! `kubectl describe` shows controller and node events as on a cluster.

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
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let meta = involved.get("metadata").cloned().unwrap_or(json!({}));
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    let namespace = meta
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let ts = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
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
