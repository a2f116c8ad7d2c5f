//! Pod and pod-template validation (the subset joblite's runtime honours).
//!
//! Used for Job templates under `spec.template` and for Pods at `spec`.
//! Upstream: `pkg/apis/core/validation/validation.go` (`ValidatePodSpec`,
//! `validateContainers`, `ValidateEnv`, `ValidateResourceRequirements`,
//! `ValidatePodUpdate`). Field paths and messages follow upstream; fields
//! joblite does not interpret (probes, security contexts, affinity terms) are
//! accepted as given.

use super::field::{FieldError, FieldPath};
use super::meta::{validate_object_meta, validate_object_meta_update};
use super::names::{
    is_config_map_key, is_qualified_name, is_relaxed_env_var_name, is_valid_port_name,
    is_valid_port_num, name_is_dns_subdomain, validate_annotations, validate_dns1123_label,
    validate_labels, validate_qualified_name,
};
use super::{semantic_eq, to_json, IS_NEGATIVE_ERROR_MSG};
use crate::quantity::{parse_quantity, ParsedQuantity};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, DownwardAPIVolumeFile, EnvFromSource, EnvVar,
    HostPathVolumeSource, KeyToPath, Pod, PodSpec, PodTemplateSpec, ProjectedVolumeSource,
    ResourceRequirements, SecretVolumeSource, Toleration, Volume,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const MAX_INT32: i64 = i32::MAX as i64;

/// `ValidatePodCreate` / `ValidatePod`: metadata (name is a DNS subdomain) and spec.
pub fn validate_pod_create(pod: &Pod) -> Vec<FieldError> {
    let mut errs = validate_object_meta(
        &pod.metadata,
        true,
        name_is_dns_subdomain,
        &FieldPath::new("metadata"),
    );
    if let Some(spec) = &pod.spec {
        let sp = FieldPath::new("spec");
        errs.extend(validate_pod_spec(spec, &sp));
        // validateContainersOnlyForPod.
        for (field, list) in [
            ("containers", Some(&spec.containers)),
            ("initContainers", spec.init_containers.as_ref()),
        ] {
            for (i, c) in list.into_iter().flatten().enumerate() {
                let image = c.image.as_deref().unwrap_or_default();
                if image.trim() != image {
                    errs.push(FieldError::invalid(
                        &sp.child(field).index(i).child("image"),
                        image,
                        "must not have leading or trailing whitespace",
                    ));
                }
            }
        }
        if spec.node_name.as_deref().is_some_and(|n| !n.is_empty())
            && spec
                .scheduling_gates
                .as_ref()
                .is_some_and(|g| !g.is_empty())
        {
            errs.push(FieldError::forbidden(
                &sp.child("nodeName"),
                "cannot be set until all schedulingGates have been cleared",
            ));
        }
        if spec
            .ephemeral_containers
            .as_ref()
            .is_some_and(|e| !e.is_empty())
        {
            errs.push(FieldError::forbidden(
                &sp.child("ephemeralContainers"),
                "cannot be set on create",
            ));
        }
    } else {
        errs.push(FieldError::required(&FieldPath::new("spec"), ""));
    }
    errs
}

/// `ValidatePodTemplateSpec`: template labels/annotations and the pod spec.
///
/// Upstream reports template label and annotation errors at
/// `<path>.labels` / `<path>.annotations` (no `metadata`), and so does this.
pub fn validate_pod_template_spec(t: &PodTemplateSpec, path: &FieldPath) -> Vec<FieldError> {
    let (labels, annotations) = match &t.metadata {
        Some(m) => (m.labels.as_ref(), m.annotations.as_ref()),
        None => (None, None),
    };
    let mut errs = validate_labels(labels, &path.child("labels"));
    errs.extend(validate_annotations(
        annotations,
        &path.child("annotations"),
    ));
    let spec_path = path.child("spec");
    match &t.spec {
        Some(spec) => {
            errs.extend(validate_pod_spec(spec, &spec_path));
            if spec
                .ephemeral_containers
                .as_ref()
                .is_some_and(|e| !e.is_empty())
            {
                errs.push(FieldError::forbidden(
                    &spec_path.child("ephemeralContainers"),
                    "ephemeral containers not allowed in pod template",
                ));
            }
        }
        None => errs.push(FieldError::required(&spec_path.child("containers"), "")),
    }
    errs
}

