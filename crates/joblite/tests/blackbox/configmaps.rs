//! ConfigMaps and Secrets (core/v1) through kubectl 1.33 and joblite's own
//! client: the `kubectl create configmap|secret` forms (protobuf bodies),
//! Tables, describe, upstream validation messages, `stringData`, watch, and
//! that a Secret's value never reaches the engine's log. Upstream:
//! `pkg/apis/core/validation/validation.go` (`ValidateConfigMap`,
//! `ValidateSecret`), `pkg/printers/internalversion/printers.go`,
//! kubectl's `create_configmap.go`, `create_secret*.go`, `describe.go`.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::harness::{Run, Server};

/// `joblite ARGS --kubeconfig` against the test server.
fn joblite(s: &Server, args: &[&str]) -> Run {
    let kc = s.kubeconfig.to_string_lossy().into_owned();
    Run(Command::new(env!("CARGO_BIN_EXE_joblite"))
        .args(args)
        .args(["--kubeconfig", kc.as_str()])
        .env("HOME", s.home.path())
        .output()
        .expect("run joblite"))
}

/// The second whitespace-separated column of the row named `name`.
fn cells<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in\n{table}"))
        .split_whitespace()
        .collect()
}

/// The lines of a describe output, sorted: kubectl prints map entries in Go's
/// random map order, so only the multiset of lines is stable.
fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[test]
fn configmap_from_literals_and_a_directory_reads_like_a_cluster() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", b"alpha\n");
    write(dir.path(), "b.conf", b"x=1");
    write(dir.path(), "bin.dat", &[0xff, 0xfe]);
    let out = s
        .kubectl(&[
            "create",
            "configmap",
            "cfg",
            "--from-literal=a=1",
            &format!("--from-file={}", dir.path().display()),
        ])
        .ok();
    assert_eq!(out.trim(), "configmap/cfg created");

    // `cm` is a short name; DATA counts data and binaryData keys.
    let table = s.kubectl(&["get", "cm"]).ok();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "DATA", "AGE"]);
    assert_eq!(cells(&table, "cfg")[1], "4", "{table}");

    // Valid UTF-8 goes to data, the rest to binaryData (base64).
    let cm = s.get_json(&["configmap", "cfg"]);
    assert_eq!(cm["data"]["a"], "1");
    assert_eq!(cm["data"]["a.txt"], "alpha\n");
    assert_eq!(cm["data"]["b.conf"], "x=1");
    assert_eq!(cm["binaryData"]["bin.dat"], "//4=");

    // kubectl ranges over the data map, so its key order varies run to run
    // (describe.go: `for k, v := range configMap.Data`); compare entries.
    let described = s.kubectl(&["describe", "cm", "cfg"]).ok();
    for entry in [
        "a:\n----\n1\n\n",
        "a.txt:\n----\nalpha\n\n",
        "b.conf:\n----\nx=1\n\n",
    ] {
        assert!(described.contains(entry), "{entry:?} in {described}");
    }
    assert!(
        described.contains("BinaryData\n====\nbin.dat: 2 bytes\n"),
        "{described}"
    );
    // joblite's describe prints what kubectl's does (in sorted key order).
    let ours = joblite(&s, &["describe", "cm", "cfg"]).ok();
    assert!(
        ours.contains("Data\n====\na:\n----\n1\n\na.txt:\n----\nalpha\n\n\nb.conf:\n----\nx=1\n\n"),
        "{ours}"
    );
    assert_eq!(sorted_lines(&ours), sorted_lines(&described));
    let ours = joblite(&s, &["get", "configmaps"]).ok();
    assert_eq!(cells(&ours, "cfg")[1], "4", "{ours}");
}

