//! Access tokens in the Mapbox Tokens API's model: `pk`/`sk`/`tk` usage,
//! public and secret scopes, URL restrictions matched on the `Referer`
//! header, and expiry of temporary tokens, judged by [`evaluate_token`].
//!
//! The same shape as [`crate::key`]: `scope` ([`TokenScope`]),
//! `policy` ([`TokenPolicy`], [`TokenUsage`], its validation), `urls` (the [`AllowedUrl`] entries and the compiled
//! allowlist that matches Referers), `timestamp` (RFC 3339 instants),
//! `request`,
//! `evaluate`, and `json` (the Tokens API shape).

mod evaluate;
#[cfg(feature = "serde")]
mod json;
mod policy;
mod request;
mod scope;
mod timestamp;
mod urls;

pub use crate::syntax::referer::MAX_REFERER_LEN;
pub use evaluate::evaluate_token;
pub use policy::{TokenPolicy, TokenPolicyBuilder, TokenPolicyError, TokenUsage};
pub use request::{TokenRequest, TokenRequestError};
pub use scope::{TokenScope, TokenScopeSet, UnknownTokenScope};
pub use timestamp::{InvalidTimestamp, Timestamp};
pub use urls::{AllowedUrl, AllowedUrlError, MAX_ALLOWED_URLS};
