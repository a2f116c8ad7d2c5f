//! Patch formats the API server applies itself.
//!
//! JSON patch (RFC 6902) and JSON merge patch (RFC 7386) come from the
//! `json-patch` crate; strategic merge patch has no Rust implementation, so
//! it lives here, ported from upstream's `strategicpatch` package.

pub mod strategic;
