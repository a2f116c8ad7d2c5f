//! Reliability tests: the server under bad input, and the fuzz corpus
//! replayed on stable. One test binary (`cargo test -p joblite --test
//! reliability`), one module per concern, on the black-box fixture.

#[path = "../blackbox/harness.rs"]
#[allow(dead_code)]
mod harness;

/// The fuzz targets' bodies (`fuzz/src/lib.rs`), shared with `cargo fuzz`.
#[path = "../../../../fuzz/src/lib.rs"]
#[allow(unreachable_pub)]
mod fuzz_targets;

mod bad_input;
mod fuzz_regressions;
