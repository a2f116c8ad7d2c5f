//! Options of `GET /api/v1/namespaces/{ns}/pods/{name}/log`
//! (`PodLogOptions` in `staging/src/k8s.io/api/core/v1/types.go`).

/// What a log request asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Container name; `None` picks the only (or default) container.
    pub container: Option<String>,
    /// Keep streaming until the container ends.
    pub follow: bool,
    /// Only the last N lines.
    pub tail_lines: Option<i64>,
    /// Only lines newer than this many seconds.
    pub since_seconds: Option<i64>,
    /// Only lines at or after this RFC3339 time.
    pub since_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Prefix each line with its RFC3339Nano timestamp.
    pub timestamps: bool,
    /// The previous (terminated) instance of the container.
    pub previous: bool,
    /// Stop after this many bytes.
    pub limit_bytes: Option<i64>,
}
