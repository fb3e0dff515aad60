//! Parsing the `Referer` request header, which is untrusted.
//!
//! A usable Referer is an absolute `http` or `https` URL in printable
//! ASCII: `scheme://host[:port][/path][?query][#fragment]`. Browsers send
//! nothing else (they drop userinfo and fragments, punycode-encode hosts and
//! percent-encode paths), so anything else — `null`, `about:blank`,
//! userinfo, a percent-encoded or non-ASCII host, whitespace or control
//! characters, a backslash, a value over [`MAX_REFERER_LEN`] — is unusable
//! and never matches. Parsing borrows from the header and never allocates.

use crate::host::{parse_ascii_host, HostRef};
use crate::origin::{parse_port, split_host_port};
use crate::token::allowed_url::WebScheme;

/// The longest `Referer` header value looked at, in bytes. Browsers
/// truncate longer referrers to their origin at 4,096 bytes, so a longer
/// value did not come from one and is refused before it is parsed.
pub const MAX_REFERER_LEN: usize = 4096;

/// A parsed, usable Referer (or Origin, for `origin_fallback`), borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Referer<'a> {
    pub(crate) scheme: WebScheme,
    /// The host, case as written, trailing dot removed.
    pub(crate) host: HostRef<'a>,
    /// The effective port: the explicit one, or the scheme's default.
    pub(crate) port: u16,
    /// The path, without query or fragment; `/` when the URL has none.
    pub(crate) path: &'a str,
}

/// Parses a Referer header value; `None` means unusable.
pub(crate) fn parse_referer(value: &str) -> Option<Referer<'_>> {
    // Printable ASCII only: rules out whitespace and control bytes (which
    // URL parsers would strip, changing the host) and non-ASCII in one pass.
    // A backslash is a `/` to URL parsers; browsers never send one.
    if value.len() > MAX_REFERER_LEN || !value.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return None;
    }
    let (scheme, rest) = value.split_once("://")?;
    let scheme = WebScheme::parse(scheme)?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // No userinfo; `%` (a percent-encoded host), `*` and `,` are rejected by
    // the host grammar below.
    if authority.contains('@') {
        return None;
    }
    let (raw_host, port) = split_host_port(authority)?;
    let port = match port {
        Some(port) => parse_port(port)?,
        None => scheme.default_port(),
    };
    let host = parse_ascii_host(raw_host).ok()?;
    let path = match tail.strip_prefix('/') {
        Some(_) => tail.split(['?', '#']).next().unwrap_or("/"),
        None => "/",
    };
    Some(Referer {
        scheme,
        host,
        port,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::DomainRef;

    fn domain<'a>(r: &Referer<'a>) -> Option<&'a str> {
        match r.host {
            HostRef::Domain(DomainRef { name, .. }) => Some(name),
            HostRef::Ip(_) => None,
        }
    }

    #[test]
    fn splits_scheme_host_port_and_path() {
        let r = parse_referer("https://Docs.Example.com./maps/a?b=c#d").unwrap();
        assert_eq!(r.scheme, WebScheme::Https);
        assert_eq!(domain(&r), Some("Docs.Example.com"));
        assert_eq!((r.port, r.path), (443, "/maps/a"));
        let r = parse_referer("HTTP://localhost:3000").unwrap();
        assert_eq!(
            (r.scheme, domain(&r), r.port, r.path),
            (WebScheme::Http, Some("localhost"), 3000, "/")
        );
        let r = parse_referer("https://example.com?q=/x").unwrap();
        assert_eq!(r.path, "/");
        let r = parse_referer("https://example.com#/x").unwrap();
        assert_eq!(r.path, "/");
        let r = parse_referer("http://example.com:80/").unwrap();
        assert_eq!((r.port, r.path), (80, "/"));
        let r = parse_referer("https://example.com/maps%2F..%2Fadmin").unwrap();
        assert_eq!(r.path, "/maps%2F..%2Fadmin");
        assert!(matches!(
            parse_referer("http://[::1]:8080/").unwrap().host,
            HostRef::Ip(_)
        ));
    }

    #[test]
    fn hostile_values_are_unusable() {
        for bad in [
            "",
            "null",
            "about:blank",
            "data:text/html,x",
            "file:///etc/passwd",
            "ftp://example.com/",
            "chrome-extension://abc/",
            "//example.com/",
            "example.com/maps",
            "https:/example.com/",
            "https://",
            "https:///maps",
            "https://user@example.com/",
            "https://user:pw@example.com/",
            "https://example.com@evil.net/",
            "https://ex%61mple.com/",
            "https://example.com%2eevil.net/",
            "https://exa mple.com/",
            "https://example.com/ maps",
            " https://example.com/",
            "https://example.com/\t",
            "https://exa\tmple.com/",
            "https://exa\nmple.com/",
            "https://example.com/\u{0}",
            "https://münchen.de/",
            "https://example.com/café",
            "https://example.com\\evil.net/",
            "https://example.com/a\\b",
            "https://*.example.com/",
            "https://example..com/",
            "https://.example.com/",
            "https://example.com:/",
            "https://example.com:0/",
            "https://example.com:65536/",
            "https://example.com:8o/",
            "https://[::1/",
            "https://example.com,evil.net/",
        ] {
            assert!(parse_referer(bad).is_none(), "{bad:?}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_REFERER_LEN));
        assert!(parse_referer(&long).is_none());
        let at_cap = format!("https://example.com/{}", "a".repeat(MAX_REFERER_LEN - 20));
        assert_eq!(at_cap.len(), MAX_REFERER_LEN);
        assert!(parse_referer(&at_cap).is_some());
    }
}