/// `ValidatePodSpec`.
pub fn validate_pod_spec(spec: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let volumes = spec.volumes.as_deref().unwrap_or_default();
    let volume_names = validate_volumes(volumes, &path.child("volumes"), &mut errs);

    let containers = spec.containers.as_slice();
    let mut all_names = BTreeSet::new();
    let cpath = path.child("containers");
    if containers.is_empty() {
        errs.push(FieldError::required(&cpath, ""));
    }
    for (i, c) in containers.iter().enumerate() {
        let p = cpath.index(i);
        errs.extend(validate_container(c, &volume_names, &p));
        if !c.name.is_empty() && !all_names.insert(c.name.clone()) {
            errs.push(FieldError::duplicate(&p.child("name"), c.name.as_str()));
        }
    }
    let ipath = path.child("initContainers");
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let p = ipath.index(i);
        errs.extend(validate_container(c, &volume_names, &p));
        if !c.name.is_empty() && !all_names.insert(c.name.clone()) {
            errs.push(FieldError::duplicate(&p.child("name"), c.name.as_str()));
        }
    }

    errs.extend(validate_restart_policy(
        spec.restart_policy.as_deref().unwrap_or_default(),
        &path.child("restartPolicy"),
    ));
    let dns = spec.dns_policy.as_deref().unwrap_or_default();
    match dns {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(FieldError::required(&path.child("dnsPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            &path.child("dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    errs.extend(validate_labels(
        spec.node_selector.as_ref(),
        &path.child("nodeSelector"),
    ));
    if let Some(sa) = spec
        .service_account_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        for m in name_is_dns_subdomain(sa, false) {
            errs.push(FieldError::invalid(
                &path.child("serviceAccountName"),
                sa,
                m,
            ));
        }
    }
    if let Some(n) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        for m in name_is_dns_subdomain(n, false) {
            errs.push(FieldError::invalid(&path.child("nodeName"), n, m));
        }
    }
    if let Some(ads) = spec.active_deadline_seconds {
        if !(1..=MAX_INT32).contains(&ads) {
            errs.push(FieldError::invalid(
                &path.child("activeDeadlineSeconds"),
                ads,
                format!("must be between 1 and {MAX_INT32}, inclusive"),
            ));
        }
    }
    if let Some(h) = spec.hostname.as_deref().filter(|h| !h.is_empty()) {
        errs.extend(validate_dns1123_label(h, &path.child("hostname")));
    }
    if let Some(s) = spec.subdomain.as_deref().filter(|s| !s.is_empty()) {
        errs.extend(validate_dns1123_label(s, &path.child("subdomain")));
    }
    errs.extend(validate_tolerations(
        spec.tolerations.as_deref().unwrap_or_default(),
        &path.child("tolerations"),
    ));
    errs
}

/// `validateRestartPolicy`.
fn validate_restart_policy(policy: &str, path: &FieldPath) -> Vec<FieldError> {
    match policy {
        "Always" | "OnFailure" | "Never" => vec![],
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["Always", "OnFailure", "Never"],
        )],
    }
}

/// The order in which upstream's `validateVolumeSource` checks sources.
const VOLUME_SOURCE_ORDER: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// `ValidateVolumes`: returns the set of declared volume names.
fn validate_volumes(
    volumes: &[Volume],
    path: &FieldPath,
    errs: &mut Vec<FieldError>,
) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let p = path.index(i);
        let name_path = p.child("name");
        if v.name.is_empty() {
            errs.push(FieldError::required(&name_path, ""));
        } else {
            errs.extend(validate_dns1123_label(&v.name, &name_path));
        }
        if !v.name.is_empty() && !names.insert(v.name.clone()) {
            errs.push(FieldError::duplicate(&name_path, v.name.as_str()));
        }
        // Upstream walks the sources in a fixed order and reports the
        // second one it finds.
        let present: Vec<String> = match to_json(v) {
            Value::Object(m) => m.keys().filter(|k| k.as_str() != "name").cloned().collect(),
            _ => Vec::new(),
        };
        let mut ordered: Vec<&String> = present.iter().collect();
        ordered.sort_by_key(|k| {
            VOLUME_SOURCE_ORDER
                .iter()
                .position(|o| o == k)
                .unwrap_or(usize::MAX)
        });
        match ordered.as_slice() {
            [] => errs.push(FieldError::required(&p, "must specify a volume type")),
            [_] => {}
            [_, second, ..] => errs.push(FieldError::forbidden(
                &p.child(second),
                "may not specify more than 1 volume type",
            )),
        }
        if let Some(h) = &v.host_path {
            errs.extend(validate_host_path(h, &p.child("hostPath")));
        }
        if let Some(s) = &v.secret {
            errs.extend(validate_secret_volume(s, &p.child("secret")));
        }
        if let Some(d) = &v.downward_api {
            let dp = p.child("downwardAPI");
            errs.extend(validate_file_mode(d.default_mode, &dp.child("defaultMode")));
            for f in d.items.iter().flatten() {
                errs.extend(validate_downward_api_file(f, &dp));
            }
        }
        if let Some(c) = &v.config_map {
            errs.extend(validate_config_map_volume(c, &p.child("configMap")));
        }
        if let Some(pr) = &v.projected {
            errs.extend(validate_projected_volume(pr, &p.child("projected")));
        }
    }
    names
}

