//! CronJob (`batch/v1`): its resource description, defaulting and the
//! registry's `PrepareFor*` steps. Validation is in
//! [`crate::validation::validate_cronjob_create`]; the schedule language in
//! [`crate::cron`].
//!
//! Upstream: `pkg/apis/batch/v1/defaults.go` (`SetDefaults_CronJob`, and the
//! generated defaulters that reach into the Job template's pod spec),
//! `pkg/registry/batch/cronjob/strategy.go`.

use crate::defaults::default_pod_spec;
use crate::resources::ResourceInfo;
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, CronJobStatus};
use k8s_openapi::api::core::v1::PodSpec;

/// The `cronjobs` resource: short name `cj`, category `all`, a status
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
};

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
