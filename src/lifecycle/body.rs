//! The JSON response bodies, in the Tokens API's shapes for tokens and
//! as `{id, key?, default, created, …policy fields}` for keys.

use serde::Serialize;

use crate::key::KeyPolicy;
use crate::token::{Timestamp, TokenScope, TokenUsage};

/// A key: `{"id", "key"?, "default", "created", "key_type", "scopes",
/// "allowed_domains", "allowed_tilesets"}`. `key` (the string) is present
/// only in the answers to create and rotate: it is shown once.
#[derive(Debug, Clone, Serialize)]
pub struct KeyObject {
    /// The key's id.
    pub id: String,
    /// The key string, once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Whether this is the account's default key.
    pub default: bool,
    /// When the key was created.
    pub created: Timestamp,
    /// The key's policy, flattened into the object.
    #[serde(flatten)]
    pub policy: KeyPolicy,
}

/// A `pk`/`sk` token: `{"id", "usage", "client": "api", "default",
/// "scopes", "note", "created", "modified", "allowedUrls"?, "token"?}`.
#[derive(Debug, Clone, Serialize)]
pub struct TokenObject {
    /// The token's id (the `a` of its string).
    pub id: String,
    /// `pk` or `sk`.
    #[serde(serialize_with = "usage_str")]
    pub usage: TokenUsage,
    /// Always `api`.
    pub client: &'static str,
    /// Whether this is the default public token.
    pub default: bool,
    /// Its scopes, in catalogue order.
    pub scopes: Vec<&'static str>,
    /// Its note (`null` when none).
    pub note: Option<String>,
    /// When it was created.
    pub created: Timestamp,
    /// When it was last changed.
    pub modified: Timestamp,
    /// Its URL restrictions, omitted when there are none.
    #[serde(rename = "allowedUrls", skip_serializing_if = "Vec::is_empty")]
    pub allowed_urls: Vec<String>,
    /// The token string: on create, and for a `pk` in lists; never for an
    /// `sk` after its creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// A created temporary token: `{"token", "expires"}`.
#[derive(Debug, Clone, Serialize)]
pub struct TemporaryTokenObject {
    /// The `tk` string.
    pub token: String,
    /// When it expires.
    pub expires: Timestamp,
}

/// The answer to a create: a `pk`/`sk` token object or a `tk`.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum CreatedToken {
    /// A `pk` or `sk`.
    Permanent(TokenObject),
    /// A `tk`.
    Temporary(TemporaryTokenObject),
}

/// The Tokens API's retrieve codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RetrieveCode {
    /// Valid.
    TokenValid,
    /// Cannot be parsed.
    TokenMalformed,
    /// The signature does not verify (or it is not this account's).
    TokenInvalid,
    /// A `tk` past `expires`.
    TokenExpired,
    /// Deleted.
    TokenRevoked,
}

/// The `token` of a retrieve answer.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RetrievedToken {
    /// `pk`/`sk`: `{"usage", "user", "authorization"}`.
    Permanent {
        /// `pk` or `sk`.
        #[serde(serialize_with = "usage_str")]
        usage: TokenUsage,
        /// The user.
        user: String,
        /// The token's id.
        authorization: String,
    },
    /// `tk`: `{"usage", "user", "expires", "created", "scopes", "client"}`.
    Temporary {
        /// `tk`.
        #[serde(serialize_with = "usage_str")]
        usage: TokenUsage,
        /// The user.
        user: String,
        /// `exp`.
        expires: Timestamp,
        /// `iat`.
        created: Timestamp,
        /// The scopes.
        scopes: Vec<&'static str>,
        /// Always `api`.
        client: &'static str,
    },
}

/// `GET /tokens/v2?access_token=T`: `{"code", "token"?}`, always status 200.
#[derive(Debug, Clone, Serialize)]
pub struct RetrieveBody {
    /// The verdict.
    pub code: RetrieveCode,
    /// What the string says, when it can be parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<RetrievedToken>,
}

/// The Tokens API's error body, `{"message"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// The message.
    pub message: String,
}

/// A key operation's error body, `{"message", "code"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyErrorBody {
    /// The message.
    pub message: String,
    /// The stable code, e.g. `default_key_read_only`.
    pub code: &'static str,
}

pub(crate) fn scope_names(scopes: crate::token::TokenScopeSet) -> Vec<&'static str> {
    scopes.iter().map(TokenScope::as_str).collect()
}

fn usage_str<S: serde::Serializer>(usage: &TokenUsage, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(usage.as_str())
}
