//! Lightweight views of the objects the controllers read.
//!
//! The store hands every watcher the same decoded object (and its JSON).
//! A view is built from that shared object by copying the few fields the
//! controllers use, so no informer parses a pod again; only objects the
//! store has not decoded (replayed from its log after a restart) are parsed
//! from their JSON, with serde skipping the rest. Both ways give the same
//! view (a test below holds them equal). Writes never go through these
//! views: the controllers edit the stored JSON so fields they do not know
//! survive.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use store::Stored;

use super::interned::{atom, de_atom, de_atoms, Atom, StrMap};

/// A `metav1.Time` as its JSON carries it (whole seconds).
fn time(t: &Option<Time>) -> Option<DateTime<Utc>> {
    t.as_ref()
        .and_then(|t| DateTime::from_timestamp(t.0.as_second(), 0))
}

fn string(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// Reads `null` as the type's default (Go clients send `"labels": null`).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OwnerRef {
    #[serde(default, deserialize_with = "de_atom")]
    pub api_version: Atom,
    #[serde(default, deserialize_with = "de_atom")]
    pub kind: Atom,
    #[serde(default, deserialize_with = "de_atom")]
    pub name: Atom,
    #[serde(default, deserialize_with = "de_atom")]
    pub uid: Atom,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_owner_deletion: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub namespace: String,
    #[serde(default, deserialize_with = "null_default")]
    pub uid: String,
    #[serde(default)]
    pub labels: StrMap,
    #[serde(default)]
    pub annotations: StrMap,
    #[serde(default, deserialize_with = "de_atoms")]
    pub finalizers: Vec<Atom>,
    #[serde(default, deserialize_with = "null_default")]
    pub owner_references: Vec<OwnerRef>,
    #[serde(default)]
    pub creation_timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    pub deletion_timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    pub deletion_grace_period_seconds: Option<i64>,
    #[serde(default)]
    pub generation: Option<i64>,
}

impl Meta {
    /// The view of decoded metadata (what parsing its JSON gives).
    pub fn from_object_meta(m: &ObjectMeta) -> Meta {
        Meta {
            name: string(&m.name),
            namespace: string(&m.namespace),
            uid: string(&m.uid),
            labels: m.labels.as_ref().map(StrMap::from_map).unwrap_or_default(),
            annotations: m
                .annotations
                .as_ref()
                .map(StrMap::from_map)
                .unwrap_or_default(),
            finalizers: m.finalizers.iter().flatten().map(|f| atom(f)).collect(),
            owner_references: m
                .owner_references
                .iter()
                .flatten()
                .map(|r| OwnerRef {
                    api_version: atom(&r.api_version),
                    kind: atom(&r.kind),
                    name: atom(&r.name),
                    uid: atom(&r.uid),
                    controller: r.controller,
                    block_owner_deletion: r.block_owner_deletion,
                })
                .collect(),
            creation_timestamp: time(&m.creation_timestamp),
            deletion_timestamp: time(&m.deletion_timestamp),
            deletion_grace_period_seconds: m.deletion_grace_period_seconds,
            generation: m.generation,
        }
    }

    /// The metadata of a stored object: from the shared decoded object, or
    /// parsed from its JSON when the store holds none.
    pub fn of(stored: &Stored) -> Option<Meta> {
        #[derive(Deserialize)]
        struct MetaOnly {
            #[serde(default, deserialize_with = "null_default")]
            metadata: Meta,
        }
        match &stored.object {
            Some(o) => Some(Meta::from_object_meta(o.meta())),
            None => serde_json::from_slice::<MetaOnly>(&stored.bytes)
                .ok()
                .map(|m| m.metadata),
        }
    }

    /// The ownerReference with `controller: true` (upstream `metav1.GetControllerOf`).
    pub fn controller_ref(&self) -> Option<&OwnerRef> {
        self.owner_references
            .iter()
            .find(|r| r.controller == Some(true))
    }

