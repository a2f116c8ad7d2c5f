//! When a CronJob should run: upstream `pkg/controller/cronjob/utils.go`
//! (`mostRecentScheduleTime`, `nextScheduleTime`,
//! `nextScheduleTimeDuration`, `formatSchedule`, `getJobFromTemplate2`,
//! `byJobStartTime`), over [`api::cron`], the robfig/cron port.

use std::cmp::Ordering;

use api::cron::{self, Schedule, Zone};
use api::cronjob::SCHEDULED_TIMESTAMP_ANNOTATION;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::view::CronJob;
use crate::kit::objects::Job;

/// Upstream `nextScheduleDelta`: requeues land 100 ms after the scheduled
/// time, so a slightly early clock still finds the slot due.
pub(crate) const NEXT_SCHEDULE_DELTA: Duration = Duration::milliseconds(100);

/// More missed slots than this is `TooManyMissedTimes`.
pub(crate) const MANY_MISSED: i64 = 100;

/// Upstream `missedSchedulesType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missed {
    None,
    Few,
    Many,
}

/// The outcome of `mostRecentScheduleTime`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MostRecent {
    /// The last schedule time or creation time (or the deadline's start).
    pub earliest: DateTime<Utc>,
    /// The most recent slot at or before now, if any.
    pub recent: Option<DateTime<Utc>>,
    pub missed: Missed,
    /// `time difference between two schedules is less than 1 second`.
    pub err: Option<String>,
}

/// Upstream `mostRecentScheduleTime`: from `lastScheduleTime` (or the
/// creation time), and with `include_deadline` no earlier than
/// `now - startingDeadlineSeconds`, the most recent slot `<= now`. Only the
/// most recent one matters: missed slots before it are never run.
pub(crate) fn most_recent_schedule_time(
    cj: &CronJob,
    now: DateTime<Utc>,
    sched: &Schedule,
    include_deadline: bool,
    local: Zone,
) -> MostRecent {
    let mut earliest = cj
        .status
        .last_schedule_time
        .or(cj.metadata.creation_timestamp)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    if include_deadline {
        if let Some(d) = cj.spec.starting_deadline_seconds {
            let deadline = now - Duration::seconds(d);
            if deadline > earliest {
                earliest = deadline;
            }
        }
    }
    let out = |recent, missed, err| MostRecent {
        earliest,
        recent,
        missed,
        err,
    };
    let t1 = sched.next(earliest, local);
    let t2 = t1.and_then(|t| sched.next(t, local));
    if let Some(t1) = t1 {
        if now < t1 {
            return out(None, Missed::None, None);
        }
        if let Some(t2) = t2 {
            if now < t2 {
                return out(Some(t1), Missed::None, None);
            }
        }
    }
    // An impossible date (`59 23 31 2 *`) parses but never fires.
    let between = match (t1, t2) {
        (Some(t1), Some(t2)) => round_secs(t2 - t1),
        _ => 0,
    };
    if between < 1 {
        return out(
            None,
            Missed::None,
            Some("time difference between two schedules is less than 1 second".into()),
        );
    }
    let t1 = t1.expect("checked above");
    // A rough count of the slots since t1, then a walk from one interval
    // before the estimate, so irregular schedules (`30 6-16/4 * * 1-5`) and
    // `@every` land on the true most recent slot.
    let elapsed = (now - t1).num_seconds();
    let missed_count = elapsed / between + 1;
    let potential = t1 + Duration::seconds((missed_count - 2) * between);
    let mut recent = None;
    let mut t = sched.next(potential, local);
    while let Some(x) = t.filter(|x| *x <= now) {
        recent = Some(x);
        t = sched.next(x, local);
    }
    let missed = if missed_count > MANY_MISSED {
        Missed::Many
    } else if missed_count > 0 {
        Missed::Few
    } else {
        Missed::None
    };
    out(recent, missed, None)
}

/// Go's `Duration.Round(time.Second)`, in seconds.
fn round_secs(d: Duration) -> i64 {
    let ms = d.num_milliseconds();
    if ms >= 0 {
        (ms + 500) / 1000
    } else {
        (ms - 500) / 1000
    }
}

