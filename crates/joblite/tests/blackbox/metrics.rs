//! `/metrics`: the upstream job controller and apiserver families plus
//! joblite's own, in valid Prometheus text format, for an authenticated
//! caller only (bearer token or client certificate, 401 otherwise).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{condition, Server};

/// The value of the sample `name{labels}` (labels in any order), if any.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (n, rest) = series.split_once('{').unwrap_or((series, "}"));
            if n != name {
                return None;
            }
            let got: HashMap<&str, &str> = rest
                .trim_end_matches('}')
                .split(',')
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((k, v.trim_matches('"')))
                })
                .collect();
            labels
                .iter()
                .all(|(k, v)| got.get(k) == Some(v))
                .then(|| value.parse().ok())?
        })
}

/// `promtool check metrics` (Debian's prometheus package, installed by
/// `.ci/run`) on the exposition text.
fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus; .ci/run does)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `curl` without the bearer token; `extra` adds arguments (a client cert).
fn curl_anonymous(s: &Server, path: &str, extra: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}", "--cacert"])
        .arg(s.data_dir.path().join("pki/ca.crt"))
        .args(extra)
        .arg(format!("{}{path}", s.base_url()))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn wait_finished(s: &Server, job: &str, cond: &str) {
    s.wait_for(
        &format!("job {job} {cond}"),
        Duration::from_secs(60),
        || {
            let j = s.get_json(&["job", job]);
            condition(&j, cond)
                .filter(|c| c["status"] == "True")
                .map(|_| ())
        },
    );
}

#[test]
fn metrics_need_authentication() {
    let s = Server::start();
    let (code, body) = curl_anonymous(&s, "/metrics", &[]);
    assert_eq!(code, 401, "{body}");
    assert!(!body.contains("apiserver_request_total"), "{body}");
    let (code, _) = curl_anonymous(
        &s,
        "/metrics",
        &["-H", "Authorization: Bearer not-the-token"],
    );
    assert_eq!(code, 401);

    // A client certificate signed by the engine's CA is enough, as
    // kube-apiserver accepts one in place of a token.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("scraper.key");
    let csr = dir.path().join("scraper.csr");
    let crt = dir.path().join("scraper.crt");
    let ext = dir.path().join("ext.cnf");
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    let pki = s.data_dir.path().join("pki");
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let p = |p: &Path| p.to_str().unwrap().to_string();
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &p(&key),
        "-subj",
        "/CN=prometheus",
        "-out",
        &p(&csr),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p(&csr),
        "-CA",
        &p(&pki.join("ca.crt")),
        "-CAkey",
        &p(&pki.join("ca.key")),
        "-CAcreateserial",
        "-CAserial",
        &p(&dir.path().join("ca.srl")),
        "-days",
        "1",
        "-extfile",
        &p(&ext),
        "-out",
        &p(&crt),
    ]);
    let (code, body) = curl_anonymous(&s, "/metrics", &["--cert", &p(&crt), "--key", &p(&key)]);
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("# TYPE apiserver_request_total counter"),
        "{body}"
    );
}

