//! A deduplicating work queue with delayed and rate-limited re-adds.
//!
//! Same contract as client-go's `workqueue`: a key is handed to at most one
//! worker at a time; adding a key that is already waiting is a no-op;
//! adding a key that is being processed makes it come back once `done` is
//! called. That is what makes reconcile level-triggered: many events for
//! one Job collapse into one sync that reads the latest state.
//!
//! Delayed adds keep only the earliest pending deadline per key, so a burst
//! of pod events with a batch delay costs one timer, not one per event.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

struct State<K> {
    queue: VecDeque<K>,
    dirty: HashSet<K>,
    processing: HashSet<K>,
    /// Earliest pending deadline of a delayed add, per key.
    waiting: HashMap<K, Instant>,
    failures: HashMap<K, u32>,
}

/// The queue; cheap to clone.
pub(crate) struct WorkQueue<K> {
    state: Arc<Mutex<State<K>>>,
    notify: Arc<Notify>,
    base_delay: Duration,
    max_delay: Duration,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        WorkQueue {
            state: self.state.clone(),
            notify: self.notify.clone(),
            base_delay: self.base_delay,
            max_delay: self.max_delay,
        }
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    /// A queue whose rate-limited retries back off from `base_delay`
    /// doubling up to `max_delay` (the Job controller uses 1 s → 60 s,
    /// `DefaultJobApiBackOff`/`MaxJobApiBackOff` in
    /// `pkg/controller/job/job_controller.go`).
    pub(crate) fn new(base_delay: Duration, max_delay: Duration) -> Self {
        WorkQueue {
            state: Arc::new(Mutex::new(State {
                queue: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashSet::new(),
                waiting: HashMap::new(),
                failures: HashMap::new(),
            })),
            notify: Arc::new(Notify::new()),
            base_delay,
            max_delay,
        }
    }

    /// Queues `key` now.
    pub(crate) fn add(&self, key: K) {
        let mut s = self.state.lock();
        s.waiting.remove(&key);
        if !s.dirty.insert(key.clone()) {
            return;
        }
        if s.processing.contains(&key) {
            return;
        }
        s.queue.push_back(key);
        drop(s);
        self.notify.notify_one();
    }

    /// Queues `key` after `delay` (at once for a zero delay). A pending
    /// earlier deadline for the same key wins.
    pub(crate) fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            self.add(key);
            return;
        }
        let deadline = Instant::now() + delay;
        {
            let mut s = self.state.lock();
            if s.dirty.contains(&key) && !s.processing.contains(&key) {
                return; // already queued to run now
            }
            match s.waiting.get(&key) {
                Some(&d) if d <= deadline => return,
                _ => {
                    s.waiting.insert(key.clone(), deadline);
                }
            }
        }
        let q = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline).await;
            let due = {
                let mut s = q.state.lock();
                match s.waiting.get(&key) {
                    Some(&d) if d == deadline => {
                        s.waiting.remove(&key);
                        true
                    }
                    _ => false,
                }
            };
            if due {
                q.add(key);
            }
        });
    }

    /// Re-queues after a failure with per-key exponential back-off.
    pub(crate) fn add_rate_limited(&self, key: K) {
        let n = {
            let mut s = self.state.lock();
            let n = s.failures.entry(key.clone()).or_insert(0);
            *n += 1;
            *n
        };
        let delay = self
            .base_delay
            .checked_mul(1u32 << (n - 1).min(20))
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        self.add_after(key, delay);
    }

    /// Clears the failure history of `key` (after a successful sync).
    pub(crate) fn forget(&self, key: &K) {
        self.state.lock().failures.remove(key);
    }

    /// Number of failures recorded for `key`.
    #[cfg(test)]
    pub(crate) fn num_requeues(&self, key: &K) -> u32 {
        self.state.lock().failures.get(key).copied().unwrap_or(0)
    }

    /// Waits for the next key; the caller must call [`WorkQueue::done`].
    pub(crate) async fn get(&self) -> K {
        loop {
            let notified = self.notify.notified();
            {
                let mut s = self.state.lock();
                if let Some(k) = s.queue.pop_front() {
                    s.processing.insert(k.clone());
                    s.dirty.remove(&k);
                    if !s.queue.is_empty() {
                        self.notify.notify_one();
                    }
                    return k;
                }
            }
            notified.await;
        }
    }

    /// Marks `key` processed; it runs again if it was added meanwhile.
    pub(crate) fn done(&self, key: &K) {
        let mut s = self.state.lock();
        s.processing.remove(key);
        if s.dirty.contains(key) {
            s.queue.push_back(key.clone());
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Keys waiting to run now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.state.lock().queue.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn adds_are_deduplicated_and_processing_keys_come_back() {
        let q = WorkQueue::new(Duration::from_secs(1), Duration::from_secs(60));
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let k = q.get().await;
        assert_eq!(k, "a");
        q.add("a"); // while processing: comes back after done
        assert_eq!(q.len(), 1);
        q.done(&k);
        assert_eq!(q.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_adds_keep_the_earliest_deadline() {
        let q = WorkQueue::new(Duration::from_secs(1), Duration::from_secs(60));
        q.add_after("a", Duration::from_secs(10));
        q.add_after("a", Duration::from_secs(2));
        q.add_after("a", Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(1900)).await;
        assert!(q.is_empty());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(q.len(), 1);
        let k = q.get().await;
        q.done(&k);
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert!(q.is_empty(), "superseded timers must not fire");
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limited_retries_double_up_to_the_cap() {
        // DefaultJobApiBackOff = 1s, MaxJobApiBackOff = 60s
        // (pkg/controller/job/job_controller.go).
        let q = WorkQueue::new(Duration::from_secs(1), Duration::from_secs(60));
        let cases = [(1u64, "1s"), (2, "2s"), (4, "4s"), (8, "8s")];
        for (secs, name) in cases {
            q.add_rate_limited("k");
            tokio::time::sleep(Duration::from_millis(secs * 1000 - 10)).await;
            assert!(q.is_empty(), "{name}: too early");
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert_eq!(q.len(), 1, "{name}: not re-queued");
            let k = q.get().await;
            q.done(&k);
        }
        for _ in 0..10 {
            q.add_rate_limited("k");
        }
        q.forget(&"k");
        assert_eq!(q.num_requeues(&"k"), 0);
    }
}
