//! The in-process parts of the engine beside the API server: the
//! controllers and the node agent, started over the same store.

use std::path::Path;
use std::sync::Arc;

use api::status::ApiError;
use futures::future::BoxFuture;
use serde_json::Value;

/// What `serve` needs from the running engine.
pub struct Engine {
    pub logs: Arc<dyn apiserver::PodLogs>,
}

/// The machine's host name, the default node name.
pub fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

struct NodeLogs {
    data_dir: std::path::PathBuf,
}

impl apiserver::PodLogs for NodeLogs {
    fn logs<'a>(
        &'a self,
        pod: &'a Value,
        opts: api::logs::LogOptions,
    ) -> BoxFuture<'a, Result<apiserver::LogStream, ApiError>> {
        Box::pin(async move {
            let _ = (&self.data_dir, pod, opts);
            Err(ApiError::BadRequest("pod logs are not available yet".into()))
        })
    }
}

/// Starts the controllers and the node agent.
pub async fn start(_store: &store::Store, dir: &Path, _node_name: &str) -> anyhow::Result<Engine> {
    Ok(Engine {
        logs: Arc::new(NodeLogs {
            data_dir: dir.to_path_buf(),
        }),
    })
}
