//! The streaming pod subresources — `exec`, `attach` and `portforward` —
//! as data: their options, the container they address, the messages that
//! flow through a session and the `Status` that ends one.
//!
//! The wire (WebSocket channels, SPDY streams) is the API server's; running
//! the command is the node's. Both speak these types, so a session is the
//! same whichever transport carries it and whichever runtime serves it.
//!
//! Upstream sources: `PodExecOptions`/`PodAttachOptions` in
//! `staging/src/k8s.io/api/core/v1/types.go`; query decoding in
//! `staging/src/k8s.io/apimachinery/pkg/runtime/conversion.go`; container
//! choice in `pkg/registry/core/pod/strategy.go` (`validateContainer`); the
//! kubelet's checks in `pkg/kubelet/cri/streaming/remotecommand/httpstream.go`
//! (`NewOptions`) and the exit `Status` in `.../remotecommand/exec.go`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::status::ApiError;

/// A boolean query parameter as the API server decodes it
/// (`Convert_Slice_string_To_bool`): false only when absent, `0` or
/// `false` in any case; anything else, even empty, is true.
pub fn query_bool(v: Option<&str>) -> bool {
    match v {
        None => false,
        Some(s) => !(s == "0" || s.eq_ignore_ascii_case("false")),
    }
}

/// What an `exec` or `attach` request asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// The container; `None` picks the pod's only container.
    pub container: Option<String>,
    /// argv for `exec` (one `command=` per element); empty for `attach`.
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

impl StreamOptions {
    /// Reads the decoded query pairs; `command` may repeat and keeps its
    /// order, every other key's last value wins.
    pub fn from_pairs(pairs: &[(String, String)]) -> StreamOptions {
        let last = |k: &str| {
            pairs
                .iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        StreamOptions {
            container: last("container")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            command: pairs
                .iter()
                .filter(|(k, _)| k == "command")
                .map(|(_, v)| v.clone())
                .collect(),
            stdin: query_bool(last("stdin")),
            stdout: query_bool(last("stdout")),
            stderr: query_bool(last("stderr")),
            tty: query_bool(last("tty")),
        }
    }

    /// The kubelet's checks (`remotecommand.NewOptions`): stderr is dropped
    /// under a TTY (a terminal has one output), and a session needs at
    /// least one stream.
    pub fn normalize(&mut self) -> Result<(), ApiError> {
        if self.tty && self.stderr {
            self.stderr = false;
        }
        if !self.stdin && !self.stdout && !self.stderr {
            return Err(ApiError::BadRequest(
                "you must specify at least 1 of stdin, stdout, stderr".into(),
            ));
        }
        Ok(())
    }
}

/// The `ports` of a `portforward` request (`PodPortForwardOptions`); each
/// must be a port number. Empty: the client names ports per stream.
pub fn forward_ports(pairs: &[(String, String)]) -> Result<Vec<u16>, ApiError> {
    pairs
        .iter()
        .filter(|(k, _)| k == "ports")
        .flat_map(|(_, v)| v.split(','))
        .filter(|p| !p.is_empty())
        .map(|p| match p.trim().parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ApiError::BadRequest(format!(
                "unable to parse {p:?} as a port"
            ))),
        })
        .collect()
}

fn container_names<'a>(pod: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    pod.pointer(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
}

/// The container a request addresses, with upstream's 400s
/// (`validateContainer`): a named container must exist (init and ephemeral
/// containers count); an unnamed one is the only regular container.
pub fn resolve_container(pod: &Value, requested: Option<&str>) -> Result<String, ApiError> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let all = || {
        container_names(pod, "/spec/initContainers")
            .chain(container_names(pod, "/spec/containers"))
            .chain(container_names(pod, "/spec/ephemeralContainers"))
    };
    match requested.filter(|c| !c.is_empty()) {
        Some(c) if all().any(|n| n == c) => Ok(c.to_string()),
        Some(c) => Err(ApiError::BadRequest(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None => {
            let regular: Vec<&str> = container_names(pod, "/spec/containers").collect();
            match regular.as_slice() {
                [only] => Ok(only.to_string()),
                [] => Err(ApiError::BadRequest(format!(
                    "a container name must be specified for pod {name}"
                ))),
                _ => Err(ApiError::BadRequest(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    all().collect::<Vec<_>>().join(" ")
                ))),
            }
        }
    }
}

/// A pod must be on a node before anything can stream from it
/// (`streamLocation`, `PortForwardLocation`).
pub fn require_node(pod: &Value) -> Result<(), ApiError> {
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if node.is_empty() {
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        return Err(ApiError::BadRequest(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    Ok(())
}

/// A terminal size as client-go sends it on the resize channel (the Go
/// struct has no JSON tags, so the keys are capitalised).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalSize {
    #[serde(rename = "Width")]
    pub width: u16,
    #[serde(rename = "Height")]
    pub height: u16,
}

/// Client → container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin(Vec<u8>),
    /// The client's stdin ended (v5 close signal, SPDY half-close).
    StdinEof,
    Resize(TerminalSize),
}

/// Container → client. `End` is the last message of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    End(Outcome),
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The exec'd command exited with this code (`128 + n` for signal n).
    Exited(i32),
    /// An attach ended: the container exited or the session was closed.
    Ended,
    /// The session failed; the text is the error.
    Failed(String),
}

