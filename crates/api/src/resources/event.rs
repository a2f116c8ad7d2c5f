//! core/v1 Event (upstream `pkg/registry/core/event/strategy.go`,
//! `printEvent`, `pkg/apis/core/v1/conversion.go`).

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Event;
use serde_json::{json, Value};

use super::{ResourceInfo, VERBS};
use crate::selectors::{core_field_label_error, str_at};
use crate::status::ApiError;
use crate::strategy::Strategy;
use crate::table::{col, i, name_of, parse_time, s, translate_timestamp_since, NAME_DESC};
use crate::validation::{self, FieldError};

/// core/v1 `events`.
pub static EVENTS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    plural: "events",
    singular: "event",
    kind: "Event",
    list_kind: "EventList",
    namespaced: true,
    short_names: &["ev"],
    categories: &[],
    has_generation: false,
    subresources: &[],
    verbs: VERBS,
    strategy: &EventStrategy,
};

const EVENT_FIELD_PATH_DESC: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.";

/// The Event strategy.
pub struct EventStrategy;

impl Strategy for EventStrategy {
    type Object = Event;

    fn info(&self) -> &'static ResourceInfo {
        &EVENTS
    }

    fn validate_create(&self, ev: &Event) -> Vec<FieldError> {
        validation::validate_event_create(ev)
    }

    fn validate_update(&self, new: &Event, old: &Event) -> Vec<FieldError> {
        validation::validate_event_update(new, old)
    }

    fn columns(&self) -> Vec<Value> {
        vec![
            col("Last Seen", "string", "", "The time at which the most recent occurrence of this event was recorded.", 0),
            col("Type", "string", "", "Type of this event (Normal, Warning), new types could be added in the future", 0),
            col("Reason", "string", "", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.", 0),
            col("Object", "string", "", "The object that this event is about.", 0),
            col("Subobject", "string", "", EVENT_FIELD_PATH_DESC, 1),
            col("Source", "string", "", "The component reporting this event. Should be a short machine understandable string.", 1),
            col("Message", "string", "", "A human-readable description of the status of this operation.", 0),
            col("First Seen", "string", "", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", 1),
            col("Count", "string", "", "The number of times this event has occurred.", 1),
            col("Name", "string", "name", NAME_DESC, 1),
        ]
    }

    fn cells(&self, ev: &Value, now: DateTime<Utc>) -> Vec<Value> {
        event_cells(ev, now)
    }

    /// `pkg/apis/core/v1/conversion.go`.
    fn field_label<'a>(&self, label: &'a str) -> Result<&'a str, ApiError> {
        match label {
            "involvedObject.kind"
            | "involvedObject.namespace"
            | "involvedObject.name"
            | "involvedObject.uid"
            | "involvedObject.apiVersion"
            | "involvedObject.resourceVersion"
            | "involvedObject.fieldPath"
            | "reason"
            | "reportingComponent"
            | "source"
            | "type"
            | "metadata.namespace"
            | "metadata.name" => Ok(label),
            _ => Err(core_field_label_error(label)),
        }
    }

    /// `pkg/registry/core/event/strategy.go` (`ToSelectableFields`).
    fn field_value(&self, ev: &Value, field: &str) -> Option<String> {
        match field {
            "involvedObject.kind" => Some(str_at(ev, "/involvedObject/kind")),
            "involvedObject.namespace" => Some(str_at(ev, "/involvedObject/namespace")),
            "involvedObject.name" => Some(str_at(ev, "/involvedObject/name")),
            "involvedObject.uid" => Some(str_at(ev, "/involvedObject/uid")),
            "involvedObject.apiVersion" => Some(str_at(ev, "/involvedObject/apiVersion")),
            "involvedObject.resourceVersion" => Some(str_at(ev, "/involvedObject/resourceVersion")),
            "involvedObject.fieldPath" => Some(str_at(ev, "/involvedObject/fieldPath")),
            "reason" => Some(str_at(ev, "/reason")),
            "reportingComponent" => Some(str_at(ev, "/reportingComponent")),
            "source" => {
                let c = str_at(ev, "/source/component");
                Some(if c.is_empty() {
                    str_at(ev, "/reportingComponent")
                } else {
                    c
                })
            }
            "type" => Some(str_at(ev, "/type")),
            _ => None,
        }
    }
}

fn event_cells(ev: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let first_seen = if parse_time(ev.pointer("/firstTimestamp")).is_some() {
        translate_timestamp_since(ev.pointer("/firstTimestamp"), now)
    } else {
        translate_timestamp_since(ev.pointer("/eventTime"), now)
    };
    let mut last_seen = if parse_time(ev.pointer("/lastTimestamp")).is_some() {
        translate_timestamp_since(ev.pointer("/lastTimestamp"), now)
    } else {
        first_seen.clone()
    };
    let mut count = i(ev, "/count");
    if ev.pointer("/series").is_some_and(Value::is_object) {
        last_seen = translate_timestamp_since(ev.pointer("/series/lastObservedTime"), now);
        count = i(ev, "/series/count");
    } else if count == 0 {
        // Singleton events have no count in the events.k8s.io API.
        count = 1;
    }
    let kind = s(ev, "/involvedObject/kind").to_lowercase();
    let name = s(ev, "/involvedObject/name");
    let target = if name.is_empty() {
        kind
    } else {
        format!("{kind}/{name}")
    };
    // formatEventSource: component (or reportingController), then host (or
    // reportingInstance) after ", " when set.
    let first_non_empty = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_string()
        } else {
            a.to_string()
        }
    };
    let component = first_non_empty(s(ev, "/source/component"), s(ev, "/reportingComponent"));
    let instance = first_non_empty(s(ev, "/source/host"), s(ev, "/reportingInstance"));
    let source = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last_seen),
        json!(s(ev, "/type")),
        json!(s(ev, "/reason")),
        json!(target),
        json!(s(ev, "/involvedObject/fieldPath")),
        json!(source),
        json!(s(ev, "/message").trim()),
        json!(first_seen),
        json!(count),
        name_of(ev),
    ]
}
