//! CronJob (`batch/v1`): its resource description, defaulting and the
//! registry's `PrepareFor*` steps. Validation is in
//! [`crate::validation::validate_cronjob_create`]; the schedule language in
//! [`crate::cron`].
//!
//! Upstream: `pkg/apis/batch/v1/defaults.go` (`SetDefaults_CronJob`, and the
//! generated defaulters that reach into the Job template's pod spec),
//! `pkg/registry/batch/cronjob/strategy.go`.

use crate::defaults::default_pod_spec;
use crate::selectors::format_label_selector;
use crate::table::translate_timestamp_since;
use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, CronJobStatus};
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::{json, Value};

pub use crate::resources::CRONJOBS;

/// `batchv1.CronJobScheduledTimestampAnnotation`: the scheduled time of a
/// Job the controller created, RFC 3339 in the CronJob's `timeZone`.
pub const SCHEDULED_TIMESTAMP_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// The annotation `kubectl create job --from=cronjob/...` sets (value `manual`).
pub const INSTANTIATE_ANNOTATION: &str = "cronjob.kubernetes.io/instantiate";

/// `SetDefaults_CronJob` plus the defaults of the embedded pod template
/// (`SetObjectDefaults_CronJob`): the Job-level defaults (completions,
/// backoffLimit, ...) are not applied to the template, as upstream.
pub fn default_cronjob(cj: &mut CronJob) {
    let spec = cj.spec.get_or_insert_with(CronJobSpec::default);
    if spec
        .concurrency_policy
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        spec.concurrency_policy = Some("Allow".to_string());
    }
    spec.suspend.get_or_insert(false);
    spec.successful_jobs_history_limit.get_or_insert(3);
    spec.failed_jobs_history_limit.get_or_insert(1);
    let job = spec.job_template.spec.get_or_insert_with(Default::default);
    // SetDefaults_PodFailurePolicyOnPodConditionsPattern.
    if let Some(pfp) = job.pod_failure_policy.as_mut() {
        for rule in &mut pfp.rules {
            for pat in rule.on_pod_conditions.iter_mut().flatten() {
                if pat.status.is_empty() {
                    pat.status = "True".to_string();
                }
            }
        }
    }
    default_pod_spec(job.template.spec.get_or_insert_with(PodSpec::default));
}

/// `cronJobStrategy.PrepareForCreate`: status starts empty.
pub fn prepare_cronjob_for_create(cj: &mut CronJob) {
    cj.status = Some(CronJobStatus::default());
}

/// `cronJobStrategy.PrepareForUpdate`: a main-resource update keeps the
/// stored status.
pub fn prepare_cronjob_for_update(new: &mut CronJob, old: &CronJob) {
    crate::defaults::prepare_meta_for_update(&mut new.metadata, &old.metadata);
    new.status = old.status.clone();
}

/// `cronJobStatusStrategy.PrepareForUpdate`: a `/status` write keeps the
/// stored spec.
pub fn prepare_cronjob_status_update(new: &mut CronJob, old: &CronJob) {
    crate::defaults::prepare_meta_for_update(&mut new.metadata, &old.metadata);
    new.spec = old.spec.clone();
}

