//! robfig/cron v3.0.1's own test tables (`parser_test.go`, `spec_test.go`,
//! `constantdelay_test.go`), ported case by case, plus the error texts
//! kube-apiserver shows for them.

use super::parser::{all, get_bits, get_field, get_range, parse_with_seconds};
use super::spec::{Bounds, SpecSchedule, DOM, DOW, HOURS, MINUTES, MONTHS, SECONDS, STAR_BIT};
use super::zone::{load_location, Zone};
use super::{parse_standard, ConstantDelay, Schedule};
use chrono::{DateTime, Utc};

/// The "machine local" zone robfig's tests run in; UTC here, so the tables
/// do not depend on the machine.
const LOCAL: Zone = Zone::Utc;

fn b(min: u64, max: u64) -> Bounds {
    Bounds {
        min,
        max,
        names: &[],
    }
}

// parser_test.go TestRange
#[test]
fn test_range() {
    let zero = 0u64;
    let cases: Vec<(&str, u64, u64, u64, &str)> = vec![
        ("5", 0, 7, 1 << 5, ""),
        ("0", 0, 7, 1 << 0, ""),
        ("7", 0, 7, 1 << 7, ""),
        ("5-5", 0, 7, 1 << 5, ""),
        ("5-6", 0, 7, 1 << 5 | 1 << 6, ""),
        ("5-7", 0, 7, 1 << 5 | 1 << 6 | 1 << 7, ""),
        ("5-6/2", 0, 7, 1 << 5, ""),
        ("5-7/2", 0, 7, 1 << 5 | 1 << 7, ""),
        ("5-7/1", 0, 7, 1 << 5 | 1 << 6 | 1 << 7, ""),
        ("*", 1, 3, 1 << 1 | 1 << 2 | 1 << 3 | STAR_BIT, ""),
        ("*/2", 1, 3, 1 << 1 | 1 << 3, ""),
        ("5--5", 0, 0, zero, "too many hyphens"),
        ("jan-x", 0, 0, zero, "failed to parse int from"),
        ("2-x", 1, 5, zero, "failed to parse int from"),
        ("*/-12", 0, 0, zero, "negative number"),
        ("*//2", 0, 0, zero, "too many slashes"),
        ("1", 3, 5, zero, "below minimum"),
        ("6", 3, 5, zero, "above maximum"),
        ("5-3", 3, 5, zero, "beyond end of range"),
        ("*/0", 0, 0, zero, "should be a positive number"),
    ];
    for (expr, min, max, expected, e) in cases {
        let got = get_range(expr, &b(min, max));
        if e.is_empty() {
            assert_eq!(got, Ok(expected), "{expr}");
        } else {
            let msg = got.expect_err(expr).0;
            assert!(msg.contains(e), "{expr}: {msg}");
        }
    }
}

// parser_test.go TestField
#[test]
fn test_field() {
    for (expr, min, max, expected) in [
        ("5", 1, 7, 1u64 << 5),
        ("5,6", 1, 7, 1 << 5 | 1 << 6),
        ("5,6,7", 1, 7, 1 << 5 | 1 << 6 | 1 << 7),
        ("1,5-7/2,3", 1, 7, 1 << 1 | 1 << 5 | 1 << 7 | 1 << 3),
    ] {
        assert_eq!(get_field(expr, &b(min, max)), Ok(expected), "{expr}");
    }
}

// parser_test.go TestAll
#[test]
fn test_all() {
    for (r, expected) in [
        (&MINUTES, 0xfffffffffffffffu64),
        (&HOURS, 0xffffff),
        (&DOM, 0xfffffffe),
        (&MONTHS, 0x1ffe),
        (&DOW, 0x7f),
    ] {
        assert_eq!(all(r), expected | STAR_BIT);
    }
}

// parser_test.go TestBits
#[test]
fn test_bits() {
    for (min, max, step, expected) in [
        (0, 0, 1, 0x1u64),
        (1, 1, 1, 0x2),
        (1, 5, 2, 0x2a),
        (1, 4, 2, 0xa),
    ] {
        assert_eq!(get_bits(min, max, step), expected);
    }
}

