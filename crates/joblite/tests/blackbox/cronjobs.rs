//! CronJobs (`batch/v1`) through kubectl 1.33, joblite's own client and the
//! Python client: the API (CRUD, watch, Table, status subresource,
//! validation), the Jobs the controller creates (owner references, the
//! scheduled-timestamp annotation, cascading deletion), the client commands,
//! the upstream e2e behaviours (`test/e2e/apps/cronjob.go`) and a kill -9
//! across a scheduled minute.
//!
//! Minute schedules cost wall time, so the e2e behaviours that need real
//! slots share one engine and one observation loop
//! (`upstream_e2e_behaviours_in_real_time`, about two and a half minutes);
//! everything else makes a slot due at once the upstream way: a
//! `status.lastScheduleTime` in the past is where the controller starts
//! counting missed slots (`mostRecentScheduleTime`), so the most recent one
//! runs now.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::harness::{condition, Server};

const SCHEDULED: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// RFC 3339 UTC of a Unix time, as the API writes `metav1.Time`.
fn rfc3339(secs: i64) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A CronJob manifest; `command` runs in container `c`.
fn cronjob(name: &str, schedule: &str, command: &[&str]) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "busybox", "command": command}]
            }}}}
        }
    })
}

fn create(s: &Server, obj: &Value) {
    s.kubectl_stdin("1.33", &["create", "-f", "-"], &obj.to_string())
        .ok();
}

/// GET a path as JSON.
fn get(s: &Server, path: &str) -> Value {
    let (code, body) = s.curl("GET", path, &[], None);
    assert_eq!(code, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn cj_path(name: &str) -> String {
    format!("/apis/batch/v1/namespaces/default/cronjobs/{name}")
}

/// The Jobs whose controller is the CronJob `cj`, by name.
fn jobs_of(s: &Server, cj: &str) -> BTreeMap<String, Value> {
    let list = get(s, "/apis/batch/v1/namespaces/default/jobs");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| {
            j["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|rs| {
                    rs.iter()
                        .any(|r| r["controller"] == true && r["name"] == cj)
                })
        })
        .map(|j| {
            (
                j["metadata"]["name"].as_str().unwrap().to_string(),
                j.clone(),
            )
        })
        .collect()
}

