//! The narrow seam between the registry and its database.

use keypolicy::lifecycle::Change;

use crate::error::StoreError;

/// One persisted change: its revision, its account and the change.
#[derive(Debug, Clone)]
pub struct StoredChange {
    /// The change's revision: monotonic across the whole store, never reused.
    pub revision: u64,
    /// The account the change belongs to.
    pub user: String,
    /// The change.
    pub change: Change,
}

/// Durable storage of lifecycle changes.
///
/// The store is the source of truth; a process holds the state derived
/// from it. Every [`append`](Store::append) is one transaction: when it
/// returns `Ok`, the change is durable; when it returns `Err`, nothing of
/// it was written.
pub trait Store: Send {
    /// Every change after `revision`, oldest first (`0` for all of them).
    fn changes_since(&mut self, revision: u64) -> Result<Vec<StoredChange>, StoreError>;

    /// Persists one change of `user`'s account, with whatever the store
    /// keeps beside the log, in one durable transaction, and returns its
    /// revision.
    fn append(&mut self, user: &str, change: &Change) -> Result<u64, StoreError>;
}
