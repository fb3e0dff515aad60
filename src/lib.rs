//! # keypolicy
//!
//! Decides whether a request made with a map-platform API key or access
//! token may be served, from the key's policy alone.
//!
//! Map platforms put keys in URLs (`?key=…`), so keys leak by design; what
//! protects an account is the key's policy — its type, scopes, allowed
//! domains and allowed tilesets. Tile servers check that policy on every
//! tile request, so [`evaluate`] is a pure function that reads a policy
//! compiled once ([`KeyPolicy`]) and a borrowed request ([`KeyRequest`]):
//! no I/O, no clock, no global state, and no heap allocation for ASCII
//! Origin headers.
//!
//! ```
//! use keypolicy::{evaluate, Denial, KeyPolicy, KeyRequest, KeyType, Resource, Scope};
//!
//! let policy = KeyPolicy::builder()
//!     .key_type(KeyType::Web)
//!     .scope(Scope::TilesRead)
//!     .allowed_domains(["https://www.mappinest.com"])
//!     .build()?;
//!
//! let ok = KeyRequest::new(Resource::Tiles).with_origin("https://mappinest.com");
//! assert!(evaluate(&policy, &ok).is_allowed());
//!
//! let foreign = KeyRequest::new(Resource::Tiles).with_origin("https://evil.example");
//! assert_eq!(evaluate(&policy, &foreign).denial(), Some(Denial::OriginNotAllowed));
//! # Ok::<(), keypolicy::PolicyError>(())
//! ```
//!
//! Access tokens in the Mapbox Tokens API's model — `pk`/`sk`/`tk` usage,
//! public and secret scopes, URL restrictions matched on the `Referer`
//! header, temporary-token expiry — are judged by [`evaluate_token`] from a
//! [`TokenPolicy`] and a [`TokenRequest`], with the same [`Decision`]:
//!
//! ```
//! use keypolicy::{evaluate_token, TokenPolicy, TokenRequest, TokenScope, TokenUsage};
//!
//! let token = TokenPolicy::builder(TokenUsage::Public)
//!     .scope(TokenScope::StylesRead)
//!     .allowed_urls(["https://example.com/maps"])
//!     .build()?;
//! let request = TokenRequest::new(TokenScope::StylesRead).with_referer("https://docs.example.com/maps/paris");
//! assert!(evaluate_token(&token, &request).is_allowed());
//! # Ok::<(), keypolicy::TokenPolicyError>(())
//! ```
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
//!   what its normalized spelling allows (see [`DomainEntry`]).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod decision;
mod domain;
mod evaluate;
mod hash;
mod host;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
#[cfg(feature = "serde")]
mod json;
mod origin;
mod policy;
mod request;
mod scope;
mod tileset;
mod token;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

pub use decision::{AllowOrigin, Decision, Denial, Vary};
pub use domain::{DomainEntry, DomainError};
pub use evaluate::evaluate;
pub use host::HostError;
pub use origin::MAX_ORIGIN_LEN;
pub use policy::{KeyPolicy, KeyPolicyBuilder, KeyType, PolicyError};
pub use request::KeyRequest;
pub use scope::{Resource, Scope, ScopeSet, UnknownResource, UnknownScope};
pub use tileset::{TilesetError, TilesetPattern};
pub use token::allowed_url::{AllowedUrl, AllowedUrlError, MAX_ALLOWED_URLS};
pub use token::evaluate::evaluate_token;
pub use token::policy::{TokenPolicy, TokenPolicyBuilder, TokenPolicyError, TokenUsage};
pub use token::referer::MAX_REFERER_LEN;
pub use token::request::{TokenRequest, TokenRequestError};
pub use token::scope::{TokenScope, TokenScopeSet, UnknownTokenScope};
pub use token::timestamp::{InvalidTimestamp, Timestamp};

/// The README's Rust snippets, compiled and run as doc tests.
#[cfg(all(doctest, feature = "serde"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
