//! Time as the controllers see it.
//!
//! Every time-dependent rule (pod re-creation back-off, `activeDeadlineSeconds`,
//! TTL expiry, condition timestamps) reads the clock through this trait, so
//! unit tests drive those rules with a [`FakeClock`] instead of sleeping.
//! Upstream does the same with `k8s.io/utils/clock`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

/// A source of "now".
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Clone)]
pub struct FakeClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl FakeClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        FakeClock {
            now: Arc::new(Mutex::new(now)),
        }
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock() = now;
    }

    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.now.lock();
        *now += chrono::Duration::from_std(by).expect("duration in range");
    }
}

impl FakeClock {
    /// The current fake time (same as [`Clock::now`], without the trait in scope).
    pub fn now_for_tests(&self) -> DateTime<Utc> {
        *self.now.lock()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock()
    }
}

/// `now - then` as a std duration, zero when `then` is in the future.
pub(crate) fn since(clock: &dyn Clock, then: DateTime<Utc>) -> std::time::Duration {
    (clock.now() - then).to_std().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_moves_only_when_told() {
        let t0 = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = FakeClock::new(t0);
        assert_eq!(c.now(), t0);
        c.advance(std::time::Duration::from_secs(10));
        assert_eq!(since(&c, t0), std::time::Duration::from_secs(10));
        assert_eq!(
            since(&c, t0 + chrono::Duration::seconds(60)),
            std::time::Duration::ZERO
        );
    }
}
