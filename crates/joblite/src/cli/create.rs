//! `joblite create -f`: POST each object; an existing one is an error, as
//! with kubectl (`Error from server (AlreadyExists): error when creating ...`).
//!
//! `joblite create job [NAME] --from=cronjob/CJ` starts a CronJob's Job by
//! hand, built as kubectl's `createJobFromCronJob` builds it: the template's
//! labels, its annotations plus `cronjob.kubernetes.io/instantiate: manual`,
//! its spec, and a controller reference to the CronJob without
//! `blockOwnerDeletion`. kubectl requires NAME; without it joblite asks the
//! server for `CJ-manual-<random>` through `generateName`.

use anyhow::{anyhow, bail};
use api::cronjob::INSTANTIATE_ANNOTATION;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::PostParams;
use kube::core::DynamicObject;
use kube::Api;

use super::apply::{object_namespace, resolve};
use super::client::{connect, Target, TargetArgs};
use super::errors::{api_error, render};
use super::manifest::read_inputs;
use super::resource;
use super::run::FIELD_MANAGER;
use super::CmdResult;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CreateArgs {
    /// `job` (with --from); omit when creating from files.
    pub kind: Option<String>,
    /// The new Job's name (with --from; default CRONJOB-manual-<random>).
    pub name: Option<String>,
    /// The CronJob to instantiate: cronjob/NAME.
    #[arg(long, value_name = "cronjob/NAME")]
    pub from: Option<String>,
    /// Files, directories or - for stdin.
    #[arg(short = 'f', long = "filename")]
    pub filenames: Vec<String>,
    /// Process directories recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

pub(crate) async fn run(args: CreateArgs) -> CmdResult {
    match (&args.kind, args.filenames.is_empty()) {
        (Some(kind), true) => {
            let info = resource::lookup(kind)?;
            if info.plural != "jobs" {
                bail!("joblite create supports -f FILE and `create job NAME --from=cronjob/NAME`, not {}", info.plural);
            }
            let from = args
                .from
                .as_deref()
                .ok_or_else(|| anyhow!("create job needs --from=cronjob/NAME (or use -f FILE)"))?;
            from_cronjob(&args, from).await
        }
        (None, false) => from_files(&args).await,
        (Some(_), false) => {
            bail!("give either -f FILE or `job NAME --from=cronjob/NAME`, not both")
        }
        (None, true) => bail!("must specify one of -f or `job NAME --from=cronjob/NAME`"),
    }
}

async fn from_files(args: &CreateArgs) -> CmdResult {
    let docs = read_inputs(&args.filenames, args.recursive)?;
    let target = connect(&args.target).await?;
    let params = post_params();
    let mut errors = Vec::new();
    for doc in &docs {
        let result = async {
            let namespace = object_namespace(&target, doc)?;
            let (api, display) = resolve(&target, doc, &namespace).await?;
            let object: DynamicObject = serde_json::from_value(doc.object.clone())?;
            let created = api
                .create(&params, &object)
                .await
                .map_err(|e| api_error(e, Some(format!("error when creating {:?}", doc.source))))?;
            // generateName: the server picked the name.
            let name = created.metadata.name.unwrap_or_default();
            anyhow::Ok(format!("{display}/{name} created"))
        }
        .await;
        match result {
            Ok(line) => println!("{line}"),
            Err(err) => errors.push(err),
        }
    }
    for err in &errors {
        eprintln!("{}", render(err));
    }
    Ok(u8::from(!errors.is_empty()))
}

fn post_params() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

async fn from_cronjob(args: &CreateArgs, from: &str) -> CmdResult {
    let (info, cj_name) = resource::parse_ref(from, None)?;
    if info.plural != "cronjobs" {
        bail!(
            "from must be an existing cronjob: {}",
            resource::display_ref(info, &cj_name)
        );
    }
    let target: Target = connect(&args.target).await?;
    let cronjobs: Api<CronJob> = Api::namespaced(target.client.clone(), &target.namespace);
    let cj = cronjobs
        .get(&cj_name)
        .await
        .map_err(|e| api_error(e, None))?;
    let job = job_from_cronjob(&cj, args.name.as_deref());
    let jobs: Api<Job> = Api::namespaced(target.client.clone(), &target.namespace);
    let created = jobs
        .create(&post_params(), &job)
        .await
        .map_err(|e| api_error(e, None))?;
    println!(
        "job.batch/{} created",
        created.metadata.name.unwrap_or_default()
    );
    Ok(0)
}

/// kubectl's `createJobFromCronJob`.
pub(crate) fn job_from_cronjob(cj: &CronJob, name: Option<&str>) -> Job {
    let template = cj
        .spec
        .as_ref()
        .map(|s| s.job_template.clone())
        .unwrap_or_default();
    let tmeta = template.metadata.unwrap_or_default();
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert(INSTANTIATE_ANNOTATION.to_string(), "manual".to_string());
    annotations.extend(tmeta.annotations.unwrap_or_default());
    let cj_name = cj.metadata.name.clone().unwrap_or_default();
    Job {
        metadata: ObjectMeta {
            name: name.map(str::to_string),
            generate_name: name.is_none().then(|| format!("{cj_name}-manual-")),
            annotations: Some(annotations),
            labels: tmeta.labels,
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "CronJob".into(),
                name: cj_name,
                uid: cj.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: None,
            }]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn job_from_cronjob_is_kubectls() {
        let cj: CronJob = serde_json::from_value(json!({
            "metadata": {"name": "nightly", "uid": "u-1"},
            "spec": {"schedule": "@daily", "jobTemplate": {
                "metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
                "spec": {"backoffLimit": 2, "template": {"spec": {"containers": []}}}
            }}
        }))
        .unwrap();
        let job = serde_json::to_value(job_from_cronjob(&cj, Some("by-hand"))).unwrap();
        assert_eq!(job["metadata"]["name"], "by-hand");
        assert_eq!(
            job["metadata"]["annotations"],
            json!({"cronjob.kubernetes.io/instantiate": "manual", "note": "x"})
        );
        assert_eq!(job["metadata"]["labels"], json!({"team": "a"}));
        assert_eq!(
            job["metadata"]["ownerReferences"],
            json!([{"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly", "uid": "u-1", "controller": true}])
        );
        assert_eq!(job["spec"]["backoffLimit"], 2);
        let job = job_from_cronjob(&cj, None);
        assert_eq!(
            job.metadata.generate_name.as_deref(),
            Some("nightly-manual-")
        );
    }
}
