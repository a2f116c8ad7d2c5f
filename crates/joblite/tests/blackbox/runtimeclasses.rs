//! node.k8s.io/v1 RuntimeClass (issue 9): the built-in classes, the
//! admission refusal of an unknown class (upstream
//! `plugin/pkg/admission/runtimeclass/admission.go`), classes of one's own
//! resolved through their handler, and a class whose runtime this node
//! lacks. The container side (both runtimes at once) is in `containers.rs`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::Server;

fn pod(name: &str, class: Option<&str>) -> Value {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": "Never",
                 "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "echo ran"]}]}
    });
    if let Some(c) = class {
        p["spec"]["runtimeClassName"] = json!(c);
    }
    p
}

fn events_of(s: &Server, name: &str) -> Vec<(String, String, String)> {
    let v = s.get_json(&[
        "events",
        "--field-selector",
        &format!("involvedObject.name={name}"),
    ]);
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or("").to_string(),
                e["reason"].as_str().unwrap_or("").to_string(),
                e["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn wait_phase(s: &Server, name: &str, phase: &str) -> Value {
    s.wait_for(&format!("{name} {phase}"), Duration::from_secs(30), || {
        let p = s.get_json(&["pod", name]);
        (p["status"]["phase"] == phase).then_some(p)
    })
}

#[test]
fn runtime_classes_are_listed_chosen_and_refused_as_upstream() {
    let s = Server::start();

    // The built-in classes, with upstream's columns.
    let out = s.kubectl(&["get", "runtimeclasses"]).ok();
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["NAME", "HANDLER", "AGE"], "{out}");
    assert_eq!(lines[1][..2], ["container", "container"], "{out}");
    assert_eq!(lines[2][..2], ["process", "process"], "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    let rc = s.get_json(&["runtimeclass", "process"]);
    assert_eq!(rc["apiVersion"], "node.k8s.io/v1");
    assert_eq!(rc["kind"], "RuntimeClass");
    assert!(rc["metadata"].get("namespace").is_none(), "{rc}");
    let api = s
        .kubectl(&["api-resources", "--api-group=node.k8s.io"])
        .ok();
    assert!(
        api.contains("runtimeclasses")
            && api.contains("node.k8s.io/v1")
            && api.contains("false")
            && api.contains("RuntimeClass"),
        "{api}"
    );

    // An unknown class: 403 from admission, nothing stored.
    let r = s.kubectl_stdin(
        "1.33",
        &["create", "-f", "-"],
        &pod("g", Some("gvisor")).to_string(),
    );
    assert_eq!(
        r.fails().trim(),
        "Error from server (Forbidden): error when creating \"STDIN\": pods \"g\" is forbidden: pod rejected: RuntimeClass \"gvisor\" not found"
    );
    let (code, body) = s.curl(
        "POST",
        "/api/v1/namespaces/default/pods",
        &["Content-Type: application/json"],
        Some(&{
            let mut p = pod("", Some("gvisor"));
            p["metadata"] = json!({"generateName": "gen-"});
            p.to_string()
        }),
    );
    assert_eq!(code, 403, "{body}");
    let st: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(st["reason"], "Forbidden");
    assert_eq!(
        st["message"],
        "pods \"gen-\" is forbidden: pod rejected: RuntimeClass \"gvisor\" not found"
    );
    assert_eq!(st["details"], json!({"name": "gen-", "kind": "pods"}));
    assert!(s.get_json(&["pods"])["items"]
        .as_array()
        .unwrap()
        .is_empty());

    // A Job whose template names one: the Job controller's FailedCreate.
    let job = json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
        "spec": {"backoffLimit": 0, "template": pod("", Some("gvisor"))}
    });
    let mut job = job;
    job["spec"]["template"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k == "spec");
    s.kubectl_stdin("1.33", &["create", "-f", "-"], &job.to_string())
        .ok();
    s.wait_for("FailedCreate", Duration::from_secs(30), || {
        events_of(&s, "j").into_iter().find(|(t, r, m)| {
            t == "Warning"
                && r == "FailedCreate"
                && m.starts_with("Error creating: pods \"j-\" is forbidden: pod rejected: RuntimeClass \"gvisor\" not found")
        })
    });

    // The built-in `process` class, and a class of one's own whose handler
    // is `process`.
    s.kubectl_stdin(
        "1.33",
        &["create", "-f", "-"],
        &json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                "metadata": {"name": "fast"}, "handler": "process"})
        .to_string(),
    )
    .ok();
    for (name, class) in [("p", "process"), ("f", "fast")] {
        s.kubectl_stdin(
            "1.33",
            &["create", "-f", "-"],
            &pod(name, Some(class)).to_string(),
        )
        .ok();
        let p = wait_phase(&s, name, "Succeeded");
        assert!(p["status"]["containerStatuses"][0]["containerID"]
            .as_str()
            .unwrap()
            .starts_with("joblite://"));
        assert_eq!(s.kubectl(&["logs", name]).ok(), "ran\n");
    }

    // A handler the node does not have, and the container class on a node
    // with no engine: the pod waits in ContainerCreating, as a kubelet's
    // does when its CRI lacks the handler.
    s.kubectl_stdin(
        "1.33",
        &["create", "-f", "-"],
        &json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                "metadata": {"name": "gvisor"}, "handler": "runsc"})
        .to_string(),
    )
    .ok();
    for (name, class, want) in [
        (
            "v",
            "gvisor",
            "Failed to create pod sandbox: RuntimeHandler \"runsc\" not supported",
        ),
        (
            "c",
            "container",
            "Failed to create pod sandbox: the container runtime is not available on this node",
        ),
    ] {
        s.kubectl_stdin(
            "1.33",
            &["create", "-f", "-"],
            &pod(name, Some(class)).to_string(),
        )
        .ok();
        s.wait_for(
            &format!("{name} FailedCreatePodSandBox"),
            Duration::from_secs(30),
            || {
                events_of(&s, name).into_iter().find(|(t, r, m)| {
                    t == "Warning" && r == "FailedCreatePodSandBox" && m.starts_with(want)
                })
            },
        );
        let p = s.get_json(&["pod", name]);
        assert_eq!(p["status"]["phase"], "Pending", "{p}");
        assert_eq!(
            p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"], "ContainerCreating",
            "{p}"
        );
        let row = s.kubectl(&["get", "pod", name, "--no-headers"]).ok();
        assert!(row.contains("ContainerCreating"), "{row}");
    }

    // Validation and immutability, as upstream's.
    let r = s.kubectl_stdin(
        "1.33",
        &["create", "-f", "-"],
        &json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                "metadata": {"name": "bad"}, "handler": "Run_SC"})
        .to_string(),
    );
    let err = r.fails();
    assert!(
        err.contains("The RuntimeClass \"bad\" is invalid: handler: Invalid value: \"Run_SC\": a lowercase RFC 1123 label must consist of"),
        "{err}"
    );
    let err = s
        .kubectl(&[
            "patch",
            "runtimeclass",
            "fast",
            "-p",
            r#"{"handler":"container"}"#,
        ])
        .fails();
    assert!(
        err.contains("handler: Invalid value: \"container\": field is immutable"),
        "{err}"
    );

    // A deleted built-in class comes back at the next start.
    s.kubectl(&["delete", "pod", "--all", "--grace-period=0", "--force"]);
    s.kubectl(&["delete", "runtimeclass", "container"]).ok();
    let mut s = s;
    s.restart();
    s.get_json(&["runtimeclass", "container"]);
}
