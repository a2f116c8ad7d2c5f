//! `joblite suspend job/NAME|cronjob/NAME` and `resume …`: flip
//! `spec.suspend` with a merge patch. On a Job the controller deletes the
//! active pods on suspend and starts pods again on resume (KEP-2232); on a
//! CronJob the controller stops (or resumes) creating Jobs, and Jobs
//! already running are left alone, as upstream.

use anyhow::bail;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use super::client::{connect, TargetArgs};
use super::errors::api_error;
use super::resource;
use super::run::FIELD_MANAGER;
use super::CmdResult;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SuspendArgs {
    /// The Job or CronJob: job/NAME, cronjob/NAME, TYPE NAME, or a Job's
    /// NAME.
    pub resource: String,
    /// The name, when the first argument is a type (`cronjob NAME`).
    pub name: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
}

pub(crate) async fn run(args: SuspendArgs, suspend: bool) -> CmdResult {
    let (info, name) = match &args.name {
        Some(name) => (resource::lookup(&args.resource)?, name.clone()),
        None => resource::parse_ref(&args.resource, Some(&api::resources::JOBS))?,
    };
    if info.plural != "jobs" && info.plural != "cronjobs" {
        bail!(
            "only jobs and cronjobs can be suspended or resumed, not {}",
            info.plural
        );
    }
    let target = connect(&args.target).await?;
    let api = resource::dynamic_api(&target.client, info, &target.namespace);
    let before = api.get(&name).await.map_err(|e| api_error(e, None))?;
    let was = before.data["spec"]["suspend"].as_bool().unwrap_or(false);
    let word = if suspend { "suspended" } else { "resumed" };
    let display = resource::display_ref(info, &name);
    if was == suspend {
        println!("{display} {word} (no change)");
        return Ok(0);
    }
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    api.patch(
        &name,
        &params,
        &Patch::Merge(json!({"spec": {"suspend": suspend}})),
    )
    .await
    .map_err(|e| api_error(e, None))?;
    println!("{display} {word}");
    Ok(0)
}
