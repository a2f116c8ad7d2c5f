//! A pod's containers as Docker Engine API create requests, with no I/O.
//!
//! Upstream: `pkg/kubelet/kuberuntime/kuberuntime_container.go`
//! (`generateContainerConfig`), dockershim's naming and labels
//! (`k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`,
//! `io.kubernetes.*`), and `pkg/kubelet/cm/helpers_linux.go` for the CPU
//! mapping. `command` becomes the Entrypoint and `args` the Cmd, each left
//! unset when empty, which is exactly the Kubernetes rule on both engines:
//! neither set runs the image's entrypoint and cmd, `command` alone drops
//! the image's cmd, `args` alone keeps the image's entrypoint.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};

use super::super::{spec, BuildError, StartRequest};

/// Labels every container joblite makes carries.
pub const LABEL_INSTANCE: &str = "io.joblite.instance";
pub const LABEL_RUN: &str = "io.joblite.run";
pub const LABEL_ROLE: &str = "io.joblite.role";
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// The role of a pod's sandbox container.
pub const ROLE_SANDBOX: &str = "sandbox";
/// The role of a pod's own containers.
pub const ROLE_CONTAINER: &str = "container";

/// `milliCPUToShares`: `max(2, milli * 1024 / 1000)`, 2 with no request.
pub fn cpu_shares(request_millis: Option<i64>) -> i64 {
    match request_millis {
        Some(m) if m > 0 => (m * 1024 / 1000).max(2),
        _ => 2,
    }
}

/// `milliCPUToQuota` with the 100 ms CFS period: `max(1000, milli * 100)`.
pub fn cpu_quota(limit_millis: i64) -> i64 {
    (limit_millis * 100_000 / 1000).max(1000)
}

/// The CFS period the kubelet uses.
pub const CPU_PERIOD: i64 = 100_000;

fn labels(
    instance: &str,
    role: &str,
    run: &str,
    req_pod: (&str, &str, &str),
    container: &str,
) -> HashMap<String, String> {
    let (ns, name, uid) = req_pod;
    HashMap::from([
        (LABEL_INSTANCE.to_string(), instance.to_string()),
        (LABEL_ROLE.to_string(), role.to_string()),
        (LABEL_RUN.to_string(), run.to_string()),
        (LABEL_POD_UID.to_string(), uid.to_string()),
        (LABEL_POD_NAME.to_string(), name.to_string()),
        (LABEL_POD_NAMESPACE.to_string(), ns.to_string()),
        (LABEL_CONTAINER_NAME.to_string(), container.to_string()),
    ])
}

/// dockershim's container name.
pub fn container_name(req: &StartRequest<'_>) -> String {
    format!(
        "k8s_{}_{}_{}_{}_{}",
        req.container.name,
        req.pod_name(),
        req.namespace(),
        req.uid(),
        req.attempt
    )
}

/// dockershim's sandbox name.
pub fn sandbox_name(namespace: &str, pod: &str, uid: &str) -> String {
    format!("k8s_POD_{pod}_{namespace}_{uid}_0")
}

