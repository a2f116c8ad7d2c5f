//! The web dashboard in a real headless Chromium, driven over WebDriver:
//! login through the printed link, live progress without reloads, a pod's
//! logs, suspend, resume and delete, and no data or writes without a
//! session.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::Server;
use crate::webdriver::Browser;

const T: Duration = Duration::from_secs(60);

fn dashboard_port(s: &Server) -> u16 {
    let info: Value = serde_json::from_str(
        &std::fs::read_to_string(s.data_dir.path().join("engine.json")).unwrap(),
    )
    .unwrap();
    info["dashboardPort"].as_u64().expect("dashboardPort") as u16
}

/// `joblite dashboard --no-open`: the one-time login link it prints.
fn login_link(s: &Server) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_joblite"))
        .args(["dashboard", "--no-open", "--data-dir"])
        .arg(s.data_dir.path())
        .env("HOME", s.home.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Where the screenshots go: `JOBLITE_SCREENSHOTS` (the README's copies
/// under `docs/` were made with it), else the test's temporary directory.
fn screenshot_dir() -> PathBuf {
    std::env::var_os("JOBLITE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")))
}

/// A page on another site (`http://localhost:…`, not the dashboard's
/// `https://127.0.0.1:…`) that posts a Job to the dashboard's API as soon
/// as it loads: the classic cross-site request forgery.
fn serve_forgery(target: String) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let page = format!(
                r#"<!doctype html><title>free prizes</title>
<form method="POST" action="{target}" enctype="text/plain">
<input type="hidden" name='{{"apiVersion":"batch/v1","kind":"Job","metadata":{{"name":"forged"}},"spec":{{"template":{{"spec":{{"restartPolicy":"Never","containers":[{{"name":"c","image":"busybox","command":["true"]}}]}}}}}},"x":"' value='"}}'>
</form><script>document.forms[0].submit()</script>"#
            );
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    port
}

fn job_json(s: &Server, name: &str) -> Option<Value> {
    let r = s.kubectl(&["get", "job", name, "-o", "json"]);
    (r.code() == 0).then(|| serde_json::from_str(&r.stdout()).unwrap())
}

