//! Durations as kubectl reads and prints them.
//!
//! Printing is `k8s.io/apimachinery/pkg/util/duration.HumanDuration`
//! (`api::table::human_duration`, shared with the server's Tables and
//! describe); parsing follows Go's
//! `time.ParseDuration`, which kubectl uses for `--timeout`.

use std::time::Duration;

use anyhow::bail;

/// `HumanDuration` over a signed number of milliseconds (the one port is
/// `api::table::human_duration`).
pub(crate) fn human_duration_ms(ms: i64) -> String {
    api::table::human_duration(chrono::TimeDelta::milliseconds(ms))
}

/// Age of a timestamp relative to now, as kubectl prints it.
pub(crate) fn age(since: chrono::DateTime<chrono::Utc>) -> String {
    human_duration_ms((chrono::Utc::now() - since).num_milliseconds())
}

/// A short wall-clock duration for summaries: `85ms`, `1.27s`, `2m3s`.
pub(crate) fn elapsed(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.2}s", d.as_secs_f64())
    } else {
        human_duration_ms(ms as i64)
    }
}

/// A parsed Go duration: negative values are meaningful to some flags
/// (`kubectl wait --timeout=-1s` waits a week).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SignedDuration {
    pub negative: bool,
    pub magnitude: Duration,
}

/// A non-negative Go duration, for clap flags such as
/// `--pod-running-timeout=1m`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    match parse_go_duration(text) {
        Ok(d) if !d.negative => Ok(d.magnitude),
        Ok(_) => Err(format!("negative duration {text:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Go's `time.ParseDuration`: `300ms`, `-1.5h`, `2h45m`, `0`. As a
/// convenience a bare number counts as seconds (`--timeout=30`).
pub(crate) fn parse_go_duration(text: &str) -> anyhow::Result<SignedDuration> {
    let orig = text;
    let mut s = text.trim();
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s.is_empty() {
        bail!("time: invalid duration {orig:?}");
    }
    if s == "0" {
        return Ok(SignedDuration {
            negative: false,
            magnitude: Duration::ZERO,
        });
    }
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(SignedDuration {
                negative,
                magnitude: Duration::from_secs_f64(secs),
            });
        }
    }
    let mut total = 0f64; // nanoseconds
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        if start == i {
            bail!("time: invalid duration {orig:?}");
        }
        let number: f64 = s[start..i]
            .parse()
            .map_err(|_| anyhow::anyhow!("time: invalid duration {orig:?}"))?;
        let unit_start = i;
        while i < bytes.len() && !(bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => bail!("time: missing unit in duration {orig:?}"),
            other => bail!("time: unknown unit {other:?} in duration {orig:?}"),
        };
        total += number * scale;
    }
    Ok(SignedDuration {
        negative,
        magnitude: Duration::from_nanos(total.round() as u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_duration_table() {
        // Cases from k8s.io/apimachinery/pkg/util/duration/duration_test.go.
        let s = 1000i64;
        let m = 60 * s;
        let h = 60 * m;
        let d = 24 * h;
        let y = 365 * d;
        let cases = [
            (-2 * s, "<invalid>"),
            (-1500, "0s"),
            (0, "0s"),
            (s - 1, "0s"),
            (119 * s, "119s"),
            (2 * m, "2m"),
            (2 * m + 5 * s, "2m5s"),
            (9 * m + 59 * s, "9m59s"),
            (10 * m, "10m"),
            (179 * m, "179m"),
            (3 * h, "3h"),
            (3 * h + 30 * m, "3h30m"),
            (8 * h, "8h"),
            (47 * h + 59 * m, "47h"),
            (48 * h, "2d"),
            (2 * d + 5 * h, "2d5h"),
            (8 * d, "8d"),
            (2 * y - 1, "729d"),
            (2 * y, "2y"),
            (2 * y + 10 * d, "2y10d"),
            (8 * y, "8y"),
        ];
        for (ms, want) in cases {
            assert_eq!(human_duration_ms(ms), want, "{ms}ms");
        }
    }

    #[test]
    fn go_duration_parsing() {
        let ok = [
            ("30s", false, Duration::from_secs(30)),
            ("0", false, Duration::ZERO),
            ("1m30s", false, Duration::from_secs(90)),
            ("1.5h", false, Duration::from_secs(5400)),
            ("250ms", false, Duration::from_millis(250)),
            ("-1s", true, Duration::from_secs(1)),
            ("10", false, Duration::from_secs(10)),
            ("2h45m", false, Duration::from_secs(9900)),
        ];
        for (text, negative, magnitude) in ok {
            assert_eq!(
                parse_go_duration(text).unwrap(),
                SignedDuration {
                    negative,
                    magnitude
                },
                "{text}"
            );
        }
        for bad in ["", "s", "5x", "1m-", "abc", "-"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn elapsed_is_short() {
        assert_eq!(elapsed(Duration::from_millis(85)), "85ms");
        assert_eq!(elapsed(Duration::from_millis(1270)), "1.27s");
        assert_eq!(elapsed(Duration::from_secs(123)), "2m3s");
    }
}