#[test]
fn configmap_validation_size_and_immutable_follow_upstream() {
    let s = Server::start();
    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata:\n  bad/key: \"1\"\n";
    let err = s.kubectl_stdin("1.33", &["apply", "-f", "-"], bad).fails();
    assert!(
        err.contains(r#"The ConfigMap "bad" is invalid: data[bad/key]: Invalid value: "bad/key": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"#),
        "{err}"
    );
    let dots = bad.replace("bad/key", "..x");
    let err = s
        .kubectl_stdin("1.33", &["apply", "-f", "-"], &dots)
        .fails();
    assert!(
        err.contains("data[..x]: Invalid value: \"..x\": must not start with '..'"),
        "{err}"
    );

    // 1 MiB of values is the limit; one byte more is refused.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "max", &vec![b'a'; 1024 * 1024]);
    write(dir.path(), "over", &vec![b'a'; 1024 * 1024 + 1]);
    let from = |f: &str| format!("--from-file={}", dir.path().join(f).display());
    s.kubectl(&["create", "configmap", "max", &from("max")])
        .ok();
    let err = s
        .kubectl(&["create", "configmap", "over", &from("over")])
        .fails();
    assert!(
        err.contains(
            r#"ConfigMap "over" is invalid: []: Too long: may not be more than 1048576 bytes"#
        ),
        "{err}"
    );
    assert_eq!(s.kubectl(&["get", "cm", "over"]).code(), 1);

    // An immutable ConfigMap keeps its data.
    let imm =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: imm\nimmutable: true\ndata:\n  k: v\n";
    s.kubectl_stdin("1.33", &["apply", "-f", "-"], imm).ok();
    let err = s
        .kubectl(&["patch", "cm", "imm", "-p", r#"{"data":{"k":"w"}}"#])
        .fails();
    assert!(
        err.contains(r#"The ConfigMap "imm" is invalid: data: Forbidden: field is immutable when `immutable` is set"#),
        "{err}"
    );
    let err = s
        .kubectl(&["patch", "cm", "imm", "-p", r#"{"immutable":false}"#])
        .fails();
    assert!(
        err.contains("immutable: Forbidden: field is immutable when `immutable` is set"),
        "{err}"
    );
    assert_eq!(s.get_json(&["cm", "imm"])["data"]["k"], "v");
    // Labels may still change, and it can be deleted.
    s.kubectl(&["label", "cm", "imm", "a=b"]).ok();
    s.kubectl(&["delete", "cm", "imm"]).ok();
}

#[test]
fn secrets_are_base64_typed_and_never_logged() {
    let s = Server::start();
    let out = s
        .kubectl(&[
            "create",
            "secret",
            "generic",
            "s",
            "--from-literal=password=hunter2",
        ])
        .ok();
    assert_eq!(out.trim(), "secret/s created");
    let yaml = s.kubectl(&["get", "secret", "s", "-o", "yaml"]).ok();
    assert!(
        yaml.contains("password: aHVudGVyMg==") && yaml.contains("type: Opaque"),
        "{yaml}"
    );
    assert!(!yaml.contains("hunter2"), "{yaml}");

    s.kubectl(&[
        "create",
        "secret",
        "docker-registry",
        "reg",
        "--docker-server=registry.example",
        "--docker-username=u",
        "--docker-password=p",
    ])
    .ok();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "tls.crt",
        b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    );
    write(
        dir.path(),
        "tls.key",
        b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
    );
    let tls = s.kubectl(&[
        "create",
        "secret",
        "tls",
        "t",
        &format!("--cert={}", dir.path().join("tls.crt").display()),
        &format!("--key={}", dir.path().join("tls.key").display()),
    ]);
    // kubectl parses the pair client-side; this fake pair may not load, in
    // which case the server's own tls rules are checked below instead.
    let table = s.kubectl(&["get", "secrets"]).ok();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "TYPE", "DATA", "AGE"]);
    assert_eq!(cells(&table, "s")[1..3], ["Opaque", "1"], "{table}");
    assert_eq!(
        cells(&table, "reg")[1..3],
        ["kubernetes.io/dockerconfigjson", "1"],
        "{table}"
    );
    if tls.code() == 0 {
        assert_eq!(
            cells(&table, "t")[1..3],
            ["kubernetes.io/tls", "2"],
            "{table}"
        );
    }

    // stringData is merged into data (and wins), and never returned.
    let sd = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sd\ndata:\n  a: b2xk\n  b: Yg==\nstringData:\n  a: new\n";
    s.kubectl_stdin("1.33", &["apply", "-f", "-"], sd).ok();
    let got = s.get_json(&["secret", "sd"]);
    assert_eq!(got["data"]["a"], "bmV3");
    assert_eq!(got["data"]["b"], "Yg==");
    assert!(got.get("stringData").is_none(), "{got}");
    assert_eq!(got["type"], "Opaque");

    // Type rules: tls needs both keys; the type cannot change.
    let bad_tls = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: badtls\ntype: kubernetes.io/tls\ndata:\n  tls.crt: eA==\n";
    let err = s
        .kubectl_stdin("1.33", &["apply", "-f", "-"], bad_tls)
        .fails();
    assert!(
        err.contains(r#"The Secret "badtls" is invalid: data[tls.key]: Required value"#),
        "{err}"
    );
    let err = s
        .kubectl(&[
            "patch",
            "secret",
            "s",
            "-p",
            r#"{"type":"kubernetes.io/basic-auth"}"#,
        ])
        .fails();
    assert!(
        err.contains(r#"type: Invalid value: "kubernetes.io/basic-auth": field is immutable"#),
        "{err}"
    );

    let described = s.kubectl(&["describe", "secret", "s"]).ok();
    assert!(described.contains("password:  7 bytes"), "{described}");
    assert_eq!(
        sorted_lines(&joblite(&s, &["describe", "secret", "s"]).ok()),
        sorted_lines(&described)
    );
    assert!(!joblite(&s, &["get", "secret", "s", "-o", "yaml"])
        .ok()
        .contains("hunter2"));

    // Nothing the engine logged carries the value.
    let log = s.log();
    assert!(!log.is_empty());
    assert!(!log.contains("hunter2"), "{log}");
}

#[test]
fn configmaps_watch_and_list_like_other_resources() {
    let s = Server::start();
    s.kubectl(&["create", "configmap", "w1", "--from-literal=k=v"])
        .ok();
    let rv = s.get_json(&["cm", "w1"])["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    s.kubectl(&["create", "configmap", "w2", "--from-env-file=/dev/null"])
        .ok();
    s.kubectl(&["label", "cm", "w1", "x=y"]).ok();
    let (code, body) = s.curl(
        "GET",
        &format!(
            "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1"
        ),
        &[],
        None,
    );
    assert_eq!(code, 200, "{body}");
    let events: Vec<(String, String)> = body
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("ADDED".to_string(), "w2".to_string()),
            ("MODIFIED".to_string(), "w1".to_string())
        ]
    );
    let names = s.kubectl(&["get", "cm", "-l", "x=y", "-o", "name"]).ok();
    assert_eq!(names.trim(), "configmap/w1");
    let names = s
        .kubectl(&[
            "get",
            "cm",
            "--field-selector",
            "metadata.name=w2",
            "-o",
            "name",
        ])
        .ok();
    assert_eq!(names.trim(), "configmap/w2");
}

#[test]
fn python_client_configmaps_and_secrets() {
    let s = Server::start();
    crate::python_client::run_script(&s, "python_configmaps.py");
}

// ---- pods that consume ConfigMaps and Secrets -----------------------------
// Upstream: `pkg/kubelet/kubelet_pods.go` (`makeEnvironmentVariables`),
// `pkg/volume/configmap`, `pkg/volume/secret`, `pkg/volume/projected`,
// `pkg/kubelet/kuberuntime/kuberuntime_container.go` (`startContainer`).

/// Waits for `job` to be Complete and returns it.
fn wait_complete(s: &Server, job: &str) -> Value {
    s.wait_for(
        &format!("job {job} complete"),
        std::time::Duration::from_secs(60),
        || {
            let j = s.get_json(&["job", job]);
            assert!(
                crate::harness::condition(&j, "Failed").is_none(),
                "job failed: {j}"
            );
            crate::harness::condition(&j, "Complete")
                .is_some()
                .then_some(j)
        },
    )
}

/// The pods of `job`, as JSON.
fn job_pods(s: &Server, job: &str) -> Vec<Value> {
    s.get_json(&["pods", "-l", &format!("job-name={job}")])["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The Events about `pod`, as (type, reason, message).
fn pod_events(s: &Server, pod: &str) -> Vec<(String, String, String)> {
    s.get_json(&[
        "events",
        "--field-selector",
        &format!("involvedObject.name={pod}"),
    ])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let f = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (f("type"), f("reason"), f("message"))
        })
        .collect()
}

/// Issue 11's acceptance: an Indexed Job whose pods read `$GREETING` from a
/// ConfigMap key, `$PASSWORD` from a Secret and a file from a ConfigMap
/// volume with `items` and `mode: 0400`, plus `envFrom` with a prefix, a
/// Secret volume and a projected volume; the Secret's value never reaches
/// the engine's log, an event or describe.
#[test]
fn an_indexed_job_reads_config_maps_and_secrets() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "settings.ini", b"[app]\nlevel=debug\n");
    s.kubectl(&[
        "create",
        "configmap",
        "app",
        "--from-literal=GREETING=hello",
        &format!("--from-file={}", dir.path().join("settings.ini").display()),
    ])
    .ok();
    s.kubectl(&[
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=PASSWORD=hunter2",
    ])
    .ok();
    let job = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: reader
spec:
  completionMode: Indexed
  completions: 2
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c"]
        args:
        - >-
          echo "$JOB_COMPLETION_INDEX $GREETING $PASSWORD $CFG_GREETING";
          cat /etc/app/app.ini;
          stat -L -c %a /etc/app/app.ini;
          ls /etc/app;
          stat -L -c %a /etc/creds/PASSWORD;
          cat /etc/all/GREETING /etc/all/PASSWORD /etc/all/name; echo;
          touch /etc/app/new 2>/dev/null || echo read-only
        env:
        - name: GREETING
          valueFrom: {configMapKeyRef: {name: app, key: GREETING}}
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: creds, key: PASSWORD}}
        envFrom:
        - {prefix: CFG_, configMapRef: {name: app}}
        volumeMounts:
        - {name: cfg, mountPath: /etc/app}
        - {name: creds, mountPath: /etc/creds}
        - {name: all, mountPath: /etc/all}
      volumes:
      - name: cfg
        configMap:
          name: app
          items: [{key: settings.ini, path: app.ini, mode: 0400}]
      - name: creds
        secret: {secretName: creds, defaultMode: 0440}
      - name: all
        projected:
          sources:
          - configMap: {name: app, items: [{key: GREETING, path: GREETING}]}
          - secret: {name: creds}
          - downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}
