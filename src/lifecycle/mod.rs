//! Credential lifecycle: one account's Mappinest keys and Mapbox-style
//! tokens, managed under the seeds' rules (feature `lifecycle`).
//!
//! Pure like the rest of the crate: no I/O, no clock (`now` is passed in),
//! and randomness from a [`RandomSource`] passed in ([`OsRandom`] for real
//! credentials, [`SeededRandom`] for reproducible tests).
//!
//! ```
//! use keypolicy::lifecycle::{Account, Actor, SeededRandom, SigningKey, SigningKeys, TokenBody, CreatedToken};
//! use keypolicy::{evaluate_key, KeyPolicy, KeyRequest};
//! use keypolicy::key::{KeyType, Resource};
//!
//! let now = "2026-01-01T00:00:00Z".parse()?;
//! let mut rng = SeededRandom::new(1);
//! let signing = SigningKeys::new(SigningKey::new("k2026", &[42; 32])?);
//! let mut account = Account::open("alice", now, &mut rng)?.account;
//!
//! // Keys: the owner creates one; its string is shown once.
//! let policy = KeyPolicy::builder().key_type(KeyType::Web).allowed_domains(["example.com"]).build()?;
//! let planned = account.create_key(policy, now, &mut rng)?;
//! let key = account.commit(planned)?.key.unwrap_or_default();
//! let found = account.find_key(&key, now).map(|k| &k.policy);
//! let request = KeyRequest::new(Resource::Tiles).with_origin("https://example.com");
//! assert!(found.is_some_and(|p| evaluate_key(p, &request).is_allowed()));
//!
//! // Tokens: the owner creates an sk that may manage tokens.
//! let body = TokenBody { scopes: Some(vec!["tokens:write".into()]), ..TokenBody::default() };
//! let planned = account.create_token(&signing, Actor::Owner, body, now, &mut rng)?;
//! let CreatedToken::Permanent(sk) = account.commit(planned)? else { unreachable!() };
//! assert_eq!(sk.usage.as_str(), "sk");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Design
//!
//! * **Operations plan, [`Account::apply`] mutates.** Each operation reads
//!   the [`Account`], validates everything, and returns a [`Planned`] — at
//!   most one explicit, serializable [`Change`] plus the answer — or an
//!   error, having changed nothing. [`Account::commit`] applies the change
//!   and hands back the answer. A durable store persists changes in order
//!   and rebuilds the state with [`Account::replay`].
//! * **No secrets in the state.** Key strings are kept only as SHA-256
//!   [`KeyDigest`]s; token strings not at all: a `pk`/`sk` string is the
//!   signature of `{u, a}`, re-derived when a list shows it.
//! * **Nothing is reused.** Ids and key digests are remembered after
//!   deletion and rotation (tombstones); new ones are drawn again if taken.
//! * **Key strings** ([`key_string`]): `mpk_` + 30 random base62 + a
//!   6-character CRC32 checksum; a mistyped or truncated key is refused
//!   before any lookup.
//! * **Token strings** ([`token_string`]): `usage.payload.signature`,
//!   HMAC-SHA256 with a key id so two signing keys can be live; shape is
//!   checked before any MAC; a `tk` carries its own metadata.
//!
//! ## Decisions the issue left open
//!
//! * A `tk` actor may create only `tk` tokens (422): a permanent token
//!   minted by a temporary one would outlive it. It may update and delete
//!   `pk`/`sk` tokens within its scopes.
//! * `grace_seconds: 0` means no grace, like leaving it out: the old key
//!   string stops at once. Each rotated-away string keeps its own deadline.
//! * Deleting the default token answers 204 with no body; the new default
//!   token is found by listing (or [`Account::default_token_string`]).
//! * A token with no scopes can never be given scopes (422), whether it
//!   was created empty or emptied by an update.
//! * Token payloads are Mapbox's, field for field (no signing-key id):
//!   verification tries the current signing key, then the previous one
//!   during a rotation of the signing secret.
//! * The owner cannot create `tk` tokens (422), as the issue requires.
//! * Retrieve: a verified string of another account, or naming an id this
//!   account never issued, is `TokenInvalid`; an id it deleted is
//!   `TokenRevoked`; a `tk` is `TokenExpired` at or after `exp`. The
//!   `token` object is shown whenever the payload parses, verified or not.
//! * `tk` tokens are not state: creating one yields no [`Change`], and
//!   they cannot be revoked before they expire (at most one hour).

mod account;
mod body;
mod change;
mod error;
pub mod key_string;
mod keys;
pub mod random;
mod token_access;
pub mod token_string;
mod tokens;

pub use account::{default_key_policy, default_token_policy, Account, KeyRecord, Opened, TokenRecord, ID_LEN};
pub use body::{
    CreatedToken, ErrorBody, KeyErrorBody, KeyObject, RetrieveBody, RetrieveCode, RetrievedToken, TemporaryTokenObject,
    TokenObject,
};
pub use change::{Change, Planned};
pub use error::{ApplyError, KeyError, OpenError, TokenError};
pub use key_string::{KeyDigest, KeyString, KeyStringError};
pub use keys::MAX_GRACE_SECONDS;
pub use random::{OsRandom, RandomError, RandomSource, SeededRandom};
pub use token_access::{Actor, ResolvedToken};
pub use token_string::{Claims, SigningKey, SigningKeyError, SigningKeys, TokenStringError, VerifiedToken};
pub use tokens::TokenBody;
