//! Defaulting and the registry's `PrepareFor*` steps for Jobs and Pods.
//!
//! Real clients read back what kube-apiserver fills in (`kubectl get -o
//! yaml`, `describe`, the Python models), so joblite applies the same
//! defaults in the same order: defaulting on decode, then the strategy's
//! `PrepareForCreate`/`PrepareForUpdate`, then validation.
//!
//! Upstream sources: `pkg/apis/batch/v1/defaults.go` (`SetDefaults_Job`),
//! `pkg/apis/core/v1/defaults.go` (`SetDefaults_Pod`, `SetDefaults_PodSpec`,
//! `SetDefaults_Container`, ...), `pkg/registry/batch/job/strategy.go`,
//! `pkg/registry/core/pod/strategy.go`, `pkg/apis/core/helper/qos/qos.go`, and
//! the admission plugins `ServiceAccount`, `Priority` and
//! `DefaultTolerationSeconds` (`plugin/pkg/admission/...`).
//!
//! Admission choices (pods only, on create): `serviceAccountName` and the
//! deprecated `serviceAccount` become `default` so `describe` reads as on a
//! cluster, but no token volume is mounted because joblite has no service
//! accounts; `priority: 0` and `preemptionPolicy: PreemptLowerPriority` are
//! set when no priority class is named (there is no global default class);
//! the two `NoExecute` tolerations for `node.kubernetes.io/not-ready` and
//! `unreachable` (300 s) are added unless the pod already tolerates them.

use crate::quantity::parse_quantity;
use crate::vocabulary::{
    CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
};
use k8s_openapi::api::batch::v1::{Job, JobSpec, JobStatus};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, LifecycleHandler, Pod, PodCondition, PodSecurityContext,
    PodSpec, PodStatus, Probe, Toleration, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use std::collections::BTreeMap;

/// `v1.DefaultTerminationGracePeriodSeconds`.
pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
/// `v1.DefaultSchedulerName`.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
/// `v1.TerminationMessagePathDefault`.
pub const TERMINATION_MESSAGE_PATH_DEFAULT: &str = "/dev/termination-log";
/// `DefaultTolerationSeconds` admission: seconds a pod tolerates a not-ready
/// or unreachable node.
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;
/// Mode for secret/configMap/downwardAPI/projected volumes (0644).
const DEFAULT_VOLUME_MODE: i32 = 0o644;

fn set_if_none<T>(slot: &mut Option<T>, v: T) {
    if slot.is_none() {
        *slot = Some(v);
    }
}

fn set_if_empty(slot: &mut Option<String>, v: &str) {
    if slot.as_deref().unwrap_or_default().is_empty() {
        *slot = Some(v.to_string());
    }
}

/// `SetDefaults_Job` plus the defaults of the embedded pod template.
pub fn default_job(job: &mut Job) {
    let spec = job.spec.get_or_insert_with(JobSpec::default);
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
        spec.parallelism = Some(1);
    }
    set_if_none(&mut spec.parallelism, 1);
    if spec.backoff_limit.is_none() {
        spec.backoff_limit = Some(if spec.backoff_limit_per_index.is_some() {
            i32::MAX
        } else {
            6
        });
    }
    copy_template_labels_if_unlabelled(&mut job.metadata, spec);
    set_if_none(&mut spec.completion_mode, "NonIndexed".to_string());
    set_if_none(&mut spec.suspend, false);
    if spec.pod_replacement_policy.is_none() {
        let p = if spec.pod_failure_policy.is_some() {
            "Failed"
        } else {
            "TerminatingOrFailed"
        };
        spec.pod_replacement_policy = Some(p.to_string());
    }
    set_if_none(&mut spec.manual_selector, false);
    // SetDefaults_PodFailurePolicyOnPodConditionsPattern.
    if let Some(pfp) = spec.pod_failure_policy.as_mut() {
        for rule in &mut pfp.rules {
            for pat in rule.on_pod_conditions.iter_mut().flatten() {
                if pat.status.is_empty() {
                    pat.status = "True".to_string();
                }
            }
        }
    }
    default_pod_spec(spec.template.spec.get_or_insert_with(PodSpec::default));
}