/// Upstream `nextScheduleTimeDuration`: how long until the next slot after
/// the most recent one (or after now, when slots were missed), plus
/// [`NEXT_SCHEDULE_DELTA`].
pub(crate) fn next_schedule_time_duration(
    cj: &CronJob,
    now: DateTime<Utc>,
    sched: &Schedule,
    local: Zone,
) -> Duration {
    let m = most_recent_schedule_time(cj, now, sched, false, local);
    let from = if m.err.is_some() {
        now
    } else {
        match m.recent {
            Some(r) => r,
            None if m.missed == Missed::None => m.earliest,
            None => now,
        }
    };
    match sched.next(from, local) {
        Some(next) => next + NEXT_SCHEDULE_DELTA - now,
        // Nothing within five years: Go computes from the zero time, a
        // hugely negative delay that requeues at once.
        None => Duration::zero(),
    }
}

/// Upstream `nextScheduleTime`: the most recent unmet slot within the
/// starting deadline, whether more than 100 were missed, and the error of
/// an impossible schedule.
pub(crate) fn next_schedule_time(
    cj: &CronJob,
    now: DateTime<Utc>,
    sched: &Schedule,
    local: Zone,
) -> (Option<DateTime<Utc>>, bool, Option<String>) {
    let m = most_recent_schedule_time(cj, now, sched, true, local);
    match m.recent {
        Some(r) if r <= now => (Some(r), m.missed == Missed::Many, m.err),
        _ => (None, false, m.err),
    }
}

/// Upstream `formatSchedule`: a `timeZone` becomes a `TZ=` prefix. The
/// flag says the schedule itself names a zone, which upstream warns about
/// (`UnsupportedSchedule`).
pub(crate) fn format_schedule(cj: &CronJob) -> (String, bool) {
    let s = &cj.spec.schedule;
    if s.contains("TZ") {
        return (s.clone(), true);
    }
    if let Some(tz) = &cj.spec.time_zone {
        if cron::load_location(tz).is_err() {
            return (s.clone(), false);
        }
        return (format!("TZ={tz} {s}"), false);
    }
    (s.clone(), false)
}

/// Upstream `getJobName`: minutes since the epoch, so one slot has one name.
pub(crate) fn job_name(cj_name: &str, scheduled: DateTime<Utc>) -> String {
    format!("{cj_name}-{}", scheduled.timestamp().div_euclid(60))
}

/// Upstream `getJobFromTemplate2`: the Job for one slot, with the
/// template's labels and annotations, the scheduled-timestamp annotation
/// (RFC 3339 in `timeZone`, UTC when unset) and a controller reference.
pub(crate) fn job_from_template(cj: &CronJob, scheduled: DateTime<Utc>) -> Result<Value, String> {
    let tmeta = cj.spec.job_template.get("metadata");
    let copy = |k: &str| -> Map<String, Value> {
        tmeta
            .and_then(|m| m.get(k))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let labels = copy("labels");
    let mut annotations = copy("annotations");
    let zone = cron::load_location(cj.spec.time_zone.as_deref().unwrap_or(""))?;
    annotations.insert(
        SCHEDULED_TIMESTAMP_ANNOTATION.into(),
        zone.rfc3339(scheduled.timestamp()).into(),
    );
    let mut meta = json!({
        "name": job_name(&cj.metadata.name, scheduled),
        "namespace": cj.metadata.namespace,
        "ownerReferences": [{
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": cj.metadata.name,
            "uid": cj.metadata.uid,
            "controller": true,
            "blockOwnerDeletion": true,
        }],
    });
    if !labels.is_empty() {
        meta["labels"] = Value::Object(labels);
    }
    meta["annotations"] = Value::Object(annotations);
    Ok(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": cj.spec.job_template.get("spec").cloned().unwrap_or_else(|| json!({})),
    }))
}

