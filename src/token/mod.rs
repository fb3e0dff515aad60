//! Access tokens in the Mapbox Tokens API's model: `pk`/`sk`/`tk` usage,
//! public and secret scopes, URL restrictions matched on the `Referer`
//! header, and expiry of temporary tokens.
//!
//! One module per concept: `scope` (the catalogue and its bitset),
//! `timestamp` (RFC 3339 instants), `allowed_url` (entries and the host
//! index), `referer` (the untrusted header), `policy` (the token and its
//! validation), `request`, `evaluate`, and `json` (the Tokens API shape).

pub(crate) mod allowed_url;
pub(crate) mod evaluate;
#[cfg(feature = "serde")]
mod json;
pub(crate) mod policy;
pub(crate) mod referer;
pub(crate) mod request;
pub(crate) mod scope;
pub(crate) mod timestamp;
