//! Container logs: `GET …/pods/{name}/log`.
//!
//! The supervisor writes one CRI-format file per container run
//! (`<RFC3339Nano> <stdout|stderr> <F|P> <text>`, see `supervisor.rs`), so
//! timestamps, `sinceTime`/`sinceSeconds` and `--timestamps` work as on a
//! kubelet (`pkg/kubelet/kuberuntime/logs/logs.go`). Which run to read
//! follows `validateContainerLogStatus` in `pkg/kubelet/kubelet_pods.go`: the
//! container ID in the status names the run. When a run's output is fully
//! drained the supervisor makes its file read-only; `follow` ends there.

use api::logs::LogOptions;
use bytes::Bytes;
use futures::Stream;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::log_wake::LogWaker;
use crate::paths;
use crate::{Error, Result};

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn names(pod: &Value, key: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{key}"))
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|c| s(c, "/name").to_string()).collect())
        .unwrap_or_default()
}

/// The run attempt a container ID names: `joblite://<uid>_<name>_<attempt>`
/// says it; an engine's ID (`podman://…`) is looked up in the attempts
/// file the container runtime keeps.
fn attempt_of(container_id: &str, attempts: &Path) -> Option<u32> {
    if let Some(id) = container_id.strip_prefix("joblite://") {
        return crate::protocol::parse_run_id(id).map(|(_, _, a)| a);
    }
    let text = std::fs::read_to_string(attempts).ok()?;
    text.lines().rev().find_map(|l| {
        let (a, id) = l.split_once(' ')?;
        (id == container_id).then(|| a.parse().ok()).flatten()
    })
}

/// Picks the log file a request reads (and whether its run may still be
/// writing it), or the upstream error.
pub fn resolve(
    data_dir: &Path,
    pod: &Value,
    opts: &LogOptions,
) -> Result<(String, Option<PathBuf>, bool)> {
    let pod_name = s(pod, "/metadata/name");
    let apps = names(pod, "containers");
    let inits = names(pod, "initContainers");
    let container = match opts.container.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => {
            if !apps.iter().chain(inits.iter()).any(|n| n == c) {
                return Err(Error::BadRequest(format!(
                    "container {c} is not valid for pod {pod_name}"
                )));
            }
            c.to_string()
        }
        None if apps.len() == 1 => apps[0].clone(),
        None => {
            let mut msg = format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                apps.join(" ")
            );
            if !inits.is_empty() {
                msg.push_str(&format!(
                    " or one of the init containers: [{}]",
                    inits.join(" ")
                ));
            }
            return Err(Error::BadRequest(msg));
        }
    };
    let status = ["/status/containerStatuses", "/status/initContainerStatuses"]
        .iter()
        .filter_map(|k| pod.pointer(k).and_then(Value::as_array))
        .flatten()
        .find(|c| s(c, "/name") == container)
        .cloned();
    let waiting = |reason: &str| {
        Error::BadRequest(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"
        ))
    };
    let (ns, uid) = (s(pod, "/metadata/namespace"), s(pod, "/metadata/uid"));
    let file = |attempt: u32| {
        Some(paths::log_path(
            data_dir, ns, pod_name, uid, &container, attempt,
        ))
    };
    let attempts = paths::attempts_path(data_dir, ns, pod_name, uid, &container);
    let attempt_of = |id: &str| attempt_of(id, &attempts);
    let Some(st) = status else {
        if opts.previous {
            return Err(Error::BadRequest(format!(
                "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
            )));
        }
        // No status yet: the first run may already be writing.
        let f = paths::log_path(data_dir, ns, pod_name, uid, &container, 0);
        if f.exists() {
            return Ok((container.clone(), Some(f), true));
        }
        return Err(waiting("ContainerCreating"));
    };
    if opts.previous {
        let id = s(&st, "/lastState/terminated/containerID");
        return match attempt_of(id) {
            Some(a) => Ok((container.clone(), file(a), false)),
            None => Err(Error::BadRequest(format!(
                "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
            ))),
        };
    }
    let id = if st.pointer("/state/running").is_some() {
        s(&st, "/containerID")
    } else if st.pointer("/state/terminated").is_some() {
        let t = s(&st, "/state/terminated/containerID");
        if t.is_empty() {
            s(&st, "/containerID")
        } else {
            t
        }
    } else {
        let last = s(&st, "/lastState/terminated/containerID");
        if last.is_empty() {
            return Err(waiting(s(&st, "/state/waiting/reason")));
        }
        last
    };
    let live = st.pointer("/state/running").is_some();
    Ok((container.clone(), attempt_of(id).and_then(file), live))
}