// parser_test.go TestParseScheduleErrors
#[test]
fn test_parse_schedule_errors() {
    for (expr, e) in [
        ("* 5 j * * *", "failed to parse int from"),
        ("@every Xm", "failed to parse duration"),
        ("@unrecognized", "unrecognized descriptor"),
        ("* * * *", "expected 5 to 6 fields"),
        ("", "empty spec string"),
    ] {
        let msg = parse_with_seconds(expr).expect_err(expr).0;
        assert!(msg.contains(e), "{expr}: {msg}");
    }
}

fn every5min(loc: Option<Zone>) -> Schedule {
    Schedule::Spec(SpecSchedule {
        second: 1 << 0,
        minute: 1 << 5,
        hour: all(&HOURS),
        dom: all(&DOM),
        month: all(&MONTHS),
        dow: all(&DOW),
        location: loc,
    })
}

fn midnight(loc: Option<Zone>) -> Schedule {
    Schedule::Spec(SpecSchedule {
        second: 1,
        minute: 1,
        hour: 1,
        dom: all(&DOM),
        month: all(&MONTHS),
        dow: all(&DOW),
        location: loc,
    })
}

fn annual(loc: Option<Zone>) -> Schedule {
    Schedule::Spec(SpecSchedule {
        second: 1 << SECONDS.min,
        minute: 1 << MINUTES.min,
        hour: 1 << HOURS.min,
        dom: 1 << DOM.min,
        month: 1 << MONTHS.min,
        dow: all(&DOW),
        location: loc,
    })
}

// parser_test.go TestParseSchedule and TestStandardSpecSchedule
#[test]
fn test_parse_schedule() {
    let tokyo = Some(load_location("Asia/Tokyo").unwrap());
    let utc = Some(Zone::Utc);
    let seconds = [
        ("0 5 * * * *", every5min(None)),
        ("CRON_TZ=UTC  0 5 * * * *", every5min(utc)),
        ("CRON_TZ=Asia/Tokyo 0 5 * * * *", every5min(tokyo)),
        (
            "@every 5m",
            Schedule::Every(ConstantDelay { delay_secs: 300 }),
        ),
        ("@midnight", midnight(None)),
        ("TZ=UTC  @midnight", midnight(utc)),
        ("TZ=Asia/Tokyo @midnight", midnight(tokyo)),
        ("@yearly", annual(None)),
        ("@annually", annual(None)),
        (
            "* 5 * * * *",
            Schedule::Spec(SpecSchedule {
                second: all(&SECONDS),
                minute: 1 << 5,
                hour: all(&HOURS),
                dom: all(&DOM),
                month: all(&MONTHS),
                dow: all(&DOW),
                location: None,
            }),
        ),
    ];
    for (expr, want) in seconds {
        assert_eq!(parse_with_seconds(expr), Ok(want), "{expr}");
    }
    let standard = [
        ("5 * * * *", every5min(None)),
        ("CRON_TZ=UTC  5 * * * *", every5min(utc)),
        (
            "@every 5m",
            Schedule::Every(ConstantDelay { delay_secs: 300 }),
        ),
    ];
    for (expr, want) in standard {
        assert_eq!(parse_standard(expr), Ok(want), "{expr}");
    }
}

