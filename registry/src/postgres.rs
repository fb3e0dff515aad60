//! The fleet store: PostgreSQL, shared by many server processes, through
//! the synchronous `postgres` client.
//!
//! Same data and guarantees as [`SqliteStore`](crate::SqliteStore): the
//! `changes` log with a monotonic revision, the materialized tables, the
//! per-account change count checked inside the append's transaction — and
//! one more duty: the append's transaction `NOTIFY`s [`CHANNEL`] with
//! `{"revision":N,"user":"…"}`, delivered to every listening node when
//! (and only if) it commits. A [`Follower`](crate::Follower) listens.
//!
//! **Revisions become visible in order.** An identity column hands out
//! numbers when rows are inserted, not when transactions commit: with two
//! concurrent appends, revision 6 could commit before 5, a follower could
//! read "everything after 4" as just 6, and then never look below 6 again
//! — 5 would be skipped for good. So every append first takes
//! `LOCK TABLE changes IN EXCLUSIVE MODE`, held until its commit: appends
//! from every node take their revision and commit one at a time, so a
//! revision is only handed out after every smaller one is committed (or
//! rolled back) and visible. `EXCLUSIVE` still lets plain `SELECT`s (the
//! followers' reads) run. It also makes the change-count check and the
//! write atomic against the other nodes' appends.
//!
//! **Durability** is the server's: with PostgreSQL's defaults (`fsync`,
//! `synchronous_commit = on`) an append is on disk when it returns `Ok`.
//!
//! **Connection loss.** The store reconnects on its next use after any
//! database error, so a restarted PostgreSQL costs a node one failed
//! operation, not a restart. An append whose connection breaks while it
//! commits has an unknown outcome (as with any client of any database);
//! the registry then reports the write as failed, and if it did commit,
//! the change reaches every node — the writer too — through the log like
//! any other node's change, so memory never disagrees with the store.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use keypolicy::lifecycle::Change;
use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Statement, Transaction};

use crate::error::StoreError;
use crate::materialize::{encode, json, Encoded, RowWrite};
use crate::store::{Store, StoredChange};

/// The channel every append `NOTIFY`s, with `{"revision":N,"user":"…"}`.
pub const CHANNEL: &str = "keypolicy_changes";

/// The schema migrations, in order; the `keypolicy_schema` table records
/// how many have run. Versioned in the repository, never edited once
/// released.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/postgres/0001_initial.sql")];

/// Serializes migrations of one database across processes starting
/// together (an arbitrary constant: "kpreg" in ASCII).
const MIGRATION_LOCK: i64 = 0x6b_70_72_65_67;

/// How long one connection attempt may take, unless the configuration
/// says otherwise: a node must notice a dead database in bounded time.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A [`Store`] in a PostgreSQL database shared by a fleet of nodes.
pub struct PgStore {
    config: Config,
    client: Option<Connected>,
}

/// A live connection and its prepared statements.
struct Connected {
    client: Client,
    statements: Statements,
}

