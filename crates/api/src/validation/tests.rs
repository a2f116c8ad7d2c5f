//! Table-driven tests for Job and Pod validation. Each case names the
//! upstream rule (see `pkg/apis/batch/validation/validation_test.go` and
//! `pkg/apis/core/validation/validation_test.go` for the originals) and
//! asserts the exact rendered errors.

use super::*;
use crate::defaults::{
    default_job, default_pod, prepare_job_for_create, prepare_job_status_update,
};
use k8s_openapi::api::batch::v1::{
    Job, JobCondition, JobSpec, JobStatus, PodFailurePolicy,
    PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyOnPodConditionsPattern,
    PodFailurePolicyRule, SuccessPolicy, SuccessPolicyRule, UncountedTerminatedPods,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodSpec,
    PodTemplateSpec, ResourceRequirements, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use std::collections::BTreeMap;

const UID: &str = "11111111-2222-3333-4444-555555555555";

fn container(name: &str, image: &str) -> Container {
    Container {
        name: name.into(),
        image: Some(image.into()),
        ..Default::default()
    }
}

/// A Job as a user would post it, before defaulting.
fn raw_job() -> Job {
    Job {
        metadata: ObjectMeta {
            name: Some("pi".into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(PodSpec {
                    containers: vec![container("pi", "perl:5.34")],
                    restart_policy: Some("Never".into()),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

/// Default, prepare and validate like the API server's create path.
fn create_errors(mutate: impl FnOnce(&mut Job)) -> Vec<String> {
    let mut job = raw_job();
    mutate(&mut job);
    default_job(&mut job);
    prepare_job_for_create(&mut job, UID);
    validate_job_create(&job)
        .iter()
        .map(|e| e.to_string())
        .collect()
}

fn spec(job: &mut Job) -> &mut JobSpec {
    job.spec.as_mut().unwrap()
}

fn pod_spec(job: &mut Job) -> &mut PodSpec {
    job.spec.as_mut().unwrap().template.spec.as_mut().unwrap()
}

fn exit_rule(action: &str, op: &str, values: Vec<i32>) -> PodFailurePolicyRule {
    PodFailurePolicyRule {
        action: action.into(),
        on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
            container_name: None,
            operator: op.into(),
            values,
        }),
        on_pod_conditions: None,
    }
}

fn cond_rule(action: &str, type_: &str, status: &str) -> PodFailurePolicyRule {
    PodFailurePolicyRule {
        action: action.into(),
        on_exit_codes: None,
        on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
            type_: type_.into(),
            status: status.into(),
        }]),
    }
}

type Mutator = Box<dyn FnOnce(&mut Job)>;

#[test]
fn job_create_rules() {
    let cases: Vec<(&str, Mutator, Vec<&str>)> = vec![
        ("valid", Box::new(|_| {}), vec![]),
        (
            "name is a DNS subdomain",
            Box::new(|j| j.metadata.name = Some("Pi".into())),
            vec!["metadata.name: Invalid value: \"Pi\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"],
        ),
        (
            "job-name label value is limited to 63 characters",
            Box::new(|j| j.metadata.name = Some("a".repeat(64))),
            vec![
                "spec.template.labels: Invalid value: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": must be no more than 63 characters",
                "spec.template.labels: Invalid value: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": must be no more than 63 characters",
            ],
        ),
        (
            "indexed: <name>-<completions-1> must be a DNS label",
            Box::new(|j| {
                j.metadata.name = Some("a".repeat(62));
                let s = spec(j);
                s.completion_mode = Some("Indexed".into());
                s.completions = Some(10);
            }),
            vec![&*Box::leak(format!("metadata.name: Invalid value: \"{0}\": will not able to create pod with invalid DNS label: {0}-9", "a".repeat(62)).into_boxed_str())],
        ),
        (
            "negative counters",
            Box::new(|j| {
                let s = spec(j);
                s.parallelism = Some(-1);
                s.completions = Some(-1);
                s.active_deadline_seconds = Some(-1);
                s.backoff_limit = Some(-1);
                s.ttl_seconds_after_finished = Some(-1);
            }),
            vec![
                "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
                "spec.completions: Invalid value: -1: must be greater than or equal to 0",
                "spec.activeDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0",
                "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
                "spec.ttlSecondsAfterFinished: Invalid value: -1: must be greater than or equal to 0",
            ],
        ),
        (
            "restartPolicy omitted defaults to Always, which a Job rejects",
            Box::new(|j| pod_spec(j).restart_policy = None),
            vec!["spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""],
        ),
        (
            "restartPolicy unknown",
            Box::new(|j| pod_spec(j).restart_policy = Some("Sometimes".into())),
            vec![
                "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"OnFailure\", \"Never\"",
            ],
        ),
        (
            "image required",
            Box::new(|j| pod_spec(j).containers[0].image = None),
            vec!["spec.template.spec.containers[0].image: Required value"],
        ),
        (
            "containers required",
            Box::new(|j| pod_spec(j).containers.clear()),
            vec!["spec.template.spec.containers: Required value"],
        ),
        (
            "completionMode unknown",
            Box::new(|j| spec(j).completion_mode = Some("Sparse".into())),
            vec!["spec.completionMode: Unsupported value: \"Sparse\": supported values: \"NonIndexed\", \"Indexed\""],
        ),
        (
            "indexed requires completions",
            Box::new(|j| {
                let s = spec(j);
                s.completion_mode = Some("Indexed".into());
                s.parallelism = Some(2);
            }),
            vec!["spec.completions: Required value: when completion mode is Indexed"],
        ),
        (
            "indexed parallelism cap",
            Box::new(|j| {
                let s = spec(j);
                s.completion_mode = Some("Indexed".into());
                s.completions = Some(5);
                s.parallelism = Some(100_001);
            }),
            vec!["spec.parallelism: Invalid value: 100001: must be less than or equal to 100000 when completion mode is Indexed"],
        ),
        (
            "backoffLimitPerIndex and maxFailedIndexes need Indexed",
            Box::new(|j| {
                let s = spec(j);
                s.backoff_limit_per_index = Some(1);
                s.max_failed_indexes = Some(1);
            }),
            vec![
                "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
                "spec.maxFailedIndexes: Invalid value: 1: requires indexed completion mode",
            ],
        ),
        (
            "maxFailedIndexes needs backoffLimitPerIndex and <= completions",
            Box::new(|j| {
                let s = spec(j);
                s.completion_mode = Some("Indexed".into());
                s.completions = Some(2);
                s.max_failed_indexes = Some(3);
            }),
            vec![
                "spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
                "spec.maxFailedIndexes: Invalid value: 3: must be less than or equal to completions",
            ],
        ),
        (
            "high completions with backoffLimitPerIndex",
            Box::new(|j| {
                let s = spec(j);
                s.completion_mode = Some("Indexed".into());
                s.completions = Some(100_001);
                s.parallelism = Some(10_001);
                s.backoff_limit_per_index = Some(1);
            }),
            vec![
                "spec.maxFailedIndexes: Required value: must be specified when completions is above 100000",
                "spec.parallelism: Invalid value: 10001: must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index",
            ],
        ),
        (
            "podFailurePolicy requires restartPolicy Never",
            Box::new(|j| {
                spec(j).pod_failure_policy = Some(PodFailurePolicy { rules: vec![exit_rule("FailJob", "In", vec![42])] });
                pod_spec(j).restart_policy = Some("OnFailure".into());
            }),
            vec!["spec.template.spec.restartPolicy: Invalid value: \"OnFailure\": only \"Never\" is supported when podFailurePolicy is specified"],
        ),
        (
            "podFailurePolicy exit codes: 0 with In, duplicates, order",
            Box::new(|j| {
                spec(j).pod_failure_policy = Some(PodFailurePolicy { rules: vec![exit_rule("Ignore", "In", vec![1, 0, 2, 2])] });
            }),
            vec![
                "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In operator",
                "spec.podFailurePolicy.rules[0].onExitCodes.values[3]: Duplicate value: 2",
                "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{1, 0, 2, 2}: must be ordered",
            ],
        ),
        (
            "podFailurePolicy: empty values, bad operator, unknown container",
            Box::new(|j| {
                let mut r = exit_rule("Count", "Maybe", vec![]);
                r.on_exit_codes.as_mut().unwrap().container_name = Some("xyz".into());
                spec(j).pod_failure_policy = Some(PodFailurePolicy { rules: vec![r] });
            }),
            vec![
                "spec.podFailurePolicy.rules[0].onExitCodes.operator: Unsupported value: \"Maybe\": supported values: \"In\", \"NotIn\"",
                "spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: \"xyz\": must be one of the container or initContainer names in the pod template",
                "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []: at least one value is required",
            ],
        ),
        (
            "podFailurePolicy actions",
            Box::new(|j| {
                spec(j).pod_failure_policy = Some(PodFailurePolicy {
                    rules: vec![exit_rule("", "In", vec![1]), exit_rule("FailIndex", "In", vec![1]), exit_rule("Retry", "In", vec![1])],
                });
            }),
            vec![
                "spec.podFailurePolicy.rules[0].action: Required value: valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]",
                "spec.podFailurePolicy.rules[1].action: Invalid value: \"FailIndex\": requires the backoffLimitPerIndex to be set",
                "spec.podFailurePolicy.rules[2].action: Unsupported value: \"Retry\": supported values: \"Count\", \"FailIndex\", \"FailJob\", \"Ignore\"",
            ],
        ),
        (
            "podFailurePolicy: both and neither requirement",
            Box::new(|j| {
                let mut both = exit_rule("Ignore", "In", vec![1]);
                both.on_pod_conditions = cond_rule("Ignore", "DisruptionTarget", "True").on_pod_conditions;
                let neither = PodFailurePolicyRule { action: "Ignore".into(), on_exit_codes: None, on_pod_conditions: None };
                spec(j).pod_failure_policy = Some(PodFailurePolicy { rules: vec![both, neither] });
            }),
            vec![
                "spec.podFailurePolicy.rules[0]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported",
                "spec.podFailurePolicy.rules[1]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
            ],
        ),
        (
            "podFailurePolicy: condition patterns",
            Box::new(|j| {
                spec(j).pod_failure_policy = Some(PodFailurePolicy { rules: vec![cond_rule("Ignore", "Bad Type", "Maybe")] });
            }),
            vec![
                "spec.podFailurePolicy.rules[0].onPodConditions[0].type: Invalid value: \"Bad Type\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "spec.podFailurePolicy.rules[0].onPodConditions[0].status: Unsupported value: \"Maybe\": supported values: \"False\", \"True\", \"Unknown\"",
            ],
        ),
        (
            "podFailurePolicy: too many rules",
            Box::new(|j| {
                let rules = (1..=21).map(|i| exit_rule("FailJob", "In", vec![i])).collect();
                spec(j).pod_failure_policy = Some(PodFailurePolicy { rules });
            }),
            vec!["spec.podFailurePolicy.rules: Too many: 21: must have at most 20 items"],
        ),
        (
            "podReplacementPolicy with podFailurePolicy must be Failed",
            Box::new(|j| {
                let s = spec(j);
                s.pod_failure_policy = Some(PodFailurePolicy { rules: vec![exit_rule("FailJob", "In", vec![1])] });
                s.pod_replacement_policy = Some("TerminatingOrFailed".into());
            }),
            vec!["spec.podReplacementPolicy: Unsupported value: \"TerminatingOrFailed\": supported values: \"Failed\""],
        ),
        (
            "podReplacementPolicy unknown",
            Box::new(|j| spec(j).pod_replacement_policy = Some("Never".into())),
            vec!["spec.podReplacementPolicy: Unsupported value: \"Never\": supported values: \"Failed\", \"TerminatingOrFailed\""],
        ),
        (
            "successPolicy needs Indexed",
            Box::new(|j| {
                spec(j).success_policy = Some(SuccessPolicy {
                    rules: vec![SuccessPolicyRule { succeeded_count: Some(1), succeeded_indexes: None }],
                })
            }),
            vec!["spec.successPolicy: Invalid value: {\"rules\":[{\"succeededCount\":1}]}: requires indexed completion mode"],
        ),
        (
            "successPolicy rules",
            Box::new(|j| {
                let s = spec(j);
                s.completion_mode = Some("Indexed".into());
                s.completions = Some(5);
                s.parallelism = Some(5);
                s.success_policy = Some(SuccessPolicy {
                    rules: vec![
                        SuccessPolicyRule { succeeded_count: None, succeeded_indexes: None },
                        SuccessPolicyRule { succeeded_count: Some(3), succeeded_indexes: Some("0-1".into()) },
                        SuccessPolicyRule { succeeded_count: Some(6), succeeded_indexes: None },
                        SuccessPolicyRule { succeeded_count: None, succeeded_indexes: Some("3,1,7".into()) },
                    ],
                });
            }),
            vec![
                "spec.successPolicy.rules[0]: Required value: at least one of succeededCount or succeededIndexes must be specified",
                "spec.successPolicy.rules[1].succeededCount: Invalid value: 3: must be less than or equal to 2 (the number of indexes in the specified succeededIndexes field)",
                "spec.successPolicy.rules[2].succeededCount: Invalid value: 6: must be less than or equal to 5 (the number of specified completions)",
                "spec.successPolicy.rules[3].succeededIndexes: Invalid value: \"3,1,7\": error parsing succeededIndexes: non-increasing order, previous: 3, current: 1",
            ],
        ),
        (
            "managedBy must be a domain-prefixed path of at most 63 characters",
            Box::new(|j| spec(j).managed_by = Some(format!("example.com/{}", "a".repeat(60)))),
            vec!["spec.managedBy: Too long: may not be more than 63 bytes"],
        ),
        (
            "selector must match the template labels",
            Box::new(|j| {
                spec(j).selector = Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([("app".to_string(), "x".to_string())])),
                    match_expressions: None,
                })
            }),
            vec![
                "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"x\",\"batch.kubernetes.io/controller-uid\":\"11111111-2222-3333-4444-555555555555\"}}: `selector` not auto-generated",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"batch.kubernetes.io/controller-uid\":\"11111111-2222-3333-4444-555555555555\", \"batch.kubernetes.io/job-name\":\"pi\", \"controller-uid\":\"11111111-2222-3333-4444-555555555555\", \"job-name\":\"pi\"}: `selector` does not match template `labels`",
            ],
        ),
        (
            "manual selector is not generated and must be present",
            Box::new(|j| spec(j).manual_selector = Some(true)),
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{}: `selector` does not match template `labels`",
            ],
        ),
        (
            "user-set job-name label conflicting with the generated one",
            Box::new(|j| {
                spec(j).template.metadata =
                    Some(ObjectMeta { labels: Some(BTreeMap::from([("job-name".to_string(), "other".to_string())])), ..Default::default() })
            }),
            vec!["spec.template.metadata.labels[job-name]: Invalid value: map[string]string{\"batch.kubernetes.io/controller-uid\":\"11111111-2222-3333-4444-555555555555\", \"batch.kubernetes.io/job-name\":\"pi\", \"controller-uid\":\"11111111-2222-3333-4444-555555555555\", \"job-name\":\"other\"}: must be 'pi'"],
        ),
    ];
    for (name, mutate, want) in cases {
        assert_eq!(create_errors(mutate), want, "case: {name}");
    }
}

