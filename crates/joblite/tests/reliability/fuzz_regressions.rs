//! The fuzz corpus and every crash input the fuzzers found, replayed on
//! stable through the same target functions `cargo +nightly fuzz` runs
//! (`fuzz/src/lib.rs`), so CI catches a regression without nightly.
//!
//! Inputs live in `fuzz/corpus/<target>/` (minimised with `cargo fuzz
//! cmin`) and `fuzz/regressions/<target>/` (the crashes, named by what they
//! found). Each runs on a thread with the 2 MiB stack the server's worker
//! threads have, so an input that recurses too deep for the server fails
//! here too.

use std::path::{Path, PathBuf};

use crate::fuzz_targets as t;

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
    }
    files.sort();
    files
}

fn replay(target: &str, f: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no corpus for {target}");
    let mut failed = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let ok = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || f(&data))
            .unwrap()
            .join()
            .is_ok();
        if !ok {
            failed.push(file.display().to_string());
        }
    }
    eprintln!("{target}: {} inputs replayed", files.len());
    assert!(failed.is_empty(), "{target}: inputs that fail: {failed:#?}");
}

#[test]
fn decode_body_corpus() {
    replay("decode_body", t::decode_body);
}

#[test]
fn strategic_merge_patch_corpus() {
    replay("strategic_merge_patch", t::strategic_merge_patch);
}

#[test]
fn selectors_corpus() {
    replay("selectors", t::selectors);
}

#[test]
fn quantity_corpus() {
    replay("quantity", t::quantity);
}

#[test]
fn index_set_corpus() {
    replay("index_set", t::index_set);
}

#[test]
fn supervisor_protocol_corpus() {
    replay("supervisor_protocol", t::supervisor_protocol);
}
