//! Go's `time.Location` as robfig/cron uses it: `time.LoadLocation`, and the
//! wall-clock arithmetic (`time.Date`, `AddDate`, `Add`, `Truncate`) that
//! `SpecSchedule.Next` does in a zone.
//!
//! The arithmetic is Go's, not chrono's, because the DST behaviour of a
//! schedule follows from it: `time.Date` resolves a wall time that does not
//! exist (spring forward) or exists twice (fall back) with the offset in
//! force at `local - offset(local)`, and `Next` relies on that to skip
//! 02:30 on a spring-forward day and to run 01:00 twice on a fall-back day
//! (robfig `spec_test.go`, "Daylight savings time"). The IANA database is
//! `chrono-tz`'s (compiled in, as Go's `time/tzdata` is in kube-apiserver).

use chrono::{DateTime, Datelike, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// A time zone: Go's `*time.Location`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// `time.UTC` (also what `LoadLocation("")` returns).
    Utc,
    /// `time.Local`: the machine's zone.
    Local,
    /// A zone of the IANA database.
    Tz(Tz),
    /// A fixed offset east of UTC in seconds (`time.FixedZone`), as a
    /// parsed `-0700` gives.
    Fixed(i32),
}

/// `time.LoadLocation`, with Go's error texts.
pub fn load_location(name: &str) -> Result<Zone, String> {
    if name.is_empty() || name == "UTC" {
        return Ok(Zone::Utc);
    }
    if name == "Local" {
        return Ok(Zone::Local);
    }
    if name.contains("..") || name.starts_with('/') || name.starts_with('\\') {
        return Err("time: invalid location name".to_string());
    }
    name.parse::<Tz>()
        .map(Zone::Tz)
        .map_err(|_| format!("unknown time zone {name}"))
}

/// Seconds since the Unix epoch, the instant every helper works on.
pub(crate) type Unix = i64;

impl Zone {
    /// The UTC offset in seconds in force at `unix`.
    pub fn offset_at(&self, unix: Unix) -> i64 {
        let Some(utc) = DateTime::<Utc>::from_timestamp(unix, 0) else {
            return 0;
        };
        let naive = utc.naive_utc();
        match self {
            Zone::Utc => 0,
            Zone::Local => i64::from(
                chrono::Local
                    .offset_from_utc_datetime(&naive)
                    .fix()
                    .local_minus_utc(),
            ),
            Zone::Tz(tz) => i64::from(tz.offset_from_utc_datetime(&naive).fix().local_minus_utc()),
            Zone::Fixed(off) => i64::from(*off),
        }
    }

    /// The wall clock at `unix`.
    pub(crate) fn civil(&self, unix: Unix) -> NaiveDateTime {
        let local = unix.saturating_add(self.offset_at(unix));
        DateTime::<Utc>::from_timestamp(local, 0)
            .unwrap_or_default()
            .naive_utc()
    }

    /// Go's `time.Date(y, m, d, h, min, s, 0, loc)`: out-of-range fields
    /// are normalised, and a wall time that a transition skips or repeats
    /// takes the offset in force at `local - offset(local)`.
    pub(crate) fn date(&self, y: i64, m: i64, d: i64, h: i64, min: i64, s: i64) -> Unix {
        // Normalise the month into [1, 12], carrying into the year.
        let m0 = m - 1;
        let y = y + m0.div_euclid(12);
        let m = m0.rem_euclid(12) + 1;
        let days = days_from_civil(y, m, 1) + (d - 1);
        let local = days * 86_400 + h * 3_600 + min * 60 + s;
        let guess = local - self.offset_at(local);
        local - self.offset_at(guess)
    }

    /// Go's `t.AddDate(y, m, d)`: calendar arithmetic on the wall clock.
    pub(crate) fn add_date(&self, unix: Unix, y: i64, m: i64, d: i64) -> Unix {
        let c = self.civil(unix);
        self.date(
            i64::from(c.year()) + y,
            i64::from(c.month()) + m,
            i64::from(c.day()) + d,
            i64::from(c.hour()),
            i64::from(c.minute()),
            i64::from(c.second()),
        )
    }

    /// Renders `unix` as Go's `time.RFC3339` in this zone (`Z` for a zero
    /// offset), as the `cronjob-scheduled-timestamp` annotation is written.
    pub fn rfc3339(&self, unix: Unix) -> String {
        let off = self.offset_at(unix);
        let c = self.civil(unix);
        let zone = if off == 0 {
            "Z".to_string()
        } else {
            let sign = if off < 0 { '-' } else { '+' };
            let a = off.abs();
            format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
        };
        format!("{}{zone}", c.format("%Y-%m-%dT%H:%M:%S"))
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (month 1–12;
/// the day may be out of range and is simply added).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    // Howard Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `days_from_civil` checked against chrono, for the tests.
#[cfg(test)]
pub(crate) fn days_from_civil_chrono(y: i32, m: u32, d: u32) -> i64 {
    use chrono::NaiveDate;
    let e = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    (NaiveDate::from_ymd_opt(y, m, d).expect("date") - e).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_from_civil_matches_chrono() {
        for (y, m, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (2012, 3, 11),
            (1900, 12, 31),
            (2100, 6, 15),
        ] {
            assert_eq!(
                days_from_civil(i64::from(y), i64::from(m), i64::from(d)),
                days_from_civil_chrono(y, m, d)
            );
        }
    }

    #[test]
    fn load_location_errors_are_gos() {
        assert_eq!(load_location(""), Ok(Zone::Utc));
        assert_eq!(load_location("UTC"), Ok(Zone::Utc));
        assert_eq!(load_location("Local"), Ok(Zone::Local));
        assert_eq!(
            load_location("bad-time-zone"),
            Err("unknown time zone bad-time-zone".to_string())
        );
        assert_eq!(
            load_location("utc"),
            Err("unknown time zone utc".to_string()),
            "zone names are case-sensitive, as on Linux"
        );
        assert_eq!(
            load_location("a..b"),
            Err("time: invalid location name".to_string())
        );
        assert!(matches!(load_location("America/New_York"), Ok(Zone::Tz(_))));
        assert!(matches!(load_location("US/Pacific"), Ok(Zone::Tz(_))));
    }

    #[test]
    fn date_resolves_skipped_and_repeated_wall_times_as_go() {
        let ny = load_location("America/New_York").unwrap();
        // 2012-03-11 02:30 does not exist in New York. Go takes the offset
        // in force at 02:30+5h (EDT) and lands on 01:30 EST, as Go's own
        // `dateTests` say for Los Angeles ("2:30:00 PDT ≡ 1:30 PST").
        let t = ny.date(2012, 3, 11, 2, 30, 0);
        assert_eq!(ny.rfc3339(t), "2012-03-11T01:30:00-05:00");
        // 2012-11-04 01:30 exists twice: Go picks the first (EDT).
        let t = ny.date(2012, 11, 4, 1, 30, 0);
        assert_eq!(ny.rfc3339(t), "2012-11-04T01:30:00-04:00");
        // Normalisation carries months and days.
        let t = Zone::Utc.date(2012, 13, 32, 0, 0, 0);
        assert_eq!(Zone::Utc.rfc3339(t), "2013-02-01T00:00:00Z");
    }
}
