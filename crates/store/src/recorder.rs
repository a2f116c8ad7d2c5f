//! Records `v1` Events through the store, correlated as client-go's
//! recorder correlates them (`api::events::Correlator`).
//!
//! Writes happen in order on one background task, so a caller never waits
//! for an event and a count bump never overtakes the Event it updates. Each
//! recorder has its own correlator, as each upstream component has its own.

use std::sync::Arc;

use api::events::{Correlator, Source, Write};
use api::resources::EVENTS;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::Store;

/// One component's event recorder. Needs a tokio runtime.
pub struct Recorder {
    correlator: Mutex<Correlator>,
    tx: mpsc::UnboundedSender<Write>,
}

impl Recorder {
    /// A recorder writing to `store` from a background task.
    pub fn new(store: Store) -> Arc<Recorder> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Write>();
        tokio::spawn(async move {
            while let Some(w) = rx.recv().await {
                write(&store, w).await;
            }
        });
        Arc::new(Recorder {
            correlator: Mutex::new(Correlator::default()),
            tx,
        })
    }

    /// Records one event about `involved` (an object with kind, apiVersion
    /// and metadata) from `source` at `now`.
    pub fn record(
        &self,
        involved: &Value,
        warning: bool,
        reason: &str,
        message: &str,
        source: &Source,
        now: DateTime<Utc>,
    ) {
        if let Some(w) = self
            .correlator
            .lock()
            .correlate(involved, warning, reason, message, source, now)
        {
            let _ = self.tx.send(w);
        }
    }
}

async fn write(store: &Store, w: Write) {
    match w {
        Write::Create { mut event } => {
            // Event names carry the time in nanoseconds; on a collision
            // (same nanosecond, or a fake clock) nudge the name and retry.
            for _ in 0..8 {
                match store.create(&EVENTS, event.clone()).await {
                    Err(crate::Error::AlreadyExists(_)) => {
                        let name = event["metadata"]["name"].as_str().unwrap_or("").to_string();
                        event["metadata"]["name"] =
                            format!("{name}{:x}", rand::random::<u8>() & 0xf).into();
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "recording event failed");
                        return;
                    }
                    Ok(_) => return,
                }
            }
        }
        Write::Bump {
            namespace,
            name,
            count,
            message,
            at,
        } => {
            let r = store
                .modify(&EVENTS, &namespace, &name, |mut v| {
                    v["count"] = count.into();
                    v["lastTimestamp"] = api::vocabulary::time_string(at).into();
                    v["message"] = message.clone().into();
                    Ok(Some(v))
                })
                .await;
            if let Err(e) = r {
                tracing::debug!(error = %e, "updating event failed");
            }
        }
    }
}
