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
//! gogo-protobuf writes every non-pointer Go field even when zero, so a field
//! being present on the wire does not mean it was set. The converters below
//! therefore follow the Go JSON tags of `staging/src/k8s.io/api/{core,batch}/v1/types.go`:
//! pointer fields are emitted whenever present (a `backoffLimit: 0` must
//! survive), `omitempty` value fields only when non-zero, and required fields
//! always. Fields outside the converted subset (probes, lifecycle, affinity,
//! ephemeral containers, exotic volume sources) are dropped.

use std::collections::BTreeMap;

use k8s_pb::api::batch::v1 as batch;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::{Map, Value};

/// Request Content-Type of a protobuf body.
pub const PROTOBUF_CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The 4-byte prefix of every Kubernetes protobuf envelope.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Why a protobuf body could not be turned into JSON.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
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
pub struct TypeMeta {
    pub api_version: String,
    pub kind: String,
}

/// Splits an envelope into its type and the raw object bytes.
pub fn decode_envelope(body: &[u8]) -> Result<(TypeMeta, Vec<u8>), ProtobufError> {
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
/// and `kind`) that the same request would have carried as JSON.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let (tm, raw) = decode_envelope(body)?;
    let object_err = |source| ProtobufError::Object {
        kind: tm.kind.clone(),
        source,
    };
    let mut obj = match (tm.api_version.as_str(), tm.kind.as_str()) {
        ("batch/v1", "Job") => {
            job_to_json(&batch::Job::decode(raw.as_slice()).map_err(object_err)?)
        }
        ("v1", "Pod") => pod_to_json(&core::Pod::decode(raw.as_slice()).map_err(object_err)?),
        // `kubectl create namespace` sends protobuf too.
        ("v1", "Namespace") => {
            namespace_to_json(&core::Namespace::decode(raw.as_slice()).map_err(object_err)?)
        }
        _ => {
            return Err(ProtobufError::UnsupportedKind {
                api_version: tm.api_version,
                kind: tm.kind,
            })
        }
    };
    // TypeMeta first, as Go's encoder writes it.
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(tm.api_version));
    out.insert("kind".into(), Value::String(tm.kind));
    out.append(&mut obj);
    Ok(Value::Object(out))
}

/// A JSON object under construction, with one method per Go tag style.
#[derive(Default)]
struct Obj(Map<String, Value>);

impl Obj {
    /// Pointer field (`*T`, `omitempty`): present means set.
    fn ptr<T: Into<Value>>(&mut self, k: &str, v: Option<T>) -> &mut Self {
        if let Some(v) = v {
            self.0.insert(k.into(), v.into());
        }
        self
    }
    /// Value string with `omitempty`.
    fn s(&mut self, k: &str, v: &Option<String>) -> &mut Self {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            self.0.insert(k.into(), Value::String(v.to_string()));
        }
        self
    }
    /// Required string (no `omitempty`): always written.
    fn req_s(&mut self, k: &str, v: &Option<String>) -> &mut Self {
        self.0
            .insert(k.into(), Value::String(v.clone().unwrap_or_default()));
        self
    }
    /// Value integer with `omitempty`.
    fn n<T: Into<i64> + Copy>(&mut self, k: &str, v: Option<T>) -> &mut Self {
        if let Some(v) = v.map(Into::into).filter(|v| *v != 0) {
            self.0.insert(k.into(), Value::from(v));
        }
        self
    }
    /// Required integer.
    fn req_n<T: Into<i64> + Copy>(&mut self, k: &str, v: Option<T>) -> &mut Self {
        self.0
            .insert(k.into(), Value::from(v.map(Into::into).unwrap_or(0)));
        self
    }
    /// Value bool with `omitempty`.
    fn b(&mut self, k: &str, v: Option<bool>) -> &mut Self {
        if v == Some(true) {
            self.0.insert(k.into(), Value::Bool(true));
        }
        self
    }
    /// List (`omitempty`).
    fn list<T>(&mut self, k: &str, items: &[T], f: impl Fn(&T) -> Value) -> &mut Self {
        if !items.is_empty() {
            self.0
                .insert(k.into(), Value::Array(items.iter().map(f).collect()));
        }
        self
    }
    fn strings(&mut self, k: &str, items: &[String]) -> &mut Self {
        self.list(k, items, |s| Value::String(s.clone()))
    }
    /// `map[string]string` (`omitempty`).
    fn smap(&mut self, k: &str, m: &BTreeMap<String, String>) -> &mut Self {
        if !m.is_empty() {
            let m: Map<String, Value> = m
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            self.0.insert(k.into(), Value::Object(m));
        }
        self
    }
    /// `map[ResourceName]Quantity` (`omitempty`).
    fn qmap(&mut self, k: &str, m: &BTreeMap<String, Quantity>) -> &mut Self {
        if !m.is_empty() {
            let m: Map<String, Value> = m.iter().map(|(k, q)| (k.clone(), quantity(q))).collect();
            self.0.insert(k.into(), Value::Object(m));
        }
        self
    }
    /// Pointer to a message: present means set, even if empty (`emptyDir: {}`).
    fn msg<T>(&mut self, k: &str, v: &Option<T>, f: impl Fn(&T) -> Value) -> &mut Self {
        if let Some(v) = v {
            self.0.insert(k.into(), f(v));
        }
        self
    }
    /// Non-pointer struct: written only when it has content.
    fn inline_msg<T>(&mut self, k: &str, v: &Option<T>, f: impl Fn(&T) -> Value) -> &mut Self {
        if let Some(v) = v {
            let v = f(v);
            if v.as_object().is_none_or(|m| !m.is_empty()) {
                self.0.insert(k.into(), v);
            }
        }
        self
    }
    fn done(&mut self) -> Value {
        Value::Object(std::mem::take(&mut self.0))
    }
}