/// The pod's sandbox: it holds the network, IPC and UTS namespaces.
pub fn sandbox_body(
    instance: &str,
    pod: (&str, &str, &str),
    hostname: &str,
    host_network: bool,
) -> ContainerCreateBody {
    let (ns, name, uid) = pod;
    ContainerCreateBody {
        image: Some(super::pause::image_name()),
        entrypoint: Some(vec!["/pause".into()]),
        hostname: (!host_network).then(|| hostname.to_string()),
        labels: Some(labels(
            instance,
            ROLE_SANDBOX,
            &sandbox_name(ns, name, uid),
            pod,
            "POD",
        )),
        host_config: Some(HostConfig {
            network_mode: host_network.then(|| "host".to_string()),
            uts_mode: host_network.then(|| "host".to_string()),
            ipc_mode: Some("shareable".into()),
            cpu_shares: Some(2),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `runAsGroup` set with no `runAsUser` (container's, else the pod's).
pub fn group_only(req: &StartRequest<'_>) -> Option<i64> {
    let c = req.container.security_context.as_ref();
    let p = req.spec.security_context.as_ref();
    let uid = c
        .and_then(|c| c.run_as_user)
        .or_else(|| p.and_then(|p| p.run_as_user));
    let gid = c
        .and_then(|c| c.run_as_group)
        .or_else(|| p.and_then(|p| p.run_as_group));
    gid.filter(|_| uid.is_none())
}

/// The user of a `runAsGroup` with no `runAsUser`: the kubelet takes the
/// image's user (`getImageUser`: its uid or name, root when it names
/// none) with the group (`determineEffectiveSecurityContext`).
pub fn image_user_with_group(image_user: Option<&str>, gid: i64) -> String {
    let user = image_user
        .and_then(|u| u.split(':').next())
        .filter(|u| !u.is_empty())
        .unwrap_or("0");
    format!("{user}:{gid}")
}

/// `runAsUser[:runAsGroup]` from the container's security context, else
/// the pod's. A group with no user needs the image's user
/// ([`image_user_with_group`]).
pub fn user(req: &StartRequest<'_>) -> Option<String> {
    let c = req.container.security_context.as_ref();
    let p = req.spec.security_context.as_ref();
    let uid = c
        .and_then(|c| c.run_as_user)
        .or_else(|| p.and_then(|p| p.run_as_user))?;
    let gid = c
        .and_then(|c| c.run_as_group)
        .or_else(|| p.and_then(|p| p.run_as_group));
    Some(match gid {
        Some(g) => format!("{uid}:{g}"),
        None => uid.to_string(),
    })
}

/// The create request of one container attempt, joined to the sandbox.
/// `env` is the container's resolved environment (`spec::environment`),
/// resolved when the start was asked for, while the node's view of
/// ConfigMaps and Secrets was at hand.
pub fn container_body(
    req: &StartRequest<'_>,
    env: Vec<(String, String)>,
    instance: &str,
    sandbox_id: &str,
) -> Result<ContainerCreateBody, BuildError> {
    let c = req.container;
    let (command, args) = spec::command_and_args(c, &env);
    let mounts = spec::mounts(req)?;
    let res = spec::resources(c);
    let join = format!("container:{sandbox_id}");
    // The pod's supplementary groups, as the process runtime sets them.
    let groups = spec::run_as(req.spec, c).groups;
    let host_config = HostConfig {
        group_add: (!groups.is_empty()).then(|| groups.iter().map(i64::to_string).collect()),
        network_mode: Some(join.clone()),
        ipc_mode: Some(join.clone()),
        uts_mode: Some(join),
        memory: res.memory_limit,
        // No swap beyond the limit, as the kubelet runs containers.
        memory_swap: res.memory_limit,
        cpu_shares: Some(cpu_shares(res.cpu_request_millis)),
        cpu_period: res.cpu_limit_millis.map(|_| CPU_PERIOD),
        cpu_quota: res.cpu_limit_millis.map(cpu_quota),
        mounts: (!mounts.is_empty()).then(|| {
            mounts
                .iter()
                .map(|m| Mount {
                    target: Some(m.target.clone()),
                    source: Some(m.source.to_string_lossy().into_owned()),
                    typ: Some(MountType::BIND),
                    read_only: Some(m.read_only),
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    };
    Ok(ContainerCreateBody {
        image: Some(c.image.clone().unwrap_or_default()),
        entrypoint: (!command.is_empty()).then_some(command),
        cmd: (!args.is_empty()).then_some(args),
        env: Some(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        working_dir: c.working_dir.clone().filter(|w| !w.is_empty()),
        user: user(req),
        tty: Some(c.tty.unwrap_or(false)),
        open_stdin: Some(c.stdin.unwrap_or(false)),
        stdin_once: Some(c.stdin_once.unwrap_or(false)),
        attach_stdin: Some(c.stdin.unwrap_or(false)),
        labels: Some(labels(
            instance,
            ROLE_CONTAINER,
            &req.run_id(),
            (req.namespace(), req.pod_name(), req.uid()),
            &c.name,
        )),
        host_config: Some(host_config),
        ..Default::default()
    })
}

#[cfg(test)]
mod group_tests {
    use super::image_user_with_group;

    #[test]
    fn a_group_alone_keeps_the_image_user() {
        assert_eq!(image_user_with_group(None, 7), "0:7");
        assert_eq!(image_user_with_group(Some(""), 7), "0:7");
        assert_eq!(image_user_with_group(Some("nobody"), 7), "nobody:7");
        assert_eq!(image_user_with_group(Some("1000:1000"), 7), "1000:7");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;
    use serde_json::{json, Value};

    fn body(pod: Value) -> ContainerCreateBody {
        let spec: PodSpec = serde_json::from_value(pod["spec"].clone()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let req = StartRequest {
            pod: &pod,
            spec: &spec,
            container: &spec.containers[0],
            init: false,
            attempt: 1,
            data_dir: dir.path(),
            env: Default::default(),
        };
        let env = spec::environment(&req, Vec::new()).unwrap();
        container_body(&req, env, "inst", "sbx").unwrap()
    }

    fn pod(container: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
               "spec": {"containers": [container]}})
    }

    /// kubernetes.io "Container Command and Arguments": the four cases.
    #[test]
    fn command_and_args_map_to_entrypoint_and_cmd() {
        let b = body(pod(json!({"name": "c", "image": "busybox"})));
        assert_eq!((b.entrypoint, b.cmd), (None, None));
        let b = body(pod(
            json!({"name": "c", "image": "busybox", "command": ["/kuard"]}),
        ));
        assert_eq!((b.entrypoint, b.cmd), (Some(vec!["/kuard".into()]), None));
        let b = body(pod(
            json!({"name": "c", "image": "busybox", "args": ["--x=$(V)"], "env": [{"name": "V", "value": "1"}]}),
        ));
        assert_eq!((b.entrypoint, b.cmd), (None, Some(vec!["--x=1".into()])));
        let b = body(pod(json!({"name": "c", "image": "busybox",
            "command": ["sh", "-c"], "args": ["echo $(V) $$(V)"], "env": [{"name": "V", "value": "hi"}]})));
        assert_eq!(b.entrypoint, Some(vec!["sh".into(), "-c".into()]));
        assert_eq!(b.cmd, Some(vec!["echo hi $(V)".into()]));
        assert_eq!(b.env, Some(vec!["V=hi".into()]));
    }

    #[test]
    fn limits_user_and_namespaces_map_as_the_kubelet_maps_them() {
        let b = body(
            json!({"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "supplementalGroups": [4000], "fsGroup": 5000},
            "containers": [{"name": "c", "image": "busybox", "workingDir": "/w", "stdin": true, "tty": true,
                "resources": {"limits": {"memory": "50Mi", "cpu": "250m"}}}]}}),
        );
        let h = b.host_config.unwrap();
        assert_eq!(h.memory, Some(50 << 20));
        assert_eq!(h.memory_swap, Some(50 << 20));
        assert_eq!(h.cpu_quota, Some(25_000));
        assert_eq!(h.cpu_period, Some(100_000));
        // The API defaults the request to the limit: 250m → 256 shares.
        assert_eq!(h.cpu_shares, Some(256));
        assert_eq!(h.network_mode.as_deref(), Some("container:sbx"));
        assert_eq!(h.ipc_mode.as_deref(), Some("container:sbx"));
        assert_eq!(h.uts_mode.as_deref(), Some("container:sbx"));
        assert_eq!(b.user.as_deref(), Some("1000:3000"));
        assert_eq!(
            h.group_add,
            Some(vec!["4000".to_string(), "5000".to_string()])
        );
        assert_eq!(b.working_dir.as_deref(), Some("/w"));
        assert_eq!((b.tty, b.open_stdin), (Some(true), Some(true)));
        let l = b.labels.unwrap();
        assert_eq!(l[LABEL_RUN], "u1_c_1");
        assert_eq!(l[LABEL_POD_UID], "u1");
        assert_eq!(l[LABEL_CONTAINER_NAME], "c");
        assert_eq!(cpu_shares(None), 2);
        assert_eq!(cpu_quota(1), 1000);
    }
}
