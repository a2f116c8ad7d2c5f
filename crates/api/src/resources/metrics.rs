//! metrics.k8s.io/v1beta1 PodMetrics and NodeMetrics (metrics-server's
//! `pkg/api`, types from `k8s.io/metrics/pkg/apis/metrics/v1beta1`): the
//! resource metrics API `kubectl top` reads.
//!
//! Computed, read-only kinds: they have no storage, so they are listed in
//! [`super::COMPUTED`], not in `ALL` (the store's kinds, keyed by plural,
//! which these repeat), and the API server answers `get`/`list` from the
//! node's accounting (`apiserver::resource_metrics`). k8s-openapi has no
//! types for this group; the structs below are metrics-server's.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use super::ResourceInfo;
use crate::strategy::Strategy;

/// The group and version.
pub const GROUP: &str = "metrics.k8s.io";
pub const VERSION: &str = "v1beta1";

/// The verbs metrics-server serves.
pub const READ_ONLY_VERBS: &[&str] = &["get", "list"];

/// metrics.k8s.io/v1beta1 `nodes` (kind NodeMetrics).
pub static NODEMETRICS: ResourceInfo = ResourceInfo {
    group: GROUP,
    version: VERSION,
    plural: "nodes",
    singular: "",
    kind: "NodeMetrics",
    list_kind: "NodeMetricsList",
    namespaced: false,
    short_names: &[],
    categories: &[],
    has_generation: false,
    subresources: &[],
    verbs: READ_ONLY_VERBS,
    strategy: &NodeMetricsStrategy,
};

/// metrics.k8s.io/v1beta1 `pods` (kind PodMetrics).
pub static PODMETRICS: ResourceInfo = ResourceInfo {
    group: GROUP,
    version: VERSION,
    plural: "pods",
    singular: "",
    kind: "PodMetrics",
    list_kind: "PodMetricsList",
    namespaced: true,
    short_names: &[],
    categories: &[],
    has_generation: false,
    subresources: &[],
    verbs: READ_ONLY_VERBS,
    strategy: &PodMetricsStrategy,
};

/// `ContainerMetrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContainerMetrics {
    pub name: String,
    /// `cpu` (nanocores, `"123n"`) and `memory` (`"1024Ki"`).
    pub usage: BTreeMap<String, String>,
}

/// `PodMetrics`: the usage of a pod's containers over `window`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PodMetrics {
    pub metadata: ObjectMeta,
    /// RFC 3339: when the window ended.
    pub timestamp: String,
    /// A Go duration (`"1.002s"`).
    pub window: String,
    pub containers: Vec<ContainerMetrics>,
}

/// `NodeMetrics`: the node's usage over `window`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeMetrics {
    pub metadata: ObjectMeta,
    pub timestamp: String,
    pub window: String,
    pub usage: BTreeMap<String, String>,
}

macro_rules! metrics_resource {
    ($ty:ident, $kind:literal, $plural:literal, $scope:ty) => {
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = "metrics.k8s.io/v1beta1";
            const GROUP: &'static str = GROUP;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = VERSION;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = $scope;
        }
        impl k8s_openapi::Metadata for $ty {
            type Ty = ObjectMeta;
            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

metrics_resource!(
    PodMetrics,
    "PodMetrics",
    "pods",
    k8s_openapi::NamespaceResourceScope
);
metrics_resource!(
    NodeMetrics,
    "NodeMetrics",
    "nodes",
    k8s_openapi::ClusterResourceScope
);

/// The PodMetrics strategy: identity only; nothing is ever written.
pub struct PodMetricsStrategy;

impl Strategy for PodMetricsStrategy {
    type Object = PodMetrics;

    fn info(&self) -> &'static ResourceInfo {
        &PODMETRICS
    }
}

/// The NodeMetrics strategy: identity only; nothing is ever written.
pub struct NodeMetricsStrategy;

impl Strategy for NodeMetricsStrategy {
    type Object = NodeMetrics;

    fn info(&self) -> &'static ResourceInfo {
        &NODEMETRICS
    }
}
