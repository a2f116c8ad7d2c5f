//! Reliability tests: the engine under faults, load and bad input (kill -9
//! at random instants, a full disk, many and stuck watchers, a corpus of
//! malformed requests, the fuzz corpus replayed on stable). Each module
//! starts real `joblite serve` processes through the black-box fixture and
//! checks what upstream promises: a completion counted exactly once,
//! whatever crashes, no watch event lost, and a 4xx `Status` for bad input
//! that changes nothing.
//!
//! Run with `cargo test -p joblite --test reliability`. The crash campaign
//! has a longer variant: `JOBLITE_CAMPAIGN=long` (see the README's
//! "Reliability" section); `JOBLITE_CAMPAIGN_SEED=<n>` replays a run.

#[path = "../blackbox/harness.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod harness;

/// The fuzz targets' bodies (`fuzz/src/lib.rs`), shared with `cargo fuzz`.
#[path = "../../../../fuzz/src/lib.rs"]
#[allow(unreachable_pub)]
mod fuzz_targets;

mod procs;

mod bad_input;
mod crash_campaign;
mod disk_full;
mod fuzz_regressions;
mod watch_load;
