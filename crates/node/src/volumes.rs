//! Volume set-up before any container starts: the kubelet's volume manager.
//!
//! The kubelet mounts every volume of a pod before it starts the first
//! container; while a mount fails the pod stays `Pending`, its containers
//! wait in `ContainerCreating`, a `FailedMount` warning is recorded, and the
//! mount is retried with exponential back-off. On one machine the volumes
//! that can fail this way are `hostPath` with a `type`, whose checks follow
//! `checkType` in `pkg/volume/hostpath/host_path.go` (a job that needs an
//! input directory waits for it instead of failing), and `configMap`,
//! `secret` and `projected` volumes whose object or key is missing
//! (`projection.rs`; such a pod is also retried as soon as the object
//! changes, see `config_sources.rs`).
//!
//! Every volume reaches a container as a host directory
//! ([`host_dir`]): an `emptyDir` is a per-pod directory made when a
//! container is built, a `hostPath` the host's own path, and a kind whose
//! files the node writes is a per-pod directory under the node's data
//! directory: ConfigMap and Secret files are written there at set-up
//! (and rewritten when the object changes), downward-API files when a
//! container is built. Runtimes only bind-mount these directories
//! (`runtime::spec::mounts`, read-only for written kinds), so every runtime
//! gets the same volumes.

use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, HostPathVolumeSource, PodSpec, Volume};
use serde_json::Value;

use crate::config_sources::Sources;
use crate::projection;
use crate::runtime::StartRequest;

/// First retry of a failed mount (`initialDurationBeforeRetry` in
/// `pkg/util/goroutinemap/exponentialbackoff`).
pub(crate) const INITIAL_RETRY: Duration = Duration::from_millis(500);
/// Cap of the retry back-off (`maxDurationBeforeRetry`, 2m2s).
pub(crate) const MAX_RETRY: Duration = Duration::from_secs(122);

/// A volume that could not be set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountError {
    pub volume: String,
    pub message: String,
}

impl MountError {
    /// The `FailedMount` event message (`GenerateError("MountVolume.SetUp
    /// failed", err)` in `pkg/volume/util/operationexecutor`).
    pub(crate) fn event_message(&self) -> String {
        format!(
            "MountVolume.SetUp failed for volume {:?} : {}",
            self.volume, self.message
        )
    }
}

/// Whether the pod has a volume whose set-up can fail (and must therefore
/// run before its containers).
pub(crate) fn needs_set_up(spec: &PodSpec) -> bool {
    spec.volumes.iter().flatten().any(|v| {
        projection::is_projected(v)
            || v.host_path
                .as_ref()
                .is_some_and(|h| h.type_.as_deref().is_some_and(|t| !t.is_empty()))
    })
}

/// What setting up a pod's volumes needs beyond its spec.
pub(crate) struct SetUp<'a> {
    /// The pod object (its namespace, name and uid place its directories).
    pub pod: &'a Value,
    /// The node's data directory.
    pub data_dir: &'a Path,
    pub sources: &'a dyn Sources,
}

impl SetUp<'_> {
    fn dir(&self, vol: &Volume) -> PathBuf {
        let meta = |k: &str| {
            self.pod
                .pointer(&format!("/metadata/{k}"))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        crate::paths::volume_dir(
            self.data_dir,
            meta("namespace"),
            meta("name"),
            meta("uid"),
            &vol.name,
        )
    }

    /// Writes the ConfigMap and Secret files of `vol`, if it has any.
    fn project(&self, vol: &Volume) -> Result<(), String> {
        let ns = self
            .pod
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let Some(payload) = projection::payload(self.sources, ns, vol) else {
            return Ok(());
        };
        let dir = self.dir(vol);
        projection::write(&dir, &payload?)
            .map_err(|e| format!("failed to write volume {}: {e}", dir.display()))
    }
}

/// Sets up the pod's volumes in order; the first failure is returned.
pub(crate) fn set_up(spec: &PodSpec, ctx: &SetUp<'_>) -> Result<(), MountError> {
    for v in spec.volumes.iter().flatten() {
        let fail = |message| MountError {
            volume: v.name.clone(),
            message,
        };
        if let Some(h) = &v.host_path {
            check_host_path(h).map_err(fail)?;
        }
        ctx.project(v).map_err(fail)?;
    }
    Ok(())
}

/// Rewrites the ConfigMap and Secret files of a running pod's volumes
/// after an object changed, as the kubelet's periodic remount does. A
/// volume that cannot be written now keeps its files.
pub(crate) fn refresh(spec: &PodSpec, ctx: &SetUp<'_>) {
    for v in spec.volumes.iter().flatten() {
        if let Err(e) = ctx.project(v) {
            tracing::debug!(volume = %v.name, "volume not refreshed: {e}");
        }
    }
}