/// Statements prepared on their first use on a connection (the tables
/// may not exist before the migration), then reused: one round trip per
/// statement instead of two (parse, then execute).
#[derive(Default)]
struct Statements(HashMap<&'static str, Statement>);

/// A transaction that prepares its statements through [`Statements`].
struct Cached<'t, 'c> {
    tx: Transaction<'c>,
    statements: &'t mut Statements,
}

impl Cached<'_, '_> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.prepare(sql)?;
        self.statements.0.insert(sql, statement.clone());
        Ok(statement)
    }

    fn execute(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, postgres::Error> {
        let statement = self.statement(sql)?;
        self.tx.execute(&statement, params)
    }

    fn query_opt(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, postgres::Error> {
        let statement = self.statement(sql)?;
        self.tx.query_opt(&statement, params)
    }

    fn query_one(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, postgres::Error> {
        let statement = self.statement(sql)?;
        self.tx.query_one(&statement, params)
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("database", &describe(&self.config))
            .field("connected", &self.client.is_some())
            .finish()
    }
}

impl PgStore {
    /// Connects to the database at `url` (a libpq URL or key=value string,
    /// e.g. `postgres://app@127.0.0.1:5432/keypolicy`), creating or
    /// migrating the schema. Fails at once when the database cannot be
    /// reached; see [`connect_waiting`](Self::connect_waiting).
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        PgStore::with_config(parse_url(url)?)
    }

    /// [`connect`](Self::connect) with a parsed configuration. Without a
    /// connect timeout, [`DEFAULT_CONNECT_TIMEOUT`] applies.
    pub fn with_config(mut config: Config) -> Result<PgStore, StoreError> {
        bound(&mut config);
        let mut store = PgStore { config, client: None };
        store.migrate()?;
        Ok(store)
    }

    /// Connects like [`with_config`](Self::with_config), but while the
    /// database cannot be reached, retries for up to `max_wait` (with a
    /// growing pause, at most 2 s), printing one line to stderr per failed
    /// attempt; then fails with [`StoreError::Unavailable`]. A node that
    /// starts while PostgreSQL is down therefore waits, bounded, and never
    /// serves an empty index (which could read as "no restriction").
    /// Errors other than an unreachable database (a bad password, a schema
    /// too new) fail at once.
    pub fn connect_waiting(config: Config, max_wait: Duration) -> Result<PgStore, StoreError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        let mut attempts: u32 = 0;
        loop {
            attempts = attempts.saturating_add(1);
            let error = match PgStore::with_config(config.clone()) {
                Ok(store) => return Ok(store),
                Err(StoreError::Postgres(e)) if is_unreachable(&e) => e,
                Err(other) => return Err(other),
            };
            let waited = started.elapsed();
            if waited + pause > max_wait {
                return Err(StoreError::Unavailable {
                    database: describe(&config),
                    waited,
                    attempts,
                    last: error.to_string(),
                });
            }
            eprintln!(
                "keypolicy-registry: PostgreSQL at {} is not reachable ({error}); retrying for up to {} s more",
                describe(&config),
                max_wait.saturating_sub(waited).as_secs()
            );
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// The connection settings (a follower listens with the same).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The live connection, connecting first if there is none (tests,
    /// operators' queries).
    pub fn client(&mut self) -> Result<&mut Client, StoreError> {
        Ok(&mut self.connected()?.client)
    }

    /// The schema version (how many migrations have run).
    pub fn schema_version(&mut self) -> Result<i64, StoreError> {
        let row = self.run(|c| c.client.query_one("SELECT version FROM keypolicy_schema", &[]))?;
        Ok(i64::from(row.get::<_, i32>(0)))
    }

    /// The latest revision, `0` when there is no change yet.
    pub fn revision(&mut self) -> Result<u64, StoreError> {
        let row = self.run(|c| c.client.query_one("SELECT MAX(revision) FROM changes", &[]))?;
        let revision: Option<i64> = row.get(0);
        Ok(revision.and_then(|r| u64::try_from(r).ok()).unwrap_or(0))
    }

    fn connected(&mut self) -> Result<&mut Connected, StoreError> {
        if self.client.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.client = None;
        }
        match &mut self.client {
            Some(connected) => Ok(connected),
            slot @ None => {
                let client = self.config.connect(NoTls)?;
                Ok(slot.insert(Connected {
                    client,
                    statements: Statements::default(),
                }))
            }
        }
    }

    /// Runs `f` on the connection; after a database error the connection
    /// is dropped, so the next use reconnects (a restarted server, a
    /// broken socket) instead of failing forever.
    fn run<T>(&mut self, f: impl FnOnce(&mut Connected) -> Result<T, postgres::Error>) -> Result<T, StoreError> {
        let connected = self.connected()?;
        f(connected).map_err(|e| {
            self.client = None;
            StoreError::Postgres(e)
        })
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
        let client = self.client()?;
        let mut tx = client.transaction()?;
        // Several nodes may start at once: one migrates, the others wait
        // for it and then find nothing to do.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS keypolicy_schema (version integer NOT NULL)")?;
        let version: i32 = match tx.query_opt("SELECT version FROM keypolicy_schema", &[])? {
            Some(row) => row.get(0),
            None => {
                tx.execute("INSERT INTO keypolicy_schema (version) VALUES (0)", &[])?;
                0
            }
        };
        if version > known {
            return Err(StoreError::SchemaTooNew {
                found: i64::from(version),
                supported: i64::from(known),
            });
        }
        for sql in MIGRATIONS.iter().skip(usize::try_from(version).unwrap_or(0)) {
            tx.batch_execute(sql)?;
        }
        tx.execute("UPDATE keypolicy_schema SET version = $1", &[&known])?;
        tx.commit()?;
        Ok(())
    }
}

impl Store for PgStore {
    fn changes_since(&mut self, revision: u64) -> Result<Vec<StoredChange>, StoreError> {
        let after = i64::try_from(revision).unwrap_or(i64::MAX);
        const SQL: &str = "SELECT revision, username, body::text FROM changes WHERE revision > $1 ORDER BY revision";
        let rows = self.run(|c| {
            let statement = match c.statements.0.get(SQL) {
                Some(statement) => statement.clone(),
                None => {
                    let statement = c.client.prepare(SQL)?;
                    c.statements.0.insert(SQL, statement.clone());
                    statement
                }
            };
            c.client.query(&statement, &[&after])
        })?;
        let mut changes = Vec::with_capacity(rows.len());
        for row in rows {
            let revision: i64 = row.get(0);
            let corrupt = |message: String| StoreError::CorruptRow { revision, message };
            let user: String = row.get(1);
            let body: String = row.get(2);
            let change: Change = serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?;
            let revision = u64::try_from(revision).map_err(|e| corrupt(e.to_string()))?;
            changes.push(StoredChange { revision, user, change });
        }
        Ok(changes)
    }

    fn append(&mut self, user: &str, sequence: u64, change: &Change) -> Result<u64, StoreError> {
        // Encode before touching the database: a change that cannot be
        // written costs no transaction.
        let encoded = encode(change)?;
        let connected = self.connected()?;
        let outcome = append_in(connected, user, sequence, change, &encoded);
        if let Err(StoreError::Postgres(_)) = &outcome {
            self.client = None;
        }
        outcome
    }
}

/// One append: the lock, the check, the log row, the materialized rows and
/// the notification, in one transaction (dropping `tx` on an error rolls
/// it back).
fn append_in(
    connected: &mut Connected,
    user: &str,
    sequence: u64,
    change: &Change,
    encoded: &Encoded<'_>,
) -> Result<u64, StoreError> {
    let mut tx = Cached {
        tx: connected.client.transaction()?,
        statements: &mut connected.statements,
    };
    // Why this lock: see the module docs (revisions visible in order).
    tx.tx.batch_execute("LOCK TABLE changes IN EXCLUSIVE MODE")?;
    let found: Option<i64> = tx
        .query_opt("SELECT changes FROM accounts WHERE username = $1", &[&user])?
        .map(|row| row.get(0));
    let found = found.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    if found != sequence {
        return Err(StoreError::Conflict {
            user: user.to_owned(),
            expected: sequence,
            found,
        });
    }
    let revision: i64 = tx
        .query_one(
            "INSERT INTO changes (username, kind, body, at) VALUES ($1, $2, $3::text::jsonb, $4::text::timestamptz) RETURNING revision",
            &[&user, &change.name(), &encoded.body, &encoded.at],
        )?
        .get(0);
    for write in &encoded.writes {
        materialize(&mut tx, user, &encoded.at, write)?;
    }
    tx.execute(
        "UPDATE accounts SET revision = $2, changes = changes + 1 WHERE username = $1",
        &[&user, &revision],
    )?;
    let mut payload = String::with_capacity(48 + user.len());
    // A user name is 1-64 ASCII letters, digits, '-' or '_' (checked by
    // the registry), but encode it as JSON anyway.
    let user_json = json(change, &user)?;
    let _ = write!(payload, "{{\"revision\":{revision},\"user\":{user_json}}}");
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])?;
    tx.tx.commit()?;
    Ok(u64::try_from(revision).unwrap_or(0))
}