/// Every schedule kube-apiserver refuses, with the exact text it shows
/// (`spec.schedule: Invalid value: "<s>": <this>`): robfig's error paths,
/// including the cases of `TestRange`, `TestErrors`,
/// `TestStandardSpecSchedule`, `TestSlash0NoHang` and the reference's
/// list. The black-box tests send the same table through kubectl.
pub(crate) const INVALID_SCHEDULES: &[(&str, &str)] = &[
    ("xyz", "expected exactly 5 fields, found 1: [xyz]"),
    ("60 0 * * *", "end of range (60) above maximum (59): 60"),
    ("0 60 * * *", "end of range (60) above maximum (23): 60"),
    (
        "0 0 * * XYZ",
        r#"failed to parse int from XYZ: strconv.Atoi: parsing "XYZ": invalid syntax"#,
    ),
    (
        "5 j * * *",
        r#"failed to parse int from j: strconv.Atoi: parsing "j": invalid syntax"#,
    ),
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    (
        "* * * * * *",
        "expected exactly 5 fields, found 6: [* * * * * *]",
    ),
    ("   ", "expected exactly 5 fields, found 0: []"),
    ("@unrecognized", "unrecognized descriptor: @unrecognized"),
    (
        "@every Xm",
        r#"failed to parse duration @every Xm: time: invalid duration "Xm""#,
    ),
    (
        "@every 1d",
        r#"failed to parse duration @every 1d: time: unknown unit "d" in duration "1d""#,
    ),
    (
        "@every ",
        r#"failed to parse duration @every : time: invalid duration """#,
    ),
    ("@daily ", "unrecognized descriptor: @daily "),
    (
        "TZ=America/New_York 15/0 * * * *",
        "step of range should be a positive number: 15/0",
    ),
    ("0 0 * * 7", "end of range (7) above maximum (6): 7"),
    ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("0 0 * 13 *", "end of range (13) above maximum (12): 13"),
    ("0 0 * 0 *", "beginning of range (0) below minimum (1): 0"),
    ("5--5 * * * *", "too many hyphens: 5--5"),
    (
        "jan-x * * * *",
        r#"failed to parse int from jan: strconv.Atoi: parsing "jan": invalid syntax"#,
    ),
    (
        "* * * jan-x *",
        r#"failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax"#,
    ),
    ("*/-12 * * * *", "negative number (-12) not allowed: -12"),
    ("*//2 * * * *", "too many slashes: *//2"),
    (
        "5-3 * * * *",
        "beginning of range (5) beyond end of range (3): 5-3",
    ),
    (
        "*/0 * * * *",
        "step of range should be a positive number: */0",
    ),
    (
        "-1 * * * *",
        r#"failed to parse int from : strconv.Atoi: parsing "": invalid syntax"#,
    ),
    (
        "L * * * *",
        r#"failed to parse int from L: strconv.Atoi: parsing "L": invalid syntax"#,
    ),
    (
        "0 0 L * *",
        r#"failed to parse int from L: strconv.Atoi: parsing "L": invalid syntax"#,
    ),
    (
        "0 0 15W * *",
        r#"failed to parse int from 15W: strconv.Atoi: parsing "15W": invalid syntax"#,
    ),
    (
        "0 0 * * 5#3",
        r#"failed to parse int from 5#3: strconv.Atoi: parsing "5#3": invalid syntax"#,
    ),
    (
        "99999999999999999999 * * * *",
        r#"failed to parse int from 99999999999999999999: strconv.Atoi: parsing "99999999999999999999": value out of range"#,
    ),
    (
        "TZ=Nowhere/City * * * * *",
        "provided bad location Nowhere/City: unknown time zone Nowhere/City",
    ),
];

#[test]
fn invalid_schedules_have_robfigs_messages() {
    for (spec, want) in INVALID_SCHEDULES {
        assert_eq!(
            parse_standard(spec).map(|_| ()),
            Err(super::ScheduleError(want.to_string())),
            "{spec:?}"
        );
    }
    assert_eq!(
        parse_standard("").unwrap_err().0,
        "empty spec string",
        "the API refuses an empty schedule as Required before parsing"
    );
}

#[test]
fn accepted_oddities_match_robfig() {
    // `?` is `*`; names are case-insensitive; `N/step` runs to the max;
    // `*-5` is `*` (robfig ignores the hyphen after a star); empty list
    // items are skipped; a sign is accepted by Atoi.
    for spec in [
        "* * * * ?",
        "0 0 * JAN-dec MON-fri",
        "5/15 * * * *",
        "*-5 * * * *",
        "1,,2 * * * *",
        "+5 * * * *",
        "TZ= * * * * *",
        "@every 1h30m",
        "@every 500ms",
        "@every -5m",
        "CRON_TZ=UTC @hourly",
    ] {
        assert!(parse_standard(spec).is_ok(), "{spec}");
    }
}

