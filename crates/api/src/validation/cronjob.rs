//! CronJob validation on create and update.
//!
//! Upstream: `pkg/apis/batch/validation/validation.go`
//! (`ValidateCronJobCreate`, `ValidateCronJobUpdate`, `validateCronJobSpec`,
//! `validateScheduleFormat`, `validateTimeZone`, `validateConcurrencyPolicy`,
//! `ValidateJobTemplateSpec`) as `pkg/registry/batch/cronjob/strategy.go`
//! calls them; the schedule is parsed by [`crate::cron`], robfig's parser,
//! so the messages are robfig's.

use super::field::{FieldError, FieldPath};
use super::job::validate_job_spec_inner;
use super::meta::{validate_object_meta, validate_object_meta_update};
use super::names::{is_dns1123_label, name_is_dns_subdomain};
use super::{dedup, to_json, IS_NEGATIVE_ERROR_MSG};
use crate::cron;
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec};

/// `DNS1035LabelMaxLength - 11`: room for the `-<minutes>` Job suffix.
pub const CRONJOB_NAME_MAX_LENGTH: usize = 52;

/// `^[A-Za-z\.\-_0-9+]{1,14}$`, one `/`-separated component of a zone name.
fn valid_time_zone_component(part: &str) -> bool {
    (1..=14).contains(&part.len())
        && part
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'+'))
}

/// `ValidateCronJobCreate` (`cronJobStrategy.Validate`).
pub fn validate_cronjob_create(cj: &CronJob) -> Vec<FieldError> {
    let meta = FieldPath::new("metadata");
    let mut errs = validate_object_meta(&cj.metadata, true, name_is_dns_subdomain, &meta);
    let default_spec = CronJobSpec::default();
    let spec = cj.spec.as_ref().unwrap_or(&default_spec);
    errs.extend(validate_cronjob_spec(spec, None, &FieldPath::new("spec")));
    let name = cj.metadata.name.as_deref().unwrap_or_default();
    if name.len() > CRONJOB_NAME_MAX_LENGTH {
        errs.push(FieldError::invalid(
            &meta.child("name"),
            name,
            "must be no more than 52 characters",
        ));
    }
    dedup(errs)
}

/// `ValidateCronJobUpdate` (`cronJobStrategy.ValidateUpdate`). The name
/// length is not checked, so an old CronJob with a long name can still be
/// updated and deleted.
pub fn validate_cronjob_update(new: &CronJob, old: &CronJob) -> Vec<FieldError> {
    let new = &super::restored(new, &old.metadata, |c| &mut c.metadata);
    let meta = FieldPath::new("metadata");
    let mut errs = validate_object_meta(&new.metadata, true, name_is_dns_subdomain, &meta);
    errs.extend(validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        &meta,
    ));
    let default_spec = CronJobSpec::default();
    let spec = new.spec.as_ref().unwrap_or(&default_spec);
    let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
    errs.extend(validate_cronjob_spec(
        spec,
        Some(old_spec),
        &FieldPath::new("spec"),
    ));
    dedup(errs)
}

/// `validateCronJobSpec`.
fn validate_cronjob_spec(
    spec: &CronJobSpec,
    old: Option<&CronJobSpec>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if spec.schedule.is_empty() {
        errs.push(FieldError::required(&path.child("schedule"), ""));
    } else {
        let allow_tz = old.is_some_and(|o| o.schedule.contains("TZ"));
        errs.extend(validate_schedule_format(
            &spec.schedule,
            allow_tz,
            spec.time_zone.as_deref(),
            &path.child("schedule"),
        ));
    }
    if let Some(v) = spec.starting_deadline_seconds.filter(|v| *v < 0) {
        errs.push(FieldError::invalid(
            &path.child("startingDeadlineSeconds"),
            v,
            IS_NEGATIVE_ERROR_MSG,
        ));
    }
    if old.is_none_or(|o| o.time_zone != spec.time_zone) {
        errs.extend(validate_time_zone(
            spec.time_zone.as_deref(),
            &path.child("timeZone"),
        ));
    }
    errs.extend(validate_concurrency_policy(
        spec.concurrency_policy.as_deref().unwrap_or_default(),
        &path.child("concurrencyPolicy"),
    ));
    errs.extend(validate_job_template_spec(spec, &path.child("jobTemplate")));
    for (v, name) in [
        (
            spec.successful_jobs_history_limit,
            "successfulJobsHistoryLimit",
        ),
        (spec.failed_jobs_history_limit, "failedJobsHistoryLimit"),
    ] {
        // Zero is a valid limit.
        if let Some(v) = v.filter(|v| *v < 0) {
            errs.push(FieldError::invalid(
                &path.child(name),
                v,
                IS_NEGATIVE_ERROR_MSG,
            ));
        }
    }
    errs
}