/// A Job without labels takes its template's labels.
fn copy_template_labels_if_unlabelled(meta: &mut ObjectMeta, spec: &JobSpec) {
    let template_labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref());
    if let Some(labels) = template_labels {
        if meta.labels.as_ref().is_none_or(BTreeMap::is_empty) {
            meta.labels = Some(labels.clone());
        }
    }
}

/// `SetDefaults_PodSpec` and the per-field defaulters reachable from a pod
/// spec (containers, ports, env, probes, volumes). Shared by Pods and Job
/// templates.
pub fn default_pod_spec(spec: &mut PodSpec) {
    set_if_empty(&mut spec.dns_policy, "ClusterFirst");
    set_if_empty(&mut spec.restart_policy, "Always");
    if spec.host_network == Some(true) {
        for c in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            for p in c.ports.iter_mut().flatten() {
                if p.host_port.unwrap_or(0) == 0 {
                    p.host_port = Some(p.container_port);
                }
            }
        }
    }
    set_if_none(&mut spec.security_context, PodSecurityContext::default());
    set_if_none(
        &mut spec.termination_grace_period_seconds,
        DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
    );
    set_if_empty(&mut spec.scheduler_name, DEFAULT_SCHEDULER_NAME);
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        default_container(c);
    }
    for v in spec.volumes.iter_mut().flatten() {
        default_volume(v);
    }
}

/// `SetDefaults_Container` and the defaults of its ports, env and probes.
fn default_container(c: &mut Container) {
    if c.image_pull_policy
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        let policy =
            if image_tag(c.image.as_deref().unwrap_or_default()).as_deref() == Some("latest") {
                "Always"
            } else {
                "IfNotPresent"
            };
        c.image_pull_policy = Some(policy.to_string());
    }
    set_if_empty(
        &mut c.termination_message_path,
        TERMINATION_MESSAGE_PATH_DEFAULT,
    );
    set_if_empty(&mut c.termination_message_policy, "File");
    for p in c.ports.iter_mut().flatten() {
        set_if_empty(&mut p.protocol, "TCP");
    }
    if let Some(r) = c.resources.as_mut() {
        for list in [r.limits.as_mut(), r.requests.as_mut()]
            .into_iter()
            .flatten()
        {
            for q in list.values_mut() {
                canonicalize_quantity(q);
            }
        }
    }
    for e in c.env.iter_mut().flatten() {
        if let Some(fr) = e.value_from.as_mut().and_then(|vf| vf.field_ref.as_mut()) {
            set_if_empty(&mut fr.api_version, "v1");
        }
    }
    for probe in [
        &mut c.liveness_probe,
        &mut c.readiness_probe,
        &mut c.startup_probe,
    ]
    .into_iter()
    .flatten()
    {
        default_probe(probe);
    }
    if let Some(lc) = c.lifecycle.as_mut() {
        for h in [&mut lc.post_start, &mut lc.pre_stop].into_iter().flatten() {
            default_handler(h);
        }
    }
}

/// `SetDefaults_ResourceList` rounds values up to milli precision, and
/// upstream always serialises a quantity in canonical form (`0.5` reads back
/// as `500m`, `1024Mi` as `1Gi`). Unparsable strings are left for validation
/// to report.
fn canonicalize_quantity(q: &mut Quantity) {
    if let Ok(mut p) = parse_quantity(&q.0) {
        const MILLI: i128 = 1_000_000;
        let rem = p.nanos.rem_euclid(MILLI);
        if rem != 0 {
            p.nanos += MILLI - rem;
        }
        q.0 = p.canonical();
    }
}

/// `SetDefaults_Probe` and `SetDefaults_HTTPGetAction`.
fn default_probe(p: &mut Probe) {
    set_if_none(&mut p.timeout_seconds, 1);
    set_if_none(&mut p.period_seconds, 10);
    set_if_none(&mut p.success_threshold, 1);
    set_if_none(&mut p.failure_threshold, 3);
    if let Some(h) = p.http_get.as_mut() {
        set_if_empty(&mut h.path, "/");
        set_if_empty(&mut h.scheme, "HTTP");
    }
}

