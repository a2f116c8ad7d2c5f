//! ConfigMaps and Secrets as the node consumes them: the kubelet's
//! configmap and secret managers (`pkg/kubelet/configmap`,
//! `pkg/kubelet/secret`, watch-based since 1.14).
//!
//! A pod names these objects in `env[].valueFrom`, `envFrom` and
//! `configMap`, `secret` and `projected` volumes; the API server does not
//! check that they exist, so the node resolves them when it starts a
//! container (`env.rs`) or sets up a volume (`projection.rs`). Lookups read
//! the store's current state through [`Sources`]; the store is already the
//! in-memory cache a watch-based manager keeps.
//!
//! A pod that waits on a missing object or key must start by itself once
//! it appears, with no poll: [`watch`] follows both resources and reports
//! each changed object, and [`Dependents`] says which pods named it, so the
//! agent wakes only those.
//!
//! Nothing here logs or formats an object's values: errors name objects
//! and keys only, so a Secret's value never reaches a log or an event.

use std::collections::{HashMap, HashSet};

use api::resources::{ResourceInfo, CONFIGMAPS, SECRETS};
use k8s_openapi::api::core::v1::{ConfigMap, PodSpec, Secret};
use store::{Change, Follower, Store};
use tokio::sync::mpsc;

/// Where a pod's ConfigMap and Secret references are looked up.
pub trait Sources: Send + Sync {
    /// The ConfigMap `namespace/name`, if it exists.
    fn config_map(&self, namespace: &str, name: &str) -> Option<ConfigMap>;
    /// The Secret `namespace/name`, if it exists.
    fn secret(&self, namespace: &str, name: &str) -> Option<Secret>;
}

impl Sources for Store {
    fn config_map(&self, namespace: &str, name: &str) -> Option<ConfigMap> {
        self.get(&CONFIGMAPS, namespace, name).ok()?.typed().ok()
    }
    fn secret(&self, namespace: &str, name: &str) -> Option<Secret> {
        self.get(&SECRETS, namespace, name).ok()?.typed().ok()
    }
}

/// No ConfigMaps or Secrets at all (tests, and requests built without a
/// store).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoSources;

impl Sources for NoSources {
    fn config_map(&self, _: &str, _: &str) -> Option<ConfigMap> {
        None
    }
    fn secret(&self, _: &str, _: &str) -> Option<Secret> {
        None
    }
}

/// Which kind of object a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SourceKind {
    ConfigMap,
    Secret,
}

impl SourceKind {
    fn resource(self) -> &'static ResourceInfo {
        match self {
            SourceKind::ConfigMap => &CONFIGMAPS,
            SourceKind::Secret => &SECRETS,
        }
    }
}

/// One ConfigMap or Secret, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SourceRef {
    pub kind: SourceKind,
    pub namespace: String,
    pub name: String,
}

