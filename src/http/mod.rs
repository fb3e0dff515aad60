//! Key and token checks in front of an HTTP server, on the [`http`] 1.x
//! crate's types, without any framework.
//!
//! | Module job | Items |
//! |---|---|
//! | the credential in the query string | [`credential_from_query`], [`CredentialKind`], [`QueryCredential`], [`QueryError`] |
//! | reading `Origin` and `Referer` | [`HeaderField`] (absent, a value, or unreadable), [`single_header`], [`HeaderError`] |
//! | what a request asks for | [`Target`] |
//! | building the requests `evaluate_*` judge | [`key_request`], [`token_request`] |
//! | answers | [`apply_cors`], [`CorsHeaders`], [`denial_response`], [`error_response`], [`error_body`], [`WWW_AUTHENTICATE`] |
//! | credentials and their lookup | [`Credential`], [`KeyLookup`], [`KeyStore`] |
//! | the whole pipeline | [`Guard`] → [`Verdict`]; [`PublicOrigin`] for its same-origin opt-in |
//!
//! [`Guard`] is everything the [`tower`](crate::tower) layer does, as a
//! plain function of a request's [`Parts`]; the pieces below it let you
//! build another pipeline. Everything borrows from the request where it
//! can: header values are read as `&str` in place, and the key is only
//! copied when the query string percent-encodes it.
//!
//! The pieces one by one:
//!
//! ```
//! use keypolicy::http::{credential_from_query, key_request, apply_cors, denial_response, Target};
//! use keypolicy::{evaluate_key, KeyPolicy};
//! use keypolicy::key::{KeyType, Resource};
//!
//! let policy = KeyPolicy::builder()
//!     .key_type(KeyType::Web)
//!     .allowed_domains(["app.example.com"])
//!     .build()?;
//!
//! let request = http::Request::get("/v1/tiles/alice.streets/1/0/0.png?key=my-key")
//!     .header("origin", "https://app.example.com")
//!     .body(())?;
//! let (parts, ()) = request.into_parts();
//!
//! // The key, percent-decoded; `None` when the query has none.
//! let credential = credential_from_query(parts.uri.query())?.expect("a key");
//! assert_eq!(credential.value, "my-key");
//!
//! // Your policy lookup goes here; then decide and answer.
//! let target = Target::new(Resource::Tiles).with_tileset("alice.streets");
//! let request = key_request(&parts, &target);
//! let decision = evaluate_key(&policy, &request);
//! assert!(denial_response::<String>(&decision).is_none());
//!
//! let mut response = http::Response::new("tile bytes");
//! apply_cors(&decision, response.headers_mut());
//! assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example.com");
//! assert_eq!(response.headers()["vary"], "Origin");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Parts`]: ::http::request::Parts

mod credential;
mod guard;
mod header;
mod query;
mod request;
mod response;
mod same_origin;
mod target;

pub use credential::{Credential, KeyLookup, KeyStore};
pub use guard::{Guard, Verdict, DEFAULT_MAX_AGE, MISSING_OR_INVALID_KEY};
pub use header::{single_header, HeaderError, HeaderField};
pub use query::{credential_from_query, CredentialKind, QueryCredential, QueryError};
pub use request::{key_request, token_request};
pub use response::{apply_cors, denial_response, error_body, error_response, CorsHeaders, WWW_AUTHENTICATE};
pub use same_origin::{PublicOrigin, PublicOriginError};
pub use target::Target;

/// Shared by the unit tests of this module's files.
#[cfg(test)]
mod testing {
    use ::http::request::{Builder, Parts};

    use crate::token::{TokenPolicy, TokenScope, TokenUsage};

    /// A `pk` token with `styles:tiles`, restricted to `urls` (none: unrestricted).
    pub(crate) fn tiles_token(urls: &[&str]) -> TokenPolicy {
        TokenPolicy::builder(TokenUsage::Public)
            .scope(TokenScope::StylesTiles)
            .allowed_urls(urls.iter().copied())
            .build()
            .unwrap()
    }

    /// The parts of a `GET /t?key=k` with what `build` adds.
    pub(crate) fn parts(build: impl FnOnce(Builder) -> Builder) -> Parts {
        build(::http::Request::get("/t?key=k")).body(()).unwrap().into_parts().0
    }
}
