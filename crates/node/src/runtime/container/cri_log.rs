//! A container's output, copied from the engine's log stream into the
//! node's per-run CRI log file, so `logs.rs` serves both runtimes alike.
//!
//! The engine is asked for timestamped output (`GET
//! /containers/{id}/logs?timestamps=1`); each line keeps the engine's
//! timestamp (normalised to RFC3339 with nanoseconds) and becomes one CRI
//! record, `<ts> <stdout|stderr> <F|P> <text>`. After a restart of joblite
//! the copy resumes from the file's last timestamp: the engine is asked
//! for output since that second, and as many lines as the file already
//! holds from that second on are skipped (engines stamp some output with
//! whole seconds only, so timestamps alone cannot tell old from new).

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Appends CRI records to one run's log file.
pub struct CriWriter {
    file: std::fs::File,
    /// The newest timestamp in the file.
    last: Option<String>,
    /// Lines the engine will send again after a resume.
    skip: usize,
}

/// Normalises an RFC3339 timestamp to nanoseconds and `Z`, so timestamps
/// compare as strings.
pub fn normalize(ts: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(ts).ok()?;
    Some(
        t.with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.9fZ")
            .to_string(),
    )
}

/// The timestamp of the last record of a CRI file, and how many complete
/// lines the file holds from that timestamp's second on.
fn resume_point(path: &Path) -> Option<(String, usize)> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let start = len.saturating_sub(256 * 1024);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let records: Vec<(&[u8], bool)> = buf
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let mut parts = l.splitn(4, |&b| b == b' ');
            let ts = parts.next()?;
            let _stream = parts.next()?;
            let full = parts.next()? != b"P";
            Some((ts, full))
        })
        .collect();
    let (last, _) = records.last()?;
    let last = normalize(std::str::from_utf8(last).ok()?)?;
    let second = &last[..19];
    let skip = records
        .iter()
        .filter(|(ts, full)| *full && ts.len() >= 19 && &ts[..19] >= second.as_bytes())
        .count();
    Some((last, skip))
}

impl CriWriter {
    /// Opens (or creates) the file for appending.
    pub fn open(path: &Path) -> io::Result<CriWriter> {
        let (last, skip) = match resume_point(path) {
            Some((l, n)) => (Some(l), n),
            None => (None, 0),
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(CriWriter { file, last, skip })
    }

    /// The whole second to ask the engine for output since (`since=`).
    pub fn resume_since(&self) -> i32 {
        self.last
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp() as i32)
            .unwrap_or(0)
    }

    /// Writes one engine log message (`<ts> <text>`) from `stream`.
    pub fn write(&mut self, stream: &str, message: &[u8]) -> io::Result<()> {
        let (ts, text) = split_stamp(message);
        if self.skipped(text) {
            return Ok(());
        }
        let mut out = Vec::with_capacity(text.len() + 64);
        let ts = stamp(ts);
        records(&mut out, &ts, stream, text);
        self.file.write_all(&out)?;
        self.last = Some(ts);
        Ok(())
    }

    /// Writes one line of a tty container's raw (not multiplexed) log
    /// stream. There every engine record is `<ts> <text>`, and a partial
    /// one (the engine's `P`) has no newline, so a line can hold several
    /// records: `<ts1> abc<ts2> def\n`. A record starts wherever a
    /// timestamp not older than the one before is followed by a space.
    pub fn write_raw(&mut self, message: &[u8]) -> io::Result<()> {
        let (first, text) = split_stamp(message);
        if self.skipped(text) {
            return Ok(());
        }
        let mut out = Vec::with_capacity(text.len() + 64);
        let mut ts = stamp(first);
        let mut rest = text;
        loop {
            match next_stamp(rest, &ts) {
                Some((at, len, next_ts)) => {
                    records(&mut out, &ts, "stdout", &rest[..at]);
                    rest = &rest[at + len + 1..];
                    ts = next_ts;
                }
                None => {
                    records(&mut out, &ts, "stdout", rest);
                    break;
                }
            }
        }
        self.file.write_all(&out)?;
        self.last = Some(ts);
        Ok(())
    }

    /// Whether a message is one the engine sent again after a resume.
    fn skipped(&mut self, text: &[u8]) -> bool {
        if self.skip == 0 {
            return false;
        }
        self.skip -= text
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            .clamp(1, self.skip);
        true
    }
}

/// A message's leading timestamp and its text.
fn split_stamp(message: &[u8]) -> (&[u8], &[u8]) {
    match message.iter().position(|&b| b == b' ') {
        Some(i) => (&message[..i], &message[i + 1..]),
        None => (message, &b""[..]),
    }
}

/// An engine timestamp, normalised; now if it is none.
fn stamp(ts: &[u8]) -> String {
    std::str::from_utf8(ts)
        .ok()
        .and_then(normalize)
        .unwrap_or_else(|| crate::sys::rfc3339_nano(chrono::Utc::now()))
}

/// The next record start in a raw line's text: its offset, the length of
/// its timestamp (a space follows) and the timestamp normalised. A
/// candidate is an RFC3339 timestamp (Docker trims the fraction's trailing
/// zeros, so lengths vary) not older than `after`.
fn next_stamp(text: &[u8], after: &str) -> Option<(usize, usize, String)> {
    (0..text.len()).find_map(|at| {
        let n = stamp_len(&text[at..])?;
        let ts = normalize(std::str::from_utf8(&text[at..at + n]).ok()?)?;
        (ts.as_str() >= after).then_some((at, n, ts))
    })
}

