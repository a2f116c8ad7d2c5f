//! The fixture every black-box test uses: a real `joblite serve` on a free
//! loopback port with its own data directory, and a per-test `HOME` so
//! kubectl's discovery cache never leaks between tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where the versioned kubectl binaries live (Google Cloud SDK layout).
const KUBECTL_DIRS: &[&str] = &["/usr/lib/google-cloud-sdk/bin", "/usr/bin"];

/// Path of `kubectl.<minor>` (e.g. "1.33"), or the default `kubectl`.
pub(crate) fn kubectl_path(version: &str) -> PathBuf {
    for d in KUBECTL_DIRS {
        let p = Path::new(d).join(format!("kubectl.{version}"));
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("kubectl")
}

pub(crate) struct Server {
    pub data_dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub port: u16,
    child: Option<Child>,
    /// `--runtime` of the served engine.
    runtime: String,
    /// The container engine its container runtime uses (its rig).
    engine: Engine,
    /// Extra environment of the engine.
    env: Vec<(String, String)>,
    /// Extra flags of `joblite serve`.
    args: Vec<String>,
    /// Runs the engine as this uid and gid (`setpriv`), not root, from a
    /// copy of the binary that user can reach (the target directory may
    /// be under a private home).
    as_user: Option<(u32, tempfile::TempDir)>,
}

impl Server {
    /// Starts `joblite serve --port 0 --runtime process` on a fresh data
    /// directory.
    pub(crate) fn start() -> Server {
        Server::start_with("process", &[])
    }

    /// Starts an engine whose pods run in the shared rig of `engine`.
    pub(crate) fn start_container_on(engine: Engine) -> Server {
        let rig = rig_of(engine);
        Server::start_on(engine, "container", &[("DOCKER_HOST", &rig.docker_host())])
    }

    /// Starts an engine with `--runtime <runtime>` and extra environment.
    pub(crate) fn start_with(runtime: &str, env: &[(&str, &str)]) -> Server {
        Server::start_on(Engine::Podman, runtime, env)
    }

    /// As [`Server::start_with`], with the rig of `engine` for its
    /// containers (listing and cleaning up).
    pub(crate) fn start_on(engine: Engine, runtime: &str, env: &[(&str, &str)]) -> Server {
        let data_dir = tempfile::tempdir().expect("tempdir");
        Server::start_full(engine, data_dir, runtime, env, &[])
    }

    /// Starts an engine on a given data directory (for example one on a
    /// filesystem the test made), with extra `serve` flags.
    #[allow(dead_code)] // the reliability tests' (they share this file)
    pub(crate) fn start_in(
        data_dir: tempfile::TempDir,
        runtime: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Server {
        Server::start_full(Engine::Podman, data_dir, runtime, env, args)
    }

    fn start_full(
        engine: Engine,
        data_dir: tempfile::TempDir,
        runtime: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Server {
        let mut s = Server::unstarted(engine, data_dir, runtime, env, args);
        s.spawn();
        s
    }

    /// The fixture for an engine, before it runs.
    fn unstarted(
        engine: Engine,
        data_dir: tempfile::TempDir,
        runtime: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Server {
        let home = tempfile::tempdir().expect("tempdir");
        Server {
            kubeconfig: data_dir.path().join("kubeconfig"),
            data_dir,
            home,
            port: 0,
            child: None,
            runtime: runtime.to_string(),
            engine,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            args: args.iter().map(|a| a.to_string()).collect(),
            as_user: None,
        }
    }

    /// Starts a process-runtime engine as nobody (uid and gid 65534), on a
    /// data directory and HOME that user owns (the non-root engine).
    #[allow(dead_code)] // the reliability tests' (they share this file)
    pub(crate) fn start_as_nobody() -> Server {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut s = Server::unstarted(Engine::Podman, data_dir, "process", &[], &[]);
        for d in [s.data_dir.path(), s.home.path()] {
            std::os::unix::fs::chown(d, Some(65534), Some(65534)).unwrap();
        }
        let bin = tempfile::tempdir().expect("tempdir");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_joblite"), bin.path().join("joblite")).unwrap();
        s.as_user = Some((65534, bin));
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let _ = std::fs::remove_file(self.data_dir.path().join("engine.json"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.path().join("test-engine.log"))
            .unwrap();
        let mut cmd = match &self.as_user {
            Some((id, bin)) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={id}"))
                    .arg(format!("--regid={id}"))
                    .arg("--clear-groups")
                    .arg(bin.path().join("joblite"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_joblite")),
        };
        let child = cmd
            .args([
                "serve",
                "--port",
                "0",
                "--runtime",
                &self.runtime,
                "--data-dir",
            ])
            .arg(self.data_dir.path())
            .args(&self.args)
            .env("HOME", self.home.path())
            .env("RUST_LOG", "info")
            .env_remove("DOCKER_HOST")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn joblite serve");
        self.child = Some(child);
        // A restart on a large store (the reliability tests' tens of
        // thousands of pods) on a loaded machine takes tens of seconds.
        let deadline = Instant::now() + Duration::from_secs(90);
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
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("test-engine.log")).unwrap_or_default()
    }

    /// `kill -9` the server, leaving its data directory.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The engine's process id, while it runs (the reliability tests').
    #[allow(dead_code)]
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the server again on the same data directory.
    pub(crate) fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Runs `kubectl.<version>` with this server's kubeconfig and HOME.
    pub(crate) fn kubectl_v(&self, version: &str, args: &[&str]) -> Run {
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
    pub(crate) fn kubectl_command(&self, version: &str) -> Command {
        let mut c = Command::new(kubectl_path(version));
        c.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home.path());
        c
    }

    /// kubectl 1.33 (the server reports 1.33).
    pub(crate) fn kubectl(&self, args: &[&str]) -> Run {
        self.kubectl_v("1.33", args)
    }

    /// kubectl with a manifest on stdin (`-f -`).
    pub(crate) fn kubectl_stdin(&self, version: &str, args: &[&str], stdin: &str) -> Run {
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
    pub(crate) fn get_json(&self, what: &[&str]) -> Value {
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        args.extend_from_slice(&["-o", "json"]);
        let r = self.kubectl(&args);
        r.ok();
        serde_json::from_str(&r.stdout()).expect("json")
    }

    /// Polls `f` until it returns Some, or panics after `timeout`.
    pub(crate) fn wait_for<T>(
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
    pub(crate) fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub(crate) fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("pki/token")).unwrap()
    }

    /// `curl` a path with the token (CA-verified) and return (status, body).
    pub(crate) fn curl(
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

    /// Runs the `joblite` client against this server (`--kubeconfig`).
    pub(crate) fn joblite(&self, args: &[&str]) -> Run {
        // `--kubeconfig` right after the subcommand: after `--` it would
        // be part of a command line.
        let (sub, rest) = args.split_first().expect("a subcommand");
        let out = Command::new(env!("CARGO_BIN_EXE_joblite"))
            .arg(sub)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(rest)
            .env("HOME", self.home.path())
            .env("JOBLITE_DATA_DIR", self.data_dir.path().join("client"))
            .stdin(Stdio::null())
            .output()
            .expect("run joblite");
        Run(out)
    }

    /// `joblite status` of this server's data directory.
    pub(crate) fn status(&self) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_joblite"))
            .args(["status", "--data-dir"])
            .arg(self.data_dir.path())
            .env("HOME", self.home.path())
            .output()
            .expect("joblite status");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// This engine's node instance id (the label on its containers).
    pub(crate) fn instance(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("node/instance-id"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// The engine containers of this server (sandboxes included), as
    /// `podman ps -a` (or `docker ps -a`) lists them.
    pub(crate) fn containers(&self) -> Vec<String> {
        let instance = self.instance();
        if instance.is_empty() {
            return Vec::new();
        }
        let r = rig_of(self.engine).cli(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=io.joblite.instance={instance}"),
            "--format",
            "{{.Names}}",
        ]);
        r.stdout().lines().map(str::to_string).collect()
    }

    /// Waits until none of this server's containers is left.
    #[track_caller]
    pub(crate) fn assert_no_containers(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = self.containers();
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "containers left behind: {left:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The container engines the container tests run on, each with a rig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    /// Podman's Docker-compatible API (`podman system service`).
    Podman,
    /// Docker Engine (Debian's `docker.io`, dockerd).
    Docker,
}

impl Engine {
    /// The engine's name: `ENGINE` of the rig script, and the scheme of
    /// container IDs and of `containerRuntimeVersion`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Engine::Podman => "podman",
            Engine::Docker => "docker",
        }
    }

    /// The first octets of pod IPs on the rig's network.
    pub(crate) fn subnet_prefix(self) -> &'static str {
        match self {
            Engine::Podman => "10.213.",
            Engine::Docker => "10.214.",
        }
    }
}

/// Defines, for each named `fn NAME(engine: Engine)`, a module `NAME` with
/// the tests `NAME::podman` and `NAME::docker`: the test on each engine.
macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn podman() {
                super::$name($crate::harness::Engine::Podman)
            }
            #[test]
            fn docker() {
                super::$name($crate::harness::Engine::Docker)
            }
        }
    )+};
}
pub(crate) use on_both_engines;

/// A shared container rig of this test binary (`scripts/container-rig.sh`),
/// one per engine: the engine (a Podman service, or dockerd) on a private
/// socket with private configuration, storage and network, one loopback
/// registry, and the busybox and kuard images; and a second registry that
/// requires a login, with busybox. Docker's rig also serves the registry
/// as `gcr.io` and `registry-1.docker.io` (TLS, in dockerd's own view of
/// `/etc/hosts`). Started on first use; its services die with the test
/// process (parent-death signal), and what a dead run left is removed by
/// the next.
pub(crate) struct Rig {
    pub engine: Engine,
    pub dir: PathBuf,
    /// `127.0.0.1:<port>` of the registry.
    pub registry: String,
    /// `127.0.0.1:<port>` of the registry that requires the login
    /// [`RIG_AUTH_LOGIN`] (`<it>/private/busybox:latest`).
    pub auth_registry: String,
}

/// The user and password of the rig's registry with a login
/// (`scripts/container-rig.sh`).
pub(crate) const RIG_AUTH_LOGIN: (&str, &str) = ("joblite", "rig-pull-secret");

static PODMAN_RIG: OnceLock<Rig> = OnceLock::new();
static DOCKER_RIG: OnceLock<Rig> = OnceLock::new();

/// The rig of `engine`, started on first use.
pub(crate) fn rig_of(engine: Engine) -> &'static Rig {
    match engine {
        Engine::Podman => PODMAN_RIG.get_or_init(|| Rig::start(engine)),
        Engine::Docker => DOCKER_RIG.get_or_init(|| Rig::start(engine)),
    }
}

fn rig_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/container-rig.sh")
}

