//! The same-origin opt-in: a browser's same-origin `GET` carries no
//! `Origin` header (only `Sec-Fetch-Site: same-origin`), so a key with an
//! origin rule would refuse the tile host's own pages. A [`Guard`] given
//! the server's public origins treats such a request as coming from the
//! one its `Host` names.
//!
//! [`Guard`]: crate::http::Guard

use std::fmt;
use std::str::FromStr;

use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ::http::uri::{Authority, Uri};

use crate::http::header::{single_header, single_header_value, visible_ascii, HeaderField};

/// One public origin of this server (`https://tiles.example.com`), for
/// [`Guard::same_origin`](crate::http::Guard::same_origin).
///
/// ```
/// use keypolicy::http::PublicOrigin;
/// let origin: PublicOrigin = "https://Tiles.Example.com:443/".parse()?;
/// assert_eq!(origin.as_str(), "https://tiles.example.com");
/// assert!("https://tiles.example.com/tiles".parse::<PublicOrigin>().is_err());
/// # Ok::<(), keypolicy::http::PublicOriginError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublicOrigin {
    /// `scheme://host[:port]` as a browser serializes it: lower case, the
    /// scheme's default port omitted.
    serialized: Box<str>,
    /// The lower-case host, as `Host` carries it (IPv6 in brackets).
    host: Box<str>,
    port: u16,
}

/// Why a string is not a [`PublicOrigin`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("public origin {value:?}: {problem}")]
pub struct PublicOriginError {
    /// The string given.
    pub value: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl FromStr for PublicOrigin {
    type Err = PublicOriginError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let error = |problem| PublicOriginError {
            value: value.to_owned(),
            problem,
        };
        let uri: Uri = value.parse().map_err(|_| error("not a URL"))?;
        let default_port = match uri.scheme_str() {
            Some("http") => 80,
            Some("https") => 443,
            _ => return Err(error("the scheme must be http or https")),
        };
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(error("an origin has no path or query"));
        }
        let authority = uri.authority().ok_or_else(|| error("no host"))?;
        if authority.as_str().contains('@') {
            return Err(error("an origin has no user name or password"));
        }
        let host = authority.host().to_ascii_lowercase();
        if host.is_empty() {
            return Err(error("no host"));
        }
        let port = authority.port_u16().unwrap_or(default_port);
        let scheme = uri.scheme_str().unwrap_or_default();
        let serialized = if port == default_port {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}:{port}")
        };
        Ok(PublicOrigin {
            serialized: serialized.into(),
            host: host.into(),
            port,
        })
    }
}

impl PublicOrigin {
    /// The origin as a browser would send it in `Origin`.
    pub fn as_str(&self) -> &str {
        &self.serialized
    }

    /// Whether a request's `Host` (`host[:port]`) names this origin.
    fn is_host(&self, host: &str) -> bool {
        let Ok(authority) = host.parse::<Authority>() else {
            return false;
        };
        let default_port = if self.serialized.starts_with("https:") { 443 } else { 80 };
        authority.host().eq_ignore_ascii_case(&self.host) && authority.port_u16().unwrap_or(default_port) == self.port
    }
}

impl fmt::Display for PublicOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.serialized)
    }
}

