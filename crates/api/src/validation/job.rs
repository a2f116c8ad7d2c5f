//! Job validation: create, update (immutability) and `/status` writes.
//!
//! Upstream: `pkg/apis/batch/validation/validation.go` (`ValidateJob`,
//! `validateJobSpec`, `validatePodFailurePolicy*`, `validateSuccessPolicy*`,
//! `ValidateJobSpecUpdate`, `validateJobStatus`, `ValidateJobStatusUpdate`)
//! with the options `pkg/registry/batch/job/strategy.go` passes on 1.33
//! (`validationOptionsForJob`, `getStatusValidationOptions` with JobManagedBy,
//! ElasticIndexedJob and JobPodReplacementPolicy on).

use super::field::{FieldError, FieldPath};
use super::meta::{validate_object_meta, validate_object_meta_update};
use super::names::{
    is_dns1123_label, is_domain_prefixed_path, name_is_dns_subdomain, validate_labels,
    validate_qualified_name,
};
use super::pod::validate_pod_template_spec;
use super::{dedup, semantic_eq, to_json, FIELD_IMMUTABLE, IS_NEGATIVE_ERROR_MSG};
use k8s_openapi::api::batch::v1::{
    Job, JobCondition, JobSpec, JobStatus, PodFailurePolicyRule, SuccessPolicyRule,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const MAX_PARALLELISM_FOR_INDEXED_JOB: i32 = 100_000;
const MAX_FAILED_INDEXES_FOR_INDEXED_JOB: i32 = 100_000;
const COMPLETIONS_SOFT_LIMIT: i32 = 100_000;
const PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS: i32 = 10_000;
const MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS: i32 = 10_000;
const MAX_POD_FAILURE_POLICY_RULES: usize = 20;
const MAX_POD_FAILURE_POLICY_ON_EXIT_CODES_VALUES: usize = 255;
const MAX_POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERNS: usize = 20;
const MAX_MANAGED_BY_LENGTH: usize = 63;
const MAX_SUCCESS_POLICY_SUCCEEDED_INDEXES: usize = 64 * 1024;
const MAX_SUCCESS_POLICY_RULES: usize = 20;

/// Sorted, as upstream's `sets.List` renders them.
const POD_FAILURE_POLICY_ACTIONS: &[&str] = &["Count", "FailIndex", "FailJob", "Ignore"];
const ON_EXIT_CODES_OPERATORS: &[&str] = &["In", "NotIn"];
const ON_POD_CONDITIONS_STATUSES: &[&str] = &["False", "True", "Unknown"];
const POD_REPLACEMENT_POLICIES: &[&str] = &["Failed", "TerminatingOrFailed"];

pub use crate::vocabulary::{
    CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
};

/// `JobValidationOptions` as the strategy computes them.
#[derive(Debug, Clone, Copy)]
struct JobOpts {
    require_prefixed_labels: bool,
    allow_mutable_scheduling_directives: bool,
}

/// Validate a Job on create (`jobStrategy.Validate`). The server must already
/// have assigned `metadata.uid` and run `prepare_job_for_create`.
pub fn validate_job_create(job: &Job) -> Vec<FieldError> {
    validate_job(
        job,
        JobOpts {
            require_prefixed_labels: true,
            allow_mutable_scheduling_directives: false,
        },
    )
}

/// Validate a main-resource Job update (`jobStrategy.ValidateUpdate`):
/// the new object must be valid and the immutable fields unchanged.
pub fn validate_job_update(new: &Job, old: &Job) -> Vec<FieldError> {
    let new = &super::restored(new, &old.metadata, |j| &mut j.metadata);
    let opts = opts_for_update(old);
    let mut errs = validate_job(new, opts);
    errs.extend(validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        &FieldPath::new("metadata"),
    ));
    let default_spec = JobSpec::default();
    let spec = new.spec.as_ref().unwrap_or(&default_spec);
    let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
    errs.extend(validate_job_spec_update(
        spec,
        old_spec,
        &FieldPath::new("spec"),
        opts,
    ));
    dedup(errs)
}

fn opts_for_update(old: &Job) -> JobOpts {
    let old_spec = old.spec.as_ref();
    let suspended = old_spec.and_then(|s| s.suspend).unwrap_or(false);
    let not_started = old
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .is_none();
    let labels = old_spec
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.as_ref());
    let had_prefixed = labels
        .is_some_and(|l| l.contains_key(JOB_NAME_LABEL) && l.contains_key(CONTROLLER_UID_LABEL));
    JobOpts {
        require_prefixed_labels: had_prefixed,
        allow_mutable_scheduling_directives: suspended && not_started,
    }
}

fn validate_job(job: &Job, opts: JobOpts) -> Vec<FieldError> {
    let mut errs = validate_object_meta(
        &job.metadata,
        true,
        name_is_dns_subdomain,
        &FieldPath::new("metadata"),
    );
    let default_spec = JobSpec::default();
    let spec = job.spec.as_ref().unwrap_or(&default_spec);
    errs.extend(validate_generated_selector(
        job,
        spec,
        opts.require_prefixed_labels,
    ));
    errs.extend(validate_job_spec(spec, &FieldPath::new("spec")));
    if spec.completion_mode.as_deref() == Some("Indexed") {
        if let Some(c) = spec.completions.filter(|c| *c > 0) {
            let name = job.metadata.name.as_deref().unwrap_or_default();
            let max_host = format!("{name}-{}", c - 1);
            if !is_dns1123_label(&max_host).is_empty() {
                errs.push(FieldError::invalid(
                    &FieldPath::new("metadata").child("name"),
                    name,
                    format!("will not able to create pod with invalid DNS label: {max_host}"),
                ));
            }
        }
    }
    errs
}

