//! The JSON (serde) form of token policies, in the Tokens API's shape.
//!
//! `{"usage": "pk"|"sk"|"tk", "scopes": [..], "allowedUrls": [..],
//! "default": false, "expires": "…", "note": "…"}`: `usage` and `scopes`
//! required; `allowedUrls`, `default`, `expires` and `note` optional (`null`
//! meaning absent); the other metadata the Tokens API returns (`id`,
//! `client`, `created`, `modified`, `token`) accepted with any value and
//! ignored. Any other field is an error — a misspelled `allowedUrls` must
//! never silently drop a restriction — and the undocumented `resources`
//! field is refused as unsupported, whatever its value. Deserializing
//! validates through [`TokenPolicyBuilder`](crate::token::TokenPolicyBuilder), so
//! JSON and Rust tokens obey the same rules and produce the same errors.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::token::policy::{TokenPolicy, TokenPolicyError, TokenUsage};
use crate::token::scope::TokenScope;
use crate::token::timestamp::Timestamp;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenJsonIn {
    usage: String,
    scopes: Vec<String>,
    #[serde(default, rename = "allowedUrls")]
    allowed_urls: Option<Vec<String>>,
    #[serde(default)]
    default: Option<bool>,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    note: Option<String>,
    // Tokens API metadata: accepted, ignored.
    #[serde(default, rename = "id")]
    _id: Option<IgnoredAny>,
    #[serde(default, rename = "client")]
    _client: Option<IgnoredAny>,
    #[serde(default, rename = "created")]
    _created: Option<IgnoredAny>,
    #[serde(default, rename = "modified")]
    _modified: Option<IgnoredAny>,
    #[serde(default, rename = "token")]
    _token: Option<IgnoredAny>,
    /// Present at all (even `null`) means refused.
    #[serde(default, deserialize_with = "present")]
    resources: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}

#[derive(Serialize)]
struct TokenJsonOut<'a> {
    usage: &'static str,
    scopes: Vec<&'static str>,
    #[serde(rename = "allowedUrls", skip_serializing_if = "Vec::is_empty")]
    allowed_urls: Vec<String>,
    default: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

impl TryFrom<TokenJsonIn> for TokenPolicy {
    type Error = TokenPolicyError;

    fn try_from(json: TokenJsonIn) -> Result<Self, TokenPolicyError> {
        if json.resources {
            return Err(TokenPolicyError::UnsupportedField { field: "resources" });
        }
        let usage = json.usage.parse::<TokenUsage>()?;
        let scopes = json
            .scopes
            .iter()
            .enumerate()
            .map(|(index, name)| {
                name.parse::<TokenScope>()
                    .map_err(|source| TokenPolicyError::UnknownKeyScope { index, source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut builder = TokenPolicy::builder(usage)
            .scopes(scopes)
            .allowed_urls(json.allowed_urls.unwrap_or_default())
            .default_token(json.default.unwrap_or(false));
        if let Some(expires) = json.expires {
            let expires = expires
                .parse::<Timestamp>()
                .map_err(|source| TokenPolicyError::InvalidExpires { source })?;
            builder = builder.expires(expires);
        }
        if let Some(note) = json.note {
            builder = builder.note(note);
        }
        builder.build()
    }
}

impl<'de> Deserialize<'de> for TokenPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = TokenJsonIn::deserialize(deserializer)?;
        TokenPolicy::try_from(json).map_err(serde::de::Error::custom)
    }
}

impl Serialize for TokenPolicy {
    /// Writes the normalized form (scopes in catalogue order, normalized
    /// allowed URLs, `expires` in UTC), which reads back to the same token.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        TokenJsonOut {
            usage: self.usage.as_str(),
            scopes: self.scopes.iter().map(TokenScope::as_str).collect(),
            allowed_urls: self.allowed_urls().iter().map(ToString::to_string).collect(),
            default: self.default,
            expires: self.expires,
            note: self.note.as_deref(),
        }
        .serialize(serializer)
    }
}
