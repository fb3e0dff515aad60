//! Building a [`KeyRequest`] or [`TokenRequest`] from a request's
//! [`Parts`], borrowing its headers.

use std::borrow::Cow;

use ::http::header;
use ::http::request::Parts;

use crate::http::header::HeaderField;
use crate::http::target::Target;
use crate::key::KeyRequest;
use crate::token::{Timestamp, TokenRequest, TokenScope};

/// The [`KeyRequest`] for a request: its `Origin` header and `target`,
/// borrowed. A repeated or unreadable `Origin` is recorded with
/// [`KeyRequest::with_unreadable_origin`], which keys with an origin rule
/// deny (`origin_invalid`).
pub fn key_request<'a>(parts: &'a Parts, target: &'a Target<'_>) -> KeyRequest<'a> {
    key_request_with_origin(HeaderField::read(&parts.headers, &header::ORIGIN), target)
}

/// [`key_request`] with the Origin already read (the
/// [`Guard`](crate::http::Guard) may stand in a same-origin page's origin).
pub(crate) fn key_request_with_origin<'a>(origin: HeaderField<'a>, target: &'a Target<'_>) -> KeyRequest<'a> {
    let mut request = KeyRequest::new(target.resource);
    request = match origin {
        HeaderField::Absent => request,
        HeaderField::Value(origin) => request.with_origin(origin),
        HeaderField::Unreadable(_) => request.with_unreadable_origin(),
    };
    request.tileset = target.tileset.as_deref().map(Cow::Borrowed);
    request
}

/// The [`TokenRequest`] for a request needing `scope` at time `now`: its
/// `Referer` and `Origin` headers, borrowed. A repeated or unreadable
/// header is recorded as such ([`TokenRequest::with_unreadable_referer`]),
/// which URL-restricted tokens deny (`referer_not_allowed`) and other
/// tokens ignore. The Origin fallback is off; turn it on with
/// [`TokenRequest::with_origin_fallback`].
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
    token_request_with_origin(
        &parts.headers,
        HeaderField::read(&parts.headers, &header::ORIGIN),
        scope,
        now,
    )
}

/// [`token_request`] with the Origin already read.
pub(crate) fn token_request_with_origin<'a>(
    headers: &'a header::HeaderMap,
    origin: HeaderField<'a>,
    scope: TokenScope,
    now: Option<Timestamp>,
) -> TokenRequest<'a> {
    let mut request = TokenRequest::new(scope);
    request = match HeaderField::read(headers, &header::REFERER) {
        HeaderField::Absent => request,
        HeaderField::Value(referer) => request.with_referer(referer),
        HeaderField::Unreadable(_) => request.with_unreadable_referer(),
    };
    request = match origin {
        HeaderField::Absent => request,
        HeaderField::Value(origin) => request.with_origin(origin),
        HeaderField::Unreadable(_) => request.with_unreadable_origin(),
    };
    request.now = now;
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testing::{parts, tiles_token};
    use crate::key::{KeyType, Resource};
    use crate::{evaluate_key, evaluate_token, Denial, KeyPolicy};
    use ::http::HeaderValue;

    #[test]
    fn unreadable_origins_are_denied_by_keys_that_read_them_and_ignored_by_others() {
        let web = KeyPolicy::builder().allowed_domains(["a.com"]).build().unwrap();
        let any = KeyPolicy::builder().key_type(KeyType::Web).build().unwrap();
        let open = KeyPolicy::unrestricted();
        let target = Target::new(Resource::Tiles).with_tileset("alice.streets");
        let twice = parts(|b| b.header("origin", "https://a.com").header("origin", "https://evil.com"));
        let binary = parts(|b| b.header("origin", HeaderValue::from_bytes(b"https://a.com\x80").unwrap()));
        for p in [&twice, &binary] {
            let request = key_request(p, &target);
            assert_eq!(
                request,
                KeyRequest::new(Resource::Tiles)
                    .with_unreadable_origin()
                    .with_tileset("alice.streets")
            );
            assert_eq!(evaluate_key(&web, &request).denial(), Some(Denial::OriginInvalid));
            assert_eq!(evaluate_key(&any, &request).denial(), Some(Denial::OriginInvalid));
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
        let (restricted, open) = (tiles_token(&["http://localhost"]), tiles_token(&[]));
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
        assert_eq!(
            request,
            TokenRequest::new(TokenScope::StylesTiles).with_unreadable_referer()
        );
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
    fn an_unreadable_origin_is_never_echoed_and_fails_the_fallback() {
        let restricted = tiles_token(&["http://localhost"]);
        let p = parts(|b| {
            b.header("referer", "http://localhost/map")
                .header("origin", "http://localhost")
                .header("origin", "http://localhost")
        });
        let request = token_request(&p, TokenScope::StylesTiles, None);
        let decision = evaluate_token(&restricted, &request);
        assert!(decision.is_allowed());
        assert_eq!(decision.allow_origin(), None);

        let p = parts(|b| b.header("origin", HeaderValue::from_bytes(b"http://localhost\xff").unwrap()));
        let request = token_request(&p, TokenScope::StylesTiles, None).with_origin_fallback(true);
        assert_eq!(
            evaluate_token(&restricted, &request).denial(),
            Some(Denial::RefererNotAllowed)
        );
        // A readable Origin passes the fallback, which shows the denial above is the unreadable one's.
        let p = parts(|b| b.header("origin", "http://localhost"));
        let request = token_request(&p, TokenScope::StylesTiles, None).with_origin_fallback(true);
        assert!(evaluate_token(&restricted, &request).is_allowed());
    }
}