fn created_job(mutate: impl FnOnce(&mut Job)) -> Job {
    let mut job = raw_job();
    mutate(&mut job);
    default_job(&mut job);
    prepare_job_for_create(&mut job, UID);
    job.metadata.resource_version = Some("1".into());
    assert!(
        validate_job_create(&job).is_empty(),
        "{:?}",
        validate_job_create(&job)
    );
    job
}

#[test]
fn job_update_rules() {
    let cases: Vec<(&str, Mutator, Mutator, Vec<&str>)> = vec![
        ("parallelism is mutable", Box::new(|_| {}), Box::new(|j| spec(j).parallelism = Some(3)), vec![]),
        (
            "an empty list in the template is not a change",
            Box::new(|_| {}),
            Box::new(|j| pod_spec(j).containers[0].args = Some(vec![])),
            vec![],
        ),
        (
            "completions immutable for NonIndexed",
            Box::new(|_| {}),
            Box::new(|j| spec(j).completions = Some(3)),
            vec!["spec.completions: Invalid value: 3: field is immutable"],
        ),
        (
            "elastic indexed: completions changes with parallelism",
            Box::new(|j| {
                let s = spec(j);
                s.completion_mode = Some("Indexed".into());
                s.completions = Some(2);
                s.parallelism = Some(2);
            }),
            Box::new(|j| {
                let s = spec(j);
                s.completions = Some(4);
                s.parallelism = Some(4);
            }),
            vec![],
        ),
        (
            "elastic indexed: completions alone",
            Box::new(|j| {
                let s = spec(j);
                s.completion_mode = Some("Indexed".into());
                s.completions = Some(2);
                s.parallelism = Some(2);
            }),
            Box::new(|j| spec(j).completions = Some(4)),
            vec!["spec.completions: Invalid value: 4: can only be modified in tandem with spec.parallelism"],
        ),
        (
            "template immutable for a running job",
            Box::new(|_| {}),
            Box::new(|j| pod_spec(j).node_selector = Some(BTreeMap::from([("a".to_string(), "b".to_string())]))),
            vec!["spec.template: Invalid value: "],
        ),
        (
            "scheduling directives mutable while suspended and never started",
            Box::new(|j| spec(j).suspend = Some(true)),
            Box::new(|j| {
                pod_spec(j).node_selector = Some(BTreeMap::from([("a".to_string(), "b".to_string())]));
                pod_spec(j).tolerations =
                    Some(vec![Toleration { key: Some("k".into()), operator: Some("Exists".into()), ..Default::default() }]);
                let labels = spec(j).template.metadata.as_mut().unwrap().labels.as_mut().unwrap();
                labels.insert("extra".into(), "1".into());
            }),
            vec![],
        ),
        (
            "container image in the template is still immutable while suspended",
            Box::new(|j| spec(j).suspend = Some(true)),
            Box::new(|j| pod_spec(j).containers[0].image = Some("perl:5.36".into())),
            vec!["spec.template: Invalid value: "],
        ),
        (
            "completionMode, backoffLimitPerIndex, managedBy immutable",
            Box::new(|_| {}),
            Box::new(|j| spec(j).managed_by = Some("example.com/ctl".into())),
            vec!["spec.managedBy: Invalid value: \"example.com/ctl\": field is immutable"],
        ),
        (
            "server-owned metadata omitted by the client is restored, not rejected",
            Box::new(|j| {
                j.metadata.creation_timestamp = Some(t("2025-01-01T00:00:00Z"));
                j.metadata.generation = Some(3);
            }),
            Box::new(|j| {
                j.metadata.creation_timestamp = None;
                j.metadata.uid = None;
                j.metadata.generation = Some(1);
            }),
            vec![],
        ),
        (
            "metadata.namespace immutable",
            Box::new(|_| {}),
            Box::new(|j| j.metadata.namespace = Some("other".into())),
            vec!["metadata.namespace: Invalid value: \"other\": field is immutable"],
        ),
    ];
    for (name, setup, change, want) in cases {
        let old = created_job(setup);
        let mut new = old.clone();
        change(&mut new);
        let got: Vec<String> = validate_job_update(&new, &old)
            .iter()
            .map(|e| e.to_string())
            .collect();
        // Template errors carry the whole template; compare their prefix.
        let got: Vec<String> = got
            .into_iter()
            .map(|g| {
                if g.starts_with("spec.template: Invalid value: ") {
                    "spec.template: Invalid value: ".to_string()
                } else {
                    g
                }
            })
            .collect();
        assert_eq!(got, want, "case: {name}");
        if !want.is_empty() && want[0] == "spec.template: Invalid value: " {
            let full = validate_job_update(&new, &old)[0].to_string();
            assert!(full.ends_with(": field is immutable"), "{full}");
        }
    }
}

