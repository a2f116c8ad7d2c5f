//! Load: 100 watchers and 50 writers through the real HTTP API of a real
//! `joblite serve` (issue 15, part 4).
//!
//! Writers create, update and delete ConfigMaps (no controller acts on them)
//! as fast as they can. A create or update answers the object at the
//! revision the store committed it at, so the writers' own answers give the
//! committed history in commit order. A delete answers a `Status` without a
//! revision (upstream's ReturnDeletedObject is false for ConfigMaps): its
//! revision must lie between the writer's update before it and its next
//! write, and every watcher must report the same one.
//!
//! Watchers list, then watch from the list's resourceVersion with bookmarks,
//! as client-go's reflector does; when a watch ends they resume from the
//! last revision they saw (an event's or a bookmark's). Half of them start
//! before the writers, half while the writers run (their list must be the
//! history's state at its revision). Each must see exactly the history after
//! its list: nothing lost, reordered or duplicated.
//!
//! Then stuck watchers join: `curl` processes whose stdout is a small pipe
//! nobody reads, so they stop reading their socket. The server must cut them
//! off and close their connections, as kube-apiserver's cacher terminates a
//! watcher whose buffer stays full ("Forcing ... watcher close due to
//! unresponsiveness", `staging/src/k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go`),
//! while the writers keep going and the other watchers miss nothing. Writer
//! throughput with and without them is measured in the same run and held to
//! a generous bound only; the server's peak RSS is reported.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use serde_json::{json, Value};

use crate::harness::Server;

const WATCHERS: usize = 100;
const WRITERS: usize = 50;
const STUCK: usize = 8;
/// Writes while the late watchers join (not measured).
const WARM_UP: Duration = Duration::from_secs(10);
/// Each measured phase: without, then with the stuck watchers
/// (`JOBLITE_LOAD_PHASE_SECS` overrides it for longer runs).
fn phase_length() -> Duration {
    Duration::from_secs(
        std::env::var("JOBLITE_LOAD_PHASE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(25),
    )
}
const NS: &str = "default";
const PREFIX: &str = "load-";
const SENTINEL: &str = "load-zz-end";
/// Enough bytes per object that a stuck watcher's buffers fill in seconds.
const PAYLOAD: usize = 2048;

/// Every answer's status, for the 5xx count.
#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    server_errors: AtomicU64,
    other_failures: AtomicU64,
}

/// One committed write, as its writer saw it.
#[derive(Debug, Clone)]
struct Write {
    name: String,
    kind: &'static str,
    /// `None` for deletes.
    rv: Option<u64>,
}

/// What one watcher saw.
#[derive(Default, Debug)]
struct Seen {
    list_rv: u64,
    /// `load-` objects in the list, with their revisions.
    listed: BTreeMap<String, u64>,
    /// `(rv, name, type)` of `load-` events, up to the sentinel.
    events: Vec<(u64, String, String)>,
    /// Events or bookmarks at or below a revision already seen.
    out_of_order: Vec<String>,
    bookmarks: usize,
    rewatches: usize,
    errors: Vec<String>,
}

fn rv_of(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no resourceVersion in {v}"))
}

async fn client(server: &Server) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(&server.kubeconfig).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    kube::Client::try_from(cfg).expect("client")
}

fn request(method: &str, uri: &str, body: Option<&Value>) -> http::Request<kube::client::Body> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(kube::client::Body::from(
            body.map(|b| serde_json::to_vec(b).unwrap())
                .unwrap_or_default(),
        ))
        .unwrap()
}

