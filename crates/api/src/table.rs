//! Server-side printing: `meta.k8s.io/v1` `Table` responses.
//!
//! `kubectl get` asks for a Table and prints the cells verbatim; without one
//! it shows only NAME and AGE. The cells (including AGE, DURATION and the
//! pod STATUS wording) are therefore computed on the server, as
//! kube-apiserver's printers do in upstream
//! `pkg/printers/internalversion/printers.go`: each kind's strategy
//! (`crates/api/src/resources/<kind>.rs`) has its columns and cells, and this
//! module builds the Table around them, with the helpers printers share.
//! Durations use `k8s.io/apimachinery/pkg/util/duration.HumanDuration`
//! (upstream's `translateTimestampSince`, used for every AGE column); this is
//! the one Go-style human duration in joblite (the CLI uses it too).
//!
//! kube-apiserver generates tables with `Wide: true`, so rows always carry
//! the priority-1 cells and kubectl hides them unless `-o wide`.
//!
//! Everything works on stored JSON objects so the server need not deserialize
//! into typed structs.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Map, Value};

use crate::resources::ResourceInfo;

/// What goes in `rows[].object` (the `includeObject` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object.
    None,
    /// A `PartialObjectMetadata` (the default; kubectl needs it for `-A` and
    /// `--show-labels`).
    #[default]
    Metadata,
    /// The full object (`--sort-by`).
    Object,
}

