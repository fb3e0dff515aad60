//! What a change does to the materialized tables, written once for every
//! store: a change becomes its log row's fields and the row writes it
//! implies; each store turns a [`RowWrite`] into its own SQL (placeholders
//! and column types differ, the effects do not).

use keypolicy::lifecycle::{Change, KeyDigest};

use crate::error::StoreError;

/// A change encoded for storage, before any transaction begins (a change
/// that cannot be encoded costs none).
pub(crate) struct Encoded<'c> {
    /// The change itself as JSON: the log row's body.
    pub body: String,
    /// When it happened (RFC 3339): every row it writes carries this time.
    pub at: String,
    /// Its effect on the materialized tables, in order.
    pub writes: Vec<RowWrite<'c>>,
}

/// One effect of a change on the materialized tables (`accounts`, `keys`,
/// `key_strings`, `tokens`). Times are the change's [`Encoded::at`].
pub(crate) enum RowWrite<'c> {
    /// A new account (no changes counted yet).
    Account {
        default_key: &'c str,
        default_token: &'c str,
    },
    /// A new key.
    Key {
        id: &'c str,
        policy: String,
        is_default: bool,
    },
    /// A new string of key `key_id`, issued now.
    KeyString { digest: &'c [u8], key_id: &'c str },
    /// A key's new policy; modified now.
    KeyPolicy { id: &'c str, policy: String },
    /// A string retired now, still accepted until `grace_until`.
    KeyStringRetired {
        digest: &'c [u8],
        grace_until: Option<String>,
    },
    /// A key modified now (a rotation).
    KeyTouched { id: &'c str },
    /// A key deleted now: every string it has stops, grace or not.
    KeyDeleted { id: &'c str },
    /// A new token.
    Token {
        id: &'c str,
        policy: String,
        is_default: bool,
    },
    /// A token's new policy; modified now.
    TokenPolicy { id: &'c str, policy: String },
    /// A token deleted now.
    TokenDeleted { id: &'c str },
    /// The account's default token is now `id`.
    DefaultToken { id: &'c str },
}

/// Encodes `change`. Fails closed on a change this build does not know:
/// it is neither logged nor materialized.
pub(crate) fn encode(change: &Change) -> Result<Encoded<'_>, StoreError> {
    let unknown = || StoreError::Encode {
        change: change.name(),
        message: "this version of the store does not know this change".into(),
    };
    let (at, writes) = match change {
        Change::AccountOpened {
            key_id,
            key_digest,
            key_policy,
            token_id,
            token_policy,
            at,
            ..
        } => (
            at,
            vec![
                RowWrite::Account {
                    default_key: key_id,
                    default_token: token_id,
                },
                RowWrite::Key {
                    id: key_id,
                    policy: json(change, key_policy)?,
                    is_default: true,
                },
                RowWrite::KeyString {
                    digest: bytes(key_digest),
                    key_id,
                },
                RowWrite::Token {
                    id: token_id,
                    policy: json(change, token_policy)?,
                    is_default: true,
                },
            ],
        ),
        Change::KeyCreated {
            id,
            digest,
            policy: key_policy,
            at,
        } => (
            at,
            vec![
                RowWrite::Key {
                    id,
                    policy: json(change, key_policy)?,
                    is_default: false,
                },
                RowWrite::KeyString {
                    digest: bytes(digest),
                    key_id: id,
                },
            ],
        ),
        Change::KeyUpdated {
            id,
            policy: key_policy,
            at,
        } => (
            at,
            vec![RowWrite::KeyPolicy {
                id,
                policy: json(change, key_policy)?,
            }],
        ),
        Change::KeyRotated {
            id,
            retired,
            digest,
            grace_until,
            at,
        } => (
            at,
            vec![
                RowWrite::KeyStringRetired {
                    digest: bytes(retired),
                    grace_until: grace_until.map(|t| t.to_string()),
                },
                RowWrite::KeyString {
                    digest: bytes(digest),
                    key_id: id,
                },
                RowWrite::KeyTouched { id },
            ],
        ),
        Change::KeyDeleted { id, at } => (at, vec![RowWrite::KeyDeleted { id }]),
        Change::TokenCreated {
            id,
            policy: token_policy,
            at,
        } => (
            at,
            vec![RowWrite::Token {
                id,
                policy: json(change, token_policy)?,
                is_default: false,
            }],
        ),
        Change::TokenUpdated {
            id,
            policy: token_policy,
            at,
        } => (
            at,
            vec![RowWrite::TokenPolicy {
                id,
                policy: json(change, token_policy)?,
            }],
        ),
        Change::TokenDeleted { id, at } => (at, vec![RowWrite::TokenDeleted { id }]),
        Change::DefaultTokenReplaced {
            deleted,
            id,
            policy: token_policy,
            at,
        } => (
            at,
            vec![
                RowWrite::TokenDeleted { id: deleted },
                RowWrite::Token {
                    id,
                    policy: json(change, token_policy)?,
                    is_default: true,
                },
                RowWrite::DefaultToken { id },
            ],
        ),
        _ => return Err(unknown()),
    };
    Ok(Encoded {
        body: json(change, change)?,
        at: at.to_string(),
        writes,
    })
}

/// `value` as JSON; the error names the change being encoded.
pub(crate) fn json<T: serde::Serialize>(change: &Change, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Encode {
        change: change.name(),
        message: e.to_string(),
    })
}

fn bytes(digest: &KeyDigest) -> &[u8] {
    &digest.0
}