"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], job).ok();
    let done = wait_complete(&s, "reader");
    assert_eq!(done["status"]["succeeded"], 2);
    let pods = job_pods(&s, "reader");
    assert_eq!(pods.len(), 2);
    for p in &pods {
        let name = p["metadata"]["name"].as_str().unwrap();
        let index = &p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"];
        let logs = s.kubectl(&["logs", name]).ok();
        assert_eq!(
            logs,
            format!(
                "{} hello hunter2 hello\n[app]\nlevel=debug\n400\napp.ini\n440\nhellohunter2{name}\nread-only\n",
                index.as_str().unwrap()
            ),
            "{name}"
        );
        let described = s.kubectl(&["describe", "pod", name]).ok();
        assert!(
            described.contains("<set to the key 'PASSWORD' in secret 'creds'>"),
            "{described}"
        );
        assert!(!described.contains("hunter2"), "{described}");
        for (_, _, message) in pod_events(&s, name) {
            assert!(!message.contains("hunter2"), "{message}");
        }
    }
    // The files live only under the engine's 0700 data directory.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(s.data_dir.path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    // Nothing the engine (or its supervisor) logged carries the value.
    let log = s.log();
    assert!(!log.contains("hunter2"), "{log}");
    let out = Command::new("grep")
        .args(["-r", "-l", "hunter2", "--include=*.log"])
        .arg(s.data_dir.path())
        .output()
        .unwrap();
    let hits = String::from_utf8_lossy(&out.stdout);
    // Only the pods' own output (which echoes it) may hold it.
    for hit in hits.lines() {
        assert!(hit.contains("/logs/default_reader-"), "{hit}");
    }
}

