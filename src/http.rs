//! Adapters between the [`http`] 1.x crate's types and
//! [`evaluate_key`](crate::evaluate) / [`evaluate_token`](crate::evaluate_token):
//! a [`KeyRequest`] or [`TokenRequest`] from a request's [`Parts`], the key
//! or access token from the query string, and a [`Decision`] as response
//! headers and a JSON error body.
//!
//! Everything here borrows from the request where it can: header values are
//! read as `&str` in place, and the key is only copied when the query string
//! percent-encodes it.
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

use std::borrow::Cow;
use std::fmt;

use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ::http::request::Parts;
use ::http::{Response, StatusCode};

use crate::decision::{AllowOrigin, Decision};
use crate::key::KeyRequest;
use crate::key::Resource;
use crate::token::Timestamp;
use crate::token::TokenRequest;
use crate::token::TokenScope;

/// What stands in for an `Origin` (or `Referer`) header that was sent but
/// cannot be read: repeated, or not visible ASCII. It contains a space, so
/// it is never a valid origin or URL: keys with an origin rule deny it
/// `origin_invalid`, and keys without one ignore it as they ignore any
/// malformed Origin.
pub const INVALID_HEADER: &str = "<invalid header>";

/// Which kind of credential a query parameter carries.
///
/// `#[non_exhaustive]`: a platform may add credential kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialKind {
    /// A Mappinest API key: `?key=…`.
    Key,
    /// A Mapbox-style access token: `?access_token=…`.
    AccessToken,
}

impl CredentialKind {
    /// Every kind, in the order the query string is searched.
    pub const ALL: [CredentialKind; 2] = [CredentialKind::Key, CredentialKind::AccessToken];

    /// The query parameter's name: `key` or `access_token`.
    pub const fn param(self) -> &'static str {
        match self {
            CredentialKind::Key => "key",
            CredentialKind::AccessToken => "access_token",
        }
    }

    fn from_param(name: &str) -> Option<CredentialKind> {
        CredentialKind::ALL.into_iter().find(|kind| kind.param() == name)
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.param())
    }
}

/// A credential found in the query string, percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryCredential<'a> {
    /// The parameter it came in.
    pub kind: CredentialKind,
    /// The decoded value; borrowed unless the query percent-encodes it.
    pub value: Cow<'a, str>,
}

/// Why the query string's credential cannot be used. Every variant is a
/// `401 Missing or invalid key` in the [`tower`](crate::tower) layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The same credential parameter appears more than once
    /// (`?key=a&key=b`, even with equal values): which one a cache, a
    /// proxy and this server would each read is anybody's guess.
    #[error("query parameter `{param}` is given more than once")]
    Repeated {
        /// `key` or `access_token`.
        param: CredentialKind,
    },
    /// Both a key and an access token are given.
    #[error("query parameters `key` and `access_token` are both given; give one")]
    Ambiguous,
    /// The parameter is present with an empty value (`?key=`).
    #[error("query parameter `{param}` is empty")]
    Empty {
        /// `key` or `access_token`.
        param: CredentialKind,
    },
}

/// Finds the credential in a query string (`key=` or `access_token=`),
/// percent-decoded the `application/x-www-form-urlencoded` way (`+` is a
/// space). `Ok(None)` when there is none.
///
/// ```
/// use keypolicy::http::{credential_from_query, CredentialKind, QueryError};
/// let c = credential_from_query(Some("z=1&access_token=pk.a%2Bb")).unwrap().unwrap();
/// assert_eq!((c.kind, c.value.as_ref()), (CredentialKind::AccessToken, "pk.a+b"));
/// assert_eq!(credential_from_query(Some("key=a&key=a")), Err(QueryError::Repeated { param: CredentialKind::Key }));
/// assert_eq!(credential_from_query(None), Ok(None));
/// ```
pub fn credential_from_query(query: Option<&str>) -> Result<Option<QueryCredential<'_>>, QueryError> {
    let Some(query) = query else {
        return Ok(None);
    };
    let mut found: Option<QueryCredential<'_>> = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let Some(kind) = CredentialKind::from_param(&name) else {
            continue;
        };
        if let Some(previous) = &found {
            return Err(if previous.kind == kind {
                QueryError::Repeated { param: kind }
            } else {
                QueryError::Ambiguous
            });
        }
        found = Some(QueryCredential { kind, value });
    }
    match found {
        Some(credential) if credential.value.is_empty() => Err(QueryError::Empty { param: credential.kind }),
        found => Ok(found),
    }
}

