//! The store's error type.

use crate::Key;

/// Why a store operation failed. The API server maps each variant to the
/// upstream `Status` reason.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No object has this key.
    #[error("{}/{}/{} not found", .0.resource, .0.namespace, .0.name)]
    NotFound(Key),
    /// Create found the name taken.
    #[error("{}/{}/{} already exists", .0.resource, .0.namespace, .0.name)]
    AlreadyExists(Key),
    /// A compare-and-swap lost: the object changed since the caller read it.
    #[error("{}/{}/{} was modified concurrently", .0.resource, .0.namespace, .0.name)]
    Conflict(Key),
    /// A delete precondition (uid or resourceVersion) did not hold.
    #[error("precondition failed: {0}")]
    Precondition(String),
    /// A watch asked for history that compaction removed.
    #[error("too old resource version: {requested} ({oldest})")]
    Expired { requested: u64, oldest: u64 },
    /// A namespaced create named a namespace that does not exist.
    #[error("namespaces \"{0}\" not found")]
    NamespaceNotFound(String),
    /// A namespaced create named a namespace that is being deleted.
    #[error("unable to create new content in namespace {0} because it is being terminated")]
    NamespaceTerminating(String),
    /// The caller sent something the store cannot hold (no name, bad JSON shape).
    #[error("invalid object: {0}")]
    Invalid(String),
    /// The kind's strategy refused the object (it does not decode, or fails
    /// validation); the error is the `Status` an API client gets.
    #[error("{}", .0.message())]
    Rejected(api::status::ApiError),
    /// A stored object did not decode as the requested type.
    #[error("decode: {0}")]
    Decode(String),
    /// SQLite failed; the write was not committed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The data directory's filesystem is full: the write was not
    /// committed and nothing of it is visible. Reads and watches go on, and
    /// writes work again once space is freed. The model is etcd's `mvcc:
    /// database space exceeded`, which the API server returns as a 500
    /// `Status` with that message.
    #[error("database space exceeded: no space left on the device of {0}; writes fail until space is freed (reads and watches keep working)")]
    SpaceExceeded(String),
    /// SQLite failed to commit for another reason (an I/O error); the write
    /// was not committed.
    #[error("commit failed: {0}")]
    Commit(String),
    /// The store is shutting down.
    #[error("store closed")]
    Closed,
}