fn quantity(q: &Quantity) -> Value {
    Value::String(q.string.clone().unwrap_or_else(|| "0".into()))
}

/// `metav1.Time`: an unset (zero) time travels as an empty message and is
/// `null` in JSON; we leave it out.
fn time(t: &meta::Time) -> Option<Value> {
    let secs = t.seconds.unwrap_or(0);
    let nanos = t.nanos.unwrap_or(0);
    if t.seconds.is_none() && nanos == 0 {
        return None;
    }
    let dt = chrono::DateTime::from_timestamp(secs, 0)?;
    Some(Value::String(dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
}

fn object_meta(m: &meta::ObjectMeta) -> Value {
    let mut o = Obj::default();
    o.s("name", &m.name)
        .s("generateName", &m.generate_name)
        .s("namespace", &m.namespace)
        .s("selfLink", &m.self_link)
        .s("uid", &m.uid)
        .s("resourceVersion", &m.resource_version)
        .n("generation", m.generation);
    if let Some(t) = m.creation_timestamp.as_ref().and_then(time) {
        o.0.insert("creationTimestamp".into(), t);
    }
    if let Some(t) = m.deletion_timestamp.as_ref().and_then(time) {
        o.0.insert("deletionTimestamp".into(), t);
    }
    o.ptr(
        "deletionGracePeriodSeconds",
        m.deletion_grace_period_seconds,
    )
    .smap("labels", &m.labels)
    .smap("annotations", &m.annotations)
    .list("ownerReferences", &m.owner_references, owner_reference)
    .strings("finalizers", &m.finalizers)
    .done()
}

fn owner_reference(r: &meta::OwnerReference) -> Value {
    Obj::default()
        .req_s("apiVersion", &r.api_version)
        .req_s("kind", &r.kind)
        .req_s("name", &r.name)
        .req_s("uid", &r.uid)
        .ptr("controller", r.controller)
        .ptr("blockOwnerDeletion", r.block_owner_deletion)
        .done()
}

fn label_selector(s: &meta::LabelSelector) -> Value {
    Obj::default()
        .smap("matchLabels", &s.match_labels)
        .list("matchExpressions", &s.match_expressions, |r| {
            Obj::default()
                .req_s("key", &r.key)
                .req_s("operator", &r.operator)
                .strings("values", &r.values)
                .done()
        })
        .done()
}

/// `batch/v1` Job (metadata, spec, status) without TypeMeta.
pub fn job_to_json(job: &batch::Job) -> Map<String, Value> {
    let mut o = Obj::default();
    o.inline_msg("metadata", &job.metadata, object_meta)
        .inline_msg("spec", &job.spec, job_spec)
        .inline_msg("status", &job.status, job_status);
    o.0
}

fn job_spec(s: &batch::JobSpec) -> Value {
    let mut o = Obj::default();
    o.ptr("parallelism", s.parallelism)
        .ptr("completions", s.completions)
        .ptr("activeDeadlineSeconds", s.active_deadline_seconds)
        .msg(
            "podFailurePolicy",
            &s.pod_failure_policy,
            pod_failure_policy,
        )
        .msg("successPolicy", &s.success_policy, success_policy)
        .ptr("backoffLimit", s.backoff_limit)
        .ptr("backoffLimitPerIndex", s.backoff_limit_per_index)
        .ptr("maxFailedIndexes", s.max_failed_indexes)
        .msg("selector", &s.selector, label_selector)
        .ptr("manualSelector", s.manual_selector);
    // `template` is required (`json:"template"`).
    o.0.insert(
        "template".into(),
        s.template
            .as_ref()
            .map(pod_template_spec)
            .unwrap_or_else(|| Value::Object(Map::new())),
    );
    o.ptr("ttlSecondsAfterFinished", s.ttl_seconds_after_finished)
        .ptr("completionMode", s.completion_mode.clone())
        .ptr("suspend", s.suspend)
        .ptr("podReplacementPolicy", s.pod_replacement_policy.clone())
        .ptr("managedBy", s.managed_by.clone())
        .done()
}

fn pod_failure_policy(p: &batch::PodFailurePolicy) -> Value {
    let rules: Vec<Value> = p
        .rules
        .iter()
        .map(|r| {
            Obj::default()
                .req_s("action", &r.action)
                .msg("onExitCodes", &r.on_exit_codes, |e| {
                    let mut o = Obj::default();
                    o.ptr("containerName", e.container_name.clone())
                        .req_s("operator", &e.operator);
                    o.0.insert("values".into(), Value::from(e.values.clone()));
                    o.done()
                })
                .list("onPodConditions", &r.on_pod_conditions, |c| {
                    Obj::default()
                        .req_s("type", &c.r#type)
                        .req_s("status", &c.status)
                        .done()
                })
                .done()
        })
        .collect();
    serde_json::json!({ "rules": rules })
}

fn success_policy(p: &batch::SuccessPolicy) -> Value {
    let rules: Vec<Value> = p
        .rules
        .iter()
        .map(|r| {
            Obj::default()
                .ptr("succeededIndexes", r.succeeded_indexes.clone())
                .ptr("succeededCount", r.succeeded_count)
                .done()
        })
        .collect();
    serde_json::json!({ "rules": rules })
}

fn job_status(s: &batch::JobStatus) -> Value {
    let mut o = Obj::default();
    o.list("conditions", &s.conditions, |c| {
        let mut o = Obj::default();
        o.req_s("type", &c.r#type).req_s("status", &c.status);
        if let Some(t) = c.last_probe_time.as_ref().and_then(time) {
            o.0.insert("lastProbeTime".into(), t);
        }
        if let Some(t) = c.last_transition_time.as_ref().and_then(time) {
            o.0.insert("lastTransitionTime".into(), t);
        }
        o.s("reason", &c.reason).s("message", &c.message).done()
    });
    if let Some(t) = s.start_time.as_ref().and_then(time) {
        o.0.insert("startTime".into(), t);
    }
    if let Some(t) = s.completion_time.as_ref().and_then(time) {
        o.0.insert("completionTime".into(), t);
    }
    o.n("active", s.active)
        .n("succeeded", s.succeeded)
        .n("failed", s.failed)
        .ptr("terminating", s.terminating)
        .s("completedIndexes", &s.completed_indexes)
        .ptr("failedIndexes", s.failed_indexes.clone())
        .msg(
            "uncountedTerminatedPods",
            &s.uncounted_terminated_pods,
            |u| {
                Obj::default()
                    .strings("succeeded", &u.succeeded)
                    .strings("failed", &u.failed)
                    .done()
            },
        )
        .ptr("ready", s.ready)
        .done()
}

/// core/v1 Pod (metadata and spec; a client never sends a meaningful
/// status on create) without TypeMeta.
pub fn pod_to_json(pod: &core::Pod) -> Map<String, Value> {
    let mut o = Obj::default();
    o.inline_msg("metadata", &pod.metadata, object_meta)
        .inline_msg("spec", &pod.spec, pod_spec);
    o.0
}

/// core/v1 Namespace (metadata; spec and status are server-owned) without TypeMeta.
pub fn namespace_to_json(ns: &core::Namespace) -> Map<String, Value> {
    let mut o = Obj::default();
    o.inline_msg("metadata", &ns.metadata, object_meta);
    o.0
}

fn pod_template_spec(t: &core::PodTemplateSpec) -> Value {
    Obj::default()
        .inline_msg("metadata", &t.metadata, object_meta)
        .inline_msg("spec", &t.spec, pod_spec)
        .done()
}

fn pod_spec(s: &core::PodSpec) -> Value {
    let mut o = Obj::default();
    o.list("volumes", &s.volumes, volume)
        .list("initContainers", &s.init_containers, container);
    // `containers` is required (`json:"containers"`).
    o.0.insert(
        "containers".into(),
        Value::Array(s.containers.iter().map(container).collect()),
    );
    o.s("restartPolicy", &s.restart_policy)
        .ptr(
            "terminationGracePeriodSeconds",
            s.termination_grace_period_seconds,
        )
        .ptr("activeDeadlineSeconds", s.active_deadline_seconds)
        .s("dnsPolicy", &s.dns_policy)
        .smap("nodeSelector", &s.node_selector)
        .s("serviceAccountName", &s.service_account_name)
        .s("serviceAccount", &s.service_account)
        .ptr(
            "automountServiceAccountToken",
            s.automount_service_account_token,
        )
        .s("nodeName", &s.node_name)
        .b("hostNetwork", s.host_network)
        .b("hostPID", s.host_pid)
        .b("hostIPC", s.host_ipc)
        .ptr("shareProcessNamespace", s.share_process_namespace)
        .msg("securityContext", &s.security_context, pod_security_context)
        .list("imagePullSecrets", &s.image_pull_secrets, |r| {
            Obj::default().s("name", &r.name).done()
        })
        .s("hostname", &s.hostname)
        .s("subdomain", &s.subdomain)
        .s("schedulerName", &s.scheduler_name)
        .list("tolerations", &s.tolerations, |t| {
            Obj::default()
                .s("key", &t.key)
                .s("operator", &t.operator)
                .s("value", &t.value)
                .s("effect", &t.effect)
                .ptr("tolerationSeconds", t.toleration_seconds)
                .done()
        })
        .s("priorityClassName", &s.priority_class_name)
        .ptr("priority", s.priority)
        .ptr("runtimeClassName", s.runtime_class_name.clone())
        .ptr("enableServiceLinks", s.enable_service_links)
        .ptr("preemptionPolicy", s.preemption_policy.clone())
        .ptr("setHostnameAsFQDN", s.set_hostname_as_fqdn)
        .ptr("hostUsers", s.host_users)
        .msg("resources", &s.resources, resource_requirements)
        .done()
}

fn local_name(r: &Option<core::LocalObjectReference>) -> Option<String> {
    r.as_ref().and_then(|r| r.name.clone())
}

fn volume(v: &core::Volume) -> Value {
    let mut o = Obj::default();
    o.req_s("name", &v.name);
    if let Some(src) = &v.volume_source {
        o.msg("hostPath", &src.host_path, |h| {
            Obj::default()
                .req_s("path", &h.path)
                .ptr("type", h.r#type.clone())
                .done()
        })
        .msg("emptyDir", &src.empty_dir, |e| {
            Obj::default()
                .s("medium", &e.medium)
                .msg("sizeLimit", &e.size_limit, quantity)
                .done()
        })
        .msg("secret", &src.secret, |s| {
            Obj::default()
                .s("secretName", &s.secret_name)
                .list("items", &s.items, key_to_path)
                .ptr("defaultMode", s.default_mode)
                .ptr("optional", s.optional)
                .done()
        })
        .msg("configMap", &src.config_map, |c| {
            Obj::default()
                .s("name", &local_name(&c.local_object_reference))
                .list("items", &c.items, key_to_path)
                .ptr("defaultMode", c.default_mode)
                .ptr("optional", c.optional)
                .done()
        });
    }
    o.done()
}

fn key_to_path(k: &core::KeyToPath) -> Value {
    Obj::default()
        .req_s("key", &k.key)
        .req_s("path", &k.path)
        .ptr("mode", k.mode)
        .done()
}

fn pod_security_context(s: &core::PodSecurityContext) -> Value {
    let mut o = Obj::default();
    o.ptr("runAsUser", s.run_as_user)
        .ptr("runAsGroup", s.run_as_group)
        .ptr("runAsNonRoot", s.run_as_non_root);
    if !s.supplemental_groups.is_empty() {
        o.0.insert(
            "supplementalGroups".into(),
            Value::from(s.supplemental_groups.clone()),
        );
    }
    o.ptr(
        "supplementalGroupsPolicy",
        s.supplemental_groups_policy.clone(),
    )
    .ptr("fsGroup", s.fs_group)
    .ptr("fsGroupChangePolicy", s.fs_group_change_policy.clone())
    .done()
}

fn security_context(s: &core::SecurityContext) -> Value {
    Obj::default()
        .msg("capabilities", &s.capabilities, |c| {
            Obj::default()
                .strings("add", &c.add)
                .strings("drop", &c.drop)
                .done()
        })
        .ptr("privileged", s.privileged)
        .ptr("runAsUser", s.run_as_user)
        .ptr("runAsGroup", s.run_as_group)
        .ptr("runAsNonRoot", s.run_as_non_root)
        .ptr("readOnlyRootFilesystem", s.read_only_root_filesystem)
        .ptr("allowPrivilegeEscalation", s.allow_privilege_escalation)
        .ptr("procMount", s.proc_mount.clone())
        .done()
}

fn resource_requirements(r: &core::ResourceRequirements) -> Value {
    Obj::default()
        .qmap("limits", &r.limits)
        .qmap("requests", &r.requests)
        .list("claims", &r.claims, |c| {
            Obj::default()
                .req_s("name", &c.name)
                .s("request", &c.request)
                .done()
        })
        .done()
}

fn container(c: &core::Container) -> Value {
    Obj::default()
        .req_s("name", &c.name)
        .s("image", &c.image)
        .strings("command", &c.command)
        .strings("args", &c.args)
        .s("workingDir", &c.working_dir)
        .list("ports", &c.ports, |p| {
            Obj::default()
                .s("name", &p.name)
                .n("hostPort", p.host_port)
                .req_n("containerPort", p.container_port)
                .s("protocol", &p.protocol)
                .s("hostIP", &p.host_ip)
                .done()
        })
        .list("envFrom", &c.env_from, |e| {
            Obj::default()
                .s("prefix", &e.prefix)
                .msg("configMapRef", &e.config_map_ref, |r| {
                    Obj::default()
                        .s("name", &local_name(&r.local_object_reference))
                        .ptr("optional", r.optional)
                        .done()
                })
                .msg("secretRef", &e.secret_ref, |r| {
                    Obj::default()
                        .s("name", &local_name(&r.local_object_reference))
                        .ptr("optional", r.optional)
                        .done()
                })
                .done()
        })
        .list("env", &c.env, env_var)
        .inline_msg("resources", &c.resources, resource_requirements)
        .ptr("restartPolicy", c.restart_policy.clone())
        .list("volumeMounts", &c.volume_mounts, |m| {
            Obj::default()
                .req_s("name", &m.name)
                .b("readOnly", m.read_only)
                .ptr("recursiveReadOnly", m.recursive_read_only.clone())
                .req_s("mountPath", &m.mount_path)
                .s("subPath", &m.sub_path)
                .ptr("mountPropagation", m.mount_propagation.clone())
                .s("subPathExpr", &m.sub_path_expr)
                .done()
        })
        .s("terminationMessagePath", &c.termination_message_path)
        .s("terminationMessagePolicy", &c.termination_message_policy)
        .s("imagePullPolicy", &c.image_pull_policy)
        .msg("securityContext", &c.security_context, security_context)
        .b("stdin", c.stdin)
        .b("stdinOnce", c.stdin_once)
        .b("tty", c.tty)
        .done()
}

fn env_var(e: &core::EnvVar) -> Value {
    Obj::default()
        .req_s("name", &e.name)
        .s("value", &e.value)
        .msg("valueFrom", &e.value_from, |s| {
            Obj::default()
                .msg("fieldRef", &s.field_ref, |f| {
                    Obj::default()
                        .s("apiVersion", &f.api_version)
                        .req_s("fieldPath", &f.field_path)
                        .done()
                })
                .msg("resourceFieldRef", &s.resource_field_ref, |r| {
                    Obj::default()
                        .s("containerName", &r.container_name)
                        .req_s("resource", &r.resource)
                        .msg("divisor", &r.divisor, quantity)
                        .done()
                })
                .msg("configMapKeyRef", &s.config_map_key_ref, |r| {
                    Obj::default()
                        .s("name", &local_name(&r.local_object_reference))
                        .req_s("key", &r.key)
                        .ptr("optional", r.optional)
                        .done()
                })
                .msg("secretKeyRef", &s.secret_key_ref, |r| {
                    Obj::default()
                        .s("name", &local_name(&r.local_object_reference))
                        .req_s("key", &r.key)
                        .ptr("optional", r.optional)
                        .done()
                })
                .done()
        })
        .done()
}

#[cfg(test)]
mod tests {
    use super::*;
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
                envelope("v1", "Secret", vec![]),
                "Secret (v1) are not supported",
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
