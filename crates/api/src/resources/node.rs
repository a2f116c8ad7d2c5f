//! core/v1 Node (upstream `pkg/registry/core/node/strategy.go`, `printNode`,
//! `pkg/apis/core/v1/conversion.go`). joblite's one node is the machine.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Node;
use serde_json::{json, Value};

use super::{ResourceInfo, VERBS};
use crate::patch_schema::PatchSchema;
use crate::selectors::core_field_label_error;
use crate::status::ApiError;
use crate::strategy::Strategy;
use crate::table::{age_col, age_of, arr, col, name_col, name_of, s};
use crate::validation::{self, FieldError};

/// core/v1 `nodes`.
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
    verbs: VERBS,
    strategy: &NodeStrategy,
};

const NODE_ADDRESSES_DESC: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";

/// The Node strategy.
pub struct NodeStrategy;

impl Strategy for NodeStrategy {
    type Object = Node;

    fn info(&self) -> &'static ResourceInfo {
        &NODES
    }

    /// The one Node is written on every heartbeat.
    fn cache_decoded(&self, _obj: &Node) -> bool {
        true
    }

    fn validate_create(&self, node: &Node) -> Vec<FieldError> {
        validation::validate_node_create(node)
    }

    fn prepare_for_update(&self, new: &mut Node, old: &Node) {
        new.status = old.status.clone();
    }

    fn validate_update(&self, new: &Node, old: &Node) -> Vec<FieldError> {
        validation::validate_node_update(new, old)
    }

    fn prepare_for_status_update(&self, new: &mut Node, old: &Node) {
        new.spec = old.spec.clone();
    }

    fn columns(&self) -> Vec<Value> {
        vec![
            name_col(),
            col("Status", "string", "", "The status of the node", 0),
            col("Roles", "string", "", "The roles of the node", 0),
            age_col(),
            col("Version", "string", "", "Kubelet Version reported by the node.", 0),
            col("Internal-IP", "string", "", NODE_ADDRESSES_DESC, 1),
            col("External-IP", "string", "", NODE_ADDRESSES_DESC, 1),
            col("OS-Image", "string", "", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1),
            col("Kernel-Version", "string", "", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
            col("Container-Runtime", "string", "", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", 1),
        ]
    }

    fn cells(&self, node: &Value, now: DateTime<Utc>) -> Vec<Value> {
        node_cells(node, now)
    }

    fn field_label<'a>(&self, label: &'a str) -> Result<&'a str, ApiError> {
        match label {
            "metadata.name" | "spec.unschedulable" => Ok(label),
            _ => Err(core_field_label_error(label)),
        }
    }

    fn field_value(&self, node: &Value, field: &str) -> Option<String> {
        (field == "spec.unschedulable").then(|| {
            node.pointer("/spec/unschedulable")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                .to_string()
        })
    }

    fn patch_schema(&self) -> &'static PatchSchema {
        PatchSchema::node()
    }
}

fn node_cells(node: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut status: Vec<String> = Vec::new();
    // Only the Ready condition is considered (NodeAllConditions); the last
    // entry of a type wins, as in upstream's conditionMap.
    if let Some(c) = arr(node, "/status/conditions")
        .iter()
        .rev()
        .find(|c| s(c, "/type") == "Ready")
    {
        status.push(if s(c, "/status") == "True" {
            "Ready".into()
        } else {
            "NotReady".into()
        });
    }
    if status.is_empty() {
        status.push("Unknown".into());
    }
    if node
        .pointer("/spec/unschedulable")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        status.push("SchedulingDisabled".into());
    }
    // findNodeRoles: node-role.kubernetes.io/<role> keys and kubernetes.io/role values.
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = node.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role.to_string());
                }
            } else if k == "kubernetes.io/role" {
                if let Some(v) = v.as_str().filter(|v| !v.is_empty()) {
                    roles.push(v.to_string());
                }
            }
        }
    }
    roles.sort();
    roles.dedup();
    let address = |ty: &str| {
        arr(node, "/status/addresses")
            .iter()
            .find(|a| s(a, "/type") == ty)
            .map(|a| s(a, "/address").to_string())
            .unwrap_or_else(|| "<none>".into())
    };
    let unknown = |p: &str| {
        let v = s(node, p);
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        name_of(node),
        json!(status.join(",")),
        json!(if roles.is_empty() {
            "<none>".to_string()
        } else {
            roles.join(",")
        }),
        age_of(node, now),
        json!(s(node, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(unknown("/status/nodeInfo/osImage")),
        json!(unknown("/status/nodeInfo/kernelVersion")),
        json!(unknown("/status/nodeInfo/containerRuntimeVersion")),
    ]
}