impl IncludeObject {
    /// Parses `?includeObject=`; `None` (absent) means the default `Metadata`.
    /// Returns `None` for an unknown value.
    pub fn from_query(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("") | Some("Metadata") => Some(IncludeObject::Metadata),
            Some("None") => Some(IncludeObject::None),
            Some("Object") => Some(IncludeObject::Object),
            Some(_) => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Durations (k8s.io/apimachinery/pkg/util/duration/duration.go)
// ---------------------------------------------------------------------------

/// Upstream `duration.HumanDuration`: ~2-3 significant figures, e.g. `45s`,
/// `2m5s`, `15m`, `3h20m`, `26h`, `3d4h`, `250d`, `2y10d`, `9y`; `<invalid>`
/// for more than a second into the future.
pub fn human_duration(d: TimeDelta) -> String {
    // Go's int(d.Seconds()) truncates toward zero.
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d.num_minutes();
    if minutes < 10 {
        let s = seconds % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d.num_hours();
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        format!("{hours}h{m}m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        format!("{}d{h}h", hours / 24)
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        format!("{}y{dy}d", hours / 24 / 365)
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// Upstream `duration.ShortHumanDuration`: one unit (`45s`, `5m`, `3h`, `2d`,
/// `1y`). Not used by the server printers (they use [`human_duration`]), but
/// kubectl-side code such as `describe` event ages does.
pub fn short_human_duration(d: TimeDelta) -> String {
    let seconds = d.num_seconds();
    if seconds < -1 {
        "<invalid>".into()
    } else if seconds < 0 {
        "0s".into()
    } else if seconds < 60 {
        format!("{seconds}s")
    } else if d.num_minutes() < 60 {
        format!("{}m", d.num_minutes())
    } else if d.num_hours() < 24 {
        format!("{}h", d.num_hours())
    } else if d.num_hours() < 24 * 365 {
        format!("{}d", d.num_hours() / 24)
    } else {
        format!("{}y", d.num_hours() / 24 / 365)
    }
}

/// Parses an RFC 3339 `Time`/`MicroTime`; the zero time (year 1) and
/// unparseable values count as unset, like Go's `IsZero`.
pub fn parse_time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    let t = DateTime::parse_from_rfc3339(v?.as_str()?).ok()?;
    let t = t.with_timezone(&Utc);
    (t.year() > 1).then_some(t)
}

/// Upstream `translateTimestampSince`: `<unknown>` for an unset time,
/// otherwise [`human_duration`] of the time elapsed.
pub fn translate_timestamp_since(ts: Option<&Value>, now: DateTime<Utc>) -> String {
    match parse_time(ts) {
        None => "<unknown>".into(),
        Some(t) => human_duration(now - t),
    }
}
// ---------------------------------------------------------------------------
// Column definitions and cell helpers shared by the kinds' printers
// ---------------------------------------------------------------------------

// Descriptions are the Go `SwaggerDoc()` strings upstream uses.
/// `ObjectMeta.name`'s description.
pub const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
/// `ObjectMeta.creationTimestamp`'s description.
pub const CREATION_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// One `TableColumnDefinition`.
pub fn col(name: &str, ty: &str, format: &str, description: &str, priority: i32) -> Value {
    json!({"name": name, "type": ty, "format": format, "description": description, "priority": priority})
}

/// The NAME column.
pub fn name_col() -> Value {
    col("Name", "string", "name", NAME_DESC, 0)
}

/// The AGE column.
pub fn age_col() -> Value {
    col("Age", "string", "", CREATION_DESC, 0)
}

/// upstream's `defaultTableConvertor`
/// (`staging/src/k8s.io/apiserver/pkg/registry/rest/table.go`): `Name`,
/// `Created At`.
pub fn default_columns() -> Vec<Value> {
    vec![name_col(), col("Created At", "date", "", CREATION_DESC, 0)]
}

/// The cells of [`default_columns`].
pub fn default_cells(obj: &Value) -> Vec<Value> {
    vec![
        name_of(obj),
        obj.pointer("/metadata/creationTimestamp")
            .cloned()
            .unwrap_or(Value::Null),
    ]
}

/// The string at `pointer`, or `""`.
pub fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The integer at `pointer`, or 0.
pub fn i(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The array at `pointer`, or empty.
pub fn arr<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The NAME cell.
pub fn name_of(obj: &Value) -> Value {
    json!(s(obj, "/metadata/name"))
}

/// The AGE cell.
pub fn age_of(obj: &Value, now: DateTime<Utc>) -> Value {
    json!(translate_timestamp_since(
        obj.pointer("/metadata/creationTimestamp"),
        now
    ))
}

/// Upstream `layoutContainerCells`: names and images, comma-joined.
pub fn container_cells(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

/// `<none>` for an empty string.
pub fn none_if_empty(v: &str) -> String {
    if v.is_empty() {
        "<none>".into()
    } else {
        v.to_string()
    }
}

/// The `columnDefinitions` for a resource (its strategy's columns).
pub fn columns(resource: &ResourceInfo) -> Vec<Value> {
    resource.strategy.columns()
}

// ---------------------------------------------------------------------------
// Rows and tables
// ---------------------------------------------------------------------------

/// The cells of one row, one per entry of [`columns`], wide cells included.
pub fn row_cells(resource: &ResourceInfo, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    resource.strategy.cells(obj, now)
}

/// `rows[].conditions` (pods carry a `Completed` one when they ended).
pub fn row_conditions(resource: &ResourceInfo, obj: &Value) -> Option<Value> {
    resource.strategy.row_conditions(obj)
}

/// `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{...}}`.
pub fn partial_object_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// One `TableRow`: `cells`, then `conditions` and `object` when present.
pub fn row(
    resource: &ResourceInfo,
    obj: &Value,
    include: IncludeObject,
    now: DateTime<Utc>,
) -> Value {
    let mut m = Map::new();
    m.insert("cells".into(), Value::Array(row_cells(resource, obj, now)));
    if let Some(c) = row_conditions(resource, obj) {
        m.insert("conditions".into(), c);
    }
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            m.insert("object".into(), partial_object_metadata(obj));
        }
        IncludeObject::Object => {
            m.insert("object".into(), obj.clone());
        }
    }
    Value::Object(m)
}

/// A `Table` around already-built rows (e.g. a one-row table for a watch
/// event). `resource_version` is omitted when empty.
pub fn table_from_rows(resource: &ResourceInfo, rows: Vec<Value>, resource_version: &str) -> Value {
    let mut meta = Map::new();
    if !resource_version.is_empty() {
        meta.insert("resourceVersion".into(), json!(resource_version));
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": Value::Object(meta),
        "columnDefinitions": columns(resource),
        "rows": rows,
    })
}

/// The `Table` for a list of objects of `resource`.
pub fn table(
    resource: &ResourceInfo,
    objects: &[Value],
    include: IncludeObject,
    resource_version: &str,
    now: DateTime<Utc>,
) -> Value {
    let rows = objects
        .iter()
        .map(|o| row(resource, o, include, now))
        .collect();
    table_from_rows(resource, rows, resource_version)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::job::{job_completions, job_status};
    use crate::resources::pod::pod_summary;
    use crate::resources::{EVENTS, JOBS, NAMESPACES, NODES, PODS};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ago(secs: i64) -> String {
        (now() - TimeDelta::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    /// `staging/src/k8s.io/apimachinery/pkg/util/duration/duration_test.go`.
    #[test]
    fn human_duration_table() {
        let cases: &[(i64, &str)] = &[
            (-3, "<invalid>"),
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (1, "1s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (9 * 60 + 59, "9m59s"),
            (10 * 60, "10m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 20 * 60, "3h20m"),
            (8 * 3600 - 1, "7h59m"),
            (8 * 3600, "8h"),
            (47 * 3600 + 59 * 60, "47h"),
            (48 * 3600, "2d"),
            (48 * 3600 + 3600, "2d1h"),
            (8 * 86400 - 1, "7d23h"),
            (8 * 86400, "8d"),
            (2 * 365 * 86400 - 1, "729d"),
            (2 * 365 * 86400, "2y"),
            (2 * 365 * 86400 + 86400, "2y1d"),
            (8 * 365 * 86400 - 1, "7y364d"),
            (8 * 365 * 86400, "8y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(TimeDelta::seconds(*secs)), *want, "{secs}s");
        }
        // Go truncates toward zero: -1.5s is still "0s".
        assert_eq!(human_duration(TimeDelta::milliseconds(-1500)), "0s");
    }

    #[test]
    fn short_human_duration_table() {
        let cases: &[(i64, &str)] = &[
            (-2, "<invalid>"),
            (-1, "0s"),
            (59, "59s"),
            (60, "1m"),
            (3599, "59m"),
            (3600, "1h"),
            (86399, "23h"),
            (86400, "1d"),
            (365 * 86400, "1y"),
        ];
        for (secs, want) in cases {
            assert_eq!(
                short_human_duration(TimeDelta::seconds(*secs)),
                *want,
                "{secs}s"
            );
        }
    }

    fn job(spec: Value, status: Value) -> Value {
        json!({
            "metadata": {"name": "pi", "namespace": "default", "creationTimestamp": ago(4), "uid": "u"},
            "spec": spec,
            "status": status,
        })
    }

    #[test]
    fn job_status_precedence_from_print_job() {
        let cond = |t: &str, st: &str| json!({"type": t, "status": st});
        let cases = vec![
            (
                json!([cond("Complete", "True"), cond("Failed", "True")]),
                false,
                "Complete",
            ),
            (json!([cond("Failed", "True")]), true, "Failed"),
            (json!([cond("Suspended", "True")]), true, "Terminating"),
            (
                json!([cond("Suspended", "True"), cond("FailureTarget", "True")]),
                false,
                "Suspended",
            ),
            (
                json!([cond("FailureTarget", "True")]),
                false,
                "FailureTarget",
            ),
            (
                json!([cond("SuccessCriteriaMet", "True")]),
                false,
                "Running",
            ),
            (json!([cond("Suspended", "False")]), false, "Running"),
            (json!([]), false, "Running"),
        ];
        for (conds, deleting, want) in cases {
            let mut j = job(json!({}), json!({"conditions": conds}));
            if deleting {
                j["metadata"]["deletionTimestamp"] = json!(ago(1));
            }
            assert_eq!(job_status(&j), want, "{conds}");
        }
    }

    #[test]
    fn job_completions_strings() {
        let cases = vec![
            (
                json!({"completions": 10, "parallelism": 2}),
                json!({"succeeded": 3}),
                "3/10",
            ),
            (json!({"completions": 1}), json!({}), "0/1"),
            (
                json!({"parallelism": 3}),
                json!({"succeeded": 1}),
                "1/1 of 3",
            ),
            (json!({"parallelism": 1}), json!({}), "0/1"),
            (json!({}), json!({}), "0/1"),
        ];
        for (spec, status, want) in cases {
            assert_eq!(job_completions(&job(spec, status)), want);
        }
    }

    #[test]
    fn job_row_cells() {
        let j = json!({
            "metadata": {"name": "pi", "creationTimestamp": ago(4)},
            "spec": {"completions": 1, "parallelism": 1,
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "9512"}},
                     "template": {"spec": {"containers": [
                        {"name": "pi", "image": "perl:5.34"}, {"name": "side", "image": "busybox"}]}}},
            "status": {"succeeded": 1, "startTime": ago(3), "completionTime": ago(1),
                       "conditions": [{"type": "Complete", "status": "True"}]}
        });
        assert_eq!(
            row_cells(&JOBS, &j, now()),
            vec![
                json!("pi"),
                json!("Complete"),
                json!("1/1"),
                json!("2s"),
                json!("4s"),
                json!("pi,side"),
                json!("perl:5.34,busybox"),
                json!("batch.kubernetes.io/controller-uid=9512")
            ]
        );
        // Running: duration is measured to now; no startTime means empty.
        let mut running = j.clone();
        running["status"] = json!({"startTime": ago(125)});
        assert_eq!(row_cells(&JOBS, &running, now())[3], json!("2m5s"));
        running["status"] = json!({});
        assert_eq!(row_cells(&JOBS, &running, now())[3], json!(""));
        // A job without a selector prints <none>.
        running["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(row_cells(&JOBS, &running, now())[7], json!("<none>"));
        assert_eq!(
            row_cells(&JOBS, &running, now()).len(),
            columns(&JOBS).len()
        );
    }

    fn pod(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "p", "creationTimestamp": ago(60)}, "spec": spec, "status": status})
    }

    fn one_container() -> Value {
        json!({"containers": [{"name": "c", "image": "busybox"}]})
    }

    fn cs(state: Value, ready: bool, restarts: i64) -> Value {
        json!({"name": "c", "state": state, "ready": ready, "restartCount": restarts})
    }

    /// Every STATUS wording of upstream `printPod` (see printers_test.go `TestPrintPod*`).
    #[test]
    fn pod_status_wordings() {
        let spec = one_container();
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                pod(spec.clone(), json!({"phase": "Pending"})),
                "Pending",
                "0/1",
            ),
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Pending", "containerStatuses": [cs(json!({"waiting": {"reason": "ContainerCreating"}}), false, 0)]}),
                ),
                "ContainerCreating",
                "0/1",
            ),
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Running", "containerStatuses": [cs(json!({"running": {"startedAt": ago(5)}}), true, 0)]}),
                ),
                "Running",
                "1/1",
            ),
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Succeeded", "containerStatuses": [cs(json!({"terminated": {"exitCode": 0, "reason": "Completed"}}), false, 0)]}),
                ),
                "Completed",
                "0/1",
            ),
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Failed", "containerStatuses": [cs(json!({"terminated": {"exitCode": 1, "reason": "Error"}}), false, 0)]}),
                ),
                "Error",
                "0/1",
            ),
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Failed", "containerStatuses": [cs(json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}), false, 0)]}),
                ),
                "OOMKilled",
                "0/1",
            ),
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Failed", "containerStatuses": [cs(json!({"terminated": {"exitCode": 2}}), false, 0)]}),
                ),
                "ExitCode:2",
                "0/1",
            ),
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Failed", "containerStatuses": [cs(json!({"terminated": {"exitCode": 143, "signal": 15}}), false, 0)]}),
                ),
                "Signal:15",
                "0/1",
            ),
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Running", "containerStatuses": [cs(json!({"waiting": {"reason": "CrashLoopBackOff"}}), false, 3)]}),
                ),
                "CrashLoopBackOff",
                "0/1",
            ),
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Failed", "reason": "DeadlineExceeded"}),
                ),
                "DeadlineExceeded",
                "0/1",
            ),
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Failed", "reason": "Evicted"}),
                ),
                "Evicted",
                "0/1",
            ),
            (
                pod(
                    spec.clone(),
                    json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
                ),
                "SchedulingGated",
                "0/1",
            ),
        ];
        for (p, status, ready) in cases {
            let sum = pod_summary(&p, now());
            assert_eq!(
                (sum.status.as_str(), sum.ready.as_str()),
                (status, ready),
                "{}",
                p["status"]
            );
        }
    }

    #[test]
    fn pod_completed_turns_back_to_running_or_not_ready() {
        let spec = json!({"containers": [{"name": "a"}, {"name": "b"}]});
        let statuses = json!([
            {"name": "a", "state": {"running": {}}, "ready": true, "restartCount": 0},
            {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}, "ready": false, "restartCount": 0},
        ]);
        let ready = pod(
            spec.clone(),
            json!({"phase": "Running", "containerStatuses": statuses,
            "conditions": [{"type": "Ready", "status": "True"}]}),
        );
        assert_eq!(pod_summary(&ready, now()).status, "Running");
        assert_eq!(pod_summary(&ready, now()).ready, "1/2");
        let not_ready = pod(
            spec,
            json!({"phase": "Running", "containerStatuses": statuses}),
        );
        assert_eq!(pod_summary(&not_ready, now()).status, "NotReady");
    }

    #[test]
    fn pod_init_container_wordings() {
        let spec = json!({"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "c"}]});
        let init =
            |st: Value| json!({"name": "i1", "state": st, "ready": false, "restartCount": 0});
        let done = json!({"name": "i1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}, "restartCount": 0});
        let cases = vec![
            (json!([init(json!({"running": {}}))]), "Init:0/2"),
            (
                json!([init(json!({"waiting": {"reason": "PodInitializing"}}))]),
                "Init:0/2",
            ),
            (
                json!([done.clone(), {"name": "i2", "state": {"running": {}}, "restartCount": 0}]),
                "Init:1/2",
            ),
            (
                json!([init(
                    json!({"terminated": {"exitCode": 1, "reason": "Error"}})
                )]),
                "Init:Error",
            ),
            (
                json!([init(json!({"terminated": {"exitCode": 3}}))]),
                "Init:ExitCode:3",
            ),
            (
                json!([init(json!({"terminated": {"exitCode": 137, "signal": 9}}))]),
                "Init:Signal:9",
            ),
            (
                json!([init(json!({"waiting": {"reason": "CrashLoopBackOff"}}))]),
                "Init:CrashLoopBackOff",
            ),
        ];
        for (statuses, want) in cases {
            let p = pod(
                spec.clone(),
                json!({"phase": "Pending", "initContainerStatuses": statuses}),
            );
            assert_eq!(pod_summary(&p, now()).status, want, "{statuses}");
        }
    }

    #[test]
    fn restartable_init_containers_count_as_containers() {
        let spec = json!({"initContainers": [{"name": "side", "restartPolicy": "Always"}], "containers": [{"name": "c"}]});
        let p = pod(
            spec,
            json!({"phase": "Running",
            "initContainerStatuses": [{"name": "side", "state": {"running": {}}, "started": true, "ready": true, "restartCount": 1}],
            "containerStatuses": [{"name": "c", "state": {"running": {}}, "ready": true, "restartCount": 0}],
            "conditions": [{"type": "Initialized", "status": "True"}]}),
        );
        let sum = pod_summary(&p, now());
        assert_eq!(
            (
                sum.ready.as_str(),
                sum.status.as_str(),
                sum.restarts.as_str()
            ),
            ("2/2", "Running", "1")
        );
    }

    #[test]
    fn terminating_and_unknown() {
        let mut p = pod(
            one_container(),
            json!({"phase": "Running", "containerStatuses": [cs(json!({"running": {}}), true, 0)]}),
        );
        p["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(pod_summary(&p, now()).status, "Terminating");
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(pod_summary(&p, now()).status, "Unknown");
        // Terminal pods keep their wording while being deleted.
        let mut done = pod(
            one_container(),
            json!({"phase": "Succeeded", "containerStatuses": [cs(json!({"terminated": {"exitCode": 0, "reason": "Completed"}}), false, 0)]}),
        );
        done["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(pod_summary(&done, now()).status, "Completed");
    }

    #[test]
    fn restarts_show_time_since_last_restart() {
        let p = pod(
            one_container(),
            json!({"phase": "Running", "containerStatuses": [{
            "name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "ready": false, "restartCount": 3,
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(12)}}}]}),
        );
        assert_eq!(pod_summary(&p, now()).restarts, "3 (12s ago)");
        let p = pod(
            one_container(),
            json!({"phase": "Running", "containerStatuses": [cs(json!({"running": {}}), true, 0)]}),
        );
        assert_eq!(pod_summary(&p, now()).restarts, "0");
    }

    #[test]
    fn pod_row_and_wide_cells() {
        let mut p = pod(
            one_container(),
            json!({"phase": "Succeeded", "podIPs": [{"ip": "10.1.0.4"}],
            "containerStatuses": [cs(json!({"terminated": {"exitCode": 0, "reason": "Completed"}}), false, 0)]}),
        );
        p["spec"]["nodeName"] = json!("local");
        assert_eq!(
            row_cells(&PODS, &p, now()),
            vec![
                json!("p"),
                json!("0/1"),
                json!("Completed"),
                json!("0"),
                json!("60s"),
                json!("10.1.0.4"),
                json!("local"),
                json!("<none>"),
                json!("<none>")
            ]
        );
        let r = row(&PODS, &p, IncludeObject::Metadata, now());
        assert_eq!(
            r["conditions"],
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}])
        );
        assert_eq!(r["object"]["kind"], json!("PartialObjectMetadata"));
        let mut gated = p.clone();
        gated["spec"]["readinessGates"] = json!([{"conditionType": "a"}, {"conditionType": "b"}]);
        gated["status"]["conditions"] = json!([{"type": "a", "status": "True"}]);
        assert_eq!(row_cells(&PODS, &gated, now())[8], json!("1/2"));
    }

    #[test]
    fn event_cells_follow_print_event() {
        let ev = json!({
            "metadata": {"name": "pi.17a", "creationTimestamp": ago(30)},
            "involvedObject": {"kind": "Job", "name": "pi"},
            "reason": "Completed", "message": "Job completed\n", "type": "Normal",
            "source": {"component": "job-controller"},
            "firstTimestamp": ago(30), "lastTimestamp": ago(5), "count": 2
        });
        assert_eq!(
            row_cells(&EVENTS, &ev, now()),
            vec![
                json!("5s"),
                json!("Normal"),
                json!("Completed"),
                json!("job/pi"),
                json!(""),
                json!("job-controller"),
                json!("Job completed"),
                json!("30s"),
                json!(2),
                json!("pi.17a")
            ]
        );
        // events.k8s.io-style: eventTime only, no count, reporting fields.
        let ev2 = json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"},
            "eventTime": "2024-05-01T11:59:50.000000Z", "reportingComponent": "kubelet", "reportingInstance": "node1"});
        let cells = row_cells(&EVENTS, &ev2, now());
        assert_eq!(
            (&cells[0], &cells[5], &cells[7], &cells[8]),
            (
                &json!("10s"),
                &json!("kubelet, node1"),
                &json!("10s"),
                &json!(1)
            )
        );
        let ev3 = json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod"},
            "series": {"count": 7, "lastObservedTime": "2024-05-01T11:59:58.000000Z"}, "eventTime": ago(100)});
        let cells = row_cells(&EVENTS, &ev3, now());
        assert_eq!(
            (&cells[0], &cells[3], &cells[8]),
            (&json!("2s"), &json!("pod"), &json!(7))
        );
        let none = json!({"metadata": {"name": "e"}, "involvedObject": {}});
        assert_eq!(row_cells(&EVENTS, &none, now())[0], json!("<unknown>"));
    }

    #[test]
    fn namespace_and_node_cells() {
        let ns = json!({"metadata": {"name": "default", "creationTimestamp": ago(3 * 86400)}, "status": {"phase": "Active"}});
        assert_eq!(
            row_cells(&NAMESPACES, &ns, now()),
            vec![json!("default"), json!("Active"), json!("3d")]
        );
        let node = json!({
            "metadata": {"name": "local", "creationTimestamp": ago(3600),
                         "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.0-joblite", "osImage": "Debian"}}
        });
        assert_eq!(
            row_cells(&NODES, &node, now()),
            vec![
                json!("local"),
                json!("Ready,SchedulingDisabled"),
                json!("control-plane,worker"),
                json!("60m"),
                json!("v1.33.0-joblite"),
                json!("127.0.0.1"),
                json!("<none>"),
                json!("Debian"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
        let bare = json!({"metadata": {"name": "n"}});
        let cells = row_cells(&NODES, &bare, now());
        assert_eq!(
            (&cells[1], &cells[2], &cells[3]),
            (&json!("Unknown"), &json!("<none>"), &json!("<unknown>"))
        );
    }

    #[test]
    fn column_definitions() {
        let names = |r| {
            columns(r)
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap().to_string(),
                        c["priority"].as_i64().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let j = names(&JOBS);
        assert_eq!(
            j.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            [
                "Name",
                "Status",
                "Completions",
                "Duration",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            j.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
            [0, 0, 0, 0, 0, 1, 1, 1]
        );
        assert_eq!(
            names(&PODS)
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        assert_eq!(
            names(&EVENTS)
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            [
                "Last Seen",
                "Type",
                "Reason",
                "Object",
                "Subobject",
                "Source",
                "Message",
                "First Seen",
                "Count",
                "Name"
            ]
        );
        assert_eq!(names(&NAMESPACES).len(), 3);
        assert_eq!(names(&NODES).len(), 10);
        let c = &columns(&JOBS)[0];
        assert_eq!(c["format"], json!("name"));
        assert_eq!(
            columns(&JOBS)[1],
            json!({"name": "Status", "type": "string", "format": "", "description": "Status of the job.", "priority": 0})
        );
        for r in [&JOBS, &PODS, &EVENTS, &NAMESPACES, &NODES] {
            assert_eq!(
                row_cells(r, &json!({"metadata": {"name": "x"}}), now()).len(),
                columns(r).len(),
                "{}",
                r.plural
            );
        }
    }

    #[test]
    fn table_shapes() {
        let j = json!({"metadata": {"name": "pi", "namespace": "d", "labels": {"a": "b"}}, "spec": {}, "status": {}});
        let t = table(
            &JOBS,
            std::slice::from_ref(&j),
            IncludeObject::Metadata,
            "105",
            now(),
        );
        assert_eq!(t["kind"], json!("Table"));
        assert_eq!(t["apiVersion"], json!("meta.k8s.io/v1"));
        assert_eq!(t["metadata"], json!({"resourceVersion": "105"}));
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 8);
        assert_eq!(
            t["rows"][0]["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"name": "pi", "namespace": "d", "labels": {"a": "b"}}})
        );
        assert!(t["rows"][0].get("conditions").is_none());
        let t = table(
            &JOBS,
            std::slice::from_ref(&j),
            IncludeObject::Object,
            "",
            now(),
        );
        assert_eq!(t["rows"][0]["object"], j);
        assert_eq!(t["metadata"], json!({}));
        let t = table(&JOBS, &[j], IncludeObject::None, "1", now());
        assert!(t["rows"][0].get("object").is_none());
        assert_eq!(
            IncludeObject::from_query(None),
            Some(IncludeObject::Metadata)
        );
        assert_eq!(
            IncludeObject::from_query(Some("Object")),
            Some(IncludeObject::Object)
        );
        assert_eq!(
            IncludeObject::from_query(Some("None")),
            Some(IncludeObject::None)
        );
        assert_eq!(IncludeObject::from_query(Some("bogus")), None);
    }
}