    pub fn has_finalizer(&self, f: &str) -> bool {
        self.finalizers.iter().any(|x| &**x == f)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSpec {
    #[serde(default, deserialize_with = "de_atom")]
    pub name: Atom,
    #[serde(default)]
    pub restart_policy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default, deserialize_with = "de_atom")]
    pub node_name: Atom,
    #[serde(default, deserialize_with = "null_default")]
    pub init_containers: Vec<ContainerSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCondition {
    #[serde(default, rename = "type", deserialize_with = "de_atom")]
    pub type_: Atom,
    #[serde(default, deserialize_with = "de_atom")]
    pub status: Atom,
    #[serde(default)]
    pub last_transition_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Terminated {
    #[serde(default)]
    pub exit_code: i32,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    #[serde(default)]
    pub terminated: Option<Terminated>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    #[serde(default, deserialize_with = "de_atom")]
    pub name: Atom,
    #[serde(default)]
    pub restart_count: i32,
    #[serde(default, deserialize_with = "null_default")]
    pub state: ContainerState,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(default, deserialize_with = "de_atom")]
    pub phase: Atom,
    #[serde(default, deserialize_with = "null_default")]
    pub conditions: Vec<PodCondition>,
    #[serde(default, deserialize_with = "null_default")]
    pub container_statuses: Vec<ContainerStatus>,
    #[serde(default, deserialize_with = "null_default")]
    pub init_container_statuses: Vec<ContainerStatus>,
}

/// A pod as the controllers see it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Pod {
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "null_default")]
    pub spec: PodSpec,
    #[serde(default, deserialize_with = "null_default")]
    pub status: PodStatus,
    /// Store revision of this version.
    #[serde(skip)]
    pub rev: u64,
}

pub(crate) const PHASE_SUCCEEDED: &str = "Succeeded";
pub(crate) const PHASE_FAILED: &str = "Failed";

impl Pod {
    pub fn parse(bytes: &[u8], rev: u64) -> Option<Pod> {
        let mut p: Pod = serde_json::from_slice(bytes).ok()?;
        p.rev = rev;
        // serde grows a Vec by doubling (JSON gives no length): a pod
        // with five conditions and one owner held room for eight and four.
        // Views of cold pods live as long as the pods (19 MB of slack for
        // 20,000 after a restart, heaptrack).
        p.metadata.finalizers.shrink_to_fit();
        p.metadata.owner_references.shrink_to_fit();
        p.spec.init_containers.shrink_to_fit();
        p.status.conditions.shrink_to_fit();
        p.status.container_statuses.shrink_to_fit();
        p.status.init_container_statuses.shrink_to_fit();
        Some(p)
    }

    /// The view of a stored pod: copied from the shared decoded Pod, or
    /// parsed from the JSON when the store holds no decoded form.
    pub fn of(stored: &Stored) -> Option<Pod> {
        match stored
            .object
            .as_ref()
            .and_then(|o| o.as_any().downcast_ref::<core::Pod>())
        {
            Some(p) => Some(Pod::from_decoded(p, stored.rev)),
            None => Pod::parse(&stored.bytes, stored.rev),
        }
    }

    /// The view of a decoded Pod.
    pub fn from_decoded(p: &core::Pod, rev: u64) -> Pod {
        fn statuses(s: Option<&Vec<core::ContainerStatus>>) -> Vec<ContainerStatus> {
            s.into_iter()
                .flatten()
                .map(|c| ContainerStatus {
                    name: atom(&c.name),
                    restart_count: c.restart_count,
                    state: ContainerState {
                        terminated: c
                            .state
                            .as_ref()
                            .and_then(|s| s.terminated.as_ref())
                            .map(|t| Terminated {
                                exit_code: t.exit_code,
                                finished_at: time(&t.finished_at),
                            }),
                    },
                })
                .collect()
        }
        let spec = p.spec.as_ref();
        let status = p.status.as_ref();
        Pod {
            metadata: Meta::from_object_meta(&p.metadata),
            spec: PodSpec {
                node_name: atom(spec.and_then(|s| s.node_name.as_deref()).unwrap_or("")),
                init_containers: spec
                    .and_then(|s| s.init_containers.as_ref())
                    .into_iter()
                    .flatten()
                    .map(|c| ContainerSpec {
                        name: atom(&c.name),
                        restart_policy: c.restart_policy.clone(),
                    })
                    .collect(),
            },
            status: PodStatus {
                phase: atom(status.and_then(|s| s.phase.as_deref()).unwrap_or("")),
                conditions: status
                    .and_then(|s| s.conditions.as_ref())
                    .into_iter()
                    .flatten()
                    .map(|c| PodCondition {
                        type_: atom(&c.type_),
                        status: atom(&c.status),
                        last_transition_time: time(&c.last_transition_time),
                    })
                    .collect(),
                container_statuses: statuses(status.and_then(|s| s.container_statuses.as_ref())),
                init_container_statuses: statuses(
                    status.and_then(|s| s.init_container_statuses.as_ref()),
                ),
            },
            rev,
        }
    }