/// Why a request header cannot be read as one value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The header is sent more than once. A browser sends one `Origin` and
    /// at most one `Referer`; two are forged or mangled, and taking either
    /// would let the sender choose the one that passes.
    #[error("header `{name}` is sent more than once")]
    Repeated {
        /// The header's name.
        name: HeaderName,
    },
    /// The value holds bytes other than visible ASCII, space and tab.
    #[error("header `{name}` is not visible ASCII")]
    NotVisibleAscii {
        /// The header's name.
        name: HeaderName,
    },
}

/// Reads a header that must appear at most once, as `&str` borrowed from
/// the map. `Ok(None)` when it is absent.
///
/// ```
/// use http::header::{HeaderMap, ORIGIN};
/// use keypolicy::http::{single_header, HeaderError};
/// let mut headers = HeaderMap::new();
/// headers.append(ORIGIN, "https://a.example".parse().unwrap());
/// assert_eq!(single_header(&headers, &ORIGIN), Ok(Some("https://a.example")));
/// headers.append(ORIGIN, "https://b.example".parse().unwrap());
/// assert_eq!(single_header(&headers, &ORIGIN), Err(HeaderError::Repeated { name: ORIGIN }));
/// ```
pub fn single_header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a str>, HeaderError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(HeaderError::Repeated { name: name.clone() });
    }
    value
        .to_str()
        .map(Some)
        .map_err(|_| HeaderError::NotVisibleAscii { name: name.clone() })
}

/// A header for [`evaluate_key`](crate::evaluate): its single value, `None`
/// when absent, and [`INVALID_HEADER`] when it cannot be read.
fn header_for_evaluation<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    single_header(headers, name).unwrap_or(Some(INVALID_HEADER))
}

/// What a request asks for: the resource, the tileset(s) it names, and
/// the scope an access token needs for it. Built by your routing code,
/// usually from the request path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Target<'a> {
    /// What is requested (API keys need its [`KeyScope`](crate::key::KeyScope)).
    pub resource: Resource,
    /// The tileset(s) named, e.g. `alice.streets` or a composite
    /// `alice.streets,bob.terrain`; `None` when the request names none.
    pub tileset: Option<Cow<'a, str>>,
    /// The scope an access token needs, from
    /// [`Target::default_token_scope`] unless set; `None` means no token
    /// may be used (denied `scope_missing`).
    pub token_scope: Option<TokenScope>,
}

impl<'a> Target<'a> {
    /// A request for `resource`, naming no tileset, with the resource's
    /// [default token scope](Target::default_token_scope).
    pub fn new(resource: Resource) -> Self {
        Target {
            resource,
            tileset: None,
            token_scope: Target::default_token_scope(resource),
        }
    }

    /// Sets the tileset(s) named.
    #[must_use]
    pub fn with_tileset(mut self, tileset: impl Into<Cow<'a, str>>) -> Self {
        self.tileset = Some(tileset.into());
        self
    }

    /// Sets the scope an access token needs (e.g. `fonts:read` for a
    /// glyph endpoint).
    #[must_use]
    pub fn with_token_scope(mut self, scope: TokenScope) -> Self {
        self.token_scope = Some(scope);
        self
    }

