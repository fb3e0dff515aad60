//! `TokenPolicy`: an access token's metadata, validated and compiled once.

use std::str::FromStr;

use crate::named::named_enum;
use crate::token::scope::{TokenScope, TokenScopeSet, UnknownTokenScope};
use crate::token::timestamp::{InvalidTimestamp, Timestamp};
use crate::token::urls::{AllowedUrl, AllowedUrlError, AllowedUrls, MAX_ALLOWED_URLS};

named_enum! {
    /// What kind of token this is: the prefix of the token string.
    ///
    /// Exhaustive on purpose: the platform has exactly these three.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum TokenUsage {
        /// `pk`: public token, public scopes only, may be URL-restricted.
        Public => "pk",
        /// `sk`: secret token, public and secret scopes, may be URL-restricted.
        Secret => "sk",
        /// `tk`: temporary token, must expire, cannot be URL-restricted.
        Temporary => "tk",
    }
}

impl FromStr for TokenUsage {
    type Err = TokenPolicyError;

    /// `pk`, `sk` or `tk`, exactly.
    fn from_str(s: &str) -> Result<Self, TokenPolicyError> {
        TokenUsage::from_name(s).ok_or_else(|| TokenPolicyError::UnknownUsage { value: s.to_owned() })
    }
}

/// Why a token policy could not be built. Each variant's message starts
/// with the field (and index, for list fields) and quotes the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenPolicyError {
    /// `usage` is not `pk`, `sk` or `tk`.
    #[error("usage: unknown token usage {value:?}; expected pk, sk or tk")]
    UnknownUsage {
        /// The value given.
        value: String,
    },
    /// A `scopes` entry is not in the catalogue.
    #[error("scopes[{index}]: {source}")]
    UnknownKeyScope {
        /// Position in `scopes`.
        index: usize,
        /// The error, which holds the value.
        source: UnknownTokenScope,
    },
    /// A `pk` token lists a secret scope.
    #[error(
        "scopes[{index}]: \"{scope}\" is a secret scope; a pk token can only hold public scopes (use an sk token)"
    )]
    SecretScopeOnPublicToken {
        /// Position in `scopes`.
        index: usize,
        /// The secret scope.
        scope: TokenScope,
    },
    /// `default` is true on a token that is not `pk`.
    #[error("default: a default token must be a pk token, not \"{usage}\"")]
    DefaultTokenNotPublic {
        /// The token's usage.
        usage: TokenUsage,
    },
    /// A default token lists a secret scope.
    #[error("scopes[{index}]: \"{scope}\" is a secret scope; a default token can only hold public scopes")]
    DefaultTokenSecretScope {
        /// Position in `scopes`.
        index: usize,
        /// The secret scope.
        scope: TokenScope,
    },
    /// A default token has `allowedUrls`.
    #[error("allowedUrls[{index}]: {value:?}: a default token cannot have URL restrictions")]
    DefaultTokenAllowedUrls {
        /// Position in `allowedUrls` (the first entry).
        index: usize,
        /// The entry as given.
        value: String,
    },
    /// A `tk` token has `allowedUrls`.
    #[error("allowedUrls[{index}]: {value:?}: a tk token cannot have URL restrictions")]
    TemporaryTokenAllowedUrls {
        /// Position in `allowedUrls` (the first entry).
        index: usize,
        /// The entry as given.
        value: String,
    },
    /// A `tk` token has no `expires`.
    #[error("expires: a tk token must have an expiry time")]
    TemporaryTokenWithoutExpiry,
    /// A `pk` or `sk` token has `expires`.
    #[error("expires: \"{value}\": only tk tokens expire; a {usage} token cannot have an expiry time")]
    ExpiryOnPermanentToken {
        /// The token's usage.
        usage: TokenUsage,
        /// The expiry given.
        value: Timestamp,
    },
    /// `expires` is not an RFC 3339 timestamp.
    #[error("expires: {source}")]
    InvalidExpires {
        /// The error, which holds the value.
        source: InvalidTimestamp,
    },
    /// More than [`MAX_ALLOWED_URLS`] `allowedUrls` entries.
    #[error("allowedUrls: {count} entries; at most 100 are allowed")]
    TooManyAllowedUrls {
        /// How many were given.
        count: usize,
    },
    /// An `allowedUrls` entry is invalid.
    #[error("allowedUrls[{index}]: {value:?}: {source}")]
    InvalidAllowedUrl {
        /// Position in `allowedUrls`.
        index: usize,
        /// The entry as given.
        value: String,
        /// What is wrong with it.
        source: AllowedUrlError,
    },
    /// A field that the Tokens API has but this crate does not support
    /// (`resources`): rejected rather than ignored, since ignoring a
    /// restriction would widen the token.
    #[error("{field}: the field is not supported; refusing the token rather than ignoring a restriction")]
    UnsupportedField {
        /// The field's name.
        field: &'static str,
    },
}

