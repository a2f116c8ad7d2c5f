//! Pure Kubernetes API logic for joblite.
//!
//! Everything here is a function over `k8s-openapi` types or JSON values,
//! with no I/O, so the rules the API server enforces can be tested in
//! isolation and reused by the controllers and the CLI.

pub mod cron;
pub mod cronjob;
pub mod defaults;
pub mod describe;
pub mod events;
pub mod index_set;
pub mod logs;
pub mod patch_schema;
pub mod protobuf;
pub mod quantity;
pub mod resources;
pub mod selectors;
pub mod status;
pub mod strategy;
pub mod streams;
pub mod table;
pub mod validation;
pub mod vocabulary;