/// robfig tests' `getTime`: `[TZ=Zone ]<time>` in the machine's zone (UTC
/// here) or the named one; a numeric offset makes a fixed zone.
fn get_time(value: &str) -> Option<(DateTime<Utc>, Zone)> {
    if value.is_empty() {
        return None;
    }
    let (mut zone, value) = match value.strip_prefix("TZ=") {
        Some(rest) => {
            let mut parts = rest.split_whitespace();
            let z = load_location(parts.next().unwrap()).unwrap();
            (z, parts.next().unwrap())
        }
        None => (LOCAL, value),
    };
    if let Ok(t) = DateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%z") {
        let utc = t.with_timezone(&Utc);
        let off = t.offset().local_minus_utc();
        if zone.offset_at(utc.timestamp()) != i64::from(off) {
            zone = Zone::Fixed(off);
        }
        return Some((utc, zone));
    }
    // "Mon Jan 2 15:04[:05[.000]] 2006"
    let f: Vec<&str> = value.split_whitespace().collect();
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == f[1])
    .unwrap() as i64
        + 1;
    let day: i64 = f[2].parse().unwrap();
    let year: i64 = f[4].parse().unwrap();
    let clock: Vec<&str> = f[3].split(':').collect();
    let h: i64 = clock[0].parse().unwrap();
    let m: i64 = clock[1].parse().unwrap();
    let (s, nanos) = match clock.get(2) {
        None => (0, 0),
        Some(s) => match s.split_once('.') {
            None => (s.parse().unwrap(), 0u32),
            Some((s, frac)) => (
                s.parse().unwrap(),
                format!("{frac:0<9}").parse::<u32>().unwrap(),
            ),
        },
    };
    let unix = zone.date(year, month, day, h, m, s);
    Some((DateTime::from_timestamp(unix, nanos).unwrap(), zone))
}

fn next_of(
    spec: &str,
    parse: fn(&str) -> Result<Schedule, super::ScheduleError>,
    time: &str,
) -> Option<DateTime<Utc>> {
    let (t, z) = get_time(time).unwrap();
    parse(spec).unwrap().next(t, z)
}

// spec_test.go TestActivation
#[test]
fn test_activation() {
    let cases = [
        ("Mon Jul 9 15:00 2012", "0/15 * * * *", true),
        ("Mon Jul 9 15:45 2012", "0/15 * * * *", true),
        ("Mon Jul 9 15:40 2012", "0/15 * * * *", false),
        ("Mon Jul 9 15:05 2012", "5/15 * * * *", true),
        ("Mon Jul 9 15:20 2012", "5/15 * * * *", true),
        ("Mon Jul 9 15:50 2012", "5/15 * * * *", true),
        ("Sun Jul 15 15:00 2012", "0/15 * * Jul *", true),
        ("Sun Jul 15 15:00 2012", "0/15 * * Jun *", false),
        ("Sun Jul 15 08:30 2012", "30 08 ? Jul Sun", true),
        ("Sun Jul 15 08:30 2012", "30 08 15 Jul ?", true),
        ("Mon Jul 16 08:30 2012", "30 08 ? Jul Sun", false),
        ("Mon Jul 16 08:30 2012", "30 08 15 Jul ?", false),
        ("Mon Jul 9 15:00 2012", "@hourly", true),
        ("Mon Jul 9 15:04 2012", "@hourly", false),
        ("Mon Jul 9 15:00 2012", "@daily", false),
        ("Mon Jul 9 00:00 2012", "@daily", true),
        ("Mon Jul 9 00:00 2012", "@weekly", false),
        ("Sun Jul 8 00:00 2012", "@weekly", true),
        ("Sun Jul 8 01:00 2012", "@weekly", false),
        ("Sun Jul 8 00:00 2012", "@monthly", false),
        ("Sun Jul 1 00:00 2012", "@monthly", true),
        // DOW and DOM both restricted: either matches.
        ("Sun Jul 15 00:00 2012", "* * 1,15 * Sun", true),
        ("Fri Jun 15 00:00 2012", "* * 1,15 * Sun", true),
        ("Wed Aug 1 00:00 2012", "* * 1,15 * Sun", true),
        ("Sun Jul 15 00:00 2012", "* * */10 * Sun", true),
        // One has a star: both must match.
        ("Sun Jul 15 00:00 2012", "* * * * Mon", false),
        ("Mon Jul 9 00:00 2012", "* * 1,15 * *", false),
        ("Sun Jul 15 00:00 2012", "* * 1,15 * *", true),
        ("Sun Jul 15 00:00 2012", "* * */2 * Sun", true),
    ];
    for (time, spec, expected) in cases {
        let (t, z) = get_time(time).unwrap();
        let got = parse_standard(spec)
            .unwrap()
            .next(t - chrono::Duration::seconds(1), z);
        assert_eq!(got == Some(t), expected, "{spec} on {time}: {got:?}");
    }
}

