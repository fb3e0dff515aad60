//! `TokenRequest`: what an access-token check looks at in a request.

use std::borrow::Cow;

use crate::token::policy::{TokenPolicy, TokenUsage};
use crate::token::scope::TokenScope;
use crate::token::timestamp::Timestamp;

/// What the `with_unreadable_*` setters store: it holds a space and `<`,
/// so neither the Referer nor the Origin grammar accepts it. A
/// URL-restricted token denies it `referer_not_allowed` and never echoes
/// it; other tokens ignore it, as they ignore any malformed header.
const UNREADABLE_HEADER: &str = "<unreadable header>";

/// The parts of a request that a [`TokenPolicy`] judges.
///
/// Header strings are borrowed when they can be (from a header map, or
/// from JSON without escapes), so building one per request costs nothing.
/// JSON: `{"referer", "origin", "scope", "now", "origin_fallback"}` —
/// `scope` required, the rest optional, unknown fields rejected.
///
/// ```
/// use keypolicy::TokenRequest;
/// use keypolicy::token::TokenScope;
/// let request = TokenRequest::new(TokenScope::StylesRead)
///     .with_referer("https://docs.example.com/maps/")
///     .with_now("2026-11-22T14:30:00Z".parse()?);
/// assert_eq!(request.referer.as_deref(), Some("https://docs.example.com/maps/"));
/// # Ok::<(), keypolicy::token::InvalidTimestamp>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct TokenRequest<'a> {
    /// The `Referer` header value; `None` (or empty) when there is none.
    #[cfg_attr(
        feature = "serde",
        serde(
            default,
            borrow,
            deserialize_with = "crate::serde_util::borrowed",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub referer: Option<Cow<'a, str>>,
    /// The `Origin` header value; `None` when there is none. Read for the
    /// CORS answer of URL-restricted tokens and for `origin_fallback`.
    #[cfg_attr(
        feature = "serde",
        serde(
            default,
            borrow,
            deserialize_with = "crate::serde_util::borrowed",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub origin: Option<Cow<'a, str>>,
    /// The scope the requested API needs.
    pub scope: TokenScope,
    /// The current time; required to judge a `tk` token.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub now: Option<Timestamp>,
    /// Opt-in extension: when the Referer is absent, judge the Origin
    /// header instead, as a URL with no path. See
    /// [`evaluate_token`](crate::evaluate_token) for the trade-off.
    #[cfg_attr(feature = "serde", serde(default))]
    pub origin_fallback: bool,
}

impl<'a> TokenRequest<'a> {
    /// A request needing `scope`, with no headers, no time and no fallback.
    pub fn new(scope: TokenScope) -> Self {
        TokenRequest {
            referer: None,
            origin: None,
            scope,
            now: None,
            origin_fallback: false,
        }
    }

    /// Sets the `Referer` header value.
    #[must_use]
    pub fn with_referer(mut self, referer: impl Into<Cow<'a, str>>) -> Self {
        self.referer = Some(referer.into());
        self
    }

    /// Sets the `Origin` header value.
    #[must_use]
    pub fn with_origin(mut self, origin: impl Into<Cow<'a, str>>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Records a `Referer` header that was sent but cannot be read
    /// (repeated, or not visible ASCII): URL-restricted tokens deny the
    /// request `referer_not_allowed`, other tokens ignore it.
    #[must_use]
    pub fn with_unreadable_referer(mut self) -> Self {
        self.referer = Some(Cow::Borrowed(UNREADABLE_HEADER));
        self
    }

    /// Records an `Origin` header that was sent but cannot be read: it is
    /// never echoed, and the Origin fallback denies it
    /// `referer_not_allowed`.
    #[must_use]
    pub fn with_unreadable_origin(mut self) -> Self {
        self.origin = Some(Cow::Borrowed(UNREADABLE_HEADER));
        self
    }

    /// Sets the current time.
    #[must_use]
    pub fn with_now(mut self, now: Timestamp) -> Self {
        self.now = Some(now);
        self
    }

    /// Turns the Origin fallback on or off.
    #[must_use]
    pub fn with_origin_fallback(mut self, on: bool) -> Self {
        self.origin_fallback = on;
        self
    }

    /// Checks that the request carries what `policy` needs to be judged:
    /// a `now` for a `tk` token. [`evaluate_token`](crate::evaluate_token)
    /// fails closed on such a request (it is `token_expired`); call this
    /// first to report it as a malformed request instead.
    pub fn check_against(&self, policy: &TokenPolicy) -> Result<(), TokenRequestError> {
        if policy.usage() == TokenUsage::Temporary && self.now.is_none() {
            return Err(TokenRequestError::MissingNow);
        }
        Ok(())
    }
}

/// A request that cannot be judged against a given token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRequestError {
    /// The token is a `tk` token and the request has no `now`.
    #[error("now: the request has no current time, which a tk token needs")]
    MissingNow,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_tokens_need_now() {
        let tk = TokenPolicy::builder(TokenUsage::Temporary)
            .scope(TokenScope::StylesRead)
            .expires("2026-11-22T15:00:00Z".parse().unwrap())
            .build()
            .unwrap();
        let pk = TokenPolicy::builder(TokenUsage::Public).build().unwrap();
        let request = TokenRequest::new(TokenScope::StylesRead);
        assert_eq!(request.check_against(&tk), Err(TokenRequestError::MissingNow));
        assert_eq!(request.check_against(&pk), Ok(()));
        let request = request.with_now("2026-11-22T14:00:00Z".parse().unwrap());
        assert_eq!(request.check_against(&tk), Ok(()));
    }
}
