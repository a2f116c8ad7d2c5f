//! Go's standard logger: `2006/01/02 15:04:05 <message>` on stderr.

use std::io::Write;

/// `log.Printf`.
pub(crate) fn printf(message: &str) {
    let now = chrono::Local::now().format("%Y/%m/%d %H:%M:%S");
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{now} {message}");
}
