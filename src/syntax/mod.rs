//! The grammar of untrusted input, shared by keys and tokens: hosts
//! (labels, IDNA, IP addresses), the URL pieces every entry and header is
//! made of (scheme, authority, port), and the two browser headers that
//! identify a page — `Origin` and `Referer`.
//!
//! Allowlist entries and request headers go through the same grammar, so
//! an entry allows exactly what its normalized spelling allows.

pub(crate) mod host;
pub(crate) mod origin;
pub(crate) mod referer;
pub(crate) mod url;