fn template_labels(t: &PodTemplateSpec) -> Option<&BTreeMap<String, String>> {
    t.metadata.as_ref().and_then(|m| m.labels.as_ref())
}

/// `validateGeneratedSelector`.
fn validate_generated_selector(
    job: &Job,
    spec: &JobSpec,
    validate_batch_labels: bool,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if spec.manual_selector == Some(true) {
        return errs;
    }
    let Some(selector) = &spec.selector else {
        return errs;
    };
    let uid = job.metadata.uid.as_deref().unwrap_or_default();
    let name = job.metadata.name.as_deref().unwrap_or_default();
    if uid.is_empty() {
        errs.push(FieldError::required(
            &FieldPath::new("metadata").child("uid"),
            "",
        ));
    }
    let tmd = FieldPath::new("spec").child("template").child("metadata");
    let labels = template_labels(&spec.template);
    errs.extend(validate_has_label(
        labels,
        &tmd,
        LEGACY_CONTROLLER_UID_LABEL,
        uid,
    ));
    errs.extend(validate_has_label(
        labels,
        &tmd,
        LEGACY_JOB_NAME_LABEL,
        name,
    ));
    let mut expected = BTreeMap::new();
    if validate_batch_labels {
        errs.extend(validate_has_label(labels, &tmd, CONTROLLER_UID_LABEL, uid));
        errs.extend(validate_has_label(labels, &tmd, JOB_NAME_LABEL, name));
        expected.insert(CONTROLLER_UID_LABEL.to_string(), uid.to_string());
        expected.insert(JOB_NAME_LABEL.to_string(), name.to_string());
    }
    expected.insert(LEGACY_CONTROLLER_UID_LABEL.to_string(), uid.to_string());
    expected.insert(LEGACY_JOB_NAME_LABEL.to_string(), name.to_string());
    if selector_matches(Some(selector), &expected) == Some(false) {
        errs.push(FieldError::invalid(
            &FieldPath::new("spec").child("selector"),
            to_json(selector),
            "`selector` not auto-generated",
        ));
    }
    errs
}

/// `ValidateHasLabel`.
fn validate_has_label(
    labels: Option<&BTreeMap<String, String>>,
    path: &FieldPath,
    key: &str,
    expected: &str,
) -> Vec<FieldError> {
    let p = path.child("labels").key(key);
    match labels.and_then(|l| l.get(key)) {
        None => vec![FieldError::required(&p, format!("must be '{expected}'"))],
        Some(v) if v != expected => {
            vec![FieldError::invalid(
                &p,
                to_json(&labels),
                format!("must be '{expected}'"),
            )]
        }
        Some(_) => vec![],
    }
}

/// `metav1.LabelSelectorAsSelector(sel).Matches(labels)`; `None` when the
/// selector cannot be converted (upstream then skips the check).
/// A nil selector matches nothing; an empty one matches everything.
pub(crate) fn selector_matches(
    sel: Option<&LabelSelector>,
    labels: &BTreeMap<String, String>,
) -> Option<bool> {
    let Some(sel) = sel else { return Some(false) };
    for r in sel.match_expressions.iter().flatten() {
        let values = r.values.as_deref().unwrap_or_default();
        match r.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => return None,
            "Exists" | "DoesNotExist" if !values.is_empty() => return None,
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            _ => return None,
        }
    }
    let labels_ok = sel
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let exprs_ok = sel
        .match_expressions
        .iter()
        .flatten()
        .all(|r| requirement_matches(r, labels));
    Some(labels_ok && exprs_ok)
}

fn requirement_matches(r: &LabelSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    let got = labels.get(&r.key);
    match r.operator.as_str() {
        "In" => got.is_some_and(|v| values.contains(v)),
        "NotIn" => got.is_none_or(|v| !values.contains(v)),
        "Exists" => got.is_some(),
        _ => got.is_none(),
    }
}

/// `ValidateLabelSelector`.
fn validate_label_selector(sel: &LabelSelector, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = validate_labels(sel.match_labels.as_ref(), &path.child("matchLabels"));
    for (i, r) in sel.match_expressions.iter().flatten().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let values = r.values.as_deref().unwrap_or_default();
        match r.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        &p.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        &p.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            other => errs.push(FieldError::invalid(
                &p.child("operator"),
                other,
                "not a valid selector operator",
            )),
        }
        errs.extend(validate_qualified_name(&r.key, &p.child("key")));
        for (j, v) in values.iter().enumerate() {
            for m in super::names::is_valid_label_value(v) {
                errs.push(FieldError::invalid(
                    &p.child("values").index(j),
                    v.as_str(),
                    m,
                ));
            }
        }
    }
    errs
}

fn nonnegative(v: Option<i64>, path: &FieldPath) -> Option<FieldError> {
    v.filter(|v| *v < 0)
        .map(|v| FieldError::invalid(path, v, IS_NEGATIVE_ERROR_MSG))
}

/// `ValidateJobSpec`: `validateJobSpec` plus selector checks.
fn validate_job_spec(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = validate_job_spec_inner(spec, path);
    match &spec.selector {
        None => errs.push(FieldError::required(&path.child("selector"), "")),
        Some(sel) => errs.extend(validate_label_selector(sel, &path.child("selector"))),
    }
    let empty = BTreeMap::new();
    let labels = template_labels(&spec.template);
    if selector_matches(spec.selector.as_ref(), labels.unwrap_or(&empty)) == Some(false) {
        let value = labels
            .map(to_json)
            .unwrap_or(Value::Object(Default::default()));
        errs.push(FieldError::invalid(
            &path.child("template").child("metadata").child("labels"),
            value,
            "`selector` does not match template `labels`",
        ));
    }
    errs
}

