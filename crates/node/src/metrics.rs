//! The node's Prometheus metrics (joblite's own, `joblite_`-prefixed):
//! how many pods it runs, its allocatable CPU and memory against what the
//! admitted pods request, and how long each runtime takes to start a
//! container.
//!
//! The gauges move where the agent's own accounting moves (admission and
//! release), so a scrape reads them without walking any pod. The resource
//! gauges follow kube-state-metrics' `kube_node_status_allocatable`
//! shape (`resource`, `unit` labels), so the same panels fit.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Instant;

use parking_lot::Mutex;
use prometheus::{
    exponential_buckets, GaugeVec, HistogramOpts, HistogramVec, IntGauge, Opts, Registry,
};

use crate::admission::Resources;

/// `joblite_running_pods`: pods admitted to the node and not yet terminal.
pub static RUNNING_PODS: LazyLock<IntGauge> = LazyLock::new(|| {
    IntGauge::new(
        "joblite_running_pods",
        "Pods admitted to the node that have not reached a terminal phase.",
    )
    .expect("valid metric definition")
});

/// `joblite_node_allocatable{resource,unit}`.
pub static NODE_ALLOCATABLE: LazyLock<GaugeVec> = LazyLock::new(|| {
    GaugeVec::new(
        Opts::new(
            "joblite_node_allocatable",
            "The node's allocatable resources (cpu in cores, memory in bytes).",
        ),
        &["resource", "unit"],
    )
    .expect("valid metric definition")
});

/// `joblite_node_requested{resource,unit}`.
pub static NODE_REQUESTED: LazyLock<GaugeVec> = LazyLock::new(|| {
    GaugeVec::new(
        Opts::new(
            "joblite_node_requested",
            "Resources requested by the pods admitted to the node and not yet terminal.",
        ),
        &["resource", "unit"],
    )
    .expect("valid metric definition")
});

/// `joblite_runtime_start_duration_seconds{runtime}`.
pub static RUNTIME_START_DURATION_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    HistogramVec::new(
        HistogramOpts::new(
            "joblite_runtime_start_duration_seconds",
            "Time from the node agent's start request to the runtime reporting the container started.",
        )
        // 0.25 ms … 8 s.
        .buckets(exponential_buckets(0.00025, 2.0, 16).expect("valid buckets")),
        &["runtime"],
    )
    .expect("valid metric definition")
});

/// Start requests awaiting their `Started` event: run id → (when, runtime).
static PENDING_STARTS: LazyLock<Mutex<HashMap<String, (Instant, &'static str)>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A start request that never reports back (its pod vanished with the
/// runtime) must not grow the map forever.
const MAX_PENDING_STARTS: usize = 100_000;

/// Registers the node's metrics.
pub fn register(registry: &Registry) -> prometheus::Result<()> {
    registry.register(Box::new(RUNNING_PODS.clone()))?;
    registry.register(Box::new(NODE_ALLOCATABLE.clone()))?;
    registry.register(Box::new(NODE_REQUESTED.clone()))?;
    registry.register(Box::new(RUNTIME_START_DURATION_SECONDS.clone()))?;
    Ok(())
}

fn set(g: &GaugeVec, r: Resources) {
    g.with_label_values(&["cpu", "core"])
        .set(r.cpu_millis as f64 / 1000.0);
    g.with_label_values(&["memory", "byte"])
        .set(r.memory_bytes as f64);
}

/// The node's allocatable resources, set once at start.
pub fn allocatable(r: Resources) {
    set(&NODE_ALLOCATABLE, r);
}

/// A pod was admitted (`true`) or released its resources (`false`);
/// `total` is the agent's running total of requests after it.
pub fn pod_admitted(admitted: bool, total: Resources) {
    set(&NODE_REQUESTED, total);
    if admitted {
        RUNNING_PODS.inc();
    } else {
        RUNNING_PODS.dec();
    }
}

/// The agent asked `runtime` to start run `id`.
pub fn start_requested(id: String, runtime: &'static str) {
    let mut p = PENDING_STARTS.lock();
    if p.len() >= MAX_PENDING_STARTS {
        p.clear();
    }
    p.insert(id, (Instant::now(), runtime));
}

/// The runtime reported on run `id`: `started` observes the latency; an
/// exit or failure only forgets the request.
pub fn start_settled(id: &str, started: bool) {
    let Some((at, runtime)) = PENDING_STARTS.lock().remove(id) else {
        return;
    };
    if started {
        RUNTIME_START_DURATION_SECONDS
            .with_label_values(&[runtime])
            .observe(at.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_latency_is_observed_once_per_start() {
        let h = RUNTIME_START_DURATION_SECONDS.with_label_values(&["test-runtime"]);
        let before = h.get_sample_count();
        start_requested("u_c_0".into(), "test-runtime");
        start_settled("u_c_0", true);
        start_settled("u_c_0", true);
        assert_eq!(h.get_sample_count(), before + 1);
        start_requested("u_c_1".into(), "test-runtime");
        start_settled("u_c_1", false);
        assert_eq!(h.get_sample_count(), before + 1);
    }
}
