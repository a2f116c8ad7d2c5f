//! Black-box tests: each starts a real `joblite serve` and drives it with
//! real kubectl binaries, raw HTTP and the joblite CLI. One test binary, one
//! module per feature area.

mod harness;

mod api_server;
mod attach;
mod auth;
mod cli;
mod cli_streams;
mod configmaps;
mod container_streams;
mod containers;
mod cronjobs;
mod dashboard;
mod exec;
mod isolation;
mod job_e2e;
mod jobs;
mod metrics;
mod node;
mod portforward;
mod pull_secrets;
mod python_client;
mod runtimeclasses;
mod top;
mod webdriver;
