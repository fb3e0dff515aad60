//! # keypolicy
//!
//! Decides whether a request made with a map-platform API key or access
//! token may be served, from the key's policy alone.
//!
//! Map platforms put keys in URLs (`?key=…`), so keys leak by design; what
//! protects an account is the key's policy — its type, scopes, allowed
//! domains and allowed tilesets. Tile servers check that policy on every
//! tile request, so [`evaluate_key`] is a pure function that reads a policy
//! compiled once ([`KeyPolicy`]) and a borrowed request ([`KeyRequest`]):
//! no I/O, no clock, no global state, and no heap allocation for ASCII
//! Origin headers.
//!
//! ```
//! use keypolicy::{evaluate_key, Denial, KeyPolicy, KeyRequest};
//! use keypolicy::key::{KeyType, Resource, KeyScope};
//!
//! let policy = KeyPolicy::builder()
//!     .key_type(KeyType::Web)
//!     .scope(KeyScope::TilesRead)
//!     .allowed_domains(["https://www.mappinest.com"])
//!     .build()?;
//!
//! let ok = KeyRequest::new(Resource::Tiles).with_origin("https://mappinest.com");
//! assert!(evaluate_key(&policy, &ok).is_allowed());
//!
//! let foreign = KeyRequest::new(Resource::Tiles).with_origin("https://evil.example");
//! assert_eq!(evaluate_key(&policy, &foreign).denial(), Some(Denial::OriginNotAllowed));
//! # Ok::<(), keypolicy::key::KeyPolicyError>(())
//! ```
//!
//! Access tokens in the Mapbox Tokens API's model — `pk`/`sk`/`tk` usage,
//! public and secret scopes, URL restrictions matched on the `Referer`
//! header, temporary-token expiry — are judged by [`evaluate_token`] from a
//! [`TokenPolicy`] and a [`TokenRequest`], with the same [`Decision`]:
//!
//! ```
//! use keypolicy::{evaluate_token, TokenPolicy, TokenRequest};
//! use keypolicy::token::{TokenScope, TokenUsage};
//!
//! let token = TokenPolicy::builder(TokenUsage::Public)
//!     .scope(TokenScope::StylesRead)
//!     .allowed_urls(["https://example.com/maps"])
//!     .build()?;
//! let request = TokenRequest::new(TokenScope::StylesRead).with_referer("https://docs.example.com/maps/paris");
//! assert!(evaluate_token(&token, &request).is_allowed());
//! # Ok::<(), keypolicy::token::TokenPolicyError>(())
//! ```
//!
//! ## The modules
//!
//! | Module | What it is for |
//! |---|---|
//! | [`key`] | Mappinest API keys: [`KeyPolicy`] (type, scopes, `allowed_domains`, `allowed_tilesets`), [`KeyRequest`], [`evaluate_key`] |
//! | [`token`] | Mapbox-style access tokens: [`TokenPolicy`] (`pk`/`sk`/`tk`, scopes, `allowedUrls`, expiry), [`TokenRequest`], [`evaluate_token`] |
//! | [`lint`] | what a key or token policy can never do, or does riskily |
//! | [`explain`] | every rule of one decision, and the near misses of a denial |
//! | [`replay`] | which decisions of a request log change under a new policy |
//! | root | what both share: [`Decision`], [`Denial`], [`AllowOrigin`], [`Vary`], [`HostError`] |
//! | `http` (feature `http`) | the pieces of an HTTP guard without a framework: credentials from the query, requests from `http::request::Parts`, decisions as responses |
//! | `tower` (feature `tower`) | a `tower::Layer` that guards any service with those pieces |
//!
//! The two credential modules have the same shape — `policy`, `scope`, an
//! allowlist module (`domains` / `urls`) holding the entries and their
//! compiled matcher, `request`, `evaluate`, `json` — and share one
//! grammar of untrusted input (hosts, URL parts, the `Origin` and
//! `Referer` headers), so a rule is found by the same file name on either
//! side.
//!
//! ## Design notes
//!
//! * **Compile once, evaluate many.** Building a policy validates every
//!   entry and normalizes it into hash sets; evaluation only reads, and
//!   its cost does not grow with the size of the allowlist.
//! * **Fail closed.** A header that cannot be parsed where it matters is a
//!   denial with its own reason (`origin_invalid`), never a guess. Headers
//!   are parsed strictly: a browser serializes an origin as exactly
//!   `scheme://host[:port]`, so anything else did not come from one.
//! * **Normalization is shared.** Allowlist entries and request headers
//!   go through the same host grammar, so what an entry allows is exactly
//!   what its normalized spelling allows (see [`key::AllowedDomain`] and
//!   [`token::AllowedUrl`]).
//! * **Enums are exhaustive on purpose** where the specs fix the set
//!   ([`key::KeyType`], [`key::KeyScope`], [`key::Resource`],
//!   [`token::TokenUsage`]) and `#[non_exhaustive]` where it grows
//!   ([`token::TokenScope`], [`Denial`], the error enums).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod decision;
pub mod explain;
mod hash;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
pub mod key;
#[cfg(feature = "lifecycle")]
#[cfg_attr(docsrs, doc(cfg(feature = "lifecycle")))]
pub mod lifecycle;
pub mod lint;
mod named;
mod public_suffix;
pub mod replay;
#[cfg(feature = "serde")]
mod serde_util;
mod syntax;
pub mod token;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

pub use decision::{AllowOrigin, Decision, Denial, Vary};
pub use key::{evaluate_key, KeyPolicy, KeyRequest};
pub use syntax::host::HostError;
pub use token::{evaluate_token, TokenPolicy, TokenRequest};

/// The README's Rust snippets, compiled and run as doc tests.
#[cfg(all(doctest, feature = "serde"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