/// Go's RFC3339Nano: trailing zeros of the fraction trimmed.
fn rfc3339_nano_trimmed(ts: &str) -> String {
    match ts.split_once('.') {
        Some((head, frac)) => {
            let digits = frac.trim_end_matches('Z').trim_end_matches('0');
            if digits.is_empty() {
                format!("{head}Z")
            } else {
                format!("{head}.{digits}Z")
            }
        }
        None => ts.to_string(),
    }
}

/// One parsed log record.
struct Record<'a> {
    ts: &'a str,
    full: bool,
    text: &'a [u8],
}

fn parse_record(line: &[u8]) -> Option<Record<'_>> {
    let mut parts = line.splitn(4, |&b| b == b' ');
    let ts = std::str::from_utf8(parts.next()?).ok()?;
    let _stream = parts.next()?;
    let tag = parts.next()?;
    let text = parts.next().unwrap_or(b"");
    Some(Record {
        ts,
        full: tag != b"P",
        text,
    })
}

/// Filters and formats records.
struct Formatter {
    since: Option<chrono::DateTime<chrono::Utc>>,
    timestamps: bool,
    bytes_left: Option<i64>,
    /// Inside a partial line (P records) whose first piece was kept.
    open_line: Option<bool>,
}

impl Formatter {
    /// Appends the output for one record; false once limitBytes is reached.
    fn push(&mut self, rec: &Record<'_>, out: &mut Vec<u8>) -> bool {
        let keep = match self.open_line {
            Some(k) => k,
            None => match self.since {
                Some(since) => chrono::DateTime::parse_from_rfc3339(rec.ts)
                    .map(|t| t.with_timezone(&chrono::Utc) >= since)
                    .unwrap_or(true),
                None => true,
            },
        };
        let first_piece = self.open_line.is_none();
        self.open_line = if rec.full { None } else { Some(keep) };
        if !keep {
            return true;
        }
        let start = out.len();
        if self.timestamps && first_piece {
            out.extend_from_slice(rfc3339_nano_trimmed(rec.ts).as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(rec.text);
        if rec.full {
            out.push(b'\n');
        }
        if let Some(left) = &mut self.bytes_left {
            let n = (out.len() - start) as i64;
            if n >= *left {
                out.truncate(start + *left as usize);
                *left = 0;
                return false;
            }
            *left -= n;
        }
        true
    }
}

fn complete(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o200 == 0)
        // Not created yet: the run has printed nothing so far.
        .unwrap_or(false)
}

/// A file's identity, to see a log rotated under a follower.
fn file_id(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

struct Follow {
    path: Option<PathBuf>,
    /// The file being followed, read from where the last read ended; after
    /// a rotation it is read to its end before the new file is opened.
    file: Option<(std::fs::File, (u64, u64))>,
    carry: Vec<u8>,
    fmt: Formatter,
    follow: bool,
    first: Option<Vec<u8>>,
    ended: bool,
    /// Wakes the follower when the file changes (`log_wake.rs`); made on
    /// the first wait, so a plain read makes none.
    waker: Option<LogWaker>,
}

/// Streams a container's log as the API's `pods/log` subresource returns it.
pub async fn stream_logs(
    data_dir: &Path,
    pod: &Value,
    opts: LogOptions,
) -> Result<impl Stream<Item = Result<Bytes>> + Send + 'static> {
    let (_container, path, live) = resolve(data_dir, pod, &opts)?;
    let since = opts.since_time.or_else(|| {
        opts.since_seconds
            .map(|s| chrono::Utc::now() - chrono::Duration::seconds(s))
    });
    let mut fmt = Formatter {
        since,
        timestamps: opts.timestamps,
        bytes_left: opts.limit_bytes.filter(|b| *b > 0),
        open_line: None,
    };
    // The existing content, with tailLines applied.
    let mut data = Vec::new();
    let mut file = None;
    if let Some(p) = &path {
        if let Ok(mut f) = std::fs::File::open(p) {
            f.read_to_end(&mut data)?;
            let id = file_id(&f.metadata()?);
            file = Some((f, id));
        }
    }
    let end = data
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let carry = data[end..].to_vec();
    let lines: Vec<&[u8]> = data[..end]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut start = 0;
    if let Some(n) = opts.tail_lines.filter(|n| *n >= 0) {
        // Count whole lines (F records) from the end.
        let mut full = 0;
        start = lines.len();
        while start > 0 {
            let full_rec = parse_record(lines[start - 1]).is_none_or(|r| r.full);
            if full_rec {
                if full == n {
                    break;
                }
                full += 1;
            }
            start -= 1;
        }
    }
    let mut first = Vec::new();
    let mut ended = false;
    for l in &lines[start..] {
        if let Some(r) = parse_record(l) {
            if !fmt.push(&r, &mut first) {
                ended = true;
                break;
            }
        }
    }
    let state = Follow {
        file,
        path,
        carry,
        fmt,
        // Only a running container is followed; a finished one's log is whole.
        follow: opts.follow && live,
        first: Some(first),
        ended,
        waker: None,
    };
    Ok(futures::stream::unfold(state, |mut st| async move {
        if let Some(first) = st.first.take() {
            if !first.is_empty() {
                return Some((Ok(Bytes::from(first)), st));
            }
        }
        loop {
            if st.ended || !st.follow {
                return None;
            }
            let path = st.path.clone()?;
            // Watch before reading: a change after the read wakes the wait.
            if let Some(w) = st.waker.as_mut() {
                w.arm(&path);
            }
            let done = complete(&path);
            if st.file.is_none() {
                st.file = std::fs::File::open(&path)
                    .and_then(|f| Ok((file_id(&f.metadata()?), f)))
                    .ok()
                    .map(|(id, f)| (f, id));
            }
            let mut buf = Vec::new();
            if let Some((f, _)) = st.file.as_mut() {
                let _ = f.read_to_end(&mut buf);
            }
            // Rotated (`log_rotation.rs`): the name is another file now.
            // What the old one held is read above; the new one is read
            // from its start, as the kubelet's follower does.
            let rotated = st
                .file
                .as_ref()
                .is_some_and(|(_, id)| std::fs::metadata(&path).is_ok_and(|m| file_id(&m) != *id));
            if rotated {
                st.file = None;
            }
            let mut data = std::mem::take(&mut st.carry);
            data.extend_from_slice(&buf);
            let end = data
                .iter()
                .rposition(|&b| b == b'\n')
                .map(|i| i + 1)
                .unwrap_or(0);
            st.carry = data[end..].to_vec();
            let mut out = Vec::new();
            for l in data[..end].split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                if let Some(r) = parse_record(l) {
                    if !st.fmt.push(&r, &mut out) {
                        st.ended = true;
                        break;
                    }
                }
            }
            if !out.is_empty() {
                return Some((Ok(Bytes::from(out)), st));
            }
            if rotated {
                continue;
            }
            if done {
                return None;
            }
            match st.waker.as_mut() {
                Some(w) => w.wait().await,
                // The first wait: arm and read once more, then wait.
                None => st.waker = Some(LogWaker::new()),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use serde_json::json;
    use std::time::Duration;

    fn pod(status: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "default", "uid": "u"},
               "spec": {"containers": [{"name": "c"}]}, "status": status})
    }

    fn write_log(dir: &Path, attempt: u32, body: &str, done: bool) {
        use std::os::unix::fs::PermissionsExt;
        let p = paths::log_path(dir, "default", "p", "u", "c", attempt);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
        let mode = if done { 0o440 } else { 0o640 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    async fn read(dir: &Path, pod: &Value, opts: LogOptions) -> String {
        let st = stream_logs(dir, pod, opts).await.unwrap();
        let chunks: Vec<Bytes> = st.map(|c| c.unwrap()).collect().await;
        String::from_utf8(chunks.concat()).unwrap()
    }

    const LOG: &str = "2026-01-01T00:00:01.000000000Z stdout F one\n\
2026-01-01T00:00:02.500000000Z stderr F two\n\
2026-01-01T00:00:03.000000000Z stdout P thr\n\
2026-01-01T00:00:03.000000000Z stdout F ee\n";

    fn terminated(attempt: u32) -> Value {
        json!({"containerStatuses": [{"name": "c", "restartCount": attempt,
            "state": {"terminated": {"exitCode": 0, "containerID": format!("joblite://u_c_{attempt}")}},
            "lastState": if attempt > 0 { json!({"terminated": {"exitCode": 1, "containerID": format!("joblite://u_c_{}", attempt - 1)}}) } else { json!({}) }}]})
    }

    /// Container `c` running its first attempt.
    fn running() -> Value {
        json!({"containerStatuses": [{"name": "c", "restartCount": 0, "state": {"running": {}}, "containerID": "joblite://u_c_0", "lastState": {}}]})
    }

    /// `logs -f` of the pod's only container.
    async fn follow(
        dir: &Path,
        pod: &Value,
    ) -> std::pin::Pin<Box<impl Stream<Item = Result<Bytes>>>> {
        let opts = LogOptions {
            follow: true,
            ..Default::default()
        };
        Box::pin(stream_logs(dir, pod, opts).await.unwrap())
    }

    #[tokio::test]
    async fn options_filter_and_format() {
        let dir = tempfile::tempdir().unwrap();
        write_log(dir.path(), 0, LOG, true);
        let p = pod(terminated(0));
        let o = |f: &dyn Fn(&mut LogOptions)| {
            let mut o = LogOptions::default();
            f(&mut o);
            o
        };
        let cases: Vec<(LogOptions, &str)> = vec![
            (o(&|_| {}), "one\ntwo\nthree\n"),
            (o(&|o| o.tail_lines = Some(1)), "three\n"),
            (o(&|o| o.tail_lines = Some(2)), "two\nthree\n"),
            (o(&|o| o.tail_lines = Some(0)), ""),
            (o(&|o| o.limit_bytes = Some(6)), "one\ntw"),
            (
                o(&|o| o.since_time = Some("2026-01-01T00:00:02Z".parse().unwrap())),
                "two\nthree\n",
            ),
            (
                o(&|o| {
                    o.timestamps = true;
                    o.tail_lines = Some(2)
                }),
                "2026-01-01T00:00:02.5Z two\n2026-01-01T00:00:03Z three\n",
            ),
        ];
        for (opts, want) in cases {
            assert_eq!(read(dir.path(), &p, opts.clone()).await, want, "{opts:?}");
        }
    }

    #[tokio::test]
    async fn previous_reads_the_last_run() {
        let dir = tempfile::tempdir().unwrap();
        write_log(dir.path(), 0, "2026-01-01T00:00:01Z stdout F first\n", true);
        write_log(
            dir.path(),
            1,
            "2026-01-01T00:00:02Z stdout F second\n",
            true,
        );
        let p = pod(terminated(1));
        assert_eq!(
            read(dir.path(), &p, LogOptions::default()).await,
            "second\n"
        );
        let prev = LogOptions {
            previous: true,
            ..Default::default()
        };
        assert_eq!(read(dir.path(), &p, prev.clone()).await, "first\n");
        let p0 = pod(terminated(0));
        let err = stream_logs(dir.path(), &p0, prev).await.err().unwrap();
        assert_eq!(
            err.to_string(),
            "previous terminated container \"c\" in pod \"p\" not found"
        );
    }

    #[tokio::test]
    async fn upstream_errors() {
        let dir = tempfile::tempdir().unwrap();
        let waiting = pod(
            json!({"containerStatuses": [{"name": "c", "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}]}),
        );
        let err = stream_logs(dir.path(), &waiting, LogOptions::default())
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "container \"c\" in pod \"p\" is waiting to start: ContainerCreating"
        );
        let two = json!({"metadata": {"name": "y"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let err = stream_logs(dir.path(), &two, LogOptions::default())
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "a container name must be specified for pod y, choose one of: [a b]"
        );
    }

    #[tokio::test]
    async fn follow_sees_new_lines_and_ends_with_the_run() {
        let dir = tempfile::tempdir().unwrap();
        write_log(dir.path(), 0, "2026-01-01T00:00:01Z stdout F a\n", false);
        let mut st = follow(dir.path(), &pod(running())).await;
        assert_eq!(st.next().await.unwrap().unwrap(), Bytes::from("a\n"));
        let path = paths::log_path(dir.path(), "default", "p", "u", "c", 0);
        // How fast is `bench -- logs`'s question; this test asks only that
        // the line comes.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"2026-01-01T00:00:02Z stdout F b\n")
            .unwrap();
        assert_eq!(st.next().await.unwrap().unwrap(), Bytes::from("b\n"));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o440)).unwrap();
        assert!(st.next().await.is_none());
    }

    #[tokio::test]
    async fn follow_goes_on_across_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        write_log(dir.path(), 0, "2026-01-01T00:00:01Z stdout F a\n", false);
        let mut st = follow(dir.path(), &pod(running())).await;
        assert_eq!(st.next().await.unwrap().unwrap(), Bytes::from("a\n"));
        let path = paths::log_path(dir.path(), "default", "p", "u", "c", 0);
        // The writer adds a line, rotates (rename), and writes the new file,
        // which then completes: the follower sees both lines, in order.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"2026-01-01T00:00:02Z stdout F b\n")
            .unwrap();
        let rotated = path.with_extension("log.20260101-000002");
        std::fs::rename(&path, &rotated).unwrap();
        write_log(dir.path(), 0, "2026-01-01T00:00:03Z stdout F c\n", true);
        let mut got = String::new();
        while let Some(chunk) = st.next().await {
            got.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
        assert_eq!(got, "b\nc\n");
        // A plain read shows the current file only, as upstream.
        let opts = LogOptions::default();
        assert_eq!(read(dir.path(), &pod(running()), opts).await, "c\n");
    }

    #[tokio::test]
    async fn follow_waits_for_a_log_that_does_not_exist_yet() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = follow(dir.path(), &pod(running())).await;
        let d = dir.path().to_path_buf();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            write_log(&d, 0, "2026-01-01T00:00:01Z stdout F late\n", true);
        });
        assert_eq!(st.next().await.unwrap().unwrap(), Bytes::from("late\n"));
        assert!(st.next().await.is_none());
        // A finished container is not followed.
        let p = pod(terminated(0));
        let all: Vec<_> = follow(dir.path(), &p).await.collect().await;
        assert_eq!(all.len(), 1);
    }
    use std::io::Write;
}
