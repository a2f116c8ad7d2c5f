//! What every runtime computes the same way from a pod's container: the
//! environment (`env.rs`), `$(VAR)` expansion of `command` and `args`
//! (`expansion.rs`, as `kubecontainer.ExpandContainerCommandAndArgs`), the
//! volumes as host directories to bind-mount, and the resource limits.
//!
//! Volumes are host directories whatever their kind: an emptyDir is a
//! per-pod directory, a hostPath the host's own path; a kind that needs
//! files made for it (downwardAPI, projected, configMap, secret) is
//! materialised into a per-pod directory by `volumes.rs`. A runtime only
//! ever bind-mounts, so a new volume kind needs no runtime change.

use std::path::PathBuf;

use k8s_openapi::api::core::v1::Container;

use super::{BuildError, StartRequest};
use crate::env;
use crate::expansion::expand;

/// One bind mount of a host directory (or file) into a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
}

/// The container's environment: `base` first (each runtime's defaults),
/// then `env` resolved in order, later names replacing earlier ones.
pub fn environment(
    req: &StartRequest<'_>,
    base: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, BuildError> {
    let resolved = env::resolve(req.pod, req.spec, req.container, &req.env)
        .map_err(|e| BuildError::Config(e.0))?;
    let mut envs = base;
    for (k, v) in resolved {
        match envs.iter_mut().find(|(n, _)| *n == k) {
            Some(slot) => slot.1 = v,
            None => envs.push((k, v)),
        }
    }
    Ok(envs)
}

/// `command` and `args` with `$(VAR)` expanded from `env`.
pub fn command_and_args(
    container: &Container,
    env: &[(String, String)],
) -> (Vec<String>, Vec<String>) {
    let lookup = |k: &str| {
        env.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let expand_all = |v: &Option<Vec<String>>| -> Vec<String> {
        v.iter().flatten().map(|s| expand(s, &lookup)).collect()
    };
    (expand_all(&container.command), expand_all(&container.args))
}

/// The container's volume mounts as host bind mounts. Directories this
/// node owns (emptyDir, materialised volumes) are created; a missing
/// hostPath (or subPath) is created too, as containerd's CRI does for a
/// bind-mount source (`WithMounts`) and the kubelet does for a subPath
/// (typed hostPaths were checked before any container started).
pub fn mounts(req: &StartRequest<'_>) -> Result<Vec<Mount>, BuildError> {
    let mut out = Vec::new();
    for m in req.container.volume_mounts.iter().flatten() {
        let vol = req
            .spec
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == m.name)
            .ok_or_else(|| {
                BuildError::Config(format!(
                    "cannot find volume {:?} to mount into container {:?}",
                    m.name, req.container.name
                ))
            })?;
        let host = crate::volumes::host_dir(req, vol)
            .map_err(|e| BuildError::Config(format!("volume {:?}: {e}", vol.name)))?;
        let Some(host) = host else { continue };
        let mut src = host.path.clone();
        if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
            src = src.join(sub);
        }
        if host.owned || !src.exists() {
            crate::volumes::make_dir(&src)
                .map_err(|e| BuildError::Config(format!("volume {:?}: {e}", vol.name)))?;
        }
        // An emptyDir is world-writable (mode 0777), as the kubelet makes
        // it (`pkg/volume/emptydir`), so a pod's runAsUser can write it.
        if vol.empty_dir.is_some() {
            use std::os::unix::fs::PermissionsExt;
            for dir in [&host.path, &src] {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))
                    .map_err(|e| BuildError::Config(format!("volume {:?}: {e}", vol.name)))?;
            }
        }
        out.push(Mount {
            source: src,
            target: m.mount_path.clone(),
            read_only: m.read_only.unwrap_or(false) || host.read_only,
        });
    }
    Ok(out)
}

/// The security context's ids: `runAsUser` and `runAsGroup`, the
/// container's winning over the pod's (`DetermineEffectiveSecurityContext`
/// in `pkg/securitycontext/util.go`), and the pod's supplementary groups
/// (`supplementalGroups`, then `fsGroup`, as the kubelet passes them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunAs {
    pub user: Option<i64>,
    pub group: Option<i64>,
    pub groups: Vec<i64>,
}

/// Reads the container's effective [`RunAs`].
pub fn run_as(spec: &k8s_openapi::api::core::v1::PodSpec, container: &Container) -> RunAs {
    let c = container.security_context.as_ref();
    let p = spec.security_context.as_ref();
    let mut groups: Vec<i64> = p
        .and_then(|p| p.supplemental_groups.clone())
        .unwrap_or_default();
    groups.extend(p.and_then(|p| p.fs_group));
    RunAs {
        user: c
            .and_then(|c| c.run_as_user)
            .or_else(|| p.and_then(|p| p.run_as_user)),
        group: c
            .and_then(|c| c.run_as_group)
            .or_else(|| p.and_then(|p| p.run_as_group)),
        groups,
    }
}

/// The container's limits and requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    pub memory_limit: Option<i64>,
    pub cpu_limit_millis: Option<i64>,
    pub cpu_request_millis: Option<i64>,
}

/// Reads the container's `resources`.
pub fn resources(container: &Container) -> Resources {
    let r = container.resources.as_ref();
    let limits = r.and_then(|r| r.limits.as_ref());
    let requests = r.and_then(|r| r.requests.as_ref());
    let cpu_limit_millis = limits
        .and_then(|l| l.get("cpu"))
        .and_then(api::quantity::quantity_to_millis);
    Resources {
        memory_limit: limits
            .and_then(|l| l.get("memory"))
            .and_then(api::quantity::quantity_to_bytes),
        cpu_limit_millis,
        // The API defaults a missing request to the limit.
        cpu_request_millis: requests
            .and_then(|l| l.get("cpu"))
            .and_then(api::quantity::quantity_to_millis)
            .or(cpu_limit_millis),
    }
}
