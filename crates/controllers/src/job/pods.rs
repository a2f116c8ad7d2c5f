//! The pods a Job owns: how they are built (upstream
//! `controller.GetPodFromTemplate` plus the Job-specific additions in
//! `pkg/controller/job/job_controller.go` `manageJob`), and which active
//! pods go first when some must be deleted (`controller.ActivePods` in
//! `pkg/controller/controller_utils.go`, `activePodsForRemoval` in
//! `indexed_job_utils.go`).

use std::cmp::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::indexed::{
    completion_index, generate_name_with_index, COMPLETION_INDEX_ANNOTATION,
    INDEX_FAILURE_COUNT_ANNOTATION, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION,
};
use super::JOB_TRACKING_FINALIZER;
use crate::kit::objects::{Job, Pod};

/// Upstream `JobCompletionIndexEnvName`.
pub const JOB_COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// What varies between the pods of one Job.
#[derive(Debug, Clone, Default)]
pub struct PodOptions {
    pub index: Option<i32>,
    /// `(failure count, ignored failure count)` with backoffLimitPerIndex.
    pub failure_counts: Option<(i32, i32)>,
}

/// Builds the pod to create for `job` (JSON ready for the store).
pub fn new_pod(job: &Job, opts: &PodOptions) -> Value {
    let template = &job.spec.template;
    let tmeta = template.get("metadata").cloned().unwrap_or(json!({}));
    let mut labels = obj_or_empty(tmeta.get("labels"));
    let mut annotations = obj_or_empty(tmeta.get("annotations"));
    let mut finalizers: Vec<Value> = tmeta
        .get("finalizers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !finalizers.iter().any(|f| f == JOB_TRACKING_FINALIZER) {
        finalizers.push(Value::String(JOB_TRACKING_FINALIZER.into()));
    }
    let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
    let generate_name = match opts.index {
        Some(ix) => {
            annotations.insert(COMPLETION_INDEX_ANNOTATION.into(), ix.to_string().into());
            // PodIndexLabel (GA in 1.32).
            labels.insert(COMPLETION_INDEX_ANNOTATION.into(), ix.to_string().into());
            if let Some(s) = spec.as_object_mut() {
                s.insert(
                    "hostname".into(),
                    format!("{}-{}", job.metadata.name, ix).into(),
                );
            }
            add_completion_index_env(&mut spec);
            if let Some((failures, ignored)) = opts.failure_counts {
                annotations.insert(
                    INDEX_FAILURE_COUNT_ANNOTATION.into(),
                    failures.to_string().into(),
                );
                if ignored > 0 {
                    annotations.insert(
                        INDEX_IGNORED_FAILURE_COUNT_ANNOTATION.into(),
                        ignored.to_string().into(),
                    );
                }
            }
            generate_name_with_index(&job.metadata.name, ix)
        }
        None => format!("{}-", job.metadata.name),
    };
    let mut meta = Map::new();
    meta.insert("generateName".into(), generate_name.into());
    meta.insert("namespace".into(), job.metadata.namespace.clone().into());
    if !labels.is_empty() {
        meta.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), Value::Object(annotations));
    }
    meta.insert("finalizers".into(), Value::Array(finalizers));
    meta.insert(
        "ownerReferences".into(),
        json!([{
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": job.metadata.name,
            "uid": job.metadata.uid,
            "controller": true,
            "blockOwnerDeletion": true,
        }]),
    );
    let pod = json!({
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": Value::Object(meta),
        "spec": spec,
    });
    admit(pod)
}

/// Applies what the API server does to a pod on create (defaults,
/// admission, `PrepareForCreate`), since the controller writes to the
/// store directly. Falls back to the raw pod if it does not decode.
fn admit(pod: Value) -> Value {
    let Ok(mut typed) = serde_json::from_value::<k8s_openapi::api::core::v1::Pod>(pod.clone())
    else {
        return pod;
    };
    api::defaults::default_pod(&mut typed);
    api::defaults::admit_pod_for_create(&mut typed);
    api::defaults::prepare_pod_for_create(&mut typed);
    match serde_json::to_value(&typed) {
        Ok(mut v) => {
            if let Some(o) = v.as_object_mut() {
                o.insert("kind".into(), "Pod".into());
                o.insert("apiVersion".into(), "v1".into());
            }
            v
        }
        Err(_) => pod,
    }
}

