//! The node crate's error type.

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The supervisor could not be started or reached.
    #[error("supervisor: {0}")]
    Supervisor(String),
    /// A request the API maps to 400 Bad Request (log options, container names).
    #[error("{0}")]
    BadRequest(String),
    /// Something asked for does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// An exec or attach names a container that is not running (the
    /// kubelet's wording, which kubectl shows after `unable to upgrade
    /// connection: `).
    #[error("container not found ({0:?})")]
    ContainerNotFound(String),
    /// A port-forward could not reach the port in the pod.
    #[error("{0}")]
    Forward(String),
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
