//! The restart rule: whether a container that exited runs again, and when.
//!
//! Upstream: `pkg/kubelet/kuberuntime/kuberuntime_manager.go` (`doBackOff`,
//! `computePodActions`) with `k8s.io/client-go/util/flowcontrol/backoff.go`
//! (`IsInBackOffSince`, `Next`, `hasExpired`): the first restart after a
//! crash is immediate, later ones wait 10 s doubling to 300 s, and a
//! container that ran for longer than twice the cap (10 minutes) starts
//! over at 10 s.

use std::time::{Duration, Instant};

/// `backOffPeriod` in `pkg/kubelet/kubelet.go`.
pub(crate) const INITIAL_BACKOFF: Duration = Duration::from_secs(10);
/// `MaxContainerBackOff` in `pkg/kubelet/kubelet.go`.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// `spec.restartPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    /// Parses the API spelling; absent means Always, as the API defaults it.
    pub(crate) fn parse(s: Option<&str>) -> RestartPolicy {
        match s {
            Some("OnFailure") => RestartPolicy::OnFailure,
            Some("Never") => RestartPolicy::Never,
            _ => RestartPolicy::Always,
        }
    }
}

/// Whether an app container that exited with `exit_code` runs again
/// (`ShouldContainerBeRestarted` in `pkg/kubelet/container/helpers.go`).
pub(crate) fn should_restart(policy: RestartPolicy, exit_code: i32) -> bool {
    match policy {
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => exit_code != 0,
        RestartPolicy::Never => false,
    }
}

/// Whether an init container runs again: init containers of a pod that may
/// restart are retried until they succeed; under Never a failure fails the pod.
pub(crate) fn should_restart_init(policy: RestartPolicy, exit_code: i32) -> bool {
    exit_code != 0 && policy != RestartPolicy::Never
}

/// One container's back-off entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Backoff {
    entry: Option<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    backoff: Duration,
    last_update: Instant,
}

fn has_expired(event: Instant, last_update: Instant) -> bool {
    event.saturating_duration_since(last_update) > MAX_BACKOFF * 2
}

impl Backoff {
    /// `IsInBackOffSince(key, finishedAt)`: the time left to wait before a
    /// container that finished at `finished` may restart, if any.
    pub(crate) fn remaining(&self, finished: Instant, now: Instant) -> Option<Duration> {
        let e = self.entry?;
        if has_expired(now, e.last_update) {
            return None;
        }
        let since = now.saturating_duration_since(finished);
        (since < e.backoff).then(|| e.backoff - since)
    }

    /// The current delay (`Get`), for messages.
    pub(crate) fn current(&self) -> Duration {
        self.entry.map(|e| e.backoff).unwrap_or_default()
    }

    /// `Next(key, finishedAt)`: called as the container is restarted.
    pub(crate) fn next(&mut self, finished: Instant, now: Instant) {
        let backoff = match self.entry {
            Some(e) if !has_expired(finished, e.last_update) => (e.backoff * 2).min(MAX_BACKOFF),
            _ => INITIAL_BACKOFF,
        };
        self.entry = Some(Entry {
            backoff,
            last_update: now,
        });
    }
}

/// Go's `time.Duration.String()` for whole seconds: `10s`, `1m20s`, `5m0s`.
pub(crate) fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{}h{}m{}s", s / 3600, (s % 3600) / 60, s % 60)
    }
}

/// The waiting message of a container in CrashLoopBackOff.
pub(crate) fn backoff_message(
    delay: Duration,
    container: &str,
    pod: &str,
    namespace: &str,
    uid: &str,
) -> String {
    format!(
        "back-off {} restarting failed container={container} pod={pod}_{namespace}({uid})",
        go_duration(delay)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_follow_should_container_be_restarted() {
        let cases = [
            (RestartPolicy::Always, 0, true),
            (RestartPolicy::Always, 1, true),
            (RestartPolicy::OnFailure, 0, false),
            (RestartPolicy::OnFailure, 2, true),
            (RestartPolicy::Never, 0, false),
            (RestartPolicy::Never, 1, false),
        ];
        for (p, code, want) in cases {
            assert_eq!(should_restart(p, code), want, "{p:?} {code}");
        }
        assert!(should_restart_init(RestartPolicy::Always, 1));
        assert!(!should_restart_init(RestartPolicy::Always, 0));
        assert!(!should_restart_init(RestartPolicy::Never, 1));
        assert_eq!(RestartPolicy::parse(None), RestartPolicy::Always);
    }

    /// A container that crashes at once every time: the waits are
    /// 0 (first restart), 10, 20, 40, 80, 160, 300, 300 seconds.
    #[test]
    fn crash_loop_waits_double_to_the_cap() {
        let mut b = Backoff::default();
        let mut now = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..8 {
            let finished = now;
            let wait = b.remaining(finished, now).unwrap_or_default();
            waits.push(wait.as_secs());
            now += wait;
            b.next(finished, now);
            // It runs for one second and fails again.
            now += Duration::from_secs(1);
        }
        // Each wait is measured from the finish, which the 1 s run shifts by nothing.
        assert_eq!(waits, vec![0, 10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn ten_minutes_of_clean_running_resets_the_backoff() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        b.next(t0, t0);
        b.next(t0, t0 + Duration::from_secs(10));
        assert_eq!(b.current(), Duration::from_secs(20));
        // Ran 11 minutes after the last restart, then failed.
        let finished = t0 + Duration::from_secs(10 + 660);
        assert_eq!(b.remaining(finished, finished), None);
        b.next(finished, finished);
        assert_eq!(b.current(), INITIAL_BACKOFF);
    }

    #[test]
    fn messages_use_go_durations() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(
            backoff_message(Duration::from_secs(20), "c", "p", "default", "u1"),
            "back-off 20s restarting failed container=c pod=p_default(u1)"
        );
    }
}
