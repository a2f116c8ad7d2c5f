//! `batch/v1` CronJob, registered as a kind (upstream
//! `pkg/registry/batch/cronjob/strategy.go`, `printCronJob`). The rules
//! themselves live with the CronJob work: defaulting and preparation in
//! [`crate::cronjob`], validation in [`crate::validation`].

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::Event;
use serde_json::{Map, Value};

use super::{ResourceInfo, VERBS};
use crate::cronjob as rules;
use crate::patch_schema::PatchSchema;
use crate::strategy::{bump_generation, Strategy};
use crate::table::{age_col, col, name_col};
use crate::validation::{self, FieldError};

/// `batch/v1` `cronjobs`: short name `cj`, category `all`, a status
/// subresource.
pub static CRONJOBS: ResourceInfo = ResourceInfo {
    group: "batch",
    version: "v1",
    plural: "cronjobs",
    singular: "cronjob",
    kind: "CronJob",
    list_kind: "CronJobList",
    namespaced: true,
    short_names: &["cj"],
    categories: &["all"],
    has_generation: true,
    subresources: &["status"],
    verbs: VERBS,
    strategy: &CronJobStrategy,
};

/// The CronJob strategy.
pub struct CronJobStrategy;

impl Strategy for CronJobStrategy {
    type Object = CronJob;

    fn info(&self) -> &'static ResourceInfo {
        &CRONJOBS
    }

    /// CronJobs are few and written on every schedule.
    fn cache_decoded(&self, _obj: &CronJob) -> bool {
        true
    }

    fn default(&self, cj: &mut CronJob) {
        rules::default_cronjob(cj);
    }

    fn prepare_for_create(&self, cj: &mut CronJob) {
        rules::prepare_cronjob_for_create(cj);
    }

    fn validate_create(&self, cj: &CronJob) -> Vec<FieldError> {
        validation::validate_cronjob_create(cj)
    }

    fn warnings_on_create(&self, cj: &CronJob) -> Vec<String> {
        validation::cronjob_warnings_on_create(cj)
    }

    fn prepare_for_update(&self, new: &mut CronJob, old: &CronJob) {
        rules::prepare_cronjob_for_update(new, old);
        bump_generation(&mut new.metadata, &old.metadata, new.spec != old.spec);
    }

    fn validate_update(&self, new: &CronJob, old: &CronJob) -> Vec<FieldError> {
        validation::validate_cronjob_update(new, old)
    }

    fn warnings_on_update(&self, new: &CronJob, _old: &CronJob) -> Vec<String> {
        validation::cronjob_warnings_on_update(new)
    }

    fn prepare_for_status_update(&self, new: &mut CronJob, old: &CronJob) {
        rules::prepare_cronjob_status_update(new, old);
    }

    fn columns(&self) -> Vec<Value> {
        let mut cols = vec![name_col()];
        cols.extend(
            rules::TABLE_COLUMNS
                .iter()
                .map(|(name, ty, desc, priority)| col(name, ty, "", desc, *priority)),
        );
        cols.push(age_col());
        cols.push(col("Containers", "string", "", "Names of each container in the template.", 1));
        cols.push(col("Images", "string", "", "Images referenced by each container in the template.", 1));
        cols.push(col("Selector", "string", "", "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors", 1));
        cols
    }

    fn cells(&self, cj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        rules::table_cells(cj, now, true)
    }

    fn describe(&self, cj: &CronJob, events: &[Event]) -> String {
        crate::describe::cronjob_text(cj, events)
    }

    /// ObjectMeta twice (the CronJob's and the Job template's), the pod
    /// template's metadata and pod spec.
    fn patch_schema(&self) -> &'static PatchSchema {
        static S: LazyLock<PatchSchema> = LazyLock::new(|| {
            let mut s = PatchSchema::empty();
            s.add_object_meta(&["metadata"]);
            s.add_object_meta(&["spec", "jobTemplate", "metadata"]);
            s.add_object_meta(&["spec", "jobTemplate", "spec", "template", "metadata"]);
            s.add_pod_spec(&["spec", "jobTemplate", "spec", "template", "spec"]);
            s
        });
        &S
    }

    /// `kubectl create cronjob` sends protobuf.
    fn decode_protobuf(&self, raw: &[u8]) -> Option<Result<Map<String, Value>, prost::DecodeError>> {
        use crate::protobuf::{convert, job_spec, k8s_pb::api::batch::v1 as pb, object_meta, Obj};
        convert(raw, |cj: &pb::CronJob| {
            let mut o = Obj::default();
            o.inline_msg("metadata", &cj.metadata, object_meta)
                .inline_msg("spec", &cj.spec, |s| {
                    Obj::default()
                        .req_s("schedule", &s.schedule)
                        .ptr("timeZone", s.time_zone.clone())
                        .ptr("startingDeadlineSeconds", s.starting_deadline_seconds)
                        .s("concurrencyPolicy", &s.concurrency_policy)
                        .ptr("suspend", s.suspend)
                        .msg("jobTemplate", &s.job_template, |t| {
                            Obj::default()
                                .inline_msg("metadata", &t.metadata, object_meta)
                                .inline_msg("spec", &t.spec, job_spec)
                                .done()
                        })
                        .ptr("successfulJobsHistoryLimit", s.successful_jobs_history_limit)
                        .ptr("failedJobsHistoryLimit", s.failed_jobs_history_limit)
                        .done()
                });
            o.0
        })
    }
}
