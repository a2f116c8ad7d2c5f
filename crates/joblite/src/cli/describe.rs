//! `joblite describe TYPE NAME`: kubectl's describe layout, for any kind the
//! registry knows (the text comes from the kind's strategy, `api::describe`).

use std::fmt::Write as _;

use anyhow::bail;
use k8s_openapi::api::core::v1::Event;
use kube::api::ListParams;
use kube::Api;

use super::client::{connect, TargetArgs};
use super::errors::api_error;
use super::resource;
use super::CmdResult;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DescribeArgs {
    /// A resource type (job, pod, configmap, …) or TYPE/NAME.
    pub resource: String,
    /// Names of the objects.
    pub names: Vec<String>,
    #[command(flatten)]
    pub target: TargetArgs,
}

async fn events_for(
    client: &kube::Client,
    namespace: &str,
    kind: &str,
    name: &str,
    uid: Option<&str>,
) -> Vec<Event> {
    // kubectl's searchEvents: the object's namespace, or all of them for
    // cluster-scoped objects (whose events have no involved namespace).
    let events: Api<Event> = if namespace.is_empty() {
        Api::all(client.clone())
    } else {
        Api::namespaced(client.clone(), namespace)
    };
    let mut fields = format!(
        "involvedObject.name={name},involvedObject.namespace={namespace},involvedObject.kind={kind}"
    );
    if let Some(uid) = uid {
        let _ = write!(fields, ",involvedObject.uid={uid}");
    }
    // kubectl prints the object even when events cannot be listed.
    events
        .list(&ListParams::default().fields(&fields))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

pub(crate) async fn run(args: DescribeArgs) -> CmdResult {
    let (info, names) = resource::parse_targets(&args.resource, &args.names)?;
    if names.is_empty() {
        bail!(
            "describe needs a name: joblite describe {} NAME",
            info.singular
        );
    }
    let target = connect(&args.target).await?;
    let (client, ns) = (&target.client, target.namespace.as_str());
    let api = resource::dynamic_api(client, info, ns);
    let mut texts = Vec::new();
    for name in &names {
        let obj = api.get(name).await.map_err(|e| api_error(e, None))?;
        let value = serde_json::to_value(&obj)?;
        let events_ns = if info.namespaced { ns } else { "" };
        let uid = obj.metadata.uid.as_deref();
        let events = events_for(client, events_ns, info.kind, name, uid).await;
        let text = info
            .strategy
            .describe(&value, &events)
            .map_err(|e| anyhow::anyhow!(e.message()))?;
        texts.push(text);
    }
    print!("{}", texts.join("\n\n"));
    Ok(0)
}