fn default_handler(h: &mut LifecycleHandler) {
    if let Some(g) = h.http_get.as_mut() {
        set_if_empty(&mut g.path, "/");
        set_if_empty(&mut g.scheme, "HTTP");
    }
}

/// `SetDefaults_Volume` (no source means `emptyDir: {}`) and the default
/// file modes of the projected-file volume types.
fn default_volume(v: &mut Volume) {
    let has_source = match serde_json::to_value(&*v) {
        Ok(serde_json::Value::Object(m)) => m.keys().any(|k| k != "name"),
        _ => true,
    };
    if !has_source {
        v.empty_dir = Some(EmptyDirVolumeSource::default());
    }
    if let Some(s) = v.secret.as_mut() {
        set_if_none(&mut s.default_mode, DEFAULT_VOLUME_MODE);
    }
    if let Some(s) = v.config_map.as_mut() {
        set_if_none(&mut s.default_mode, DEFAULT_VOLUME_MODE);
    }
    if let Some(s) = v.downward_api.as_mut() {
        set_if_none(&mut s.default_mode, DEFAULT_VOLUME_MODE);
        for item in s.items.iter_mut().flatten() {
            if let Some(fr) = item.field_ref.as_mut() {
                set_if_empty(&mut fr.api_version, "v1");
            }
        }
    }
    if let Some(s) = v.projected.as_mut() {
        set_if_none(&mut s.default_mode, DEFAULT_VOLUME_MODE);
    }
    if let Some(h) = v.host_path.as_mut() {
        set_if_none(&mut h.type_, String::new());
    }
}

/// The tag `parsers.ParseImageName` would report: untagged, undigested
/// references are `latest`; a digest without a tag has no tag.
pub fn image_tag(image: &str) -> Option<String> {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, tag)) => Some(tag.to_string()),
        None if digest.is_some() => None,
        None => Some("latest".to_string()),
    }
}

/// `SetDefaults_Pod` (requests default to limits; `enableServiceLinks: true`)
/// plus the pod-spec defaults.
pub fn default_pod(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(PodSpec::default);
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        if let Some(r) = c.resources.as_mut() {
            if let Some(limits) = r.limits.clone() {
                let requests = r.requests.get_or_insert_with(BTreeMap::new);
                for (k, v) in limits {
                    requests.entry(k).or_insert(v);
                }
            }
        }
    }
    set_if_none(&mut spec.enable_service_links, true);
    default_pod_spec(spec);
}

/// What the ServiceAccount, Priority and DefaultTolerationSeconds admission
/// plugins add to a pod on create (see the module docs for the choices).
pub fn admit_pod_for_create(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(PodSpec::default);
    set_if_empty(&mut spec.service_account_name, "default");
    spec.service_account = spec.service_account_name.clone();
    if spec
        .priority_class_name
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        set_if_none(&mut spec.priority, 0);
        set_if_empty(&mut spec.preemption_policy, "PreemptLowerPriority");
    }
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
        if !tolerations.iter().any(|t| tolerates_no_execute(t, key)) {
            tolerations.push(Toleration {
                key: Some(key.to_string()),
                operator: Some("Exists".to_string()),
                effect: Some("NoExecute".to_string()),
                toleration_seconds: Some(DEFAULT_TOLERATION_SECONDS),
                value: None,
            });
        }
    }
}

/// `Toleration.ToleratesTaint` for a `NoExecute` taint with an empty value.
fn tolerates_no_execute(t: &Toleration, key: &str) -> bool {
    let effect_ok = matches!(t.effect.as_deref(), None | Some("") | Some("NoExecute"));
    let key_str = t.key.as_deref().unwrap_or_default();
    let op = t.operator.as_deref().unwrap_or_default();
    let key_ok = key_str == key || (key_str.is_empty() && op == "Exists");
    let value_ok = op == "Exists" || t.value.as_deref().unwrap_or_default().is_empty();
    effect_ok && key_ok && value_ok
}