impl SourceRef {
    fn new(kind: SourceKind, namespace: &str, name: &str) -> SourceRef {
        SourceRef {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// Every ConfigMap and Secret the pod names, in any container's `env` or
/// `envFrom` or in a volume (projected sources included).
pub(crate) fn references(namespace: &str, spec: &PodSpec) -> HashSet<SourceRef> {
    let mut out = HashSet::new();
    let mut add = |kind, name: &str| {
        if !name.is_empty() {
            out.insert(SourceRef::new(kind, namespace, name));
        }
    };
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for c in containers {
        for e in c.env.iter().flatten() {
            let Some(from) = &e.value_from else { continue };
            if let Some(r) = &from.config_map_key_ref {
                add(SourceKind::ConfigMap, &r.name);
            }
            if let Some(r) = &from.secret_key_ref {
                add(SourceKind::Secret, &r.name);
            }
        }
        for e in c.env_from.iter().flatten() {
            if let Some(r) = &e.config_map_ref {
                add(SourceKind::ConfigMap, &r.name);
            }
            if let Some(r) = &e.secret_ref {
                add(SourceKind::Secret, &r.name);
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(c) = &v.config_map {
            add(SourceKind::ConfigMap, &c.name);
        }
        if let Some(s) = &v.secret {
            add(SourceKind::Secret, s.secret_name.as_deref().unwrap_or(""));
        }
        for s in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(c) = &s.config_map {
                add(SourceKind::ConfigMap, &c.name);
            }
            if let Some(s) = &s.secret {
                add(SourceKind::Secret, &s.name);
            }
        }
    }
    out
}

/// The pods on this node that name each ConfigMap and Secret.
#[derive(Debug, Default)]
pub(crate) struct Dependents {
    by_source: HashMap<SourceRef, HashSet<String>>,
    by_pod: HashMap<String, Vec<SourceRef>>,
}

impl Dependents {
    /// Records what pod `uid` names (nothing for a pod that names none).
    pub(crate) fn track(&mut self, uid: &str, namespace: &str, spec: &PodSpec) {
        let refs = references(namespace, spec);
        if refs.is_empty() || self.by_pod.contains_key(uid) {
            return;
        }
        for r in &refs {
            self.by_source
                .entry(r.clone())
                .or_default()
                .insert(uid.to_string());
        }
        self.by_pod
            .insert(uid.to_string(), refs.into_iter().collect());
    }

    /// Forgets pod `uid`.
    pub(crate) fn forget(&mut self, uid: &str) {
        for r in self.by_pod.remove(uid).into_iter().flatten() {
            if let Some(set) = self.by_source.get_mut(&r) {
                set.remove(uid);
                if set.is_empty() {
                    self.by_source.remove(&r);
                }
            }
        }
    }

    /// The pods that name `source`.
    pub(crate) fn of(&self, source: &SourceRef) -> Vec<String> {
        self.by_source
            .get(source)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Follows ConfigMaps and Secrets from now on and sends the reference of
/// every object that is created, changed or deleted (after a relist, of
/// every object listed). The task ends when the receiver is dropped or the
/// store closes.
pub(crate) fn watch(store: &Store) -> store::Result<mpsc::UnboundedReceiver<SourceRef>> {
    let (tx, rx) = mpsc::unbounded_channel();
    for kind in [SourceKind::ConfigMap, SourceKind::Secret] {
        let (_, mut follower) = Follower::start(store, kind.resource(), None)?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(change) = follower.next().await {
                let refs: Vec<SourceRef> = match change {
                    Change::Event(ev) => {
                        vec![SourceRef::new(kind, &ev.key.namespace, &ev.key.name)]
                    }
                    Change::Relisted(list) => list
                        .iter()
                        .filter_map(|s| {
                            let v = s.value();
                            let meta = v.get("metadata")?;
                            Some(SourceRef::new(
                                kind,
                                meta.get("namespace")?.as_str()?,
                                meta.get("name")?.as_str()?,
                            ))
                        })
                        .collect(),
                };
                for r in refs {
                    if tx.send(r).is_err() {
                        return;
                    }
                }
            }
        });
    }
    Ok(rx)
}

/// ConfigMaps and Secrets from JSON maps keyed `namespace/name` (tests).
#[cfg(test)]
pub(crate) struct Fake {
    config_maps: HashMap<String, ConfigMap>,
    secrets: HashMap<String, Secret>,
}

#[cfg(test)]
impl Fake {
    pub(crate) fn new(config_maps: serde_json::Value, secrets: serde_json::Value) -> Fake {
        Fake {
            config_maps: serde_json::from_value(config_maps).unwrap(),
            secrets: serde_json::from_value(secrets).unwrap(),
        }
    }
}

#[cfg(test)]
impl Sources for Fake {
    fn config_map(&self, namespace: &str, name: &str) -> Option<ConfigMap> {
        self.config_maps
            .get(&format!("{namespace}/{name}"))
            .cloned()
    }
    fn secret(&self, namespace: &str, name: &str) -> Option<Secret> {
        self.secrets.get(&format!("{namespace}/{name}")).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> PodSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn references_cover_env_env_from_and_volumes() {
        let s = spec(json!({
            "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "s1"}}]}],
            "containers": [{"name": "c",
                "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm1", "key": "k"}}},
                        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s2", "key": "k"}}},
                        {"name": "C", "value": "x"}],
                "envFrom": [{"configMapRef": {"name": "cm2"}}]}],
            "volumes": [
                {"name": "a", "configMap": {"name": "cm3"}},
                {"name": "b", "secret": {"secretName": "s3"}},
                {"name": "c", "projected": {"sources": [{"configMap": {"name": "cm4"}}, {"secret": {"name": "s4"}}]}},
                {"name": "d", "emptyDir": {}}
            ]
        }));
        let mut got: Vec<(SourceKind, String)> = references("ns", &s)
            .into_iter()
            .inspect(|r| assert_eq!(r.namespace, "ns"))
            .map(|r| (r.kind, r.name))
            .collect();
        got.sort_by(|a, b| a.1.cmp(&b.1));
        let want: Vec<(SourceKind, String)> = [
            (SourceKind::ConfigMap, "cm1"),
            (SourceKind::ConfigMap, "cm2"),
            (SourceKind::ConfigMap, "cm3"),
            (SourceKind::ConfigMap, "cm4"),
            (SourceKind::Secret, "s1"),
            (SourceKind::Secret, "s2"),
            (SourceKind::Secret, "s3"),
            (SourceKind::Secret, "s4"),
        ]
        .into_iter()
        .map(|(k, n)| (k, n.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn dependents_track_and_forget() {
        let mut d = Dependents::default();
        let s = spec(
            json!({"containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "cm"}}]}]}),
        );
        d.track("u1", "ns", &s);
        d.track("u2", "ns", &s);
        d.track("u3", "other", &s);
        d.track("u4", "ns", &spec(json!({"containers": [{"name": "c"}]})));
        let cm = SourceRef::new(SourceKind::ConfigMap, "ns", "cm");
        let mut of = d.of(&cm);
        of.sort();
        assert_eq!(of, ["u1", "u2"]);
        assert!(d
            .of(&SourceRef::new(SourceKind::Secret, "ns", "cm"))
            .is_empty());
        d.forget("u1");
        d.forget("u2");
        assert!(d.of(&cm).is_empty());
        assert!(d.by_source.len() == 1 && d.by_pod.len() == 1);
    }

    #[tokio::test]
    async fn the_watch_reports_created_and_changed_objects() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), store::Options::default()).unwrap();
        store
            .create(
                &api::resources::NAMESPACES,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
            )
            .await
            .unwrap();
        let mut rx = watch(&store).unwrap();
        store
            .create(
                &SECRETS,
                json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "s", "namespace": "default"}, "data": {"k": "dg=="}}),
            )
            .await
            .unwrap();
        let got = rx.recv().await.unwrap();
        assert_eq!(got, SourceRef::new(SourceKind::Secret, "default", "s"));
        assert_eq!(
            store.secret("default", "s").unwrap().data.unwrap()["k"].0,
            b"v"
        );
        assert!(store.config_map("default", "s").is_none());
    }
}