/// `validateScheduleFormat`: robfig's parse error, then the `TZ` rules.
pub fn validate_schedule_format(
    schedule: &str,
    allow_tz_in_schedule: bool,
    time_zone: Option<&str>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Err(e) = cron::parse_standard(schedule) {
        errs.push(FieldError::invalid(path, schedule, e.to_string()));
    }
    let has_tz = schedule.contains("TZ");
    if allow_tz_in_schedule && has_tz && time_zone.is_some() {
        errs.push(FieldError::invalid(
            path,
            schedule,
            "cannot use both timeZone field and TZ or CRON_TZ in schedule",
        ));
    } else if !allow_tz_in_schedule && has_tz {
        errs.push(FieldError::invalid(
            path,
            schedule,
            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ));
    }
    errs
}

/// `validateTimeZone`: IANA naming rules, no `Local`, and a zone the
/// database knows (Go's `time.LoadLocation`).
pub fn validate_time_zone(tz: Option<&str>, path: &FieldPath) -> Vec<FieldError> {
    let Some(tz) = tz else {
        return Vec::new();
    };
    if tz.is_empty() {
        return vec![FieldError::invalid(
            path,
            tz,
            "timeZone must be nil or non-empty string",
        )];
    }
    for part in tz.split('/') {
        if part == "." || part == ".." || part.starts_with('-') || !valid_time_zone_component(part)
        {
            return vec![FieldError::invalid(
                path,
                tz,
                format!("unknown time zone {tz}"),
            )];
        }
    }
    let mut errs = Vec::new();
    if tz.eq_ignore_ascii_case("Local") {
        errs.push(FieldError::invalid(
            path,
            tz,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
    if let Err(e) = cron::load_location(tz) {
        errs.push(FieldError::invalid(path, tz, e));
    }
    errs
}

/// `validateConcurrencyPolicy`.
fn validate_concurrency_policy(policy: &str, path: &FieldPath) -> Vec<FieldError> {
    match policy {
        "Allow" | "Forbid" | "Replace" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["Allow", "Forbid", "Replace"],
        )],
    }
}

/// `ValidateJobTemplateSpec`: the Job spec rules, and no selector (it is
/// generated per Job).
fn validate_job_template_spec(spec: &CronJobSpec, path: &FieldPath) -> Vec<FieldError> {
    let default_spec = JobSpec::default();
    let job = spec.job_template.spec.as_ref().unwrap_or(&default_spec);
    let spec_path = path.child("spec");
    let mut errs = validate_job_spec_inner(job, &spec_path);
    if let Some(sel) = &job.selector {
        errs.push(FieldError::invalid(
            &spec_path.child("selector"),
            to_json(sel),
            "`selector` will be auto-generated",
        ));
    }
    if job.manual_selector == Some(true) {
        errs.push(FieldError::not_supported(
            &spec_path.child("manualSelector"),
            true,
            &["nil", "false"],
        ));
    }
    errs
}

/// `cronJobStrategy.WarningsOnCreate`: a name that is not a DNS label, and
/// the Job template's warnings.
pub fn cronjob_warnings_on_create(cj: &CronJob) -> Vec<String> {
    let name = cj.metadata.name.as_deref().unwrap_or_default();
    let mut w = Vec::new();
    let msgs = is_dns1123_label(name);
    if !msgs.is_empty() {
        w.push(format!(
            "metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; a DNS label is recommended: [{}]",
            msgs.join(" ")
        ));
    }
    if let Some(ps) = cj
        .spec
        .as_ref()
        .and_then(|s| s.job_template.spec.as_ref())
        .and_then(|s| s.template.spec.as_ref())
    {
        w.extend(super::pod::pod_spec_warnings(
            ps,
            &FieldPath::new("spec")
                .child("jobTemplate")
                .child("spec")
                .child("template")
                .child("spec"),
        ));
    }
    w
}

/// `cronJobStrategy.WarningsOnUpdate`: a `TZ` in the schedule is warned
/// about (upstream's path text, `spec.spec.schedule`, kept as is).
pub fn cronjob_warnings_on_update(new: &CronJob) -> Vec<String> {
    let schedule = new.spec.as_ref().map(|s| s.schedule.as_str()).unwrap_or("");
    if schedule.contains("TZ") {
        vec!["cannot use TZ or CRON_TZ in spec.spec.schedule, use timeZone instead, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details".to_string()]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cj(v: serde_json::Value) -> CronJob {
        let mut base = json!({
            "metadata": {"name": "mycronjob", "namespace": "default", "uid": "u"},
            "spec": {
                "schedule": "* * * * ?",
                "concurrencyPolicy": "Allow",
                "jobTemplate": {"spec": {"template": {"spec": {
                    "restartPolicy": "OnFailure",
                    "dnsPolicy": "ClusterFirst",
                    "containers": [{"name": "abc", "image": "image", "imagePullPolicy": "IfNotPresent", "terminationMessagePolicy": "File"}]
                }}}}
            }
        });
        merge(&mut base, v);
        serde_json::from_value(base).unwrap()
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    // validation_test.go TestValidateCronJob: the success cases.
    #[test]
    fn valid_cronjobs() {
        for v in [
            json!({}),
            json!({"spec": {"schedule": "@every 1m"}}),
            json!({"spec": {"schedule": "0 0 * * *", "timeZone": "America/New_York"}}),
            json!({"spec": {"timeZone": "Etc/GMT+5"}}),
            json!({"spec": {"timeZone": "UTC"}}),
            json!({"spec": {"successfulJobsHistoryLimit": 0, "failedJobsHistoryLimit": 0, "startingDeadlineSeconds": 0}}),
        ] {
            assert_eq!(
                messages(&validate_cronjob_create(&cj(v.clone()))),
                Vec::<String>::new(),
                "{v}"
            );
        }
    }

    // validation_test.go TestValidateCronJob: the error cases, with their
    // field paths and messages.
    #[test]
    fn invalid_cronjobs() {
        let long = "a".repeat(53);
        let cases = [
            (json!({"spec": {"schedule": ""}}), "spec.schedule: Required value"),
            (json!({"spec": {"schedule": "error"}}), r#"spec.schedule: Invalid value: "error": expected exactly 5 fields, found 1: [error]"#),
            (json!({"spec": {"schedule": "0 0 * * 7"}}), r#"spec.schedule: Invalid value: "0 0 * * 7": end of range (7) above maximum (6): 7"#),
            (json!({"spec": {"schedule": "TZ=UTC 0 * * * *"}}), r#"spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"#),
            (json!({"spec": {"schedule": "CRON_TZ=UTC 0 * * * *"}}), r#"spec.schedule: Invalid value: "CRON_TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"#),
            (json!({"spec": {"timeZone": ""}}), r#"spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string"#),
            (json!({"spec": {"timeZone": "bad-time-zone"}}), r#"spec.timeZone: Invalid value: "bad-time-zone": unknown time zone bad-time-zone"#),
            (json!({"spec": {"timeZone": "America/New York"}}), r#"spec.timeZone: Invalid value: "America/New York": unknown time zone America/New York"#),
            (json!({"spec": {"timeZone": " America/New_York"}}), r#"spec.timeZone: Invalid value: " America/New_York": unknown time zone  America/New_York"#),
            (json!({"spec": {"timeZone": "../UTC"}}), r#"spec.timeZone: Invalid value: "../UTC": unknown time zone ../UTC"#),
            (json!({"spec": {"timeZone": "-UTC"}}), r#"spec.timeZone: Invalid value: "-UTC": unknown time zone -UTC"#),
            (json!({"spec": {"timeZone": "Local"}}), r#"spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"#),
            (json!({"spec": {"timeZone": "local"}}), r#"spec.timeZone: Invalid value: "local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"#),
            (json!({"spec": {"startingDeadlineSeconds": -1}}), "spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0"),
            (json!({"spec": {"successfulJobsHistoryLimit": -1}}), "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0"),
            (json!({"spec": {"failedJobsHistoryLimit": -1}}), "spec.failedJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0"),
            (json!({"spec": {"concurrencyPolicy": ""}}), "spec.concurrencyPolicy: Required value"),
            (json!({"spec": {"concurrencyPolicy": "Sometimes"}}), r#"spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace""#),
            (json!({"spec": {"jobTemplate": {"spec": {"manualSelector": true}}}}), r#"spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false""#),
            (json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Always"}}}}}}), r#"spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#),
            (json!({"spec": {"jobTemplate": {"spec": {"parallelism": -1}}}}), "spec.jobTemplate.spec.parallelism: Invalid value: -1: must be greater than or equal to 0"),
            (json!({"metadata": {"name": long.clone()}}), &format!(r#"metadata.name: Invalid value: "{long}": must be no more than 52 characters"#)),
        ];
        for (v, want) in cases {
            let got = messages(&validate_cronjob_create(&cj(v.clone())));
            assert!(got.iter().any(|m| m == want), "{v}: {got:?}");
        }
        // The selector is generated per Job.
        let got = messages(&validate_cronjob_create(&cj(
            json!({"spec": {"jobTemplate": {"spec": {"selector": {"matchLabels": {"a": "b"}}}}}}),
        )));
        assert!(
            got.iter().any(
                |m| m.starts_with("spec.jobTemplate.spec.selector: Invalid value:")
                    && m.ends_with("`selector` will be auto-generated")
            ),
            "{got:?}"
        );
        // A 52-character name is fine.
        assert!(
            validate_cronjob_create(&cj(json!({"metadata": {"name": "a".repeat(52)}}))).is_empty()
        );
    }

    #[test]
    fn every_invalid_robfig_schedule_is_refused_with_its_message() {
        for (schedule, msg) in crate::cron::tests::INVALID_SCHEDULES {
            let got = messages(&validate_cronjob_create(&cj(
                json!({"spec": {"schedule": schedule}}),
            )));
            let want = format!(
                "spec.schedule: Invalid value: {}: {msg}",
                crate::validation::go_quote(schedule)
            );
            assert!(got.contains(&want), "{schedule:?}: {got:?}");
        }
    }

    // validation_test.go TestValidateCronJobScheduleTZ: an object stored with
    // TZ in its schedule may keep it on update, but not with timeZone too.
    #[test]
    fn tz_in_schedule_on_update() {
        let old = cj(json!({"spec": {"schedule": "TZ=UTC 0 * * * *"}}));
        assert!(validate_cronjob_update(&old, &old).is_empty());
        let fixed = cj(json!({"spec": {"schedule": "0 * * * *"}}));
        assert!(validate_cronjob_update(&fixed, &old).is_empty());
        let both = cj(json!({"spec": {"schedule": "TZ=UTC 0 * * * *", "timeZone": "UTC"}}));
        assert_eq!(
            messages(&validate_cronjob_update(&both, &old)),
            vec![
                r#"spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use both timeZone field and TZ or CRON_TZ in schedule"#
            ]
        );
        // A long name can still be updated.
        let long = cj(json!({"metadata": {"name": "a".repeat(60)}}));
        assert!(validate_cronjob_update(&long, &long).is_empty());
    }
}
