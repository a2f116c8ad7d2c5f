//! The registry: every kind joblite serves, one file each, and the one list
//! that everything consults.
//!
//! Discovery, routing, OpenAPI, the store's write path, Tables, field
//! selectors, strategic merge patch, protobuf bodies, `describe` and the
//! CLI's resource words all start from a [`ResourceInfo`] found here and
//! reach the kind's behaviour through [`ResourceInfo::strategy`]. Nothing
//! else matches on kind names.
//!
//! # Adding a kind
//!
//! One file and one line:
//!
//! 1. Create `crates/api/src/resources/<kind>.rs` (see `configmap.rs` for a small
//!    complete example) with
//!    - a `pub static <PLURAL>: ResourceInfo` — group, version, plural,
//!      singular, kind, list kind, scope, short names, categories, verbs
//!      ([`VERBS`] or a subset), subresources (`&["status"]` when the kind
//!      has a status subresource), `has_generation` (the store sets
//!      `metadata.generation: 1` on create; bump it in `prepare_for_update`
//!      with [`crate::strategy::bump_generation`]) and
//!      `strategy: &<Kind>Strategy`;
//!    - a unit struct `<Kind>Strategy` implementing
//!      [`Strategy`](crate::strategy::Strategy) with
//!      `type Object = k8s_openapi::…::<Kind>` and `fn info()` returning the
//!      static. Override only what differs from the defaults: defaulting,
//!      `prepare_for_create`/`prepare_for_update`/`prepare_for_status_update`
//!      (carry status on main updates, spec on status updates), validation
//!      (upstream messages and field paths; `crate::validation` has the
//!      shared rules), `columns`/`cells` (upstream's printer, in column
//!      order with priority-1 columns last), `field_label`/`field_value`
//!      (upstream's field-label conversion), `patch_schema` (the
//!      `patchStrategy`/`patchMergeKey` tags), `decode_protobuf`, `describe`,
//!      deletion hooks.
//! 2. Add one line `<kind>::<PLURAL>,` to the `kinds!` list below (the
//!    plural must be unique across groups: the store keys objects by it).
//!
//! That gives the kind its discovery entries (aggregated and legacy), its
//! REST routes (CRUD, patch, watch, `deletecollection` when listed in the
//! verbs, `/status` when listed in the subresources), OpenAPI v3 schemas and
//! operations, server-side Tables (`kubectl get`), field selectors, short
//! names in `kubectl` and in `joblite get`, the store's write path (the same
//! defaulting and validation for API clients and in-process writers),
//! dry-run, and `joblite describe`.
//!
//! Protobuf: kubectl's typed commands (`kubectl create job|namespace|
//! configmap|secret`, `kubectl auth can-i`) send protobuf bodies and do not
//! retry with JSON. A kind whose strategy returns `None` from
//! `decode_protobuf` (the default) answers such a body with 415; give it a
//! decoder (the helpers in [`crate::protobuf`]) when kubectl has a typed
//! command that creates it. `kubectl apply/create -f` always send JSON.

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::strategy::DynStrategy;

/// One served resource type (e.g. `jobs` in `batch/v1`).
pub struct ResourceInfo {
    /// API group; `""` is the core group.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// Plural resource name used in URLs (`jobs`).
    pub plural: &'static str,
    /// Singular name (`job`).
    pub singular: &'static str,
    /// Kind (`Job`).
    pub kind: &'static str,
    /// Kind of the list (`JobList`).
    pub list_kind: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names kubectl accepts (`po`).
    pub short_names: &'static [&'static str],
    /// Categories (`all`).
    pub categories: &'static [&'static str],
    /// Whether objects carry `metadata.generation` (1 on create).
    pub has_generation: bool,
    /// Subresources served beside the resource (`status`, `log`).
    pub subresources: &'static [&'static str],
    /// Verbs discovery lists and the routes allow.
    pub verbs: &'static [&'static str],
    /// Everything else about the kind.
    pub strategy: &'static dyn DynStrategy,
}

/// The verbs of an ordinary stored resource.
pub const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl ResourceInfo {
    /// `batch/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The name used in error messages: `jobs.batch`, or `pods` for the core group.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The kind qualified by group, as in `Job.batch "x" is invalid`.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// Whether the resource serves `verb`.
    pub fn allows(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }
}

impl fmt::Debug for ResourceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourceInfo({})", self.qualified())
    }
}

impl PartialEq for ResourceInfo {
    fn eq(&self, other: &Self) -> bool {
        self.group == other.group && self.version == other.version && self.plural == other.plural
    }
}

impl Eq for ResourceInfo {}

impl Hash for ResourceInfo {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.group, self.version, self.plural).hash(state);
    }
}

/// Declares the kind modules, re-exports their statics and lists them.
macro_rules! kinds {
    ($($module:ident :: $info:ident),* $(,)?) => {
        $(pub mod $module; pub use $module::$info;)*
        /// Every served resource, in discovery order (core group first).
        pub static ALL: &[&ResourceInfo] = &[$(&$info),*];
    };
}

// The registration list: one line per kind.
kinds! {
    pod::PODS,
    event::EVENTS,
    namespace::NAMESPACES,
    node::NODES,
    configmap::CONFIGMAPS,
    secret::SECRETS,
    // Groups in upstream's discovery priority (kube-apiserver
    // `apiVersionPriorities`): authorization.k8s.io (17600) before batch (17400).
    selfsubjectaccessreview::SELF_SUBJECT_ACCESS_REVIEWS,
    selfsubjectrulesreview::SELF_SUBJECT_RULES_REVIEWS,
    job::JOBS,
    cronjob::CRONJOBS,
    // node.k8s.io (16300) after batch, as upstream's group priorities.
    runtimeclass::RUNTIMECLASSES,
}

/// Computed, read-only kinds: served by their own handler from live data
/// rather than the store, so they are not in [`ALL`] (their plurals may
/// repeat a stored kind's). Discovery lists them after `ALL`.
pub mod metrics;
pub static COMPUTED: &[&ResourceInfo] = &[&metrics::NODEMETRICS, &metrics::PODMETRICS];

/// Finds a resource by group and plural name.
pub fn lookup(group: &str, plural: &str) -> Option<&'static ResourceInfo> {
    ALL.iter()
        .copied()
        .find(|r| r.group == group && r.plural == plural)
}

/// Finds a resource by its kind and apiVersion (`batch/v1`, `v1`).
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    ALL.iter()
        .copied()
        .find(|r| r.kind == kind && r.api_version() == api_version)
}

/// Finds a resource by plural name alone, in any group (the store's keys).
pub fn by_plural(plural: &str) -> Option<&'static ResourceInfo> {
    ALL.iter().copied().find(|r| r.plural == plural)
}
