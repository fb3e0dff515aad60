//! Every state change as an explicit, serializable value.
//!
//! An operation ([`Account::create_key`](crate::lifecycle::Account::create_key),
//! [`Account::delete_token`](crate::lifecycle::Account::delete_token), …)
//! reads the state, validates everything, and returns a [`Planned`]: at
//! most one [`Change`] plus the answer — or an error, having changed
//! nothing. [`Account::apply`](crate::lifecycle::Account::apply) is the
//! only function that mutates the state; a durable store persists the
//! changes in order and replays them with it. Every operation yields at
//! most one change, so a change is also the unit of atomicity.
//!
//! Changes hold no secrets: key strings appear only as SHA-256 digests,
//! and token strings not at all (they are re-derived by signing).

use serde::{Deserialize, Serialize};

use crate::key::KeyPolicy;
use crate::lifecycle::key_string::KeyDigest;
use crate::token::{Timestamp, TokenPolicy};

/// One state change. JSON: `{"change": "key_created", …fields}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Change {
    /// The account exists, with its default key and default token.
    AccountOpened {
        /// The account's user name.
        user: String,
        /// The default key's id.
        key_id: String,
        /// The default key string's digest.
        key_digest: KeyDigest,
        /// The default key's policy.
        key_policy: KeyPolicy,
        /// The default token's id.
        token_id: String,
        /// The default token's policy.
        token_policy: TokenPolicy,
        /// When.
        at: Timestamp,
    },
    /// A key was created.
    KeyCreated {
        /// Its id.
        id: String,
        /// Its string's digest.
        digest: KeyDigest,
        /// Its policy.
        policy: KeyPolicy,
        /// When.
        at: Timestamp,
    },
    /// A non-default key's policy was replaced.
    KeyUpdated {
        /// The key's id.
        id: String,
        /// The new policy.
        policy: KeyPolicy,
        /// When.
        at: Timestamp,
    },
    /// A key got a new string; the old one works until `grace_until`
    /// (`None`: it stopped at once).
    KeyRotated {
        /// The key's id.
        id: String,
        /// The digest of the string being retired (its current one).
        retired: KeyDigest,
        /// The new string's digest.
        digest: KeyDigest,
        /// The end of the old string's grace period.
        grace_until: Option<Timestamp>,
        /// When.
        at: Timestamp,
    },
    /// A non-default key was deleted, with every string it had.
    KeyDeleted {
        /// The key's id.
        id: String,
        /// When.
        at: Timestamp,
    },
    /// A `pk`/`sk` token was created (`tk` tokens are not state).
    TokenCreated {
        /// Its id.
        id: String,
        /// Its policy (usage, scopes, URLs, note).
        policy: TokenPolicy,
        /// When.
        at: Timestamp,
    },
    /// A token's policy was replaced.
    TokenUpdated {
        /// The token's id.
        id: String,
        /// The new policy.
        policy: TokenPolicy,
        /// When.
        at: Timestamp,
    },
    /// A non-default token was deleted.
    TokenDeleted {
        /// The token's id.
        id: String,
        /// When.
        at: Timestamp,
    },
    /// The default token was deleted and a new one generated.
    DefaultTokenReplaced {
        /// The deleted default token's id.
        deleted: String,
        /// The new default token's id.
        id: String,
        /// The new default token's policy.
        policy: TokenPolicy,
        /// When.
        at: Timestamp,
    },
}

impl Change {
    /// The change's name, e.g. `key_created`.
    pub fn name(&self) -> &'static str {
        match self {
            Change::AccountOpened { .. } => "account_opened",
            Change::KeyCreated { .. } => "key_created",
            Change::KeyUpdated { .. } => "key_updated",
            Change::KeyRotated { .. } => "key_rotated",
            Change::KeyDeleted { .. } => "key_deleted",
            Change::TokenCreated { .. } => "token_created",
            Change::TokenUpdated { .. } => "token_updated",
            Change::TokenDeleted { .. } => "token_deleted",
            Change::DefaultTokenReplaced { .. } => "default_token_replaced",
        }
    }
}

/// What an operation decided: the change to apply (none for reads and for
/// `tk` tokens, which are not state) and the answer to give once it is
/// applied. Apply it with [`Account::commit`](crate::lifecycle::Account::commit).
#[derive(Debug, Clone)]
#[must_use = "an operation changes nothing until its change is committed"]
pub struct Planned<T> {
    /// The change, if any.
    pub change: Option<Change>,
    /// The answer.
    pub answer: T,
}