/// Every event about CronJob `cj`: (reason, message).
fn events_of(s: &Server, cj: &str) -> Vec<(String, String)> {
    let list = get(s, "/api/v1/namespaces/default/events");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["involvedObject"]["kind"] == "CronJob" && e["involvedObject"]["name"] == cj)
        .map(|e| {
            (
                e["reason"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn has_event(s: &Server, cj: &str, reason: &str, message: &str) -> bool {
    events_of(s, cj)
        .iter()
        .any(|(r, m)| r == reason && m == message)
}

/// Makes the most recent slot of `cj` due now: `lastScheduleTime` set back
/// by `ago` seconds through the status subresource.
fn backdate(s: &Server, cj: &str, ago: i64) {
    let body = json!({"status": {"lastScheduleTime": rfc3339(now_secs() - ago)}}).to_string();
    s.kubectl(&[
        "patch",
        "cronjob",
        cj,
        "--subresource=status",
        "--type=merge",
        "-p",
        &body,
    ])
    .ok();
}

/// The Job name of the most recent minute slot of an every-minute schedule
/// (`getJobName`: minutes since the epoch), and that slot.
fn this_minute(cj: &str) -> (String, i64) {
    let slot = now_secs() / 60 * 60;
    (format!("{cj}-{}", slot / 60), slot)
}

fn wait_job(s: &Server, cj: &str, what: &str) -> Value {
    s.wait_for(what, Duration::from_secs(30), || {
        jobs_of(s, cj).into_values().next()
    })
}

#[test]
fn cronjob_api_table_status_and_watch_through_kubectl() {
    let s = Server::start();
    let out = s
        .kubectl(&[
            "create",
            "cronjob",
            "nightly",
            "--image=busybox",
            "--schedule=0 3 * * *",
            "--",
            "/bin/true",
        ])
        .ok();
    assert_eq!(out.trim(), "cronjob.batch/nightly created");
    let cj = s.get_json(&["cronjob", "nightly"]);
    let rv0: u64 = cj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // SetDefaults_CronJob; kubectl create cronjob's shape (create_cronjob.go).
    assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
    assert_eq!(cj["spec"]["suspend"], false);
    assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
    assert_eq!(cj["spec"]["failedJobsHistoryLimit"], 1);
    assert_eq!(cj["metadata"]["generation"], 1);
    let pod = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "OnFailure");
    assert_eq!(pod["containers"][0]["name"], "nightly");
    assert_eq!(pod["containers"][0]["command"], json!(["/bin/true"]));

    // Discovery: cronjobs, singular cronjob, short name cj, category all.
    let res = s
        .kubectl(&["api-resources", "--api-group=batch", "--no-headers"])
        .ok();
    let row: Vec<&str> = res
        .lines()
        .find(|l| l.starts_with("cronjobs"))
        .unwrap_or_else(|| panic!("{res}"))
        .split_whitespace()
        .collect();
    assert_eq!(row, ["cronjobs", "cj", "batch/v1", "true", "CronJob"]);

    // The server-side Table (printers.go cronJobColumnDefinitions).
    let table = s.kubectl(&["get", "cj"]).ok();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..7], ["nightly", "0", "3", "*", "*", "*", "<none>"]);
    assert_eq!(&row[7..10], ["False", "0", "<none>"]);
    let wide = s.kubectl(&["get", "cronjobs", "-o", "wide"]).ok();
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(&header[8..], ["CONTAINERS", "IMAGES", "SELECTOR"]);
    let row: Vec<&str> = wide.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[row.len() - 3..], ["nightly", "busybox", "<none>"]);

    // Suspend through a merge patch: a spec change bumps the generation.
    // `kubectl wait` watches for it meanwhile.
    let waiter = s
        .kubectl_command("1.33")
        .args([
            "wait",
            "--for=jsonpath={.spec.suspend}=true",
            "cronjob/nightly",
            "--timeout=30s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let out = s
        .kubectl(&[
            "patch",
            "cronjob",
            "nightly",
            "-p",
            r#"{"spec":{"suspend":true}}"#,
        ])
        .ok();
    assert_eq!(out.trim(), "cronjob.batch/nightly patched");
    let waited = waiter.wait_with_output().unwrap();
    assert!(waited.status.success(), "{waited:?}");
    assert_eq!(
        String::from_utf8_lossy(&waited.stdout).trim(),
        "cronjob.batch/nightly condition met"
    );
    let cj = s.get_json(&["cj", "nightly"]);
    assert_eq!(cj["spec"]["suspend"], true);
    assert_eq!(cj["metadata"]["generation"], 2);
    let table = s.kubectl(&["get", "cj", "nightly", "--no-headers"]).ok();
    assert_eq!(table.split_whitespace().nth(7), Some("True"), "{table}");

    // Labels and a label selector.
    s.kubectl(&["label", "cronjob", "nightly", "team=data"])
        .ok();
    let listed = s
        .kubectl(&["get", "cj", "-l", "team=data", "-o", "name"])
        .ok();
    assert_eq!(listed.trim(), "cronjob.batch/nightly");
    let listed = s.kubectl(&["get", "cj", "-l", "team=web", "-o", "name"]);
    assert_eq!(listed.stdout().trim(), "");
    let all = s.kubectl(&["get", "cj", "-A", "-o", "name"]).ok();
    assert_eq!(all.trim(), "cronjob.batch/nightly");

    // The status subresource: status writes go through it only, and
    // lastScheduleTime round-trips at RFC 3339 precision.
    let t = rfc3339(now_secs() / 60 * 60 - 3600);
    let patch = json!({"status": {"lastScheduleTime": t}}).to_string();
    s.kubectl(&[
        "patch",
        "cronjob",
        "nightly",
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ])
    .ok();
    let status = get(&s, &format!("{}/status", cj_path("nightly")));
    assert_eq!(status["status"]["lastScheduleTime"], t.as_str());
    let table = s.kubectl(&["get", "cj", "nightly", "--no-headers"]).ok();
    assert_eq!(table.split_whitespace().nth(9), Some("60m"), "{table}");
    // Status through the main resource is ignored; spec through status too.
    let later = rfc3339(now_secs());
    let (code, _) = s.curl(
        "PATCH",
        &cj_path("nightly"),
        &["Content-Type: application/merge-patch+json"],
        Some(
            &json!({"status": {"lastScheduleTime": later}, "spec": {"schedule": "0 4 * * *"}})
                .to_string(),
        ),
    );
    assert_eq!(code, 200);
    let (code, _) = s.curl(
        "PATCH",
        &format!("{}/status", cj_path("nightly")),
        &["Content-Type: application/merge-patch+json"],
        Some(&json!({"spec": {"schedule": "0 5 * * *"}}).to_string()),
    );
    assert_eq!(code, 200);
    let cj = get(&s, &cj_path("nightly"));
    assert_eq!(cj["status"]["lastScheduleTime"], t.as_str());
    assert_eq!(cj["spec"]["schedule"], "0 4 * * *");

    // kubectl describe and joblite describe print the same text (no
    // events: the CronJob is suspended).
    let k = s.kubectl(&["describe", "cronjob", "nightly"]).ok();
    let j = s.joblite(&["describe", "cronjob", "nightly"]).ok();
    assert_eq!(j, k);
    assert!(
        k.contains("Schedule:                      0 4 * * *\n"),
        "{k}"
    );
    assert!(
        k.lines()
            .any(|l| l.split_whitespace().eq(["Active", "Jobs:", "<none>"])),
        "{k}"
    );

    // A watch from the first revision replays every change, then the
    // deletion.
    s.kubectl(&["delete", "cronjob", "nightly"]).ok();
    let (code, body) = s.curl(
        "GET",
        &format!("/apis/batch/v1/namespaces/default/cronjobs?watch=1&resourceVersion={rv0}&timeoutSeconds=1"),
        &[],
        None,
    );
    assert_eq!(code, 200);
    let types: Vec<String> = body
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        types.last().map(String::as_str),
        Some("DELETED"),
        "{types:?}"
    );
    assert!(
        types.iter().filter(|t| *t == "MODIFIED").count() >= 4,
        "{types:?}"
    );
    let gone = s.kubectl(&["get", "cj", "nightly"]);
    assert!(
        gone.stderr()
            .contains(r#"cronjobs.batch "nightly" not found"#),
        "{}",
        gone.stderr()
    );
}

#[test]
fn invalid_cronjobs_get_upstream_422s_and_nothing_is_stored() {
    let s = Server::start();
    let post = |obj: &Value| -> (u16, Value) {
        let (code, body) = s.curl(
            "POST",
            "/apis/batch/v1/namespaces/default/cronjobs",
            &["Content-Type: application/json"],
            Some(&obj.to_string()),
        );
        (code, serde_json::from_str(&body).unwrap_or(Value::Null))
    };
    let bad = |obj: Value, field: &str, message: &str| {
        let (code, status) = post(&obj);
        assert_eq!(code, 422, "{obj}: {status}");
        assert_eq!(status["reason"], "Invalid", "{status}");
        let causes = status["details"]["causes"].as_array().unwrap();
        assert!(
            causes
                .iter()
                .any(|c| c["field"] == field && c["message"] == message),
            "want {field}: {message}\ngot {status}"
        );
    };
    // robfig/cron v3 ParseStandard's messages, verbatim (parser.go).
    let schedules: &[(&str, &str)] = &[
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        (
            "* * * * * *",
            "expected exactly 5 fields, found 6: [* * * * * *]",
        ),
        ("@unrecognized", "unrecognized descriptor: @unrecognized"),
        (
            "@every Xm",
            r#"failed to parse duration @every Xm: time: invalid duration "Xm""#,
        ),
        (
            "* 5 j * *",
            r#"failed to parse int from j: strconv.Atoi: parsing "j": invalid syntax"#,
        ),
        ("* * * * 7", "end of range (7) above maximum (6): 7"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        (
            "5-1 * * * *",
            "beginning of range (5) beyond end of range (1): 5-1",
        ),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("*/5/5 * * * *", "too many slashes: */5/5"),
        (
            "*/0 * * * *",
            "step of range should be a positive number: */0",
        ),
        // "-1" is a range with an empty start.
        (
            "-1 * * * *",
            r#"failed to parse int from : strconv.Atoi: parsing "": invalid syntax"#,
        ),
        ("*/-1 * * * *", "negative number (-1) not allowed: -1"),
    ];
    for (sched, msg) in schedules {
        bad(
            cronjob("bad", sched, &["/bin/true"]),
            "spec.schedule",
            &format!("Invalid value: \"{sched}\": {msg}"),
        );
    }
    bad(
        cronjob("bad", "", &["/bin/true"]),
        "spec.schedule",
        "Required value",
    );
    bad(
        cronjob("bad", "TZ=UTC 0 * * * *", &["/bin/true"]),
        "spec.schedule",
        "Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
    );
    let with = |k: &str, v: Value| {
        let mut cj = cronjob("bad", "*/5 * * * *", &["/bin/true"]);
        cj["spec"][k] = v;
        cj
    };
    // e2e "should support timezone": bad-time-zone is Invalid.
    bad(
        with("timeZone", json!("bad-time-zone")),
        "spec.timeZone",
        "Invalid value: \"bad-time-zone\": unknown time zone bad-time-zone",
    );
    bad(
        with("timeZone", json!("Local")),
        "spec.timeZone",
        "Invalid value: \"Local\": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
    );
    bad(
        with("timeZone", json!("")),
        "spec.timeZone",
        "Invalid value: \"\": timeZone must be nil or non-empty string",
    );
    for field in [
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
        "startingDeadlineSeconds",
    ] {
        bad(
            with(field, json!(-1)),
            &format!("spec.{field}"),
            "Invalid value: -1: must be greater than or equal to 0",
        );
    }
    bad(
        with("concurrencyPolicy", json!("Sometimes")),
        "spec.concurrencyPolicy",
        "Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
    );
    // 52 = 63 - len("-<minutes>"); 53 is refused, 52 accepted.
    let long = "a".repeat(53);
    bad(
        cronjob(&long, "*/5 * * * *", &["/bin/true"]),
        "metadata.name",
        &format!("Invalid value: \"{long}\": must be no more than 52 characters"),
    );
    let list = get(&s, "/apis/batch/v1/namespaces/default/cronjobs");
    assert_eq!(list["items"], json!([]), "a refused CronJob was stored");

    // kubectl shows the same message.
    let out = s.kubectl(&[
        "create",
        "cronjob",
        "k",
        "--image=busybox",
        "--schedule=* * * * 7",
    ]);
    assert!(
        out.stderr().contains(
            r#"CronJob.batch "k" is invalid: spec.schedule: Invalid value: "* * * * 7": end of range (7) above maximum (6): 7"#
        ),
        "{}",
        out.stderr()
    );
    let (code, _) = post(&cronjob(&"a".repeat(52), "*/5 * * * *", &["/bin/true"]));
    assert_eq!(code, 201);
    // Good time zones and descriptors are accepted.
    let mut ok = cronjob("zoned", "@every 90s", &["/bin/true"]);
    ok["spec"]["timeZone"] = json!("Asia/Kolkata");
    assert_eq!(post(&ok).0, 201);
}

/// Jobs the controller creates carry `NewControllerRef` and the scheduled
/// timestamp; the CronJob's deletion cascades (background, foreground) or
/// orphans, through the garbage collector.
#[test]
fn cronjob_jobs_are_owned_annotated_and_cascade() {
    let s = Server::start();
    for name in ["bg", "fg", "orphan"] {
        create(&s, &cronjob(name, "*/1 * * * *", &["sleep", "300"]));
        backdate(&s, name, 180);
    }
    let mut uids = BTreeMap::new();
    for name in ["bg", "fg", "orphan"] {
        let job = wait_job(&s, name, "a scheduled Job");
        let cj = get(&s, &cj_path(name));
        let jname = job["metadata"]["name"].as_str().unwrap().to_string();
        let minutes: i64 = jname.rsplit('-').next().unwrap().parse().unwrap();
        assert!((now_secs() / 60 - minutes).abs() <= 1, "{jname}");
        assert_eq!(
            job["metadata"]["ownerReferences"],
            json!([{
                "apiVersion": "batch/v1", "kind": "CronJob", "name": name,
                "uid": cj["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true
            }])
        );
        // timeZone unset: the slot in UTC, RFC 3339.
        assert_eq!(
            job["metadata"]["annotations"][SCHEDULED],
            rfc3339(minutes * 60).as_str()
        );
        s.wait_for("a running pod", Duration::from_secs(30), || {
            let pods = s.get_json(&["pods", "-l", &format!("job-name={jname}")]);
            (pods["items"][0]["status"]["phase"] == "Running").then_some(())
        });
        // status.active references the Job (ref.GetReference).
        let cj = s.wait_for("status.active", Duration::from_secs(10), || {
            let cj = get(&s, &cj_path(name));
            cj["status"]["active"]
                .as_array()
                .is_some_and(|a| a.len() == 1)
                .then_some(cj)
        });
        let r = &cj["status"]["active"][0];
        assert_eq!(r["kind"], "Job");
        assert_eq!(r["apiVersion"], "batch/v1");
        assert_eq!(r["name"], jname.as_str());
        assert_eq!(r["uid"], job["metadata"]["uid"]);
        assert!(has_event(
            &s,
            name,
            "SuccessfulCreate",
            &format!("Created job {jname}")
        ));
        uids.insert(name, jname);
    }
    // A Job made by hand from the CronJob is owned too and goes with it.
    s.kubectl(&["create", "job", "bg-by-hand", "--from=cronjob/bg"])
        .ok();
    let manual = s.get_json(&["job", "bg-by-hand"]);
    assert_eq!(
        manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    assert_eq!(manual["metadata"]["ownerReferences"][0]["controller"], true);
    assert!(manual["metadata"]["ownerReferences"][0]
        .get("blockOwnerDeletion")
        .is_none());
    // Not in status.active, so upstream warns about it.
    s.wait_for("UnexpectedJob", Duration::from_secs(10), || {
        has_event(
            &s,
            "bg",
            "UnexpectedJob",
            "Saw a job that the controller did not create or forgot: bg-by-hand",
        )
        .then_some(())
    });

    s.kubectl(&["delete", "cronjob", "bg"]).ok();
    s.kubectl(&["delete", "cronjob", "fg", "--cascade=foreground"])
        .ok();
    s.kubectl(&["delete", "cronjob", "orphan", "--cascade=orphan"])
        .ok();
    s.wait_for("cascaded deletions", Duration::from_secs(30), || {
        let jobs = s.get_json(&["jobs"]);
        let names: BTreeSet<&str> = jobs["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["metadata"]["name"].as_str().unwrap())
            .collect();
        (names == BTreeSet::from([uids["orphan"].as_str()])).then_some(())
    });
    s.wait_for("the cascaded pods gone", Duration::from_secs(30), || {
        let pods = s.get_json(&["pods"]);
        let left: Vec<&str> = pods["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                p["metadata"]["labels"]["job-name"]
                    .as_str()
                    .unwrap_or_default()
            })
            .collect();
        left.iter().all(|j| *j == uids["orphan"]).then_some(())
    });
    let orphan = s.get_json(&["job", &uids["orphan"]]);
    assert!(
        orphan["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{orphan}"
    );
    assert_eq!(orphan["status"]["active"], 1);
}

/// upstream e2e "should be able to schedule after more than 100 missed
/// schedule": a real server resets a client-set lastScheduleTime on create,
/// so it is set through the status subresource instead; the controller
/// warns `TooManyMissedTimes` and still runs the most recent slot.
#[test]
fn more_than_100_missed_schedules_warn_and_still_run() {
    let s = Server::start();
    let mut cj = cronjob("missed", "*/1 * * * *", &["sleep", "300"]);
    cj["spec"]["concurrencyPolicy"] = json!("Forbid");
    create(&s, &cj);
    backdate(&s, "missed", 98 * 24 * 3600);
    let job = wait_job(&s, "missed", "the catch-up Job");
    let name = job["metadata"]["name"].as_str().unwrap();
    let minutes: i64 = name.rsplit('-').next().unwrap().parse().unwrap();
    assert!((now_secs() / 60 - minutes).abs() <= 1, "{name}");
    assert!(has_event(
        &s,
        "missed",
        "TooManyMissedTimes",
        "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"
    ));
    s.wait_for("the Job active", Duration::from_secs(10), || {
        let cj = get(&s, &cj_path("missed"));
        (cj["status"]["active"][0]["name"] == name).then_some(())
    });
    assert_eq!(jobs_of(&s, "missed").len(), 1);
}

/// `timeZone` decides when the slot is: a daily schedule at the current
/// minute in Asia/Kolkata (UTC+05:30, no DST) runs now, named after the
/// UTC minute, with the scheduled timestamp in the zone's offset.
#[test]
fn time_zone_decides_the_slot_and_the_annotation() {
    let s = Server::start();
    let (_, slot) = this_minute("x");
    let local = slot + 5 * 3600 + 30 * 60;
    let schedule = format!("{} {} * * *", (local / 60) % 60, (local / 3600) % 24);
    let mut cj = cronjob("kolkata", &schedule, &["/bin/true"]);
    cj["spec"]["timeZone"] = json!("Asia/Kolkata");
    create(&s, &cj);
    // A day back: one missed daily slot, the one this minute.
    backdate(&s, "kolkata", 24 * 3600 - 30);
    let job = wait_job(&s, "kolkata", "the zoned Job");
    assert_eq!(job["metadata"]["name"], format!("kolkata-{}", slot / 60));
    let ann = job["metadata"]["annotations"][SCHEDULED].as_str().unwrap();
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{local}"), "+%Y-%m-%dT%H:%M:%S+05:30"])
        .output()
        .unwrap();
    assert_eq!(ann, String::from_utf8(out.stdout).unwrap().trim());
    let table = s.kubectl(&["get", "cj", "kolkata", "--no-headers"]).ok();
    assert_eq!(
        table.split_whitespace().nth(6),
        Some("Asia/Kolkata"),
        "{table}"
    );
}

/// joblite's own client: get, describe, create job --from, suspend/resume.
#[test]
fn joblite_cli_drives_cronjobs() {
    let s = Server::start();
    create(&s, &cronjob("report", "0 0 1 1 *", &["/bin/true"]));
    let table = s.joblite(&["get", "cronjobs"]).ok();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
    );
    assert!(
        table.lines().nth(1).unwrap().starts_with("report "),
        "{table}"
    );

    let out = s.joblite(&["suspend", "cronjob", "report"]).ok();
    assert_eq!(out.trim(), "cronjob.batch/report suspended");
    assert_eq!(get(&s, &cj_path("report"))["spec"]["suspend"], true);
    let out = s.joblite(&["suspend", "cronjob/report"]).ok();
    assert_eq!(out.trim(), "cronjob.batch/report suspended (no change)");

    let out = s
        .joblite(&["create", "job", "report-now", "--from=cronjob/report"])
        .ok();
    assert_eq!(out.trim(), "job.batch/report-now created");
    let job = s.get_json(&["job", "report-now"]);
    assert_eq!(
        job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    assert_eq!(job["metadata"]["ownerReferences"][0]["name"], "report");
    s.wait_for("the manual Job complete", Duration::from_secs(30), || {
        condition(&s.get_json(&["job", "report-now"]), "Complete").map(|_| ())
    });
    let out = s.joblite(&["create", "job", "--from=cronjob/report"]).ok();
    assert!(out.trim().starts_with("job.batch/report-manual-"), "{out}");
    let err = s
        .joblite(&["create", "job", "x", "--from=cronjob/nope"])
        .fails();
    assert!(err.contains(r#"cronjobs.batch "nope" not found"#), "{err}");

    // describe: the same text as kubectl's; events compared without
    // their ages.
    let split = |t: &str| -> (String, Vec<String>) {
        let (head, events) = t.split_once("Events:").unwrap();
        let rows = events
            .lines()
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.iter()
                    .filter(|x| !x.starts_with(|c: char| c.is_ascii_digit() || c == '('))
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        (head.to_string(), rows)
    };
    let j = s.joblite(&["describe", "cronjob", "report"]).ok();
    let k = s.kubectl(&["describe", "cronjob", "report"]).ok();
    assert_eq!(split(&j), split(&k));
    assert!(j.contains("Suspend:                       True\n"), "{j}");
    assert!(
        j.contains("Saw a job that the controller did not create or forgot: report-now"),
        "{j}"
    );

    let out = s.joblite(&["resume", "cj/report"]).ok();
    assert_eq!(out.trim(), "cronjob.batch/report resumed");
    assert_eq!(get(&s, &cj_path("report"))["spec"]["suspend"], false);
}

/// upstream e2e "should support CronJob API operations" through the
/// official Python client (create, get, list, watch, patch, update, the
/// status subresource, delete, deletecollection), and a 422 for
/// `bad-time-zone` ("should support timezone").
#[test]
fn python_client_cronjob_api_operations() {
    let s = Server::start();
    crate::python_client::run_script(&s, "python_cronjobs.py");
}

/// The terminal condition of a Job, if any.
fn finished(job: &Value) -> Option<&'static str> {
    ["Complete", "Failed"]
        .into_iter()
        .find(|t| condition(job, t).is_some_and(|c| c["status"] == "True"))
}

/// The upstream e2e tests that need real minute slots
/// (`test/e2e/apps/cronjob.go`, all on `*/1 * * * *`), side by side on one
/// engine so the suite pays for two slots once. The five-minute `[Slow]`
/// observations are shortened to the two slots.
#[test]
fn upstream_e2e_behaviours_in_real_time() {
    let s = Server::start();
    let sleeper = ["sleep", "300"];
    let mut cases: Vec<Value> = Vec::new();
    let mut add = |name: &str, command: &[&str], f: &dyn Fn(&mut Value)| {
        let mut cj = cronjob(name, "*/1 * * * *", command);
        f(&mut cj);
        create(&s, &cj);
        cases.push(cj);
    };
    // "should schedule multiple jobs concurrently"
    add("allow", &sleeper, &|_| {});
    // "should not schedule new jobs when ForbidConcurrent"
    add("forbid", &sleeper, &|cj| {
        cj["spec"]["concurrencyPolicy"] = json!("Forbid")
    });
    // "should replace jobs when ReplaceConcurrent"
    add("replace", &sleeper, &|cj| {
        cj["spec"]["concurrencyPolicy"] = json!("Replace")
    });
    // "should not schedule jobs when suspended"
    add("suspended", &sleeper, &|cj| {
        cj["spec"]["suspend"] = json!(true)
    });
    // "should not emit unexpected warnings"
    add("quiet", &["/bin/true"], &|_| {});
    // "should remove from active list jobs that have been deleted"
    add("missing", &sleeper, &|_| {});
    // "should delete successful finished jobs with limit of one successful job"
    add("oneok", &["/bin/true"], &|cj| {
        cj["spec"]["successfulJobsHistoryLimit"] = json!(1);
        cj["spec"]["failedJobsHistoryLimit"] = json!(0);
    });
    // "should delete failed finished jobs with limit of one job"
    add("onefail", &["/bin/false"], &|cj| {
        cj["spec"]["successfulJobsHistoryLimit"] = json!(0);
        cj["spec"]["failedJobsHistoryLimit"] = json!(1);
        let spec = &mut cj["spec"]["jobTemplate"]["spec"];
        spec["backoffLimit"] = json!(1);
        spec["template"]["spec"]["restartPolicy"] = json!("OnFailure");
    });
    // A zone 14 hours east: the same minutes, another offset.
    add("east", &["/bin/true"], &|cj| {
        cj["spec"]["timeZone"] = json!("Etc/GMT-14")
    });

    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut max_active: BTreeMap<String, usize> = BTreeMap::new();
    let mut deleted_missing: Option<String> = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(210);
    let mut pending: Vec<&str>;
    loop {
        let jobs = get(&s, "/apis/batch/v1/namespaces/default/jobs");
        let cjs = get(&s, "/apis/batch/v1/namespaces/default/cronjobs");
        let mut now_jobs: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for j in jobs["items"].as_array().unwrap() {
            let owner = j["metadata"]["ownerReferences"][0]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let name = j["metadata"]["name"].as_str().unwrap().to_string();
            seen.entry(owner.clone()).or_default().insert(name);
            now_jobs.entry(owner).or_default().push(j.clone());
        }
        let active = |cj: &str| -> Vec<String> {
            cjs["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["metadata"]["name"] == cj)
                .and_then(|c| c["status"]["active"].as_array())
                .map(|a| {
                    a.iter()
                        .map(|r| r["name"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        for c in &cases {
            let n = c["metadata"]["name"].as_str().unwrap();
            let m = max_active.entry(n.to_string()).or_default();
            *m = (*m).max(active(n).len());
        }
        let seen_of = |cj: &str| seen.get(cj).cloned().unwrap_or_default();
        let jobs_now = |cj: &str| now_jobs.get(cj).cloned().unwrap_or_default();
        let first = |cj: &str| seen_of(cj).into_iter().next().unwrap_or_default();

        // Invariants, every round.
        assert!(seen_of("suspended").is_empty(), "a suspended CronJob ran");
        assert!(
            seen_of("forbid").len() <= 1,
            "Forbid ran two: {:?}",
            seen_of("forbid")
        );
        assert!(max_active["forbid"] <= 1);

        // The e2e "deleted from the active list" case deletes its first Job.
        if deleted_missing.is_none() && active("missing").len() == 1 {
            let name = active("missing")[0].clone();
            s.kubectl(&["delete", "job", &name, "--wait=false"]).ok();
            deleted_missing = Some(name);
        }

        let mut goals: Vec<(&str, bool)> = vec![
            ("allow", seen_of("allow").len() >= 2 && max_active["allow"] >= 2),
            (
                "forbid",
                has_event(
                    &s,
                    "forbid",
                    "JobAlreadyActive",
                    "Not starting job because prior execution is running and concurrency policy is Forbid",
                ),
            ),
            (
                "replace",
                seen_of("replace").len() >= 2
                    && has_event(&s, "replace", "SuccessfulDelete", &format!("Deleted job {}", first("replace")))
                    && !jobs_now("replace").iter().any(|j| j["metadata"]["name"] == first("replace").as_str())
                    && active("replace").len() == 1,
            ),
            (
                "quiet",
                seen_of("quiet").len() >= 2
                    && jobs_now("quiet").iter().filter(|j| finished(j).is_some()).count() >= 1,
            ),
            (
                "missing",
                deleted_missing.as_ref().is_some_and(|d| {
                    has_event(&s, "missing", "MissingJob", &format!("Active job went missing: {d}"))
                        && !active("missing").contains(d)
                }),
            ),
            (
                "oneok",
                seen_of("oneok").len() >= 2
                    && jobs_now("oneok").len() == 1
                    && has_event(&s, "oneok", "SuccessfulDelete", &format!("Deleted job {}", first("oneok"))),
            ),
            (
                "onefail",
                seen_of("onefail").len() >= 2
                    && jobs_now("onefail").len() == 1
                    && jobs_now("onefail").iter().all(|j| finished(j) == Some("Failed"))
                    && has_event(&s, "onefail", "SuccessfulDelete", &format!("Deleted job {}", first("onefail"))),
            ),
            ("east", !seen_of("east").is_empty()),
        ];
        goals.retain(|(_, done)| !done);
        pending = goals.iter().map(|(n, _)| *n).collect();
        if pending.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not reached: {pending:?}\nseen: {seen:?}\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_secs(1));
    }

    // "should not emit unexpected warnings": nothing the controller did
    // not expect, and the completions were seen.
    let quiet = events_of(&s, "quiet");
    assert!(
        !quiet
            .iter()
            .any(|(r, _)| r == "MissingJob" || r == "UnexpectedJob"),
        "{quiet:?}"
    );
    assert!(
        quiet
            .iter()
            .any(|(r, m)| r == "SawCompletedJob" && m.ends_with("condition: Complete")),
        "{quiet:?}"
    );
    assert!(events_of(&s, "onefail")
        .iter()
        .any(|(r, m)| r == "SawCompletedJob" && m.ends_with("condition: Failed")));
    // "should set the cronjob-scheduled-timestamp annotation on a job": the
    // slot the name encodes, RFC 3339 in the CronJob's zone.
    for (cj, offset, suffix) in [("allow", 0, "Z"), ("east", 14 * 3600, "+14:00")] {
        for name in seen[cj].iter() {
            let job = get(
                &s,
                &format!("/apis/batch/v1/namespaces/default/jobs/{name}"),
            );
            let minutes: i64 = name.rsplit('-').next().unwrap().parse().unwrap();
            let out = Command::new("date")
                .args([
                    "-u",
                    "-d",
                    &format!("@{}", minutes * 60 + offset),
                    "+%Y-%m-%dT%H:%M:%S",
                ])
                .output()
                .unwrap();
            let want = format!("{}{suffix}", String::from_utf8(out.stdout).unwrap().trim());
            assert_eq!(job["metadata"]["annotations"][SCHEDULED], want.as_str());
        }
    }
    // SuccessfulCreate for every Job the controller made.
    for name in &seen["allow"] {
        assert!(has_event(
            &s,
            "allow",
            "SuccessfulCreate",
            &format!("Created job {name}")
        ));
    }
}

/// Durability: the engine is killed before a slot and comes back after it.
/// Without `startingDeadlineSeconds` the missed slot runs once on restart,
/// and a second kill and restart adds nothing (the Job name is the slot's,
/// and `lastScheduleTime` was committed with it). With a 10 s deadline
/// and 15 s of downtime the slot is past its window: upstream's
/// `nextScheduleTime` never offers it, so no Job.
#[test]
fn kill_9_across_a_scheduled_minute_catches_up_exactly_once() {
    let mut s = Server::start();
    // Create well clear of a minute boundary so no slot passes before the kill.
    let into = now_secs() % 60;
    if into > 40 {
        std::thread::sleep(Duration::from_secs((62 - into) as u64));
    }
    create(&s, &cronjob("catchup", "*/1 * * * *", &["/bin/true"]));
    let mut late = cronjob("late", "*/1 * * * *", &["/bin/true"]);
    late["spec"]["startingDeadlineSeconds"] = json!(10);
    create(&s, &late);
    std::thread::sleep(Duration::from_millis(500));
    s.kill9();
    let slot = (now_secs() / 60 + 1) * 60;
    while now_secs() < slot + 15 {
        std::thread::sleep(Duration::from_millis(200));
    }
    s.restart();
    let want = format!("catchup-{}", slot / 60);
    let job = s.wait_for("the catch-up Job", Duration::from_secs(20), || {
        jobs_of(&s, "catchup").remove(&want)
    });
    let uid = job["metadata"]["uid"].clone();
    s.wait_for("lastScheduleTime", Duration::from_secs(10), || {
        (get(&s, &cj_path("catchup"))["status"]["lastScheduleTime"] == rfc3339(slot).as_str())
            .then_some(())
    });
    s.restart();
    std::thread::sleep(Duration::from_secs(3));
    // Still before the next slot, so any other Job would be a duplicate.
    assert!(now_secs() < slot + 58, "the test overran its minute");
    let jobs = jobs_of(&s, "catchup");
    assert_eq!(jobs.keys().collect::<Vec<_>>(), [&want]);
    assert_eq!(jobs[&want]["metadata"]["uid"], uid);
    let creates = events_of(&s, "catchup")
        .into_iter()
        .filter(|(r, _)| r == "SuccessfulCreate")
        .count();
    assert_eq!(creates, 1);
    assert!(
        jobs_of(&s, "late").is_empty(),
        "a slot past its deadline ran"
    );
    assert!(get(&s, &cj_path("late"))["status"]["lastScheduleTime"].is_null());
}
