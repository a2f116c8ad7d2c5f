//! The resources joblite serves, described once.
//!
//! Discovery, routing, the store and the Table printers all key off this
//! table, so adding a resource is one entry here rather than edits in five
//! places.

/// One served resource type (e.g. `jobs` in `batch/v1`).
#[derive(Debug, PartialEq, Eq, Hash)]
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
    /// Whether the registry bumps `metadata.generation` on spec changes.
    pub has_generation: bool,
    /// Subresources served beside the resource (`status`, `log`).
    pub subresources: &'static [&'static str],
}

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
}

pub static JOBS: ResourceInfo = ResourceInfo {
    group: "batch",
    version: "v1",
    plural: "jobs",
    singular: "job",
    kind: "Job",
    list_kind: "JobList",
    namespaced: true,
    short_names: &[],
    categories: &["all"],
    has_generation: true,
    subresources: &["status"],
};

pub static PODS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    plural: "pods",
    singular: "pod",
    kind: "Pod",
    list_kind: "PodList",
    namespaced: true,
    short_names: &["po"],
    categories: &["all"],
    has_generation: false,
    subresources: &["status", "log", "eviction"],
};

pub static NAMESPACES: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    plural: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    list_kind: "NamespaceList",
    namespaced: false,
    short_names: &["ns"],
    categories: &[],
    has_generation: false,
    subresources: &["status"],
};

pub static EVENTS: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    plural: "events",
    singular: "event",
    kind: "Event",
    list_kind: "EventList",
    namespaced: true,
    short_names: &["ev"],
    categories: &[],
    has_generation: false,
    subresources: &[],
};

pub static NODES: ResourceInfo = ResourceInfo {
    group: "",
    version: "v1",
    plural: "nodes",
    singular: "node",
    kind: "Node",
    list_kind: "NodeList",
    namespaced: false,
    short_names: &["no"],
    categories: &[],
    has_generation: false,
    subresources: &["status"],
};

/// Every served resource, core group first.
pub static ALL: [&ResourceInfo; 5] = [&PODS, &EVENTS, &NAMESPACES, &NODES, &JOBS];

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
