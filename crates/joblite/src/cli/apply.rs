//! `joblite apply -f`: kubectl's client-side apply.
//!
//! Each object carries the `kubectl.kubernetes.io/last-applied-configuration`
//! annotation, as kubectl writes it, so joblite and kubectl can take turns
//! applying the same objects. The update is a three-way merge of the last
//! applied configuration, the new manifest and the live object
//! (`staging/src/k8s.io/kubectl/pkg/cmd/apply/patcher.go`), sent as a JSON
//! merge patch rather than a strategic merge patch: lists the manifest
//! changed are replaced whole, lists it did not change are left alone, and
//! fields it dropped are removed. For Jobs and Pods, whose lists are keyed
//! by name, that is the same result for every change a manifest can make.

use std::time::Instant;

use kube::api::{Patch, PatchParams, PostParams};
use kube::core::DynamicObject;
use serde_json::{json, Value};

use super::client::{connect, Target, TargetArgs};
use super::errors::{api_error, render};
use super::follow::{follow_job, FollowOptions};
use super::manifest::{read_inputs, Document};
use super::progress::Progress;
use super::resource;
use super::CmdResult;

/// The annotation kubectl keeps the applied manifest in.
pub(crate) const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// kubectl's field manager for client-side apply; sharing it keeps kubectl's
/// own apply (and its server-side-apply migration) working on these objects.
const APPLY_MANAGER: &str = "kubectl-client-side-apply";

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ApplyArgs {
    /// Files, directories or - for stdin.
    #[arg(short = 'f', long = "filename", required = true)]
    pub filenames: Vec<String>,
    /// Process directories recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Wait for every applied Job to finish, with a progress bar per Job.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long (e.g. 5m).
    #[arg(long)]
    pub timeout: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// What apply did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    Created,
    Configured,
    Unchanged,
}

impl Applied {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Applied::Created => "created",
            Applied::Configured => "configured",
            Applied::Unchanged => "unchanged",
        }
    }
}

pub(crate) async fn run(args: ApplyArgs) -> CmdResult {
    let started = Instant::now();
    let docs = read_inputs(&args.filenames, args.recursive)?;
    let timeout = args
        .timeout
        .as_deref()
        .map(super::duration::parse_go_duration)
        .transpose()?;
    let target = connect(&args.target).await?;
    let mut failed = false;
    let mut jobs = Vec::new();
    let mut errors = Vec::new();
    for doc in &docs {
        match apply_one(&target, doc).await {
            Ok((display, namespace, applied)) => {
                println!("{display}/{} {}", doc.name(), applied.word());
                if display == "job.batch" {
                    jobs.push((namespace, doc.name().to_string()));
                }
            }
            Err(err) => errors.push(err),
        }
    }
    // kubectl reports every failure after trying every object.
    for err in &errors {
        eprintln!("{}", render(err));
        failed = true;
    }
    if args.wait && !jobs.is_empty() {
        let progress = Progress::for_stderr();
        let options = FollowOptions {
            logs: false,
            prefix: false,
            container: None,
            timestamps: false,
            progress: progress.clone(),
            started,
        };
        let waits = jobs.iter().map(|(ns, name)| {
            let options = options.clone();
            let client = target.client.clone();
            async move { follow_job(&client, ns, name, None, &options).await }
        });
        let all = futures::future::join_all(waits);
        let outcomes = match timeout {
            Some(t) if !t.negative => match tokio::time::timeout(t.magnitude, all).await {
                Ok(outcomes) => outcomes,
                Err(_) => anyhow::bail!("timed out waiting for the condition on jobs"),
            },
            _ => all.await,
        };
        for outcome in outcomes {
            match outcome {
                Ok(outcome) => {
                    progress.print_stderr(&outcome.summary());
                    failed |= outcome.exit_code() != 0;
                }
                Err(err) => {
                    eprintln!("{}", render(&err));
                    failed = true;
                }
            }
        }
    }
    Ok(u8::from(failed))
}

/// The namespace an object goes to, refusing a clash with an explicit `-n`
/// as kubectl does.
pub(crate) fn object_namespace(target: &Target, doc: &Document) -> anyhow::Result<String> {
    match doc.namespace() {
        Some(ns) if target.namespace_explicit && ns != target.namespace => anyhow::bail!(
            "the namespace from the provided object {ns:?} does not match the namespace {:?}. You must pass '--namespace={ns}' to perform this operation.",
            target.namespace
        ),
        Some(ns) => Ok(ns.to_string()),
        None => Ok(target.namespace.clone()),
    }
}