pub(super) fn validate_job_spec_inner(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let i64v = |v: Option<i32>| v.map(i64::from);
    errs.extend(nonnegative(
        i64v(spec.parallelism),
        &path.child("parallelism"),
    ));
    errs.extend(nonnegative(
        i64v(spec.completions),
        &path.child("completions"),
    ));
    errs.extend(nonnegative(
        spec.active_deadline_seconds,
        &path.child("activeDeadlineSeconds"),
    ));
    errs.extend(nonnegative(
        i64v(spec.backoff_limit),
        &path.child("backoffLimit"),
    ));
    errs.extend(nonnegative(
        i64v(spec.ttl_seconds_after_finished),
        &path.child("ttlSecondsAfterFinished"),
    ));
    errs.extend(nonnegative(
        i64v(spec.backoff_limit_per_index),
        &path.child("backoffLimitPerIndex"),
    ));
    if let Some(mfi) = spec.max_failed_indexes {
        errs.extend(nonnegative(
            Some(i64::from(mfi)),
            &path.child("maxFailedIndexes"),
        ));
        if spec.backoff_limit_per_index.is_none() {
            errs.push(FieldError::required(
                &path.child("backoffLimitPerIndex"),
                "when maxFailedIndexes is specified",
            ));
        }
    }
    if let Some(mb) = &spec.managed_by {
        let p = path.child("managedBy");
        errs.extend(is_domain_prefixed_path(&p, mb));
        if mb.len() > MAX_MANAGED_BY_LENGTH {
            errs.push(FieldError::too_long_max_length(
                &p,
                mb.as_str(),
                MAX_MANAGED_BY_LENGTH,
            ));
        }
    }
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    if let Some(mode) = spec.completion_mode.as_deref() {
        if mode != "NonIndexed" && mode != "Indexed" {
            errs.push(FieldError::not_supported(
                &path.child("completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            ));
        }
        if indexed {
            if spec.completions.is_none() {
                errs.push(FieldError::required(
                    &path.child("completions"),
                    "when completion mode is Indexed",
                ));
            }
            if let Some(p) = spec
                .parallelism
                .filter(|p| *p > MAX_PARALLELISM_FOR_INDEXED_JOB)
            {
                errs.push(FieldError::invalid(
                    &path.child("parallelism"),
                    p,
                    format!("must be less than or equal to {MAX_PARALLELISM_FOR_INDEXED_JOB} when completion mode is Indexed"),
                ));
            }
            if let (Some(c), Some(m)) = (spec.completions, spec.max_failed_indexes) {
                if m > c {
                    errs.push(FieldError::invalid(
                        &path.child("maxFailedIndexes"),
                        m,
                        "must be less than or equal to completions",
                    ));
                }
            }
            if let Some(m) = spec
                .max_failed_indexes
                .filter(|m| *m > MAX_FAILED_INDEXES_FOR_INDEXED_JOB)
            {
                errs.push(FieldError::invalid(
                    &path.child("maxFailedIndexes"),
                    m,
                    format!("must be less than or equal to {MAX_FAILED_INDEXES_FOR_INDEXED_JOB}"),
                ));
            }
            if spec.completions.is_some_and(|c| c > COMPLETIONS_SOFT_LIMIT)
                && spec.backoff_limit_per_index.is_some()
            {
                match spec.max_failed_indexes {
                    None => errs.push(FieldError::required(
                        &path.child("maxFailedIndexes"),
                        format!("must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"),
                    )),
                    Some(m) if m > MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS => errs.push(FieldError::invalid(
                        &path.child("maxFailedIndexes"),
                        m,
                        format!("must be less than or equal to {MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS} when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"),
                    )),
                    Some(_) => {}
                }
                if let Some(p) = spec
                    .parallelism
                    .filter(|p| *p > PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS)
                {
                    errs.push(FieldError::invalid(
                        &path.child("parallelism"),
                        p,
                        format!("must be less than or equal to {PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS} when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"),
                    ));
                }
            }
        }
    }
    if spec.completion_mode.is_none() || spec.completion_mode.as_deref() == Some("NonIndexed") {
        if let Some(b) = spec.backoff_limit_per_index {
            errs.push(FieldError::invalid(
                &path.child("backoffLimitPerIndex"),
                b,
                "requires indexed completion mode",
            ));
        }
        if let Some(m) = spec.max_failed_indexes {
            errs.push(FieldError::invalid(
                &path.child("maxFailedIndexes"),
                m,
                "requires indexed completion mode",
            ));
        }
    }
    if spec.pod_failure_policy.is_some() {
        errs.extend(validate_pod_failure_policy(
            spec,
            &path.child("podFailurePolicy"),
        ));
    }
    if let Some(sp) = &spec.success_policy {
        if !indexed {
            errs.push(FieldError::invalid(
                &path.child("successPolicy"),
                to_json(sp),
                "requires indexed completion mode",
            ));
        } else {
            errs.extend(validate_success_policy(
                spec,
                &sp.rules,
                &path.child("successPolicy"),
            ));
        }
    }
    if let Some(prp) = spec.pod_replacement_policy.as_deref() {
        let p = path.child("podReplacementPolicy");
        if spec.pod_failure_policy.is_some() {
            if prp != "Failed" {
                errs.push(FieldError::not_supported(&p, prp, &["Failed"]));
            }
        } else if !POD_REPLACEMENT_POLICIES.contains(&prp) {
            errs.push(FieldError::not_supported(&p, prp, POD_REPLACEMENT_POLICIES));
        }
    }
    errs.extend(validate_pod_template_spec(
        &spec.template,
        &path.child("template"),
    ));

    // Pod defaulting turns an empty restartPolicy into Always, so both mean
    // "not chosen" for a Job.
    let rp_path = path.child("template").child("spec").child("restartPolicy");
    let rp = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or_default();
    if rp == "Always" || rp.is_empty() {
        errs.push(FieldError::required(
            &rp_path,
            "valid values: \"OnFailure\", \"Never\"",
        ));
    } else if rp != "OnFailure" && rp != "Never" {
        errs.push(FieldError::not_supported(
            &rp_path,
            rp,
            &["OnFailure", "Never"],
        ));
    } else if spec.pod_failure_policy.is_some() && rp != "Never" {
        errs.push(FieldError::invalid(
            &rp_path,
            rp,
            "only \"Never\" is supported when podFailurePolicy is specified",
        ));
    }
    errs
}

fn quoted_list(vals: &[&str]) -> String {
    let q: Vec<String> = vals.iter().map(|v| super::field::go_quote(v)).collect();
    format!("[{}]", q.join(" "))
}

/// `validatePodFailurePolicy` and its rule helpers.
fn validate_pod_failure_policy(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(pfp) = &spec.pod_failure_policy else {
        return errs;
    };
    let rules_path = path.child("rules");
    if pfp.rules.len() > MAX_POD_FAILURE_POLICY_RULES {
        errs.push(FieldError::too_many(
            &rules_path,
            pfp.rules.len(),
            MAX_POD_FAILURE_POLICY_RULES,
        ));
    }
    let mut names = BTreeSet::new();
    if let Some(ps) = &spec.template.spec {
        names.extend(ps.containers.iter().map(|c| c.name.clone()));
        names.extend(ps.init_containers.iter().flatten().map(|c| c.name.clone()));
    }
    for (i, rule) in pfp.rules.iter().enumerate() {
        errs.extend(validate_pod_failure_policy_rule(
            spec,
            rule,
            &rules_path.index(i),
            &names,
        ));
    }
    errs
}

fn validate_pod_failure_policy_rule(
    spec: &JobSpec,
    rule: &PodFailurePolicyRule,
    path: &FieldPath,
    names: &BTreeSet<String>,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let action_path = path.child("action");
    match rule.action.as_str() {
        "" => errs.push(FieldError::required(
            &action_path,
            format!("valid values: {}", quoted_list(POD_FAILURE_POLICY_ACTIONS)),
        )),
        "FailIndex" if spec.backoff_limit_per_index.is_none() => errs.push(FieldError::invalid(
            &action_path,
            "FailIndex",
            "requires the backoffLimitPerIndex to be set",
        )),
        "FailIndex" => {}
        a if !POD_FAILURE_POLICY_ACTIONS.contains(&a) => errs.push(FieldError::not_supported(
            &action_path,
            a,
            POD_FAILURE_POLICY_ACTIONS,
        )),
        _ => {}
    }
    if let Some(oec) = &rule.on_exit_codes {
        let p = path.child("onExitCodes");
        let op_path = p.child("operator");
        match oec.operator.as_str() {
            "" => errs.push(FieldError::required(
                &op_path,
                format!("valid values: {}", quoted_list(ON_EXIT_CODES_OPERATORS)),
            )),
            op if !ON_EXIT_CODES_OPERATORS.contains(&op) => errs.push(FieldError::not_supported(
                &op_path,
                op,
                ON_EXIT_CODES_OPERATORS,
            )),
            _ => {}
        }
        if let Some(cn) = oec.container_name.as_deref() {
            if !names.contains(cn) {
                errs.push(FieldError::invalid(
                    &p.child("containerName"),
                    cn,
                    "must be one of the container or initContainer names in the pod template",
                ));
            }
        }
        let values_path = p.child("values");
        if oec.values.is_empty() {
            errs.push(FieldError::invalid(
                &values_path,
                Value::Array(vec![]),
                "at least one value is required",
            ));
        } else if oec.values.len() > MAX_POD_FAILURE_POLICY_ON_EXIT_CODES_VALUES {
            errs.push(FieldError::too_many(
                &values_path,
                oec.values.len(),
                MAX_POD_FAILURE_POLICY_ON_EXIT_CODES_VALUES,
            ));
        }
        let mut seen = BTreeSet::new();
        let mut ordered = true;
        for (j, v) in oec.values.iter().enumerate() {
            let vp = values_path.index(j);
            if oec.operator == "In" && *v == 0 {
                errs.push(FieldError::invalid(
                    &vp,
                    *v,
                    "must not be 0 for the In operator",
                ));
            }
            if !seen.insert(*v) {
                errs.push(FieldError::duplicate(&vp, *v));
            }
            if j > 0 && oec.values[j - 1] > *v {
                ordered = false;
            }
        }
        if !ordered {
            errs.push(FieldError::invalid(
                &values_path,
                to_json(&oec.values),
                "must be ordered",
            ));
        }
    }
    let conds = rule.on_pod_conditions.as_deref().unwrap_or_default();
    if !conds.is_empty() {
        let p = path.child("onPodConditions");
        if conds.len() > MAX_POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERNS {
            errs.push(FieldError::too_many(
                &p,
                conds.len(),
                MAX_POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERNS,
            ));
        }
        for (j, pat) in conds.iter().enumerate() {
            let pp = p.index(j);
            errs.extend(validate_qualified_name(&pat.type_, &pp.child("type")));
            let sp = pp.child("status");
            match pat.status.as_str() {
                "" => errs.push(FieldError::required(
                    &sp,
                    format!("valid values: {}", quoted_list(ON_POD_CONDITIONS_STATUSES)),
                )),
                s if !ON_POD_CONDITIONS_STATUSES.contains(&s) => errs.push(
                    FieldError::not_supported(&sp, s, ON_POD_CONDITIONS_STATUSES),
                ),
                _ => {}
            }
        }
    }
    if rule.on_exit_codes.is_some() && !conds.is_empty() {
        errs.push(FieldError::invalid_omit(
            path,
            "specifying both OnExitCodes and OnPodConditions is not supported",
        ));
    }
    if rule.on_exit_codes.is_none() && conds.is_empty() {
        errs.push(FieldError::invalid_omit(
            path,
            "specifying one of OnExitCodes and OnPodConditions is required",
        ));
    }
    errs
}

/// `validateSuccessPolicy` / `validateSuccessPolicyRule` (Indexed jobs only).
fn validate_success_policy(
    spec: &JobSpec,
    rules: &[SuccessPolicyRule],
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let rules_path = path.child("rules");
    if rules.is_empty() {
        errs.push(FieldError::required(
            &rules_path,
            "at least one rules must be specified when the successPolicy is specified",
        ));
    }
    if rules.len() > MAX_SUCCESS_POLICY_RULES {
        errs.push(FieldError::too_many(
            &rules_path,
            rules.len(),
            MAX_SUCCESS_POLICY_RULES,
        ));
    }
    let completions = spec.completions.unwrap_or(0);
    for (i, rule) in rules.iter().enumerate() {
        let rp = rules_path.index(i);
        if rule.succeeded_count.is_none() && rule.succeeded_indexes.is_none() {
            errs.push(FieldError::required(
                &rp,
                "at least one of succeededCount or succeededIndexes must be specified",
            ));
        }
        let mut total = 0i64;
        if let Some(si) = &rule.succeeded_indexes {
            let sp = rp.child("succeededIndexes");
            if si.len() > MAX_SUCCESS_POLICY_SUCCEEDED_INDEXES {
                errs.push(FieldError::too_long(
                    &sp,
                    MAX_SUCCESS_POLICY_SUCCEEDED_INDEXES,
                ));
            }
            match validate_indexes_format(si, completions) {
                Ok(t) => total = t,
                Err(e) => errs.push(FieldError::invalid(
                    &sp,
                    si.as_str(),
                    format!("error parsing succeededIndexes: {e}"),
                )),
            }
        }
        if let Some(sc) = rule.succeeded_count {
            let cp = rp.child("succeededCount");
            errs.extend(nonnegative(Some(i64::from(sc)), &cp));
            if sc > completions {
                errs.push(FieldError::invalid(
                    &cp,
                    sc,
                    format!("must be less than or equal to {completions} (the number of specified completions)"),
                ));
            }
            if rule.succeeded_indexes.is_some() && i64::from(sc) > total {
                errs.push(FieldError::invalid(
                    &cp,
                    sc,
                    format!("must be less than or equal to {total} (the number of indexes in the specified succeededIndexes field)"),
                ));
            }
        }
    }
    errs
}

/// `parseIndexInterval`: `"x"` or `"x-y"` with x < y < completions.
fn parse_index_interval(s: &str, completions: i32) -> Result<(i64, i64), String> {
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() > 2 {
        return Err(format!(
            "the fragment {} violates the requirement that an index interval can have at most two parts separated by '-'",
            super::field::go_quote(s)
        ));
    }
    let parse = |p: &str| -> Result<i64, String> {
        let v: i64 = p.parse().map_err(|_| {
            format!(
                "cannot convert string to integer for index: {}",
                super::field::go_quote(p)
            )
        })?;
        if v >= i64::from(completions) {
            return Err(format!("too large index: {}", super::field::go_quote(p)));
        }
        Ok(v)
    };
    let x = parse(parts[0])?;
    if let Some(ys) = parts.get(1) {
        let y = parse(ys)?;
        if x >= y {
            return Err(format!("non-increasing order, previous: {x}, current: {y}"));
        }
        return Ok((x, y));
    }
    Ok((x, x))
}

/// `validateIndexesFormat`: returns the number of indexes in the list.
fn validate_indexes_format(s: &str, completions: i32) -> Result<i64, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let mut last: Option<i64> = None;
    let mut total = 0;
    for part in s.split(',') {
        let (x, y) = parse_index_interval(part, completions)?;
        if let Some(l) = last.filter(|l| *l >= x) {
            return Err(format!("non-increasing order, previous: {l}, current: {x}"));
        }
        total += y - x + 1;
        last = Some(y);
    }
    Ok(total)
}

/// `validateFailedIndexesNotOverlapCompleted`.
fn validate_failed_indexes_not_overlap_completed(
    completed: &str,
    failed: &str,
    completions: i32,
) -> Result<(), String> {
    if completed.is_empty() || failed.is_empty() {
        return Ok(());
    }
    let c_ints: Vec<&str> = completed.split(',').collect();
    let f_ints: Vec<&str> = failed.split(',').collect();
    let (mut cp, mut fp) = (0usize, 0usize);
    let mut c = parse_index_interval(c_ints[0], completions);
    let mut f = parse_index_interval(f_ints[0], completions);
    while cp < c_ints.len() && fp < f_ints.len() {
        match (&c, &f) {
            (Err(_), _) => {
                cp += 1;
                if cp < c_ints.len() {
                    c = parse_index_interval(c_ints[cp], completions);
                }
            }
            (_, Err(_)) => {
                fp += 1;
                if fp < f_ints.len() {
                    f = parse_index_interval(f_ints[fp], completions);
                }
            }
            (Ok((cx, cy)), Ok((fx, fy))) => {
                if cx <= fy && fx <= cy {
                    return Err(format!(
                        "failedIndexes and completedIndexes overlap at index: {}",
                        cx.max(fx)
                    ));
                }
                if cx <= fx {
                    cp += 1;
                    if cp < c_ints.len() {
                        c = parse_index_interval(c_ints[cp], completions);
                    }
                } else {
                    fp += 1;
                    if fp < f_ints.len() {
                        f = parse_index_interval(f_ints[fp], completions);
                    }
                }
            }
        }
    }
    Ok(())
}

/// `ValidateJobSpecUpdate`: immutability, the elastic-indexed exception for
/// `completions`, and mutable scheduling directives for suspended jobs that
/// never started.
fn validate_job_spec_update(
    spec: &JobSpec,
    old: &JobSpec,
    path: &FieldPath,
    opts: JobOpts,
) -> Vec<FieldError> {
    let mut errs = validate_job_spec(spec, path);
    // validateCompletions with AllowElasticIndexedJobs (GA).
    if spec.completions != old.completions {
        let p = path.child("completions");
        if spec.completion_mode.as_deref() != Some("Indexed") {
            errs.push(FieldError::invalid(
                &p,
                to_json(&spec.completions),
                FIELD_IMMUTABLE,
            ));
        } else if let Some(c) = spec.completions {
            if Some(c) != spec.parallelism {
                errs.push(FieldError::invalid(
                    &p,
                    c,
                    "can only be modified in tandem with spec.parallelism",
                ));
            }
        }
    }
    let mut immutable = |name: &str, a: Value, b: Value| {
        if !semantic_eq(&a, &b) {
            errs.push(FieldError::invalid(&path.child(name), a, FIELD_IMMUTABLE));
        }
    };
    immutable("selector", to_json(&spec.selector), to_json(&old.selector));
    let mut old_t = old.template.clone();
    if opts.allow_mutable_scheduling_directives {
        let new_t = &spec.template;
        if let (Some(os), Some(ns)) = (old_t.spec.as_mut(), new_t.spec.as_ref()) {
            match (ns.affinity.as_ref(), os.affinity.as_mut()) {
                (None, Some(oa)) => {
                    oa.node_affinity = None;
                    if *oa == Default::default() {
                        os.affinity = None;
                    }
                }
                (Some(na), None) => {
                    os.affinity = Some(k8s_openapi::api::core::v1::Affinity {
                        node_affinity: na.node_affinity.clone(),
                        ..Default::default()
                    })
                }
                (Some(na), Some(oa)) => oa.node_affinity = na.node_affinity.clone(),
                (None, None) => {}
            }
            os.node_selector = ns.node_selector.clone();
            os.tolerations = ns.tolerations.clone();
            os.scheduling_gates = ns.scheduling_gates.clone();
        }
        let (nl, na) = match &new_t.metadata {
            Some(m) => (m.labels.clone(), m.annotations.clone()),
            None => (None, None),
        };
        let om = old_t.metadata.get_or_insert_with(Default::default);
        om.labels = nl;
        om.annotations = na;
        if new_t.metadata.is_none() && *om == Default::default() {
            old_t.metadata = None;
        }
    }
    immutable("template", to_json(&spec.template), to_json(&old_t));
    immutable(
        "completionMode",
        to_json(&spec.completion_mode),
        to_json(&old.completion_mode),
    );
    immutable(
        "podFailurePolicy",
        to_json(&spec.pod_failure_policy),
        to_json(&old.pod_failure_policy),
    );
    immutable(
        "backoffLimitPerIndex",
        to_json(&spec.backoff_limit_per_index),
        to_json(&old.backoff_limit_per_index),
    );
    immutable(
        "managedBy",
        to_json(&spec.managed_by),
        to_json(&old.managed_by),
    );
    immutable(
        "successPolicy",
        to_json(&spec.success_policy),
        to_json(&old.success_policy),
    );
    errs
}

fn is_condition_true(status: &JobStatus, type_: &str) -> bool {
    status
        .conditions
        .iter()
        .flatten()
        .any(|c: &JobCondition| c.type_ == type_ && c.status == "True")
}

fn is_condition_false(status: &JobStatus, type_: &str) -> bool {
    status
        .conditions
        .iter()
        .flatten()
        .any(|c: &JobCondition| c.type_ == type_ && c.status == "False")
}

fn is_finished(s: &JobStatus) -> bool {
    is_condition_true(s, "Complete") || is_condition_true(s, "Failed")
}

/// Validate a `/status` write (`jobStatusStrategy.ValidateUpdate`) with the
/// options upstream uses when JobManagedBy is on (1.32+ default). `new` must
/// already carry the old spec (see `prepare_job_status_update`).
pub fn validate_job_status_update(new: &Job, old: &Job) -> Vec<FieldError> {
    let new = &super::restored(new, &old.metadata, |j| &mut j.metadata);
    let mut errs =
        validate_object_meta_update(&new.metadata, &old.metadata, &FieldPath::new("metadata"));
    let default_spec = JobSpec::default();
    let default_status = JobStatus::default();
    let spec = new.spec.as_ref().unwrap_or(&default_spec);
    let st = new.status.as_ref().unwrap_or(&default_status);
    let os = old.status.as_ref().unwrap_or(&default_status);
    let path = FieldPath::new("status");
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");

    // getStatusValidationOptions (JobManagedBy on).
    let finished_changed = is_finished(os) != is_finished(st);
    let complete_changed = is_condition_true(os, "Complete") != is_condition_true(st, "Complete");
    let failed_changed = is_condition_true(os, "Failed") != is_condition_true(st, "Failed");
    let failure_target_changed =
        is_condition_true(os, "FailureTarget") != is_condition_true(st, "FailureTarget");
    let completed_idx_changed = os.completed_indexes.as_deref().unwrap_or_default()
        != st.completed_indexes.as_deref().unwrap_or_default();
    let failed_idx_changed = os.failed_indexes != st.failed_indexes;
    let active_changed = os.active.unwrap_or(0) != st.active.unwrap_or(0);
    let start_changed = os.start_time != st.start_time;
    let completion_changed = os.completion_time != st.completion_time;
    let uncounted_changed = os.uncounted_terminated_pods != st.uncounted_terminated_pods;
    let reject_decreasing_succeeded = !indexed || spec.completions != spec.parallelism;

    // validateJobStatus.
    let active = st.active.unwrap_or(0);
    for (name, v) in [
        ("active", st.active),
        ("succeeded", st.succeeded),
        ("failed", st.failed),
    ] {
        errs.extend(nonnegative(
            Some(i64::from(v.unwrap_or(0))),
            &path.child(name),
        ));
    }
    errs.extend(nonnegative(st.ready.map(i64::from), &path.child("ready")));
    errs.extend(nonnegative(
        st.terminating.map(i64::from),
        &path.child("terminating"),
    ));
    if let Some(u) = &st.uncounted_terminated_pods {
        let up = path.child("uncountedTerminatedPods");
        let mut seen = BTreeSet::new();
        for (list_name, list) in [("succeeded", &u.succeeded), ("failed", &u.failed)] {
            for (i, uid) in list.iter().flatten().enumerate() {
                let p = up.child(list_name).index(i);
                if uid.is_empty() {
                    errs.push(FieldError::invalid(&p, "", "must not be empty"));
                } else if !seen.insert(uid.clone()) {
                    errs.push(FieldError::duplicate(&p, uid.as_str()));
                }
            }
        }
    }
    let complete = is_condition_true(st, "Complete");
    let failed = is_condition_true(st, "Failed");
    let failure_target = is_condition_true(st, "FailureTarget");
    let scm = is_condition_true(st, "SuccessCriteriaMet");
    let conds = path.child("conditions");
    if (complete_changed || failed_changed) && complete && failed {
        errs.push(FieldError::invalid_omit(
            &conds,
            "cannot set Complete=True and Failed=true conditions",
        ));
    }
    if (complete_changed || failure_target_changed) && complete && failure_target {
        errs.push(FieldError::invalid_omit(
            &conds,
            "cannot set Complete=True and FailureTarget=true conditions",
        ));
    }
    if complete_changed || completion_changed {
        if st.completion_time.is_some() && !complete {
            errs.push(FieldError::invalid(
                &path.child("completionTime"),
                to_json(&st.completion_time),
                "cannot set completionTime when there is no Complete=True condition",
            ));
        }
        if st.completion_time.is_none() && complete {
            errs.push(FieldError::required(
                &path.child("completionTime"),
                "completionTime is required for Complete jobs",
            ));
        }
    }
    if start_changed || completion_changed {
        if let (Some(s), Some(c)) = (&st.start_time, &st.completion_time) {
            if c.0 < s.0 {
                errs.push(FieldError::invalid(
                    &path.child("completionTime"),
                    to_json(c),
                    "completionTime cannot be set before startTime",
                ));
            }
        }
    }
    // Newer strategies gate these two on the related conditions changing,
    // so a stored object that predates the rule can still be updated.
    let scm_changed =
        is_condition_true(os, "SuccessCriteriaMet") != is_condition_true(st, "SuccessCriteriaMet");
    if (failed_changed || failure_target_changed) && failed && !failure_target {
        errs.push(FieldError::invalid_omit(
            &conds,
            "cannot set Failed=True condition without the FailureTarget=true condition",
        ));
    }
    if (complete_changed || scm_changed) && complete && !scm {
        errs.push(FieldError::invalid_omit(
            &conds,
            "cannot set Complete=True condition without the SuccessCriteriaMet=true condition",
        ));
    }
    let finished = complete || failed;
    if (finished_changed || active_changed) && active > 0 && finished {
        errs.push(FieldError::invalid(
            &path.child("active"),
            active,
            "active>0 is invalid for finished job",
        ));
    }
    if (finished_changed || start_changed) && st.start_time.is_none() && finished {
        errs.push(FieldError::required(
            &path.child("startTime"),
            "startTime is required for finished job",
        ));
    }
    if finished_changed || uncounted_changed {
        if let Some(u) = &st.uncounted_terminated_pods {
            let n =
                u.failed.as_ref().map_or(0, Vec::len) + u.succeeded.as_ref().map_or(0, Vec::len);
            if finished && n > 0 {
                errs.push(FieldError::invalid(
                    &path.child("uncountedTerminatedPods"),
                    to_json(u),
                    "uncountedTerminatedPods needs to be empty for finished job",
                ));
            }
        }
    }
    let completed_indexes = st.completed_indexes.as_deref().unwrap_or_default();
    if completed_idx_changed {
        if let Some(c) = spec.completions {
            if let Err(e) = validate_indexes_format(completed_indexes, c) {
                errs.push(FieldError::invalid(
                    &path.child("completedIndexes"),
                    completed_indexes,
                    format!("error parsing completedIndexes: {e}"),
                ));
            }
        }
    }
    if failed_idx_changed {
        if let (Some(c), Some(_), Some(fi)) = (
            spec.completions,
            spec.backoff_limit_per_index,
            st.failed_indexes.as_deref(),
        ) {
            if let Err(e) = validate_indexes_format(fi, c) {
                errs.push(FieldError::invalid(
                    &path.child("failedIndexes"),
                    fi,
                    format!("error parsing failedIndexes: {e}"),
                ));
            }
        }
    }
    if completed_idx_changed && !completed_indexes.is_empty() && !indexed {
        errs.push(FieldError::invalid(
            &path.child("completedIndexes"),
            completed_indexes,
            "cannot set non-empty completedIndexes when non-indexed completion mode",
        ));
    }
    if failed_idx_changed && spec.backoff_limit_per_index.is_none() {
        if let Some(fi) = st.failed_indexes.as_deref() {
            errs.push(FieldError::invalid(
                &path.child("failedIndexes"),
                fi,
                "cannot set non-null failedIndexes when backoffLimitPerIndex is null",
            ));
        }
    }
    if failed_idx_changed || completed_idx_changed {
        if let (Some(c), Some(fi)) = (spec.completions, st.failed_indexes.as_deref()) {
            if let Err(e) = validate_failed_indexes_not_overlap_completed(completed_indexes, fi, c)
            {
                errs.push(FieldError::invalid(&path.child("failedIndexes"), fi, e));
            }
        }
    }
    // AllowForSuccessCriteriaMetInExtendedScope is on, so SuccessCriteriaMet
    // is allowed on NonIndexed jobs and jobs without a successPolicy.
    if scm && failed {
        errs.push(FieldError::invalid_omit(
            &conds,
            "cannot set SuccessCriteriaMet=True and Failed=true conditions",
        ));
    }
    if scm && failure_target {
        errs.push(FieldError::invalid_omit(
            &conds,
            "cannot set SuccessCriteriaMet=True and FailureTarget=true conditions",
        ));
    }
    if spec.success_policy.is_some() && !scm && complete {
        errs.push(FieldError::invalid_omit(
            &conds,
            "cannot set Complete=True for Job with SuccessPolicy unless SuccessCriteriaMet=True",
        ));
    }

    // ValidateJobStatusUpdate (transitions).
    for t in ["Failed", "Complete", "FailureTarget"] {
        if is_condition_true(os, t) && !is_condition_true(st, t) {
            errs.push(FieldError::invalid_omit(
                &conds,
                format!("cannot disable the terminal {t}=True condition"),
            ));
        }
    }
    if st.failed.unwrap_or(0) < os.failed.unwrap_or(0) {
        errs.push(FieldError::invalid(
            &path.child("failed"),
            st.failed.unwrap_or(0),
            "cannot decrease the failed counter",
        ));
    }
    if reject_decreasing_succeeded && st.succeeded.unwrap_or(0) < os.succeeded.unwrap_or(0) {
        errs.push(FieldError::invalid(
            &path.child("succeeded"),
            st.succeeded.unwrap_or(0),
            "cannot decrease the succeeded counter",
        ));
    }
    if let (Some(n), Some(o)) = (&st.completion_time, &os.completion_time) {
        if n != o {
            errs.push(FieldError::invalid(
                &path.child("completionTime"),
                to_json(n),
                "completionTime cannot be mutated",
            ));
        }
    }
    // A resume (Suspended True -> False) may reset startTime: the 1.33
    // patch release's fix (kubernetes#135129, from #134769); without it the
    // controller's status write after a suspend and resume is refused forever.
    let resuming = is_condition_true(os, "Suspended") && is_condition_false(st, "Suspended");
    if start_changed && os.start_time.is_some() && !spec.suspend.unwrap_or(false) && !resuming {
        errs.push(FieldError::required(
            &path.child("startTime"),
            "startTime cannot be removed for unsuspended job",
        ));
    }
    let old_scm = is_condition_true(os, "SuccessCriteriaMet");
    if old_scm && !scm {
        errs.push(FieldError::invalid_omit(
            &conds,
            "cannot disable the SuccessCriteriaMet=True condition",
        ));
    }
    if is_condition_true(os, "Complete") && !old_scm && scm {
        errs.push(FieldError::invalid_omit(
            &conds,
            "cannot set SuccessCriteriaMet=True for Job already has Complete=true conditions",
        ));
    }
    errs
}

/// `jobStrategy.WarningsOnCreate`: a name that is not a DNS label is legal
/// but becomes part of pod hostnames.
pub fn job_warnings_on_create(job: &Job) -> Vec<String> {
    let name = job.metadata.name.as_deref().unwrap_or_default();
    let msgs = is_dns1123_label(name);
    let mut w = Vec::new();
    if !msgs.is_empty() {
        w.push(format!(
            "metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; a DNS label is recommended: [{}]",
            msgs.join(" ")
        ));
    }
    if let Some(ps) = job.spec.as_ref().and_then(|s| s.template.spec.as_ref()) {
        w.extend(super::pod::pod_spec_warnings(
            ps,
            &FieldPath::new("spec").child("template").child("spec"),
        ));
    }
    w
}