    pub fn key(&self) -> String {
        format!("{}/{}", self.metadata.namespace, self.metadata.name)
    }

    pub fn phase(&self) -> &str {
        &self.status.phase
    }

    pub fn is_terminal(&self) -> bool {
        &*self.status.phase == PHASE_SUCCEEDED || &*self.status.phase == PHASE_FAILED
    }

    /// Upstream `controller.IsPodActive`: not terminal and not being deleted.
    pub fn is_active(&self) -> bool {
        !self.is_terminal() && self.metadata.deletion_timestamp.is_none()
    }

    /// Upstream `controller.IsPodTerminating`.
    pub fn is_terminating(&self) -> bool {
        !self.is_terminal() && self.metadata.deletion_timestamp.is_some()
    }

    pub fn condition(&self, t: &str) -> Option<&PodCondition> {
        self.status.conditions.iter().find(|c| &*c.type_ == t)
    }

    /// Upstream `podutil.IsPodReady`.
    pub fn is_ready(&self) -> bool {
        self.condition("Ready")
            .is_some_and(|c| &*c.status == "True")
    }

    /// When the pod became ready (the Ready condition's transition time).
    pub fn ready_time(&self) -> Option<DateTime<Utc>> {
        self.condition("Ready")
            .filter(|c| &*c.status == "True")
            .and_then(|c| c.last_transition_time)
    }

    /// Highest restart count over the containers (upstream `maxContainerRestarts`).
    pub fn max_container_restarts(&self) -> i32 {
        self.status
            .container_statuses
            .iter()
            .map(|c| c.restart_count)
            .max()
            .unwrap_or(0)
            .max(
                self.status
                    .init_container_statuses
                    .iter()
                    .map(|c| c.restart_count)
                    .max()
                    .unwrap_or(0),
            )
    }
}

/// `spec.podFailurePolicy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodFailurePolicy {
    #[serde(default, deserialize_with = "null_default")]
    pub rules: Vec<PodFailurePolicyRule>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodFailurePolicyRule {
    #[serde(default, deserialize_with = "null_default")]
    pub action: String,
    #[serde(default)]
    pub on_exit_codes: Option<OnExitCodes>,
    #[serde(default)]
    pub on_pod_conditions: Option<Vec<OnPodCondition>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnExitCodes {
    #[serde(default)]
    pub container_name: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub operator: String,
    #[serde(default, deserialize_with = "null_default")]
    pub values: Vec<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnPodCondition {
    #[serde(default, rename = "type", deserialize_with = "null_default")]
    pub type_: String,
    #[serde(default)]
    pub status: Option<String>,
}

/// `spec.successPolicy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuccessPolicy {
    #[serde(default, deserialize_with = "null_default")]
    pub rules: Vec<SuccessPolicyRule>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuccessPolicyRule {
    #[serde(default)]
    pub succeeded_indexes: Option<String>,
    #[serde(default)]
    pub succeeded_count: Option<i32>,
}

/// The Job spec fields the controller reads; the pod template stays raw JSON.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    #[serde(default)]
    pub parallelism: Option<i32>,
    #[serde(default)]
    pub completions: Option<i32>,
    #[serde(default)]
    pub active_deadline_seconds: Option<i64>,
    #[serde(default)]
    pub pod_failure_policy: Option<PodFailurePolicy>,
    #[serde(default)]
    pub success_policy: Option<SuccessPolicy>,
    #[serde(default)]
    pub backoff_limit: Option<i32>,
    #[serde(default)]
    pub backoff_limit_per_index: Option<i32>,
    #[serde(default)]
    pub max_failed_indexes: Option<i32>,
    #[serde(default)]
    pub selector: Option<Value>,
    #[serde(default)]
    pub manual_selector: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub template: Value,
    #[serde(default)]
    pub ttl_seconds_after_finished: Option<i32>,
    #[serde(default)]
    pub completion_mode: Option<String>,
    #[serde(default)]
    pub suspend: Option<bool>,
    #[serde(default)]
    pub pod_replacement_policy: Option<String>,
    #[serde(default)]
    pub managed_by: Option<String>,
}

/// `status.conditions[]` of a Job, serialized in upstream field order.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct JobCondition {
    #[serde(rename = "type", default)]
    pub type_: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time_opt")]
    pub last_probe_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time_opt")]
    pub last_transition_time: Option<DateTime<Utc>>,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub reason: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub message: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UncountedTerminatedPods {
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub succeeded: Vec<String>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub failed: Vec<String>,
}

/// `status` of a Job, serialized as upstream's `omitempty` rules do
/// (`active`/`succeeded`/`failed` vanish at 0; `ready`/`terminating` are
/// pointers and stay as 0).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub conditions: Vec<JobCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time_opt")]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time_opt")]
    pub completion_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub active: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub succeeded: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminating: Option<i32>,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub completed_indexes: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_indexes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncounted_terminated_pods: Option<UncountedTerminatedPods>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<i32>,
}