/// A Job whose ConfigMap does not exist yet: its pod waits with
/// `CreateContainerConfigError` (env) or `ContainerCreating` and
/// `FailedMount` (volume), then runs once `kubectl create configmap` makes
/// it: the same pod, nothing re-created and no failure counted.
#[test]
fn pods_wait_for_a_missing_config_map_then_run() {
    let s = Server::start();
    let job = |name: &str, extra: &str| {
        format!(
            r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
{extra}"#
        )
    };
    let env_job = job(
        "by-env",
        r#"        command: ["sh", "-c", "echo $GREETING"]
        env:
        - name: GREETING
          valueFrom: {configMapKeyRef: {name: late, key: GREETING}}
"#,
    );
    let vol_job = job(
        "by-volume",
        r#"        command: ["cat", "/cfg/GREETING"]
        volumeMounts: [{name: cfg, mountPath: /cfg}]
      volumes:
      - name: cfg
        configMap: {name: late-files}
"#,
    );
    s.kubectl_stdin("1.33", &["create", "-f", "-"], &env_job)
        .ok();
    s.kubectl_stdin("1.33", &["create", "-f", "-"], &vol_job)
        .ok();
    let waiting = |job: &str, reason: &str| {
        s.wait_for(
            &format!("{job} waiting with {reason}"),
            std::time::Duration::from_secs(30),
            || {
                let pods = job_pods(&s, job);
                let p = pods.first()?;
                let w = &p["status"]["containerStatuses"][0]["state"]["waiting"];
                (w["reason"] == reason).then(|| p.clone())
            },
        )
    };
    let env_pod = waiting("by-env", "CreateContainerConfigError");
    assert_eq!(env_pod["status"]["phase"], "Pending");
    assert_eq!(
        env_pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"],
        "configmap \"late\" not found"
    );
    let vol_pod = waiting("by-volume", "ContainerCreating");
    assert_eq!(vol_pod["status"]["phase"], "Pending");
    let name_of = |p: &Value| p["metadata"]["name"].as_str().unwrap().to_string();
    let (env_name, vol_name) = (name_of(&env_pod), name_of(&vol_pod));
    s.wait_for(
        "the upstream events",
        std::time::Duration::from_secs(30),
        || {
            let env_events = pod_events(&s, &env_name);
            let vol_events = pod_events(&s, &vol_name);
            let failed = (
                "Warning".to_string(),
                "Failed".to_string(),
                "Error: configmap \"late\" not found".to_string(),
            );
            let mount = (
                "Warning".to_string(),
                "FailedMount".to_string(),
                "MountVolume.SetUp failed for volume \"cfg\" : configmap \"late-files\" not found"
                    .to_string(),
            );
            (env_events.contains(&failed) && vol_events.contains(&mount)).then_some(())
        },
    );
    // Neither Job counts a failure while its pod waits.
    std::thread::sleep(std::time::Duration::from_millis(500));
    for j in ["by-env", "by-volume"] {
        let job = s.get_json(&["job", j]);
        assert_eq!(job["status"]["active"], 1, "{job}");
        assert!(job["status"].get("failed").is_none(), "{job}");
    }

    s.kubectl(&["create", "configmap", "late", "--from-literal=GREETING=hi"])
        .ok();
    s.kubectl(&[
        "create",
        "configmap",
        "late-files",
        "--from-literal=GREETING=files",
    ])
    .ok();
    for (j, pod, out) in [
        ("by-env", &env_pod, "hi\n"),
        ("by-volume", &vol_pod, "files\n"),
    ] {
        let done = wait_complete(&s, j);
        assert_eq!(done["status"]["succeeded"], 1);
        assert!(done["status"].get("failed").is_none(), "{done}");
        let pods = job_pods(&s, j);
        assert_eq!(pods.len(), 1, "no pod was re-created");
        assert_eq!(pods[0]["metadata"]["uid"], pod["metadata"]["uid"]);
        assert_eq!(pods[0]["status"]["containerStatuses"][0]["restartCount"], 0);
        assert_eq!(s.kubectl(&["logs", &name_of(pod)]).ok(), out);
    }
}

