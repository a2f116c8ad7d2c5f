//! Kubernetes protobuf objects turned into the JSON the same request would
//! carry as JSON.
//!
//! From kubectl 1.32 on, typed client-go calls (`kubectl create job`,
//! `create namespace`, `create configmap`, `create secret`, `auth can-i`)
//! send protobuf bodies (kubernetes/kubernetes PR #125314) and do not fall
//! back to JSON after a 415. The API server unwraps the envelope and asks
//! the kind's strategy (`Strategy::decode_protobuf`) for the object; the
//! strategies build it with the helpers here.
//!
//! gogo-protobuf writes every non-pointer Go field even when zero, so a field
//! being present on the wire does not mean it was set. The converters
//! therefore follow the Go JSON tags of `staging/src/k8s.io/api/{core,batch}/v1/types.go`:
//! pointer fields are emitted whenever present (a `backoffLimit: 0` must
//! survive), `omitempty` value fields only when non-zero, and required fields
//! always. Fields outside the converted subset (probes, lifecycle, affinity,
//! ephemeral containers, exotic volume sources) are dropped.

use std::collections::BTreeMap;

pub use k8s_pb;
use k8s_pb::api::batch::v1 as batch;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
pub use prost::{DecodeError, Message};
use serde_json::{Map, Value};

/// Decodes `raw` as `T` and converts it with `f`: the usual body of a
/// strategy's `decode_protobuf`.
pub fn convert<T: Message + Default>(
    raw: &[u8],
    f: impl FnOnce(&T) -> Map<String, Value>,
) -> Option<Result<Map<String, Value>, DecodeError>> {
    Some(T::decode(raw).map(|t| f(&t)))
}

/// A JSON object under construction, with one method per Go tag style.
#[derive(Default)]
pub struct Obj(pub Map<String, Value>);

impl Obj {
    /// Pointer field (`*T`, `omitempty`): present means set.
    pub fn ptr<T: Into<Value>>(&mut self, k: &str, v: Option<T>) -> &mut Self {
        if let Some(v) = v {
            self.0.insert(k.into(), v.into());
        }
        self
    }
    /// Value string with `omitempty`.
    pub fn s(&mut self, k: &str, v: &Option<String>) -> &mut Self {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            self.0.insert(k.into(), Value::String(v.to_string()));
        }
        self
    }
    /// Required string (no `omitempty`): always written.
    pub fn req_s(&mut self, k: &str, v: &Option<String>) -> &mut Self {
        self.0
            .insert(k.into(), Value::String(v.clone().unwrap_or_default()));
        self
    }
    /// Value integer with `omitempty`.
    pub fn n<T: Into<i64> + Copy>(&mut self, k: &str, v: Option<T>) -> &mut Self {
        if let Some(v) = v.map(Into::into).filter(|v| *v != 0) {
            self.0.insert(k.into(), Value::from(v));
        }
        self
    }
    /// Required integer.
    pub fn req_n<T: Into<i64> + Copy>(&mut self, k: &str, v: Option<T>) -> &mut Self {
        self.0
            .insert(k.into(), Value::from(v.map(Into::into).unwrap_or(0)));
        self
    }
    /// Value bool with `omitempty`.
    pub fn b(&mut self, k: &str, v: Option<bool>) -> &mut Self {
        if v == Some(true) {
            self.0.insert(k.into(), Value::Bool(true));
        }
        self
    }
    /// List (`omitempty`).
    pub fn list<T>(&mut self, k: &str, items: &[T], f: impl Fn(&T) -> Value) -> &mut Self {
        if !items.is_empty() {
            self.0
                .insert(k.into(), Value::Array(items.iter().map(f).collect()));
        }
        self
    }
    pub fn strings(&mut self, k: &str, items: &[String]) -> &mut Self {
        self.list(k, items, |s| Value::String(s.clone()))
    }
    /// `map[string]string` (`omitempty`).
    pub fn smap(&mut self, k: &str, m: &BTreeMap<String, String>) -> &mut Self {
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
    pub fn qmap(&mut self, k: &str, m: &BTreeMap<String, Quantity>) -> &mut Self {
        if !m.is_empty() {
            let m: Map<String, Value> = m.iter().map(|(k, q)| (k.clone(), quantity(q))).collect();
            self.0.insert(k.into(), Value::Object(m));
        }
        self
    }
    /// Pointer to a message: present means set, even if empty (`emptyDir: {}`).
    pub fn msg<T>(&mut self, k: &str, v: &Option<T>, f: impl Fn(&T) -> Value) -> &mut Self {
        if let Some(v) = v {
            self.0.insert(k.into(), f(v));
        }
        self
    }
    /// Non-pointer struct: written only when it has content.
    pub fn inline_msg<T>(&mut self, k: &str, v: &Option<T>, f: impl Fn(&T) -> Value) -> &mut Self {
        if let Some(v) = v {
            let v = f(v);
            if v.as_object().is_none_or(|m| !m.is_empty()) {
                self.0.insert(k.into(), v);
            }
        }
        self
    }
    pub fn done(&mut self) -> Value {
        Value::Object(std::mem::take(&mut self.0))
    }
}

