//! The errors of lifecycle operations. Each carries its HTTP status and
//! its JSON body: the Tokens API's `{"message"}` for token operations, and
//! `{"message", "code"}` for key operations. An operation that returns one
//! of these changed nothing.

use crate::key::KeyPolicyError;
use crate::lifecycle::body::{ErrorBody, KeyErrorBody};
use crate::lifecycle::random::RandomError;
use crate::token::{Timestamp, TokenPolicyError, TokenScope};

/// Why a key operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No live key has this id (unknown or deleted): 404 `key_not_found`.
    #[error("id: no key {id:?}")]
    NotFound {
        /// The id given.
        id: String,
    },
    /// The default key's policy cannot be edited and the key cannot be
    /// deleted (it can be rotated): 409 `default_key_read_only`.
    #[error("id: {id:?} is the default key, which is read-only: it can be rotated but not edited or deleted")]
    DefaultKeyReadOnly {
        /// The default key's id.
        id: String,
    },
    /// `grace_seconds` is not between 0 and 86,400: 422 `grace_out_of_range`.
    #[error("grace_seconds: {value} is out of range; use 0 to 86400 seconds")]
    GraceOutOfRange {
        /// The value given.
        value: i64,
    },
    /// The policy is invalid: 422 `invalid_policy`.
    #[error("{0}")]
    InvalidPolicy(#[from] KeyPolicyError),
    /// The body could not be read as a key policy: 422 `invalid_policy`.
    #[error("{message}")]
    InvalidBody {
        /// What is wrong with it.
        message: String,
    },
    /// No randomness for the new key string: 500 `random_failed`.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl KeyError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            KeyError::NotFound { .. } => 404,
            KeyError::DefaultKeyReadOnly { .. } => 409,
            KeyError::GraceOutOfRange { .. } | KeyError::InvalidPolicy(_) | KeyError::InvalidBody { .. } => 422,
            KeyError::Random(_) => 500,
        }
    }

    /// The stable code, e.g. `default_key_read_only`.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::NotFound { .. } => "key_not_found",
            KeyError::DefaultKeyReadOnly { .. } => "default_key_read_only",
            KeyError::GraceOutOfRange { .. } => "grace_out_of_range",
            KeyError::InvalidPolicy(_) | KeyError::InvalidBody { .. } => "invalid_policy",
            KeyError::Random(_) => "random_failed",
        }
    }

    /// The JSON body, `{"message", "code"}`.
    pub fn body(&self) -> KeyErrorBody {
        KeyErrorBody {
            message: self.to_string(),
            code: self.code(),
        }
    }
}

/// Why a Tokens API operation was refused. The `Display` form is the
/// body's `message`, exactly as the Tokens API words it where it has words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The actor token is malformed, forged, expired, deleted or another
    /// account's: 401.
    #[error("Unauthorized")]
    Unauthorized {
        /// Why (not shown in the body).
        reason: &'static str,
    },
    /// The actor lacks `tokens:write`/`tokens:read`, or the id names no
    /// token (unknown, deleted, or a `tk`, which has no id): 404.
    #[error("Not found")]
    NotFound {
        /// The id, when the id was the problem.
        id: Option<String>,
    },
    /// A requested scope is not held by the actor token, or is not a
    /// scope at all: 422.
    #[error("scopes are invalid")]
    ScopesInvalid {
        /// The first scope the actor lacks.
        scope: TokenScope,
    },
    /// A `tk`'s `expires` is at or before now: 422.
    #[error("expires is in the past")]
    ExpiresInPast {
        /// The value given.
        expires: Timestamp,
    },
    /// A `tk`'s `expires` is more than an hour after now: 422.
    #[error("expires is more than one hour in the future")]
    ExpiresTooFar {
        /// The value given.
        expires: Timestamp,
    },
    /// A `tk`'s `expires` is after its authorizing `tk`'s: 422.
    #[error("expires may not be greater than the expiration of the authorizing token")]
    ExpiresAfterActor {
        /// The value given.
        expires: Timestamp,
        /// The actor's expiry.
        actor_expires: Timestamp,
    },
    /// The owner asked for a `tk`: temporary tokens are a Tokens API
    /// feature, created by an `sk` or `tk` token: 422.
    #[error("expires: temporary tokens can only be created through the Tokens API with an sk or tk token")]
    TemporaryByOwner,
    /// A `tk` actor asked for a `pk`/`sk` token, which would outlive it: 422.
    #[error("expires: a temporary token can only create temporary tokens; a permanent token would outlive it")]
    PermanentByTemporary,
    /// A token with no scopes cannot be given scopes: 422.
    #[error("scopes: a token without scopes cannot be updated to have scopes")]
    ScopesOnScopelessToken,
    /// `scopes` is missing on a create: 422.
    #[error("scopes: the field is required")]
    ScopesRequired,
    /// `note` on a `tk`, or `expires` on an update: 422.
    #[error("{field}: the field is not allowed {context}")]
    FieldNotAllowed {
        /// The field.
        field: &'static str,
        /// Where it is not allowed.
        context: &'static str,
    },
    /// `expires` is not an RFC 3339 timestamp: 422.
    #[error("expires: {value:?} is not an RFC 3339 timestamp")]
    InvalidExpires {
        /// The value given.
        value: String,
    },
    /// The token policy is invalid (the crate's validation: URL entries,
    /// secret scopes on a pk, the default token's rules…): 422.
    #[error("{0}")]
    Policy(#[from] TokenPolicyError),
    /// The body could not be read: 422.
    #[error("{message}")]
    InvalidBody {
        /// What is wrong with it.
        message: String,
    },
    /// No randomness for the new id: 500.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl TokenError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            TokenError::Unauthorized { .. } => 401,
            TokenError::NotFound { .. } => 404,
            TokenError::Random(_) => 500,
            _ => 422,
        }
    }

    /// The JSON body, `{"message"}`.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            message: self.to_string(),
        }
    }
}

/// A change that does not fit the state it is applied to (a corrupt or
/// out-of-order log); the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The account was already opened, or a change came before it was.
    #[error("change {change}: the account is {state}")]
    AccountState {
        /// The change's name.
        change: &'static str,
        /// `already open` or `not open`.
        state: &'static str,
    },
    /// The change names an id that is not live.
    #[error("change {change}: id {id:?} is not a live {kind}")]
    UnknownId {
        /// The change's name.
        change: &'static str,
        /// `key` or `token`.
        kind: &'static str,
        /// The id.
        id: String,
    },
    /// The change would reuse an id or a key string.
    #[error("change {change}: {what} {value:?} was already used")]
    Reused {
        /// The change's name.
        change: &'static str,
        /// `id` or `key digest`.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// The change breaks a rule of the state (the default key or token,
    /// a rotation of a string that is not current…).
    #[error("change {change}: {rule}")]
    Rule {
        /// The change's name.
        change: &'static str,
        /// The rule broken.
        rule: &'static str,
    },
}

/// Why an account could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// No randomness for the default key or ids.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The default token's policy did not build (a bug in the catalogue).
    #[error(transparent)]
    Policy(#[from] TokenPolicyError),
    /// The opening change did not apply.
    #[error(transparent)]
    Apply(#[from] ApplyError),
}