#[test]
fn dashboard_in_a_real_browser() {
    let s = Server::start();
    let port = dashboard_port(&s);
    let origin = format!("https://127.0.0.1:{port}");
    // A Job that exists before anyone logs in: its name must not show.
    s.kubectl(&[
        "apply",
        "-f",
        examples().join("oneshot.yaml").to_str().unwrap(),
    ])
    .ok();

    let b = Browser::start();

    eprintln!("dashboard test: no session");
    // ---- no session: instructions, no data ------------------------------
    b.goto(&format!("{origin}/ui/"));
    b.wait_element("#login", T);
    let text = b.body_text();
    assert!(text.contains("joblite dashboard"), "{text}");
    let html = b.execute("return document.documentElement.outerHTML");
    assert!(!html.as_str().unwrap().contains("oneshot"), "{html}");
    // The API behind the page answers 401 without a session.
    b.goto(&format!("{origin}/apis/batch/v1/jobs"));
    let text = b.body_text();
    assert!(
        text.contains("Unauthorized") && !text.contains("oneshot"),
        "{text}"
    );

    eprintln!("dashboard test: login");
    // ---- login through the printed link ---------------------------------
    let link = login_link(&s);
    assert!(
        link.starts_with(&format!("{origin}/ui/login?code=")),
        "{link}"
    );
    b.goto(&link);
    b.wait_element("[data-key='default/oneshot']", T);
    assert!(b.url().starts_with(&format!("{origin}/ui/")), "{}", b.url());
    let cookies = b.cookies();
    let c = cookies
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "__Host-joblite-session")
        .unwrap_or_else(|| panic!("{cookies}"));
    assert_eq!(c["httpOnly"], true, "{c}");
    assert_eq!(c["secure"], true, "{c}");
    assert_eq!(c["sameSite"], "Strict", "{c}");
    let session_cookie = c["value"].as_str().unwrap().to_string();
    // The link works once.
    let again = Command::new("curl")
        .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}", &link])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&again.stdout), "401");

    eprintln!("dashboard test: parallel");
    // ---- the seed's parallel Job, live to 10/10 without a reload ---------
    b.execute("window.__sameDocument = 42; return null");
    for f in ["parallel.yaml", "indexed.yaml", "pod-failure-policy.yaml"] {
        s.kubectl(&["apply", "-f", examples().join(f).to_str().unwrap()])
            .ok();
    }
    b.wait_for("parallel at 10/10", T, |b| {
        let el = b.find("[data-key='default/parallel'] .completions")?;
        (b.text(&el) == "10/10").then_some(())
    });
    b.wait_for("the other Jobs finished", T, |b| {
        let done = b.count("[data-key='default/indexed'] .s-Complete") == 1
            && b.count("[data-key='default/pod-failure-policy'] .s-Failed") == 1;
        done.then_some(())
    });
    assert_eq!(
        b.execute("return window.__sameDocument"),
        serde_json::json!(42),
        "the page reloaded"
    );
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("dashboard-jobs.png"), b.screenshot()).unwrap();

    eprintln!("dashboard test: job view");
    // ---- a Job: conditions, pods, events ----------------------------------
    b.click_css("[data-key='default/parallel'] a.job-link", T);
    b.wait_element(
        "#conditions tr[data-type='Complete'][data-status='True']",
        T,
    );
    b.wait_for("ten pods", T, |b| {
        (b.count(".vt-row a.pod-link") == 10).then_some(())
    });
    b.wait_element("tr[data-reason='Completed']", T);
    b.wait_element("tr[data-reason='SuccessfulCreate']", T);
    // An Indexed Job shows its completion strip.
    b.goto(&format!("{origin}/ui/#/jobs/default/indexed"));
    b.wait_element("#conditions tr[data-type='Complete']", T);
    b.wait_for("five indexed pods", T, |b| {
        (b.count(".vt-row a.pod-link") == 5).then_some(())
    });
    assert!(b.find("canvas.strip").is_some());
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(dir.join("dashboard-job.png"), b.screenshot()).unwrap();

    eprintln!("dashboard test: logs");
    // ---- a pod's logs ------------------------------------------------------
    b.goto(&format!("{origin}/ui/#/jobs/default/parallel"));
    b.click_css(".vt-row a.pod-link", T);
    b.wait_for("the pod's log lines", T, |b| {
        let log = b.find("#log")?;
        b.text(&log).contains("made 10 keys").then_some(())
    });
    assert!(b.find("#download").is_some() && b.find("#previous").is_some());

    eprintln!("dashboard test: suspend");
    // ---- suspend, resume, delete ------------------------------------------
    s.kubectl_stdin(
        "1.33",
        &["apply", "-f", "-"],
        r#"apiVersion: batch/v1
kind: Job
metadata:
  name: sleeper
spec:
  parallelism: 2
  completions: 4
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sleep", "300"]
"#,
    )
    .ok();
    b.goto(&format!("{origin}/ui/#/jobs/default/sleeper"));
    b.wait_element("#suspend", T);
    b.wait_for("two running pods", T, |b| {
        (b.count(".vt-row .s-Running") == 2).then_some(())
    });
    b.click_css("#suspend", T);
    s.wait_for("spec.suspend true", T, || {
        (job_json(&s, "sleeper")?["spec"]["suspend"] == true).then_some(())
    });
    b.wait_element(
        "#conditions tr[data-type='Suspended'][data-status='True']",
        T,
    );
    b.click_css("#resume", T);
    s.wait_for("spec.suspend false", T, || {
        (job_json(&s, "sleeper")?["spec"]["suspend"] == false).then_some(())
    });
    b.wait_element(
        "#conditions tr[data-type='Suspended'][data-status='False']",
        T,
    );
    b.wait_element("#suspend", T);

    // The header redraws on every change of the Job; pick the policy and
    // confirm in one script so a redraw cannot fall in between.
    b.click_css("#delete", T);
    b.wait_element("#confirm-delete", T);
    b.execute("document.querySelector('#propagation').value = 'Background'; document.querySelector('#confirm-delete').click(); return null");
    // Back on the Jobs view, which the watch keeps current: it goes.
    b.wait_element("[data-key='default/parallel']", T);
    b.wait_for("sleeper gone from the page", T, |b| {
        b.find("[data-key='default/sleeper']")
            .is_none()
            .then_some(())
    });
    s.wait_for("sleeper gone from the API", T, || {
        job_json(&s, "sleeper").is_none().then_some(())
    });

    eprintln!("dashboard test: cronjobs");
    s.kubectl_stdin(
        "1.33",
        &["apply", "-f", "-"],
        r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  timeZone: "UTC"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: busybox
            command: ["true"]
"#,
    )
    .ok();
    // A Job made from it by hand is owned by it, and the Jobs view says so.
    s.kubectl(&["create", "job", "nightly-manual", "--from=cronjob/nightly"])
        .ok();
    b.goto(&format!("{origin}/ui/#/"));
    b.wait_for("the owning CronJob", T, |b| {
        let row = b.find("[data-key='default/nightly-manual']")?;
        b.text(&row).contains("nightly").then_some(())
    });
    b.goto(&format!("{origin}/ui/#/cronjobs"));
    b.wait_for("the CronJob's schedule and next run", T, |b| {
        let row = b.find("[data-key='default/nightly']")?;
        let text = b.text(&row);
        (text.contains("0 3 * * * (UTC)") && text.contains("in ")).then_some(())
    });

    eprintln!("dashboard test: forgery");
    // ---- forged writes are refused ------------------------------------------
    // A cross-site form post: the browser holds a session cookie, but
    // SameSite=Strict keeps it off a request another site starts.
    let jobs_url = format!("{origin}/apis/batch/v1/namespaces/default/jobs");
    let evil = serve_forgery(jobs_url.clone());
    b.goto(&format!("http://localhost:{evil}/"));
    b.wait_for("the forged post answered", T, |b| {
        let t = b.body_text();
        t.contains("Unauthorized").then_some(())
    });
    // The cookie alone, without the page's CSRF token, is not enough either.
    let out = Command::new("curl")
        .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .args(["-H", "Content-Type: application/json"])
        .arg("-H")
        .arg(format!("Cookie: __Host-joblite-session={session_cookie}"))
        .args(["--data-binary", r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"forged"},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox","command":["true"]}]}}}}"#])
        .arg(&jobs_url)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "403");
    assert!(job_json(&s, "forged").is_none(), "a forged Job was created");
}
