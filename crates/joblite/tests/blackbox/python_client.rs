//! The official Python client (`kubernetes` on PyPI) against joblite.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::Server;

/// A Python with the `kubernetes` package: `$JOBLITE_TEST_PYTHON`, else the
/// workspace `.venv` (made here on first use, as `.ci/run` does).
pub(crate) fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("JOBLITE_TEST_PYTHON") {
        return p.into();
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = root.join(".venv");
    let py = venv.join("bin/python");
    let has = |py: &PathBuf| {
        Command::new(py)
            .args(["-c", "import kubernetes"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !has(&py) {
        let ok = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .unwrap()
            .success()
            && Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "--disable-pip-version-check", "kubernetes"])
                .status()
                .unwrap()
                .success();
        assert!(
            ok,
            "could not install the Python kubernetes client into {}",
            venv.display()
        );
    }
    py
}

/// Runs `tests/blackbox/SCRIPT` with the Python client against `s` and
/// asserts it exits 0 (its output and the engine's log otherwise).
pub(crate) fn run_script(s: &Server, script: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/blackbox")
        .join(script);
    let out = Command::new(python())
        .arg(&path)
        .arg(&s.kubeconfig)
        .env("HOME", s.home.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
}

#[test]
fn python_client_crud_watch_and_pods() {
    let s = Server::start();
    run_script(&s, "python_client.py");
}

#[test]
fn python_client_exec_returns_output_and_return_code() {
    let s = Server::start();
    crate::exec::apply(&s, &crate::exec::sh_pod("p", "sleep 300", ""));
    crate::exec::wait_ready(&s, "p");
    run_script(&s, "python_exec.py");
}