/// `qos.GetPodQOS`: Guaranteed when every container limits cpu and memory
/// and requests equal limits; BestEffort when nothing is requested or
/// limited; Burstable otherwise. Only cpu and memory count.
pub fn pod_qos_class(spec: &PodSpec) -> &'static str {
    let mut requests: BTreeMap<&str, i128> = BTreeMap::new();
    let mut limits: BTreeMap<&str, i128> = BTreeMap::new();
    let mut guaranteed = true;
    for c in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        let r = c.resources.as_ref();
        for (name, q) in r.and_then(|r| r.requests.as_ref()).into_iter().flatten() {
            if let Some(n) = qos_amount(name, &q.0) {
                *requests.entry(qos_name(name)).or_default() += n;
            }
        }
        let mut found = (false, false);
        for (name, q) in r.and_then(|r| r.limits.as_ref()).into_iter().flatten() {
            if let Some(n) = qos_amount(name, &q.0) {
                *limits.entry(qos_name(name)).or_default() += n;
                if name == "cpu" {
                    found.0 = true;
                } else {
                    found.1 = true;
                }
            }
        }
        if !(found.0 && found.1) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests.iter().all(|(k, v)| limits.get(k) == Some(v))
        && requests.len() == limits.len()
    {
        return "Guaranteed";
    }
    "Burstable"
}

fn qos_name(name: &str) -> &'static str {
    if name == "cpu" {
        "cpu"
    } else {
        "memory"
    }
}

/// A positive cpu/memory amount in nano-units; other resources are ignored.
fn qos_amount(name: &str, raw: &str) -> Option<i128> {
    if name != "cpu" && name != "memory" {
        return None;
    }
    parse_quantity(raw).ok().map(|q| q.nanos).filter(|n| *n > 0)
}

/// `jobStrategy.PrepareForCreate`: clear status and, unless
/// `manualSelector` is true, generate the selector and the four pod labels.
/// `uid` is the UID the server has just assigned; `metadata.generation` is
/// left to the store.
///
/// Upstream defaults objects again whenever it reads them back from storage,
/// so an unlabelled Job is returned with its (now generated) template labels.
/// Call [`default_job`] once more on the validated object before persisting
/// it to get the same result; it is idempotent.
pub fn prepare_job_for_create(job: &mut Job, uid: &str) {
    job.metadata.uid = Some(uid.to_string());
    job.status = Some(JobStatus::default());
    let name = job.metadata.name.clone().unwrap_or_default();
    let spec = job.spec.get_or_insert_with(JobSpec::default);
    if spec.manual_selector != Some(true) {
        let tmeta = spec
            .template
            .metadata
            .get_or_insert_with(ObjectMeta::default);
        let labels = tmeta.labels.get_or_insert_with(BTreeMap::new);
        // Existing labels are kept; a conflicting value fails validation.
        for key in [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL] {
            labels
                .entry(key.to_string())
                .or_insert_with(|| name.clone());
        }
        for key in [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL] {
            labels
                .entry(key.to_string())
                .or_insert_with(|| uid.to_string());
        }
        let selector = spec.selector.get_or_insert_with(LabelSelector::default);
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .entry(CONTROLLER_UID_LABEL.to_string())
            .or_insert_with(|| uid.to_string());
    }
}

pub use crate::validation::prepare_meta_for_update;

/// `jobStrategy.PrepareForUpdate`: a main-resource update cannot change status.
pub fn prepare_job_for_update(new: &mut Job, old: &Job) {
    prepare_meta_for_update(&mut new.metadata, &old.metadata);
    new.status = old.status.clone();
}

/// `jobStatusStrategy.PrepareForUpdate`: a `/status` write cannot change spec
/// (metadata changes are kept, as upstream keeps them).
pub fn prepare_job_status_update(new: &mut Job, old: &Job) {
    prepare_meta_for_update(&mut new.metadata, &old.metadata);
    new.spec = old.spec.clone();
}

