//! RuntimeClasses on this node: the handlers it has, published as built-in
//! node.k8s.io/v1 objects, and a pod's `runtimeClassName` resolved to the
//! runtime that runs it (the kubelet's `pkg/kubelet/runtimeclass`
//! manager, then the CRI's handler lookup).
//!
//! The API refuses a pod naming a class that does not exist (the
//! RuntimeClass admission plugin); the node still resolves at start, since
//! a class can be deleted between the two, and a handler it does not have
//! leaves the pod waiting in `ContainerCreating` with a
//! `FailedCreatePodSandBox` event, as a kubelet whose CRI lacks the
//! handler does.

use api::resources::RUNTIMECLASSES;
use api::validation::go_quote;
use k8s_openapi::api::core::v1::PodSpec;
use serde_json::{json, Value};
use store::Store;

use crate::runtime::RuntimeKind;
use crate::Result;

/// The handlers this node knows, by the RuntimeClass (and handler) name.
pub const BUILT_IN: [RuntimeKind; 2] = [RuntimeKind::Process, RuntimeKind::Container];

/// The built-in RuntimeClass of a handler.
pub fn object(kind: RuntimeKind) -> Value {
    json!({
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": kind.name(), "labels": {"joblite.dev/built-in": "true"}},
        "handler": kind.name(),
    })
}

/// Creates the built-in RuntimeClasses that are missing (one deleted by a
/// user comes back at the next start, as the built-in namespaces do).
pub async fn register(store: &Store) -> Result<()> {
    for kind in BUILT_IN {
        if store.get(&RUNTIMECLASSES, "", kind.name()).is_ok() {
            continue;
        }
        match store.create(&RUNTIMECLASSES, object(kind)).await {
            Ok(_) | Err(store::Error::AlreadyExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Why a pod's class gives it no runtime: the `FailedCreatePodSandBox`
/// event's message.
pub fn resolve(
    store: &Store,
    spec: &PodSpec,
    default: RuntimeKind,
    has: impl Fn(RuntimeKind) -> bool,
) -> std::result::Result<RuntimeKind, String> {
    let Some(class) = spec.runtime_class_name.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(default);
    };
    // `LookupRuntimeHandler`: the lister's NotFound names the singular.
    let handler = match store.get(&RUNTIMECLASSES, "", class) {
        Ok(stored) => serde_json::from_slice::<Value>(&stored.bytes)
            .ok()
            .and_then(|v| v.get("handler").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default(),
        Err(_) => {
            return Err(format!(
                "Failed to create pod sandbox: runtimeclass.node.k8s.io {} not found",
                go_quote(class)
            ))
        }
    };
    let Some(kind) = RuntimeKind::from_handler(&handler) else {
        return Err(format!(
            "Failed to create pod sandbox: RuntimeHandler {} not supported",
            go_quote(&handler)
        ));
    };
    if has(kind) {
        Ok(kind)
    } else {
        Err(format!(
            "Failed to create pod sandbox: the {} runtime is not available on this node: no container engine answered when joblite started (start Podman or Docker, then restart joblite; `joblite status` says which runtime it found)",
            kind.name()
        ))
    }
}
