//! Decoding Kubernetes protobuf request bodies into JSON.
//!
//! From kubectl 1.32 on, typed client-go calls send protobuf bodies
//! (kubernetes/kubernetes PR #125314); `kubectl create job x --image=busybox`
//! is one of them and does not fall back to JSON after a 415. Everything else
//! in joblite speaks JSON, so we decode the envelope and turn the object into
//! the JSON shape k8s-openapi (de)serializes, and the handler carries on as if
//! JSON had been posted.
//!
//! Envelope (upstream `staging/src/k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go`):
//! the 4 bytes `k8s\0`, then a `runtime.Unknown` message whose `raw` holds
//! the object (`batch.v1.Job`, `core.v1.Pod`).
//!
//! The object inside is converted by the kind's strategy
//! (`Strategy::decode_protobuf`, with the helpers of `api::protobuf`).

use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{Map, Value};

/// The 4-byte prefix of every Kubernetes protobuf envelope.
pub(crate) const MAGIC: &[u8; 4] = b"k8s\0";

/// Why a protobuf body could not be turned into JSON.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProtobufError {
    #[error("protobuf body does not start with the Kubernetes magic prefix \"k8s\\x00\"")]
    MissingMagic,
    #[error("cannot decode protobuf envelope (runtime.Unknown): {0}")]
    Envelope(#[source] prost::DecodeError),
    #[error("protobuf envelope has no apiVersion/kind")]
    MissingTypeMeta,
    #[error("protobuf envelope content encoding {0:?} is not supported")]
    UnsupportedEncoding(String),
    #[error("protobuf bodies of {kind} ({api_version}) are not supported; send JSON")]
    UnsupportedKind { api_version: String, kind: String },
    #[error("cannot decode protobuf {kind}: {source}")]
    Object {
        kind: String,
        #[source]
        source: prost::DecodeError,
    },
}

/// The `apiVersion` and `kind` an envelope declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeMeta {
    pub api_version: String,
    pub kind: String,
}

/// Splits an envelope into its type and the raw object bytes.
pub(crate) fn decode_envelope(body: &[u8]) -> Result<(TypeMeta, Vec<u8>), ProtobufError> {
    let rest = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or(ProtobufError::MissingMagic)?;
    let unknown = Unknown::decode(rest).map_err(ProtobufError::Envelope)?;
    if let Some(enc) = unknown.content_encoding.filter(|e| !e.is_empty()) {
        return Err(ProtobufError::UnsupportedEncoding(enc));
    }
    let tm = unknown.type_meta.ok_or(ProtobufError::MissingTypeMeta)?;
    let api_version = tm.api_version.unwrap_or_default();
    let kind = tm.kind.unwrap_or_default();
    if api_version.is_empty() || kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta);
    }
    Ok((
        TypeMeta { api_version, kind },
        unknown.raw.unwrap_or_default(),
    ))
}