fn is_zero(v: &i32) -> bool {
    *v == 0
}

/// metav1.Time: RFC 3339 with second precision.
pub(crate) mod time_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        t: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::format_time(*t)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        Ok(s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc)))
    }
}

/// Formats a time as Kubernetes does (`2024-01-02T03:04:05Z`).
pub(crate) fn format_time(t: DateTime<Utc>) -> String {
    api::vocabulary::time_string(t)
}

/// Truncates to whole seconds, the precision the API keeps.
pub(crate) fn trunc_secs(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// A Job as the controllers see it, with its raw JSON kept for writes.
#[derive(Debug, Clone)]
pub struct Job {
    pub metadata: Meta,
    pub spec: JobSpec,
    pub status: JobStatus,
    pub rev: u64,
    pub raw: Value,
}

#[derive(Deserialize)]
struct JobView {
    #[serde(default, deserialize_with = "null_default")]
    metadata: Meta,
    #[serde(default, deserialize_with = "null_default")]
    spec: JobSpec,
    #[serde(default, deserialize_with = "null_default")]
    status: JobStatus,
}

impl Job {
    pub fn parse(bytes: &[u8], rev: u64) -> Option<Job> {
        Job::from_raw(serde_json::from_slice(bytes).ok()?, rev)
    }

    /// The view of a stored Job (its JSON, kept as `raw`, comes from the
    /// shared decoded object when the store has one).
    pub fn of(stored: &Stored) -> Option<Job> {
        Job::from_raw(stored.value(), stored.rev)
    }

    fn from_raw(raw: Value, rev: u64) -> Option<Job> {
        let view = JobView::deserialize(&raw).ok()?;
        Some(Job {
            metadata: view.metadata,
            spec: view.spec,
            status: view.status,
            rev,
            raw,
        })
    }

    pub fn key(&self) -> String {
        format!("{}/{}", self.metadata.namespace, self.metadata.name)
    }

    /// The raw object with `status` replaced and `resourceVersion` set for CAS.
    pub fn with_status(&self, status: &JobStatus) -> Value {
        let mut v = self.raw.clone();
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "status".into(),
                serde_json::to_value(status).unwrap_or(Value::Null),
            );
        }
        store::set_resource_version(&mut v, self.rev);
        v
    }

    pub fn find_condition(&self, t: &str) -> Option<&JobCondition> {
        self.status.conditions.iter().find(|c| c.type_ == t)
    }

    fn has_true(&self, t: &str) -> bool {
        self.find_condition(t).is_some_and(|c| c.status == "True")
    }

    /// Upstream `util.IsJobFinished`: `Complete` or `Failed` is True.
    pub fn is_finished(&self) -> bool {
        self.has_true("Complete") || self.has_true("Failed")
    }

    /// The finish condition (type, time) when finished.
    pub fn finish_time(&self) -> Option<DateTime<Utc>> {
        self.status
            .conditions
            .iter()
            .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
            .and_then(|c| c.last_transition_time)
    }

    pub fn suspended(&self) -> bool {
        self.spec.suspend == Some(true)
    }

    pub fn is_indexed(&self) -> bool {
        self.spec.completion_mode.as_deref() == Some("Indexed")
    }

    pub fn completions(&self) -> i32 {
        self.spec.completions.unwrap_or(0)
    }

    /// Parallelism, defaulted as `SetDefaults_Job` does.
    pub fn parallelism(&self) -> i32 {
        self.spec.parallelism.unwrap_or(1)
    }

    /// backoffLimit, defaulted (6, or MaxInt32 with backoffLimitPerIndex).
    pub fn backoff_limit(&self) -> i32 {
        self.spec
            .backoff_limit
            .unwrap_or(if self.spec.backoff_limit_per_index.is_some() {
                i32::MAX
            } else {
                6
            })
    }

    pub fn restart_policy(&self) -> &str {
        self.spec
            .template
            .pointer("/spec/restartPolicy")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Upstream `onlyReplaceFailedPods`: podReplacementPolicy Failed or a
    /// pod failure policy.
    pub fn only_replace_failed_pods(&self) -> bool {
        self.spec.pod_replacement_policy.as_deref() == Some("Failed")
            || self.spec.pod_failure_policy.is_some()
    }

    /// The external manager, when the Job is not ours (upstream
    /// `managedByExternalController`).
    pub fn external_manager(&self) -> Option<&str> {
        self.spec
            .managed_by
            .as_deref()
            .filter(|m| *m != api::vocabulary::JOB_CONTROLLER_NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_status_omits_zero_counters_like_upstream() {
        let s = JobStatus {
            ready: Some(0),
            terminating: Some(0),
            uncounted_terminated_pods: Some(UncountedTerminatedPods::default()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"terminating":0,"uncountedTerminatedPods":{},"ready":0})
        );
    }

    /// The view copied from the store's decoded Pod is the view parsed
    /// from its JSON.
    #[test]
    fn a_pod_view_from_the_decoded_object_equals_the_parsed_one() {
        let v = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "d", "uid": "u", "generation": 2,
                "labels": {"a": "1"}, "annotations": {"b": "2"}, "finalizers": ["f"],
                "creationTimestamp": "2024-01-01T00:00:00Z",
                "deletionTimestamp": "2024-01-01T00:01:00Z", "deletionGracePeriodSeconds": 30,
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "j",
                    "uid": "ju", "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"nodeName": "n", "restartPolicy": "Never",
                "initContainers": [{"name": "i", "image": "x", "restartPolicy": "Always"}],
                "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Failed",
                "conditions": [{"type": "Ready", "status": "False",
                    "lastTransitionTime": "2024-01-01T00:00:05Z"}],
                "containerStatuses": [{"name": "c", "restartCount": 3, "ready": false,
                    "image": "x", "imageID": "",
                    "state": {"terminated": {"exitCode": 42,
                        "finishedAt": "2024-01-01T00:00:04Z"}}}],
                "initContainerStatuses": [{"name": "i", "restartCount": 1, "ready": true,
                    "image": "x", "imageID": "", "state": {"running": {}}}]}
        });
        let typed: core::Pod = serde_json::from_value(v).unwrap();
        let bytes = serde_json::to_vec(&typed).unwrap();
        let parsed = Pod::parse(&bytes, 3).unwrap();
        let copied = Pod::from_decoded(&typed, 3);
        assert_eq!(format!("{copied:?}"), format!("{parsed:?}"));
        assert_eq!(
            copied.status.container_statuses[0]
                .state
                .terminated
                .as_ref()
                .unwrap()
                .exit_code,
            42
        );
        let empty: core::Pod = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(
            format!("{:?}", Pod::from_decoded(&empty, 1)),
            format!(
                "{:?}",
                Pod::parse(&serde_json::to_vec(&empty).unwrap(), 1).unwrap()
            )
        );
    }

    #[test]
    fn pods_parse_with_nulls() {
        let p = Pod::parse(
            br#"{"metadata":{"name":"a","namespace":"d","labels":null,"finalizers":null},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2024-01-01T00:00:00Z"}]}}"#,
            3,
        )
        .unwrap();
        assert!(p.is_ready() && p.is_active());
        assert_eq!(p.key(), "d/a");
        assert_eq!(p.rev, 3);
    }
}