/// `fileModeErrorMsg`.
const FILE_MODE_ERROR: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// A `defaultMode` or `mode`: 0 to 0777.
fn validate_file_mode(mode: Option<i32>, path: &FieldPath) -> Vec<FieldError> {
    match mode {
        Some(m) if !(0..=0o777).contains(&m) => vec![FieldError::invalid(path, m, FILE_MODE_ERROR)],
        _ => vec![],
    }
}

/// `validateSecretVolumeSource`.
fn validate_secret_volume(s: &SecretVolumeSource, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if s.secret_name.as_deref().unwrap_or_default().is_empty() {
        errs.push(FieldError::required(&path.child("secretName"), ""));
    }
    errs.extend(validate_file_mode(
        s.default_mode,
        &path.child("defaultMode"),
    ));
    let items = path.child("items");
    for (i, kp) in s.items.iter().flatten().enumerate() {
        errs.extend(validate_key_to_path(kp, &items.index(i)));
    }
    errs
}

/// `validateConfigMapVolumeSource`.
fn validate_config_map_volume(c: &ConfigMapVolumeSource, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if c.name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    }
    errs.extend(validate_file_mode(
        c.default_mode,
        &path.child("defaultMode"),
    ));
    let items = path.child("items");
    for (i, kp) in c.items.iter().flatten().enumerate() {
        errs.extend(validate_key_to_path(kp, &items.index(i)));
    }
    errs
}

/// `validateKeyToPath`.
fn validate_key_to_path(kp: &KeyToPath, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if kp.key.is_empty() {
        errs.push(FieldError::required(&path.child("key"), ""));
    }
    if kp.path.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(
        &kp.path,
        &path.child("path"),
    ));
    errs.extend(validate_file_mode(kp.mode, &path.child("mode")));
    errs
}

/// `ValidateLocalNonReservedPath`: relative, no `..` element, and not
/// starting with `..` (the kubelet's atomic writer reserves those names).
fn validate_local_non_reserved_path(target: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if target.starts_with('/') {
        errs.push(FieldError::invalid(path, target, "must be a relative path"));
    }
    if target.split('/').any(|part| part == "..") {
        errs.push(FieldError::invalid(path, target, "must not contain '..'"));
    }
    if target.starts_with("..") && !target.starts_with("../") {
        errs.push(FieldError::invalid(
            path,
            target,
            "must not start with '..'",
        ));
    }
    errs
}

/// The path and mode checks of `validateDownwardAPIVolumeFile` (its
/// field selectors are checked where the kubelet resolves them).
fn validate_downward_api_file(f: &DownwardAPIVolumeFile, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if f.path.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(validate_local_non_reserved_path(
        &f.path,
        &path.child("path"),
    ));
    if f.field_ref.is_none() && f.resource_field_ref.is_none() {
        errs.push(FieldError::required(
            path,
            "one of fieldRef and resourceFieldRef is required",
        ));
    }
    errs.extend(validate_file_mode(f.mode, &path.child("mode")));
    errs
}

