//! Errors printed the way kubectl prints them.
//!
//! Users compare joblite's messages with kubectl's, and scripts grep them, so
//! a server `Status` becomes `Error from server (Reason): message` and an
//! `Invalid` status lists its causes, as in kubectl's
//! `staging/src/k8s.io/kubectl/pkg/cmd/util/helpers.go` (`StandardErrorMessage`,
//! `checkErr`, `MultilineError`).

use std::fmt;
use std::process::ExitCode;

use kube::core::Status;

/// A failed API call, with the operation kubectl names in its message
/// (`error when creating "job.yaml"`).
#[derive(Debug)]
pub(crate) struct ServerError {
    pub status: Box<Status>,
    pub context: Option<String>,
}

impl std::error::Error for ServerError {}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&status_message(&self.status, self.context.as_deref()))
    }
}

/// Wraps a kube error, keeping a server `Status` intact so it prints like kubectl.
pub(crate) fn api_error(err: kube::Error, context: Option<String>) -> anyhow::Error {
    match err {
        kube::Error::Api(status) => ServerError { status, context }.into(),
        other => anyhow::Error::new(other),
    }
}

/// The HTTP status code of a kube error, if the server answered.
pub(crate) fn status_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// True when the error is a 404 from the server.
pub(crate) fn is_not_found(err: &kube::Error) -> bool {
    status_code(err) == Some(404)
}

/// The message kubectl prints for a server `Status`.
pub(crate) fn status_message(status: &Status, context: Option<&str>) -> String {
    if status.reason == "Invalid" {
        if let Some(details) = &status.details {
            let mut head = "The request is invalid".to_string();
            if !details.kind.is_empty() || !details.name.is_empty() {
                head = format!("The {} {:?} is invalid", details.kind, details.name);
            }
            let causes: Vec<String> = details
                .causes
                .iter()
                .map(|c| {
                    if c.field.is_empty() {
                        c.message.clone()
                    } else {
                        format!("{}: {}", c.field, c.message)
                    }
                })
                .collect();
            return match causes.len() {
                0 => head,
                1 => format!("{head}: {}", causes[0]),
                _ => {
                    let mut out = format!("{head}: ");
                    for cause in causes {
                        out.push_str("\n* ");
                        out.push_str(&cause);
                    }
                    out
                }
            };
        }
    }
    let message = match context {
        Some(ctx) => format!("{ctx}: {}", status.message),
        None => status.message.clone(),
    };
    if status.reason == "Unauthorized" {
        return format!("error: You must be logged in to the server ({message})");
    }
    if status.reason.is_empty() {
        format!("Error from server: {message}")
    } else {
        format!("Error from server ({}): {message}", status.reason)
    }
}

/// The full line kubectl would print for any error.
pub(crate) fn render(err: &anyhow::Error) -> String {
    if let Some(server) = err.downcast_ref::<ServerError>() {
        return server.to_string();
    }
    if let Some(kube_err) = err.downcast_ref::<kube::Error>() {
        match kube_err {
            kube::Error::Api(status) => return status_message(status, None),
            kube::Error::HyperError(_) | kube::Error::Service(_) => {
                return format!("Unable to connect to the server: {kube_err}");
            }
            _ => {}
        }
    }
    format!("error: {err:#}")
}

/// Prints the error on stderr and gives kubectl's exit code for it.
pub(crate) fn report_error(err: &anyhow::Error) -> ExitCode {
    eprintln!("{}", render(err));
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::{StatusCause, StatusDetails};

    fn status(reason: &str, message: &str) -> Status {
        Status::failure(message, reason).with_code(404)
    }

    #[test]
    fn kubectl_error_lines() {
        let cases: Vec<(Status, Option<&str>, &str)> = vec![
            (
                status("NotFound", "jobs.batch \"x\" not found"),
                None,
                "Error from server (NotFound): jobs.batch \"x\" not found",
            ),
            (
                status("AlreadyExists", "jobs.batch \"x\" already exists"),
                Some("error when creating \"f.yaml\""),
                "Error from server (AlreadyExists): error when creating \"f.yaml\": jobs.batch \"x\" already exists",
            ),
            (status("", "boom"), None, "Error from server: boom"),
            (
                status("Unauthorized", "Unauthorized"),
                None,
                "error: You must be logged in to the server (Unauthorized)",
            ),
        ];
        for (st, ctx, want) in cases {
            assert_eq!(status_message(&st, ctx), want);
        }
    }

    #[test]
    fn invalid_lists_causes() {
        let cause = |field: &str| StatusCause {
            reason: "FieldValueRequired".into(),
            message: "Required value".into(),
            field: field.into(),
        };
        let mut st = status("Invalid", "ignored");
        st.details = Some(StatusDetails {
            name: "x".into(),
            group: "batch".into(),
            kind: "Job".into(),
            uid: String::new(),
            causes: vec![cause("spec.template.spec.containers[0].image")],
            retry_after_seconds: 0,
        });
        assert_eq!(
            status_message(&st, Some("error when creating \"f\"")),
            "The Job \"x\" is invalid: spec.template.spec.containers[0].image: Required value"
        );
        st.details
            .as_mut()
            .unwrap()
            .causes
            .push(cause("spec.selector"));
        assert_eq!(
            status_message(&st, None),
            "The Job \"x\" is invalid: \n* spec.template.spec.containers[0].image: Required value\n* spec.selector: Required value"
        );
    }
}
