//! Issue 15 part 5: a process pod cannot reach the engine's credentials,
//! its store or another pod's volumes (README "Isolation model"), it runs
//! as its `runAsUser`/`runAsGroup`, and the API refuses bad credentials
//! with kube-apiserver's answers.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::exec::{apply, sh_pod, wait_phase, wait_ready};
use crate::harness::Server;

/// The pids of processes whose command line contains `needle`.
fn pids_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd).contains(needle) {
            out.push(pid);
        }
    }
    out
}

fn pod_uid(s: &Server, name: &str) -> String {
    s.get_json(&["pod", name])["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string()
}

fn logs(s: &Server, name: &str) -> String {
    s.kubectl(&["logs", name]).ok()
}

/// Every way a pod could reach the engine's secrets or another pod's
/// volume, tried from a root pod and from a `runAsUser` pod: each must be
/// denied, and the pod's own volume and working directory must work.
#[test]
fn a_process_pod_cannot_read_the_engines_secrets_or_another_pods_volume() {
    let s = Server::start();
    let data = s.data_dir.path().to_path_buf();
    let d = data.display().to_string();
    let token = s.token();
    apply(
        &s,
        &sh_pod(
            "victim",
            "echo victim-secret-7f3a > /vol/secret; sleep 300; echo victim-marker-7f3a",
            "    volumeMounts: [{name: v, mountPath: /vol}]\n  volumes: [{name: v, emptyDir: {}}]\n",
        ),
    );
    wait_ready(&s, "victim");
    let uid = pod_uid(&s, "victim");
    let victim_vol = format!("{d}/node/volumes/default_victim_{uid}/v/secret");
    // The test (root, on the host) sees the file the pods must not.
    assert_eq!(
        std::fs::read_to_string(&victim_vol).unwrap(),
        "victim-secret-7f3a\n"
    );
    let victim = pids_with("victim-marker-7f3a");
    assert!(!victim.is_empty());
    let engine = s.pid().unwrap();
    let supervisor = pids_with(&format!("supervise{d}/node"));
    let supervisor = supervisor
        .first()
        .copied()
        .or_else(|| pids_with(&format!("{d}/node")).first().copied())
        .expect("the supervisor's pid");

    let mut targets = vec![
        ("token".to_string(), format!("{d}/pki/token")),
        ("ca-key".to_string(), format!("{d}/pki/ca.key")),
        ("kubeconfig".to_string(), format!("{d}/kubeconfig")),
        ("db".to_string(), format!("{d}/joblite.db")),
        ("victim-volume".to_string(), victim_vol.clone()),
        (
            "engine-root".to_string(),
            format!("/proc/{engine}/root{d}/pki/token"),
        ),
        (
            "supervisor-root".to_string(),
            format!("/proc/{supervisor}/root{d}/pki/token"),
        ),
        (
            "init-root".to_string(),
            format!("/proc/1/root{d}/pki/token"),
        ),
    ];
    for p in &victim {
        targets.push((
            format!("victim-root-{p}"),
            format!("/proc/{p}/root/vol/secret"),
        ));
        targets.push((
            format!("victim-cwd-{p}"),
            format!("/proc/{p}/cwd/../../volumes"),
        ));
    }
    for fd in 0..12 {
        targets.push((format!("engine-fd-{fd}"), format!("/proc/{engine}/fd/{fd}")));
    }
    let mut script = String::from(
        "try() { if cat \"$2\" 2>/dev/null | grep -q .; then echo \"$1 readable\"; else echo \"$1 denied\"; fi; }\n",
    );
    for (name, path) in &targets {
        script.push_str(&format!("try {name} '{path}'\n"));
    }
    // No disk device, and the mask cannot be lifted.
    script.push_str("for b in /dev/*; do [ -b \"$b\" ] && echo \"block $b\"; done\n");
    script.push_str(&format!(
        "umount -l '{d}' 2>/dev/null && echo 'umount done' || echo 'umount denied'\n"
    ));
    script.push_str(&format!(
        "ls '{d}/node/volumes' 2>/dev/null | grep -q victim && echo 'volumes listed' || echo 'volumes hidden'\n"
    ));
    // Each run has a user namespace of its own (sys/userns.rs).
    script.push_str("echo \"userns $(readlink /proc/self/ns/user)\"\n");
    let ns = |pid: u32| {
        std::fs::read_link(format!("/proc/{pid}/ns/user"))
            .unwrap()
            .display()
            .to_string()
    };
    let mut others = vec![ns(engine), ns(supervisor)];
    others.extend(victim.iter().map(|p| ns(*p)));
    // Its own volume and working directory work.
    script.push_str(
        "echo mine > /own/f && cat /own/f; touch here 2>/dev/null && echo cwd-writable; id -u\n",
    );

    for (name, ctx) in [
        ("thief-root", ""),
        (
            "thief-user",
            "  securityContext: {runAsUser: 65534, runAsGroup: 65534}\n",
        ),
    ] {
        let mut pod = sh_pod(
            name,
            &script,
            "    volumeMounts: [{name: own, mountPath: /own}]\n  volumes: [{name: own, emptyDir: {}}]\n",
        );
        pod.push_str(ctx);
        apply(&s, &pod);
        wait_phase(&s, name, "Succeeded");
        let out = logs(&s, name);
        assert!(!out.contains(&token), "{name} read the token:\n{out}");
        assert!(!out.contains("victim-secret"), "{name}:\n{out}");
        for (t, _) in &targets {
            assert!(
                out.lines().any(|l| l == format!("{t} denied")),
                "{name}: {t} not denied:\n{out}"
            );
        }
        assert!(!out.contains("block /dev"), "{name}:\n{out}");
        assert!(out.contains("umount denied\n"), "{name}:\n{out}");
        assert!(out.contains("volumes hidden\n"), "{name}:\n{out}");
        let own = out
            .lines()
            .find_map(|l| l.strip_prefix("userns "))
            .unwrap_or_else(|| panic!("{name}: no user namespace:\n{out}"));
        assert!(own.starts_with("user:["), "{name}:\n{out}");
        assert!(
            !others.iter().any(|o| o == own),
            "{name} shares a user namespace ({own}) with the engine, the supervisor or another pod: {others:?}"
        );
        let uid = if name == "thief-root" { "0" } else { "65534" };
        // A runAsUser pod cannot write the (root-owned) working directory,
        // as on a cluster; its emptyDir is writable (mode 0777).
        let cwd = if name == "thief-root" {
            "cwd-writable\n"
        } else {
            ""
        };
        assert!(
            out.ends_with(&format!("mine\n{cwd}{uid}\n")),
            "{name}:\n{out}"
        );
    }
}

/// `runAsUser`/`runAsGroup` from the pod, the container's winning, with
/// the pod's supplementary groups (`DetermineEffectiveSecurityContext`).
#[test]
fn run_as_user_and_group_are_honoured() {
    let s = Server::start();
    let pod = "apiVersion: v1
kind: Pod
metadata: {name: ids}
spec:
  restartPolicy: Never
  securityContext: {runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000]}
  volumes: [{name: scratch, emptyDir: {}}]
  containers:
  - name: pod-level
    image: busybox
    command: [sh, -c, 'id -u; id -g; id -G; echo w > /scratch/a && stat -c %u:%g /scratch/a']
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  - name: container-level
    image: busybox
    command: [sh, -c, 'id -u; id -g']
    securityContext: {runAsUser: 2000, runAsGroup: 2500}
";
    apply(&s, pod);
    wait_phase(&s, "ids", "Succeeded");
    assert_eq!(
        s.kubectl(&["logs", "ids", "-c", "pod-level"]).ok(),
        "1000\n3000\n3000 4000\n1000:3000\n"
    );
    assert_eq!(
        s.kubectl(&["logs", "ids", "-c", "container-level"]).ok(),
        "2000\n2500\n"
    );
    // A group alone keeps the engine's user (the container runtime keeps
    // the image's).
    let mut g = sh_pod("group-only", "id -u; id -g", "");
    g.push_str("  securityContext: {runAsGroup: 5000}\n");
    apply(&s, &g);
    wait_phase(&s, "group-only", "Succeeded");
    assert_eq!(logs(&s, "group-only"), "0\n5000\n");
    // kubectl exec runs as the container's user.
    let mut e = sh_pod("exec-ids", "sleep 300", "");
    e.push_str("  securityContext: {runAsUser: 1234, runAsGroup: 4321}\n");
    apply(&s, &e);
    wait_ready(&s, "exec-ids");
    assert_eq!(
        s.kubectl(&["exec", "exec-ids", "--", "sh", "-c", "id -u; id -g"])
            .ok(),
        "1234\n4321\n"
    );
}

