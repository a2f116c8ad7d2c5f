//! Pod re-creation back-off (upstream `pkg/controller/job/backoff_utils.go`).
//!
//! After failures the controller waits before creating replacement pods:
//! `base · 2^(n−1)` capped at `MaxJobPodFailureBackOff` (10 min), measured
//! from the finish time of the last failure. The record lives in memory per
//! Job, so a controller restart resets it, as upstream.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::{self, Clock};
use crate::kit::objects::Pod;

/// Upstream `DefaultJobPodFailureBackOff`.
pub const DEFAULT_POD_FAILURE_BACKOFF: Duration = Duration::from_secs(10);
/// Upstream `MaxJobPodFailureBackOff` (the docs say six minutes; the code caps at ten).
pub const MAX_POD_FAILURE_BACKOFF: Duration = Duration::from_secs(10 * 60);

/// Upstream `backoffRecord`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackoffRecord {
    pub failures_after_last_success: i32,
    pub last_failure_time: Option<DateTime<Utc>>,
}

impl BackoffRecord {
    /// Upstream `newBackoffRecord`: folds this sync's newly finished pods
    /// into the previous record.
    pub fn next(&self, new_succeeded: &[&Pod], new_failed: &[&Pod]) -> BackoffRecord {
        let mut succeeded: Vec<DateTime<Utc>> =
            new_succeeded.iter().map(|p| finished_time(p)).collect();
        let mut failed: Vec<DateTime<Utc>> = new_failed.iter().map(|p| finished_time(p)).collect();
        succeeded.sort();
        failed.sort();
        let mut b = self.clone();
        match (succeeded.last(), failed.last()) {
            (None, None) => b,
            (None, Some(&last)) => {
                b.failures_after_last_success += failed.len() as i32;
                b.last_failure_time = Some(last);
                b
            }
            (Some(_), None) => BackoffRecord::default(),
            (Some(&last_success), Some(_)) => {
                b = BackoffRecord::default();
                for &t in failed.iter().rev() {
                    if t <= last_success {
                        break;
                    }
                    if b.last_failure_time.is_none() {
                        b.last_failure_time = Some(t);
                    }
                    b.failures_after_last_success += 1;
                }
                b
            }
        }
    }

    /// Upstream `getRemainingTime`.
    pub fn remaining(&self, clock: &dyn Clock, base: Duration, max: Duration) -> Duration {
        remaining_for_failures(
            clock,
            base,
            max,
            self.failures_after_last_success,
            self.last_failure_time,
        )
    }
}

/// Upstream `getRemainingTimeForFailuresCount`.
pub fn remaining_for_failures(
    clock: &dyn Clock,
    base: Duration,
    max: Duration,
    failures: i32,
    last_failure: Option<DateTime<Utc>>,
) -> Duration {
    if failures <= 0 {
        return Duration::ZERO;
    }
    let Some(last) = last_failure else {
        return Duration::ZERO;
    };
    let mut delay = base;
    for _ in 1..failures {
        delay *= 2;
        if delay >= max {
            delay = max;
            break;
        }
    }
    let elapsed = clock::since(clock, last);
    delay.saturating_sub(elapsed)
}

/// Upstream `getRemainingTimePerIndex`: the back-off of one index, from
/// its last failed pod's failure counters.
pub fn remaining_per_index(
    clock: &dyn Clock,
    base: Duration,
    max: Duration,
    last_failed: Option<&Pod>,
) -> Duration {
    let Some(p) = last_failed else {
        return Duration::ZERO;
    };
    let failures = super::indexed::absolute_failure_count(p) + 1;
    remaining_for_failures(clock, base, max, failures, Some(finished_time(p)))
}