/// `checkType`: `...OrCreate` types create what is missing; the others
/// require the path to exist with that file type.
pub(crate) fn check_host_path(h: &HostPathVolumeSource) -> Result<(), String> {
    let path = Path::new(&h.path);
    let (want, what) = match h.type_.as_deref().unwrap_or("") {
        "" => return Ok(()),
        "DirectoryOrCreate" => {
            if !exists(path) {
                make_dir(path).map_err(|e| format!("mkdir {}: {e}", h.path))?;
            }
            ("Directory", "directory")
        }
        "Directory" => ("Directory", "directory"),
        "FileOrCreate" => {
            if !exists(path) {
                make_file(path).map_err(|e| format!("open {}: {e}", h.path))?;
            }
            ("File", "file")
        }
        "File" => ("File", "file"),
        "Socket" => ("Socket", "socket file"),
        "CharDevice" => ("CharDevice", "character device"),
        "BlockDevice" => ("BlockDevice", "block device"),
        other => return Err(format!("{other} is an invalid volume type")),
    };
    if !exists(path) {
        return Err(format!("hostPath {} doesn't exist", h.path));
    }
    let got = file_type(path).map_err(|e| {
        format!(
            "hostPath type check failed, {} is not a {what}, unable to determine its type: {e}",
            h.path
        )
    })?;
    if got != want {
        return Err(format!(
            "hostPath type check failed: {} is not a {what}, it's a {got}",
            h.path
        ));
    }
    Ok(())
}

fn exists(path: &Path) -> bool {
    std::fs::metadata(path).is_ok()
}

/// `hostutil.GetFileType`: the type names of `HostPathType`.
fn file_type(path: &Path) -> io::Result<&'static str> {
    let t = std::fs::metadata(path)?.file_type();
    if t.is_socket() {
        Ok("Socket")
    } else if t.is_block_device() {
        Ok("BlockDevice")
    } else if t.is_char_device() {
        Ok("CharDevice")
    } else if t.is_dir() {
        Ok("Directory")
    } else if t.is_file() {
        Ok("File")
    } else {
        Err(io::Error::other(
            "only recognise file, directory, socket, block device and character device",
        ))
    }
}

