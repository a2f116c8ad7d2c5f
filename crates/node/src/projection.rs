//! The files of `configMap`, `secret` and `projected` volumes, and how they
//! are written.
//!
//! The payload of a volume follows `MakePayload` in
//! `pkg/volume/configmap/configmap.go` and `pkg/volume/secret/secret.go`,
//! and `collectData` in `pkg/volume/projected/projected.go`: without
//! `items` every key becomes a file named after it; with `items` only the
//! listed keys, at their `path`, with `mode` or else the volume's
//! `defaultMode` (0644). A missing object or key fails the mount unless
//! the source is `optional`.
//!
//! Files are written as the kubelet's `AtomicWriter`
//! (`pkg/volume/util/atomic_writer.go`) does: into a fresh hidden
//! `..<timestamp>` directory, published by renaming a `..data` symlink,
//! with each top-level name a symlink into `..data`. A pod therefore never
//! sees a half-written update when the object changes, and keys that go
//! away disappear. The volume directory lives under the node's data
//! directory (mode 0700), so only the pod's mount exposes the files.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use k8s_openapi::api::core::v1::{ConfigMap, KeyToPath, Secret, Volume};

use crate::config_sources::Sources;

/// `ConfigMapVolumeSourceDefaultMode`, `SecretVolumeSourceDefaultMode`,
/// `ProjectedVolumeSourceDefaultMode`.
pub(crate) const DEFAULT_MODE: i32 = 0o644;

/// One file of a volume.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct FileProjection {
    pub data: Vec<u8>,
    pub mode: u32,
}

// Deliberately without the data: a Secret's bytes must not reach a log.
impl std::fmt::Debug for FileProjection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "FileProjection({} bytes, {:o})",
            self.data.len(),
            self.mode
        )
    }
}

/// A volume's files by relative path.
pub(crate) type Payload = BTreeMap<String, FileProjection>;

/// Whether the node writes this volume's files from ConfigMaps or Secrets.
pub(crate) fn is_projected(vol: &Volume) -> bool {
    vol.config_map.is_some()
        || vol.secret.is_some()
        || vol.projected.as_ref().is_some_and(|p| {
            p.sources
                .iter()
                .flatten()
                .any(|s| s.config_map.is_some() || s.secret.is_some())
        })
}

fn mode_of(mode: Option<i32>, default: i32) -> u32 {
    (mode.unwrap_or(default) as u32) & 0o777
}

/// `MakePayload` over one object's entries (`data` first, then a
/// ConfigMap's `binaryData`), named in messages as `what`
/// (`configmap references non-existent config key: k`).
fn make_payload<'a>(
    items: Option<&[KeyToPath]>,
    entries: &BTreeMap<&'a str, &'a [u8]>,
    default_mode: i32,
    optional: bool,
    missing_key: &str,
) -> Result<Payload, String> {
    let mut out = Payload::new();
    match items.filter(|i| !i.is_empty()) {
        None => {
            for (k, v) in entries {
                out.insert(
                    k.to_string(),
                    FileProjection {
                        data: v.to_vec(),
                        mode: mode_of(None, default_mode),
                    },
                );
            }
        }
        Some(items) => {
            for kp in items {
                let Some(v) = entries.get(kp.key.as_str()) else {
                    if optional {
                        continue;
                    }
                    return Err(format!("{missing_key}: {}", kp.key));
                };
                out.insert(
                    kp.path.clone(),
                    FileProjection {
                        data: v.to_vec(),
                        mode: mode_of(kp.mode, default_mode),
                    },
                );
            }
        }
    }
    Ok(out)
}

fn config_map_entries(cm: &ConfigMap) -> BTreeMap<&str, &[u8]> {
    let mut m: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for (k, v) in cm.binary_data.iter().flatten() {
        m.insert(k, &v.0);
    }
    // `data` wins over `binaryData` (validation forbids a key in both).
    for (k, v) in cm.data.iter().flatten() {
        m.insert(k, v.as_bytes());
    }
    m
}

fn secret_entries(s: &Secret) -> BTreeMap<&str, &[u8]> {
    s.data
        .iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v.0.as_slice()))
        .collect()
}

