//! Container inspection and listing as plain JSON.
//!
//! bollard's typed models reject state names outside the Docker API's
//! enum, and Podman 4.3's compatible API reports a container that has
//! exited but is not yet cleaned up as `"stopped"`: a typed inspect (or a
//! listing that includes such a container) then fails to parse, right when
//! the runtime needs the exit. These two reads go through a small HTTP/1.1
//! GET of their own and return `serde_json::Value`. A pull with a login is
//! the third request made here (see [`pull`]); everything else uses
//! bollard. Errors are bollard's, so callers classify them one way.

use std::time::Duration;

use bollard::errors::Error as EngineError;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one read may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// `GET path` on the engine at `endpoint` (`unix://…` or `tcp://…`).
pub async fn get_json(endpoint: &str, path: &str) -> Result<Value, EngineError> {
    match tokio::time::timeout(TIMEOUT, get(endpoint, path)).await {
        Ok(r) => r,
        Err(_) => Err(EngineError::RequestTimeoutError),
    }
}

async fn get(endpoint: &str, path: &str) -> Result<Value, EngineError> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: joblite\r\nConnection: close\r\n\r\n"
    );
    let (status, body) = exchange(endpoint, &request).await?;
    if !(200..300).contains(&status) {
        return Err(refused(status, &body));
    }
    serde_json::from_slice(&body).map_err(|e| EngineError::IOError {
        err: std::io::Error::other(format!("container engine JSON: {e}")),
    })
}

/// The engine's refusal, as bollard reports it.
fn refused(status: u16, body: &[u8]) -> EngineError {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    EngineError::DockerResponseServerError {
        status_code: status,
        message,
    }
}

/// `POST /images/create?fromImage=repo&tag=tag` with `registry_auth` as the
/// `X-Registry-Auth` header. bollard sends that header in standard base64,
/// but Podman and Docker decode it as base64url (`pkg/auth/auth.go`,
/// `registry.DecodeAuthConfig`), so a login whose encoding holds `+` or `/`
/// would be refused; this request sends it as they read it. A failure
/// inside the 200 stream is a `DockerStreamError`, as from bollard.
pub async fn pull(
    endpoint: &str,
    repo: &str,
    tag: &str,
    registry_auth: &str,
    timeout: Duration,
) -> Result<(), EngineError> {
    let request = format!(
        "POST /images/create?fromImage={}&tag={} HTTP/1.1\r\nHost: docker\r\nUser-Agent: joblite\r\n\
         X-Registry-Auth: {registry_auth}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        percent(repo),
        percent(tag)
    );
    let (status, body) = match tokio::time::timeout(timeout, exchange(endpoint, &request)).await {
        Ok(r) => r?,
        Err(_) => return Err(EngineError::RequestTimeoutError),
    };
    if !(200..300).contains(&status) {
        return Err(refused(status, &body));
    }
    stream_error(&body).map_or(Ok(()), |error| {
        Err(EngineError::DockerStreamError { error })
    })
}

/// The first `{"error": …}` of a progress stream.
fn stream_error(body: &[u8]) -> Option<String> {
    for v in serde_json::Deserializer::from_slice(body).into_iter::<Value>() {
        let Ok(v) = v else {
            return Some("malformed progress stream from the container engine".into());
        };
        let detail = v.pointer("/errorDetail/message").and_then(Value::as_str);
        if let Some(e) = v.get("error").and_then(Value::as_str).or(detail) {
            return Some(e.to_string());
        }
    }
    None
}

