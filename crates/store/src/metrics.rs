//! The store's Prometheus metrics: how long a group commit takes (one
//! SQLite transaction with its fsync) and how many writes share it.
//!
//! joblite's own, so `joblite_`-prefixed. Recorded once per commit by the
//! writer thread: two histogram observations per batch, not per write.

use std::sync::LazyLock;

use prometheus::{exponential_buckets, Histogram, HistogramOpts, Registry};

/// `joblite_store_commit_duration_seconds`.
pub static COMMIT_DURATION_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    Histogram::with_opts(
        HistogramOpts::new(
            "joblite_store_commit_duration_seconds",
            "Time to commit one group of store writes to SQLite, fsync included.",
        )
        // 0.25 ms … 4 s.
        .buckets(exponential_buckets(0.00025, 2.0, 15).expect("valid buckets")),
    )
    .expect("valid metric definition")
});

/// `joblite_store_commit_batch_size`.
pub static COMMIT_BATCH_SIZE: LazyLock<Histogram> = LazyLock::new(|| {
    Histogram::with_opts(
        HistogramOpts::new(
            "joblite_store_commit_batch_size",
            "Writes committed together in one transaction (group commit).",
        )
        // 1 … 1024, the writer's largest batch.
        .buckets(exponential_buckets(1.0, 2.0, 11).expect("valid buckets")),
    )
    .expect("valid metric definition")
});

/// Registers the store's metrics.
pub fn register(registry: &Registry) -> prometheus::Result<()> {
    registry.register(Box::new(COMMIT_DURATION_SECONDS.clone()))?;
    registry.register(Box::new(COMMIT_BATCH_SIZE.clone()))?;
    Ok(())
}