/// `makeDir`: `MkdirAll` with mode 0755.
pub(crate) fn make_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
    {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// `makeFile`: creates an empty file with mode 0644; the parent must exist.
fn make_file(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
    {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// A volume as the host directory a runtime bind-mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostDir {
    pub path: PathBuf,
    /// The node owns the directory (it makes it, and removes it with the pod).
    pub owned: bool,
    /// Mounted read-only whatever the mount asks (materialised volumes).
    pub read_only: bool,
}

/// Where volume `vol` of the request's pod is on the host; `None` for a
/// volume with nothing to mount (a projected service-account token, which
/// joblite does not issue).
pub(crate) fn host_dir(req: &StartRequest<'_>, vol: &Volume) -> Result<Option<HostDir>, String> {
    let own = || {
        crate::paths::volume_dir(
            req.data_dir,
            req.namespace(),
            req.pod_name(),
            req.uid(),
            &vol.name,
        )
    };
    if vol.empty_dir.is_some() {
        return Ok(Some(HostDir {
            path: own(),
            owned: true,
            read_only: false,
        }));
    }
    if let Some(hp) = &vol.host_path {
        return Ok(Some(HostDir {
            path: PathBuf::from(&hp.path),
            owned: false,
            read_only: false,
        }));
    }
    if vol.config_map.is_some() || vol.secret.is_some() {
        // Written at set-up (`set_up`), before any container started.
        return Ok(Some(HostDir {
            path: own(),
            owned: true,
            read_only: true,
        }));
    }
    let files: Vec<&DownwardAPIVolumeFile> = if let Some(d) = &vol.downward_api {
        d.items.iter().flatten().collect()
    } else if let Some(p) = &vol.projected {
        p.sources
            .iter()
            .flatten()
            .filter_map(|s| s.downward_api.as_ref())
            .flat_map(|d| d.items.iter().flatten())
            .collect()
    } else {
        return Err(format!(
            "volume {:?}: joblite supports emptyDir, hostPath, downwardAPI, configMap, secret and projected volumes",
            vol.name
        ));
    };
    if vol.projected.is_some() && files.is_empty() && !projection::is_projected(vol) {
        return Ok(None);
    }
    let dir = own();
    make_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    for f in files {
        let value = if let Some(r) = &f.field_ref {
            crate::env::field_value(req.pod, req.spec, &r.field_path, &req.env)
        } else if let Some(r) = &f.resource_field_ref {
            let target = match r.container_name.as_deref().filter(|s| !s.is_empty()) {
                Some(n) => req
                    .spec
                    .containers
                    .iter()
                    .chain(req.spec.init_containers.iter().flatten())
                    .find(|c| c.name == n)
                    .ok_or_else(|| format!("container {n} not found"))?,
                None => req.container,
            };
            crate::env::resource_value(
                target,
                &r.resource,
                r.divisor.as_ref().map(|d| d.0.as_str()),
                &req.env,
            )
        } else {
            continue;
        }
        .map_err(|e| e.0)?;
        if f.path.split('/').any(|p| p == "..") {
            return Err(format!("invalid path {:?}", f.path));
        }
        let file = dir.join(&f.path);
        if let Some(parent) = file.parent() {
            make_dir(parent).map_err(|e| format!("mkdir {}: {e}", parent.display()))?;
        }
        std::fs::write(&file, value).map_err(|e| format!("write {}: {e}", file.display()))?;
    }
    Ok(Some(HostDir {
        path: dir,
        owned: true,
        read_only: true,
    }))
}

/// The delay before the next try of a failing mount, given the previous
/// delay: 500 ms doubling to 2m2s.
pub(crate) fn retry_delay(previous: Option<Duration>) -> Duration {
    match previous {
        None => INITIAL_RETRY,
        Some(d) => (d * 2).min(MAX_RETRY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(path: &Path, t: &str) -> HostPathVolumeSource {
        HostPathVolumeSource {
            path: path.to_string_lossy().into_owned(),
            type_: Some(t.to_string()),
        }
    }

    #[test]
    fn host_path_types_follow_check_type() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let file = d.join("f");
        std::fs::write(&file, "x").unwrap();
        let missing = d.join("missing");
        let p = |x: &Path| x.to_string_lossy().into_owned();
        let cases: Vec<(HostPathVolumeSource, Result<(), String>)> = vec![
            (hp(d, ""), Ok(())),
            (hp(&missing, ""), Ok(())),
            (hp(d, "Directory"), Ok(())),
            (hp(&file, "File"), Ok(())),
            (
                hp(&missing, "Directory"),
                Err(format!("hostPath {} doesn't exist", p(&missing))),
            ),
            (
                hp(&file, "Directory"),
                Err(format!(
                    "hostPath type check failed: {} is not a directory, it's a File",
                    p(&file)
                )),
            ),
            (
                hp(d, "File"),
                Err(format!(
                    "hostPath type check failed: {} is not a file, it's a Directory",
                    p(d)
                )),
            ),
            (
                hp(d, "Socket"),
                Err(format!(
                    "hostPath type check failed: {} is not a socket file, it's a Directory",
                    p(d)
                )),
            ),
            (
                hp(Path::new("/dev/null"), "CharDevice"),
                Ok(()),
            ),
            (
                hp(Path::new("/dev/null"), "BlockDevice"),
                Err("hostPath type check failed: /dev/null is not a block device, it's a CharDevice".into()),
            ),
            (
                hp(&file, "DirectoryOrCreate"),
                Err(format!(
                    "hostPath type check failed: {} is not a directory, it's a File",
                    p(&file)
                )),
            ),
        ];
        for (h, want) in cases {
            assert_eq!(check_host_path(&h), want, "{h:?}");
        }
    }

    #[test]
    fn or_create_types_create_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let new_dir = dir.path().join("a/b");
        assert_eq!(check_host_path(&hp(&new_dir, "DirectoryOrCreate")), Ok(()));
        assert!(new_dir.is_dir());
        let new_file = dir.path().join("a/f");
        assert_eq!(check_host_path(&hp(&new_file, "FileOrCreate")), Ok(()));
        assert!(new_file.is_file());
        // FileOrCreate does not create parents.
        let orphan = dir.path().join("no/such/f");
        assert!(check_host_path(&hp(&orphan, "FileOrCreate")).is_err());
    }

    #[test]
    fn retry_back_off_doubles_to_the_cap() {
        let mut d = None;
        let mut seen = Vec::new();
        for _ in 0..10 {
            let next = retry_delay(d);
            seen.push(next.as_millis());
            d = Some(next);
        }
        assert_eq!(
            seen,
            [500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 122000, 122000]
        );
    }

    #[test]
    fn event_message_is_upstream_shape() {
        let e = MountError {
            volume: "input".into(),
            message: "hostPath /in doesn't exist".into(),
        };
        assert_eq!(
            e.event_message(),
            "MountVolume.SetUp failed for volume \"input\" : hostPath /in doesn't exist"
        );
    }
}