/// Runs `joblite serve` as nobody (65534) on a data directory it owns:
/// a pod that asks for another user waits with `CreateContainerError` and
/// a `Failed` event, never running as the wrong user.
#[test]
fn a_non_root_engine_refuses_a_run_as_user_it_cannot_switch_to() {
    let s = Server::start_as_nobody();
    let mut p = sh_pod("as-1000", "id -u", "");
    p.push_str("  securityContext: {runAsUser: 1000}\n");
    apply(&s, &p);
    let waiting = s.wait_for("CreateContainerError", Duration::from_secs(30), || {
        let v = s.get_json(&["pod", "as-1000"]);
        let w = v
            .pointer("/status/containerStatuses/0/state/waiting")?
            .clone();
        (w["reason"] == "CreateContainerError").then_some(w)
    });
    let m = waiting["message"].as_str().unwrap();
    assert!(
        m.starts_with("cannot run container \"main\" as user 1000 (runAsUser): joblite is not running as root (uid 65534"),
        "{m}"
    );
    let events = s
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=as-1000",
            "-o",
            "json",
        ])
        .ok();
    let events: Value = serde_json::from_str(&events).unwrap();
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["reason"] == "Failed"
                && e["type"] == "Warning"
                && e["message"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("Error: cannot run container")),
        "{events}"
    );
    // Its own uid it can run as, and the data directory (which that uid
    // owns) is masked in the pod's user and mount namespaces all the same.
    let d = s.data_dir.path().display().to_string();
    let engine = s.pid().unwrap();
    let script = format!(
        "try() {{ if cat \"$2\" 2>/dev/null | grep -q .; then echo \"$1 readable\"; else echo \"$1 denied\"; fi; }}\n\
         try token {d}/pki/token\ntry kubeconfig {d}/kubeconfig\ntry db {d}/joblite.db\n\
         try engine-root /proc/{engine}/root{d}/pki/token\ntry engine-environ /proc/{engine}/environ\n\
         echo mine > /own/f && cat /own/f; id -u"
    );
    let mut own = sh_pod(
        "as-nobody",
        &script,
        "    volumeMounts: [{name: own, mountPath: /own}]\n  volumes: [{name: own, emptyDir: {}}]\n",
    );
    own.push_str("  securityContext: {runAsUser: 65534}\n");
    apply(&s, &own);
    // Waits for either end, so a failure shows the pod rather than a
    // timeout (CI once timed out here after 30 s on a loaded machine).
    let done = s.wait_for("pod as-nobody finished", Duration::from_secs(90), || {
        let v = s.get_json(&["pod", "as-nobody"]);
        matches!(v["status"]["phase"].as_str(), Some("Succeeded" | "Failed")).then_some(v)
    });
    assert_eq!(
        done["status"]["phase"],
        "Succeeded",
        "{done:#}\nlogs: {}",
        logs(&s, "as-nobody")
    );
    assert_eq!(
        logs(&s, "as-nobody"),
        "token denied\nkubeconfig denied\ndb denied\nengine-root denied\nengine-environ denied\nmine\n65534\n"
    );
}

