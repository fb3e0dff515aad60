//! The registry's errors.

use keypolicy::lifecycle::{ApplyError, OpenError};

/// Why the store could not read or write.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    /// PostgreSQL refused or failed, or the connection broke (the store
    /// reconnects on its next use).
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    /// PostgreSQL could not be reached within the wait allowed at start.
    #[error("postgres at {database}: not reachable after {attempts} attempts in {waited:?}: {last}")]
    Unavailable {
        /// Where (host, port and database; never the password).
        database: String,
        /// How long the process waited.
        waited: std::time::Duration,
        /// How many times it tried.
        attempts: u32,
        /// The last attempt's error.
        last: String,
    },
    /// The database URL could not be parsed (the URL itself is not
    /// repeated: it may hold a password).
    #[error("database url: {message}")]
    InvalidUrl {
        /// What is wrong with it.
        message: String,
    },
    /// A stored row could not be read back (a corrupt or foreign database).
    #[error("changes row {revision}: {message}")]
    CorruptRow {
        /// The row's revision.
        revision: i64,
        /// What is wrong with it.
        message: String,
    },
    /// The database was written by a newer version of this crate.
    #[error("schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew {
        /// The database's version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// Another writer changed the account first: the change was planned on
    /// a state that is no longer current, and nothing was written.
    #[error("user {user:?}: the change was planned after {expected} changes, but the account has {found}")]
    Conflict {
        /// The account.
        user: String,
        /// The change count the change was planned on.
        expected: u64,
        /// The account's change count in the store.
        found: u64,
    },
    /// A change could not be written as JSON.
    #[error("change {change}: cannot encode it: {message}")]
    Encode {
        /// The change's name.
        change: &'static str,
        /// Why.
        message: String,
    },
}

/// Why a registry operation failed. The lifecycle's own refusals (404,
/// 409, 422…) are not errors here: they come back as the operation's
/// result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The store failed; nothing was changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored change does not fit the state replayed before it.
    #[error("revision {revision} (user {user:?}): {source}")]
    Replay {
        /// The change's revision.
        revision: u64,
        /// Its account.
        user: String,
        /// Why it does not fit.
        source: ApplyError,
    },
    /// A change was written but could not be applied in memory (a bug):
    /// the registry refuses further writes until it is reopened from the
    /// store, which holds the change.
    #[error("change {change} was stored but does not apply: {source}; reopen the registry")]
    Diverged {
        /// The change's name.
        change: &'static str,
        /// Why it does not apply.
        source: ApplyError,
    },
    /// An earlier divergence stopped writes.
    #[error("the registry stopped taking writes after an earlier failure; reopen it")]
    Stopped,
    /// No account has this user name.
    #[error("user: no account {user:?}")]
    UnknownUser {
        /// The name given.
        user: String,
    },
    /// A user name that cannot be an account: 1–64 characters of ASCII
    /// letters, digits, `-` and `_`.
    #[error("user: {user:?} is not a valid user name (1-64 ASCII letters, digits, '-' or '_')")]
    InvalidUser {
        /// The name given.
        user: String,
    },
    /// An account could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
}