/// Upstream `getFinishedTime`: latest container `finishedAt` when every
/// container terminated; else the `Ready=False` transition; else
/// `deletionTimestamp − grace`; else creation.
pub fn finished_time(p: &Pod) -> DateTime<Utc> {
    if let Some(t) = finish_time_from_containers(p) {
        return t;
    }
    if let Some(c) = p.condition("Ready") {
        if &*c.status == "False" {
            if let Some(t) = c.last_transition_time {
                return t;
            }
        }
    }
    if let Some(d) = p.metadata.deletion_timestamp {
        return d - chrono::Duration::seconds(
            p.metadata.deletion_grace_period_seconds.unwrap_or(0),
        );
    }
    p.metadata
        .creation_timestamp
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

fn finish_time_from_containers(p: &Pod) -> Option<DateTime<Utc>> {
    let mut latest: Option<DateTime<Utc>> = None;
    for c in &p.status.container_statuses {
        let t = c.state.terminated.as_ref()?.finished_at?;
        latest = Some(latest.map_or(t, |l| l.max(t)));
    }
    // Sidecars (restartable init containers) finish after regular containers.
    let sidecars: Vec<&str> = p
        .spec
        .init_containers
        .iter()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| &*c.name)
        .collect();
    for c in &p.status.init_container_statuses {
        if !sidecars.contains(&&*c.name) {
            continue;
        }
        let t = c.state.terminated.as_ref()?.finished_at?;
        latest = Some(latest.map_or(t, |l| l.max(t)));
    }
    latest
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // table-driven cases are tuples
mod tests {
    use super::*;
    use crate::clock::FakeClock;
    use serde_json::json;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    fn pod(phase: &str, finished: i64) -> Pod {
        let v = json!({
            "metadata": {"name": format!("p{finished}"), "namespace": "d", "creationTimestamp": "2023-01-01T00:00:00Z"},
            "status": {"phase": phase, "containerStatuses": [
                {"name": "c", "state": {"terminated": {"exitCode": 0, "finishedAt": crate::kit::objects::format_time(t(finished))}}}
            ]}
        });
        Pod::parse(&serde_json::to_vec(&v).unwrap(), 1).unwrap()
    }

    /// Table from upstream `TestNewBackoffRecord` (`backoff_utils_test.go`).
    #[test]
    fn new_backoff_record_follows_upstream() {
        let cases: Vec<(&str, BackoffRecord, Vec<i64>, Vec<i64>, BackoffRecord)> = vec![
            (
                "no new pods keeps the record",
                BackoffRecord {
                    failures_after_last_success: 2,
                    last_failure_time: Some(t(5)),
                },
                vec![],
                vec![],
                BackoffRecord {
                    failures_after_last_success: 2,
                    last_failure_time: Some(t(5)),
                },
            ),
            (
                "only failures add up",
                BackoffRecord {
                    failures_after_last_success: 1,
                    last_failure_time: Some(t(1)),
                },
                vec![],
                vec![10, 3],
                BackoffRecord {
                    failures_after_last_success: 3,
                    last_failure_time: Some(t(10)),
                },
            ),
            (
                "only successes reset",
                BackoffRecord {
                    failures_after_last_success: 4,
                    last_failure_time: Some(t(1)),
                },
                vec![7],
                vec![],
                BackoffRecord::default(),
            ),
            (
                "failures after the last success count",
                BackoffRecord {
                    failures_after_last_success: 4,
                    last_failure_time: Some(t(1)),
                },
                vec![5],
                vec![3, 6, 8],
                BackoffRecord {
                    failures_after_last_success: 2,
                    last_failure_time: Some(t(8)),
                },
            ),
            (
                "failures before the last success are dropped",
                BackoffRecord::default(),
                vec![9],
                vec![3, 6],
                BackoffRecord::default(),
            ),
            (
                "a failure at the same second as the success is not after it",
                BackoffRecord::default(),
                vec![5],
                vec![5],
                BackoffRecord::default(),
            ),
        ];
        for (name, old, succ, fail, want) in cases {
            let sp: Vec<Pod> = succ.iter().map(|&s| pod("Succeeded", s)).collect();
            let fp: Vec<Pod> = fail.iter().map(|&s| pod("Failed", s)).collect();
            let got = old.next(
                &sp.iter().collect::<Vec<_>>(),
                &fp.iter().collect::<Vec<_>>(),
            );
            assert_eq!(got, want, "{name}");
        }
    }

    /// Table from upstream `TestGetRemainingBackoffTime`: 10s doubling,
    /// capped at 10 minutes.
    #[test]
    fn remaining_time_doubles_and_caps() {
        let base = DEFAULT_POD_FAILURE_BACKOFF;
        let max = MAX_POD_FAILURE_BACKOFF;
        let cases: Vec<(&str, i32, i64, u64)> = vec![
            ("no failures", 0, 0, 0),
            ("one failure just now", 1, 0, 10),
            ("one failure 4s ago", 1, 4, 6),
            ("one failure 10s ago", 1, 10, 0),
            ("two failures", 2, 0, 20),
            ("three failures 5s ago", 3, 5, 35),
            ("seven failures: 640s capped at 600s", 7, 0, 600),
            ("many failures stay capped", 30, 100, 500),
            ("elapsed beyond the delay", 2, 100, 0),
        ];
        for (name, failures, ago, want) in cases {
            let clock = FakeClock::new(t(1000));
            let rec = BackoffRecord {
                failures_after_last_success: failures,
                last_failure_time: Some(t(1000 - ago)),
            };
            assert_eq!(
                rec.remaining(&clock, base, max),
                Duration::from_secs(want),
                "{name}"
            );
        }
    }

    #[test]
    fn finish_time_falls_back_like_upstream() {
        let v = json!({"metadata": {"name": "p", "creationTimestamp": "2023-01-01T00:00:00Z",
            "deletionTimestamp": "2023-01-01T00:01:00Z", "deletionGracePeriodSeconds": 30},
            "status": {"phase": "Failed", "containerStatuses": [{"name": "c", "state": {"running": {}}}]}});
        let p = Pod::parse(&serde_json::to_vec(&v).unwrap(), 1).unwrap();
        assert_eq!(
            format!("{}", finished_time(&p).format("%H:%M:%S")),
            "00:00:30"
        );
        let v = json!({"metadata": {"name": "p", "creationTimestamp": "2023-01-01T00:00:00Z"},
            "status": {"phase": "Failed", "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": "2023-01-01T00:00:07Z"}]}});
        let p = Pod::parse(&serde_json::to_vec(&v).unwrap(), 1).unwrap();
        assert_eq!(
            format!("{}", finished_time(&p).format("%H:%M:%S")),
            "00:00:07"
        );
    }
}
