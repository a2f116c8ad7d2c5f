//! The CronJob as the controller sees it: the spec fields it reads, the
//! status it writes, and the stored JSON kept so a status write leaves
//! every other field as it was.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::kit::objects::{time_opt, Job, Meta};

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CronJobSpec {
    #[serde(default, deserialize_with = "null_default")]
    pub schedule: String,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub starting_deadline_seconds: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    pub concurrency_policy: String,
    #[serde(default)]
    pub suspend: Option<bool>,
    #[serde(default)]
    pub successful_jobs_history_limit: Option<i32>,
    #[serde(default)]
    pub failed_jobs_history_limit: Option<i32>,
    #[serde(default, deserialize_with = "null_default")]
    pub job_template: Value,
}

/// `corev1.ObjectReference` as `ref.GetReference(job)` fills it, in Go's
/// field order.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ObjectRef {
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub kind: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub namespace: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub name: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub uid: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub api_version: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub resource_version: String,
}

impl ObjectRef {
    /// `ref.GetReference(scheme, job)`.
    pub(crate) fn to_job(job: &Job) -> ObjectRef {
        ObjectRef {
            kind: "Job".into(),
            namespace: job.metadata.namespace.clone(),
            name: job.metadata.name.clone(),
            uid: job.metadata.uid.clone(),
            api_version: "batch/v1".into(),
            resource_version: job.rev.to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CronJobStatus {
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub active: Vec<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time_opt")]
    pub last_schedule_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time_opt")]
    pub last_successful_time: Option<DateTime<Utc>>,
}

/// A CronJob with its stored JSON.
#[derive(Debug, Clone)]
pub(crate) struct CronJob {
    pub metadata: Meta,
    pub spec: CronJobSpec,
    pub status: CronJobStatus,
    pub rev: u64,
    pub raw: Value,
}

#[derive(Deserialize)]
struct View {
    #[serde(default, deserialize_with = "null_default")]
    metadata: Meta,
    #[serde(default, deserialize_with = "null_default")]
    spec: CronJobSpec,
    #[serde(default, deserialize_with = "null_default")]
    status: CronJobStatus,
}

impl CronJob {
    pub(crate) fn parse(bytes: &[u8], rev: u64) -> Option<CronJob> {
        let raw: Value = serde_json::from_slice(bytes).ok()?;
        Self::from_value(raw, rev)
    }

    pub(crate) fn from_value(raw: Value, rev: u64) -> Option<CronJob> {
        let v: View = serde_json::from_value(raw.clone()).ok()?;
        Some(CronJob {
            metadata: v.metadata,
            spec: v.spec,
            status: v.status,
            rev,
            raw,
        })
    }

    pub(crate) fn key(&self) -> String {
        format!("{}/{}", self.metadata.namespace, self.metadata.name)
    }

    /// The stored object with this status, `resourceVersion` set for
    /// compare-and-swap (upstream `UpdateStatus` sends the lister's copy).
    pub(crate) fn with_status(&self) -> Value {
        let mut v = self.raw.clone();
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "status".into(),
                serde_json::to_value(&self.status).unwrap_or(Value::Null),
            );
        }
        store::set_resource_version(&mut v, self.rev);
        v
    }

    /// The object recorded as an event's `involvedObject`.
    pub(crate) fn involved(&self) -> Value {
        let mut v = self.raw.clone();
        if let Some(o) = v.as_object_mut() {
            o.insert("kind".into(), "CronJob".into());
            o.insert("apiVersion".into(), "batch/v1".into());
        }
        store::set_resource_version(&mut v, self.rev);
        v
    }

    /// upstream `inActiveList`.
    pub(crate) fn in_active_list(&self, uid: &str) -> bool {
        self.status.active.iter().any(|r| r.uid == uid)
    }

    /// upstream `inActiveListByName`.
    pub(crate) fn in_active_list_by_name(&self, namespace: &str, name: &str) -> bool {
        self.status
            .active
            .iter()
            .any(|r| r.name == name && r.namespace == namespace)
    }

    /// upstream `deleteFromActiveList`.
    pub(crate) fn delete_from_active_list(&mut self, uid: &str) {
        self.status.active.retain(|r| r.uid != uid);
    }
}