/// The `kubectl get cronjobs` columns past NAME (upstream
/// `cronJobColumnDefinitions` in `pkg/printers/internalversion/printers.go`):
/// (name, type, description, priority). NAME and AGE are every printer's.
pub const TABLE_COLUMNS: &[(&str, &str, &str, i32)] = &[
    ("Schedule", "string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.", 0),
    ("Timezone", "string", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones", 0),
    ("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions. Defaults to false.", 0),
    ("Active", "integer", "A list of pointers to currently running jobs.", 0),
    ("Last Schedule", "string", "Information when was the last time the job was successfully scheduled.", 0),
];

/// The cells of one `kubectl get cronjobs` row (upstream `printCronJob`):
/// NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE, and with `wide`
/// CONTAINERS IMAGES SELECTOR.
pub fn table_cells(cj: &Value, now: DateTime<Utc>, wide: bool) -> Vec<Value> {
    let str_at = |p: &str| cj.pointer(p).and_then(Value::as_str).unwrap_or_default();
    let time_zone = cj
        .pointer("/spec/timeZone")
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    // printBoolPtr
    let suspend = match cj.pointer("/spec/suspend").and_then(Value::as_bool) {
        None => "<unset>",
        Some(true) => "True",
        Some(false) => "False",
    };
    let active = cj
        .pointer("/status/active")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let last = match cj.pointer("/status/lastScheduleTime") {
        Some(t) if !t.is_null() => translate_timestamp_since(Some(t), now),
        _ => "<none>".to_string(),
    };
    let mut cells = vec![
        json!(str_at("/metadata/name")),
        json!(str_at("/spec/schedule")),
        json!(time_zone),
        json!(suspend),
        json!(active),
        json!(last),
        json!(translate_timestamp_since(
            cj.pointer("/metadata/creationTimestamp"),
            now
        )),
    ];
    if wide {
        let containers = cj
            .pointer("/spec/jobTemplate/spec/template/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let field = |c: &Value, k: &str| {
            c.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let names: Vec<String> = containers.iter().map(|c| field(c, "name")).collect();
        let images: Vec<String> = containers.iter().map(|c| field(c, "image")).collect();
        let selector: Option<LabelSelector> = cj
            .pointer("/spec/jobTemplate/spec/selector")
            .and_then(|s| serde_json::from_value(s.clone()).ok());
        cells.push(json!(names.join(",")));
        cells.push(json!(images.join(",")));
        cells.push(json!(format_label_selector(selector.as_ref())));
    }
    cells
}

/// The Job `kubectl create job NAME --from=cronjob/CJ` builds (kubectl
/// `pkg/cmd/create/create_job.go`, `createJobFromCronJob`): the template's
/// labels and spec, its annotations plus `cronjob.kubernetes.io/instantiate:
/// manual`, and a controller reference without `blockOwnerDeletion`. The
/// CronJob controller does not adopt it (it warns `UnexpectedJob`).
pub fn manual_job(cj: &Value, name: &str) -> Value {
    let tmeta = cj.pointer("/spec/jobTemplate/metadata");
    let mut annotations = tmeta
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    annotations.insert(INSTANTIATE_ANNOTATION.into(), "manual".into());
    let mut meta = json!({
        "name": name,
        "annotations": annotations,
        "ownerReferences": [{
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": cj.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
            "uid": cj.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
            "controller": true,
        }],
    });
    if let Some(ns) = cj.pointer("/metadata/namespace") {
        meta["namespace"] = ns.clone();
    }
    if let Some(l) = tmeta.and_then(|m| m.get("labels")).filter(|l| !l.is_null()) {
        meta["labels"] = l.clone();
    }
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": cj.pointer("/spec/jobTemplate/spec").cloned().unwrap_or_else(|| json!({})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_follow_print_cron_job() {
        let now: DateTime<Utc> = "2026-12-03T10:00:00Z".parse().unwrap();
        let cj = json!({"metadata": {"name": "hello", "creationTimestamp": "2026-12-03T09:55:00Z"},
            "spec": {"schedule": "*/1 * * * *", "suspend": false, "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "alpine"}]}}}}},
            "status": {"active": [{"name": "hello-1"}], "lastScheduleTime": "2026-12-03T09:59:30Z"}});
        assert_eq!(
            table_cells(&cj, now, true),
            vec![
                json!("hello"),
                json!("*/1 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("30s"),
                json!("5m"),
                json!("a,b"),
                json!("busybox,alpine"),
                json!("<none>")
            ]
        );
        let bare = json!({"metadata": {"name": "x", "creationTimestamp": "2026-12-03T09:55:00Z"},
            "spec": {"schedule": "@hourly", "timeZone": "Europe/Rome"}});
        assert_eq!(
            table_cells(&bare, now, false),
            vec![
                json!("x"),
                json!("@hourly"),
                json!("Europe/Rome"),
                json!("<unset>"),
                json!(0),
                json!("<none>"),
                json!("5m")
            ]
        );
    }

    #[test]
    fn manual_jobs_are_owned_but_not_blocking() {
        let cj = json!({"metadata": {"name": "cj", "namespace": "ns", "uid": "u1"},
            "spec": {"jobTemplate": {"metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}},
                "spec": {"backoffLimit": 2}}}});
        assert_eq!(
            manual_job(&cj, "cj-manual"),
            json!({"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "cj-manual", "namespace": "ns",
                    "annotations": {"x": "y", "cronjob.kubernetes.io/instantiate": "manual"},
                    "labels": {"a": "b"},
                    "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "cj", "uid": "u1", "controller": true}]},
                "spec": {"backoffLimit": 2}})
        );
    }

    #[test]
    fn defaults_are_upstreams() {
        let mut cj: CronJob = serde_json::from_value(json!({
            "metadata": {"name": "c"},
            "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}
        }))
        .unwrap();
        default_cronjob(&mut cj);
        let v = serde_json::to_value(&cj).unwrap();
        assert_eq!(v["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(v["spec"]["suspend"], false);
        assert_eq!(v["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(v["spec"]["failedJobsHistoryLimit"], 1);
        assert!(v["spec"].get("startingDeadlineSeconds").is_none());
        assert!(v["spec"].get("timeZone").is_none());
        let t = &v["spec"]["jobTemplate"]["spec"];
        assert!(t.get("completions").is_none() && t.get("backoffLimit").is_none());
        assert_eq!(t["template"]["spec"]["dnsPolicy"], "ClusterFirst");
        assert_eq!(
            t["template"]["spec"]["containers"][0]["terminationMessagePath"],
            "/dev/termination-log"
        );

        // Set values are kept, zero included.
        let mut cj: CronJob = serde_json::from_value(json!({"metadata": {"name": "c"},
            "spec": {"schedule": "@hourly", "concurrencyPolicy": "Forbid", "suspend": true,
                "successfulJobsHistoryLimit": 0, "failedJobsHistoryLimit": 0, "jobTemplate": {}}}))
        .unwrap();
        default_cronjob(&mut cj);
        let s = cj.spec.unwrap();
        assert_eq!(s.concurrency_policy.as_deref(), Some("Forbid"));
        assert_eq!(
            (
                s.suspend,
                s.successful_jobs_history_limit,
                s.failed_jobs_history_limit
            ),
            (Some(true), Some(0), Some(0))
        );
    }

    #[test]
    fn status_is_cleared_on_create_and_kept_on_update() {
        let with_status: CronJob = serde_json::from_value(json!({"metadata": {"name": "c"},
            "status": {"lastScheduleTime": "2024-01-01T00:00:00Z"}}))
        .unwrap();
        let mut c = with_status.clone();
        prepare_cronjob_for_create(&mut c);
        assert_eq!(c.status, Some(CronJobStatus::default()));
        let mut u = c.clone();
        prepare_cronjob_for_update(&mut u, &with_status);
        assert_eq!(u.status, with_status.status);
    }
}