fn t(s: &str) -> Time {
    Time(s.parse().unwrap())
}

fn cond(type_: &str) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: "True".into(),
        ..Default::default()
    }
}

fn status_errors(
    setup: impl FnOnce(&mut Job),
    old_status: JobStatus,
    new_status: JobStatus,
) -> Vec<String> {
    let mut old = created_job(setup);
    old.status = Some(old_status);
    let mut new = old.clone();
    new.status = Some(new_status);
    // A /status write that also tries to change spec has it reset.
    spec(&mut new).parallelism = Some(99);
    prepare_job_status_update(&mut new, &old);
    assert_eq!(new.spec, old.spec);
    validate_job_status_update(&new, &old)
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn job_status_update_rules() {
    let started = || JobStatus {
        start_time: Some(t("2025-01-01T00:00:00Z")),
        ..Default::default()
    };
    let cases: Vec<(&str, Mutator, JobStatus, JobStatus, Vec<&str>)> = vec![
        ("counters may grow", Box::new(|_| {}), started(), JobStatus { active: Some(1), ..started() }, vec![]),
        (
            "negative counters",
            Box::new(|_| {}),
            started(),
            JobStatus { active: Some(-1), ready: Some(-1), terminating: Some(-2), ..started() },
            vec![
                "status.active: Invalid value: -1: must be greater than or equal to 0",
                "status.ready: Invalid value: -1: must be greater than or equal to 0",
                "status.terminating: Invalid value: -2: must be greater than or equal to 0",
            ],
        ),
        (
            "uncounted UIDs: empty and duplicate",
            Box::new(|_| {}),
            started(),
            JobStatus {
                uncounted_terminated_pods: Some(UncountedTerminatedPods {
                    succeeded: Some(vec!["a".into(), "".into()]),
                    failed: Some(vec!["a".into()]),
                }),
                ..started()
            },
            vec![
                "status.uncountedTerminatedPods.succeeded[1]: Invalid value: \"\": must not be empty",
                "status.uncountedTerminatedPods.failed[0]: Duplicate value: \"a\"",
            ],
        ),
        (
            "failed counter cannot decrease",
            Box::new(|_| {}),
            JobStatus { failed: Some(2), ..started() },
            JobStatus { failed: Some(1), ..started() },
            vec!["status.failed: Invalid value: 1: cannot decrease the failed counter"],
        ),
        (
            "complete needs SuccessCriteriaMet and completionTime",
            Box::new(|_| {}),
            started(),
            JobStatus { conditions: Some(vec![cond("Complete")]), succeeded: Some(1), ..started() },
            vec![
                "status.completionTime: Required value: completionTime is required for Complete jobs",
                "status.conditions: Invalid value: cannot set Complete=True condition without the SuccessCriteriaMet=true condition",
            ],
        ),
        (
            "proper completion",
            Box::new(|_| {}),
            JobStatus { conditions: Some(vec![cond("SuccessCriteriaMet")]), ..started() },
            JobStatus {
                conditions: Some(vec![cond("SuccessCriteriaMet"), cond("Complete")]),
                completion_time: Some(t("2025-01-01T00:01:00Z")),
                succeeded: Some(1),
                ..started()
            },
            vec![],
        ),
        (
            "failed needs FailureTarget; finished job cannot have active pods",
            Box::new(|_| {}),
            started(),
            JobStatus { conditions: Some(vec![cond("Failed")]), active: Some(1), ..started() },
            vec![
                "status.conditions: Invalid value: cannot set Failed=True condition without the FailureTarget=true condition",
                "status.active: Invalid value: 1: active>0 is invalid for finished job",
            ],
        ),
        (
            "terminal conditions cannot be removed",
            Box::new(|_| {}),
            JobStatus { conditions: Some(vec![cond("FailureTarget"), cond("Failed")]), ..started() },
            started(),
            vec![
                "status.conditions: Invalid value: cannot disable the terminal Failed=True condition",
                "status.conditions: Invalid value: cannot disable the terminal FailureTarget=True condition",
            ],
        ),
        (
            "SuccessCriteriaMet conflicts with FailureTarget and cannot be removed",
            Box::new(|_| {}),
            JobStatus { conditions: Some(vec![cond("SuccessCriteriaMet")]), ..started() },
            JobStatus { conditions: Some(vec![cond("FailureTarget")]), ..started() },
            vec!["status.conditions: Invalid value: cannot disable the SuccessCriteriaMet=True condition"],
        ),
        (
            "completionTime before startTime",
            Box::new(|_| {}),
            JobStatus { conditions: Some(vec![cond("SuccessCriteriaMet")]), ..started() },
            JobStatus {
                conditions: Some(vec![cond("SuccessCriteriaMet"), cond("Complete")]),
                completion_time: Some(t("2024-12-31T00:00:00Z")),
                ..started()
            },
            vec!["status.completionTime: Invalid value: \"2024-12-31T00:00:00Z\": completionTime cannot be set before startTime"],
        ),
        (
            "startTime cannot change while unsuspended",
            Box::new(|_| {}),
            started(),
            JobStatus { start_time: Some(t("2025-01-02T00:00:00Z")), ..Default::default() },
            vec!["status.startTime: Required value: startTime cannot be removed for unsuspended job"],
        ),
        (
            "startTime can be reset when resuming (Suspended True -> False), kubernetes#135129",
            Box::new(|_| {}),
            JobStatus {
                conditions: Some(vec![cond("Suspended")]),
                ..started()
            },
            JobStatus {
                conditions: Some(vec![JobCondition { status: "False".into(), ..cond("Suspended") }]),
                start_time: Some(t("2025-01-02T00:00:00Z")),
                ..Default::default()
            },
            vec![],
        ),
        (
            "completedIndexes: NonIndexed and malformed",
            Box::new(|_| {}),
            started(),
            JobStatus { completed_indexes: Some("0".into()), ..started() },
            vec!["status.completedIndexes: Invalid value: \"0\": cannot set non-empty completedIndexes when non-indexed completion mode"],
        ),
        (
            "completedIndexes beyond completions; failedIndexes without backoffLimitPerIndex",
            Box::new(|j| {
                let s = spec(j);
                s.completion_mode = Some("Indexed".into());
                s.completions = Some(3);
                s.parallelism = Some(3);
            }),
            started(),
            JobStatus { completed_indexes: Some("0-3".into()), failed_indexes: Some("1".into()), ..started() },
            vec![
                "status.completedIndexes: Invalid value: \"0-3\": error parsing completedIndexes: too large index: \"3\"",
                "status.failedIndexes: Invalid value: \"1\": cannot set non-null failedIndexes when backoffLimitPerIndex is null",
            ],
        ),
        (
            "failed and completed indexes overlap",
            Box::new(|j| {
                let s = spec(j);
                s.completion_mode = Some("Indexed".into());
                s.completions = Some(5);
                s.parallelism = Some(5);
                s.backoff_limit_per_index = Some(1);
            }),
            started(),
            JobStatus { completed_indexes: Some("0-2".into()), failed_indexes: Some("2,4".into()), ..started() },
            vec!["status.failedIndexes: Invalid value: \"2,4\": failedIndexes and completedIndexes overlap at index: 2"],
        ),
    ];
    for (name, setup, old, new, want) in cases {
        assert_eq!(status_errors(setup, old, new), want, "case: {name}");
    }
}

fn raw_pod() -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("p".into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![container("c", "busybox")],
            ..Default::default()
        }),
        status: None,
    }
}