/// `optional: true`: a missing key or object leaves the variable unset
/// (and an optional volume empty), and the pod runs.
#[test]
fn optional_references_that_are_missing_are_left_out() {
    let s = Server::start();
    s.kubectl(&["create", "configmap", "some", "--from-literal=A=1"])
        .ok();
    let job = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: opt
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "echo ${A-unset} ${MISSING_KEY-unset} ${MISSING_SECRET-unset}; ls /opt/cfg | wc -l"]
        env:
        - name: A
          valueFrom: {configMapKeyRef: {name: some, key: A, optional: true}}
        - name: MISSING_KEY
          valueFrom: {configMapKeyRef: {name: some, key: nope, optional: true}}
        - name: MISSING_SECRET
          valueFrom: {secretKeyRef: {name: nope, key: k, optional: true}}
        envFrom:
        - secretRef: {name: nope, optional: true}
        volumeMounts: [{name: cfg, mountPath: /opt/cfg}]
      volumes:
      - name: cfg
        configMap: {name: nope, optional: true}
"#;
    s.kubectl_stdin("1.33", &["create", "-f", "-"], job).ok();
    wait_complete(&s, "opt");
    let pods = job_pods(&s, "opt");
    let logs = s
        .kubectl(&["logs", pods[0]["metadata"]["name"].as_str().unwrap()])
        .ok();
    assert_eq!(logs, "1 unset unset\n0\n");
}