/// The length of an RFC3339 timestamp at the start of `b` that a space
/// follows: `YYYY-MM-DDTHH:MM:SS`, an optional fraction, then `Z` or an
/// offset.
fn stamp_len(b: &[u8]) -> Option<usize> {
    const SHAPE: &[u8] = b"0000-00-00T00:00:00";
    let fits = |i: usize, s: u8| match s {
        b'0' => b.get(i).is_some_and(u8::is_ascii_digit),
        _ => b.get(i) == Some(&s),
    };
    if !SHAPE.iter().enumerate().all(|(i, &s)| fits(i, s)) {
        return None;
    }
    let mut n = SHAPE.len();
    if b.get(n) == Some(&b'.') {
        n += 1;
        let digits = b[n..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        n += digits;
    }
    n += match b.get(n)? {
        b'Z' => 1,
        b'+' | b'-'
            if b"+00:00"
                .iter()
                .enumerate()
                .skip(1)
                .all(|(i, &s)| fits(n + i, s)) =>
        {
            6
        }
        _ => return None,
    };
    (b.get(n) == Some(&b' ')).then_some(n)
}

/// Appends `text` as CRI records: `F` for each whole line, `P` for a
/// trailing part without its newline.
fn records(out: &mut Vec<u8>, ts: &str, stream: &str, text: &[u8]) {
    let mut rest = text;
    while !rest.is_empty() {
        let (line, tag, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], "F", &rest[i + 1..]),
            None => (rest, "P", &b""[..]),
        };
        crate::supervisor::push_record(out, ts, stream, tag, line);
        rest = next;
    }
}

/// Marks a run's log file complete (read-only): `logs -f` ends at its end
/// (see `logs.rs`). A run that printed nothing gets an empty file.
pub fn finish(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if !path.exists() {
        let _ = std::fs::File::create(path);
    }
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444));
}

/// Whether a run's log file is already complete.
pub fn is_finished(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o200 == 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_cri_records_and_resume_skips_what_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.log");
        let mut w = CriWriter::open(&p).unwrap();
        w.write("stdout", b"2026-12-03T10:00:00.5Z hello\n")
            .unwrap();
        w.write("stderr", b"2026-12-03T10:00:01.000000001Z a\nb")
            .unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text,
            "2026-12-03T10:00:00.500000000Z stdout F hello\n\
             2026-12-03T10:00:01.000000001Z stderr F a\n\
             2026-12-03T10:00:01.000000001Z stderr P b\n"
        );
        drop(w);
        let mut w = CriWriter::open(&p).unwrap();
        let second = chrono::DateTime::parse_from_rfc3339("2026-12-03T10:00:01Z").unwrap();
        assert_eq!(w.resume_since() as i64, second.timestamp());
        // What the engine sends again from that second is skipped (one
        // line, "a"; "b" was partial); newer output is appended, even
        // within the same second.
        w.write("stderr", b"2026-12-03T10:00:01Z a\n").unwrap();
        w.write("stdout", b"2026-12-03T10:00:01Z same second\n")
            .unwrap();
        w.write("stdout", b"2026-12-03T10:00:02Z new\n").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.ends_with(
                "stderr P b\n2026-12-03T10:00:01.000000000Z stdout F same second\n2026-12-03T10:00:02.000000000Z stdout F new\n"
            ),
            "{text}"
        );
        drop(w);
        finish(&p);
        assert!(is_finished(&p));
    }
    /// Podman 4.3's raw stream of a tty container that wrote `abc`, then
    /// `def\n` and `ghi\n` (bytes seen with curl on the rig).
    #[test]
    fn a_tty_line_holding_a_partial_record_is_split_at_the_next_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.log");
        let mut w = CriWriter::open(&p).unwrap();
        w.write_raw(b"2026-12-04T19:41:46Z abc2026-12-04T19:41:47Z def\r\n")
            .unwrap();
        w.write_raw(b"2026-12-04T19:41:47Z ghi\r\n").unwrap();
        // Docker's fractions vary in length.
        w.write_raw(b"2026-12-04T19:41:47.5Z jk2026-12-04T19:41:47.61+00:00 l\n")
            .unwrap();
        // A timestamp-like text that is older, or not followed by a space,
        // is the container's own output.
        w.write_raw(b"2026-12-04T19:41:48Z at 2026-12-04T19:41:00Z x 2026-12-04T19:41:49Z\n")
            .unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text,
            "2026-12-04T19:41:46.000000000Z stdout P abc\n\
             2026-12-04T19:41:47.000000000Z stdout F def\r\n\
             2026-12-04T19:41:47.000000000Z stdout F ghi\r\n\
             2026-12-04T19:41:47.500000000Z stdout P jk\n\
             2026-12-04T19:41:47.610000000Z stdout F l\n\
             2026-12-04T19:41:48.000000000Z stdout F at 2026-12-04T19:41:00Z x 2026-12-04T19:41:49Z\n"
        );
    }
}
