//! `joblite suspend job/NAME` and `resume job/NAME`: flip `spec.suspend`
//! with a merge patch (the field is mutable; the Job controller deletes the
//! active pods on suspend and starts pods again on resume, KEP-2232).

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Patch, PatchParams};
use kube::Api;
use serde_json::json;

use super::client::{connect, TargetArgs};
use super::errors::api_error;
use super::resource;
use super::run::FIELD_MANAGER;
use super::CmdResult;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SuspendArgs {
    /// The Job, as job/NAME or NAME.
    pub job: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

pub(crate) async fn run(args: SuspendArgs, suspend: bool) -> CmdResult {
    let (info, name) = resource::parse_ref(&args.job, Some(&api::resources::JOBS))?;
    if info.plural != "jobs" {
        anyhow::bail!("only jobs can be suspended or resumed, not {}", info.plural);
    }
    let target = connect(&args.target).await?;
    let jobs: Api<Job> = Api::namespaced(target.client.clone(), &target.namespace);
    let before = jobs.get(&name).await.map_err(|e| api_error(e, None))?;
    let was = before
        .spec
        .as_ref()
        .and_then(|s| s.suspend)
        .unwrap_or(false);
    let word = if suspend { "suspended" } else { "resumed" };
    if was == suspend {
        println!("job.batch/{name} {word} (no change)");
        return Ok(0);
    }
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    jobs.patch(
        &name,
        &params,
        &Patch::Merge(json!({"spec": {"suspend": suspend}})),
    )
    .await
    .map_err(|e| api_error(e, None))?;
    println!("job.batch/{name} {word}");
    Ok(0)
}
