//! Strategic-merge-patch tags of the served types.
//!
//! Go derives the per-field merge rules of a strategic merge patch from the
//! `patchStrategy`/`patchMergeKey` struct tags at runtime; we have no Go
//! types, so [`PatchSchema`] carries the same information — the tags of
//! `staging/src/k8s.io/api/core/v1/types.go` and
//! `staging/src/k8s.io/api/batch/v1/types.go` — keyed by the JSON path of
//! field names from the object root (list elements add no path segment).
//! Each kind's strategy names its schema; the API server's merge
//! (`apiserver::patch::strategic`) applies it and OpenAPI publishes it.

use std::collections::HashMap;
use std::sync::LazyLock;

const MERGE_DIRECTIVE: &str = "merge";
const REPLACE_DIRECTIVE: &str = "replace";

/// The non-`retainKeys` part of a field's `patchStrategy` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// No tag: maps merge recursively, lists are replaced (atomic).
    #[default]
    Default,
    /// `patchStrategy:"merge"`: lists merge by key (maps) or as sets (primitives).
    Merge,
    /// `patchStrategy:"replace"`: the patch value replaces the field.
    Replace,
}

/// Patch metadata of one field, as in upstream's `PatchMeta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PatchMeta {
    pub strategy: Strategy,
    /// `retainKeys` was part of the tag. Applying honours the `$retainKeys`
    /// directive whenever the patch carries one, so this is informational
    /// (OpenAPI publishes it as `x-kubernetes-patch-strategy`).
    pub retain_keys: bool,
    /// `patchMergeKey`, for lists of maps with the merge strategy.
    pub merge_key: Option<&'static str>,
}

impl PatchMeta {
    /// `patchStrategy:"merge" patchMergeKey:"<key>"`.
    pub const fn merge_by(key: &'static str) -> Self {
        PatchMeta {
            strategy: Strategy::Merge,
            retain_keys: false,
            merge_key: Some(key),
        }
    }

    /// `patchStrategy:"merge,retainKeys" patchMergeKey:"<key>"`.
    pub const fn merge_retain_by(key: &'static str) -> Self {
        PatchMeta {
            strategy: Strategy::Merge,
            retain_keys: true,
            merge_key: Some(key),
        }
    }

    /// `patchStrategy:"merge"` on a list of primitives (set semantics).
    pub const fn merge_set() -> Self {
        PatchMeta {
            strategy: Strategy::Merge,
            retain_keys: false,
            merge_key: None,
        }
    }

    /// The `x-kubernetes-patch-strategy` string upstream publishes, if any.
    pub fn strategy_string(&self) -> Option<String> {
        let base = match self.strategy {
            Strategy::Default => None,
            Strategy::Merge => Some(MERGE_DIRECTIVE),
            Strategy::Replace => Some(REPLACE_DIRECTIVE),
        };
        match (base, self.retain_keys) {
            (Some(b), true) => Some(format!("{b},retainKeys")),
            (Some(b), false) => Some(b.to_string()),
            (None, true) => Some("retainKeys".to_string()),
            (None, false) => None,
        }
    }
}

/// Per-field patch metadata for one kind, keyed by the path of JSON field
/// names from the object root (`["spec","template","spec","containers"]`).
/// Fields not listed behave like untagged Go fields.
#[derive(Debug, Clone, Default)]
pub struct PatchSchema {
    fields: HashMap<String, PatchMeta>,
}

/// Joins path segments with a byte that cannot occur in a JSON field name of
/// the Kubernetes types.
const SEP: char = '\u{1f}';

fn path_key<S: AsRef<str>>(path: &[S]) -> String {
    let mut out = String::new();
    for (i, p) in path.iter().enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        out.push_str(p.as_ref());
    }
    out
}

/// Tags of `ObjectMeta` (apimachinery `meta/v1/types.go`).
const OBJECT_META: &[(&str, PatchMeta)] = &[
    ("finalizers", PatchMeta::merge_set()),
    ("ownerReferences", PatchMeta::merge_by("uid")),
];

/// Tags of `PodSpec` and its containers (`core/v1/types.go`). `tolerations`,
/// `args`, `command`, `envFrom`, `readinessGates`, `resizePolicy` are
/// untagged (atomic) and so absent here.
const POD_SPEC: &[(&str, PatchMeta)] = &[
    ("volumes", PatchMeta::merge_retain_by("name")),
    ("initContainers", PatchMeta::merge_by("name")),
    ("containers", PatchMeta::merge_by("name")),
    ("ephemeralContainers", PatchMeta::merge_by("name")),
    ("imagePullSecrets", PatchMeta::merge_by("name")),
    ("hostAliases", PatchMeta::merge_by("ip")),
    (
        "topologySpreadConstraints",
        PatchMeta::merge_by("topologyKey"),
    ),
    ("resourceClaims", PatchMeta::merge_retain_by("name")),
    ("schedulingGates", PatchMeta::merge_by("name")),
];