fn pod_errors(mutate: impl FnOnce(&mut PodSpec)) -> Vec<String> {
    let mut pod = raw_pod();
    mutate(pod.spec.as_mut().unwrap());
    default_pod(&mut pod);
    validate_pod_create(&pod)
        .iter()
        .map(|e| e.to_string())
        .collect()
}

fn quantities(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Quantity>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect(),
    )
}

type PodMutator = Box<dyn FnOnce(&mut PodSpec)>;

#[test]
fn pod_spec_rules() {
    let cases: Vec<(&str, PodMutator, Vec<&str>)> = vec![
        ("valid", Box::new(|_| {}), vec![]),
        (
            "container name must be a DNS label and unique",
            Box::new(|s| s.containers = vec![container("c", "a"), container("c", "b"), container("C_1", "d")]),
            vec![
                "spec.containers[1].name: Duplicate value: \"c\"",
                "spec.containers[2].name: Invalid value: \"C_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            ],
        ),
        (
            "init container may not reuse a container name",
            Box::new(|s| s.init_containers = Some(vec![container("c", "x")])),
            vec!["spec.initContainers[0].name: Duplicate value: \"c\""],
        ),
        (
            "restartPolicy unknown",
            Box::new(|s| s.restart_policy = Some("Sometimes".into())),
            vec!["spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""],
        ),
        (
            "env var names: relaxed rule forbids '='",
            Box::new(|s| {
                s.containers[0].env = Some(vec![
                    EnvVar { name: "A=B".into(), ..Default::default() },
                    EnvVar { name: "1.ok-name".into(), ..Default::default() },
                ])
            }),
            vec!["spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='"],
        ),
        (
            "env fieldRef path must be supported",
            Box::new(|s| {
                s.containers[0].env = Some(vec![EnvVar {
                    name: "X".into(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector { api_version: None, field_path: "spec.bogus".into() }),
                        ..Default::default()
                    }),
                }])
            }),
            vec!["spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: \"spec.bogus\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\""],
        ),
        (
            "volumes unique; mounts reference existing volumes",
            Box::new(|s| {
                s.volumes = Some(vec![
                    Volume { name: "data".into(), ..Default::default() },
                    Volume { name: "data".into(), ..Default::default() },
                ]);
                s.containers[0].volume_mounts = Some(vec![
                    VolumeMount { name: "data".into(), mount_path: "/d".into(), ..Default::default() },
                    VolumeMount { name: "missing".into(), mount_path: "/d".into(), ..Default::default() },
                ]);
            }),
            vec![
                "spec.volumes[1].name: Duplicate value: \"data\"",
                "spec.containers[0].volumeMounts[1].name: Not found: \"missing\"",
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/d\": must be unique",
            ],
        ),
        (
            "resources: requests above limits, bad quantity, unknown name",
            Box::new(|s| {
                s.containers[0].resources = Some(ResourceRequirements {
                    limits: quantities(&[("cpu", "500m"), ("memory", "1Gi")]),
                    requests: quantities(&[("cpu", "1"), ("memory", "lots"), ("gpu", "1")]),
                    ..Default::default()
                })
            }),
            vec![
                "spec.containers[0].resources.requests: Invalid value: \"1\": must be less than or equal to cpu limit of 500m",
                "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
                "spec.containers[0].resources.requests[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            ],
        ),
        (
            "resources: negative limit",
            Box::new(|s| {
                s.containers[0].resources = Some(ResourceRequirements { limits: quantities(&[("memory", "-1Mi")]), ..Default::default() })
            }),
            vec![
                "spec.containers[0].resources.limits[memory]: Invalid value: \"-1Mi\": must be greater than or equal to 0",
                "spec.containers[0].resources.requests[memory]: Invalid value: \"-1Mi\": must be greater than or equal to 0",
            ],
        ),
        (
            "ports: range, protocol",
            Box::new(|s| {
                s.containers[0].ports = Some(vec![
                    ContainerPort { container_port: 70000, ..Default::default() },
                    ContainerPort { container_port: 80, protocol: Some("HTTP".into()), ..Default::default() },
                ])
            }),
            vec![
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ],
        ),
        (
            "activeDeadlineSeconds must be positive",
            Box::new(|s| s.active_deadline_seconds = Some(0)),
            vec!["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"],
        ),
        (
            "hostname and subdomain are DNS labels",
            Box::new(|s| {
                s.hostname = Some("a.b".into());
                s.subdomain = Some("x".into());
            }),
            vec!["spec.hostname: Invalid value: \"a.b\": must not contain dots"],
        ),
        (
            "negative grace period is accepted (upstream only warns)",
            Box::new(|s| s.termination_grace_period_seconds = Some(-1)),
            vec![],
        ),
    ];
    for (name, mutate, want) in cases {
        assert_eq!(pod_errors(mutate), want, "case: {name}");
    }
}

#[test]
fn pod_metadata_rules() {
    let mut pod = raw_pod();
    pod.metadata.name = None;
    default_pod(&mut pod);
    let got: Vec<String> = validate_pod_create(&pod)
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        got,
        vec!["metadata.name: Required value: name or generateName is required"]
    );
    let spec = PodSpec {
        termination_grace_period_seconds: Some(-5),
        ..Default::default()
    };
    assert_eq!(
        pod_spec_warnings(&spec, &FieldPath::new("spec")),
        vec!["spec.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will be treated as 1"]
    );
}

