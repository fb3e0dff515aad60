//! Mappinest API keys: key types, scopes, Origin-header domain allowlists
//! and tileset allowlists, judged by [`evaluate_key`].
//!
//! One module per concept: `scope` ([`KeyScope`], [`Resource`]), `domains`
//! (the [`AllowedDomain`] entries and the compiled allowlist that matches
//! Origins), `tilesets` ([`TilesetPattern`] and its matcher), `policy` (the
//! [`KeyPolicy`], [`KeyType`] and validation), `request`, `evaluate`, and `json`
//! (the policy's serde form).

mod domains;
mod evaluate;
#[cfg(feature = "serde")]
mod json;
mod policy;
mod request;
mod scope;
mod text;
mod tilesets;

pub use crate::syntax::origin::MAX_ORIGIN_LEN;
pub use domains::{AllowedDomain, AllowedDomainError};
pub use evaluate::evaluate_key;
pub use policy::{KeyPolicy, KeyPolicyBuilder, KeyPolicyError, KeyType, MAX_ALLOWED_DOMAINS, MAX_ALLOWED_TILESETS};
pub use request::KeyRequest;
pub use scope::{KeyScope, KeyScopeSet, Resource, UnknownKeyScope, UnknownResource};
pub use tilesets::{TilesetError, TilesetPattern};
