//! When each CronJob runs next. CronJob status has only the last schedule
//! time; the next one needs the schedule language, which the page does not
//! carry. The page asks when its CronJobs change (no timer).

use api::cron::{self, Zone};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

/// The next run of a CronJob object after `now` (RFC 3339), `None` when
/// suspended or the schedule is invalid.
pub(crate) fn next_run(cj: &Value, now: DateTime<Utc>) -> Option<String> {
    if cj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let schedule = cj.pointer("/spec/schedule")?.as_str()?;
    // Upstream `formatSchedule`: a timeZone becomes a TZ= prefix.
    let spec = match cj.pointer("/spec/timeZone").and_then(Value::as_str) {
        Some(tz) if !schedule.contains("TZ") => format!("TZ={tz} {schedule}"),
        _ => schedule.to_string(),
    };
    let sched = cron::parse_standard(&spec).ok()?;
    let next = sched.next(now, Zone::Local)?;
    Some(next.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// `{name: next}` for the CronJobs of `namespace` (all when `None`),
/// keyed `namespace/name`.
pub(crate) fn next_runs(store: &store::Store, namespace: Option<&str>) -> Value {
    let now = Utc::now();
    let mut out = Map::new();
    for s in store.list(&api::resources::CRONJOBS, namespace).items {
        let cj = s.value();
        let key = format!(
            "{}/{}",
            cj.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or(""),
            cj.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
        );
        out.insert(
            key,
            next_run(&cj, now).map(Value::from).unwrap_or(Value::Null),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn next_run_follows_the_schedule_and_zone() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 10, 7, 0).unwrap();
        let cj = json!({"spec": {"schedule": "*/15 * * * *", "timeZone": "UTC"}});
        assert_eq!(next_run(&cj, now).as_deref(), Some("2026-03-01T10:15:00Z"));
        let tokyo = json!({"spec": {"schedule": "0 9 * * *", "timeZone": "Asia/Tokyo"}});
        assert_eq!(
            next_run(&tokyo, now).as_deref(),
            Some("2026-03-02T00:00:00Z")
        );
        let suspended = json!({"spec": {"schedule": "* * * * *", "suspend": true}});
        assert_eq!(next_run(&suspended, now), None);
        assert_eq!(next_run(&json!({"spec": {"schedule": "bad"}}), now), None);
    }
}