fn obj_or_empty(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

/// Upstream `addCompletionIndexEnvVariables`: every container and init
/// container gets `JOB_COMPLETION_INDEX` from the index label, unless it
/// already defines it.
fn add_completion_index_env(spec: &mut Value) {
    for list in ["initContainers", "containers"] {
        let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in cs {
            let Some(c) = c.as_object_mut() else { continue };
            let env = c.entry("env").or_insert_with(|| json!([]));
            if env.is_null() {
                *env = json!([]);
            }
            let Some(env) = env.as_array_mut() else {
                continue;
            };
            if env
                .iter()
                .any(|e| e.get("name").and_then(Value::as_str) == Some(JOB_COMPLETION_INDEX_ENV))
            {
                continue;
            }
            env.push(json!({
                "name": JOB_COMPLETION_INDEX_ENV,
                "valueFrom": {"fieldRef": {"fieldPath": format!("metadata.labels['{COMPLETION_INDEX_ANNOTATION}']")}},
            }));
        }
    }
}

fn phase_ordinal(phase: &str) -> u8 {
    match phase {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

/// Upstream `afterOrZero`: zero sorts first, then later times first.
fn after_or_zero(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> bool {
    match (a, b) {
        (None, _) | (_, None) => a.is_none(),
        (Some(a), Some(b)) => a > b,
    }
}

/// Upstream `ActivePods.Less`: true when `a` should be deleted before `b`.
pub fn delete_first(a: &Pod, b: &Pod) -> bool {
    let (an, bn) = (&a.spec.node_name, &b.spec.node_name);
    if an != bn && (an.is_empty() || bn.is_empty()) {
        return an.is_empty();
    }
    let (ap, bp) = (phase_ordinal(a.phase()), phase_ordinal(b.phase()));
    if ap != bp {
        return ap < bp;
    }
    if a.is_ready() != b.is_ready() {
        return !a.is_ready();
    }
    if a.is_ready() && b.is_ready() {
        let (ra, rb) = (a.ready_time(), b.ready_time());
        if ra != rb {
            return after_or_zero(ra, rb);
        }
    }
    let (ma, mb) = (a.max_container_restarts(), b.max_container_restarts());
    if ma != mb {
        return ma > mb;
    }
    let (ca, cb) = (a.metadata.creation_timestamp, b.metadata.creation_timestamp);
    if ca != cb {
        return after_or_zero(ca, cb);
    }
    false
}

/// Sorts pods into deletion order (stable, like Go's `sort.Sort` on small inputs).
pub fn sort_for_deletion(pods: &mut [Arc<Pod>]) {
    pods.sort_by(|a, b| {
        if delete_first(a, b) {
            Ordering::Less
        } else if delete_first(b, a) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    });
}

/// Upstream `activePodsForRemoval`: for Indexed Jobs, first pods with an
/// invalid or out-of-range index and all but one pod of each duplicated
/// index; then, for all Jobs, more pods in `ActivePods` order until at
/// least `rm_at_least` are chosen.
pub fn active_pods_for_removal(job: &Job, pods: &[Arc<Pod>], rm_at_least: usize) -> Vec<Arc<Pod>> {
    let mut rm: Vec<Arc<Pod>> = Vec::new();
    let mut left: Vec<Arc<Pod>> = Vec::new();
    if job.is_indexed() {
        let completions = job.completions();
        let mut sorted: Vec<Arc<Pod>> = pods.to_vec();
        // byCompletionIndex: unknown (-1) first.
        sorted.sort_by_key(|p| completion_index(p).unwrap_or(-1));
        let mut i = 0;
        while i < sorted.len() {
            let ix = completion_index(&sorted[i]);
            let mut j = i + 1;
            while j < sorted.len() && completion_index(&sorted[j]) == ix {
                j += 1;
            }
            let mut group: Vec<Arc<Pod>> = sorted[i..j].to_vec();
            match ix {
                None => rm.extend(group),
                Some(ix) if ix >= completions => rm.extend(group),
                Some(_) if group.len() == 1 => left.extend(group),
                Some(_) => {
                    sort_for_deletion(&mut group);
                    let keep = group.pop();
                    rm.extend(group);
                    left.extend(keep);
                }
            }
            i = j;
        }
    } else {
        left = pods.to_vec();
    }
    if rm.len() < rm_at_least {
        sort_for_deletion(&mut left);
        let n = rm_at_least - rm.len();
        rm.extend(left.into_iter().take(n));
    }
    rm
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table-driven cases are tuples
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(
        name: &str,
        node: &str,
        phase: &str,
        ready: Option<&str>,
        restarts: i32,
        created: &str,
        ix: Option<i32>,
    ) -> Arc<Pod> {
        let mut conditions = vec![];
        if let Some(t) = ready {
            conditions.push(json!({"type": "Ready", "status": "True", "lastTransitionTime": t}));
        }
        let mut ann = json!({});
        if let Some(i) = ix {
            ann = json!({COMPLETION_INDEX_ANNOTATION: i.to_string()});
        }
        let v = json!({"metadata": {"name": name, "namespace": "d", "uid": name, "annotations": ann,
                "creationTimestamp": created},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conditions,
                "containerStatuses": [{"name": "c", "restartCount": restarts, "state": {}}]}});
        Arc::new(Pod::parse(&serde_json::to_vec(&v).unwrap(), 1).unwrap())
    }

    fn names(p: &[Arc<Pod>]) -> Vec<String> {
        p.iter().map(|p| p.metadata.name.clone()).collect()
    }

    /// The `controller.ActivePods` order (upstream `TestSortingActivePods`,
    /// `pkg/controller/controller_utils_test.go`).
    #[test]
    fn deletion_order_follows_active_pods() {
        let t0 = "2024-01-01T00:00:00Z";
        let t1 = "2024-01-01T00:01:00Z";
        let mut pods = vec![
            pod("running-ready-old", "n", "Running", Some(t0), 0, t0, None),
            pod("unassigned", "", "Pending", None, 0, t0, None),
            pod(
                "running-ready-recent",
                "n",
                "Running",
                Some(t1),
                0,
                t0,
                None,
            ),
            pod("pending", "n", "Pending", None, 0, t0, None),
            pod("unknown", "n", "Unknown", None, 0, t0, None),
            pod("running-notready", "n", "Running", None, 0, t0, None),
            pod(
                "running-ready-old-restarts",
                "n",
                "Running",
                Some(t0),
                3,
                t0,
                None,
            ),
            pod(
                "running-ready-old-newer",
                "n",
                "Running",
                Some(t0),
                0,
                t1,
                None,
            ),
        ];
        sort_for_deletion(&mut pods);
        assert_eq!(
            names(&pods),
            vec![
                "unassigned",
                "pending",
                "unknown",
                "running-notready",
                "running-ready-recent",
                "running-ready-old-restarts",
                "running-ready-old-newer",
                "running-ready-old",
            ]
        );
    }

    /// Upstream `TestActivePodsForRemoval`-style table for Indexed Jobs:
    /// out-of-range and duplicate indexes go first.
    #[test]
    fn active_pods_for_removal_table() {
        let t0 = "2024-01-01T00:00:00Z";
        let t1 = "2024-01-01T00:01:00Z";
        let j = crate::job::indexed::tests::job(
            json!({"completionMode": "Indexed", "completions": 3}),
            json!({}),
        );
        let nj = crate::job::indexed::tests::job(json!({"completions": 3}), json!({}));
        let cases: Vec<(&str, &Job, Vec<Arc<Pod>>, usize, Vec<&str>)> = vec![
            (
                "nonindexed: newest first",
                &nj,
                vec![
                    pod("old", "n", "Running", None, 0, t0, None),
                    pod("new", "n", "Running", None, 0, t1, None),
                ],
                1,
                vec!["new"],
            ),
            (
                "indexed: nothing to remove",
                &j,
                vec![
                    pod("a", "n", "Running", None, 0, t0, Some(0)),
                    pod("b", "n", "Running", None, 0, t0, Some(1)),
                ],
                0,
                vec![],
            ),
            (
                "indexed: duplicate keeps the older",
                &j,
                vec![
                    pod("a-old", "n", "Running", None, 0, t0, Some(0)),
                    pod("a-new", "n", "Running", None, 0, t1, Some(0)),
                    pod("b", "n", "Running", None, 0, t0, Some(1)),
                ],
                0,
                vec!["a-new"],
            ),
            (
                "indexed: out of range and no index",
                &j,
                vec![
                    pod("x", "n", "Running", None, 0, t0, Some(5)),
                    pod("none", "n", "Running", None, 0, t0, None),
                    pod("b", "n", "Running", None, 0, t0, Some(1)),
                ],
                0,
                vec!["none", "x"],
            ),
            (
                "indexed: more by order",
                &j,
                vec![
                    pod("a", "n", "Running", None, 0, t0, Some(0)),
                    pod("b", "n", "Pending", None, 0, t0, Some(1)),
                    pod("c", "n", "Running", None, 0, t1, Some(2)),
                ],
                2,
                vec!["b", "c"],
            ),
        ];
        for (name, job, pods, n, want) in cases {
            let got = active_pods_for_removal(job, &pods, n);
            assert_eq!(names(&got), want, "{name}");
        }
    }

    #[test]
    fn indexed_pods_get_index_hostname_env_and_counters() {
        let j = crate::job::indexed::tests::job(
            json!({"completionMode": "Indexed", "completions": 3,
            "template": {"metadata": {"labels": {"job-name": "j"}},
                "spec": {"restartPolicy": "Never", "subdomain": "s", "containers": [
                    {"name": "c", "image": "busybox", "env": [{"name": "A", "value": "1"}]},
                    {"name": "d", "image": "busybox", "env": [{"name": "JOB_COMPLETION_INDEX", "value": "x"}]}]}}}),
            json!({}),
        );
        let p = new_pod(
            &j,
            &PodOptions {
                index: Some(2),
                failure_counts: Some((1, 0)),
            },
        );
        assert_eq!(p["metadata"]["generateName"], "j-2-");
        assert_eq!(p["metadata"]["namespace"], "d");
        assert_eq!(
            p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"],
            "2"
        );
        assert_eq!(p["metadata"]["labels"]["job-name"], "j");
        assert_eq!(
            p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"],
            "2"
        );
        assert_eq!(
            p["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"],
            "1"
        );
        assert!(p["metadata"]["annotations"]
            .get("batch.kubernetes.io/job-index-ignored-failure-count")
            .is_none());
        assert_eq!(
            p["metadata"]["finalizers"],
            json!(["batch.kubernetes.io/job-tracking"])
        );
        assert_eq!(p["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(
            p["metadata"]["ownerReferences"][0]["blockOwnerDeletion"],
            true
        );
        assert_eq!(p["metadata"]["ownerReferences"][0]["uid"], "ju");
        assert_eq!(p["spec"]["hostname"], "j-2");
        assert_eq!(p["spec"]["subdomain"], "s");
        assert_eq!(
            p["spec"]["containers"][0]["env"][1]["name"],
            "JOB_COMPLETION_INDEX"
        );
        assert_eq!(
            p["spec"]["containers"][0]["env"][1]["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.labels['batch.kubernetes.io/job-completion-index']"
        );
        assert_eq!(
            p["spec"]["containers"][1]["env"].as_array().unwrap().len(),
            1
        );
        assert_eq!(p["status"]["phase"], "Pending");
        let n = crate::job::indexed::tests::job(
            json!({"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}),
            json!({}),
        );
        let p = new_pod(&n, &PodOptions::default());
        assert_eq!(p["metadata"]["generateName"], "j-");
        assert!(p["spec"].get("hostname").is_none());
    }
}