/// Tags inside `Container` / `EphemeralContainerCommon`.
const CONTAINER: &[(&str, PatchMeta)] = &[
    ("ports", PatchMeta::merge_by("containerPort")),
    ("env", PatchMeta::merge_by("name")),
    ("volumeMounts", PatchMeta::merge_by("mountPath")),
    ("volumeDevices", PatchMeta::merge_by("devicePath")),
];

/// Tags of `PodStatus`.
const POD_STATUS: &[(&str, PatchMeta)] = &[
    ("conditions", PatchMeta::merge_by("type")),
    ("podIPs", PatchMeta::merge_by("ip")),
    ("hostIPs", PatchMeta::merge_by("ip")),
    ("resourceClaimStatuses", PatchMeta::merge_retain_by("name")),
];

impl PatchSchema {
    /// A schema with no tagged fields (every list is atomic).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Records the metadata of the field at `path`.
    pub fn insert(&mut self, path: &[&str], meta: PatchMeta) {
        self.fields.insert(path_key(path), meta);
    }

    /// The metadata of the field at `path`, if it is tagged.
    pub fn lookup<S: AsRef<str>>(&self, path: &[S]) -> Option<&PatchMeta> {
        self.fields.get(&path_key(path))
    }

    /// Every tagged field, as (`path` segments, metadata), sorted by path.
    pub fn entries(&self) -> Vec<(Vec<&str>, &PatchMeta)> {
        let mut v: Vec<_> = self
            .fields
            .iter()
            .map(|(k, m)| (k.split(SEP).collect::<Vec<_>>(), m))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub fn add_all(&mut self, prefix: &[&str], table: &[(&str, PatchMeta)]) {
        for (field, meta) in table {
            let mut p = prefix.to_vec();
            p.push(field);
            self.insert(&p, *meta);
        }
    }

    pub fn add_object_meta(&mut self, prefix: &[&str]) {
        self.add_all(prefix, OBJECT_META);
    }

    pub fn add_pod_spec(&mut self, prefix: &[&str]) {
        self.add_all(prefix, POD_SPEC);
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            let mut p = prefix.to_vec();
            p.push(list);
            self.add_all(&p, CONTAINER);
        }
    }

    /// `batch/v1` Job: ObjectMeta, `spec.template` (PodTemplateSpec) and
    /// `status.conditions` (merge key `type`, batch/v1 `JobStatus`).
    pub fn job() -> &'static PatchSchema {
        static S: LazyLock<PatchSchema> = LazyLock::new(|| {
            let mut s = PatchSchema::empty();
            s.add_object_meta(&["metadata"]);
            s.add_object_meta(&["spec", "template", "metadata"]);
            s.add_pod_spec(&["spec", "template", "spec"]);
            s.insert(&["status", "conditions"], PatchMeta::merge_by("type"));
            s
        });
        &S
    }

    /// core/v1 Pod.
    pub fn pod() -> &'static PatchSchema {
        static S: LazyLock<PatchSchema> = LazyLock::new(|| {
            let mut s = PatchSchema::empty();
            s.add_object_meta(&["metadata"]);
            s.add_pod_spec(&["spec"]);
            s.add_all(&["status"], POD_STATUS);
            s
        });
        &S
    }

    /// core/v1 Namespace: ObjectMeta and `status.conditions` by `type`.
    pub fn namespace() -> &'static PatchSchema {
        static S: LazyLock<PatchSchema> = LazyLock::new(|| {
            let mut s = PatchSchema::empty();
            s.add_object_meta(&["metadata"]);
            s.insert(&["status", "conditions"], PatchMeta::merge_by("type"));
            s
        });
        &S
    }

    /// core/v1 Node: `spec.podCIDRs` (set), `status.conditions` and
    /// `status.addresses` (by `type`).
    pub fn node() -> &'static PatchSchema {
        static S: LazyLock<PatchSchema> = LazyLock::new(|| {
            let mut s = PatchSchema::empty();
            s.add_object_meta(&["metadata"]);
            s.insert(&["spec", "podCIDRs"], PatchMeta::merge_set());
            s.insert(&["status", "conditions"], PatchMeta::merge_by("type"));
            s.insert(&["status", "addresses"], PatchMeta::merge_by("type"));
            s
        });
        &S
    }

    /// Kinds whose only tagged fields are in ObjectMeta (core/v1 Event).
    pub fn metadata_only() -> &'static PatchSchema {
        static S: LazyLock<PatchSchema> = LazyLock::new(|| {
            let mut s = PatchSchema::empty();
            s.add_object_meta(&["metadata"]);
            s
        });
        &S
    }
}