/// The payload of a ConfigMap source (`configmap.MakePayload` after
/// `getConfigMap`): a missing object is `configmap "<name>" not found`
/// unless optional, when it reads as empty.
fn config_map_source(
    sources: &dyn Sources,
    namespace: &str,
    name: &str,
    items: Option<&[KeyToPath]>,
    default_mode: i32,
    optional: bool,
) -> Result<Payload, String> {
    let cm = match sources.config_map(namespace, name) {
        Some(cm) => cm,
        None if optional => ConfigMap::default(),
        None => return Err(format!("configmap {name:?} not found")),
    };
    make_payload(
        items,
        &config_map_entries(&cm),
        default_mode,
        optional,
        "configmap references non-existent config key",
    )
}

/// The payload of a Secret source (`secret.MakePayload`).
fn secret_source(
    sources: &dyn Sources,
    namespace: &str,
    name: &str,
    items: Option<&[KeyToPath]>,
    default_mode: i32,
    optional: bool,
) -> Result<Payload, String> {
    let s = match sources.secret(namespace, name) {
        Some(s) => s,
        None if optional => Secret::default(),
        None => return Err(format!("secret {name:?} not found")),
    };
    make_payload(
        items,
        &secret_entries(&s),
        default_mode,
        optional,
        "references non-existent secret key",
    )
}

/// The ConfigMap and Secret files of volume `vol` of a pod in `namespace`,
/// or why the volume cannot be set up (the `FailedMount` message after
/// `MountVolume.SetUp failed for volume "<vol>" : `). `None` for a volume
/// of another kind. A projected volume's downward-API files are not part
/// of it (see `volumes::host_dir`).
pub(crate) fn payload(
    sources: &dyn Sources,
    namespace: &str,
    vol: &Volume,
) -> Option<Result<Payload, String>> {
    if let Some(c) = &vol.config_map {
        return Some(config_map_source(
            sources,
            namespace,
            &c.name,
            c.items.as_deref(),
            c.default_mode.unwrap_or(DEFAULT_MODE),
            c.optional.unwrap_or(false),
        ));
    }
    if let Some(s) = &vol.secret {
        return Some(secret_source(
            sources,
            namespace,
            s.secret_name.as_deref().unwrap_or(""),
            s.items.as_deref(),
            s.default_mode.unwrap_or(DEFAULT_MODE),
            s.optional.unwrap_or(false),
        ));
    }
    let p = vol.projected.as_ref().filter(|_| is_projected(vol))?;
    let default_mode = p.default_mode.unwrap_or(DEFAULT_MODE);
    // `collectData`: every source is tried; the errors are aggregated.
    let mut out = Payload::new();
    let mut errs = Vec::new();
    for s in p.sources.iter().flatten() {
        let part = if let Some(c) = &s.config_map {
            config_map_source(
                sources,
                namespace,
                &c.name,
                c.items.as_deref(),
                default_mode,
                c.optional.unwrap_or(false),
            )
        } else if let Some(c) = &s.secret {
            secret_source(
                sources,
                namespace,
                &c.name,
                c.items.as_deref(),
                default_mode,
                c.optional.unwrap_or(false),
            )
        } else {
            continue;
        };
        match part {
            Ok(files) => out.extend(files),
            Err(e) => errs.push(e),
        }
    }
    Some(match errs.len() {
        0 => Ok(out),
        // `utilerrors.NewAggregate(errs).Error()`.
        1 => Err(errs.remove(0)),
        _ => Err(format!("[{}]", errs.join(", "))),
    })
}

/// The published content directory's link.
const DATA_LINK: &str = "..data";
const DATA_TMP_LINK: &str = "..data_tmp";

/// Checks a payload path as `validatePath` in the atomic writer: relative,
/// no `..` element, not starting with `..`.
fn check_path(p: &str) -> io::Result<()> {
    let bad = p.is_empty()
        || p.starts_with('/')
        || p.starts_with("..")
        || p.split('/').any(|c| c == ".." || c.is_empty());
    if bad {
        return Err(io::Error::other(format!("invalid path {p:?}")));
    }
    Ok(())
}

/// Whether the published content equals `payload` (then nothing is written).
fn unchanged(current: &Path, payload: &Payload) -> bool {
    let mut seen = 0;
    for (p, f) in payload {
        let path = current.join(p);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            return false;
        };
        if !meta.is_file() || meta.permissions().mode() & 0o777 != f.mode {
            return false;
        }
        match std::fs::read(&path) {
            Ok(d) if d == f.data => seen += 1,
            _ => return false,
        }
    }
    count_files(current) == Some(seen)
}