/// Sends a request; `None` when it failed (counted), else the answer.
async fn call(
    c: &kube::Client,
    tally: &Tally,
    method: &str,
    uri: &str,
    body: Option<&Value>,
    want: u16,
) -> Option<Value> {
    tally.requests.fetch_add(1, Ordering::Relaxed);
    let res = match c.send(request(method, uri, body)).await {
        Ok(r) => r,
        Err(e) => {
            tally.other_failures.fetch_add(1, Ordering::Relaxed);
            eprintln!("{method} {uri}: {e}");
            return None;
        }
    };
    let status = res.status().as_u16();
    let bytes = res.into_body().collect_bytes().await.unwrap_or_default();
    if status >= 500 {
        tally.server_errors.fetch_add(1, Ordering::Relaxed);
    }
    if status != want {
        if status < 500 {
            tally.other_failures.fetch_add(1, Ordering::Relaxed);
        }
        eprintln!(
            "{method} {uri}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

fn configmap(name: &str, version: u64, rv: Option<u64>) -> Value {
    let mut cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NS},
        "data": {"version": version.to_string(), "payload": "x".repeat(PAYLOAD)},
    });
    if let Some(rv) = rv {
        cm["metadata"]["resourceVersion"] = json!(rv.to_string());
    }
    cm
}

/// Creates, updates and deletes its own ConfigMaps until `stop`; counts
/// its writes in the current `phase`.
async fn writer(
    c: kube::Client,
    id: usize,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    phase: Arc<AtomicUsize>,
    counts: Arc<[AtomicU64; 3]>,
) -> Vec<Write> {
    let coll = format!("/api/v1/namespaces/{NS}/configmaps");
    let mut log = Vec::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let name = format!("{PREFIX}{id:02}-{n:06}");
        n += 1;
        let Some(v) = call(
            &c,
            &tally,
            "POST",
            &coll,
            Some(&configmap(&name, 0, None)),
            201,
        )
        .await
        else {
            continue;
        };
        let rv = rv_of(&v);
        log.push(Write {
            name: name.clone(),
            kind: "ADDED",
            rv: Some(rv),
        });
        counts[phase.load(Ordering::Relaxed)].fetch_add(1, Ordering::Relaxed);
        let uri = format!("{coll}/{name}");
        if let Some(v) = call(
            &c,
            &tally,
            "PUT",
            &uri,
            Some(&configmap(&name, 1, Some(rv))),
            200,
        )
        .await
        {
            log.push(Write {
                name: name.clone(),
                kind: "MODIFIED",
                rv: Some(rv_of(&v)),
            });
            counts[phase.load(Ordering::Relaxed)].fetch_add(1, Ordering::Relaxed);
        }
        if call(&c, &tally, "DELETE", &uri, None, 200).await.is_some() {
            log.push(Write {
                name,
                kind: "DELETED",
                rv: None,
            });
            counts[phase.load(Ordering::Relaxed)].fetch_add(1, Ordering::Relaxed);
        }
    }
    log
}

/// Lists, then watches (resuming when a watch ends) until the sentinel.
async fn watcher(
    c: kube::Client,
    tally: Arc<Tally>,
    ready: tokio::sync::mpsc::Sender<()>,
    total: Arc<AtomicU64>,
) -> Seen {
    let coll = format!("/api/v1/namespaces/{NS}/configmaps");
    let mut seen = Seen::default();
    let Some(list) = call(&c, &tally, "GET", &coll, None, 200).await else {
        seen.errors.push("list failed".into());
        let _ = ready.send(()).await;
        return seen;
    };
    seen.list_rv = rv_of(&list);
    for item in list["items"].as_array().into_iter().flatten() {
        let name = item["metadata"]["name"].as_str().unwrap_or("").to_string();
        if name.starts_with(PREFIX) {
            seen.listed.insert(name, rv_of(item));
        }
    }
    let mut last = seen.list_rv;
    let mut ready = Some(ready);
    loop {
        let uri = format!("{coll}?watch=true&resourceVersion={last}&allowWatchBookmarks=true");
        tally.requests.fetch_add(1, Ordering::Relaxed);
        let res = match c.send(request("GET", &uri, None)).await {
            Ok(r) => r,
            Err(e) => {
                tally.other_failures.fetch_add(1, Ordering::Relaxed);
                seen.errors.push(format!("watch: {e}"));
                return seen;
            }
        };
        if let Some(r) = ready.take() {
            let _ = r.send(()).await;
        }
        if res.status().as_u16() >= 500 {
            tally.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        if res.status() != 200 {
            seen.errors.push(format!("watch: {}", res.status()));
            return seen;
        }
        let mut body = res.into_body();
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=i).collect();
                let ev: Value = match serde_json::from_slice(&line) {
                    Ok(v) => v,
                    Err(e) => {
                        seen.errors.push(format!("bad line: {e}"));
                        return seen;
                    }
                };
                let kind = ev["type"].as_str().unwrap_or("").to_string();
                if kind == "ERROR" {
                    seen.errors.push(format!("ERROR event: {}", ev["object"]));
                    return seen;
                }
                let rv = rv_of(&ev["object"]);
                let name = ev["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                if kind == "BOOKMARK" {
                    seen.bookmarks += 1;
                    if rv < last {
                        seen.out_of_order
                            .push(format!("bookmark {rv} after {last}"));
                    }
                    last = last.max(rv);
                    continue;
                }
                total.fetch_add(1, Ordering::Relaxed);
                if rv <= last {
                    seen.out_of_order
                        .push(format!("{kind} {name} at {rv} after {last}"));
                }
                last = last.max(rv);
                if name.starts_with(PREFIX) {
                    seen.events.push((rv, name.clone(), kind));
                }
                if name == SENTINEL {
                    return seen;
                }
            }
        }
        // The server ended the watch (timeout, or this watcher fell
        // behind): resume from the last revision, as the reflector does.
        seen.rewatches += 1;
    }
}