/// The kuard binary beside the joblite binary, built if missing.
fn kuard_binary() -> PathBuf {
    let joblite = PathBuf::from(env!("CARGO_BIN_EXE_joblite"));
    let kuard = joblite.with_file_name("kuard");
    if !kuard.exists() {
        let target = joblite.parent().and_then(Path::parent).unwrap();
        let profile = joblite.parent().unwrap().file_name().unwrap();
        let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        c.args(["build", "-p", "kuard", "--target-dir"]).arg(target);
        if profile == "release" {
            c.arg("--release");
        }
        let st = c.status().expect("cargo build -p kuard");
        assert!(st.success(), "building kuard failed");
    }
    kuard
}

impl Rig {
    fn start(engine: Engine) -> Rig {
        Rig::remove_stale();
        let suffix = match engine {
            Engine::Podman => String::new(),
            Engine::Docker => "docker-".to_string(),
        };
        let dir = std::env::temp_dir().join(format!("joblite-rig-{suffix}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("owner"), std::process::id().to_string()).unwrap();
        let free_port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let (port, auth_port) = (free_port(), free_port());
        let script = rig_script();
        let st = Command::new("bash")
            .arg(&script)
            .args(["config"])
            .env("ENGINE", engine.name())
            .arg(&dir)
            .arg(port.to_string())
            .arg(auth_port.to_string())
            .status()
            .expect("container-rig config");
        assert!(st.success());
        // The services are children of a thread that lives as long as the
        // process, so their parent-death signal fires only when it exits.
        let (tx, rx) = std::sync::mpsc::channel();
        let spawn_dir = dir.clone();
        std::thread::spawn(move || {
            let mut kids = Vec::new();
            let steps: &[&str] = match engine {
                Engine::Podman => &["serve-registry", "serve-auth-registry", "serve-podman"],
                Engine::Docker => &[
                    "serve-registry",
                    "serve-auth-registry",
                    "serve-tls-registry",
                    "serve-dockerd",
                ],
            };
            for step in steps {
                let log = std::fs::File::create(spawn_dir.join(format!("{step}.log"))).unwrap();
                let mut c = Command::new("bash");
                c.arg(rig_script())
                    .arg(step)
                    .arg(&spawn_dir)
                    .stdin(Stdio::null())
                    .stdout(log.try_clone().unwrap())
                    .stderr(log);
                use std::os::unix::process::CommandExt;
                // SAFETY: prctl is async-signal-safe.
                #[allow(unsafe_code)]
                unsafe {
                    c.pre_exec(|| {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        Ok(())
                    });
                }
                kids.push(c.spawn().expect("start a rig service"));
            }
            tx.send(()).unwrap();
            loop {
                std::thread::park();
            }
        });
        rx.recv().unwrap();
        let sock = dir.join(format!("{}.sock", engine.name()));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = Command::new("curl")
                .args(["-sf", "--unix-socket"])
                .arg(&sock)
                .arg("http://d/_ping")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the rig's {} did not answer",
                engine.name()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        for p in [port, auth_port] {
            while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "the rig's registry on port {p} did not answer"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let out = Command::new("bash")
            .arg(&script)
            .arg("images")
            .arg(&dir)
            .arg(kuard_binary())
            .output()
            .expect("container-rig images");
        assert!(
            out.status.success(),
            "container-rig images failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Rig {
            engine,
            dir,
            registry: format!("127.0.0.1:{port}"),
            auth_registry: format!("127.0.0.1:{auth_port}"),
        }
    }

    /// Removes rigs whose test process is gone.
    fn remove_stale() {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("joblite-rig-") {
                continue;
            }
            let owner: Option<i32> = std::fs::read_to_string(e.path().join("owner"))
                .ok()
                .and_then(|s| s.trim().parse().ok());
            let alive = owner.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
            if !alive {
                let _ = Command::new("bash")
                    .arg(rig_script())
                    .arg("stop")
                    .arg(e.path())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }

    /// The engine's socket.
    pub(crate) fn socket(&self) -> PathBuf {
        self.dir.join(format!("{}.sock", self.engine.name()))
    }

    pub(crate) fn docker_host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Runs the engine's own client on the rig: `podman`, or Debian's
    /// `docker` (`/usr/bin/docker`; a newer client may come first in PATH).
    /// The two take the same arguments for what the tests ask.
    pub(crate) fn cli(&self, args: &[&str]) -> Run {
        match self.engine {
            Engine::Podman => self.podman(args),
            Engine::Docker => {
                let out = Command::new("/usr/bin/docker")
                    .args(args)
                    .env("DOCKER_HOST", self.docker_host())
                    .env("DOCKER_CONFIG", self.dir.join("docker-config"))
                    .stdin(Stdio::null())
                    .output()
                    .expect("run docker");
                Run(out)
            }
        }
    }

    /// Removes containers by id, at once.
    pub(crate) fn remove_containers(&self, ids: &[String]) {
        let mut args = match self.engine {
            Engine::Podman => vec!["rm", "-f", "-t", "0"],
            Engine::Docker => vec!["rm", "-f"],
        };
        args.extend(ids.iter().map(String::as_str));
        let _ = self.cli(&args);
    }

    /// Pushes a local image to the rig's (plain HTTP) registry, as `TARGET`
    /// (`127.0.0.1:PORT/…`).
    #[track_caller]
    pub(crate) fn push(&self, local: &str, target: &str) {
        match self.engine {
            Engine::Podman => {
                self.podman(&[
                    "push",
                    "-q",
                    "--tls-verify=false",
                    local,
                    &format!("docker://{target}"),
                ])
                .ok();
            }
            Engine::Docker => {
                self.cli(&["tag", local, target]).ok();
                self.cli(&["push", "-q", target]).ok();
                self.cli(&["rmi", target]).ok();
            }
        }
    }

    /// Builds an image from a directory with a `Containerfile`, from local
    /// images only.
    #[track_caller]
    pub(crate) fn build(&self, tag: &str, dir: &Path) {
        let file = dir.join("Containerfile");
        let (file, dir) = (file.to_str().unwrap(), dir.to_str().unwrap());
        match self.engine {
            Engine::Podman => self.podman(&["build", "--pull=never", "-f", file, "-t", tag, dir]),
            // Docker 20.10's classic builder pulls a FROM image only when
            // it is missing.
            Engine::Docker => self.cli(&["build", "-q", "-f", file, "-t", tag, dir]),
        }
        .ok();
    }

    /// Runs `podman` on the rig.
    pub(crate) fn podman(&self, args: &[&str]) -> Run {
        let out = Command::new("podman")
            .args(args)
            .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", self.dir.join("storage.conf"))
            .env(
                "CONTAINERS_REGISTRIES_CONF",
                self.dir.join("registries.conf"),
            )
            .stdin(Stdio::null())
            .output()
            .expect("run podman");
        Run(out)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Force-delete every pod first so no test leaves processes behind,
        // then stop the server and its pod supervisor.
        if self.child.is_some() && self.data_dir.path().join("pki/token").exists() {
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
        // Whatever the engine left in the rig goes too.
        if self.runtime == "container" {
            let instance = self.instance();
            if !instance.is_empty() {
                let rig = rig_of(self.engine);
                let ids = rig.cli(&[
                    "ps",
                    "-aq",
                    "--filter",
                    &format!("label=io.joblite.instance={instance}"),
                ]);
                let ids: Vec<String> = ids.stdout().lines().map(str::to_string).collect();
                if !ids.is_empty() {
                    rig.remove_containers(&ids);
                }
            }
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
pub(crate) struct Run(pub Output);

impl Run {
    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub(crate) fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    /// Asserts success and returns stdout.
    #[track_caller]
    pub(crate) fn ok(&self) -> String {
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
    pub(crate) fn fails(&self) -> String {
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
pub(crate) fn condition<'a>(job: &'a Value, t: &str) -> Option<&'a Value> {
    job["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == t)
}