/// Finds the API of a document's kind: joblite's table first, then the
/// server's discovery (so other kinds work against a real cluster).
pub(crate) async fn resolve(
    target: &Target,
    doc: &Document,
    namespace: &str,
) -> anyhow::Result<(kube::Api<DynamicObject>, String)> {
    if let Some(info) = api::resources::by_kind(doc.api_version(), doc.kind()) {
        return Ok((
            resource::dynamic_api(&target.client, info, namespace),
            resource::display_kind(info),
        ));
    }
    let (group, version) = match doc.api_version().split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), doc.api_version().to_string()),
    };
    let gvk = kube::core::GroupVersionKind::gvk(&group, &version, doc.kind());
    let (ar, caps) = kube::discovery::pinned_kind(&target.client, &gvk)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "resource mapping not found for name: {:?} namespace: {:?} from {:?}: no matches for kind {:?} in version {:?}\nensure CRDs are installed first",
                doc.name(),
                doc.namespace().unwrap_or(""),
                doc.source,
                doc.kind(),
                doc.api_version()
            )
        })?;
    let display = if ar.group.is_empty() {
        ar.kind.to_lowercase()
    } else {
        format!("{}.{}", ar.kind.to_lowercase(), ar.group)
    };
    let api = match caps.scope {
        kube::discovery::Scope::Namespaced => {
            kube::Api::namespaced_with(target.client.clone(), namespace, &ar)
        }
        kube::discovery::Scope::Cluster => kube::Api::all_with(target.client.clone(), &ar),
    };
    Ok((api, display))
}

async fn apply_one(target: &Target, doc: &Document) -> anyhow::Result<(String, String, Applied)> {
    if doc.name().is_empty() {
        anyhow::bail!("from {:?}: cannot use generate name with apply", doc.source);
    }
    let namespace = object_namespace(target, doc)?;
    let (api, display) = resolve(target, doc, &namespace).await?;
    let modified = with_last_applied(&doc.object, &namespace);
    let name = doc.name();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let current = match api.get_opt(name).await {
            Ok(current) => current,
            Err(e) => return Err(api_error(e, Some(format!("error when retrieving current configuration of:\nResource: {display}, Name: {name:?}, Namespace: {namespace:?}\nfrom server for: {:?}", doc.source)))),
        };
        let Some(current) = current else {
            let object: DynamicObject = serde_json::from_value(modified.clone())?;
            let params = PostParams {
                field_manager: Some(APPLY_MANAGER.into()),
                ..Default::default()
            };
            api.create(&params, &object)
                .await
                .map_err(|e| api_error(e, Some(format!("error when creating {:?}", doc.source))))?;
            return Ok((display, namespace, Applied::Created));
        };
        let current = serde_json::to_value(&current)?;
        let original: Option<Value> = current
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(LAST_APPLIED))
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str(text).ok());
        let Some(patch) = three_way(original.as_ref(), &modified, &current) else {
            return Ok((display, namespace, Applied::Unchanged));
        };
        let params = PatchParams {
            field_manager: Some(APPLY_MANAGER.into()),
            ..Default::default()
        };
        match api.patch(name, &params, &Patch::Merge(&patch)).await {
            Ok(_) => return Ok((display, namespace, Applied::Configured)),
            // kubectl re-reads and retries on conflicts, up to five times.
            Err(e) if super::errors::status_code(&e) == Some(409) && attempts < 5 => continue,
            Err(e) => {
                return Err(api_error(
                    e,
                    Some(format!("error when applying patch:\n{patch}\nto:\nResource: {display}, Name: {name:?}, Namespace: {namespace:?}\nfor: {:?}", doc.source)),
                ))
            }
        }
    }
}

