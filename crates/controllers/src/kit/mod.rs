//! The controller kit: the pieces every controller here is built from, as
//! client-go provides them upstream: watch-driven caches, a deduplicating
//! work queue with delayed and rate-limited requeue, expectations, the
//! lightweight object views the caches hold, and the guarded metadata edits
//! the controllers write with.

pub(crate) mod edit;
pub(crate) mod expectations;
pub(crate) mod informer;
pub(crate) mod interned;
pub(crate) mod objects;
pub(crate) mod queue;