/// A watcher that stops reading: a TLS client with a 4 KiB receive buffer
/// that sends a watch request (HTTP/1.1, so a cut-off closes the
/// connection) and reads nothing until the end of the test.
async fn stuck_watcher(server: &Server) -> Stuck {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use tokio::io::AsyncWriteExt;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(server.data_dir.path().join("pki/ca.crt")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock
        .connect(([127, 0, 0, 1], server.port).into())
        .await
        .expect("connect");
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .expect("TLS");
    let req = format!(
        "GET /api/v1/namespaces/{NS}/configmaps?watch=true HTTP/1.1\r\n\
         Host: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\r\n",
        server.token().trim()
    );
    tls.write_all(req.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    tls
}

type Stuck = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// Reads a stuck watcher's connection to its end: `Some(bytes)` when the
/// server closed it, `None` when it was still open after `within`.
async fn read_to_close(mut s: Stuck, within: Duration) -> Option<usize> {
    use tokio::io::AsyncReadExt;
    let mut n = 0;
    let mut buf = vec![0u8; 64 * 1024];
    tokio::time::timeout(within, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return n,
                Ok(k) => n += k,
            }
        }
    })
    .await
    .ok()
}

fn proc_status(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_see_every_write_and_stuck_watchers_are_cut_off() {
    let server = Server::start();
    let engine: Value = serde_json::from_str(
        &std::fs::read_to_string(server.data_dir.path().join("engine.json")).unwrap(),
    )
    .unwrap();
    let pid = engine["pid"].as_u64().unwrap() as u32;
    let c = client(&server).await;
    let tally = Arc::new(Tally::default());
    let total = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(AtomicUsize::new(0));
    let counts: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    let rss_start = proc_status(pid, "VmRSS:");

    // Half the watchers are watching before the first write.
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(WATCHERS);
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS / 2 {
        watchers.push(tokio::spawn(watcher(
            c.clone(),
            tally.clone(),
            ready_tx.clone(),
            total.clone(),
        )));
    }
    for _ in 0..WATCHERS / 2 {
        ready_rx.recv().await.unwrap();
    }

    let t0 = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|id| {
            tokio::spawn(writer(
                c.clone(),
                id,
                tally.clone(),
                stop.clone(),
                phase.clone(),
                counts.clone(),
            ))
        })
        .collect();

    // The other half list and start watching while the writers run.
    for _ in 0..WATCHERS / 2 {
        tokio::time::sleep(WARM_UP / (WATCHERS as u32 / 2)).await;
        watchers.push(tokio::spawn(watcher(
            c.clone(),
            tally.clone(),
            ready_tx.clone(),
            total.clone(),
        )));
    }
    for _ in 0..WATCHERS / 2 {
        ready_rx.recv().await.unwrap();
    }

    // Phase 1: no stuck watcher.
    phase.store(1, Ordering::Relaxed);
    let p1 = Instant::now();
    tokio::time::sleep(phase_length()).await;
    let p1 = p1.elapsed();

    // Phase 2: stuck watchers join.
    phase.store(2, Ordering::Relaxed);
    let p2 = Instant::now();
    let mut stuck: Vec<Stuck> = Vec::new();
    for _ in 0..STUCK {
        stuck.push(stuck_watcher(&server).await);
    }
    tokio::time::sleep(phase_length()).await;
    let p2 = p2.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut history_by_writer = Vec::new();
    for w in writers {
        history_by_writer.push(w.await.unwrap());
    }
    let write_time = t0.elapsed();

    // The sentinel: every watcher reads up to it.
    let sentinel = call(
        &c,
        &tally,
        "POST",
        &format!("/api/v1/namespaces/{NS}/configmaps"),
        Some(&configmap(SENTINEL, 0, None)),
        201,
    )
    .await
    .expect("sentinel");
    let sentinel_rv = rv_of(&sentinel);
    let drain = Instant::now();
    let mut seen = Vec::new();
    for w in watchers {
        match tokio::time::timeout(Duration::from_secs(90), w).await {
            Ok(s) => seen.push(s.unwrap()),
            Err(_) => panic!("a watcher did not reach the sentinel within 90 s"),
        }
    }
    let drain = drain.elapsed();

    // Each stuck watcher's connection was closed by the server: once its
    // pipe is read, curl gets to the end of the stream and exits.
    let stuck_exits: Vec<Option<usize>> = futures::future::join_all(
        stuck
            .into_iter()
            .map(|s| read_to_close(s, Duration::from_secs(30))),
    )
    .await;
    let peak_rss = proc_status(pid, "VmHWM:");
    let rss_end = proc_status(pid, "VmRSS:");
    let log = server.log();
    let cut_off = log.matches("watcher close due to unresponsiveness").count();

    // The committed history: creates and updates at the revisions their
    // writers were told; deletes between their neighbours.
    let mut history: BTreeMap<u64, (String, &'static str)> = BTreeMap::new();
    let mut deletes: Vec<(String, u64, u64)> = Vec::new();
    let mut writes = 0usize;
    for log in &history_by_writer {
        writes += log.len();
        for (i, w) in log.iter().enumerate() {
            match w.rv {
                Some(rv) => {
                    assert!(
                        history.insert(rv, (w.name.clone(), w.kind)).is_none(),
                        "two writes answered revision {rv}"
                    );
                }
                None => {
                    let lo = log[..i].iter().rev().find_map(|w| w.rv).unwrap_or(0);
                    let hi = log[i + 1..]
                        .iter()
                        .find_map(|w| w.rv)
                        .unwrap_or(sentinel_rv);
                    deletes.push((w.name.clone(), lo, hi));
                }
            }
        }
    }
    history.insert(sentinel_rv, (SENTINEL.to_string(), "ADDED"));
    let mut delete_rvs: HashMap<&str, HashSet<u64>> = HashMap::new();
    for s in &seen {
        for (rv, name, kind) in &s.events {
            if kind == "DELETED" {
                delete_rvs.entry(name).or_default().insert(*rv);
            }
        }
    }
    for (name, lo, hi) in &deletes {
        let rvs = delete_rvs.get(name.as_str()).cloned().unwrap_or_default();
        assert_eq!(
            rvs.len(),
            1,
            "{name}: watchers disagree on (or none saw) its delete: {rvs:?}"
        );
        let rv = *rvs.iter().next().unwrap();
        assert!(
            *lo < rv && rv < *hi,
            "{name}: deleted at {rv}, outside ({lo}, {hi})"
        );
        assert!(
            history.insert(rv, (name.clone(), "DELETED")).is_none(),
            "{name}: its delete's revision {rv} is another write's"
        );
    }

    // Each watcher saw exactly the history after its list, and listed the
    // state at its list's revision.
    let mut lost = 0usize;
    let mut extra = 0usize;
    let mut problems = Vec::new();
    for (i, s) in seen.iter().enumerate() {
        if !s.errors.is_empty() || !s.out_of_order.is_empty() {
            problems.push(format!(
                "watcher {i}: errors {:?}, out of order {:?}",
                s.errors,
                &s.out_of_order[..s.out_of_order.len().min(5)]
            ));
        }
        let expected: Vec<(u64, String, String)> = history
            .range(s.list_rv + 1..)
            .map(|(rv, (n, k))| (*rv, n.clone(), k.to_string()))
            .collect();
        if s.events != expected {
            let want: HashSet<_> = expected.iter().collect();
            let got: HashSet<_> = s.events.iter().collect();
            let l = want.difference(&got).count();
            let x = s.events.len() - got.intersection(&want).count();
            lost += l;
            extra += x;
            let first = s
                .events
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(s.events.len().min(expected.len()));
            problems.push(format!(
                "watcher {i} (list at {}): {} events, {} expected; {l} lost, {x} extra or duplicated; first difference at {first}: got {:?}, want {:?}",
                s.list_rv,
                s.events.len(),
                expected.len(),
                s.events.get(first),
                expected.get(first)
            ));
        }
        let mut state: BTreeMap<String, u64> = BTreeMap::new();
        for (rv, (n, k)) in history.range(..=s.list_rv) {
            if *k == "DELETED" {
                state.remove(n);
            } else {
                state.insert(n.clone(), *rv);
            }
        }
        if s.listed != state {
            problems.push(format!(
                "watcher {i}: list at {} has {} objects, the history {}",
                s.list_rv,
                s.listed.len(),
                state.len()
            ));
        }
    }

    let rate = |n: u64, d: Duration| n as f64 / d.as_secs_f64();
    let without = rate(counts[1].load(Ordering::Relaxed), p1);
    let with = rate(counts[2].load(Ordering::Relaxed), p2);
    let events_watched = total.load(Ordering::Relaxed);
    let rewatches: usize = seen.iter().map(|s| s.rewatches).sum();
    let bookmarks: usize = seen.iter().map(|s| s.bookmarks).sum();
    eprintln!(
        "watch load: {WATCHERS} watchers, {WRITERS} writers, {STUCK} stuck watchers; \
         {writes} writes in {:.1} s; {events_watched} events watched, {bookmarks} bookmarks, \
         {lost} lost, {extra} extra or duplicated; {rewatches} re-watches; \
         requests {} ({} 5xx, {} other failures); \
         writer throughput {without:.0} writes/s without stuck watchers, {with:.0} with ({:.2}x); \
         stuck watchers cut off: {cut_off} (bytes each read before its connection closed: {stuck_exits:?}); \
         drain {:.1} s; server RSS {rss_start} kB at start, {rss_end} kB at end, peak (VmHWM) {peak_rss} kB",
        write_time.as_secs_f64(),
        tally.requests.load(Ordering::Relaxed),
        tally.server_errors.load(Ordering::Relaxed),
        tally.other_failures.load(Ordering::Relaxed),
        with / without,
        drain.as_secs_f64(),
    );

    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(lost, 0);
    assert_eq!(
        tally.server_errors.load(Ordering::Relaxed),
        0,
        "5xx answers"
    );
    assert_eq!(
        tally.other_failures.load(Ordering::Relaxed),
        0,
        "failed requests"
    );
    assert!(
        counts[2].load(Ordering::Relaxed) > 0,
        "the writers made no progress beside the stuck watchers"
    );
    // A generous bound: performance belongs to the benchmarks.
    assert!(
        with > without / 4.0,
        "writers slowed from {without:.0}/s to {with:.0}/s beside stuck watchers"
    );
    for (i, closed) in stuck_exits.iter().enumerate() {
        assert!(
            closed.is_some(),
            "stuck watcher {i}: the server never closed its connection\n{log}"
        );
    }
    assert!(
        cut_off >= STUCK,
        "{cut_off} watchers cut off for unresponsiveness, {STUCK} were stuck"
    );
    assert!(
        peak_rss < 1024 * 1024,
        "the server's peak RSS is {peak_rss} kB"
    );
}