/// Upstream `byJobStartTime`: by `status.startTime`, unset last, then name.
pub(crate) fn by_job_start_time(a: &Job, b: &Job) -> Ordering {
    match (a.status.start_time, b.status.start_time) {
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (x, y) if x == y => a.metadata.name.cmp(&b.metadata.name),
        (x, y) => x.cmp(&y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn top_of_the_hour() -> DateTime<Utc> {
        "2016-05-19T10:00:00Z".parse().unwrap()
    }

    fn after_top(d: Duration) -> DateTime<Utc> {
        top_of_the_hour() + d
    }

    fn cj(
        schedule: &str,
        created: DateTime<Utc>,
        last: Option<DateTime<Utc>>,
        deadline: Option<i64>,
    ) -> CronJob {
        let mut v = json!({
            "metadata": {"name": "mycronjob", "namespace": "default", "uid": "1a2b3c",
                "creationTimestamp": crate::kit::objects::format_time(created)},
            "spec": {"schedule": schedule, "concurrencyPolicy": "Allow", "jobTemplate": {}},
        });
        if let Some(l) = last {
            v["status"] = json!({"lastScheduleTime": crate::kit::objects::format_time(l)});
        }
        if let Some(d) = deadline {
            v["spec"]["startingDeadlineSeconds"] = json!(d);
        }
        CronJob::from_value(v, 1).unwrap()
    }

    fn parse(s: &str) -> Schedule {
        cron::parse_standard(s).unwrap()
    }

    const UTC: Zone = Zone::Utc;
    fn m(x: i64) -> Duration {
        Duration::minutes(x)
    }
    fn h(x: i64) -> Duration {
        Duration::hours(x)
    }

    // utils_test.go TestMostRecentScheduleTime
    #[test]
    fn test_most_recent_schedule_time() {
        let top = top_of_the_hour();
        #[allow(clippy::type_complexity)]
        let cases: Vec<(
            &str,
            CronJob,
            bool,
            DateTime<Utc>,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
            Missed,
            bool,
        )> = vec![
            (
                "now before next schedule",
                cj("0 * * * *", top, None, None),
                false,
                top + Duration::seconds(30),
                top,
                None,
                Missed::None,
                false,
            ),
            (
                "now just after next schedule",
                cj("0 * * * *", top, None, None),
                false,
                top + m(61),
                top,
                Some(after_top(m(60))),
                Missed::None,
                false,
            ),
            (
                "missed 5 schedules",
                cj("0 * * * *", after_top(Duration::seconds(10)), None, None),
                false,
                after_top(m(301)),
                after_top(Duration::seconds(10)),
                Some(after_top(m(300))),
                Missed::Few,
                false,
            ),
            (
                "complex schedule",
                cj("30 6-16/4 * * 1-5", top, Some(after_top(m(30))), None),
                false,
                after_top(h(24) + m(31)),
                after_top(m(30)),
                Some(after_top(h(24) + m(30))),
                Missed::Few,
                false,
            ),
            (
                "another complex schedule",
                cj("30 10,11,12 * * 1-5", top, Some(after_top(m(30))), None),
                false,
                after_top(h(30) + m(30)),
                after_top(m(30)),
                None,
                Missed::Few,
                false,
            ),
            (
                "complex schedule with longer diff between executions",
                cj("30 6-16/4 * * 1-5", top, Some(after_top(m(30))), None),
                false,
                after_top(h(96) + m(31)),
                after_top(m(30)),
                Some(after_top(h(96) + m(30))),
                Missed::Few,
                false,
            ),
            (
                "complex schedule with shorter diff between executions",
                cj("30 6-16/4 * * 1-5", top, None, None),
                false,
                after_top(h(24) + m(31)),
                top,
                Some(after_top(h(24) + m(30))),
                Missed::Few,
                false,
            ),
            (
                "@every schedule",
                cj(
                    "@every 1h",
                    after_top(m(-59)),
                    Some(after_top(m(1))),
                    Some(10),
                ),
                false,
                after_top(h(7 * 24)),
                after_top(m(1)),
                Some(after_top(h(6 * 24) + h(23) + m(1))),
                Missed::Many,
                false,
            ),
            (
                "rogue cronjob",
                cj("59 23 31 2 *", after_top(Duration::seconds(10)), None, None),
                false,
                after_top(h(1)),
                after_top(Duration::seconds(10)),
                None,
                Missed::None,
                true,
            ),
            (
                "earliestTime being CreationTimestamp and LastScheduleTime",
                cj("0 * * * *", top, Some(top), None),
                false,
                after_top(Duration::seconds(30)),
                top,
                None,
                Missed::None,
                false,
            ),
            (
                "earliestTime being LastScheduleTime",
                cj("*/5 * * * *", top, Some(after_top(m(30))), None),
                false,
                after_top(m(31)),
                after_top(m(30)),
                None,
                Missed::None,
                false,
            ),
            (
                "earliestTime being LastScheduleTime (within StartingDeadlineSeconds)",
                cj("*/5 * * * *", top, Some(after_top(m(30))), Some(60)),
                false,
                after_top(m(31)),
                after_top(m(30)),
                None,
                Missed::None,
                false,
            ),
            (
                "earliestTime being LastScheduleTime (outside StartingDeadlineSeconds)",
                cj("*/5 * * * *", top, Some(after_top(m(30))), Some(60)),
                true,
                after_top(m(32)),
                after_top(m(31)),
                None,
                Missed::None,
                false,
            ),
        ];
        for (name, cj, sds, now, earliest, recent, missed, want_err) in cases {
            let got = most_recent_schedule_time(&cj, now, &parse(&cj.spec.schedule), sds, UTC);
            if want_err {
                assert!(got.err.is_some(), "{name}");
                continue;
            }
            assert_eq!(got.err, None, "{name}");
            assert_eq!(got.earliest, earliest, "{name}");
            assert_eq!(got.recent, recent, "{name}");
            assert_eq!(got.missed, missed, "{name}");
        }
    }

    // utils_test.go TestNextScheduleTimeDuration
    #[test]
    fn test_next_schedule_time_duration() {
        let top = top_of_the_hour();
        for (name, cj, now, want) in [
            (
                "complex schedule skipping weekend",
                cj("30 6-16/4 * * 1-5", top, Some(after_top(m(30))), None),
                after_top(h(24) + m(31)),
                h(3) + m(59),
            ),
            (
                "another complex schedule skipping weekend",
                cj("30 10,11,12 * * 1-5", top, Some(after_top(m(30))), None),
                after_top(h(30) + m(30)),
                h(66),
            ),
            (
                "once a week cronjob, missed two runs",
                cj("0 12 * * 4", top, Some(after_top(h(2))), None),
                after_top(h(19 * 24) + h(1) + m(30)),
                h(48) + m(30),
            ),
            (
                "no previous run of a cronjob",
                cj("0 12 * * 5", top, None, None),
                after_top(h(6)),
                h(20),
            ),
        ] {
            let got = next_schedule_time_duration(&cj, now, &parse(&cj.spec.schedule), UTC);
            assert_eq!(got, want + NEXT_SCHEDULE_DELTA, "{name}");
        }
    }

    // utils_test.go TestNextScheduleTime, cases 1-8
    #[test]
    fn test_next_schedule_time() {
        let t1 = top_of_the_hour();
        let t2 = t1 + h(1);
        let s = parse("0 * * * ?");
        let run = |cj: &CronJob, now| next_schedule_time(cj, now, &s, UTC);
        // Case 1: no known start times, and none needed yet.
        assert_eq!(
            run(&cj("0 * * * ?", t1 - m(10), None, None), t1 - m(7)).0,
            None
        );
        // Case 2: no known start times, and one needed.
        assert_eq!(
            run(
                &cj("0 * * * ?", t1 - m(10), None, None),
                t1 + Duration::seconds(2)
            )
            .0,
            Some(t1)
        );
        // Case 3: known LastScheduleTime, no start needed.
        assert_eq!(
            run(&cj("0 * * * ?", t1 - m(10), Some(t1), None), t1 + m(2)).0,
            None
        );
        // Case 4: known LastScheduleTime, a start needed.
        assert_eq!(
            run(&cj("0 * * * ?", t1 - m(10), Some(t1), None), t2 + m(5)).0,
            Some(t2)
        );
        // Case 5: known LastScheduleTime, two starts needed: only the most recent.
        assert_eq!(
            run(
                &cj("0 * * * ?", t1 - h(2), Some(t1 - h(1)), None),
                t2 + m(5)
            )
            .0,
            Some(t2)
        );
        // Case 6: now is way ahead of last start time, and there is no deadline.
        let (t, many, _) = run(
            &cj("0 * * * ?", t1 - h(2), Some(t1 - h(1)), None),
            t2 + h(240),
        );
        assert!(t.is_some() && many);
        // Case 7: ... but there is a short deadline: not too many.
        let (t, many, _) = run(
            &cj("0 * * * ?", t1 - h(2), Some(t1 - h(1)), Some(2 * 3600)),
            t2 + h(240),
        );
        assert!(t.is_some() && !many);
        // Case 8: the error of an impossible schedule comes up.
        let (t, _, err) = next_schedule_time(
            &cj("59 23 31 2 *", t1 + Duration::seconds(10), None, None),
            t2,
            &parse("59 23 31 2 *"),
            UTC,
        );
        assert_eq!(t, None);
        assert!(err.is_some());
    }

    fn job(name: &str, start: Option<&str>) -> Job {
        let mut v = json!({"metadata": {"name": name}});
        if let Some(s) = start {
            v["status"] = json!({"startTime": s});
        }
        Job::parse(&serde_json::to_vec(&v).unwrap(), 1).unwrap()
    }

    // utils_test.go TestByJobStartTime
    #[test]
    fn test_by_job_start_time() {
        let (now, later) = ("2018-01-01T02:03:04Z", "2019-01-01T02:03:04Z");
        let names = |v: &[Job]| {
            v.iter()
                .map(|j| format!("{}{:?}", j.metadata.name, j.status.start_time.is_some()))
                .collect::<Vec<_>>()
        };
        for (name, mut input, want) in [
            (
                "both have nil start times",
                vec![job("b", None), job("a", None)],
                vec!["afalse", "bfalse"],
            ),
            (
                "only the first has a nil start time",
                vec![job("a", None), job("b", Some(now))],
                vec!["btrue", "afalse"],
            ),
            (
                "only the second has a nil start time",
                vec![job("a", Some(now)), job("b", None)],
                vec!["atrue", "bfalse"],
            ),
            (
                "both have non-nil, equal start time",
                vec![job("b", Some(now)), job("a", Some(now))],
                vec!["atrue", "btrue"],
            ),
            (
                "both have non-nil, different start time",
                vec![job("a", Some(later)), job("b", Some(now))],
                vec!["btrue", "atrue"],
            ),
        ] {
            input.sort_by(by_job_start_time);
            assert_eq!(names(&input), want, "{name}");
        }
    }

    // utils_test.go TestGetJobFromTemplate2
    #[test]
    fn test_get_job_from_template2() {
        let top = top_of_the_hour();
        for (name, tz, annotations, want_ts, want_n) in [
            (
                "UTC timezone and one annotation",
                Some("UTC"),
                json!({"x": "y"}),
                "2016-05-19T10:00:00Z",
                2,
            ),
            (
                "nil timezone and one annotation",
                None,
                json!({"x": "y"}),
                "2016-05-19T10:00:00Z",
                2,
            ),
            (
                "correct timezone and multiple annotation",
                Some("Europe/Rome"),
                json!({"x": "y", "z": "x"}),
                "2016-05-19T12:00:00+02:00",
                3,
            ),
        ] {
            let mut c = cj("* * * * ?", top, None, None);
            c.spec.time_zone = tz.map(str::to_string);
            c.spec.job_template = json!({"metadata": {"labels": {"a": "b"}, "annotations": annotations},
                "spec": {"activeDeadlineSeconds": 1, "manualSelector": false,
                    "template": {"metadata": {"labels": {"foo": "bar"}}, "spec": {"containers": [{"image": "foo/bar"}]}}}});
            let j = job_from_template(&c, top).unwrap();
            assert_eq!(
                j["metadata"]["name"],
                format!("mycronjob-{}", top.timestamp() / 60),
                "{name}"
            );
            assert_eq!(j["metadata"]["labels"], json!({"a": "b"}), "{name}");
            assert_eq!(
                j["metadata"]["annotations"].as_object().unwrap().len(),
                want_n,
                "{name}"
            );
            assert_eq!(
                j["metadata"]["annotations"][SCHEDULED_TIMESTAMP_ANNOTATION], want_ts,
                "{name}"
            );
            assert_eq!(
                j["metadata"]["ownerReferences"][0],
                json!({"apiVersion": "batch/v1", "kind": "CronJob",
                "name": "mycronjob", "uid": "1a2b3c", "controller": true, "blockOwnerDeletion": true}),
                "{name}"
            );
            assert_eq!(j["spec"]["activeDeadlineSeconds"], 1, "{name}");
        }
    }

    #[test]
    fn format_schedule_prefixes_the_time_zone() {
        let mut c = cj("0 * * * *", top_of_the_hour(), None, None);
        assert_eq!(format_schedule(&c), ("0 * * * *".into(), false));
        c.spec.time_zone = Some("America/New_York".into());
        assert_eq!(
            format_schedule(&c),
            ("TZ=America/New_York 0 * * * *".into(), false)
        );
        c.spec.time_zone = Some("bad timezone".into());
        assert_eq!(format_schedule(&c), ("0 * * * *".into(), false));
        c.spec.schedule = "TZ=UTC 0 * * * *".into();
        assert_eq!(format_schedule(&c), ("TZ=UTC 0 * * * *".into(), true));
    }

    #[test]
    fn job_names_are_minutes_since_the_epoch() {
        let t: DateTime<Utc> = "2026-12-03T07:40:00Z".parse().unwrap();
        assert_eq!(
            job_name("hello", t),
            format!("hello-{}", t.timestamp() / 60)
        );
        assert_eq!(job_name("hello", t), "hello-29938060");
    }
}