pub fn quantity(q: &Quantity) -> Value {
    Value::String(q.string.clone().unwrap_or_else(|| "0".into()))
}

/// `metav1.Time`: an unset (zero) time travels as an empty message and is
/// `null` in JSON; we leave it out.
pub fn time(t: &meta::Time) -> Option<Value> {
    let secs = t.seconds.unwrap_or(0);
    let nanos = t.nanos.unwrap_or(0);
    if t.seconds.is_none() && nanos == 0 {
        return None;
    }
    let dt = chrono::DateTime::from_timestamp(secs, 0)?;
    Some(Value::String(crate::vocabulary::time_string(dt)))
}

pub fn object_meta(m: &meta::ObjectMeta) -> Value {
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

pub fn owner_reference(r: &meta::OwnerReference) -> Value {
    Obj::default()
        .req_s("apiVersion", &r.api_version)
        .req_s("kind", &r.kind)
        .req_s("name", &r.name)
        .req_s("uid", &r.uid)
        .ptr("controller", r.controller)
        .ptr("blockOwnerDeletion", r.block_owner_deletion)
        .done()
}

pub fn label_selector(s: &meta::LabelSelector) -> Value {
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

pub fn job_spec(s: &batch::JobSpec) -> Value {
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

pub fn pod_failure_policy(p: &batch::PodFailurePolicy) -> Value {
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

pub fn success_policy(p: &batch::SuccessPolicy) -> Value {
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

pub fn job_status(s: &batch::JobStatus) -> Value {
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

pub fn pod_template_spec(t: &core::PodTemplateSpec) -> Value {
    Obj::default()
        .inline_msg("metadata", &t.metadata, object_meta)
        .inline_msg("spec", &t.spec, pod_spec)
        .done()
}

pub fn pod_spec(s: &core::PodSpec) -> Value {
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

pub fn local_name(r: &Option<core::LocalObjectReference>) -> Option<String> {
    r.as_ref().and_then(|r| r.name.clone())
}

pub fn volume(v: &core::Volume) -> Value {
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

pub fn key_to_path(k: &core::KeyToPath) -> Value {
    Obj::default()
        .req_s("key", &k.key)
        .req_s("path", &k.path)
        .ptr("mode", k.mode)
        .done()
}

pub fn pod_security_context(s: &core::PodSecurityContext) -> Value {
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

pub fn security_context(s: &core::SecurityContext) -> Value {
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

pub fn resource_requirements(r: &core::ResourceRequirements) -> Value {
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

pub fn container(c: &core::Container) -> Value {
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

pub fn env_var(e: &core::EnvVar) -> Value {
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