/// One row write of a change, in PostgreSQL's SQL (times cast from
/// RFC 3339 text to `timestamptz`, policies to `jsonb`).
fn materialize(tx: &mut Cached<'_, '_>, user: &str, at: &String, write: &RowWrite<'_>) -> Result<(), StoreError> {
    match write {
        RowWrite::Account {
            default_key,
            default_token,
        } => tx.execute(
            "INSERT INTO accounts (username, default_key, default_token, opened, revision, changes) VALUES ($1, $2, $3, $4::text::timestamptz, 0, 0)",
            &[&user, default_key, default_token, at],
        ),
        RowWrite::Key { id, policy, is_default } => tx.execute(
            "INSERT INTO keys (id, username, policy, is_default, created, modified) VALUES ($1, $2, $3::text::jsonb, $4, $5::text::timestamptz, $5::text::timestamptz)",
            &[id, &user, policy, is_default, at],
        ),
        RowWrite::KeyString { digest, key_id } => tx.execute(
            "INSERT INTO key_strings (digest, key_id, issued) VALUES ($1, $2, $3::text::timestamptz)",
            &[digest, key_id, at],
        ),
        RowWrite::KeyPolicy { id, policy } => tx.execute(
            "UPDATE keys SET policy = $2::text::jsonb, modified = $3::text::timestamptz WHERE id = $1",
            &[id, policy, at],
        ),
        RowWrite::KeyStringRetired { digest, grace_until } => tx.execute(
            "UPDATE key_strings SET retired = $2::text::timestamptz, grace_until = $3::text::timestamptz WHERE digest = $1",
            &[digest, at, grace_until],
        ),
        RowWrite::KeyTouched { id } => tx.execute(
            "UPDATE keys SET modified = $2::text::timestamptz WHERE id = $1",
            &[id, at],
        ),
        RowWrite::KeyDeleted { id } => {
            tx.execute(
                "UPDATE keys SET deleted = $2::text::timestamptz WHERE id = $1",
                &[id, at],
            )?;
            tx.execute(
                "UPDATE key_strings SET retired = COALESCE(retired, $2::text::timestamptz), grace_until = NULL WHERE key_id = $1",
                &[id, at],
            )
        }
        RowWrite::Token { id, policy, is_default } => tx.execute(
            "INSERT INTO tokens (id, username, policy, is_default, created, modified) VALUES ($1, $2, $3::text::jsonb, $4, $5::text::timestamptz, $5::text::timestamptz)",
            &[id, &user, policy, is_default, at],
        ),
        RowWrite::TokenPolicy { id, policy } => tx.execute(
            "UPDATE tokens SET policy = $2::text::jsonb, modified = $3::text::timestamptz WHERE id = $1",
            &[id, policy, at],
        ),
        RowWrite::TokenDeleted { id } => tx.execute(
            "UPDATE tokens SET deleted = $2::text::timestamptz WHERE id = $1",
            &[id, at],
        ),
        RowWrite::DefaultToken { id } => tx.execute(
            "UPDATE accounts SET default_token = $2 WHERE username = $1",
            &[&user, id],
        ),
    }?;
    Ok(())
}