#[test]
fn pod_update_rules() {
    let forbidden_prefix = format!(
        "spec: Forbidden: pod updates may not change fields other than {POD_UPDATABLE_FIELDS}\n"
    );
    let cases: Vec<(&str, PodMutator, Vec<String>)> = vec![
        (
            "image may change",
            Box::new(|s| s.containers[0].image = Some("busybox:1.36".into())),
            vec![],
        ),
        (
            "activeDeadlineSeconds may be set",
            Box::new(|s| s.active_deadline_seconds = Some(30)),
            vec![],
        ),
        (
            "an empty list equals an absent one",
            Box::new(|s| s.volumes = Some(vec![])),
            vec![],
        ),
        (
            "tolerations may be added",
            Box::new(|s| {
                s.tolerations.get_or_insert_with(Vec::new).push(Toleration {
                    key: Some("k".into()),
                    operator: Some("Exists".into()),
                    ..Default::default()
                })
            }),
            vec![],
        ),
        (
            "nodeName may not change",
            Box::new(|s| s.node_name = Some("other".into())),
            vec![forbidden_prefix.clone()],
        ),
        (
            "containers may not be added",
            Box::new(|s| s.containers.push(container("d", "x"))),
            vec![
                "spec.containers: Forbidden: pod updates may not add or remove containers"
                    .to_string(),
            ],
        ),
        (
            "image may not be cleared",
            Box::new(|s| s.containers[0].image = None),
            vec!["spec.containers[0].image: Required value".to_string()],
        ),
    ];
    for (name, mutate, want) in cases {
        let mut old = raw_pod();
        default_pod(&mut old);
        old.metadata.resource_version = Some("1".into());
        let mut new = old.clone();
        mutate(new.spec.as_mut().unwrap());
        let got: Vec<String> = validate_pod_update(&new, &old)
            .iter()
            .map(|e| e.to_string())
            .map(|s| {
                if s.starts_with(&forbidden_prefix) {
                    forbidden_prefix.clone()
                } else {
                    s
                }
            })
            .collect();
        assert_eq!(got, want, "case: {name}");
    }
    // activeDeadlineSeconds may only shrink.
    let mut old = raw_pod();
    default_pod(&mut old);
    old.spec.as_mut().unwrap().active_deadline_seconds = Some(10);
    let mut new = old.clone();
    new.spec.as_mut().unwrap().active_deadline_seconds = Some(20);
    let got: Vec<String> = validate_pod_update(&new, &old)
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(got, vec!["spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value"]);
}

