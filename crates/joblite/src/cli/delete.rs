//! `joblite delete`: by name, `TYPE/NAME`, `--all` or `-l`, with kubectl's
//! `--cascade` and its output (`job.batch "x" deleted`).
//!
//! As kubectl does, `--all` lists and then deletes item by item, and by
//! default waits until each object is really gone (a foreground deletion
//! keeps the Job until its pods are deleted).

use std::time::{Duration, Instant};

use anyhow::bail;
use kube::api::{DeleteParams, ListParams, PropagationPolicy};

use super::client::{connect, TargetArgs};
use super::errors::{api_error, is_not_found, render};
use super::resource;
use super::CmdResult;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DeleteArgs {
    /// The resource type, or TYPE/NAME.
    pub resource: String,
    /// Names of the objects to delete.
    pub names: Vec<String>,
    /// Delete every object of the type in the namespace.
    #[arg(long)]
    pub all: bool,
    /// Delete the objects matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// background, foreground or orphan (true = background, false = orphan).
    #[arg(long, default_value = "background")]
    pub cascade: String,
    /// Wait until the objects are gone.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub wait: bool,
    /// Treat a missing object as success.
    #[arg(long)]
    pub ignore_not_found: bool,
    /// Seconds the pods get to stop (kubectl's --grace-period).
    #[arg(long)]
    pub grace_period: Option<i64>,
    /// How long to wait for deletion (0 waits forever).
    #[arg(long, default_value = "0s")]
    pub timeout: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// kubectl's `--cascade` values.
pub(crate) fn propagation(cascade: &str) -> anyhow::Result<PropagationPolicy> {
    Ok(match cascade.to_ascii_lowercase().as_str() {
        "background" | "true" => PropagationPolicy::Background,
        "foreground" => PropagationPolicy::Foreground,
        "orphan" | "false" => PropagationPolicy::Orphan,
        other => bail!(
            "invalid cascade value ({other}). Must be \"background\", \"foreground\", or \"orphan\""
        ),
    })
}

pub(crate) async fn run(args: DeleteArgs) -> CmdResult {
    let (info, mut names) = resource::parse_targets(&args.resource, &args.names)?;
    let by_selection = args.all || args.selector.is_some();
    if names.is_empty() && !by_selection {
        bail!("resource(s) were provided, but no name was specified");
    }
    if !names.is_empty() && by_selection {
        bail!("name cannot be provided when a selector or --all is specified");
    }
    let params = DeleteParams {
        propagation_policy: Some(propagation(&args.cascade)?),
        grace_period_seconds: args.grace_period.map(|g| g.max(0) as u32),
        ..Default::default()
    };
    let timeout = super::wait::timeout_from(&args.timeout)?;
    let target = connect(&args.target).await?;
    let api = resource::dynamic_api(&target.client, info, &target.namespace);
    if by_selection {
        let mut lp = ListParams::default();
        if let Some(sel) = &args.selector {
            lp = lp.labels(sel);
        }
        let list = api.list(&lp).await.map_err(|e| api_error(e, None))?;
        names = list
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect();
        if names.is_empty() {
            let ns = info.namespaced.then_some(target.namespace.as_str());
            eprintln!("{}", super::printer::no_resources_message(ns));
            return Ok(0);
        }
    }
    let display = resource::display_kind(info);
    let mut failed = false;
    let mut deleted = Vec::new();
    for name in &names {
        match api.delete(name, &params).await {
            Ok(_) => {
                println!("{display} {name:?} deleted");
                deleted.push(name.clone());
            }
            Err(e) if is_not_found(&e) && args.ignore_not_found => {}
            Err(e) => {
                eprintln!("{}", render(&api_error(e, None)));
                failed = true;
            }
        }
    }
    if args.wait {
        let start = Instant::now();
        for name in &deleted {
            loop {
                match api.get_opt(name).await {
                    Ok(None) => break,
                    Ok(Some(_)) => {}
                    Err(e) => return Err(api_error(e, None)),
                }
                if !timeout.is_zero() && start.elapsed() > timeout {
                    bail!(
                        "timed out waiting for the condition on {}/{name}",
                        info.plural
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    Ok(u8::from(failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cascade_values() {
        let cases = [
            ("background", "Background"),
            ("true", "Background"),
            ("Foreground", "Foreground"),
            ("orphan", "Orphan"),
            ("false", "Orphan"),
        ];
        for (flag, want) in cases {
            let got = serde_json::to_value(propagation(flag).unwrap()).unwrap();
            assert_eq!(got, want, "{flag}");
        }
        assert!(propagation("sometimes").is_err());
    }
}