// spec_test.go TestNext (with the seconds field, as upstream's table)
#[test]
fn test_next() {
    let runs = [
        (
            "Mon Jul 9 14:45 2012",
            "0 0/15 * * * *",
            "Mon Jul 9 15:00 2012",
        ),
        (
            "Mon Jul 9 14:59 2012",
            "0 0/15 * * * *",
            "Mon Jul 9 15:00 2012",
        ),
        (
            "Mon Jul 9 14:59:59 2012",
            "0 0/15 * * * *",
            "Mon Jul 9 15:00 2012",
        ),
        (
            "Mon Jul 9 15:45 2012",
            "0 20-35/15 * * * *",
            "Mon Jul 9 16:20 2012",
        ),
        (
            "Mon Jul 9 23:46 2012",
            "0 */15 * * * *",
            "Tue Jul 10 00:00 2012",
        ),
        (
            "Mon Jul 9 23:45 2012",
            "0 20-35/15 * * * *",
            "Tue Jul 10 00:20 2012",
        ),
        (
            "Mon Jul 9 23:35:51 2012",
            "15/35 20-35/15 * * * *",
            "Tue Jul 10 00:20:15 2012",
        ),
        (
            "Mon Jul 9 23:35:51 2012",
            "15/35 20-35/15 1/2 * * *",
            "Tue Jul 10 01:20:15 2012",
        ),
        (
            "Mon Jul 9 23:35:51 2012",
            "15/35 20-35/15 10-12 * * *",
            "Tue Jul 10 10:20:15 2012",
        ),
        (
            "Mon Jul 9 23:35:51 2012",
            "15/35 20-35/15 1/2 */2 * *",
            "Thu Jul 11 01:20:15 2012",
        ),
        (
            "Mon Jul 9 23:35:51 2012",
            "15/35 20-35/15 * 9-20 * *",
            "Wed Jul 10 00:20:15 2012",
        ),
        (
            "Mon Jul 9 23:35:51 2012",
            "15/35 20-35/15 * 9-20 Jul *",
            "Wed Jul 10 00:20:15 2012",
        ),
        (
            "Mon Jul 9 23:35 2012",
            "0 0 0 9 Apr-Oct ?",
            "Thu Aug 9 00:00 2012",
        ),
        (
            "Mon Jul 9 23:35 2012",
            "0 0 0 */5 Apr,Aug,Oct Mon",
            "Tue Aug 1 00:00 2012",
        ),
        (
            "Mon Jul 9 23:35 2012",
            "0 0 0 */5 Oct Mon",
            "Mon Oct 1 00:00 2012",
        ),
        (
            "Mon Jul 9 23:35 2012",
            "0 0 0 * Feb Mon",
            "Mon Feb 4 00:00 2013",
        ),
        (
            "Mon Jul 9 23:35 2012",
            "0 0 0 * Feb Mon/2",
            "Fri Feb 1 00:00 2013",
        ),
        (
            "Mon Dec 31 23:59:45 2012",
            "0 * * * * *",
            "Tue Jan 1 00:00:00 2013",
        ),
        (
            "Mon Jul 9 23:35 2012",
            "0 0 0 29 Feb ?",
            "Mon Feb 29 00:00 2016",
        ),
        // Daylight savings time 2am EST (-5) -> 3am EDT (-4)
        (
            "2012-03-11T00:00:00-0500",
            "TZ=America/New_York 0 30 2 11 Mar ?",
            "2013-03-11T02:30:00-0400",
        ),
        (
            "2012-03-11T00:00:00-0500",
            "TZ=America/New_York 0 0 * * * ?",
            "2012-03-11T01:00:00-0500",
        ),
        (
            "2012-03-11T01:00:00-0500",
            "TZ=America/New_York 0 0 * * * ?",
            "2012-03-11T03:00:00-0400",
        ),
        (
            "2012-03-11T03:00:00-0400",
            "TZ=America/New_York 0 0 * * * ?",
            "2012-03-11T04:00:00-0400",
        ),
        (
            "2012-03-11T04:00:00-0400",
            "TZ=America/New_York 0 0 * * * ?",
            "2012-03-11T05:00:00-0400",
        ),
        (
            "2012-03-11T00:00:00-0500",
            "CRON_TZ=America/New_York 0 0 * * * ?",
            "2012-03-11T01:00:00-0500",
        ),
        (
            "2012-03-11T01:00:00-0500",
            "CRON_TZ=America/New_York 0 0 * * * ?",
            "2012-03-11T03:00:00-0400",
        ),
        (
            "2012-03-11T03:00:00-0400",
            "CRON_TZ=America/New_York 0 0 * * * ?",
            "2012-03-11T04:00:00-0400",
        ),
        (
            "2012-03-11T04:00:00-0400",
            "CRON_TZ=America/New_York 0 0 * * * ?",
            "2012-03-11T05:00:00-0400",
        ),
        (
            "2012-03-11T00:00:00-0500",
            "TZ=America/New_York 0 0 1 * * ?",
            "2012-03-11T01:00:00-0500",
        ),
        (
            "2012-03-11T01:00:00-0500",
            "TZ=America/New_York 0 0 1 * * ?",
            "2012-03-12T01:00:00-0400",
        ),
        // 2am nightly job (skipped)
        (
            "2012-03-11T00:00:00-0500",
            "TZ=America/New_York 0 0 2 * * ?",
            "2012-03-12T02:00:00-0400",
        ),
        // Daylight savings time 2am EDT (-4) => 1am EST (-5)
        (
            "2012-11-04T00:00:00-0400",
            "TZ=America/New_York 0 30 2 04 Nov ?",
            "2012-11-04T02:30:00-0500",
        ),
        (
            "2012-11-04T01:45:00-0400",
            "TZ=America/New_York 0 30 1 04 Nov ?",
            "2012-11-04T01:30:00-0500",
        ),
        (
            "2012-11-04T00:00:00-0400",
            "TZ=America/New_York 0 0 * * * ?",
            "2012-11-04T01:00:00-0400",
        ),
        (
            "2012-11-04T01:00:00-0400",
            "TZ=America/New_York 0 0 * * * ?",
            "2012-11-04T01:00:00-0500",
        ),
        (
            "2012-11-04T01:00:00-0500",
            "TZ=America/New_York 0 0 * * * ?",
            "2012-11-04T02:00:00-0500",
        ),
        // 1am nightly job (runs twice)
        (
            "2012-11-04T00:00:00-0400",
            "TZ=America/New_York 0 0 1 * * ?",
            "2012-11-04T01:00:00-0400",
        ),
        (
            "2012-11-04T01:00:00-0400",
            "TZ=America/New_York 0 0 1 * * ?",
            "2012-11-04T01:00:00-0500",
        ),
        (
            "2012-11-04T01:00:00-0500",
            "TZ=America/New_York 0 0 1 * * ?",
            "2012-11-05T01:00:00-0500",
        ),
        (
            "2012-11-04T00:00:00-0400",
            "TZ=America/New_York 0 0 2 * * ?",
            "2012-11-04T02:00:00-0500",
        ),
        (
            "2012-11-04T02:00:00-0500",
            "TZ=America/New_York 0 0 2 * * ?",
            "2012-11-05T02:00:00-0500",
        ),
        (
            "2012-11-04T00:00:00-0400",
            "TZ=America/New_York 0 0 3 * * ?",
            "2012-11-04T03:00:00-0500",
        ),
        (
            "2012-11-04T03:00:00-0500",
            "TZ=America/New_York 0 0 3 * * ?",
            "2012-11-05T03:00:00-0500",
        ),
        // The time's own zone when the schedule names none.
        (
            "TZ=America/New_York 2012-11-04T00:00:00-0400",
            "0 0 * * * ?",
            "2012-11-04T01:00:00-0400",
        ),
        (
            "TZ=America/New_York 2012-11-04T01:00:00-0400",
            "0 0 * * * ?",
            "2012-11-04T01:00:00-0500",
        ),
        (
            "TZ=America/New_York 2012-11-04T01:00:00-0500",
            "0 0 * * * ?",
            "2012-11-04T02:00:00-0500",
        ),
        (
            "TZ=America/New_York 2012-11-04T00:00:00-0400",
            "0 0 1 * * ?",
            "2012-11-04T01:00:00-0400",
        ),
        (
            "TZ=America/New_York 2012-11-04T01:00:00-0400",
            "0 0 1 * * ?",
            "2012-11-04T01:00:00-0500",
        ),
        (
            "TZ=America/New_York 2012-11-04T01:00:00-0500",
            "0 0 1 * * ?",
            "2012-11-05T01:00:00-0500",
        ),
        (
            "TZ=America/New_York 2012-11-04T00:00:00-0400",
            "0 0 2 * * ?",
            "2012-11-04T02:00:00-0500",
        ),
        (
            "TZ=America/New_York 2012-11-04T02:00:00-0500",
            "0 0 2 * * ?",
            "2012-11-05T02:00:00-0500",
        ),
        (
            "TZ=America/New_York 2012-11-04T00:00:00-0400",
            "0 0 3 * * ?",
            "2012-11-04T03:00:00-0500",
        ),
        (
            "TZ=America/New_York 2012-11-04T03:00:00-0500",
            "0 0 3 * * ?",
            "2012-11-05T03:00:00-0500",
        ),
        // Unsatisfiable
        ("Mon Jul 9 23:35 2012", "0 0 0 30 Feb ?", ""),
        ("Mon Jul 9 23:35 2012", "0 0 0 31 Apr ?", ""),
        // Monthly job
        (
            "TZ=America/New_York 2012-11-04T00:00:00-0400",
            "0 0 3 3 * ?",
            "2012-12-03T03:00:00-0500",
        ),
        // Midnight missing on a DST day (robfig/cron#157).
        (
            "2018-10-17T05:00:00-0400",
            "TZ=America/Sao_Paulo 0 0 9 10 * ?",
            "2018-11-10T06:00:00-0500",
        ),
        (
            "2018-02-14T05:00:00-0500",
            "TZ=America/Sao_Paulo 0 0 9 22 * ?",
            "2018-02-22T07:00:00-0500",
        ),
    ];
    for (time, spec, expected) in runs {
        let got = next_of(spec, parse_with_seconds, time);
        let want = get_time(expected).map(|(t, _)| t);
        assert_eq!(got, want, "{time}, {spec:?}");
    }
}

