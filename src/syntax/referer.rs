//! Parsing the `Referer` request header, which is untrusted.
//!
//! A usable Referer is an absolute `http` or `https` URL in printable
//! ASCII: `scheme://host[:port][/path][?query][#fragment]`. Browsers send
//! nothing else (they drop userinfo and fragments, punycode-encode hosts and
//! percent-encode paths), so anything else — `null`, `about:blank`,
//! userinfo, a percent-encoded or non-ASCII host, whitespace or control
//! characters, a backslash, a value over [`MAX_REFERER_LEN`] — is unusable
//! and never matches. Parsing borrows from the header and never allocates.

use crate::syntax::host::{parse_ascii_host, HostRef};
use crate::syntax::origin::{parse_origin, Origin};
use crate::syntax::url::{parse_port, WebScheme};

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
    /// False when the path has no `.` and no `%`, so no dot segment.
    pub(crate) path_may_have_dots: bool,
    /// `scheme://authority` exactly as written: the serialized origin of
    /// the URL when the scheme and host are in the browser's case.
    pub(crate) origin: &'a str,
}

impl<'a> Referer<'a> {
    /// An `Origin` header value, parsed by the one Origin parser
    /// ([`parse_origin`]), as a Referer with path `/`: how a token judges
    /// the Origin (`origin_fallback`, and the CORS echo). Only `http` and
    /// `https` origins qualify; an Origin is the Referer grammar's
    /// `scheme://authority` with nothing after it.
    pub(crate) fn from_origin_header(value: &'a str) -> Option<Referer<'a>> {
        let Origin { scheme, host, port, .. } = parse_origin(value)?;
        let scheme = WebScheme::parse(scheme)?;
        Some(Referer {
            scheme,
            host,
            port: port.unwrap_or(scheme.default_port()),
            path: "/",
            path_may_have_dots: false,
            origin: value,
        })
    }
}

/// Parses a Referer header value; `None` means unusable.
///
/// This runs on every request to a URL-restricted token, so it works on
/// bytes in a few passes that the compiler can vectorize, instead of
/// general string searches.
pub(crate) fn parse_referer(value: &str) -> Option<Referer<'_>> {
    let bytes = value.as_bytes();
    if bytes.len() > MAX_REFERER_LEN {
        return None;
    }
    // Printable ASCII only: rules out whitespace and control bytes (which
    // URL parsers would strip, changing the host) and non-ASCII. A
    // backslash is a `/` to URL parsers; browsers never send one.
    if !is_graphic_ascii_without_backslash(bytes) {
        return None;
    }
    let (scheme, skip) = if starts_with_ignore_case(bytes, b"https://") {
        (WebScheme::Https, "https://".len())
    } else if starts_with_ignore_case(bytes, b"http://") {
        (WebScheme::Http, "http://".len())
    } else {
        return None;
    };
    let rest = bytes.get(skip..)?;
    // One scan of the authority: where it ends, and where its port starts.
    // No userinfo (`@`); an IP-literal (`[…]`) host never matches an entry.
    // `%` (a percent-encoded host), `*` and `,` are rejected by the host
    // grammar below.
    let mut authority_len = rest.len();
    let mut colon = None;
    for (i, &b) in rest.iter().enumerate() {
        match b {
            b'/' | b'?' | b'#' => {
                authority_len = i;
                break;
            }
            b'@' | b'[' => return None,
            b':' if colon.is_none() => colon = Some(i),
            _ => {}
        }
    }
    let origin = value.get(..skip + authority_len)?;
    let authority = origin.get(skip..)?;
    let (raw_host, port) = match colon {
        Some(colon) => (authority.get(..colon)?, Some(authority.get(colon + 1..)?)),
        None => (authority, None),
    };
    let port = match port {
        Some(port) => parse_port(port)?,
        None => scheme.default_port(),
    };
    let host = parse_ascii_host(raw_host).ok()?;
    let tail = value.get(origin.len()..)?;
    // The path runs to the query or fragment. Note on the way whether it
    // has a `.` or `%` at all: without one it cannot have a dot segment.
    let (path, path_may_have_dots) = match tail.as_bytes().first() {
        Some(b'/') => {
            let mut len = tail.len();
            let mut dots = false;
            for (i, &b) in tail.as_bytes().iter().enumerate() {
                match b {
                    b'?' | b'#' => {
                        len = i;
                        break;
                    }
                    b'.' | b'%' => dots = true,
                    _ => {}
                }
            }
            (tail.get(..len)?, dots)
        }
        _ => ("/", false),
    };
    Some(Referer {
        scheme,
        host,
        port,
        path,
        path_may_have_dots,
        origin,
    })
}

