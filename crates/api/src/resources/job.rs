//! `batch/v1` Job (upstream `pkg/registry/batch/job/strategy.go`, `printJob`,
//! `pkg/apis/batch/v1/conversion.go`, kubectl's `describeJob`).

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Event;
use serde_json::{json, Value};

use super::{ResourceInfo, VERBS};
use crate::defaults;
use crate::patch_schema::PatchSchema;
use crate::selectors::format_label_selector_value;
use crate::status::ApiError;
use crate::strategy::{bump_generation, Strategy};
use crate::table::{
    age_col, age_of, arr, col, container_cells, human_duration, i, name_col, name_of, parse_time, s,
};
use crate::validation::{self, go_quote, FieldError};

/// `batch/v1` `jobs`.
pub static JOBS: ResourceInfo = ResourceInfo {
    group: "batch",
    version: "v1",
    plural: "jobs",
    singular: "job",
    kind: "Job",
    list_kind: "JobList",
    namespaced: true,
    short_names: &[],
    categories: &["all"],
    has_generation: true,
    subresources: &["status"],
    verbs: VERBS,
    strategy: &JobStrategy,
};

/// The warning a Job delete without a propagation policy carries
/// (`pkg/registry/batch/job/storage/storage.go`).
pub const ORPHAN_WARNING: &str = "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning";

const CONTAINERS_DESC: &str = "Names of each container in the template.";
const IMAGES_DESC: &str = "Images referenced by each container in the template.";
const JOB_SUCCEEDED_DESC: &str = "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.";
const JOB_SELECTOR_DESC: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";

/// The Job strategy.
pub struct JobStrategy;

impl Strategy for JobStrategy {
    type Object = Job;

    fn info(&self) -> &'static ResourceInfo {
        &JOBS
    }

    /// Jobs are few and written on every pod they count.
    fn cache_decoded(&self, _obj: &Job) -> bool {
        true
    }

    fn default(&self, job: &mut Job) {
        defaults::default_job(job);
    }

    fn prepare_for_create(&self, job: &mut Job) {
        let uid = job.metadata.uid.clone().unwrap_or_default();
        defaults::prepare_job_for_create(job, &uid);
    }

    fn validate_create(&self, job: &Job) -> Vec<FieldError> {
        validation::validate_job_create(job)
    }

    fn warnings_on_create(&self, job: &Job) -> Vec<String> {
        validation::job_warnings_on_create(job)
    }

    /// Upstream defaults a Job again whenever it reads it back, which copies
    /// the generated template labels onto an unlabelled Job; store that.
    fn canonicalize(&self, job: &mut Job) {
        defaults::default_job(job);
    }

    fn prepare_for_update(&self, new: &mut Job, old: &Job) {
        defaults::prepare_job_for_update(new, old);
        bump_generation(&mut new.metadata, &old.metadata, new.spec != old.spec);
    }

    fn validate_update(&self, new: &Job, old: &Job) -> Vec<FieldError> {
        validation::validate_job_update(new, old)
    }

    fn prepare_for_status_update(&self, new: &mut Job, old: &Job) {
        defaults::prepare_job_status_update(new, old);
    }

    fn validate_status_update(&self, new: &Job, old: &Job) -> Vec<FieldError> {
        validation::validate_job_status_update(new, old)
    }

    fn orphan_by_default_warning(&self) -> Option<&'static str> {
        Some(ORPHAN_WARNING)
    }

    fn columns(&self) -> Vec<Value> {
        vec![
            name_col(),
            col("Status", "string", "", "Status of the job.", 0),
            col("Completions", "string", "", JOB_SUCCEEDED_DESC, 0),
            col("Duration", "string", "", "Time required to complete the job.", 0),
            age_col(),
            col("Containers", "string", "", CONTAINERS_DESC, 1),
            col("Images", "string", "", IMAGES_DESC, 1),
            col("Selector", "string", "", JOB_SELECTOR_DESC, 1),
        ]
    }

    fn cells(&self, job: &Value, now: DateTime<Utc>) -> Vec<Value> {
        job_cells(job, now)
    }

    /// `pkg/apis/batch/v1/conversion.go`.
    fn field_label<'a>(&self, label: &'a str) -> Result<&'a str, ApiError> {
        match label {
            "metadata.name" | "metadata.namespace" | "status.successful" => Ok(label),
            _ => Err(ApiError::BadRequest(format!(
                "field label {} not supported for batchv1.Job",
                go_quote(label)
            ))),
        }
    }

    /// `status.successful` is `status.succeeded`, 0 when unset.
    fn field_value(&self, job: &Value, field: &str) -> Option<String> {
        (field == "status.successful").then(|| i(job, "/status/succeeded").to_string())
    }

    fn patch_schema(&self) -> &'static PatchSchema {
        PatchSchema::job()
    }

    fn decode_protobuf(
        &self,
        raw: &[u8],
    ) -> Option<Result<serde_json::Map<String, Value>, prost::DecodeError>> {
        crate::protobuf::convert(raw, crate::protobuf::job_to_json)
    }

    fn describe(&self, job: &Job, events: &[Event]) -> String {
        crate::describe::job_text(job, events)
    }
}

/// Upstream `hasJobCondition`: the first condition of that type decides.
fn has_condition(obj: &Value, ty: &str) -> bool {
    arr(obj, "/status/conditions")
        .iter()
        .find(|c| s(c, "/type") == ty)
        .is_some_and(|c| s(c, "/status") == "True")
}

/// The STATUS cell of a Job (`printJob`): `Complete`, `Failed`, `Terminating`,
/// `Suspended`, `FailureTarget` or `Running`, first match wins.
pub fn job_status(job: &Value) -> &'static str {
    if has_condition(job, "Complete") {
        "Complete"
    } else if has_condition(job, "Failed") {
        "Failed"
    } else if job
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        "Terminating"
    } else if has_condition(job, "Suspended") {
        "Suspended"
    } else if has_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

/// The COMPLETIONS cell: `3/10`, or `0/1 of 3` / `0/1` without completions.
pub fn job_completions(job: &Value) -> String {
    let succeeded = i(job, "/status/succeeded");
    match job.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = i(job, "/spec/parallelism");
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    }
}

/// The DURATION cell: empty before `startTime`; until `completionTime` (or
/// now, so a Failed Job's duration keeps growing).
pub fn job_duration(job: &Value, now: DateTime<Utc>) -> String {
    let Some(start) = parse_time(job.pointer("/status/startTime")) else {
        return String::new();
    };
    match parse_time(job.pointer("/status/completionTime")) {
        None => human_duration(now - start),
        Some(end) => human_duration(end - start),
    }
}

pub fn job_cells(job: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = container_cells(arr(job, "/spec/template/spec/containers"));
    let selector = job.pointer("/spec/selector").unwrap_or(&Value::Null);
    vec![
        name_of(job),
        json!(job_status(job)),
        json!(job_completions(job)),
        json!(job_duration(job, now)),
        age_of(job, now),
        json!(names),
        json!(images),
        json!(format_label_selector_value(selector)),
    ]
}
