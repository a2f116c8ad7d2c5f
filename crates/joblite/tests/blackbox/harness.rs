//! The fixture every black-box test uses: a real `joblite serve` on a free
//! loopback port with its own data directory, and a per-test `HOME` so
//! kubectl's discovery cache never leaks between tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where the versioned kubectl binaries live (Google Cloud SDK layout).
const KUBECTL_DIRS: &[&str] = &["/usr/lib/google-cloud-sdk/bin", "/usr/bin"];

/// Path of `kubectl.<minor>` (e.g. "1.33"), or the default `kubectl`.
pub fn kubectl_path(version: &str) -> PathBuf {
    for d in KUBECTL_DIRS {
        let p = Path::new(d).join(format!("kubectl.{version}"));
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("kubectl")
}

pub struct Server {
    pub data_dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Server {
    /// Starts `joblite serve --port 0` on a fresh data directory.
    pub fn start() -> Server {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let home = tempfile::tempdir().expect("tempdir");
        let mut s = Server {
            kubeconfig: data_dir.path().join("kubeconfig"),
            data_dir,
            home,
            port: 0,
            child: None,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let _ = std::fs::remove_file(self.data_dir.path().join("engine.json"));
        let log = std::fs::File::create(self.data_dir.path().join("test-engine.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_joblite"))
            .args(["serve", "--port", "0", "--data-dir"])
            .arg(self.data_dir.path())
            .env("HOME", self.home.path())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn joblite serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(text) = std::fs::read_to_string(self.data_dir.path().join("engine.json")) {
                if let Ok(v) = serde_json::from_str::<Value>(&text) {
                    self.port = v["port"].as_u64().unwrap() as u16;
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("joblite serve exited early: {status}\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "server did not start\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("test-engine.log")).unwrap_or_default()
    }

    /// `kill -9` the server, leaving its data directory.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same data directory.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Runs `kubectl.<version>` with this server's kubeconfig and HOME.
    pub fn kubectl_v(&self, version: &str, args: &[&str]) -> Run {
        let out = Command::new(kubectl_path(version))
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home.path())
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl");
        Run(out)
    }

    /// A `kubectl.<version>` command with this server's kubeconfig and
    /// HOME, for callers that set more (environment, stdin, a terminal).
    pub fn kubectl_command(&self, version: &str) -> Command {
        let mut c = Command::new(kubectl_path(version));
        c.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home.path());
        c
    }

    /// kubectl 1.33 (the server reports 1.33).
    pub fn kubectl(&self, args: &[&str]) -> Run {
        self.kubectl_v("1.33", args)
    }

    /// kubectl with a manifest on stdin (`-f -`).
    pub fn kubectl_stdin(&self, version: &str, args: &[&str], stdin: &str) -> Run {
        use std::io::Write;
        let mut child = Command::new(kubectl_path(version))
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        Run(child.wait_with_output().unwrap())
    }

    /// `kubectl get <what> -o json`, parsed.
    pub fn get_json(&self, what: &[&str]) -> Value {
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        args.extend_from_slice(&["-o", "json"]);
        let r = self.kubectl(&args);
        r.ok();
        serde_json::from_str(&r.stdout()).expect("json")
    }

    /// Polls `f` until it returns Some, or panics after `timeout`.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The bearer token and base URL, for raw HTTP checks.
    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("pki/token")).unwrap()
    }

    /// `curl` a path with the token (CA-verified) and return (status, body).
    pub fn curl(
        &self,
        method: &str,
        path: &str,
        headers: &[&str],
        body: Option<&str>,
    ) -> (u16, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-o", "-", "-w", "\n%{http_code}", "--cacert"])
            .arg(self.data_dir.path().join("pki/ca.crt"))
            .args(["-X", method])
            .arg("-H")
            .arg(format!("Authorization: Bearer {}", self.token()));
        for h in headers {
            cmd.args(["-H", h]);
        }
        if let Some(b) = body {
            cmd.args(["--data-binary", b]);
        }
        cmd.arg(format!("{}{}", self.base_url(), path));
        let out = cmd.output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Force-delete every pod first so no test leaves processes behind,
        // then stop the server and its pod supervisor.
        if self.child.is_some() {
            let _ = self.curl(
                "DELETE",
                "/api/v1/pods",
                &["Content-Type: application/json"],
                Some(r#"{"gracePeriodSeconds":0}"#),
            );
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                let (_, body) = self.curl("GET", "/api/v1/pods", &[], None);
                let empty = serde_json::from_str::<Value>(&body)
                    .map(|v| v["items"].as_array().is_none_or(|a| a.is_empty()))
                    .unwrap_or(true);
                if empty {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // The pod supervisor outlives the server by design; end it (and
        // with it the pods) so tests leave no processes behind.
        let _ = Command::new("pkill")
            .arg("-f")
            .arg(format!(
                "supervise {}",
                self.data_dir.path().join("node").display()
            ))
            .status();
    }
}

/// The outcome of a command.
pub struct Run(pub Output);

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert!(
            self.0.status.success(),
            "command failed ({}):\nstdout: {}\nstderr: {}",
            self.code(),
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
    /// Asserts failure with exit code 1 and returns stderr.
    #[track_caller]
    pub fn fails(&self) -> String {
        assert_eq!(
            self.code(),
            1,
            "expected exit 1:\nstdout: {}\nstderr: {}",
            self.stdout(),
            self.stderr()
        );
        self.stderr()
    }
}

/// The condition of type `t` in an object's `status.conditions`.
pub fn condition<'a>(job: &'a Value, t: &str) -> Option<&'a Value> {
    job["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == t)
}