/// The `Status` written on the error channel at the end of an exec or
/// attach, as the kubelet writes it (`metav1.Status` without type meta):
/// `Success`, a `NonZeroExitCode` carrying the code in an `ExitCode` cause,
/// or an internal error. `command` words the non-zero exit message as
/// containerd's `error executing command [argv], exit code N`.
pub fn outcome_status(outcome: &Outcome, command: &[String]) -> Value {
    match outcome {
        Outcome::Exited(0) | Outcome::Ended => json!({"metadata": {}, "status": "Success"}),
        Outcome::Exited(code) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!(
                "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
                command.join(" ")
            ),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
        Outcome::Failed(err) => {
            let mut s = ApiError::InternalError(err.clone()).to_status();
            if let Some(m) = s.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            s
        }
    }
}

/// The error channel's text for the pre-v4 protocols, which carry no
/// `Status`: nothing on success, the error's text otherwise
/// (`v1WriteStatusFunc`).
pub fn outcome_text(outcome: &Outcome, command: &[String]) -> Option<String> {
    let status = outcome_status(outcome, command);
    (status["status"] != "Success")
        .then(|| status["message"].as_str().unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn booleans_are_false_only_when_absent_zero_or_false() {
        for (v, want) in [
            (None, false),
            (Some("0"), false),
            (Some("false"), false),
            (Some("FALSE"), false),
            (Some("False"), false),
            (Some("true"), true),
            (Some("True"), true),
            (Some("1"), true),
            (Some(""), true),
            (Some("yes"), true),
        ] {
            assert_eq!(query_bool(v), want, "{v:?}");
        }
    }

    #[test]
    fn repeated_commands_keep_their_order() {
        let o = StreamOptions::from_pairs(&pairs(&[
            ("command", "sh"),
            ("command", "-c"),
            ("command", "echo hi"),
            ("container", "c1"),
            ("stdin", "True"),
            ("stdout", "true"),
            ("tty", "0"),
        ]));
        assert_eq!(o.command, vec!["sh", "-c", "echo hi"]);
        assert_eq!(o.container.as_deref(), Some("c1"));
        assert!(o.stdin && o.stdout && !o.stderr && !o.tty);
    }

    #[test]
    fn a_session_needs_a_stream_and_a_tty_has_no_stderr() {
        let mut none = StreamOptions::default();
        assert_eq!(
            none.normalize().unwrap_err().message(),
            "you must specify at least 1 of stdin, stdout, stderr"
        );
        let mut tty = StreamOptions {
            stdout: true,
            stderr: true,
            tty: true,
            ..Default::default()
        };
        tty.normalize().unwrap();
        assert!(!tty.stderr);
    }

    #[test]
    fn containers_resolve_as_validate_container_does() {
        let one = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "main"}]}});
        assert_eq!(resolve_container(&one, None).unwrap(), "main");
        assert_eq!(resolve_container(&one, Some("")).unwrap(), "main");
        let e = resolve_container(&one, Some("nope")).unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (400, "container nope is not valid for pod p".to_string())
        );
        let two = json!({"metadata": {"name": "p"}, "spec": {
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "a"}, {"name": "b"}]}});
        assert_eq!(
            resolve_container(&two, None).unwrap_err().message(),
            "a container name must be specified for pod p, choose one of: [init a b]"
        );
        assert_eq!(resolve_container(&two, Some("init")).unwrap(), "init");
    }

    #[test]
    fn ports_must_be_port_numbers() {
        assert_eq!(
            forward_ports(&pairs(&[("ports", "8080"), ("ports", "80,443")])).unwrap(),
            vec![8080, 80, 443]
        );
        assert!(forward_ports(&pairs(&[("ports", "0")])).is_err());
        assert!(forward_ports(&pairs(&[("ports", "x")])).is_err());
    }

    #[test]
    fn exit_statuses_are_the_kubelets() {
        let argv: Vec<String> = ["sh", "-c", "exit 7"].map(String::from).to_vec();
        assert_eq!(
            outcome_status(&Outcome::Exited(0), &argv),
            json!({"metadata": {}, "status": "Success"})
        );
        let s = outcome_status(&Outcome::Exited(7), &argv);
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert_eq!(
            s["details"]["causes"][0],
            json!({"reason": "ExitCode", "message": "7"})
        );
        assert_eq!(
            s["message"],
            "command terminated with non-zero exit code: error executing command [sh -c exit 7], exit code 7"
        );
        let f = outcome_status(&Outcome::Failed("boom".into()), &argv);
        assert_eq!(f["message"], "Internal error occurred: boom");
        assert_eq!(f["reason"], "InternalError");
        assert!(f.get("kind").is_none());
        assert_eq!(outcome_text(&Outcome::Ended, &argv), None);
        assert_eq!(
            outcome_text(&Outcome::Failed("boom".into()), &argv).as_deref(),
            Some("Internal error occurred: boom")
        );
    }

    #[test]
    fn terminal_sizes_use_go_field_names() {
        let t: TerminalSize = serde_json::from_str(r#"{"Width":80,"Height":24}"#).unwrap();
        assert_eq!(
            t,
            TerminalSize {
                width: 80,
                height: 24
            }
        );
    }
}