/// After the seed's 10-pod `parallel` Job and a Job failed by its pod
/// failure policy, every family the issue names is served with upstream's
/// labels, and the counts are the Jobs' own.
#[test]
fn metrics_count_jobs_and_pods_with_upstream_names() {
    let s = Server::start();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for f in ["parallel.yaml", "pod-failure-policy.yaml"] {
        s.kubectl(&["apply", "-f", examples.join(f).to_str().unwrap()])
            .ok();
    }
    wait_finished(&s, "parallel", "Complete");
    wait_finished(&s, "pod-failure-policy", "Failed");
    let (code, text) = s.wait_for("the finished pods counted", Duration::from_secs(10), || {
        let (code, text) = s.curl("GET", "/metrics", &[], None);
        let done = sample(
            &text,
            "job_controller_job_pods_finished_total",
            &[("completion_mode", "NonIndexed"), ("result", "failed")],
        ) == Some(1.0);
        done.then_some((code, text))
    });
    assert_eq!(code, 200);
    promtool_check(&text);

    let families = [
        ("job_controller_job_sync_duration_seconds", "histogram"),
        ("job_controller_job_syncs_total", "counter"),
        ("job_controller_jobs_finished_total", "counter"),
        ("job_controller_job_pods_finished_total", "counter"),
        (
            "job_controller_pod_failures_handled_by_failure_policy_total",
            "counter",
        ),
        (
            "job_controller_terminated_pods_tracking_finalizer_total",
            "counter",
        ),
        ("job_controller_job_pods_creation_total", "counter"),
        ("apiserver_request_total", "counter"),
        ("apiserver_request_duration_seconds", "histogram"),
        ("joblite_store_commit_duration_seconds", "histogram"),
        ("joblite_store_commit_batch_size", "histogram"),
        ("joblite_running_pods", "gauge"),
        ("joblite_node_allocatable", "gauge"),
        ("joblite_node_requested", "gauge"),
        ("joblite_runtime_start_duration_seconds", "histogram"),
    ];
    for (name, kind) in families {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "missing {name} ({kind}) in:\n{text}"
        );
    }
    // Upstream's stability prefix on the STABLE families' help.
    assert!(
        text.contains("# HELP job_controller_job_syncs_total [STABLE] The number of job syncs\n")
    );

    let nonindexed = |result: &str| {
        sample(
            &text,
            "job_controller_job_pods_finished_total",
            &[("completion_mode", "NonIndexed"), ("result", result)],
        )
    };
    assert_eq!(nonindexed("succeeded"), Some(10.0), "{text}");
    assert_eq!(nonindexed("failed"), Some(1.0), "{text}");
    // Upstream `recordJobFinished`: result succeeded/failed, the finishing
    // condition's reason.
    assert_eq!(
        sample(
            &text,
            "job_controller_jobs_finished_total",
            &[
                ("completion_mode", "NonIndexed"),
                ("result", "succeeded"),
                ("reason", "CompletionsReached")
            ]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "job_controller_jobs_finished_total",
            &[("result", "failed"), ("reason", "PodFailurePolicy")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "job_controller_pod_failures_handled_by_failure_policy_total",
            &[("action", "FailJob")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "job_controller_job_pods_creation_total",
            &[("reason", "new"), ("status", "succeeded")]
        ),
        Some(11.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "job_controller_job_syncs_total",
            &[
                ("completion_mode", "NonIndexed"),
                ("result", "success"),
                ("action", "pods_created")
            ]
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    // kubectl's create went through the apiserver: verb POST, scope resource.
    assert_eq!(
        sample(
            &text,
            "apiserver_request_total",
            &[
                ("verb", "POST"),
                ("group", "batch"),
                ("version", "v1"),
                ("resource", "jobs"),
                ("scope", "resource"),
                ("component", "apiserver"),
                ("code", "201")
            ]
        ),
        Some(2.0),
        "{text}"
    );
    assert!(sample(
        &text,
        "joblite_runtime_start_duration_seconds_count",
        &[("runtime", "process")]
    )
    .is_some_and(|n| n >= 11.0));
    assert!(sample(&text, "joblite_store_commit_batch_size_count", &[]).is_some_and(|n| n > 0.0));
    assert_eq!(
        sample(&text, "joblite_running_pods", &[]),
        Some(0.0),
        "{text}"
    );
    assert!(sample(
        &text,
        "joblite_node_allocatable",
        &[("resource", "cpu"), ("unit", "core")]
    )
    .is_some_and(|n| n >= 1.0));
}

/// The README's scrape config, filled in for this engine: Debian's
/// Prometheus scrapes `/metrics` with the token file and the engine's CA,
/// and reports the target up with joblite's series in its store.
#[test]
fn prometheus_scrapes_with_the_readme_config() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let pki = s.data_dir.path().join("pki");
    let config = format!(
        r#"global:
  scrape_interval: 1s
scrape_configs:
  - job_name: joblite
    scheme: https
    authorization:
      credentials_file: {token}
    tls_config:
      ca_file: {ca}
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"#,
        token = pki.join("token").display(),
        ca = pki.join("ca.crt").display(),
        port = s.port,
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, &config).unwrap();
    let check = Command::new("promtool")
        .args(["check", "config"])
        .arg(&config_path)
        .output()
        .expect("promtool");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _prom = Kill(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus (apt-get install prometheus; .ci/run does)"),
    );
    let query = |q: &str| -> Option<serde_json::Value> {
        let out = Command::new("curl")
            .args(["-sS", "--get", "--data-urlencode"])
            .arg(format!("query={q}"))
            .arg(format!("http://127.0.0.1:{port}/api/v1/query"))
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    };
    s.wait_for(
        "prometheus to scrape joblite",
        Duration::from_secs(60),
        || {
            let v = query(r#"up{job="joblite"}"#)?;
            (v["data"]["result"][0]["value"][1] == "1").then_some(())
        },
    );
    let v = query(r#"joblite_node_allocatable{resource="cpu"}"#).unwrap();
    assert!(
        v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|n| n.parse::<f64>().ok())
            .is_some_and(|n| n >= 1.0),
        "{v}\n{}",
        std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
    );
}