fn count_files(dir: &Path) -> Option<usize> {
    let mut n = 0;
    for e in std::fs::read_dir(dir).ok()? {
        let e = e.ok()?;
        let t = e.file_type().ok()?;
        if t.is_dir() {
            n += count_files(&e.path())?;
        } else {
            n += 1;
        }
    }
    Some(n)
}

/// Publishes `payload` in `dir` atomically (see the module docs). Names in
/// `dir` that are not links into `..data` (a projected volume's
/// downward-API files) are left alone.
pub(crate) fn write(dir: &Path, payload: &Payload) -> io::Result<()> {
    for p in payload.keys() {
        check_path(p)?;
    }
    crate::volumes::make_dir(dir)?;
    let data_link = dir.join(DATA_LINK);
    let old = std::fs::read_link(&data_link).ok();
    if let Some(old) = &old {
        if unchanged(&dir.join(old), payload) {
            return Ok(());
        }
    }
    // The new content, in a fresh hidden directory.
    let stamp = chrono::Utc::now().format("%Y_%m_%d_%H_%M_%S%.9f");
    let mut ts = format!("..{stamp}");
    let mut n = 0;
    while std::fs::symlink_metadata(dir.join(&ts)).is_ok() {
        n += 1;
        ts = format!("..{stamp}.{n}");
    }
    let ts_dir = dir.join(&ts);
    std::fs::create_dir(&ts_dir)?;
    std::fs::set_permissions(&ts_dir, std::fs::Permissions::from_mode(0o755))?;
    for (p, f) in payload {
        let file = ts_dir.join(p);
        if let Some(parent) = file.parent() {
            crate::volumes::make_dir(parent)?;
        }
        std::fs::write(&file, &f.data)?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(f.mode))?;
    }
    // The user-visible names: one link per top-level path element.
    let tops: BTreeSet<&str> = payload
        .keys()
        .map(|p| p.split('/').next().unwrap_or(p))
        .collect();
    for top in &tops {
        let link = dir.join(top);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new(DATA_LINK).join(top), &link)?;
        }
    }
    // Publish: `..data_tmp` -> new, renamed over `..data`.
    let tmp = dir.join(DATA_TMP_LINK);
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&ts, &tmp)?;
    std::fs::rename(&tmp, &data_link)?;
    // Names that left the payload, then the old content.
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("..") || tops.contains(name.as_str()) {
            continue;
        }
        let into_data = std::fs::read_link(e.path()).is_ok_and(|t| t.starts_with(DATA_LINK));
        if into_data {
            let _ = std::fs::remove_file(e.path());
        }
    }
    if let Some(old) = old {
        let _ = std::fs::remove_dir_all(dir.join(old));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fake() -> crate::config_sources::Fake {
        crate::config_sources::Fake::new(
            json!({"ns/cm": {"data": {"a": "1", "b": "two"}, "binaryData": {"bin": "//4="}}}),
            json!({"ns/s": {"data": {"password": "aHVudGVyMg=="}}}),
        )
    }

    fn vol(v: serde_json::Value) -> Volume {
        serde_json::from_value(v).unwrap()
    }

    fn files(p: &Payload) -> Vec<(String, Vec<u8>, u32)> {
        p.iter()
            .map(|(k, f)| (k.clone(), f.data.clone(), f.mode))
            .collect()
    }

    #[test]
    fn payloads_follow_make_payload() {
        let f = fake();
        let all = payload(
            &f,
            "ns",
            &vol(json!({"name": "v", "configMap": {"name": "cm"}})),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            files(&all),
            [
                ("a".into(), b"1".to_vec(), 0o644),
                ("b".into(), b"two".to_vec(), 0o644),
                ("bin".into(), vec![0xff, 0xfe], 0o644)
            ]
        );
        let items = payload(
            &f,
            "ns",
            &vol(json!({"name": "v", "configMap": {"name": "cm", "defaultMode": 0o440,
                "items": [{"key": "a", "path": "conf/a.txt", "mode": 0o400}, {"key": "b", "path": "b"}]}})),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            files(&items),
            [
                ("b".into(), b"two".to_vec(), 0o440),
                ("conf/a.txt".into(), b"1".to_vec(), 0o400)
            ]
        );
        let secret = payload(
            &f,
            "ns",
            &vol(json!({"name": "v", "secret": {"secretName": "s"}})),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            files(&secret),
            [("password".into(), b"hunter2".to_vec(), 0o644)]
        );
        assert!(payload(&f, "ns", &vol(json!({"name": "v", "emptyDir": {}}))).is_none());
    }

    #[test]
    fn missing_objects_and_keys_fail_unless_optional() {
        let f = fake();
        let p = |v: serde_json::Value| payload(&f, "ns", &vol(v)).unwrap();
        assert_eq!(
            p(json!({"name": "v", "configMap": {"name": "nope"}})),
            Err("configmap \"nope\" not found".into())
        );
        assert_eq!(
            p(json!({"name": "v", "secret": {"secretName": "nope"}})),
            Err("secret \"nope\" not found".into())
        );
        assert_eq!(
            p(
                json!({"name": "v", "configMap": {"name": "cm", "items": [{"key": "zz", "path": "z"}]}})
            ),
            Err("configmap references non-existent config key: zz".into())
        );
        assert_eq!(
            p(
                json!({"name": "v", "secret": {"secretName": "s", "items": [{"key": "zz", "path": "z"}]}})
            ),
            Err("references non-existent secret key: zz".into())
        );
        assert_eq!(
            p(json!({"name": "v", "configMap": {"name": "nope", "optional": true}})),
            Ok(Payload::new())
        );
        let skipped = p(
            json!({"name": "v", "configMap": {"name": "cm", "optional": true,
            "items": [{"key": "zz", "path": "z"}, {"key": "a", "path": "a"}]}}),
        )
        .unwrap();
        assert_eq!(files(&skipped), [("a".into(), b"1".to_vec(), 0o644)]);
        // Projected: sources merge; errors are aggregated.
        let merged = p(
            json!({"name": "v", "projected": {"defaultMode": 0o600, "sources": [
            {"configMap": {"name": "cm", "items": [{"key": "a", "path": "a"}]}},
            {"secret": {"name": "s"}}]}}),
        )
        .unwrap();
        assert_eq!(
            files(&merged),
            [
                ("a".into(), b"1".to_vec(), 0o600),
                ("password".into(), b"hunter2".to_vec(), 0o600)
            ]
        );
        assert_eq!(
            p(json!({"name": "v", "projected": {"sources": [
                {"configMap": {"name": "x"}}, {"secret": {"name": "y"}}]}})),
            Err("[configmap \"x\" not found, secret \"y\" not found]".into())
        );
    }

    #[test]
    fn the_atomic_writer_publishes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("vol");
        let file = |data: &str, mode| FileProjection {
            data: data.as_bytes().to_vec(),
            mode,
        };
        let first: Payload = [
            ("a".to_string(), file("1", 0o400)),
            ("sub/b".to_string(), file("2", 0o644)),
        ]
        .into();
        write(&d, &first).unwrap();
        assert_eq!(std::fs::read_to_string(d.join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(d.join("sub/b")).unwrap(), "2");
        let mode = std::fs::metadata(d.join("a")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o400);
        assert!(std::fs::symlink_metadata(d.join("a"))
            .unwrap()
            .file_type()
            .is_symlink());
        let published = std::fs::read_link(d.join("..data")).unwrap();
        // The same payload again writes nothing.
        write(&d, &first).unwrap();
        assert_eq!(std::fs::read_link(d.join("..data")).unwrap(), published);
        // A file the node did not write (a downward-API file) stays.
        std::fs::write(d.join("podname"), "p").unwrap();
        let second: Payload = [("c".to_string(), file("3", 0o644))].into();
        write(&d, &second).unwrap();
        assert!(std::fs::symlink_metadata(d.join("a")).is_err());
        assert!(std::fs::symlink_metadata(d.join("sub")).is_err());
        assert_eq!(std::fs::read_to_string(d.join("c")).unwrap(), "3");
        assert_eq!(std::fs::read_to_string(d.join("podname")).unwrap(), "p");
        assert!(!d.join(&published).exists(), "old content removed");
        let bad: Payload = [("../x".to_string(), file("x", 0o644))].into();
        assert!(write(&d, &bad).is_err());
    }

    #[test]
    fn secret_bytes_never_print() {
        let f = FileProjection {
            data: b"hunter2".to_vec(),
            mode: 0o400,
        };
        assert_eq!(format!("{f:?}"), "FileProjection(7 bytes, 400)");
    }
}
