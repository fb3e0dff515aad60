//! # keypolicy-registry
//!
//! A durable registry of [`keypolicy`] credentials: the lifecycle's
//! accounts, keys and tokens, stored as changes in a database and served
//! from an in-memory index.
//!
//! * **The database is the source of truth.** Every change the lifecycle
//!   plans ([`keypolicy::lifecycle::Change`]) is written in one
//!   transaction — a log row with a monotonic revision plus the
//!   materialized rows — before it is applied in memory and acknowledged.
//!   [`SqliteStore`] is the embedded default (one file, WAL,
//!   `synchronous=FULL`); other databases implement the narrow [`Store`]
//!   trait.
//! * **A fleet shares PostgreSQL.** [`PgStore`] keeps the same data with
//!   the same guarantees in a database many server processes share; each
//!   append `NOTIFY`s [`CHANNEL`], and a [`Follower`] thread per process
//!   `LISTEN`s and applies every change since its revision, in order —
//!   also after each reconnect and on a timer, since notifications can be
//!   lost. When the database is gone a node serves its last index
//!   (fail-static) or, configured so, refuses after a maximum staleness
//!   (fail-closed); [`Follower::health`] reports revision, lag and
//!   connection state.
//! * **Secrets never reach the database.** Key strings are kept as SHA-256
//!   digests; token strings not at all (verified by signature with keys
//!   from configuration, metadata found by id).
//! * **The process holds a derived index.** [`CredentialIndex`] maps
//!   digests and token ids to compiled policies; each change edits a few
//!   entries, and readers never take a lock a writer holds.
//! * **The core's seam.** [`Registry`] implements
//!   [`keypolicy::http::KeyLookup`], so `keypolicy`'s HTTP guard and tower
//!   layer serve from it unchanged.
//!
//! ## A fleet node
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use keypolicy::lifecycle::{SigningKey, SigningKeys};
//! use keypolicy_registry::{FollowOptions, Follower, PgConfig, PgStore, Registry};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config: PgConfig = "postgres://app@127.0.0.1:5432/keypolicy".parse()?;
//! // PostgreSQL down at start: wait up to 30 s (one stderr line per
//! // attempt), then fail rather than serve an empty index.
//! let store = PgStore::connect_waiting(config, Duration::from_secs(30))?;
//! let listen_with = store.config().clone();
//! let signing = SigningKeys::new(SigningKey::new("k1", &[7; 32])?);
//! let registry = Arc::new(Registry::open(store, signing)?);
//! // Fail-static by default; `.fail_closed(Duration::from_secs(30))` to
//! // refuse every credential once 30 s pass without a catch-up.
//! let follower = Follower::start(Arc::clone(&registry), listen_with, FollowOptions::default())?;
//! // Serve requests with `registry` (a `keypolicy::http::KeyLookup`); write
//! // through `registry.write(…)`; report `follower.health()` (serializable).
//! let health = follower.health();
//! println!("revision {} lag {:?} ms", health.revision, health.lag_ms);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod error;
mod follow;
mod index;
mod materialize;
mod postgres;
mod registry;
mod sqlite;
mod store;

/// The `postgres` client's connection settings ([`PgStore::with_config`],
/// [`Follower::start`]).
pub use ::postgres::Config as PgConfig;
pub use error::{RegistryError, StoreError};
pub use follow::{ConnectionState, FollowError, FollowOptions, Follower, Health};
pub use index::{unix_now, CredentialIndex, DigestHasher};
pub use postgres::{PgStore, CHANNEL, DEFAULT_CONNECT_TIMEOUT};
pub use registry::{is_valid_user, Registry, MAX_ATTEMPTS};
pub use sqlite::SqliteStore;
pub use store::{Store, StoredChange};
