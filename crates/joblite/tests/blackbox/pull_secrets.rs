//! `imagePullSecrets` on the container runtime, end to end: the rig's
//! second registry requires a login, and kubectl 1.33's
//! `create secret docker-registry` Secrets are what lets a pod pull from it
//! (upstream `pkg/kubelet/kubelet_pods.go` `getPullSecretsForPod`,
//! `pkg/credentialprovider`, `kuberuntime_image.go` `PullImage`).

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{on_both_engines, rig_of, Engine, Server, RIG_AUTH_LOGIN};

fn pod(s: &Server, name: &str) -> Value {
    s.get_json(&["pod", name])
}

fn waiting_reason(p: &Value) -> String {
    p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn events_of(s: &Server, pod: &str) -> Vec<(String, String)> {
    let v = s.get_json(&[
        "events",
        "--field-selector",
        &format!("involvedObject.name={pod}"),
    ]);
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["reason"].as_str().unwrap_or("").to_string(),
                e["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// A pod that pulls `image` on every attempt and prints a line.
fn private_pod(name: &str, image: &str, secrets: &[&str]) -> String {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": image, "imagePullPolicy": "Always",
                            "command": ["sh", "-c", "echo pulled with a login"]}]
        }
    });
    if !secrets.is_empty() {
        let refs: Vec<Value> = secrets.iter().map(|n| json!({"name": n})).collect();
        p["spec"]["imagePullSecrets"] = json!(refs);
    }
    p.to_string()
}

fn wait_reason(s: &Server, name: &str, reason: &str) {
    s.wait_for(
        &format!("pod {name} waiting with {reason}"),
        Duration::from_secs(90),
        || (waiting_reason(&pod(s, name)) == reason).then_some(()),
    );
}

fn wait_succeeded(s: &Server, name: &str) -> Value {
    s.wait_for(
        &format!("pod {name} Succeeded"),
        Duration::from_secs(120),
        || {
            let p = pod(s, name);
            (p["status"]["phase"] == "Succeeded").then_some(p)
        },
    )
}

/// Without a Secret the pull is anonymous and refused; a missing Secret is
/// reported with the upstream event and the pull still tried; once
/// `kubectl create secret docker-registry` makes it, the same pod pulls
/// and runs. A wrong login fails the pull, and a wrong login before a right
/// one is tried first and then passed over. No password reaches the engine
/// log, events or `kubectl describe`.
fn image_pull_secrets_log_in_to_a_private_registry(e: Engine) {
    let s = Server::start_container_on(e);
    let rig = rig_of(e);
    let image = format!("{}/private/busybox:latest", rig.auth_registry);
    let (user, password) = RIG_AUTH_LOGIN;
    let create = |name: &str, secrets: &[&str]| {
        s.kubectl_stdin(
            "1.33",
            &["create", "-f", "-"],
            &private_pod(name, &image, secrets),
        )
        .ok();
    };

    // Anonymous: refused by the registry.
    create("anonymous", &[]);
    // Its Secret does not exist yet.
    create("late", &["regcred"]);
    for name in ["anonymous", "late"] {
        wait_reason(&s, name, "ErrImagePull");
        wait_reason(&s, name, "ImagePullBackOff");
    }
    let events = events_of(&s, "late");
    assert!(
        events.iter().any(|(r, m)| r == "FailedToRetrieveImagePullSecret"
            && m == "Unable to retrieve some image pull secrets (regcred); attempting to pull the image may not succeed."),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|(r, m)| r == "Failed"
                && m.starts_with(&format!("Failed to pull image \"{image}\": "))),
        "{events:?}"
    );
    assert!(!events_of(&s, "anonymous")
        .iter()
        .any(|(r, _)| r == "FailedToRetrieveImagePullSecret"));

    let server = format!("--docker-server={}", rig.auth_registry);
    s.kubectl(&[
        "create",
        "secret",
        "docker-registry",
        "regcred",
        &server,
        &format!("--docker-username={user}"),
        &format!("--docker-password={password}"),
    ])
    .ok();
    s.kubectl(&[
        "create",
        "secret",
        "docker-registry",
        "wrongcred",
        &server,
        &format!("--docker-username={user}"),
        "--docker-password=not-the-password",
    ])
    .ok();

    // The same pod pulls with the login once its Secret exists.
    let uid = pod(&s, "late")["metadata"]["uid"].clone();
    let p = wait_succeeded(&s, "late");
    assert_eq!(p["metadata"]["uid"], uid);
    assert_eq!(s.kubectl(&["logs", "late"]).ok(), "pulled with a login\n");
    let events = events_of(&s, "late");
    assert!(
        events.iter().any(|(r, m)| r == "Pulled"
            && m.starts_with(&format!("Successfully pulled image \"{image}\" in "))),
        "{events:?}"
    );

    // A wrong login: the pull fails (no anonymous fallback would help).
    create("wrong", &["wrongcred"]);
    wait_reason(&s, "wrong", "ErrImagePull");
    // A wrong login, then the right one: tried in order, the second pulls.
    create("both", &["wrongcred", "regcred"]);
    wait_succeeded(&s, "both");
    assert_eq!(s.kubectl(&["logs", "both"]).ok(), "pulled with a login\n");

    // The pod without a Secret still cannot pull.
    assert_eq!(pod(&s, "anonymous")["status"]["phase"], "Pending");

    let mut seen = s.log();
    for name in ["anonymous", "late", "wrong", "both"] {
        seen.push_str(&s.kubectl(&["describe", "pod", name]).ok());
        for (_, m) in events_of(&s, name) {
            seen.push_str(&m);
        }
    }
    assert!(!seen.contains(password), "the password leaked");
    assert!(!seen.contains("not-the-password"), "the password leaked");
}

on_both_engines!(image_pull_secrets_log_in_to_a_private_registry);