/// Bounds how long a dead server can hold a call, unless the
/// configuration already says: connecting ([`DEFAULT_CONNECT_TIMEOUT`]),
/// and sending on a connection whose peer stopped acknowledging (10 s of
/// `TCP_USER_TIMEOUT`, instead of the kernel's ~15 minutes).
pub(crate) fn bound(config: &mut Config) {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(Duration::from_secs(10));
    }
}

/// Parses a connection URL or key=value string. The error names the
/// problem but not the string, which may hold a password.
pub(crate) fn parse_url(url: &str) -> Result<Config, StoreError> {
    url.parse::<Config>()
        .map_err(|e| StoreError::InvalidUrl { message: e.to_string() })
}

/// Where a configuration points, without its password: for log lines.
pub(crate) fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
            postgres::config::Host::Unix(path) => format!("{}:{port}", path.display()),
        })
        .collect();
    format!(
        "{}/{}",
        if hosts.is_empty() {
            "localhost".to_owned()
        } else {
            hosts.join(",")
        },
        config.get_dbname().unwrap_or("(default database)")
    )
}

/// Whether `error` means the server could not be reached (refused, timed
/// out, shutting down or starting up), as opposed to a refusal that
/// waiting will not mend.
pub(crate) fn is_unreachable(error: &postgres::Error) -> bool {
    match error.code() {
        // Class 08 (connection exception), 57P01-57P03 (admin/crash
        // shutdown, cannot connect now: starting up).
        Some(code) => {
            let code = code.code();
            code.starts_with("08") || code.starts_with("57P")
        }
        None => true,
    }
}