/// Sends one request and reads the whole response.
async fn exchange(endpoint: &str, request: &str) -> Result<(u16, Vec<u8>), EngineError> {
    let mut raw = Vec::new();
    if let Some(sock) = endpoint
        .strip_prefix("unix://")
        .or_else(|| endpoint.starts_with('/').then_some(endpoint))
    {
        let mut s = tokio::net::UnixStream::connect(sock).await?;
        s.write_all(request.as_bytes()).await?;
        s.read_to_end(&mut raw).await?;
    } else {
        let addr = endpoint
            .trim_start_matches("tcp://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(request.as_bytes()).await?;
        s.read_to_end(&mut raw).await?;
    }
    parse_response(&raw).ok_or_else(|| EngineError::IOError {
        err: std::io::Error::other("malformed HTTP response from the container engine"),
    })
}

/// The status and the (de-chunked) body of an HTTP/1.1 response.
fn parse_response(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = &raw[head_end + 4..];
    if !chunked {
        return Some((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some((status, out));
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// The parts of `GET /containers/{id}/json` the runtime reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inspect {
    pub id: String,
    /// `created`, `running`, `exited`, Podman's `stopped`, …
    pub status: String,
    pub running: bool,
    pub exit_code: i32,
    pub oom_killed: bool,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    /// The image ID.
    pub image: String,
    pub memory_limit: i64,
    /// The first IP on any of its networks.
    pub ip: Option<String>,
}

impl Inspect {
    pub fn from_json(v: &Value) -> Inspect {
        let s = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        Inspect {
            id: s("/Id"),
            status: s("/State/Status"),
            running: v.pointer("/State/Running").and_then(Value::as_bool) == Some(true),
            exit_code: v
                .pointer("/State/ExitCode")
                .and_then(Value::as_i64)
                .unwrap_or(0) as i32,
            oom_killed: v.pointer("/State/OOMKilled").and_then(Value::as_bool) == Some(true),
            error: s("/State/Error"),
            started_at: s("/State/StartedAt"),
            finished_at: s("/State/FinishedAt"),
            image: s("/Image"),
            memory_limit: v
                .pointer("/HostConfig/Memory")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            ip: v
                .pointer("/NetworkSettings/Networks")
                .and_then(Value::as_object)
                .and_then(|m| {
                    m.values()
                        .filter_map(|n| n.get("IPAddress").and_then(Value::as_str))
                        .find(|ip| !ip.is_empty())
                        .map(str::to_string)
                })
                .or_else(|| {
                    v.pointer("/NetworkSettings/IPAddress")
                        .and_then(Value::as_str)
                        .filter(|ip| !ip.is_empty())
                        .map(str::to_string)
                }),
        }
    }

    /// Whether it was ever started (an exit is then real).
    pub fn ran(&self) -> bool {
        self.status != "created" && self.status != "configured"
    }
}

/// Inspects one container.
pub async fn inspect(endpoint: &str, id: &str) -> Result<Inspect, EngineError> {
    let v = get_json(endpoint, &format!("/containers/{id}/json")).await?;
    Ok(Inspect::from_json(&v))
}

/// One listed container: its id and labels.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub labels: std::collections::HashMap<String, String>,
}

/// Lists every container (running or not) with all of `labels` (`k=v`).
pub async fn list(endpoint: &str, labels: &[String]) -> Result<Vec<Listed>, EngineError> {
    let filters = serde_json::json!({ "label": labels }).to_string();
    let q: String = percent(&filters);
    let v = get_json(endpoint, &format!("/containers/json?all=1&filters={q}")).await?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .map(|c| Listed {
            id: c
                .get("Id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            labels: c
                .get("Labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .filter(|c| !c.id.is_empty())
        .collect())
}

/// Percent-encodes a query value.
fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_read_plain_and_chunked() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain), Some((200, b"{}".to_vec())));
        let chunked =
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Some((404, b"{\"a\":1}".to_vec())));
    }

    #[test]
    fn pull_streams_report_their_first_error() {
        let ok = br#"{"status":"Trying to pull x..."}
{"status":"Download complete","id":"abc"}"#;
        assert_eq!(stream_error(ok), None);
        let failed = br#"{"status":"Trying to pull x..."}{"error":"unauthorized","errorDetail":{"message":"unauthorized"}}"#;
        assert_eq!(stream_error(failed).as_deref(), Some("unauthorized"));
        assert!(stream_error(b"{\"status\":").is_some());
    }

    #[test]
    fn podmans_stopped_state_is_read() {
        let v = serde_json::json!({"Id": "abc", "Image": "sha256:1",
            "State": {"Status": "stopped", "Running": false, "ExitCode": 137, "OOMKilled": false,
                      "StartedAt": "2026-01-01T00:00:00Z", "FinishedAt": "2026-01-01T00:00:01Z"},
            "HostConfig": {"Memory": 52428800},
            "NetworkSettings": {"Networks": {"jlrig": {"IPAddress": "10.213.1.2"}}}});
        let i = Inspect::from_json(&v);
        assert_eq!(i.status, "stopped");
        assert!(i.ran());
        assert_eq!(i.exit_code, 137);
        assert_eq!(i.memory_limit, 50 << 20);
        assert_eq!(i.ip.as_deref(), Some("10.213.1.2"));
    }
}