    /// The public token scope that matches a resource, after the Mapbox
    /// scope catalogue: `tiles` and `static` → `styles:tiles` (style PNG
    /// tiles and static images), `styles` → `styles:read`; `export` has no
    /// token scope, so tokens cannot export.
    pub const fn default_token_scope(resource: Resource) -> Option<TokenScope> {
        match resource {
            Resource::Tiles | Resource::Static => Some(TokenScope::StylesTiles),
            Resource::Styles => Some(TokenScope::StylesRead),
            Resource::Export => None,
        }
    }
}

/// The [`KeyRequest`] for a request: its `Origin` header and `target`,
/// borrowed. A repeated or unreadable `Origin` becomes [`INVALID_HEADER`],
/// which keys with an origin rule deny (`origin_invalid`).
pub fn key_request<'a>(parts: &'a Parts, target: &'a Target<'_>) -> KeyRequest<'a> {
    let mut request = KeyRequest::new(target.resource);
    request.origin = header_for_evaluation(&parts.headers, &header::ORIGIN).map(Cow::Borrowed);
    request.tileset = target.tileset.as_deref().map(Cow::Borrowed);
    request
}

/// The [`TokenRequest`] for a request needing `scope` at time `now`: its
/// `Referer` and `Origin` headers, borrowed. A repeated or unreadable
/// header becomes [`INVALID_HEADER`], which URL-restricted tokens deny
/// (`referer_not_allowed`) and other tokens ignore. The Origin fallback is
/// off; turn it on with [`TokenRequest::with_origin_fallback`].
///
/// ```
/// use keypolicy::http::token_request;
/// use keypolicy::{evaluate_token, TokenPolicy};
/// use keypolicy::token::{Timestamp, TokenScope, TokenUsage};
///
/// let token = TokenPolicy::builder(TokenUsage::Public)
///     .scope(TokenScope::StylesTiles)
///     .allowed_urls(["https://docs.example.com/maps"])
///     .build()?;
/// let (parts, ()) = http::Request::get("/v1/tiles/alice.streets/0/0/0.png?access_token=pk.x")
///     .header("referer", "https://docs.example.com/maps/city")
///     .body(())?
///     .into_parts();
/// let now = Timestamp::from_system_time(std::time::SystemTime::now());
/// let request = token_request(&parts, TokenScope::StylesTiles, Some(now));
/// assert!(evaluate_token(&token, &request).is_allowed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn token_request(parts: &Parts, scope: TokenScope, now: Option<Timestamp>) -> TokenRequest<'_> {
    let mut request = TokenRequest::new(scope);
    request.referer = header_for_evaluation(&parts.headers, &header::REFERER).map(Cow::Borrowed);
    request.origin = header_for_evaluation(&parts.headers, &header::ORIGIN).map(Cow::Borrowed);
    request.now = now;
    request
}

/// Adds a decision's CORS headers to a response: sets
/// `Access-Control-Allow-Origin` (replacing any the service set) and
/// appends its `Vary` (keeping any the service set, e.g.
/// `Vary: Accept-Encoding`). A decision with no such headers leaves the map
/// as it is, except that a service's own `Access-Control-Allow-Origin` is
/// removed: only the key's policy says who may read the answer.
pub fn apply_cors(decision: &Decision<'_>, headers: &mut HeaderMap) {
    match decision.allow_origin().and_then(allow_origin_value) {
        Some(value) => {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        }
        None => {
            headers.remove(header::ACCESS_CONTROL_ALLOW_ORIGIN);
        }
    }
    if let Some(vary) = decision.vary().header_value() {
        headers.append(header::VARY, HeaderValue::from_static(vary));
    }
}

/// The `Access-Control-Allow-Origin` header value. An echoed Origin passed
/// the strict parser, so it is visible ASCII; if it somehow were not, no
/// header is sent (fail closed: the browser will not expose the answer).
fn allow_origin_value(allow: AllowOrigin<'_>) -> Option<HeaderValue> {
    match allow {
        AllowOrigin::Any => Some(HeaderValue::from_static("*")),
        AllowOrigin::Origin(origin) => HeaderValue::from_str(origin).ok(),
    }
}

