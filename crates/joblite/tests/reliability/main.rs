//! Reliability tests: the engine under faults and load. Each module starts
//! real `joblite serve` processes through the black-box fixture.
//!
//! Run with `cargo test -p joblite --test reliability`.

#[path = "../blackbox/harness.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod harness;

mod watch_load;