/// Decodes a protobuf request body into the JSON object (with `apiVersion`
/// and `kind`) that the same request would have carried as JSON. The kind's
/// strategy converts the object; kinds without a protobuf form are
/// [`ProtobufError::UnsupportedKind`].
pub(crate) fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let (tm, raw) = decode_envelope(body)?;
    let converted = api::resources::by_kind(&tm.api_version, &tm.kind)
        .and_then(|info| info.strategy.decode_protobuf(&raw));
    let Some(converted) = converted else {
        return Err(ProtobufError::UnsupportedKind {
            api_version: tm.api_version,
            kind: tm.kind,
        });
    };
    let mut obj = converted.map_err(|source| ProtobufError::Object {
        kind: tm.kind.clone(),
        source,
    })?;
    // TypeMeta first, as Go's encoder writes it.
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(tm.api_version));
    out.insert("kind".into(), Value::String(tm.kind));
    out.append(&mut obj);
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_pb::api::batch::v1 as batch;
    use k8s_pb::api::core::v1 as core;
    use k8s_pb::apimachinery::pkg::api::resource::Quantity;
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
    use k8s_pb::apimachinery::pkg::runtime::TypeMeta as PbTypeMeta;
    use serde_json::json;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = Unknown {
            type_meta: Some(PbTypeMeta {
                api_version: s(api_version),
                kind: s(kind),
            }),
            raw: Some(raw),
            content_encoding: s(""),
            content_type: s(""),
        };
        let mut body = MAGIC.to_vec();
        body.extend(unknown.encode_to_vec());
        body
    }

    /// Empty ObjectMeta as gogo-protobuf writes it: every non-pointer field
    /// present with its zero value, `creationTimestamp {}`.
    fn zero_meta(name: &str) -> meta::ObjectMeta {
        meta::ObjectMeta {
            name: s(name),
            generate_name: s(""),
            namespace: s(""),
            self_link: s(""),
            uid: s(""),
            resource_version: s(""),
            generation: Some(0),
            creation_timestamp: Some(meta::Time::default()),
            ..Default::default()
        }
    }

    /// The body of `kubectl create job pbjob --image=busybox -- echo hi`
    /// (kubectl 1.32), as decoded in kubectl-api-surface.md Appendix C.
    fn create_job_body() -> Vec<u8> {
        let job = batch::Job {
            metadata: Some(zero_meta("pbjob")),
            spec: Some(batch::JobSpec {
                template: Some(core::PodTemplateSpec {
                    metadata: Some(zero_meta("")),
                    spec: Some(core::PodSpec {
                        containers: vec![core::Container {
                            name: s("pbjob"),
                            image: s("busybox"),
                            command: vec!["echo".into(), "hi".into()],
                            working_dir: s(""),
                            resources: Some(core::ResourceRequirements::default()),
                            termination_message_path: s(""),
                            termination_message_policy: s(""),
                            image_pull_policy: s(""),
                            stdin: Some(false),
                            stdin_once: Some(false),
                            tty: Some(false),
                            ..Default::default()
                        }],
                        restart_policy: s("Never"),
                        dns_policy: s(""),
                        service_account_name: s(""),
                        service_account: s(""),
                        node_name: s(""),
                        host_network: Some(false),
                        host_pid: Some(false),
                        host_ipc: Some(false),
                        hostname: s(""),
                        subdomain: s(""),
                        scheduler_name: s(""),
                        priority_class_name: s(""),
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }),
            status: Some(batch::JobStatus {
                active: Some(0),
                succeeded: Some(0),
                failed: Some(0),
                completed_indexes: s(""),
                ..Default::default()
            }),
        };
        envelope("batch/v1", "Job", job.encode_to_vec())
    }

    /// The exact 166-byte body kubectl 1.32.4 sent for
    /// `kubectl create job pbjob --image=busybox -- echo hi`, captured from
    /// a fake server (same structure as kubectl-api-surface.md Appendix C).
    const KUBECTL_132_CREATE_JOB: &[u8] = &[
        0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x08, 0x62, 0x61, 0x74, 0x63, 0x68, 0x2f, 0x76,
        0x31, 0x12, 0x03, 0x4a, 0x6f, 0x62, 0x12, 0x8a, 0x01, 0x0a, 0x15, 0x0a, 0x05, 0x70, 0x62,
        0x6a, 0x6f, 0x62, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00,
        0x42, 0x00, 0x12, 0x67, 0x32, 0x65, 0x0a, 0x10, 0x0a, 0x00, 0x12, 0x00, 0x1a, 0x00, 0x22,
        0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x12, 0x51, 0x12, 0x2e, 0x0a, 0x05,
        0x70, 0x62, 0x6a, 0x6f, 0x62, 0x12, 0x07, 0x62, 0x75, 0x73, 0x79, 0x62, 0x6f, 0x78, 0x1a,
        0x04, 0x65, 0x63, 0x68, 0x6f, 0x1a, 0x02, 0x68, 0x69, 0x2a, 0x00, 0x42, 0x00, 0x6a, 0x00,
        0x72, 0x00, 0x80, 0x01, 0x00, 0x88, 0x01, 0x00, 0x90, 0x01, 0x00, 0xa2, 0x01, 0x00, 0x1a,
        0x05, 0x4e, 0x65, 0x76, 0x65, 0x72, 0x32, 0x00, 0x42, 0x00, 0x4a, 0x00, 0x52, 0x00, 0x58,
        0x00, 0x60, 0x00, 0x68, 0x00, 0x82, 0x01, 0x00, 0x8a, 0x01, 0x00, 0x9a, 0x01, 0x00, 0xc2,
        0x01, 0x00, 0x1a, 0x08, 0x20, 0x00, 0x28, 0x00, 0x30, 0x00, 0x3a, 0x00, 0x1a, 0x00, 0x22,
        0x00,
    ];

    #[test]
    fn captured_kubectl_132_create_job_body() {
        assert_eq!(KUBECTL_132_CREATE_JOB.len(), 166);
        let got = decode(KUBECTL_132_CREATE_JOB).unwrap();
        let want = json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pbjob"},
            "spec":{"template":{"spec":{"containers":[{"name":"pbjob","image":"busybox","command":["echo","hi"]}],
            "restartPolicy":"Never"}}}});
        assert_eq!(got, want);
        // Our prost-built replica decodes identically.
        assert_eq!(decode(&create_job_body()).unwrap(), want);
    }

    #[test]
    fn kubectl_create_job_body_decodes_to_kubectl_131_json() {
        let body = create_job_body();
        assert_eq!(&body[..4], b"k8s\0");
        let got = decode(&body).unwrap();
        // What kubectl 1.31 sends as JSON for the same command, minus the
        // nulls/empties Go writes (creationTimestamp, resources, status).
        let want = json!({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pbjob"},
            "spec":{"template":{"spec":{"containers":[{"name":"pbjob","image":"busybox","command":["echo","hi"]}],
            "restartPolicy":"Never"}}}});
        assert_eq!(got, want);
        // And it is a valid k8s-openapi Job.
        let job: k8s_openapi::api::batch::v1::Job = serde_json::from_value(got).unwrap();
        assert_eq!(job.metadata.name.as_deref(), Some("pbjob"));
    }

    #[test]
    fn pointer_zeroes_survive_and_value_zeroes_do_not() {
        let job = batch::Job {
            metadata: Some(meta::ObjectMeta {
                name: s("j"),
                namespace: s("ns"),
                labels: [("a".to_string(), "b".to_string())].into(),
                annotations: [("k".to_string(), "v".to_string())].into(),
                finalizers: vec!["f".into()],
                owner_references: vec![meta::OwnerReference {
                    api_version: s("v1"),
                    kind: s("X"),
                    name: s("x"),
                    uid: s("u"),
                    controller: Some(true),
                    block_owner_deletion: None,
                }],
                creation_timestamp: Some(meta::Time {
                    seconds: Some(1_700_000_000),
                    nanos: Some(0),
                }),
                ..Default::default()
            }),
            spec: Some(batch::JobSpec {
                parallelism: Some(0),
                completions: Some(3),
                backoff_limit: Some(0),
                suspend: Some(false),
                completion_mode: s("Indexed"),
                selector: Some(meta::LabelSelector {
                    match_labels: [("a".to_string(), "b".to_string())].into(),
                    match_expressions: vec![],
                }),
                pod_failure_policy: Some(batch::PodFailurePolicy {
                    rules: vec![batch::PodFailurePolicyRule {
                        action: s("FailJob"),
                        on_exit_codes: Some(batch::PodFailurePolicyOnExitCodesRequirement {
                            container_name: None,
                            operator: s("In"),
                            values: vec![42],
                        }),
                        on_pod_conditions: vec![],
                    }],
                }),
                template: Some(core::PodTemplateSpec {
                    metadata: None,
                    spec: Some(core::PodSpec {
                        containers: vec![core::Container {
                            name: s("c"),
                            env: vec![
                                core::EnvVar {
                                    name: s("A"),
                                    value: s("1"),
                                    value_from: None,
                                },
                                core::EnvVar {
                                    name: s("POD"),
                                    value: s(""),
                                    value_from: Some(core::EnvVarSource {
                                        field_ref: Some(core::ObjectFieldSelector {
                                            api_version: s("v1"),
                                            field_path: s("metadata.name"),
                                        }),
                                        ..Default::default()
                                    }),
                                },
                            ],
                            resources: Some(core::ResourceRequirements {
                                limits: [("cpu".to_string(), Quantity { string: s("500m") })]
                                    .into(),
                                ..Default::default()
                            }),
                            ports: vec![core::ContainerPort {
                                container_port: Some(8080),
                                host_port: Some(0),
                                ..Default::default()
                            }],
                            volume_mounts: vec![core::VolumeMount {
                                name: s("scratch"),
                                mount_path: s("/scratch"),
                                read_only: Some(false),
                                ..Default::default()
                            }],
                            ..Default::default()
                        }],
                        volumes: vec![core::Volume {
                            name: s("scratch"),
                            volume_source: Some(core::VolumeSource {
                                empty_dir: Some(core::EmptyDirVolumeSource::default()),
                                ..Default::default()
                            }),
                        }],
                        termination_grace_period_seconds: Some(0),
                        restart_policy: s("OnFailure"),
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }),
            status: None,
        };
        let got = decode(&envelope("batch/v1", "Job", job.encode_to_vec())).unwrap();
        let want = json!({"apiVersion":"batch/v1","kind":"Job",
            "metadata":{"name":"j","namespace":"ns","creationTimestamp":"2023-11-14T22:13:20Z",
                "labels":{"a":"b"},"annotations":{"k":"v"},
                "ownerReferences":[{"apiVersion":"v1","kind":"X","name":"x","uid":"u","controller":true}],
                "finalizers":["f"]},
            "spec":{"parallelism":0,"completions":3,
                "podFailurePolicy":{"rules":[{"action":"FailJob","onExitCodes":{"operator":"In","values":[42]}}]},
                "backoffLimit":0,"selector":{"matchLabels":{"a":"b"}},
                "template":{"spec":{
                    "volumes":[{"name":"scratch","emptyDir":{}}],
                    "containers":[{"name":"c","ports":[{"containerPort":8080}],
                        "env":[{"name":"A","value":"1"},{"name":"POD","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}}],
                        "resources":{"limits":{"cpu":"500m"}},
                        "volumeMounts":[{"name":"scratch","mountPath":"/scratch"}]}],
                    "restartPolicy":"OnFailure","terminationGracePeriodSeconds":0}},
                "completionMode":"Indexed","suspend":false}});
        assert_eq!(got, want);
        let _: k8s_openapi::api::batch::v1::Job = serde_json::from_value(got).unwrap();
    }

    #[test]
    fn pod_body_decodes() {
        let pod = core::Pod {
            metadata: Some(zero_meta("x")),
            spec: Some(core::PodSpec {
                containers: vec![core::Container {
                    name: s("x"),
                    image: s("busybox"),
                    args: vec!["echo".into(), "hi".into()],
                    ..Default::default()
                }],
                restart_policy: s("OnFailure"),
                dns_policy: s("ClusterFirst"),
                ..Default::default()
            }),
            status: None,
        };
        let got = decode(&envelope("v1", "Pod", pod.encode_to_vec())).unwrap();
        assert_eq!(
            got,
            json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},
                "spec":{"containers":[{"name":"x","image":"busybox","args":["echo","hi"]}],
                    "restartPolicy":"OnFailure","dnsPolicy":"ClusterFirst"}})
        );
    }

    #[test]
    fn errors() {
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("no magic", b"{\"kind\":\"Job\"}".to_vec(), "magic prefix"),
            (
                "garbage envelope",
                [MAGIC.as_slice(), &[0xff, 0xff, 0xff]].concat(),
                "envelope",
            ),
            (
                "unsupported kind",
                envelope("v1", "Event", vec![]),
                "Event (v1) are not supported",
            ),
            (
                "bad object bytes",
                envelope("batch/v1", "Job", vec![0x0a, 0x05, 0x01]),
                "cannot decode protobuf Job",
            ),
            (
                "no type meta",
                [MAGIC.as_slice(), &Unknown::default().encode_to_vec()].concat(),
                "no apiVersion/kind",
            ),
        ];
        for (name, body, want) in cases {
            let err = decode(&body).expect_err(name).to_string();
            assert!(err.contains(want), "{name}: {err}");
        }
        let mut gz = envelope("batch/v1", "Job", vec![]);
        // Re-encode with a content encoding.
        let unknown = Unknown {
            type_meta: Some(PbTypeMeta {
                api_version: s("batch/v1"),
                kind: s("Job"),
            }),
            raw: Some(vec![]),
            content_encoding: s("gzip"),
            content_type: None,
        };
        gz.truncate(4);
        gz.extend(unknown.encode_to_vec());
        assert!(matches!(
            decode(&gz),
            Err(ProtobufError::UnsupportedEncoding(e)) if e == "gzip"
        ));
    }
}
