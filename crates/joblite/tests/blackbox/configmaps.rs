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
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/blackbox/python_configmaps.py");
    let out = Command::new(crate::python_client::python())
        .arg(&script)
        .arg(&s.kubeconfig)
        .env("HOME", s.home.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python client failed:\n{}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
}
