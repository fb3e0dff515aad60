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
/// The store is the source of truth; processes hold state derived from it,
/// and several may write to one store. Its contract:
///
/// * Every [`append`](Store::append) is one transaction: when it returns
///   `Ok`, the change is durable; when it returns `Err`, nothing of it was
///   written.
/// * An append names the account's change count it was planned on; if
///   another writer got there first, it fails with
///   [`StoreError::Conflict`] and writes nothing, so no change is ever
///   planned on stale state.
/// * Revisions become visible in order: a reader that has seen revision
///   `r` never later sees a new change below `r`, so "every change after
///   my revision" never skips one.
pub trait Store: Send {
    /// Every change after `revision`, oldest first (`0` for all of them).
    fn changes_since(&mut self, revision: u64) -> Result<Vec<StoredChange>, StoreError>;

    /// Persists one change of `user`'s account — planned on the account's
    /// state after `sequence` changes — with whatever the store keeps
    /// beside the log, in one durable transaction, and returns its
    /// revision.
    fn append(&mut self, user: &str, sequence: u64, change: &Change) -> Result<u64, StoreError>;
}

/// A boxed store is a store, so a server can choose its database at run
/// time (`Registry<Box<dyn Store>>`).
impl<S: Store + ?Sized> Store for Box<S> {
    fn changes_since(&mut self, revision: u64) -> Result<Vec<StoredChange>, StoreError> {
        (**self).changes_since(revision)
    }

    fn append(&mut self, user: &str, sequence: u64, change: &Change) -> Result<u64, StoreError> {
        (**self).append(user, sequence, change)
    }
}