/// The node follows ConfigMaps by a watch: a running pod's volume gets the
/// new content (a subPath mount keeps what it started with, as upstream),
/// and a pod waiting on a missing key starts once an update adds it.
#[test]
fn config_map_changes_reach_pods() {
    let s = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("one.conf");
    s.kubectl(&["create", "configmap", "live", "--from-literal=k=v1"])
        .ok();
    let pods = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: watcher
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "cat /cfg/k; echo; until grep -q v2 /cfg/k; do sleep 0.05; done; cat {one}; echo; cat /cfg/k; echo"]
    volumeMounts:
    - {{name: cfg, mountPath: /cfg}}
    - {{name: cfg, mountPath: {one}, subPath: k}}
  volumes:
  - name: cfg
    configMap: {{name: live}}
---
apiVersion: v1
kind: Pod
metadata:
  name: keyed
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo $LATER"]
    env:
    - name: LATER
      valueFrom: {{configMapKeyRef: {{name: live, key: later}}}}
"#,
        one = one.display()
    );
    s.kubectl_stdin("1.33", &["create", "-f", "-"], &pods).ok();
    let state =
        |pod: &str| s.get_json(&["pod", pod])["status"]["containerStatuses"][0]["state"].clone();
    s.wait_for(
        "both pods in place",
        std::time::Duration::from_secs(30),
        || {
            let running = state("watcher").get("running").is_some();
            let w = state("keyed")["waiting"].clone();
            (running && w["reason"] == "CreateContainerConfigError").then_some(w)
        },
    );
    assert_eq!(
        state("keyed")["waiting"]["message"],
        "couldn't find key later in ConfigMap default/live"
    );
    s.kubectl(&[
        "patch",
        "cm",
        "live",
        "-p",
        r#"{"data":{"k":"v2","later":"now"}}"#,
    ])
    .ok();
    for pod in ["watcher", "keyed"] {
        s.wait_for(pod, std::time::Duration::from_secs(30), || {
            (s.get_json(&["pod", pod])["status"]["phase"] == "Succeeded").then_some(())
        });
    }
    assert_eq!(s.kubectl(&["logs", "watcher"]).ok(), "v1\nv1\nv2\n");
    assert_eq!(s.kubectl(&["logs", "keyed"]).ok(), "now\n");
}