// spec_test.go TestErrors
#[test]
fn test_errors() {
    for spec in ["xyz", "60 0 * * *", "0 60 * * *", "0 0 * * XYZ"] {
        assert!(parse_standard(spec).is_err(), "{spec}");
    }
}

// spec_test.go TestNextWithTz
#[test]
fn test_next_with_tz() {
    for (time, spec, expected) in [
        (
            "2016-01-03T13:09:03+0530",
            "14 14 * * *",
            "2016-01-03T14:14:00+0530",
        ),
        (
            "2016-01-03T04:09:03+0530",
            "14 14 * * ?",
            "2016-01-03T14:14:00+0530",
        ),
        (
            "2016-01-03T14:09:03+0530",
            "14 14 * * *",
            "2016-01-03T14:14:00+0530",
        ),
        (
            "2016-01-03T14:00:00+0530",
            "14 14 * * ?",
            "2016-01-03T14:14:00+0530",
        ),
    ] {
        let got = next_of(spec, parse_standard, time);
        assert_eq!(got, get_time(expected).map(|(t, _)| t), "{time} {spec}");
    }
}

// spec_test.go TestSlash0NoHang
#[test]
fn test_slash0_no_hang() {
    assert!(parse_standard("TZ=America/New_York 15/0 * * * *").is_err());
}

