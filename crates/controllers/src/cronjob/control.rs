//! The API calls the CronJob controller makes, behind two small traits as
//! upstream has them (`pkg/controller/cronjob/injection.go`:
//! `jobControlInterface`, `cjControlInterface`), so the sync logic is unit
//! tested with fakes exactly as upstream's `syncCronJob` tests are.
//!
//! The store implementations do what kube-apiserver would do with the
//! request: a created Job is defaulted, given its uid, selector and pod
//! labels (`PrepareForCreate`) and validated; a deleted Job goes with
//! Background propagation, as upstream's `DeleteJob` sends it.

use std::sync::Arc;

use api::cronjob::CRONJOBS;
use api::resources::JOBS;
use futures::future::BoxFuture;
use serde_json::Value;
use store::{DeleteOptions, Propagation, Store};

use super::view::CronJob;
use crate::kit::objects::Job;

/// A failed API call, with the text kube-apiserver's error would have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ControlError {
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409 on create: the name is taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// The namespace is being deleted (`NamespaceTerminatingCause`).
    #[error("{0}")]
    NamespaceTerminating(String),
    /// Anything else (invalid, conflict, storage).
    #[error("{0}")]
    Other(String),
}

fn from_store(e: store::Error, resource: &str, name: &str) -> ControlError {
    match e {
        store::Error::NotFound(_) => ControlError::NotFound(format!("{resource} \"{name}\" not found")),
        store::Error::AlreadyExists(_) => {
            ControlError::AlreadyExists(format!("{resource} \"{name}\" already exists"))
        }
        store::Error::NamespaceTerminating(ns) => ControlError::NamespaceTerminating(format!(
            "{resource} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated"
        )),
        store::Error::NamespaceNotFound(ns) => {
            ControlError::NotFound(format!("namespaces \"{ns}\" not found"))
        }
        other => ControlError::Other(other.to_string()),
    }
}

/// upstream `jobControlInterface`.
pub(crate) trait JobControl: Send + Sync + 'static {
    /// `GetJob`: `Ok(None)` is NotFound.
    fn get_job<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Job>, ControlError>>;
    /// `CreateJob`: returns the Job as created.
    fn create_job<'a>(
        &'a self,
        namespace: &'a str,
        job: Value,
    ) -> BoxFuture<'a, Result<Job, ControlError>>;
    /// `DeleteJob`, Background propagation.
    fn delete_job<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), ControlError>>;
}

/// upstream `cjControlInterface`.
pub(crate) trait CronJobControl: Send + Sync + 'static {
    /// `GetCronJob`, a live read.
    fn get_cronjob<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<CronJob, ControlError>>;
    /// `UpdateStatus`, compare-and-swap on the CronJob's resourceVersion.
    fn update_status<'a>(&'a self, cj: &'a CronJob) -> BoxFuture<'a, Result<(), ControlError>>;
}

/// Both controls over the store.
#[derive(Clone)]
pub(crate) struct StoreControl {
    pub store: Store,
}

impl StoreControl {
    pub(crate) fn new(store: Store) -> Arc<StoreControl> {
        Arc::new(StoreControl { store })
    }
}

/// What kube-apiserver does to a Job on create: defaults, a fresh uid,
/// `PrepareForCreate` (selector and pod labels), validation.
fn admit_job(job: Value) -> Result<Value, ControlError> {
    let mut typed: k8s_openapi::api::batch::v1::Job =
        serde_json::from_value(job).map_err(|e| ControlError::Other(e.to_string()))?;
    api::defaults::default_job(&mut typed);
    let uid = uuid::Uuid::new_v4().to_string();
    api::defaults::prepare_job_for_create(&mut typed, &uid);
    api::defaults::default_job(&mut typed);
    let errs = api::validation::validate_job_create(&typed);
    if !errs.is_empty() {
        let name = typed.metadata.name.clone().unwrap_or_default();
        return Err(ControlError::Other(format!(
            "Job.batch \"{name}\" is invalid: {}",
            api::validation::aggregate_message(&errs)
        )));
    }
    let mut v = serde_json::to_value(&typed).map_err(|e| ControlError::Other(e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("apiVersion".into(), "batch/v1".into());
        o.insert("kind".into(), "Job".into());
    }
    Ok(v)
}

impl JobControl for StoreControl {
    fn get_job<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Job>, ControlError>> {
        Box::pin(async move {
            match self.store.get(&JOBS, namespace, name) {
                Ok(s) => Ok(Job::of(&s)),
                Err(store::Error::NotFound(_)) => Ok(None),
                Err(e) => Err(from_store(e, "jobs.batch", name)),
            }
        })
    }

    fn create_job<'a>(
        &'a self,
        namespace: &'a str,
        mut job: Value,
    ) -> BoxFuture<'a, Result<Job, ControlError>> {
        Box::pin(async move {
            job["metadata"]["namespace"] = namespace.into();
            let name = job["metadata"]["name"].as_str().unwrap_or("").to_string();
            let v = admit_job(job)?;
            let s = self
                .store
                .create(&JOBS, v)
                .await
                .map_err(|e| from_store(e, "jobs.batch", &name))?;
            Job::of(&s).ok_or_else(|| ControlError::Other("created job did not decode".into()))
        })
    }

    fn delete_job<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), ControlError>> {
        Box::pin(async move {
            let opts = DeleteOptions {
                propagation: Some(Propagation::Background),
                ..Default::default()
            };
            self.store
                .delete(&JOBS, namespace, name, opts)
                .await
                .map(|_| ())
                .map_err(|e| from_store(e, "jobs.batch", name))
        })
    }
}

impl CronJobControl for StoreControl {
    fn get_cronjob<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<CronJob, ControlError>> {
        Box::pin(async move {
            let s = self
                .store
                .get(&CRONJOBS, namespace, name)
                .map_err(|e| from_store(e, "cronjobs.batch", name))?;
            CronJob::parse(&s.bytes, s.rev)
                .ok_or_else(|| ControlError::Other("stored cronjob did not decode".into()))
        })
    }

    fn update_status<'a>(&'a self, cj: &'a CronJob) -> BoxFuture<'a, Result<(), ControlError>> {
        Box::pin(async move {
            let name = cj.metadata.name.clone();
            match self.store.update_status(&CRONJOBS, cj.with_status()).await {
                Ok(_) => Ok(()),
                Err(store::Error::Conflict(_)) => Err(ControlError::Other(format!(
                    "Operation cannot be fulfilled on cronjobs.batch \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                ))),
                Err(e) => Err(from_store(e, "cronjobs.batch", &name)),
            }
        })
    }
}
