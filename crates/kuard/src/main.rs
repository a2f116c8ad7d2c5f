//! `kuard`: a small program that behaves as the "Kubernetes Up and
//! Running" demo application does where the book's Job chapter uses it, so
//! the seed's manifests run on joblite's container runtime without any
//! image from outside (see `../shared/reference/kuard.md`):
//!
//! - the keygen workload: RSA-4096 keys with their SSH SHA256
//!   fingerprints, counted (`--keygen-num-to-gen`) or fed by a MemQ queue,
//!   with kuard's flags, log lines and exit codes (`keygen.rs`);
//! - the MemQ server API under `/memq/server` (`memq.rs`);
//! - the HTTP server on `--address` (`:8080`) with `/healthy`, `/ready`,
//!   `/env` and `/keygen` (`http.rs`).
//!
//! Left out: the web UI, TLS, and `/fs` (which serves the whole root
//! filesystem).

mod flags;
mod http;
mod keygen;
mod log;
mod memq;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match flags::parse(&args) {
        Ok(flags::Parsed::Run(c)) => c,
        Ok(flags::Parsed::Help) => {
            eprint!("{}", flags::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("Error: {e}");
            eprint!("{}", flags::USAGE);
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log::printf(&format!("{e}"));
            return ExitCode::from(1);
        }
    };
    rt.block_on(run(config))
}

async fn run(config: flags::Config) -> ExitCode {
    log::printf(&format!(
        "Starting kuard version: {}",
        env!("CARGO_PKG_VERSION")
    ));
    let state = http::State::new(config.clone());
    // As in kuard, the workload starts while the configuration loads,
    // before the listener: a busy port still lets it log, then exit 1.
    if config.keygen.enable {
        state.keygen.start(config.keygen.clone());
    }
    let address = listen_address(&config.address);
    let listener = match tokio::net::TcpListener::bind(&address).await {
        Ok(l) => l,
        Err(e) => {
            log::printf(&format!("listen tcp {}: bind: {e}", config.address));
            return ExitCode::from(1);
        }
    };
    log::printf(&format!("Serving on HTTP on {}", config.address));
    if let Err(e) = axum::serve(listener, http::router(state)).await {
        log::printf(&format!("{e}"));
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Go's `:8080` means every address.
fn listen_address(a: &str) -> String {
    if a.starts_with(':') {
        format!("0.0.0.0{a}")
    } else {
        a.to_string()
    }
}
