//! batch/v1 CronJob (upstream `pkg/registry/batch/cronjob/strategy.go`,
//! `printCronJob`). The rules themselves live in [`crate::cronjob`]
//! (defaulting, prepare steps, the table row) and
//! [`crate::validation::validate_cronjob_create`]; the schedule language in
//! [`crate::cron`].

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::CronJob;
use serde_json::Value;

use super::{ResourceInfo, VERBS};
use crate::cronjob;
use crate::patch_schema::PatchSchema;
use crate::strategy::Strategy;
use crate::table::{age_col, col, name_col};
use crate::validation::{self, FieldError};

/// batch/v1 `cronjobs`: short name `cj`, category `all`, a status
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

    fn default(&self, cj: &mut CronJob) {
        cronjob::default_cronjob(cj);
    }

    fn prepare_for_create(&self, cj: &mut CronJob) {
        cronjob::prepare_cronjob_for_create(cj);
    }

    fn validate_create(&self, cj: &CronJob) -> Vec<FieldError> {
        validation::validate_cronjob_create(cj)
    }

    fn warnings_on_create(&self, cj: &CronJob) -> Vec<String> {
        validation::cronjob_warnings_on_create(cj)
    }

    fn prepare_for_update(&self, new: &mut CronJob, old: &CronJob) {
        cronjob::prepare_cronjob_for_update(new, old);
    }

    fn validate_update(&self, new: &CronJob, old: &CronJob) -> Vec<FieldError> {
        validation::validate_cronjob_update(new, old)
    }

    fn warnings_on_update(&self, new: &CronJob, _old: &CronJob) -> Vec<String> {
        validation::cronjob_warnings_on_update(new)
    }

    fn prepare_for_status_update(&self, new: &mut CronJob, old: &CronJob) {
        cronjob::prepare_cronjob_status_update(new, old);
    }

    fn columns(&self) -> Vec<Value> {
        let mut cols = vec![name_col()];
        cols.extend(
            cronjob::TABLE_COLUMNS
                .iter()
                .map(|(n, t, d, p)| col(n, t, "", d, *p)),
        );
        cols.push(age_col());
        cols.push(col("Containers", "string", "", "Names of each container in the template.", 1));
        cols.push(col("Images", "string", "", "Images referenced by each container in the template.", 1));
        cols.push(col("Selector", "string", "", "Selector used for filtering.", 1));
        cols
    }

    fn cells(&self, cj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        cronjob::table_cells(cj, now, true)
    }

    fn patch_schema(&self) -> &'static PatchSchema {
        static S: std::sync::LazyLock<PatchSchema> = std::sync::LazyLock::new(|| {
            let mut s = PatchSchema::empty();
            s.add_object_meta(&["metadata"]);
            s.add_object_meta(&["spec", "jobTemplate", "metadata"]);
            s.add_object_meta(&["spec", "jobTemplate", "spec", "template", "metadata"]);
            s.add_pod_spec(&["spec", "jobTemplate", "spec", "template", "spec"]);
            s
        });
        &S
    }
}