/// An access token's policy: usage, scopes, allowed URLs, expiry, the
/// `default` flag and the note, validated when built.
///
/// Build one with [`TokenPolicy::builder`] or deserialize it from the Tokens
/// API's JSON (with the `serde` feature); evaluate requests with
/// [`evaluate_token`](crate::evaluate_token). Immutable, `Send` and `Sync`.
///
/// ```
/// use keypolicy::{evaluate_token, TokenPolicy, TokenRequest};
/// use keypolicy::token::{TokenScope, TokenUsage};
/// let token = TokenPolicy::builder(TokenUsage::Public)
///     .scopes([TokenScope::StylesRead, TokenScope::FontsRead])
///     .allowed_urls(["https://example.com/maps"])
///     .build()?;
/// let request = TokenRequest::new(TokenScope::StylesRead).with_referer("https://docs.example.com/maps/city");
/// assert!(evaluate_token(&token, &request).is_allowed());
/// # Ok::<(), keypolicy::token::TokenPolicyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    pub(crate) usage: TokenUsage,
    pub(crate) scopes: TokenScopeSet,
    pub(crate) urls: AllowedUrls,
    pub(crate) default: bool,
    pub(crate) expires: Option<Timestamp>,
    pub(crate) note: Option<String>,
}

impl TokenPolicy {
    /// Starts building a token of the given usage.
    pub fn builder(usage: TokenUsage) -> TokenPolicyBuilder {
        TokenPolicyBuilder {
            usage,
            scopes: Vec::new(),
            urls: Vec::new(),
            default: false,
            expires: None,
            note: None,
        }
    }

    /// `pk`, `sk` or `tk`.
    pub fn usage(&self) -> TokenUsage {
        self.usage
    }

    /// The token's scopes.
    pub fn scopes(&self) -> TokenScopeSet {
        self.scopes
    }

    /// The normalized allowed URLs, duplicates removed (empty: the token
    /// works from any URL).
    pub fn allowed_urls(&self) -> &[AllowedUrl] {
        self.urls.entries()
    }

    /// Whether the token has URL restrictions.
    pub fn is_url_restricted(&self) -> bool {
        !self.urls.is_empty()
    }

    /// Whether this is the account's default public token.
    pub fn is_default(&self) -> bool {
        self.default
    }

    /// When a `tk` token expires (`None` for `pk` and `sk`).
    pub fn expires(&self) -> Option<Timestamp> {
        self.expires
    }

    /// The token's note, if any.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }
}

/// Builds a [`TokenPolicy`], validating everything in [`build`](Self::build).
#[derive(Debug, Clone)]
#[must_use]
pub struct TokenPolicyBuilder {
    usage: TokenUsage,
    scopes: Vec<TokenScope>,
    urls: Vec<String>,
    default: bool,
    expires: Option<Timestamp>,
    note: Option<String>,
}

impl TokenPolicyBuilder {
    /// Adds a scope.
    pub fn scope(mut self, scope: TokenScope) -> Self {
        self.scopes.push(scope);
        self
    }

