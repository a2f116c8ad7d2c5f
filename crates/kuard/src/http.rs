//! kuard's HTTP server: the probes (`/healthy`, `/ready`), the process's
//! view of itself (`/env`), the keygen workload's API (`/keygen`) and the
//! MemQ server (`/memq/server`).

use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::flags::{Config, KeygenConfig};
use crate::keygen::Keygen;
use crate::memq::Broker;

#[derive(Clone)]
pub(crate) struct State {
    pub keygen: Keygen,
    pub broker: Broker,
}

impl State {
    pub(crate) fn new(config: Config) -> State {
        State {
            keygen: Keygen::new(config.keygen),
            broker: Broker::default(),
        }
    }
}

async fn ok() -> &'static str {
    "ok"
}

/// `/env/api`: the command line and the environment.
async fn env() -> Response {
    let env: serde_json::Map<String, serde_json::Value> = std::env::vars()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    Json(serde_json::json!({
        "commandLine": std::env::args().collect::<Vec<_>>(),
        "env": env,
    }))
    .into_response()
}

fn keygen_status(k: &Keygen) -> Response {
    Json(serde_json::json!({
        "config": k.config(),
        "history": k.history(),
    }))
    .into_response()
}

async fn keygen_get(Extract(s): Extract<State>) -> Response {
    keygen_status(&s.keygen)
}

async fn keygen_put(Extract(s): Extract<State>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<KeygenConfig>(&body) {
        Ok(c) => {
            s.keygen.start(c);
            keygen_status(&s.keygen)
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    }
}

/// Every route.
pub(crate) fn router(state: State) -> Router {
    let memq = crate::memq::router(state.broker.clone());
    Router::new()
        .route("/healthy", get(ok))
        .route("/ready", get(ok))
        .route("/env", get(env))
        .route("/env/api", get(env))
        .route("/keygen", get(keygen_get).put(keygen_put))
        .with_state(state)
        .nest("/memq/server", memq)
}