/// The manifest as it is sent: namespace filled in, and the annotation
/// holding itself (without the annotation), keys sorted, newline-terminated,
/// exactly as kubectl's `util.GetModifiedConfiguration` writes it.
pub(crate) fn with_last_applied(object: &Value, namespace: &str) -> Value {
    let mut object = object.clone();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if !meta.contains_key("namespace") {
            meta.insert("namespace".into(), json!(namespace));
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove(LAST_APPLIED);
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    let recorded = serde_json::to_string(&super::yaml::sort_keys(&object))
        .expect("a JSON value always serializes")
        + "\n";
    let meta = object
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .expect("validated manifests have metadata");
    let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
    if !annotations.is_object() {
        *annotations = json!({});
    }
    annotations
        .as_object_mut()
        .expect("just made an object")
        .insert(LAST_APPLIED.into(), Value::String(recorded));
    object
}

/// The three-way merge patch from `original` (last applied) and `current`
/// (live) to `modified` (new manifest); `None` when nothing changes.
pub(crate) fn three_way(
    original: Option<&Value>,
    modified: &Value,
    current: &Value,
) -> Option<Value> {
    let mut patch = serde_json::Map::new();
    let (Some(m), Some(c)) = (modified.as_object(), current.as_object()) else {
        return (modified != current).then(|| modified.clone());
    };
    // Fields the previous apply set and this one dropped are deleted.
    if let Some(o) = original.and_then(Value::as_object) {
        for key in o.keys() {
            if !m.contains_key(key) && c.contains_key(key) {
                patch.insert(key.clone(), Value::Null);
            }
        }
    }
    for (key, mv) in m {
        let ov = original.and_then(|o| o.get(key));
        let cv = c.get(key);
        match (mv, cv) {
            (Value::Object(_), Some(cv @ Value::Object(_))) => {
                if let Some(sub) = three_way(ov, mv, cv) {
                    patch.insert(key.clone(), sub);
                }
            }
            // A list the manifest did not change since the last apply is left
            // to the server (it holds defaulted fields the manifest lacks).
            (Value::Array(_), Some(_)) if ov == Some(mv) => {}
            _ => {
                if cv != Some(mv) {
                    patch.insert(key.clone(), mv.clone());
                }
            }
        }
    }
    (!patch.is_empty()).then_some(Value::Object(patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": "pi", "labels": {"team": "a"}},
               "spec": {"backoffLimit": 4, "template": {"spec": {
                   "containers": [{"name": "pi", "image": "perl", "command": ["perl"]}],
                   "restartPolicy": "Never"}}}})
    }

    /// The live object after the server defaulted the manifest.
    fn live(applied: &Value) -> Value {
        let mut live = applied.clone();
        live["metadata"]["uid"] = json!("u1");
        live["metadata"]["resourceVersion"] = json!("7");
        live["spec"]["completions"] = json!(1);
        live["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] =
            json!("/dev/termination-log");
        live["status"] = json!({"active": 1});
        live
    }

    #[test]
    fn last_applied_annotation_is_kubectl_shaped() {
        let applied = with_last_applied(&manifest(), "default");
        let recorded = applied["metadata"]["annotations"][LAST_APPLIED]
            .as_str()
            .unwrap();
        assert!(recorded.ends_with("}\n"));
        assert!(recorded.starts_with(r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"labels":{"team":"a"},"name":"pi","namespace":"default"}"#), "{recorded}");
        // Re-applying an applied object records the same thing.
        assert_eq!(with_last_applied(&applied, "default"), applied);
    }

    #[test]
    fn three_way_cases() {
        let first = with_last_applied(&manifest(), "default");
        let current = live(&first);
        let original: Value = serde_json::from_str(
            first["metadata"]["annotations"][LAST_APPLIED]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        // Same manifest again: nothing to send, "unchanged".
        assert_eq!(three_way(Some(&original), &first, &current), None);

        // A changed scalar and a dropped label.
        let mut next = manifest();
        next["spec"]["backoffLimit"] = json!(6);
        next["metadata"]["labels"] = json!({});
        let next = with_last_applied(&next, "default");
        let patch = three_way(Some(&original), &next, &current).unwrap();
        assert_eq!(patch["spec"], json!({"backoffLimit": 6}));
        assert_eq!(patch["metadata"]["labels"], json!({"team": null}));
        assert!(patch["metadata"]["annotations"][LAST_APPLIED].is_string());

        // A changed container list is replaced whole.
        let mut next = manifest();
        next["spec"]["template"]["spec"]["containers"][0]["command"] = json!(["sh"]);
        let next = with_last_applied(&next, "default");
        let patch = three_way(Some(&original), &next, &current).unwrap();
        assert_eq!(
            patch["spec"]["template"]["spec"]["containers"],
            json!([{"name": "pi", "image": "perl", "command": ["sh"]}])
        );
    }

    #[test]
    fn three_way_removes_fields_dropped_from_the_manifest() {
        let original = json!({"spec": {"parallelism": 2, "backoffLimit": 1}});
        let modified = json!({"spec": {"backoffLimit": 1}});
        let current = json!({"spec": {"parallelism": 2, "backoffLimit": 1, "completions": 1}});
        assert_eq!(
            three_way(Some(&original), &modified, &current),
            Some(json!({"spec": {"parallelism": null}}))
        );
    }
}