// --- The API's refusals -------------------------------------------------

fn curl_status(s: &Server, extra: &[&str]) -> (u16, String) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}", "--cacert"])
        .arg(s.data_dir.path().join("pki/ca.crt"))
        .args(extra)
        .arg(format!("{}/api/v1/namespaces/default/pods", s.base_url()))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// kube-apiserver's 401 (`staging/src/k8s.io/apiserver/pkg/endpoints/
/// handlers/responsewriters/errors.go`, `unauthorized`).
fn assert_unauthorized(what: &str, (code, body): (u16, String)) {
    assert_eq!(code, 401, "{what}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"));
    assert_eq!(
        v,
        serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401}),
        "{what}"
    );
}

/// A client certificate and key, PEM, signed by `issuer` (or self-signed
/// when `None`), valid from `from` to `to` (years).
fn client_cert(
    dir: &Path,
    name: &str,
    issuer: Option<&rcgen::Issuer<'_, rcgen::KeyPair>>,
    years: (i32, i32),
) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "admin");
    dn.push(rcgen::DnType::OrganizationName, "system:masters");
    p.distinguished_name = dn;
    p.not_before = rcgen::date_time_ymd(years.0, 1, 1);
    p.not_after = rcgen::date_time_ymd(years.1, 1, 1);
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = match issuer {
        Some(i) => p.signed_by(&key, i).unwrap(),
        None => p.self_signed(&key).unwrap(),
    };
    let crt = dir.join(format!("{name}.crt"));
    let k = dir.join(format!("{name}.key"));
    std::fs::write(&crt, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (crt.display().to_string(), k.display().to_string())
}