#[test]
fn namespace_event_and_aggregate() {
    use k8s_openapi::api::core::v1::{Event, Namespace, ObjectReference};
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("a.b".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let got: Vec<String> = validate_namespace_create(&ns)
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        got,
        vec!["metadata.name: Invalid value: \"a.b\": must not contain dots"]
    );

    let ev = Event {
        metadata: ObjectMeta {
            name: Some("pi.1".into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            namespace: Some("other".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let got: Vec<String> = validate_event_create(&ev)
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        got,
        vec!["involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"]
    );

    let a = FieldError::required(&FieldPath::new("a"), "");
    let b = FieldError::required(&FieldPath::new("b"), "");
    assert_eq!(
        aggregate_message(std::slice::from_ref(&a)),
        "a: Required value"
    );
    assert_eq!(
        aggregate_message(&[a.clone(), b, a]),
        "[a: Required value, b: Required value]"
    );
}

#[test]
fn pod_only_container_checks() {
    let cases: Vec<(&str, PodMutator, Vec<&str>)> = vec![
        (
            "blank-padded image is rejected on a Pod",
            Box::new(|s| s.containers[0].image = Some(" busybox".into())),
            vec!["spec.containers[0].image: Invalid value: \" busybox\": must not have leading or trailing whitespace"],
        ),
        (
            "two volume sources",
            Box::new(|s| {
                s.volumes = Some(vec![Volume {
                    name: "v".into(),
                    empty_dir: Some(Default::default()),
                    host_path: Some(k8s_openapi::api::core::v1::HostPathVolumeSource { path: "/x".into(), type_: None }),
                    ..Default::default()
                }])
            }),
            vec!["spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type"],
        ),
        (
            "hostPath type not supported, path with a backstep",
            Box::new(|s| {
                s.volumes = Some(vec![Volume {
                    name: "v".into(),
                    host_path: Some(k8s_openapi::api::core::v1::HostPathVolumeSource { path: "/x/../y".into(), type_: Some("Dir".into()) }),
                    ..Default::default()
                }])
            }),
            vec![
                "spec.volumes[0].hostPath.path: Invalid value: \"/x/../y\": must not contain '..'",
                "spec.volumes[0].hostPath.type: Unsupported value: \"Dir\": supported values: \"\", \"BlockDevice\", \"CharDevice\", \"Directory\", \"DirectoryOrCreate\", \"File\", \"FileOrCreate\", \"Socket\"",
            ],
        ),
        (
            "hostPath without a path",
            Box::new(|s| {
                s.volumes = Some(vec![Volume {
                    name: "v".into(),
                    host_path: Some(k8s_openapi::api::core::v1::HostPathVolumeSource { path: String::new(), type_: Some("Directory".into()) }),
                    ..Default::default()
                }])
            }),
            vec!["spec.volumes[0].hostPath.path: Required value"],
        ),
        (
            "toleration operator and effect",
            Box::new(|s| {
                s.tolerations = Some(vec![
                    Toleration { key: Some("k".into()), operator: Some("In".into()), ..Default::default() },
                    Toleration {
                        key: Some("k".into()),
                        operator: Some("Exists".into()),
                        effect: Some("NoSchedule".into()),
                        toleration_seconds: Some(5),
                        value: None,
                    },
                ])
            }),
            vec![
                "spec.tolerations[0].operator: Unsupported value: \"In\": supported values: \"Equal\", \"Exists\"",
                "spec.tolerations[1].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
            ],
        ),
    ];
    for (name, mutate, want) in cases {
        assert_eq!(pod_errors(mutate), want, "case: {name}");
    }
    // Templates accept the padded image (upstream keeps it for compatibility).
    assert_eq!(
        create_errors(|j| pod_spec(j).containers[0].image = Some(" perl".into())),
        Vec::<String>::new()
    );
}

/// `validateConfigMapVolumeSource`, `validateSecretVolumeSource`,
/// `validateProjectionSources`, `validateKeyToPath`,
/// `validateConfigMapKeySelector` and `ValidateEnvFrom`.
#[test]
fn config_map_and_secret_references() {
    let errs = |spec: serde_json::Value| {
        pod_errors(|s| {
            let extra: PodSpec = serde_json::from_value(spec).unwrap();
            s.volumes = extra.volumes;
            s.containers[0].env = extra.containers[0].env.clone();
            s.containers[0].env_from = extra.containers[0].env_from.clone();
        })
    };
    let ok = errs(serde_json::json!({"containers": [{"name": "c",
    "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "a.b", "optional": true}}},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
    "envFrom": [{"prefix": "P_", "configMapRef": {"name": "cm"}}, {"secretRef": {"name": "s"}}]}],
    "volumes": [
        {"name": "a", "configMap": {"name": "cm", "defaultMode": 0o400, "items": [{"key": "k", "path": "d/f", "mode": 0o600}]}},
        {"name": "b", "secret": {"secretName": "s"}},
        {"name": "c", "projected": {"sources": [{"configMap": {"name": "cm"}}, {"secret": {"name": "s", "items": [{"key": "k", "path": "x"}]}}]}}
    ]}));
    assert!(ok.is_empty(), "{ok:?}");
    let bad = errs(serde_json::json!({"containers": [{"name": "c",
    "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "Bad_Name", "key": "bad/key"}}},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": ""}}}],
    "envFrom": [{"prefix": "A=", "configMapRef": {"name": "cm"}}, {}]}],
    "volumes": [
        {"name": "a", "configMap": {"name": "", "defaultMode": 0o1000, "items": [{"key": "", "path": "../x", "mode": -1}]}},
        {"name": "b", "secret": {"items": [{"key": "k", "path": "/abs"}, {"key": "k", "path": "..data"}]}},
        {"name": "c", "projected": {"sources": [
            {"configMap": {"name": "cm", "items": [{"key": "k", "path": "p"}]}},
            {"secret": {"name": "s", "items": [{"key": "k", "path": "p"}]}, "configMap": {"name": "x"}}]}}
    ]}));
    let want = [
        "spec.volumes[0].configMap.name: Required value",
        "spec.volumes[0].configMap.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive",
        "spec.volumes[0].configMap.items[0].key: Required value",
        "spec.volumes[0].configMap.items[0].path: Invalid value: \"../x\": must not contain '..'",
        "spec.volumes[0].configMap.items[0].mode: Invalid value: -1: must be a number between 0 and 0777 (octal), both inclusive",
        "spec.volumes[1].secret.secretName: Required value",
        "spec.volumes[1].secret.items[0].path: Invalid value: \"/abs\": must be a relative path",
        "spec.volumes[1].secret.items[1].path: Invalid value: \"..data\": must not start with '..'",
        "spec.volumes[2].projected: Invalid value: \"s\": conflicting duplicate paths",
        "spec.volumes[2].projected.sources[1]: Forbidden: may not specify more than 1 volume type",
        "spec.containers[0].env[0].valueFrom.configMapKeyRef.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        "spec.containers[0].env[0].valueFrom.configMapKeyRef.key: Invalid value: \"bad/key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        "spec.containers[0].env[1].valueFrom.secretKeyRef.key: Required value",
        "spec.containers[0].envFrom[0].prefix: Invalid value: \"A=\": a valid environment variable name must consist only of printable ASCII characters other than '='",
        "spec.containers[0].envFrom: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`",
    ];
    assert_eq!(bad, want);
}
