//! The embedded store: one SQLite file through `rusqlite` (bundled, so
//! nothing to install), in WAL mode with `synchronous=FULL`, so every
//! acknowledged change survives a crash or power loss.

use std::path::Path;

use keypolicy::lifecycle::Change;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::StoreError;
use crate::materialize::{encode, RowWrite};
use crate::store::{Store, StoredChange};

/// The schema migrations, in order; `PRAGMA user_version` records how many
/// have run. Versioned in the repository, never edited once released.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/0001_initial.sql")];

/// A [`Store`] in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` and migrates it.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::with_connection(Connection::open(path)?)
    }

    /// An in-memory database, for tests.
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::with_connection(Connection::open_in_memory()?)
    }

    fn with_connection(conn: Connection) -> Result<SqliteStore, StoreError> {
        // WAL: readers never block the writer; FULL: a commit is on disk
        // before it is acknowledged (WAL's default, NORMAL, may lose the
        // last commits on power loss).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = SqliteStore { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        if version > known {
            return Err(StoreError::SchemaTooNew {
                found: version,
                supported: known,
            });
        }
        for sql in MIGRATIONS.iter().skip(usize::try_from(version).unwrap_or(0)) {
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", known)?;
        tx.commit()?;
        Ok(())
    }

    /// The schema version (how many migrations have run).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }

    /// The latest revision, `0` when there is no change yet.
    pub fn revision(&self) -> Result<u64, StoreError> {
        let revision: Option<i64> = self
            .conn
            .query_row("SELECT MAX(revision) FROM changes", [], |row| row.get(0))
            .optional()?
            .flatten();
        Ok(revision.and_then(|r| u64::try_from(r).ok()).unwrap_or(0))
    }

    /// Persists many changes of one account in a single transaction (an
    /// import, or a benchmark's setup): all of them or none. Returns the
    /// last revision.
    pub fn append_all<'c>(
        &mut self,
        user: &str,
        changes: impl IntoIterator<Item = &'c Change>,
    ) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let mut revision = 0;
        for change in changes {
            revision = insert_change(&tx, user, change)?;
        }
        tx.commit()?;
        Ok(u64::try_from(revision).unwrap_or(0))
    }

    /// The connection, for inspection (tests, operators' queries).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl Store for SqliteStore {
    fn changes_since(&mut self, revision: u64) -> Result<Vec<StoredChange>, StoreError> {
        let after = i64::try_from(revision).unwrap_or(i64::MAX);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT revision, user, body FROM changes WHERE revision > ?1 ORDER BY revision")?;
        let rows = stmt.query_map([after], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?;
        let mut changes = Vec::new();
        for row in rows {
            let (revision, user, body) = row?;
            let corrupt = |message: String| StoreError::CorruptRow { revision, message };
            let change: Change = serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?;
            let revision = u64::try_from(revision).map_err(|e| corrupt(e.to_string()))?;
            changes.push(StoredChange { revision, user, change });
        }
        Ok(changes)
    }

    fn append(&mut self, user: &str, sequence: u64, change: &Change) -> Result<u64, StoreError> {
        // One transaction: the check, the log row and the materialized
        // rows commit together or not at all (dropping `tx` on an error
        // rolls back). IMMEDIATE takes the write lock at once, so another
        // process sharing the file cannot change the account in between.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: Option<i64> = tx
            .query_row("SELECT changes FROM accounts WHERE user = ?1", [user], |row| row.get(0))
            .optional()?;
        let found = found.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        if found != sequence {
            return Err(StoreError::Conflict {
                user: user.to_owned(),
                expected: sequence,
                found,
            });
        }
        let revision = insert_change(&tx, user, change)?;
        tx.commit()?;
        Ok(u64::try_from(revision).unwrap_or(0))
    }
}

/// Writes one change — the log row and its materialized rows — inside
/// `tx`, and returns its revision.
fn insert_change(tx: &Transaction<'_>, user: &str, change: &Change) -> Result<i64, StoreError> {
    let encoded = encode(change)?;
    tx.prepare_cached("INSERT INTO changes (user, kind, body, at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![user, change.name(), encoded.body, encoded.at])?;
    let revision = tx.last_insert_rowid();
    for write in &encoded.writes {
        materialize(tx, user, &encoded.at, write)?;
    }
    tx.prepare_cached("UPDATE accounts SET revision = ?2, changes = changes + 1 WHERE user = ?1")?
        .execute(params![user, revision])?;
    Ok(revision)
}

/// One row write of a change, in SQLite's SQL (times as RFC 3339 text,
/// booleans as 0/1).
fn materialize(tx: &Transaction<'_>, user: &str, at: &str, write: &RowWrite<'_>) -> Result<(), StoreError> {
    let run = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> Result<(), StoreError> {
        tx.prepare_cached(sql)?.execute(params)?;
        Ok(())
    };
    match write {
        RowWrite::Account {
            default_key,
            default_token,
        } => run(
            "INSERT INTO accounts (user, default_key, default_token, opened, revision, changes) VALUES (?1, ?2, ?3, ?4, 0, 0)",
            params![user, default_key, default_token, at],
        ),
        RowWrite::Key { id, policy, is_default } => run(
            "INSERT INTO keys (id, user, policy, is_default, created, modified) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![id, user, policy, is_default, at],
        ),
        RowWrite::KeyString { digest, key_id } => run(
            "INSERT INTO key_strings (digest, key_id, issued) VALUES (?1, ?2, ?3)",
            params![digest, key_id, at],
        ),
        RowWrite::KeyPolicy { id, policy } => run(
            "UPDATE keys SET policy = ?2, modified = ?3 WHERE id = ?1",
            params![id, policy, at],
        ),
        RowWrite::KeyStringRetired { digest, grace_until } => run(
            "UPDATE key_strings SET retired = ?2, grace_until = ?3 WHERE digest = ?1",
            params![digest, at, grace_until],
        ),
        RowWrite::KeyTouched { id } => run("UPDATE keys SET modified = ?2 WHERE id = ?1", params![id, at]),
        RowWrite::KeyDeleted { id } => {
            run("UPDATE keys SET deleted = ?2 WHERE id = ?1", params![id, at])?;
            run(
                "UPDATE key_strings SET retired = COALESCE(retired, ?2), grace_until = NULL WHERE key_id = ?1",
                params![id, at],
            )
        }
        RowWrite::Token { id, policy, is_default } => run(
            "INSERT INTO tokens (id, user, policy, is_default, created, modified) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![id, user, policy, is_default, at],
        ),
        RowWrite::TokenPolicy { id, policy } => run(
            "UPDATE tokens SET policy = ?2, modified = ?3 WHERE id = ?1",
            params![id, policy, at],
        ),
        RowWrite::TokenDeleted { id } => run("UPDATE tokens SET deleted = ?2 WHERE id = ?1", params![id, at]),
        RowWrite::DefaultToken { id } => run(
            "UPDATE accounts SET default_token = ?2 WHERE user = ?1",
            params![user, id],
        ),
    }
}