/// `Sec-Fetch-Site`, which `http` 1.x has no constant for.
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// The request's Origin as the guard judges it, the `Origin` header's
/// value when that is it (so an allowed answer can echo it without a
/// copy), and whether `Sec-Fetch-Site` was read to decide it (so answers
/// must vary on it).
///
/// With no public origins, or when the request has an `Origin` header,
/// that header is the answer. Otherwise a request with a single
/// `Sec-Fetch-Site: same-origin` (sent only by browsers, and only for a
/// page on the request's own origin) whose `Host` names one of `origins`
/// is treated as sent from that origin.
pub(crate) fn effective_origin<'a>(
    headers: &'a HeaderMap,
    authority: Option<&'a str>,
    origins: &'a [PublicOrigin],
) -> (HeaderField<'a>, Option<&'a HeaderValue>, bool) {
    let (origin, value) = match single_header_value(headers, &header::ORIGIN) {
        Ok(None) => (HeaderField::Absent, None),
        Ok(Some(value)) => match visible_ascii(value, &header::ORIGIN) {
            Ok(text) => (HeaderField::Value(text), Some(value)),
            Err(error) => (HeaderField::Unreadable(error), None),
        },
        Err(error) => (HeaderField::Unreadable(error), None),
    };
    if origins.is_empty() || !origin.is_absent() {
        return (origin, value, false);
    }
    let same_origin = single_header(headers, &SEC_FETCH_SITE) == Ok(Some("same-origin"));
    // HTTP/1.1 names the host in `Host`; HTTP/2 in the URI's authority.
    let host = match single_header(headers, &header::HOST) {
        Ok(Some(host)) => Some(host),
        Ok(None) => authority,
        Err(_) => None,
    };
    let public = host.and_then(|host| origins.iter().find(|o| o.is_host(host)));
    match public {
        Some(public) if same_origin => (HeaderField::Value(public.as_str()), None, true),
        _ => (origin, value, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::http::HeaderValue;

    fn origin(s: &str) -> PublicOrigin {
        s.parse().unwrap()
    }

    #[test]
    fn public_origins_are_serialized_as_browsers_do() {
        assert_eq!(
            origin("https://Tiles.Example.com").as_str(),
            "https://tiles.example.com"
        );
        assert_eq!(origin("http://localhost:8080/").as_str(), "http://localhost:8080");
        assert_eq!(origin("http://localhost:80").as_str(), "http://localhost");
        assert_eq!(origin("http://[::1]:3000").as_str(), "http://[::1]:3000");
        for (bad, problem) in [
            ("tiles.example.com", "the scheme must be http or https"),
            ("ftp://tiles.example.com", "the scheme must be http or https"),
            ("https://tiles.example.com/v1", "an origin has no path or query"),
            ("https://tiles.example.com/?x", "an origin has no path or query"),
            (
                "https://user@tiles.example.com",
                "an origin has no user name or password",
            ),
            ("https://", "not a URL"),
            ("", "not a URL"),
        ] {
            let error = bad.parse::<PublicOrigin>().unwrap_err();
            assert_eq!(error.problem, problem, "{bad}");
            assert_eq!(error.value, bad);
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn only_same_origin_requests_naming_a_public_host_stand_in() {
        let origins = [origin("https://tiles.example.com"), origin("http://localhost:8080")];
        let same = ("sec-fetch-site", "same-origin");
        type Case<'a> = (&'a [(&'static str, &'static str)], HeaderField<'a>, bool);
        let cases: [Case<'_>; 9] = [
            (
                &[same, ("host", "tiles.example.com")],
                HeaderField::Value("https://tiles.example.com"),
                true,
            ),
            (
                &[same, ("host", "TILES.example.com:443")],
                HeaderField::Value("https://tiles.example.com"),
                true,
            ),
            (
                &[same, ("host", "localhost:8080")],
                HeaderField::Value("http://localhost:8080"),
                true,
            ),
            (&[same, ("host", "localhost:8081")], HeaderField::Absent, true),
            (&[same, ("host", "evil.example")], HeaderField::Absent, true),
            (
                &[("sec-fetch-site", "same-site"), ("host", "tiles.example.com")],
                HeaderField::Absent,
                true,
            ),
            (&[("host", "tiles.example.com")], HeaderField::Absent, true),
            (&[same, same, ("host", "tiles.example.com")], HeaderField::Absent, true),
            // A real Origin header is always the one judged.
            (
                &[same, ("host", "tiles.example.com"), ("origin", "https://a.com")],
                HeaderField::Value("https://a.com"),
                false,
            ),
        ];
        for (pairs, expected, read) in cases {
            let map = headers(pairs);
            let (origin, value, varies) = effective_origin(&map, None, &origins);
            assert_eq!((origin, varies), (expected, read), "{pairs:?}");
            // The header's own value comes back only when it is the one judged.
            assert_eq!(value, map.get(header::ORIGIN), "{pairs:?}");
        }
        // HTTP/2: the host is the URI's authority.
        let map = headers(&[same]);
        assert_eq!(
            effective_origin(&map, Some("tiles.example.com"), &origins).0,
            HeaderField::Value("https://tiles.example.com")
        );
        // Off (no public origins): nothing stands in, nothing varies.
        let map = headers(&[same, ("host", "tiles.example.com")]);
        assert_eq!(effective_origin(&map, None, &[]), (HeaderField::Absent, None, false));
        // An unreadable Origin is judged as such, and never echoed.
        let map = headers(&[("origin", "https://a.com"), ("origin", "https://a.com")]);
        let (origin, value, _) = effective_origin(&map, None, &origins);
        assert!(matches!(origin, HeaderField::Unreadable(_)) && value.is_none());
    }
}
