//! The CronJob schedule language: a port of robfig/cron v3.0.1, the library
//! kube-apiserver (validation) and kube-controller-manager (ControllerV2)
//! call as `cron.ParseStandard(schedule)` and `schedule.Next(t)`.
//!
//! Why a port and not a crate: no Rust cron crate accepts and rejects the
//! same schedules with the same messages (`../shared/reference/cronjob-semantics.md`
//! §7). `cron` needs a seconds field and counts Sunday as 1; `croner` takes
//! 7 for Sunday, `L`/`W`/`#`, ORs day-of-month and day-of-week by default,
//! treats `*/1` as restricted and has no `@every`; `saffron` follows Quartz.
//! kubectl shows the parser's error text to the user (`spec.schedule:
//! Invalid value: "...": end of range (7) above maximum (6): 7`), and the
//! controller's missed-run arithmetic depends on `Next`'s exact DST walk, so
//! both are ported here file by file: [`parser`] (`parser.go`), [`spec`]
//! (`spec.go`, `constantdelay.go`), [`zone`] (the Go `time` behaviour they
//! lean on, with `chrono-tz` for the IANA database) and [`go`]
//! (`strconv.Atoi`, `time.ParseDuration` and their error texts).

mod go;
pub mod parser;
pub mod spec;
#[cfg(test)]
pub(crate) mod tests;
pub mod zone;

use chrono::{DateTime, Utc};

pub use parser::parse_standard;
pub use spec::{ConstantDelay, SpecSchedule};
pub use zone::{load_location, Zone};

/// A parse error; its text is robfig's, as kubectl shows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(pub String);

/// A parsed schedule (robfig's `Schedule` interface).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// A crontab line or a named descriptor (`@daily`, ...).
    Spec(SpecSchedule),
    /// `@every <duration>`.
    Every(ConstantDelay),
}

impl Schedule {
    pub(crate) fn every(nanos: i64) -> Schedule {
        Schedule::Every(ConstantDelay::from_nanos(nanos))
    }

    /// robfig `Next(t)`: the next activation after `t`, or `None` where
    /// robfig returns the zero time (nothing within five years). A schedule
    /// without `TZ=` is evaluated in `local`, as robfig evaluates it in the
    /// location of the time it is given (kube-controller-manager's
    /// `time.Local`).
    pub fn next(&self, t: DateTime<Utc>, local: Zone) -> Option<DateTime<Utc>> {
        let secs = t.timestamp();
        let next = match self {
            Schedule::Spec(s) => s.next(secs, local)?,
            // `t + delay - t.Nanosecond()`.
            Schedule::Every(e) => secs.checked_add(e.delay_secs)?,
        };
        DateTime::<Utc>::from_timestamp(next, 0)
    }

    /// The zone named with `TZ=`/`CRON_TZ=`, if any.
    pub fn location(&self) -> Option<Zone> {
        match self {
            Schedule::Spec(s) => s.location,
            Schedule::Every(_) => None,
        }
    }
}