/// `validateProjectedVolumeSource` / `validateProjectionSources` (secret,
/// configMap, downwardAPI and serviceAccountToken sources).
fn validate_projected_volume(pr: &ProjectedVolumeSource, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = validate_file_mode(pr.default_mode, &path.child("defaultMode"));
    let mut all_paths = BTreeSet::new();
    let mut claim = |p: &str, value: &str, errs: &mut Vec<FieldError>| {
        if !p.is_empty() && !all_paths.insert(p.to_string()) {
            errs.push(FieldError::invalid(
                path,
                value,
                "conflicting duplicate paths",
            ));
        }
    };
    for (i, source) in pr.sources.iter().flatten().enumerate() {
        let sp = path.child("sources").index(i);
        let mut count = 0;
        if let Some(s) = &source.secret {
            count += 1;
            let pp = sp.child("secret");
            if s.name.is_empty() {
                errs.push(FieldError::required(&pp.child("name"), ""));
            }
            for (j, kp) in s.items.iter().flatten().enumerate() {
                errs.extend(validate_key_to_path(kp, &pp.child("items").index(j)));
                claim(&kp.path, &s.name, &mut errs);
            }
        }
        if let Some(c) = &source.config_map {
            count += 1;
            let pp = sp.child("configMap");
            if c.name.is_empty() {
                errs.push(FieldError::required(&pp.child("name"), ""));
            }
            for (j, kp) in c.items.iter().flatten().enumerate() {
                errs.extend(validate_key_to_path(kp, &pp.child("items").index(j)));
                claim(&kp.path, &c.name, &mut errs);
            }
        }
        if let Some(d) = &source.downward_api {
            count += 1;
            let pp = sp.child("downwardAPI");
            for f in d.items.iter().flatten() {
                errs.extend(validate_downward_api_file(f, &pp));
                claim(&f.path, &f.path, &mut errs);
            }
        }
        if let Some(t) = &source.service_account_token {
            count += 1;
            let pp = sp.child("serviceAccountToken");
            let secs = t.expiration_seconds.unwrap_or(3600);
            if secs < 10 * 60 {
                errs.push(FieldError::invalid(
                    &pp.child("expirationSeconds"),
                    secs,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if secs > 1 << 32 {
                errs.push(FieldError::invalid(
                    &pp.child("expirationSeconds"),
                    secs,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            if t.path.is_empty() {
                errs.push(FieldError::required(&path.child("path"), ""));
            } else {
                errs.extend(validate_local_non_reserved_path(
                    &t.path,
                    &path.child("path"),
                ));
            }
        }
        if source.cluster_trust_bundle.is_some() {
            count += 1;
        }
        if count > 1 {
            errs.push(FieldError::forbidden(
                &sp,
                "may not specify more than 1 volume type",
            ));
        }
    }
    errs
}

/// `supportedHostPathTypes`, in the sorted order upstream lists them.
pub(super) const HOST_PATH_TYPES: &[&str] = &[
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];

/// `validateHostPathVolumeSource`.
fn validate_host_path(h: &HostPathVolumeSource, path: &FieldPath) -> Vec<FieldError> {
    let path_field = path.child("path");
    if h.path.is_empty() {
        return vec![FieldError::required(&path_field, "")];
    }
    let mut errs = Vec::new();
    // `validatePathNoBacksteps`.
    if h.path.split('/').any(|part| part == "..") {
        errs.push(FieldError::invalid(
            &path_field,
            h.path.as_str(),
            "must not contain '..'",
        ));
    }
    if let Some(t) = h.type_.as_deref() {
        if !HOST_PATH_TYPES.contains(&t) {
            errs.push(FieldError::not_supported(
                &path.child("type"),
                t,
                HOST_PATH_TYPES,
            ));
        }
    }
    errs
}

/// `validateContainerCommon` + the regular-container checks.
fn validate_container(
    c: &Container,
    volumes: &BTreeSet<String>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name_path = path.child("name");
    if c.name.is_empty() {
        errs.push(FieldError::required(&name_path, ""));
    } else {
        errs.extend(validate_dns1123_label(&c.name, &name_path));
    }
    // A blank-padded image is only rejected on Pods (see
    // `validate_pod_create`): templates historically accept it.
    if c.image.as_deref().unwrap_or_default().is_empty() {
        errs.push(FieldError::required(&path.child("image"), ""));
    }
    let pp = c.image_pull_policy.as_deref().unwrap_or_default();
    match pp {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(FieldError::required(&path.child("imagePullPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            &path.child("imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    let tmp_path = path.child("terminationMessagePolicy");
    match c.termination_message_policy.as_deref().unwrap_or_default() {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(
            &tmp_path,
            "must be 'File' or 'FallbackToLogsOnError'",
        )),
        other => errs.push(FieldError::invalid(
            &tmp_path,
            other,
            "must be 'File' or 'FallbackToLogsOnError'",
        )),
    }
    errs.extend(validate_ports(c, &path.child("ports")));
    errs.extend(validate_env(
        c.env.as_deref().unwrap_or_default(),
        &path.child("env"),
    ));
    errs.extend(validate_env_from(
        c.env_from.as_deref().unwrap_or_default(),
        &path.child("envFrom"),
    ));
    errs.extend(validate_volume_mounts(
        c,
        volumes,
        &path.child("volumeMounts"),
    ));
    if let Some(r) = &c.resources {
        errs.extend(validate_resource_requirements(r, &path.child("resources")));
    }
    errs
}

/// `validateContainerPorts`.
fn validate_ports(c: &Container, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, port) in c.ports.iter().flatten().enumerate() {
        let p = path.index(i);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            for m in is_valid_port_name(name) {
                errs.push(FieldError::invalid(&p.child("name"), name, m));
            }
            if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(&p.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(&p.child("containerPort"), ""));
        } else {
            for m in is_valid_port_num(port.container_port) {
                errs.push(FieldError::invalid(
                    &p.child("containerPort"),
                    port.container_port,
                    m,
                ));
            }
        }
        if let Some(hp) = port.host_port.filter(|hp| *hp != 0) {
            for m in is_valid_port_num(hp) {
                errs.push(FieldError::invalid(&p.child("hostPort"), hp, m));
            }
        }
        match port.protocol.as_deref().unwrap_or_default() {
            "TCP" | "UDP" | "SCTP" => {}
            "" => errs.push(FieldError::required(&p.child("protocol"), "")),
            other => errs.push(FieldError::not_supported(
                &p.child("protocol"),
                other,
                &["SCTP", "TCP", "UDP"],
            )),
        }
    }
    errs
}

/// Downward-API field paths an env var may reference
/// (`validEnvDownwardAPIFieldPathExpressions`).
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// `ValidateEnv` with the relaxed name rule (1.33 default).
fn validate_env(vars: &[EnvVar], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let p = path.index(i);
        if ev.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else {
            for m in is_relaxed_env_var_name(&ev.name) {
                errs.push(FieldError::invalid(&p.child("name"), ev.name.as_str(), m));
            }
        }
        let Some(from) = &ev.value_from else { continue };
        let vf = p.child("valueFrom");
        let sources = [
            from.field_ref.is_some(),
            from.resource_field_ref.is_some(),
            from.config_map_key_ref.is_some(),
            from.secret_key_ref.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if sources == 0 {
            errs.push(FieldError::invalid(
                &vf,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if ev.value.as_deref().is_some_and(|v| !v.is_empty()) {
            errs.push(FieldError::invalid(
                &vf,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if sources > 1 {
            errs.push(FieldError::invalid(
                &vf,
                "",
                "may not have more than one field specified at a time",
            ));
        }
        if let Some(fr) = &from.field_ref {
            let frp = vf.child("fieldRef");
            let fp = fr.field_path.as_str();
            if fr.api_version.as_deref().unwrap_or_default().is_empty() {
                errs.push(FieldError::required(&frp.child("apiVersion"), ""));
            } else if fp.is_empty() {
                errs.push(FieldError::required(&frp.child("fieldPath"), ""));
            } else {
                let subscripted =
                    ["metadata.labels['", "metadata.annotations['"]
                        .iter()
                        .any(|pre| {
                            fp.starts_with(pre) && fp.ends_with("']") && fp.len() > pre.len() + 2
                        });
                if let Some(key) = subscripted
                    .then(|| fp.split_once("['").map(|(_, k)| k.trim_end_matches("']")))
                    .flatten()
                {
                    for m in is_qualified_name(&key.to_lowercase()) {
                        errs.push(FieldError::invalid(&frp.child("fieldPath"), fp, m));
                    }
                } else if !ENV_FIELD_PATHS.contains(&fp) {
                    errs.push(FieldError::not_supported(
                        &frp.child("fieldPath"),
                        fp,
                        ENV_FIELD_PATHS,
                    ));
                }
            }
        }
        if let Some(r) = &from.config_map_key_ref {
            errs.extend(validate_key_selector(
                &r.name,
                &r.key,
                &vf.child("configMapKeyRef"),
            ));
        }
        if let Some(r) = &from.secret_key_ref {
            errs.extend(validate_key_selector(
                &r.name,
                &r.key,
                &vf.child("secretKeyRef"),
            ));
        }
    }
    errs
}

/// `validateConfigMapKeySelector` / `validateSecretKeySelector`: the name
/// is a DNS subdomain, the key a config key.
fn validate_key_selector(name: &str, key: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errs: Vec<FieldError> = name_is_dns_subdomain(name, false)
        .into_iter()
        .map(|m| FieldError::invalid(&path.child("name"), name, m))
        .collect();
    if key.is_empty() {
        errs.push(FieldError::required(&path.child("key"), ""));
    } else {
        for m in is_config_map_key(key) {
            errs.push(FieldError::invalid(&path.child("key"), key, m));
        }
    }
    errs
}

/// `ValidateEnvFrom` with the relaxed prefix rule (1.33 default).
fn validate_env_from(sources: &[EnvFromSource], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, ev) in sources.iter().enumerate() {
        let p = path.index(i);
        if let Some(prefix) = ev.prefix.as_deref().filter(|s| !s.is_empty()) {
            for m in is_relaxed_env_var_name(prefix) {
                errs.push(FieldError::invalid(&p.child("prefix"), prefix, m));
            }
        }
        let mut count = 0;
        // `validateConfigMapEnvSource` / `validateSecretEnvSource`.
        let mut named = |name: &str, field: &str, errs: &mut Vec<FieldError>| {
            count += 1;
            let np = p.child(field).child("name");
            if name.is_empty() {
                errs.push(FieldError::required(&np, ""));
            } else {
                for m in name_is_dns_subdomain(name, true) {
                    errs.push(FieldError::invalid(&np, name, m));
                }
            }
        };
        if let Some(r) = &ev.config_map_ref {
            named(&r.name, "configMapRef", &mut errs);
        }
        if let Some(r) = &ev.secret_ref {
            named(&r.name, "secretRef", &mut errs);
        }
        match count {
            0 => errs.push(FieldError::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            )),
            1 => {}
            _ => errs.push(FieldError::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            )),
        }
    }
    errs
}

/// `ValidateVolumeMounts`: every mount names a declared volume.
fn validate_volume_mounts(
    c: &Container,
    volumes: &BTreeSet<String>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut mountpoints = BTreeSet::new();
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let p = path.index(i);
        if m.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else if !volumes.contains(&m.name) {
            errs.push(FieldError::not_found(&p.child("name"), m.name.as_str()));
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(&p.child("mountPath"), ""));
        } else if !mountpoints.insert(m.mount_path.clone()) {
            errs.push(FieldError::invalid(
                &p.child("mountPath"),
                m.mount_path.as_str(),
                "must be unique",
            ));
        }
    }
    errs
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// `ValidateResourceRequirements`: names, non-negative parsable quantities,
/// and requests no larger than limits.
pub fn validate_resource_requirements(
    r: &ResourceRequirements,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let check = |name: &str,
                 raw: &str,
                 p: &FieldPath,
                 errs: &mut Vec<FieldError>|
     -> Option<ParsedQuantity> {
        if name.contains('/') {
            errs.extend(validate_qualified_name(name, p));
        } else if !is_standard_container_resource(name) {
            errs.push(FieldError::invalid(
                p,
                name,
                "must be a standard resource for containers",
            ));
        }
        match parse_quantity(raw) {
            Err(e) => {
                errs.push(FieldError::invalid(p, raw, e.to_string()));
                None
            }
            Ok(q) => {
                if q.nanos < 0 {
                    errs.push(FieldError::invalid(p, q.canonical(), IS_NEGATIVE_ERROR_MSG));
                }
                Some(q)
            }
        }
    };
    let empty = BTreeMap::new();
    let limits = r.limits.as_ref().unwrap_or(&empty);
    let mut parsed_limits = BTreeMap::new();
    for (name, q) in limits {
        if let Some(pq) = check(name, &q.0, &lim_path.key(name), &mut errs) {
            parsed_limits.insert(name.clone(), pq);
        }
    }
    for (name, q) in r.requests.iter().flatten() {
        let Some(req) = check(name, &q.0, &req_path.key(name), &mut errs) else {
            continue;
        };
        if let Some(lim) = parsed_limits.get(name) {
            let overcommit = !name.contains('/') && !name.starts_with("hugepages-");
            if !overcommit && req.nanos != lim.nanos {
                errs.push(FieldError::invalid(
                    &req_path,
                    req.canonical(),
                    format!("must be equal to {name} limit of {}", lim.canonical()),
                ));
            } else if req.nanos > lim.nanos {
                errs.push(FieldError::invalid(
                    &req_path,
                    req.canonical(),
                    format!(
                        "must be less than or equal to {name} limit of {}",
                        lim.canonical()
                    ),
                ));
            }
        } else if name.contains('/') || name.starts_with("hugepages-") {
            errs.push(FieldError::required(
                &lim_path,
                "Limit must be set for non overcommitable resources",
            ));
        }
    }
    errs
}

/// `ValidateTolerations`.
pub fn validate_tolerations(tolerations: &[Toleration], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, t) in tolerations.iter().enumerate() {
        let p = path.index(i);
        let key = t.key.as_deref().unwrap_or_default();
        if !key.is_empty() {
            errs.extend(validate_qualified_name(key, &p.child("key")));
        }
        let op = t.operator.as_deref().unwrap_or_default();
        if key.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                &p.child("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        let effect = t.effect.as_deref().unwrap_or_default();
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                &p.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        let value = t.value.as_deref().unwrap_or_default();
        match op {
            "" | "Equal" => {
                let msgs = super::names::is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        &p.child("operator"),
                        value,
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        &p.child("operator"),
                        to_json(t),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                &p.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
        {
            errs.push(FieldError::not_supported(
                &p.child("effect"),
                effect,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
    errs
}

/// The fields a pod update may change, as listed in upstream's error message.
pub const POD_UPDATABLE_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// `ValidatePodUpdate`: metadata rules plus a spec that is immutable except
/// images, a shrinking `activeDeadlineSeconds`, added tolerations, removed
/// scheduling gates, and a negative grace period raised to 1.
pub fn validate_pod_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let new = &super::restored(new, &old.metadata, |p| &mut p.metadata);
    let mut errs =
        validate_object_meta_update(&new.metadata, &old.metadata, &FieldPath::new("metadata"));
    // An unchanged spec passes every rule below (the common case: metadata
    // edits by controllers); skip the JSON comparison.
    if new.spec == old.spec {
        return errs;
    }
    let spec_path = FieldPath::new("spec");
    let default_spec = PodSpec::default();
    let new_spec = new.spec.as_ref().unwrap_or(&default_spec);
    let old_spec = old.spec.as_ref().unwrap_or(&default_spec);

    for (field, new_c, old_c) in [
        (
            "containers",
            Some(&new_spec.containers),
            Some(&old_spec.containers),
        ),
        (
            "initContainers",
            new_spec.init_containers.as_ref(),
            old_spec.init_containers.as_ref(),
        ),
    ] {
        let (n, o) = (
            new_c.map(Vec::as_slice).unwrap_or_default(),
            old_c.map(Vec::as_slice).unwrap_or_default(),
        );
        let p = spec_path.child(field);
        if n.len() != o.len() {
            errs.push(FieldError::forbidden(
                &p,
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in n.iter().enumerate() {
            if c.image.as_deref().unwrap_or_default().is_empty() {
                errs.push(FieldError::required(&p.index(i).child("image"), ""));
            }
        }
    }

    let ads_path = spec_path.child("activeDeadlineSeconds");
    match (
        new_spec.active_deadline_seconds,
        old_spec.active_deadline_seconds,
    ) {
        (Some(n), old) => {
            if !(0..=MAX_INT32).contains(&n) {
                errs.push(FieldError::invalid(
                    &ads_path,
                    n,
                    format!("must be between 0 and {MAX_INT32}, inclusive"),
                ));
                return errs;
            }
            if old.is_some_and(|o| o < n) {
                errs.push(FieldError::invalid(
                    &ads_path,
                    n,
                    "must be less than or equal to previous value",
                ));
                return errs;
            }
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            &ads_path,
            Value::Null,
            "must not update from a positive integer to nil value",
        )),
        (None, None) => {}
    }

    // Tolerations: existing entries may only change their tolerationSeconds.
    let new_t = new_spec.tolerations.as_deref().unwrap_or_default();
    let old_t = old_spec.tolerations.as_deref().unwrap_or_default();
    for o in old_t {
        let same_but_seconds = |n: &Toleration| {
            n.key == o.key && n.operator == o.operator && n.value == o.value && n.effect == o.effect
        };
        if !new_t.iter().any(same_but_seconds) {
            errs.push(FieldError::forbidden(
                &spec_path.child("tolerations"),
                format!(
                    "existing toleration can not be modified except its tolerationSeconds: {}",
                    to_json(o)
                ),
            ));
        }
    }

    // Scheduling gates may only be removed.
    let old_gates: Vec<&str> = old_spec
        .scheduling_gates
        .iter()
        .flatten()
        .map(|g| g.name.as_str())
        .collect();
    for (i, g) in new_spec.scheduling_gates.iter().flatten().enumerate() {
        if !old_gates.contains(&g.name.as_str()) {
            errs.push(FieldError::forbidden(
                &spec_path.child("schedulingGates").index(i),
                "only deletion is allowed, but found new scheduling gate 'foo'"
                    .replace("foo", &g.name),
            ));
        }
    }

    // Munge the mutable fields onto a copy and require the rest to be equal.
    let mut munged = new_spec.clone();
    for (m, o) in munged.containers.iter_mut().zip(&old_spec.containers) {
        m.image = o.image.clone();
    }
    if let (Some(m), Some(o)) = (
        munged.init_containers.as_mut(),
        old_spec.init_containers.as_ref(),
    ) {
        for (mc, oc) in m.iter_mut().zip(o) {
            mc.image = oc.image.clone();
        }
    }
    munged.active_deadline_seconds = old_spec.active_deadline_seconds;
    munged.tolerations = old_spec.tolerations.clone();
    munged.scheduling_gates = old_spec.scheduling_gates.clone();
    if old_spec
        .termination_grace_period_seconds
        .is_some_and(|o| o < 0)
        && munged.termination_grace_period_seconds == Some(1)
    {
        munged.termination_grace_period_seconds = old_spec.termination_grace_period_seconds;
    }
    if !semantic_eq(&to_json(&munged), &to_json(old_spec)) {
        errs.push(FieldError::forbidden(
            &spec_path,
            format!(
                "pod updates may not change fields other than {POD_UPDATABLE_FIELDS}\n{}",
                spec_diff(old_spec, &munged)
            ),
        ));
    }
    errs
}

/// A readable summary of which spec fields differ. Upstream prints a Go
/// `cmp.Diff`; this is the same information in JSON terms.
fn spec_diff(old: &PodSpec, new: &PodSpec) -> String {
    let (Value::Object(o), Value::Object(n)) = (to_json(old), to_json(new)) else {
        return String::new();
    };
    let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    let mut out = String::from("  core.PodSpec{\n");
    for k in keys {
        let (a, b) = (o.get(k), n.get(k));
        let wrap =
            |v: Option<&Value>| serde_json::json!({ "v": v.cloned().unwrap_or(Value::Null) });
        if !semantic_eq(&wrap(a), &wrap(b)) {
            if let Some(a) = a {
                out.push_str(&format!("- \t{k}: {a},\n"));
            }
            if let Some(b) = b {
                out.push_str(&format!("+ \t{k}: {b},\n"));
            }
        }
    }
    out.push_str("  }\n");
    out
}

/// `ValidatePodStatusUpdate` (metadata part): status writes may not change
/// the object's identity.
pub fn validate_pod_status_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    validate_object_meta_update(&new.metadata, &old.metadata, &FieldPath::new("metadata"))
}

/// `WarningsForPodSpec` (the part joblite can observe): a negative grace
/// period is accepted with a warning, not rejected.
pub fn pod_spec_warnings(spec: &PodSpec, path: &FieldPath) -> Vec<String> {
    let mut w = Vec::new();
    if spec.termination_grace_period_seconds.is_some_and(|s| s < 0) {
        w.push(format!(
            "{}: must be >= 0; negative values are invalid and will be treated as 1",
            path.child("terminationGracePeriodSeconds")
        ));
    }
    w
}