/// `podStrategy.PrepareForCreate`: status is reset to `Pending` with the
/// computed QoS class, and a pod with scheduling gates gets the
/// `PodScheduled=False/SchedulingGated` condition.
pub fn prepare_pod_for_create(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(PodSpec::default);
    let mut status = PodStatus {
        phase: Some("Pending".to_string()),
        qos_class: Some(pod_qos_class(spec).to_string()),
        ..Default::default()
    };
    if spec
        .scheduling_gates
        .as_ref()
        .is_some_and(|g| !g.is_empty())
    {
        status.conditions = Some(vec![PodCondition {
            type_: "PodScheduled".to_string(),
            status: "False".to_string(),
            reason: Some("SchedulingGated".to_string()),
            message: Some("Scheduling is blocked due to non-empty scheduling gates".to_string()),
            ..Default::default()
        }]);
    }
    pod.status = Some(status);
}

/// `podStrategy.PrepareForUpdate`: a main-resource update cannot change status.
pub fn prepare_pod_for_update(new: &mut Pod, old: &Pod) {
    prepare_meta_for_update(&mut new.metadata, &old.metadata);
    new.status = old.status.clone();
}

/// `podStatusStrategy.PrepareForUpdate`: a `/status` write cannot change spec,
/// owner references or the deletion timestamp.
pub fn prepare_pod_status_update(new: &mut Pod, old: &Pod) {
    prepare_meta_for_update(&mut new.metadata, &old.metadata);
    new.spec = old.spec.clone();
    new.metadata.owner_references = old.metadata.owner_references.clone();
    new.metadata.deletion_timestamp = old.metadata.deletion_timestamp.clone();
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{
        PodFailurePolicy, PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule,
    };
    use k8s_openapi::api::core::v1::{
        ContainerPort, EnvVar, EnvVarSource, ObjectFieldSelector, PodTemplateSpec,
        ResourceRequirements, SecretVolumeSource,
    };
    use serde_json::json;

    fn job_with(spec: JobSpec) -> Job {
        Job {
            metadata: ObjectMeta {
                name: Some("pi".into()),
                ..Default::default()
            },
            spec: Some(spec),
            status: None,
        }
    }

    fn template() -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some("busybox".into()),
                    ..Default::default()
                }],
                restart_policy: Some("Never".into()),
                ..Default::default()
            }),
        }
    }

    /// `pkg/apis/batch/v1/defaults_test.go` style: (input spec fields, expected spec fields).
    #[test]
    fn set_defaults_job() {
        let cases: Vec<(&str, JobSpec, serde_json::Value)> = vec![
            (
                "both unset: 1/1",
                JobSpec {
                    template: template(),
                    ..Default::default()
                },
                json!({"completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
                       "suspend": false, "manualSelector": false, "podReplacementPolicy": "TerminatingOrFailed"}),
            ),
            (
                "parallelism given: completions stays nil",
                JobSpec {
                    parallelism: Some(3),
                    template: template(),
                    ..Default::default()
                },
                json!({"completions": null, "parallelism": 3}),
            ),
            (
                "completions given: parallelism 1",
                JobSpec {
                    completions: Some(5),
                    template: template(),
                    ..Default::default()
                },
                json!({"completions": 5, "parallelism": 1}),
            ),
            (
                "backoffLimitPerIndex: backoffLimit MaxInt32",
                JobSpec {
                    backoff_limit_per_index: Some(1),
                    template: template(),
                    ..Default::default()
                },
                json!({"backoffLimit": 2147483647}),
            ),
            (
                "podFailurePolicy: replacement Failed, condition status True",
                JobSpec {
                    template: template(),
                    pod_failure_policy: Some(PodFailurePolicy {
                        rules: vec![PodFailurePolicyRule {
                            action: "Ignore".into(),
                            on_exit_codes: None,
                            on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                                type_: "DisruptionTarget".into(),
                                status: String::new(),
                            }]),
                        }],
                    }),
                    ..Default::default()
                },
                json!({"podReplacementPolicy": "Failed",
                       "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}}),
            ),
            (
                "explicit values are kept",
                JobSpec {
                    template: template(),
                    backoff_limit: Some(0),
                    suspend: Some(true),
                    manual_selector: Some(true),
                    completion_mode: Some("Indexed".into()),
                    completions: Some(2),
                    ..Default::default()
                },
                json!({"backoffLimit": 0, "suspend": true, "manualSelector": true, "completionMode": "Indexed"}),
            ),
        ];
        for (name, spec, want) in cases {
            let mut job = job_with(spec);
            default_job(&mut job);
            let got = serde_json::to_value(job.spec.as_ref().unwrap()).unwrap();
            for (k, v) in want.as_object().unwrap() {
                assert_eq!(
                    got.get(k).unwrap_or(&serde_json::Value::Null),
                    v,
                    "case {name}: field {k}"
                );
            }
        }
    }

    #[test]
    fn template_pod_spec_defaults_match_kubectl_output() {
        let mut job = job_with(JobSpec {
            template: template(),
            ..Default::default()
        });
        default_job(&mut job);
        let got = serde_json::to_value(job.spec.unwrap().template.spec.unwrap()).unwrap();
        assert_eq!(
            got,
            json!({
                "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "Always",
                                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Never", "schedulerName": "default-scheduler",
                "securityContext": {}, "terminationGracePeriodSeconds": 30
            })
        );
    }

    #[test]
    fn job_labels_follow_template_labels() {
        // Labels from the template when the Job has none.
        let mut t = template();
        t.metadata = Some(ObjectMeta {
            labels: Some(BTreeMap::from([("app".into(), "x".into())])),
            ..Default::default()
        });
        let mut job = job_with(JobSpec {
            template: t.clone(),
            ..Default::default()
        });
        default_job(&mut job);
        assert_eq!(
            job.metadata.labels,
            Some(BTreeMap::from([("app".into(), "x".into())]))
        );
        // A Job with labels keeps its own.
        let mut job = job_with(JobSpec {
            template: t,
            ..Default::default()
        });
        job.metadata.labels = Some(BTreeMap::from([("own".into(), "1".into())]));
        default_job(&mut job);
        assert_eq!(
            job.metadata.labels,
            Some(BTreeMap::from([("own".into(), "1".into())]))
        );
    }

    #[test]
    fn image_pull_policy_from_tag() {
        let cases = [
            ("busybox", "Always"),
            ("busybox:latest", "Always"),
            ("busybox:1.36", "IfNotPresent"),
            ("localhost:5000/busybox", "Always"),
            ("localhost:5000/busybox:1", "IfNotPresent"),
            ("busybox@sha256:abcd", "IfNotPresent"),
            ("busybox:latest@sha256:abcd", "Always"),
        ];
        for (image, want) in cases {
            let mut c = Container {
                name: "c".into(),
                image: Some(image.into()),
                ..Default::default()
            };
            default_container(&mut c);
            assert_eq!(c.image_pull_policy.as_deref(), Some(want), "{image}");
        }
    }

    #[test]
    fn pod_defaults_and_admission() {
        let mut pod = Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some("busybox:1.36".into()),
                    ports: Some(vec![ContainerPort {
                        container_port: 80,
                        ..Default::default()
                    }]),
                    env: Some(vec![EnvVar {
                        name: "POD".into(),
                        value: None,
                        value_from: Some(EnvVarSource {
                            field_ref: Some(ObjectFieldSelector {
                                api_version: None,
                                field_path: "metadata.name".into(),
                            }),
                            ..Default::default()
                        }),
                    }]),
                    resources: Some(ResourceRequirements {
                        limits: Some(BTreeMap::from([("cpu".into(), Quantity("1".into()))])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                volumes: Some(vec![
                    Volume {
                        name: "scratch".into(),
                        ..Default::default()
                    },
                    Volume {
                        name: "s".into(),
                        secret: Some(SecretVolumeSource::default()),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }),
            status: None,
        };
        default_pod(&mut pod);
        admit_pod_for_create(&mut pod);
        prepare_pod_for_create(&mut pod);
        let spec = serde_json::to_value(pod.spec.as_ref().unwrap()).unwrap();
        assert_eq!(spec["enableServiceLinks"], json!(true));
        assert_eq!(spec["restartPolicy"], json!("Always"));
        assert_eq!(spec["containers"][0]["ports"][0]["protocol"], json!("TCP"));
        assert_eq!(
            spec["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["apiVersion"],
            json!("v1")
        );
        assert_eq!(
            spec["containers"][0]["resources"]["requests"],
            json!({"cpu": "1"})
        );
        assert_eq!(spec["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(spec["volumes"][1]["secret"]["defaultMode"], json!(420));
        assert_eq!(spec["serviceAccountName"], json!("default"));
        assert_eq!(spec["serviceAccount"], json!("default"));
        assert_eq!(spec["priority"], json!(0));
        assert_eq!(spec["preemptionPolicy"], json!("PreemptLowerPriority"));
        assert_eq!(
            spec["tolerations"],
            json!([
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ])
        );
        assert!(
            spec.get("volumes").unwrap().as_array().unwrap().len() == 2,
            "no token volume is added"
        );
        let status = serde_json::to_value(pod.status.as_ref().unwrap()).unwrap();
        assert_eq!(status, json!({"phase": "Pending", "qosClass": "Burstable"}));
    }

    #[test]
    fn admission_keeps_existing_tolerations() {
        let mut pod = Pod {
            spec: Some(PodSpec {
                tolerations: Some(vec![Toleration {
                    operator: Some("Exists".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        admit_pod_for_create(&mut pod);
        assert_eq!(
            pod.spec.unwrap().tolerations.unwrap().len(),
            1,
            "a wildcard toleration already covers both taints"
        );
    }

    #[test]
    fn qos_classes() {
        let res = |req: &[(&str, &str)], lim: &[(&str, &str)]| {
            let m = |p: &[(&str, &str)]| {
                (!p.is_empty()).then(|| {
                    p.iter()
                        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                        .collect()
                })
            };
            Some(ResourceRequirements {
                requests: m(req),
                limits: m(lim),
                ..Default::default()
            })
        };
        let cases: Vec<(&str, Vec<Option<ResourceRequirements>>, &str)> = vec![
            ("nothing", vec![None], "BestEffort"),
            (
                "zero requests count as none",
                vec![res(&[("cpu", "0")], &[])],
                "BestEffort",
            ),
            (
                "requests only",
                vec![res(&[("cpu", "100m")], &[])],
                "Burstable",
            ),
            (
                "equal cpu+memory",
                vec![res(
                    &[("cpu", "1"), ("memory", "1Gi")],
                    &[("cpu", "1000m"), ("memory", "1024Mi")],
                )],
                "Guaranteed",
            ),
            (
                "limits only cpu",
                vec![res(&[("cpu", "1")], &[("cpu", "1")])],
                "Burstable",
            ),
            (
                "one container without limits",
                vec![
                    res(
                        &[("cpu", "1"), ("memory", "1Gi")],
                        &[("cpu", "1"), ("memory", "1Gi")],
                    ),
                    None,
                ],
                "Burstable",
            ),
            (
                "requests below limits",
                vec![res(
                    &[("cpu", "1"), ("memory", "1Gi")],
                    &[("cpu", "2"), ("memory", "1Gi")],
                )],
                "Burstable",
            ),
            (
                "other resources ignored",
                vec![res(&[("ephemeral-storage", "1Gi")], &[])],
                "BestEffort",
            ),
        ];
        for (name, resources, want) in cases {
            let containers = resources
                .into_iter()
                .enumerate()
                .map(|(i, r)| Container {
                    name: format!("c{i}"),
                    resources: r,
                    ..Default::default()
                })
                .collect();
            let spec = PodSpec {
                containers,
                ..Default::default()
            };
            assert_eq!(pod_qos_class(&spec), want, "{name}");
        }
    }

    #[test]
    fn prepare_job_for_create_generates_selector_and_labels() {
        let mut job = job_with(JobSpec {
            template: template(),
            ..Default::default()
        });
        job.status = Some(JobStatus {
            active: Some(3),
            ..Default::default()
        });
        default_job(&mut job);
        prepare_job_for_create(&mut job, "u-1");
        assert_eq!(job.status, Some(JobStatus::default()));
        let spec = job.spec.as_ref().unwrap();
        assert_eq!(
            serde_json::to_value(&spec.selector).unwrap(),
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        let want: BTreeMap<String, String> = [
            ("batch.kubernetes.io/controller-uid", "u-1"),
            ("batch.kubernetes.io/job-name", "pi"),
            ("controller-uid", "u-1"),
            ("job-name", "pi"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            spec.template.metadata.as_ref().unwrap().labels.as_ref(),
            Some(&want)
        );
        // Defaulting again (as on a read from storage) labels the Job.
        default_job(&mut job);
        assert_eq!(job.metadata.labels.as_ref(), Some(&want));

        // manualSelector: nothing generated.
        let mut manual = job_with(JobSpec {
            template: template(),
            manual_selector: Some(true),
            ..Default::default()
        });
        default_job(&mut manual);
        prepare_job_for_create(&mut manual, "u-2");
        assert!(manual.spec.as_ref().unwrap().selector.is_none());
        assert!(manual.spec.as_ref().unwrap().template.metadata.is_none());
    }

    #[test]
    fn prepare_updates_reset_the_other_half() {
        let mut old = job_with(JobSpec {
            template: template(),
            ..Default::default()
        });
        old.status = Some(JobStatus {
            active: Some(1),
            ..Default::default()
        });
        let mut new = old.clone();
        new.status = Some(JobStatus {
            active: Some(5),
            ..Default::default()
        });
        new.spec.as_mut().unwrap().parallelism = Some(4);
        let mut main = new.clone();
        prepare_job_for_update(&mut main, &old);
        assert_eq!(main.status, old.status);
        assert_eq!(main.spec.as_ref().unwrap().parallelism, Some(4));
        let mut status = new.clone();
        prepare_job_status_update(&mut status, &old);
        assert_eq!(status.spec, old.spec);
        assert_eq!(status.status.as_ref().unwrap().active, Some(5));

        let old_pod = Pod {
            status: Some(PodStatus {
                phase: Some("Running".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut new_pod = Pod {
            status: Some(PodStatus {
                phase: Some("Failed".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        prepare_pod_for_update(&mut new_pod, &old_pod);
        assert_eq!(new_pod.status, old_pod.status);
    }

    #[test]
    fn scheduling_gated_pod_gets_condition() {
        let mut pod = Pod {
            spec: Some(PodSpec {
                scheduling_gates: Some(vec![k8s_openapi::api::core::v1::PodSchedulingGate {
                    name: "g".into(),
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        prepare_pod_for_create(&mut pod);
        let c = &pod.status.unwrap().conditions.unwrap()[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_deref()),
            ("PodScheduled", "False", Some("SchedulingGated"))
        );
    }

    #[test]
    fn resource_quantities_are_canonicalized() {
        let cases = [
            ("0.5", "500m"),
            ("1024Mi", "1Gi"),
            ("1000m", "1"),
            ("100n", "1m"),
            ("1.5Gi", "1536Mi"),
            ("lots", "lots"),
            ("2", "2"),
        ];
        for (input, want) in cases {
            let mut c = Container {
                resources: Some(ResourceRequirements {
                    limits: Some(BTreeMap::from([(
                        "cpu".to_string(),
                        Quantity(input.to_string()),
                    )])),
                    ..Default::default()
                }),
                ..Default::default()
            };
            default_container(&mut c);
            assert_eq!(
                c.resources.unwrap().limits.unwrap()["cpu"].0,
                want,
                "{input}"
            );
        }
    }
}
