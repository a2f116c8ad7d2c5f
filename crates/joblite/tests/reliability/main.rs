//! Reliability tests: the engine under faults and load (kill -9 at random
//! instants, a full disk, many and stuck watchers, bad input). Each module
//! starts real `joblite serve` processes through the black-box fixture and
//! checks what upstream promises: a completion counted exactly once,
//! whatever crashes, and no watch event lost.
//!
//! Run with `cargo test -p joblite --test reliability`. The crash campaign
//! has a longer variant: `JOBLITE_CAMPAIGN=long` (see the README's
//! "Reliability" section); `JOBLITE_CAMPAIGN_SEED=<n>` replays a run.

#[path = "../blackbox/harness.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod harness;

mod procs;

mod crash_campaign;
mod disk_full;
mod watch_load;