/// Whether every byte is printable ASCII (`!`..=`~`) other than `\\`.
/// Eight bytes at a time (SWAR): a Referer is checked on every request.
fn is_graphic_ascii_without_backslash(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    /// High bit set in each byte of `x` that is zero (exact for "any").
    const fn zero_bytes(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGH
    }
    let mut chunks = bytes.chunks_exact(8);
    let mut bad = 0u64;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word);
        // Non-ASCII; below `!` (bytes are < 0x80 when this matters: the
        // first term catches the rest); DEL; backslash.
        bad |= (x & HIGH)
            | (x.wrapping_sub(ONES * 0x21) & !x & HIGH)
            | zero_bytes(x ^ (ONES * 0x7f))
            | zero_bytes(x ^ (ONES * u64::from(b'\\')));
    }
    bad == 0 && chunks.remainder().iter().all(|&b| b.is_ascii_graphic() && b != b'\\')
}

fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::host::DomainRef;

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
            parse_referer("http://127.1:8080/").unwrap().host,
            HostRef::Ip(_)
        ));
        // Only a path with a `.` or `%` can have a dot segment; the query
        // and fragment do not count.
        for (value, may_have_dots) in [
            ("https://example.com/maps/a", false),
            ("https://example.com./maps?x=../y#.", false),
            ("https://example.com/maps/a.png", true),
            ("https://example.com/maps/%2e%2e/x", true),
            ("https://example.com", false),
        ] {
            let r = parse_referer(value).unwrap();
            assert_eq!(r.path_may_have_dots, may_have_dots, "{value}");
        }
        // No entry is an IP address, so an IPv6 literal is refused outright.
        assert!(parse_referer("http://[::1]:8080/").is_none());
    }

    #[test]
    fn the_byte_check_agrees_with_the_simple_one() {
        let simple = |b: &[u8]| b.iter().all(|&c| c.is_ascii_graphic() && c != b'\\');
        for len in 0..=24usize {
            for bad in 0..=255u8 {
                for at in [0, len / 2, len.saturating_sub(1)] {
                    let mut bytes = vec![b'a'; len];
                    if let Some(slot) = bytes.get_mut(at) {
                        *slot = bad;
                    }
                    assert_eq!(
                        is_graphic_ascii_without_backslash(&bytes),
                        simple(&bytes),
                        "len {len}, byte {bad:#x} at {at}"
                    );
                }
            }
        }
        // A byte just above a zero byte must not hide or fake anything.
        assert!(!is_graphic_ascii_without_backslash(b"ab\x00\x01cdefgh"));
        assert!(is_graphic_ascii_without_backslash(b"!~!~!~!~!~!~!~!~"));
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

    /// An Origin header becomes a Referer with path `/` through the one
    /// Origin parser: http(s) only, the port defaulted by scheme, and only
    /// what `parse_origin` accepts (so `null`, paths, userinfo, lists and
    /// over-long values are refused here exactly as they are for keys).
    #[test]
    fn origin_headers_are_referers_with_path_slash() {
        let r = Referer::from_origin_header("HTTPS://Example.com").unwrap();
        assert_eq!(
            (r.scheme, r.port, r.path, r.origin),
            (WebScheme::Https, 443, "/", "HTTPS://Example.com")
        );
        let r = Referer::from_origin_header("http://localhost:3000").unwrap();
        assert_eq!((r.scheme, r.port, r.path), (WebScheme::Http, 3000, "/"));
        for value in [
            "https://example.com",
            "HTTPS://EXAMPLE.COM:443",
            "http://localhost:3000",
            "https://example.com.",
            "http://127.1",
            "http://[::1]:8080",
            "capacitor://localhost",
            "null",
            "",
            "https://example.com/",
            "https://user@example.com",
            "https://example.com, https://evil.com",
            "https://example.com:0",
            "https://ex\\ample.com",
        ] {
            let web_origin = parse_origin(value).is_some_and(|o| o.is_web());
            assert_eq!(Referer::from_origin_header(value).is_some(), web_origin, "{value:?}");
        }
        let long = format!("https://{}.com", "a".repeat(crate::syntax::origin::MAX_ORIGIN_LEN));
        assert!(Referer::from_origin_header(&long).is_none());
    }
}
