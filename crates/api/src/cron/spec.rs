//! robfig/cron v3.0.1 `spec.go` and `constantdelay.go`: the bit-set
//! schedule, its `Next` walk (month → day → hour → minute → second, with
//! the five-year limit), the DOM/DOW rule, and `@every`.

use super::zone::{Unix, Zone};
use chrono::{Datelike, Timelike};

/// Set when the field was `*` or `?` (kept for `*/1`, dropped for `*/N`).
pub const STAR_BIT: u64 = 1 << 63;

/// The range of a field and its names.
pub struct Bounds {
    pub min: u64,
    pub max: u64,
    pub names: &'static [(&'static str, u64)],
}

pub const SECONDS: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
pub const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
pub const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
pub const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
pub const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
pub const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// A crontab schedule as bit sets (robfig `SpecSchedule`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecSchedule {
    pub second: u64,
    pub minute: u64,
    pub hour: u64,
    pub dom: u64,
    pub month: u64,
    pub dow: u64,
    /// The `TZ=` zone; `None` is robfig's `time.Local`, meaning "the zone
    /// of the time passed to `next`".
    pub location: Option<Zone>,
}

fn has(bits: u64, v: u32) -> bool {
    v < 64 && bits & (1u64 << v) != 0
}

impl SpecSchedule {
    /// robfig `Next`: the first activation strictly after `t` (seconds and
    /// nanoseconds since the epoch), walking the wall clock of the schedule's
    /// zone, or of `t_zone` when the schedule has none. `None` is robfig's
    /// zero time: nothing within five years (e.g. `0 0 30 2 *`).
    /// `t` is whole seconds: robfig starts at `t + 1s - t.Nanosecond()`,
    /// which is the next whole second whatever the nanoseconds were.
    pub(crate) fn next(&self, t: Unix, t_zone: Zone) -> Option<Unix> {
        let loc = self.location.unwrap_or(t_zone);
        let mut t = t + 1;
        let mut added = false;
        let year_limit = loc.civil(t).year() + 5;
        'wrap: loop {
            let c = loc.civil(t);
            if c.year() > year_limit {
                return None;
            }
            // Month.
            while !has(self.month, loc.civil(t).month()) {
                if !added {
                    added = true;
                    let c = loc.civil(t);
                    t = loc.date(i64::from(c.year()), i64::from(c.month()), 1, 0, 0, 0);
                }
                t = loc.add_date(t, 0, 1, 0);
                if loc.civil(t).month() == 1 {
                    continue 'wrap;
                }
            }
            // Day: midnight may not exist on a DST day, so the hour is
            // pulled back to 0 after each step.
            while !self.day_matches(loc, t) {
                if !added {
                    added = true;
                    let c = loc.civil(t);
                    t = loc.date(
                        i64::from(c.year()),
                        i64::from(c.month()),
                        i64::from(c.day()),
                        0,
                        0,
                        0,
                    );
                }
                t = loc.add_date(t, 0, 0, 1);
                let h = i64::from(loc.civil(t).hour());
                if h != 0 {
                    if h > 12 {
                        t += (24 - h) * 3600;
                    } else {
                        t -= h * 3600;
                    }
                }
                if loc.civil(t).day() == 1 {
                    continue 'wrap;
                }
            }
            // Hour.
            while !has(self.hour, loc.civil(t).hour()) {
                if !added {
                    added = true;
                    let c = loc.civil(t);
                    t = loc.date(
                        i64::from(c.year()),
                        i64::from(c.month()),
                        i64::from(c.day()),
                        i64::from(c.hour()),
                        0,
                        0,
                    );
                }
                t += 3600;
                if loc.civil(t).hour() == 0 {
                    continue 'wrap;
                }
            }
            // Minute (Go's Truncate works on the absolute time).
            while !has(self.minute, loc.civil(t).minute()) {
                if !added {
                    added = true;
                    t = t.div_euclid(60) * 60;
                }
                t += 60;
                if loc.civil(t).minute() == 0 {
                    continue 'wrap;
                }
            }
            // Second.
            while !has(self.second, loc.civil(t).second()) {
                added = true;
                t += 1;
                if loc.civil(t).second() == 0 {
                    continue 'wrap;
                }
            }
            return Some(t);
        }
    }

    /// robfig `dayMatches`: DOM and DOW are ANDed when either field has the
    /// star bit, ORed otherwise.
    fn day_matches(&self, loc: Zone, t: Unix) -> bool {
        let c = loc.civil(t);
        let dom_match = has(self.dom, c.day());
        let dow_match = has(self.dow, c.weekday().num_days_from_sunday());
        if self.dom & STAR_BIT != 0 || self.dow & STAR_BIT != 0 {
            dom_match && dow_match
        } else {
            dom_match || dow_match
        }
    }
}

/// robfig `ConstantDelaySchedule` (`@every`): a delay of whole seconds, at
/// least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConstantDelay {
    /// Whole seconds.
    pub delay_secs: i64,
}

impl ConstantDelay {
    /// robfig `Every`: below one second becomes one second, and the
    /// sub-second part is dropped.
    pub fn from_nanos(nanos: i64) -> Self {
        let nanos = nanos.max(1_000_000_000);
        ConstantDelay {
            delay_secs: nanos / 1_000_000_000,
        }
    }
}