    /// Adds scopes.
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = TokenScope>) -> Self {
        self.scopes.extend(scopes);
        self
    }

    /// Adds `allowedUrls` entries (validated in [`build`](Self::build)).
    pub fn allowed_urls<S: Into<String>>(mut self, entries: impl IntoIterator<Item = S>) -> Self {
        self.urls.extend(entries.into_iter().map(Into::into));
        self
    }

    /// Marks the token as the account's default public token.
    pub fn default_token(mut self, default: bool) -> Self {
        self.default = default;
        self
    }

    /// Sets the expiry time (required for `tk`, refused for `pk`/`sk`).
    pub fn expires(mut self, expires: Timestamp) -> Self {
        self.expires = Some(expires);
        self
    }

    /// Sets the note (free text, kept as is).
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Validates the token; the first problem found is the error.
    ///
    /// Checks run in this order: the default-token rules (`pk` only, no
    /// secret scope, no URL restrictions), secret scopes on a `pk` token,
    /// the `tk` rules (no URL restrictions, an expiry), no expiry on
    /// `pk`/`sk`, at most [`MAX_ALLOWED_URLS`] entries, then each entry.
    pub fn build(self) -> Result<TokenPolicy, TokenPolicyError> {
        let first_secret = self.scopes.iter().enumerate().find(|(_, s)| s.is_secret());
        let first_url = self.urls.first().map(|value| (0, value.clone()));
        if self.default {
            if self.usage != TokenUsage::Public {
                return Err(TokenPolicyError::DefaultTokenNotPublic { usage: self.usage });
            }
            if let Some((index, &scope)) = first_secret {
                return Err(TokenPolicyError::DefaultTokenSecretScope { index, scope });
            }
            if let Some((index, value)) = first_url.clone() {
                return Err(TokenPolicyError::DefaultTokenAllowedUrls { index, value });
            }
        }
        match (self.usage, self.expires) {
            (TokenUsage::Public, _) => {
                if let Some((index, &scope)) = first_secret {
                    return Err(TokenPolicyError::SecretScopeOnPublicToken { index, scope });
                }
            }
            (TokenUsage::Temporary, expires) => {
                if let Some((index, value)) = first_url {
                    return Err(TokenPolicyError::TemporaryTokenAllowedUrls { index, value });
                }
                if expires.is_none() {
                    return Err(TokenPolicyError::TemporaryTokenWithoutExpiry);
                }
            }
            (TokenUsage::Secret, _) => {}
        }
        if let (Some(value), TokenUsage::Public | TokenUsage::Secret) = (self.expires, self.usage) {
            return Err(TokenPolicyError::ExpiryOnPermanentToken {
                usage: self.usage,
                value,
            });
        }
        if self.urls.len() > MAX_ALLOWED_URLS {
            return Err(TokenPolicyError::TooManyAllowedUrls { count: self.urls.len() });
        }
        let urls = self
            .urls
            .into_iter()
            .enumerate()
            .map(|(index, value)| match value.parse::<AllowedUrl>() {
                Ok(url) => Ok(url),
                Err(source) => Err(TokenPolicyError::InvalidAllowedUrl { index, value, source }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TokenPolicy {
            usage: self.usage,
            scopes: self.scopes.into_iter().collect(),
            urls: AllowedUrls::new(urls),
            default: self.default,
            expires: self.expires,
            note: self.note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_names_are_exact() {
        assert_eq!("pk".parse::<TokenUsage>(), Ok(TokenUsage::Public));
        assert_eq!("sk".parse::<TokenUsage>(), Ok(TokenUsage::Secret));
        assert_eq!("tk".parse::<TokenUsage>(), Ok(TokenUsage::Temporary));
        let err = "PK".parse::<TokenUsage>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"usage: unknown token usage "PK"; expected pk, sk or tk"#
        );
    }

    #[test]
    fn a_valid_token_keeps_its_metadata() {
        let expires: Timestamp = "2026-11-22T15:00:00Z".parse().unwrap();
        let t = TokenPolicy::builder(TokenUsage::Temporary)
            .scopes([TokenScope::MapRead, TokenScope::StylesRead, TokenScope::MapRead])
            .expires(expires)
            .note("ci")
            .build()
            .unwrap();
        assert_eq!(t.usage(), TokenUsage::Temporary);
        assert_eq!(t.scopes().len(), 2);
        assert_eq!(t.expires(), Some(expires));
        assert_eq!(t.note(), Some("ci"));
        assert!(!t.is_default() && !t.is_url_restricted());
    }

    #[test]
    fn allowed_urls_are_deduplicated_after_normalization() {
        let t = TokenPolicy::builder(TokenUsage::Public)
            .allowed_urls(["example.com", "EXAMPLE.com.", "example.com/a/", "example.com/a"])
            .build()
            .unwrap();
        let shown: Vec<String> = t.allowed_urls().iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["example.com", "example.com/a"]);
    }

    #[test]
    fn policies_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<TokenPolicy>();
    }
}