/// The JSON error body `{"message": "…", "reason": "…"}`.
///
/// ```
/// assert_eq!(
///     keypolicy::http::error_body("Missing or invalid key", "key_missing"),
///     r#"{"message":"Missing or invalid key","reason":"key_missing"}"#
/// );
/// ```
pub fn error_body(message: &str, reason: &str) -> String {
    let mut body = String::with_capacity(message.len() + reason.len() + 26);
    body.push_str("{\"message\":");
    push_json_string(&mut body, message);
    body.push_str(",\"reason\":");
    push_json_string(&mut body, reason);
    body.push('}');
    body
}

/// Appends `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON error response: `status`, `Content-Type: application/json` and
/// the [`error_body`].
pub fn error_response<B: From<String>>(status: StatusCode, message: &str, reason: &str) -> Response<B> {
    let mut response = Response::new(B::from(error_body(message, reason)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The response for a denied decision — its status, CORS headers and JSON
/// body — or `None` when the decision allows the request.
///
/// ```
/// use keypolicy::http::denial_response;
/// use keypolicy::{evaluate_key, KeyPolicy, KeyRequest};
/// use keypolicy::key::{KeyType, Resource};
/// let policy = KeyPolicy::builder().key_type(KeyType::Web).build()?;
/// let request = KeyRequest::new(Resource::Tiles); // no Origin
/// let response = denial_response::<String>(&evaluate_key(&policy, &request)).unwrap();
/// assert_eq!(response.status(), 403);
/// assert_eq!(response.headers()["vary"], "Origin");
/// assert!(response.body().contains(r#""reason":"origin_required""#));
/// # Ok::<(), keypolicy::key::KeyPolicyError>(())
/// ```
pub fn denial_response<B: From<String>>(decision: &Decision<'_>) -> Option<Response<B>> {
    let denial = decision.denial()?;
    let status = StatusCode::from_u16(denial.status()).unwrap_or(StatusCode::FORBIDDEN);
    let mut response = error_response(status, denial.message(), denial.reason());
    apply_cors(decision, response.headers_mut());
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyType;
    use crate::{evaluate_key, Denial, KeyPolicy};

    fn parts(build: impl FnOnce(::http::request::Builder) -> ::http::request::Builder) -> Parts {
        build(::http::Request::get("/t?key=k")).body(()).unwrap().into_parts().0
    }

    fn cred(query: &str) -> Result<Option<(CredentialKind, String)>, QueryError> {
        credential_from_query(Some(query)).map(|c| c.map(|c| (c.kind, c.value.into_owned())))
    }

    #[test]
    fn query_credentials_are_decoded_and_unique() {
        let key = |v: &str| Ok(Some((CredentialKind::Key, v.to_owned())));
        assert_eq!(cred("key=abc"), key("abc"));
        assert_eq!(cred("a=1&key=abc&b=2"), key("abc"));
        assert_eq!(cred("key=a%20b%2Bc+d"), key("a b+c d"));
        assert_eq!(cred("KEY=abc&keys=x&xkey=y"), Ok(None));
        assert_eq!(cred(""), Ok(None));
        assert_eq!(
            cred("access_token=pk.x"),
            Ok(Some((CredentialKind::AccessToken, "pk.x".into())))
        );
        assert_eq!(
            cred("key=a&key=b"),
            Err(QueryError::Repeated {
                param: CredentialKind::Key
            })
        );
        assert_eq!(
            cred("key=a&key=a"),
            Err(QueryError::Repeated {
                param: CredentialKind::Key
            })
        );
        assert_eq!(
            cred("k%65y=a&key=a"),
            Err(QueryError::Repeated {
                param: CredentialKind::Key
            })
        );
        assert_eq!(
            cred("access_token=a&access_token=b"),
            Err(QueryError::Repeated {
                param: CredentialKind::AccessToken
            })
        );
        assert_eq!(cred("key=a&access_token=b"), Err(QueryError::Ambiguous));
        assert_eq!(
            cred("key="),
            Err(QueryError::Empty {
                param: CredentialKind::Key
            })
        );
        assert_eq!(
            cred("key"),
            Err(QueryError::Empty {
                param: CredentialKind::Key
            })
        );
        // Undecodable bytes are replaced, so such a key is simply unknown.
        assert_eq!(cred("key=%FF"), key("\u{fffd}"));
        assert_eq!(
            QueryError::Repeated {
                param: CredentialKind::Key
            }
            .to_string(),
            "query parameter `key` is given more than once"
        );
    }

    #[test]
    fn the_query_value_is_borrowed_unless_encoded() {
        let c = credential_from_query(Some("key=plain")).unwrap().unwrap();
        assert!(matches!(c.value, Cow::Borrowed("plain")));
    }

    #[test]
    fn origin_headers_must_be_single_and_visible_ascii() {
        let p = parts(|b| b.header("origin", "https://a.com"));
        assert_eq!(single_header(&p.headers, &header::ORIGIN), Ok(Some("https://a.com")));
        assert_eq!(single_header(&p.headers, &header::REFERER), Ok(None));

        let p = parts(|b| b.header("origin", "https://a.com").header("origin", "https://a.com"));
        assert_eq!(
            single_header(&p.headers, &header::ORIGIN),
            Err(HeaderError::Repeated { name: header::ORIGIN })
        );
        let bytes = HeaderValue::from_bytes(b"https://m\xfcnchen.de").unwrap();
        let p = parts(|b| b.header("origin", bytes));
        assert_eq!(
            single_header(&p.headers, &header::ORIGIN),
            Err(HeaderError::NotVisibleAscii { name: header::ORIGIN })
        );
        assert_eq!(
            HeaderError::Repeated { name: header::ORIGIN }.to_string(),
            "header `origin` is sent more than once"
        );
    }

    #[test]
    fn unreadable_origins_are_denied_by_keys_that_read_them_and_ignored_by_others() {
        let web = KeyPolicy::builder().allowed_domains(["a.com"]).build().unwrap();
        let open = KeyPolicy::unrestricted();
        let target = Target::new(Resource::Tiles).with_tileset("alice.streets");
        let twice = parts(|b| b.header("origin", "https://a.com").header("origin", "https://evil.com"));
        let binary = parts(|b| b.header("origin", HeaderValue::from_bytes(b"https://a.com\x80").unwrap()));
        for p in [&twice, &binary] {
            let request = key_request(p, &target);
            assert_eq!(request.origin.as_deref(), Some(INVALID_HEADER));
            assert_eq!(evaluate_key(&web, &request).denial(), Some(Denial::OriginInvalid));
            assert!(evaluate_key(&open, &request).is_allowed());
        }
        let ok = parts(|b| b.header("origin", "https://a.com"));
        let request = key_request(&ok, &target);
        assert_eq!(request.tileset.as_deref(), Some("alice.streets"));
        assert!(evaluate_key(&web, &request).is_allowed());
        let none = parts(|b| b);
        assert_eq!(
            evaluate_key(&web, &key_request(&none, &target)).denial(),
            Some(Denial::OriginRequired)
        );
    }

    #[test]
    fn token_requests_read_referer_and_origin_once() {
        use crate::token::TokenUsage;
        use crate::{evaluate_token, TokenPolicy};
        let restricted = TokenPolicy::builder(TokenUsage::Public)
            .scope(TokenScope::StylesTiles)
            .allowed_urls(["http://localhost"])
            .build()
            .unwrap();
        let open = TokenPolicy::builder(TokenUsage::Public)
            .scope(TokenScope::StylesTiles)
            .build()
            .unwrap();
        let ok = parts(|b| {
            b.header("referer", "http://localhost:8000/map")
                .header("origin", "http://localhost:8000")
        });
        let request = token_request(&ok, TokenScope::StylesTiles, None);
        assert_eq!(request.referer.as_deref(), Some("http://localhost:8000/map"));
        let decision = evaluate_token(&restricted, &request);
        assert!(decision.is_allowed());
        assert_eq!(decision.vary().header_value(), Some("Origin, Referer"));

        let twice = parts(|b| {
            b.header("referer", "http://localhost/")
                .header("referer", "http://localhost/")
        });
        let request = token_request(&twice, TokenScope::StylesTiles, None);
        assert_eq!(request.referer.as_deref(), Some(INVALID_HEADER));
        assert_eq!(
            evaluate_token(&restricted, &request).denial(),
            Some(Denial::RefererNotAllowed)
        );
        assert!(evaluate_token(&open, &request).is_allowed());
        let none = parts(|b| b);
        assert_eq!(
            evaluate_token(&restricted, &token_request(&none, TokenScope::StylesTiles, None)).denial(),
            Some(Denial::RefererRequired)
        );
        // The scope is the caller's: a styles:read request is not covered.
        let request = token_request(&ok, TokenScope::StylesRead, None);
        assert_eq!(
            evaluate_token(&restricted, &request).denial(),
            Some(Denial::ScopeMissing)
        );
    }

    #[test]
    fn targets_carry_a_token_scope() {
        assert_eq!(Target::new(Resource::Tiles).token_scope, Some(TokenScope::StylesTiles));
        assert_eq!(Target::new(Resource::Static).token_scope, Some(TokenScope::StylesTiles));
        assert_eq!(Target::new(Resource::Styles).token_scope, Some(TokenScope::StylesRead));
        assert_eq!(Target::new(Resource::Export).token_scope, None);
        let fonts = Target::new(Resource::Styles).with_token_scope(TokenScope::FontsRead);
        assert_eq!(fonts.token_scope, Some(TokenScope::FontsRead));
    }

    #[test]
    fn cors_headers_replace_allow_origin_and_append_vary() {
        let web = KeyPolicy::builder().key_type(KeyType::Web).build().unwrap();
        let target = Target::new(Resource::Styles);
        let p = parts(|b| b.header("origin", "https://a.com"));
        let request = key_request(&p, &target);
        let decision = evaluate_key(&web, &request);
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        apply_cors(&decision, &mut headers);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.com");
        let vary: Vec<_> = headers.get_all(header::VARY).iter().collect();
        assert_eq!(vary, ["Accept-Encoding", "Origin"]);

        // Denied for an origin-rule key: the service's own `*` is removed.
        let none = parts(|b| b);
        let request = key_request(&none, &target);
        let decision = evaluate_key(&web, &request);
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        apply_cors(&decision, &mut headers);
        assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert_eq!(headers[header::VARY], "Origin");
    }

    #[test]
    fn denials_become_json_responses() {
        let scoped = KeyPolicy::builder()
            .scope(crate::key::KeyScope::StylesRead)
            .build()
            .unwrap();
        let request = KeyRequest::new(Resource::Tiles);
        let response: Response<String> = denial_response(&evaluate_key(&scoped, &request)).unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(response.headers().get(header::VARY).is_none());
        assert_eq!(
            *response.body(),
            format!(
                r#"{{"message":"{}","reason":"scope_missing"}}"#,
                Denial::ScopeMissing.message()
            )
        );
        let open = KeyPolicy::unrestricted();
        assert!(denial_response::<String>(&evaluate_key(&open, &request)).is_none());
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(
            error_body("a\"b\\c\nd", "r"),
            r#"{"message":"a\"b\\c\u000ad","reason":"r"}"#
        );
    }
}