// constantdelay_test.go TestConstantDelayNext
#[test]
fn test_constant_delay_next() {
    const S: i64 = 1_000_000_000;
    const M: i64 = 60 * S;
    const H: i64 = 60 * M;
    for (time, delay, expected) in [
        ("Mon Jul 9 14:45 2012", 15 * M + 50, "Mon Jul 9 15:00 2012"),
        ("Mon Jul 9 14:59 2012", 15 * M, "Mon Jul 9 15:14 2012"),
        ("Mon Jul 9 14:59:59 2012", 15 * M, "Mon Jul 9 15:14:59 2012"),
        ("Mon Jul 9 15:45 2012", 35 * M, "Mon Jul 9 16:20 2012"),
        ("Mon Jul 9 23:46 2012", 14 * M, "Tue Jul 10 00:00 2012"),
        ("Mon Jul 9 23:45 2012", 35 * M, "Tue Jul 10 00:20 2012"),
        (
            "Mon Jul 9 23:35:51 2012",
            44 * M + 24 * S,
            "Tue Jul 10 00:20:15 2012",
        ),
        (
            "Mon Jul 9 23:35:51 2012",
            25 * H + 44 * M + 24 * S,
            "Thu Jul 11 01:20:15 2012",
        ),
        (
            "Mon Jul 9 23:35 2012",
            91 * 24 * H + 25 * M,
            "Thu Oct 9 00:00 2012",
        ),
        (
            "Mon Dec 31 23:59:45 2012",
            15 * S,
            "Tue Jan 1 00:00:00 2013",
        ),
        ("Mon Jul 9 14:45 2012", 15 * M + 50, "Mon Jul 9 15:00 2012"),
        (
            "Mon Jul 9 14:45:00 2012",
            15_000_000,
            "Mon Jul 9 14:45:01 2012",
        ),
        (
            "Mon Jul 9 14:45:00.005 2012",
            15 * M,
            "Mon Jul 9 15:00 2012",
        ),
        (
            "Mon Jul 9 14:45:00.005 2012",
            15 * M + 50,
            "Mon Jul 9 15:00 2012",
        ),
    ] {
        let (t, z) = get_time(time).unwrap();
        let got = Schedule::every(delay).next(t, z);
        assert_eq!(got, get_time(expected).map(|(t, _)| t), "{time} {delay}");
    }
}

#[test]
fn next_gives_up_after_five_years() {
    let (t, z) = get_time("Mon Jul 9 23:35 2012").unwrap();
    assert_eq!(parse_standard("0 0 30 2 *").unwrap().next(t, z), None);
    // 29 February on a Monday: 2016 is too far (more than five years on).
    let (t, z) = get_time("Mon Jul 9 23:35 2012").unwrap();
    let leap_monday = parse_standard("0 0 29 2 1").unwrap();
    // DOM and DOW both restricted: ORed, so any Monday in February also runs.
    assert_eq!(
        leap_monday.next(t, z),
        get_time("Mon Feb 4 00:00 2013").map(|(t, _)| t)
    );
}