/// The engine's CA as an issuer (the parameters it was made with).
fn engine_ca(s: &Server) -> rcgen::Issuer<'static, rcgen::KeyPair> {
    let key = std::fs::read_to_string(s.data_dir.path().join("pki/ca.key")).unwrap();
    rcgen::Issuer::new(ca_params(), rcgen::KeyPair::from_pem(&key).unwrap())
}

/// A CA's parameters, as the engine makes its own (`apiserver/src/tls.rs`).
fn ca_params() -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "joblite-ca");
    p.distinguished_name = dn;
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    p
}

/// A wrong token, a foreign or expired client certificate: kube-apiserver
/// accepts any certificate in the handshake (`tls.RequestClientCert`) and
/// its x509 authenticator then fails the request, so the answer is the
/// 401 `Status` (`pkg/authentication/request/x509/x509.go`: a certificate
/// that does not verify is an authentication error).
#[test]
fn bad_credentials_get_kube_apiservers_401() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    // The test's own checks: a good token and a good certificate pass.
    assert_eq!(
        curl_status(&s, &["-H", &format!("Authorization: Bearer {}", s.token())]).0,
        200
    );
    let ca = engine_ca(&s);
    let (crt, key) = client_cert(dir.path(), "good", Some(&ca), (2020, 2100));
    assert_eq!(curl_status(&s, &["--cert", &crt, "--key", &key]).0, 200);

    assert_unauthorized("no credentials", curl_status(&s, &[]));
    assert_unauthorized(
        "wrong token",
        curl_status(&s, &["-H", "Authorization: Bearer not-the-token"]),
    );
    let (crt, key) = client_cert(dir.path(), "expired", Some(&ca), (2020, 2021));
    assert_unauthorized(
        "expired certificate",
        curl_status(&s, &["--cert", &crt, "--key", &key]),
    );
    // Same name as the engine's CA, another key.
    let foreign = rcgen::Issuer::new(ca_params(), rcgen::KeyPair::generate().unwrap());
    let (crt, key) = client_cert(dir.path(), "foreign", Some(&foreign), (2020, 2100));
    assert_unauthorized(
        "foreign CA",
        curl_status(&s, &["--cert", &crt, "--key", &key]),
    );
    let (crt, key) = client_cert(dir.path(), "self", None, (2020, 2100));
    assert_unauthorized(
        "self-signed",
        curl_status(&s, &["--cert", &crt, "--key", &key]),
    );
    // kubectl with a wrong token is refused the same way.
    let kc = std::fs::read_to_string(&s.kubeconfig)
        .unwrap()
        .replace(&s.token(), "wrong");
    let bad = dir.path().join("kubeconfig");
    std::fs::write(&bad, kc).unwrap();
    let r = s.kubectl(&["--kubeconfig", bad.to_str().unwrap(), "get", "pods"]);
    assert!(
        r.stderr().contains(
            "error: You must be logged in to the server (the server has asked for the client to provide credentials)"
        ),
        "{}",
        r.stderr()
    );
}

/// Go's `net/http` answers plain HTTP on a TLS port (`server.go`,
/// `tlsRecordHeaderLooksLikeHTTP`) with a fixed 400 and closes.
#[test]
fn plain_http_on_the_tls_port_gets_gos_400() {
    let s = Server::start();
    for req in [
        "GET /api HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    ] {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(req.as_bytes()).unwrap();
        let mut out = Vec::new();
        c.read_to_end(&mut out).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out),
            "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
        );
    }
    // curl says the same.
    let out = std::process::Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}"])
        .arg(format!("http://127.0.0.1:{}/api", s.port))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Client sent an HTTP request to an HTTPS server.\n\n400"
    );
}
