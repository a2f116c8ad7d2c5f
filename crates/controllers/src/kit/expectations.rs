//! Expectations: what a controller has asked for and not yet seen.
//!
//! After a sync issues N pod creates, the next sync must not trust a cache
//! that has not yet seen those N pods, or it would create them again.
//! Upstream `pkg/controller/controller_utils.go` (`ControllerExpectations`)
//! keeps counters with a 5-minute timeout; deletions here are tracked by pod
//! UID, which is exact where upstream's counter can be lowered twice for one
//! pod. The finalizer-removal expectations follow
//! `pkg/controller/job/tracking_utils.go` (`uidTrackingExpectations`): pods
//! whose tracking finalizer removal was issued are not counted again until
//! the cache shows the finalizer gone.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Upstream `ExpectationsTimeout`.
pub(crate) const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Default)]
struct Entry {
    adds: i64,
    deletes: HashSet<String>,
    since: Option<Instant>,
}

/// Pending pod creations and deletions per controller key.
#[derive(Debug, Default)]
pub(crate) struct Expectations {
    inner: Mutex<HashMap<String, Entry>>,
}

impl Expectations {
    /// True when nothing is pending (or the expectations timed out).
    pub(crate) fn satisfied(&self, key: &str) -> bool {
        let m = self.inner.lock();
        match m.get(key) {
            None => true,
            Some(e) => {
                (e.adds <= 0 && e.deletes.is_empty())
                    || e.since.is_some_and(|t| t.elapsed() > EXPECTATIONS_TIMEOUT)
            }
        }
    }

    pub(crate) fn expect_creations(&self, key: &str, n: usize) {
        let mut m = self.inner.lock();
        let e = m.entry(key.to_string()).or_default();
        e.adds += n as i64;
        e.since = Some(Instant::now());
    }

    pub(crate) fn creation_observed(&self, key: &str) {
        if let Some(e) = self.inner.lock().get_mut(key) {
            e.adds -= 1;
        }
    }

    pub(crate) fn expect_deletion(&self, key: &str, uid: &str) {
        let mut m = self.inner.lock();
        let e = m.entry(key.to_string()).or_default();
        e.deletes.insert(uid.to_string());
        e.since = Some(Instant::now());
    }

    pub(crate) fn deletion_observed(&self, key: &str, uid: &str) {
        if let Some(e) = self.inner.lock().get_mut(key) {
            e.deletes.remove(uid);
        }
    }

    pub(crate) fn delete(&self, key: &str) {
        self.inner.lock().remove(key);
    }
}

/// Pod UIDs whose tracking-finalizer removal is in flight, per Job key.
#[derive(Debug, Default)]
pub(crate) struct FinalizerExpectations {
    inner: Mutex<HashMap<String, HashSet<String>>>,
}

impl FinalizerExpectations {
    pub(crate) fn expect_removal(&self, key: &str, uid: &str) {
        self.inner
            .lock()
            .entry(key.to_string())
            .or_default()
            .insert(uid.to_string());
    }

    pub(crate) fn removal_observed(&self, key: &str, uid: &str) {
        let mut m = self.inner.lock();
        if let Some(s) = m.get_mut(key) {
            s.remove(uid);
            if s.is_empty() {
                m.remove(key);
            }
        }
    }

    pub(crate) fn expected(&self, key: &str) -> HashSet<String> {
        self.inner.lock().get(key).cloned().unwrap_or_default()
    }

    pub(crate) fn delete(&self, key: &str) {
        self.inner.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creations_and_deletions_must_be_observed() {
        let e = Expectations::default();
        assert!(e.satisfied("ns/j"));
        e.expect_creations("ns/j", 2);
        e.expect_deletion("ns/j", "u1");
        assert!(!e.satisfied("ns/j"));
        e.creation_observed("ns/j");
        e.creation_observed("ns/j");
        assert!(!e.satisfied("ns/j"));
        e.deletion_observed("ns/j", "u2");
        assert!(
            !e.satisfied("ns/j"),
            "another pod's deletion does not count"
        );
        e.deletion_observed("ns/j", "u1");
        e.deletion_observed("ns/j", "u1");
        assert!(e.satisfied("ns/j"));
    }

    #[test]
    fn finalizer_removals_are_tracked_by_uid() {
        let f = FinalizerExpectations::default();
        f.expect_removal("k", "a");
        f.expect_removal("k", "b");
        f.removal_observed("k", "a");
        assert_eq!(f.expected("k"), HashSet::from(["b".to_string()]));
        f.removal_observed("k", "b");
        assert!(f.expected("k").is_empty());
    }
}
