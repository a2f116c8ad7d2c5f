//! Reliability tests: the engine under faults (kill -9 at random instants,
//! a full disk, bad input). Each module starts real `joblite serve`
//! processes through the black-box fixture and checks what upstream
//! promises: a completion counted exactly once, whatever crashes.
//!
//! Run with `cargo test -p joblite --test reliability`. The crash campaign
//! has a longer variant: `JOBLITE_CAMPAIGN=long` (see the README's
//! "Reliability" section); `JOBLITE_CAMPAIGN_SEED=<n>` replays a run.

#[path = "../blackbox/harness.rs"]
#[allow(dead_code)]
mod harness;

mod procs;

mod crash_campaign;
mod disk_full;
