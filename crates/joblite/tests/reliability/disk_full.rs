//! A full disk (issue 15, part 2): the data directory sits on a small
//! tmpfs the test mounts (as root), and the test fills it.
//!
//! - Writes are refused with a clear `Status`: 500 with no reason and the
//!   message `database space exceeded: …`, modelled on etcd's `etcdserver:
//!   mvcc: database space exceeded`, which the upstream API server returns
//!   the same way (`convertStorageErrorOrNot` in
//!   `apiserver/pkg/endpoints/handlers/responsewriters/status.go`).
//! - Reads and watches keep working, nothing committed is lost, and a pod
//!   that finishes while nothing can be committed is not counted until its
//!   status is.
//! - Once space is freed the same engine goes on: no restart.
//! - A chatty pod's log is rotated as the kubelet rotates it
//!   (`containerLogMaxSize`, `containerLogMaxFiles`, here small through the
//!   `serve` flags of the same names), so it cannot fill the disk, and
//!   `kubectl logs -f` follows it across rotations.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{condition, Server};

/// A tmpfs of a given size mounted on a fresh directory; unmounted (lazily,
/// so a process still inside cannot keep it) when dropped, even after a
/// failed assertion.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> SmallFs {
        let dir = tempfile::tempdir().unwrap();
        let st = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .expect("mount");
        assert!(st.success(), "mounting a tmpfs needs root");
        SmallFs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the filesystem to the last block with `filler`.
    fn fill(&self) {
        let mut f = std::fs::File::create(self.filler()).unwrap();
        for chunk in [1 << 20, 64 << 10, 4 << 10, 512] {
            let buf = vec![0x5a; chunk];
            while f.write_all(&buf).is_ok() {}
        }
        let _ = f.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A `?watch=true` stream read by curl into a file outside the small
/// filesystem.
struct Watch {
    child: Child,
    out: tempfile::NamedTempFile,
}

impl Watch {
    fn start(s: &Server, path: &str) -> Watch {
        let out = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new("curl")
            .args(["-sSN", "--cacert"])
            .arg(s.data_dir.path().join("pki/ca.crt"))
            .arg("-H")
            .arg(format!("Authorization: Bearer {}", s.token()))
            .arg(format!("{}{path}", s.base_url()))
            .stdout(out.reopen().unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Watch { child, out }
    }

    /// `(type, name)` of the events so far.
    fn events(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(self.out.path())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|e| {
                (
                    e["type"].as_str().unwrap_or("").to_string(),
                    e["object"]["metadata"]["name"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn configmap(name: &str, bytes: usize) -> String {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
           "data": {"payload": "x".repeat(bytes)}})
    .to_string()
}

fn create_configmap(s: &Server, name: &str, bytes: usize) -> (u16, String) {
    s.curl(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &["Content-Type: application/json"],
        Some(&configmap(name, bytes)),
    )
}

fn configmap_names(s: &Server) -> Vec<String> {
    let (code, body) = s.curl("GET", "/api/v1/namespaces/default/configmaps", &[], None);
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .filter(|n| n.starts_with("cm-"))
        .collect()
}

fn job(s: &Server, name: &str) -> Value {
    let (code, body) = s.curl(
        "GET",
        &format!("/apis/batch/v1/namespaces/default/jobs/{name}"),
        &[],
        None,
    );
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_watches_and_recovers_without_a_restart() {
    let fs = SmallFs::mount("48m");
    let data = tempfile::TempDir::new_in(fs.path()).unwrap();
    let rec = tempfile::tempdir().unwrap();
    let mut s = Server::start_in(data, "process", &[], &[]);
    let pid = s.pid().unwrap();

    // Committed before the disk fills.
    for i in 0..5 {
        let (code, body) = create_configmap(&s, &format!("cm-before-{i}"), 1000);
        assert_eq!(code, 201, "{body}");
    }
    let (_, list) = s.curl("GET", "/api/v1/namespaces/default/configmaps", &[], None);
    let rv = serde_json::from_str::<Value>(&list).unwrap()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let mut watch = Watch::start(
        &s,
        &format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}"),
    );

    // Three pods that finish on a signal, while the disk is full.
    let go = rec.path().join("go");
    let done = rec.path().join("done");
    let script = format!(
        "while [ ! -e {go} ]; do sleep 0.05; done; echo \"$POD\" >> {done}",
        go = go.display(),
        done = done.display()
    );
    let manifest = json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "through"},
        "spec": {"completions": 3, "parallelism": 3, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script],
                "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]}}}
    });
    s.kubectl_stdin("1.33", &["apply", "-f", "-"], &manifest.to_string())
        .ok();
    s.wait_for("3 running pods", Duration::from_secs(60), || {
        let j = job(&s, "through");
        (j["status"]["active"] == 3 && j["status"]["ready"] == 3).then_some(())
    });

    fs.fill();
    // SQLite may still have room in its write-ahead log: write until the
    // store refuses, then check how it refuses.
    let mut committed: Vec<String> = (0..5).map(|i| format!("cm-before-{i}")).collect();
    let mut refusal = None;
    for i in 0..400 {
        let name = format!("cm-full-{i}");
        let (code, body) = create_configmap(&s, &name, 16 << 10);
        match code {
            201 => committed.push(name),
            _ => {
                refusal = Some((code, body));
                break;
            }
        }
    }
    let (code, body) = refusal.expect("the store never refused a write on a full disk");
    let taken_when_full = committed.len() - 5;
    assert_eq!(code, 500, "{body}");
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["code"], 500);
    assert!(
        status.get("reason").is_none(),
        "upstream leaves reason out: {status}"
    );
    let msg = status["message"].as_str().unwrap();
    assert!(
        msg.starts_with("database space exceeded: no space left on the device of ")
            && msg.ends_with("writes fail until space is freed (reads and watches keep working)"),
        "{msg}"
    );
    // kubectl shows it as upstream's "Error from server: <message>".
    let err = s
        .kubectl(&["create", "configmap", "cm-refused", "--from-literal=a=b"])
        .fails();
    assert!(
        err.starts_with("error: failed to create configmap: database space exceeded")
            || err.starts_with("Error from server: database space exceeded"),
        "{err}"
    );

    // Reads and watches still work, and show exactly what was committed.
    let mut names = configmap_names(&s);
    names.sort();
    let mut want = committed.clone();
    want.sort();
    assert_eq!(names, want);
    s.kubectl(&["get", "configmaps"]).ok();
    assert!(watch.alive(), "the watch ended on a full disk");
    s.wait_for(
        "the watch to show every committed create",
        Duration::from_secs(10),
        || {
            let ev = watch.events();
            let added: Vec<&String> = ev
                .iter()
                .filter(|(t, _)| t == "ADDED")
                .map(|(_, n)| n)
                .collect();
            (added.len() == committed.len() - 5).then_some(())
        },
    );

    // The pods finish while nothing can be committed: not counted.
    std::fs::write(&go, "").unwrap();
    s.wait_for("the pods' work", Duration::from_secs(30), || {
        let n = std::fs::read_to_string(&done).unwrap_or_default();
        (n.lines().count() == 3).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let j = job(&s, "through");
    assert_eq!(
        j["status"]["succeeded"].as_i64().unwrap_or(0),
        0,
        "{}",
        j["status"]
    );
    assert!(condition(&j, "Complete").is_none(), "{}", j["status"]);

    // Space comes back: the same engine goes on.
    fs.free();
    let (code, body) = create_configmap(&s, "cm-after", 1000);
    assert_eq!(code, 201, "{body}\n{}", s.log());
    committed.push("cm-after".into());
    s.wait_for(
        "the watch to show the write after the disk was freed",
        Duration::from_secs(10),
        || {
            watch
                .events()
                .contains(&("ADDED".to_string(), "cm-after".to_string()))
                .then_some(())
        },
    );
    let j = s.wait_for("the job to complete", Duration::from_secs(60), || {
        let j = job(&s, "through");
        condition(&j, "Complete").is_some().then_some(j)
    });
    assert_eq!(j["status"]["succeeded"], 3, "{}", j["status"]);
    assert_eq!(
        j["status"]["failed"].as_i64().unwrap_or(0),
        0,
        "{}",
        j["status"]
    );
    assert_eq!(s.pid(), Some(pid), "the engine was restarted");
    assert!(alive(pid), "the engine died");
    let ev = watch.events();
    assert!(
        !ev.iter().any(|(_, n)| n == "cm-refused"),
        "a refused write reached a watcher: {ev:?}"
    );

    // Nothing committed is lost, across a restart too, and the store is intact.
    s.restart();
    let mut names = configmap_names(&s);
    names.sort();
    committed.sort();
    assert_eq!(names, committed);
    assert_eq!(job(&s, "through")["status"]["succeeded"], 3);
    s.kill9();
    let db = rusqlite::Connection::open(s.data_dir.path().join("joblite.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    println!(
        "full disk: {taken_when_full} writes still fitted after the fill, then refused with 500 \
         'database space exceeded'; {} watch events, none of a refused write; 3 pods finished \
         while full, counted once after the space came back; {} objects committed, 0 lost",
        ev.len(),
        committed.len()
    );
}

/// The run files of a pod's container in the node's log directory.
fn log_files(s: &Server, pod_prefix: &str) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(s.data_dir.path().join("node/logs"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(pod_prefix))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_chatty_pod_is_rotated_as_the_kubelet_does_and_cannot_fill_the_disk() {
    let fs = SmallFs::mount("32m");
    let data = tempfile::TempDir::new_in(fs.path()).unwrap();
    let s = Server::start_in(
        data,
        "process",
        &[],
        &[
            "--container-log-max-size",
            "64Ki",
            "--container-log-max-files",
            "3",
        ],
    );

    // 48 MiB of output on a 32 MiB filesystem.
    s.kubectl(&[
        "run", "chatty", "--image=busybox", "--restart=Never", "--command", "--",
        "sh", "-c",
        "seq -f '%08.0f ................................................................................................' 1 480000",
    ])
    .ok();
    s.wait_for(
        "the chatty pod to succeed",
        Duration::from_secs(180),
        || {
            let p = s.get_json(&["pod", "chatty"]);
            match p["status"]["phase"].as_str() {
                Some("Succeeded") => Some(()),
                Some("Failed") => panic!("{}", p["status"]),
                _ => None,
            }
        },
    );
    let uid = s.get_json(&["pod", "chatty"])["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let prefix = format!("default_chatty_{uid}_chatty_0.log");
    let files = log_files(&s, &prefix);
    // The current file, the newest rotated one plain, the rest gzipped: at
    // most containerLogMaxFiles, none past containerLogMaxSize.
    assert!(files.len() <= 3 && files.len() >= 2, "{files:?}");
    assert!(files.iter().all(|(_, len)| *len <= 64 * 1024), "{files:?}");
    assert_eq!(files[0].0, prefix, "{files:?}");
    assert!(
        files.iter().any(|(n, _)| n.ends_with(".gz")) || files.len() == 2,
        "{files:?}"
    );
    // The engine still takes writes: the disk did not fill.
    let (code, body) = create_configmap(&s, "cm-still", 100);
    assert_eq!(code, 201, "{body}");
    // `kubectl logs` reads the current file, which ends with the last line.
    let logs = s.kubectl(&["logs", "chatty"]).ok();
    assert!(
        logs.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("00480000 "),
        "{}",
        &logs[logs.len().saturating_sub(300)..]
    );
    assert!(logs.len() <= 64 * 1024);

    // `logs -f` across rotations: every line, in order, once.
    let pad = "y".repeat(1000);
    s.kubectl(&[
        "run", "ticker", "--image=busybox", "--restart=Never",
        &format!("--env=PAD={pad}"), "--command", "--", "sh", "-c",
        "sleep 1; i=0; while [ $i -lt 400 ]; do printf '%05d %s\\n' $i \"$PAD\"; i=$((i+1)); sleep 0.005; done",
    ])
    .ok();
    s.wait_for("the ticker to run", Duration::from_secs(30), || {
        let p = s.get_json(&["pod", "ticker"]);
        (p["status"]["phase"] == "Running").then_some(())
    });
    let follow = s
        .kubectl_command("1.33")
        .args(["logs", "-f", "ticker"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        follow.status.success(),
        "{}",
        String::from_utf8_lossy(&follow.stderr)
    );
    let text = String::from_utf8(follow.stdout).unwrap();
    let numbers: Vec<u32> = text
        .lines()
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    let first = numbers[0];
    let want: Vec<u32> = (first..400).collect();
    assert_eq!(numbers, want, "lines lost or repeated across rotations");
    assert!(
        400 - first > 64 * 2,
        "the follow saw {} lines: not across two rotations",
        400 - first
    );
    let uid = s.get_json(&["pod", "ticker"])["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let ticker = format!("default_ticker_{uid}_ticker_0.log");
    assert!(
        log_files(&s, &ticker).len() > 1,
        "the ticker's log never rotated"
    );
    println!(
        "log rotation: ~48 MiB of output on a 32 MiB filesystem left {files:?}; \
         logs -f followed {} lines across rotations, none lost or repeated",
        numbers.len()
    );

    // Deleting the pods removes their rotated files too.
    s.kubectl(&[
        "delete",
        "pod",
        "chatty",
        "ticker",
        "--grace-period=0",
        "--force",
    ])
    .ok();
    s.wait_for("the pods' log files to go", Duration::from_secs(30), || {
        (log_files(&s, &prefix).is_empty() && log_files(&s, &ticker).is_empty()).then_some(())
    });
}
