//! Parsing the `Origin` request header, which is untrusted.
//!
//! A browser serializes an origin as exactly `scheme://host[:port]` in
//! ASCII. Anything else — `null`, a path, userinfo, several origins, stray
//! whitespace — did not come from a browser's origin serializer and is
//! refused outright instead of being "repaired" (the `url` crate, for
//! example, silently strips tabs and newlines, which would turn
//! `https://exa\tmple.com` into an allowed host).

use crate::host::{parse_ascii_host, punycode_is_canonical, HostRef, LowerBuf};

/// The longest `Origin` header value we look at, in bytes. Browsers send
/// `scheme://host:port`, at most a few hundred bytes; anything longer is
/// refused before it is parsed, so hostile input costs constant time.
pub const MAX_ORIGIN_LEN: usize = 2048;

/// Longest scheme we accept (custom app schemes are short).
const MAX_SCHEME_LEN: usize = 32;

/// A parsed `Origin` header: borrowed, nothing allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin<'a> {
    /// The scheme as written (may be upper case).
    pub(crate) scheme: &'a str,
    /// `scheme://host` exactly as written (used for app-scheme entries,
    /// which fold nothing but case).
    pub(crate) scheme_host: &'a str,
    /// The parsed host.
    pub(crate) host: HostRef<'a>,
}

impl Origin<'_> {
    /// `http` or `https`, in any case.
    pub(crate) fn is_web(&self) -> bool {
        is_web_scheme(self.scheme)
    }

    /// Whether the host's punycode labels, if any, are valid IDNA. Applies
    /// to app-scheme origins too: they are compared as text, but invalid
    /// punycode is `origin_invalid` whatever the scheme. Allocates only
    /// when there is a punycode label.
    pub(crate) fn idna_is_valid(&self) -> bool {
        match self.host {
            HostRef::Domain(d) if d.has_punycode => LowerBuf::new().lower(d.name).is_some_and(punycode_is_canonical),
            _ => true,
        }
    }
}

/// `http` or `https`, in any case.
pub(crate) fn is_web_scheme(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")
}

/// A valid URL scheme: a letter, then letters, digits, `+`, `-`, `.`.
pub(crate) fn is_valid_scheme(scheme: &str) -> bool {
    let mut bytes = scheme.bytes();
    scheme.len() <= MAX_SCHEME_LEN
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Parses a port: 1 to 5 digits, value 1..=65535. Port 0 cannot be
/// connected to, so no browser sends it.
pub(crate) fn parse_port(port: &str) -> Option<u16> {
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse::<u16>().ok().filter(|&p| p != 0)
}

/// Parses one `Origin` header value; `None` means `origin_invalid`.
pub(crate) fn parse_origin(value: &str) -> Option<Origin<'_>> {
    // Printable ASCII only: rules out whitespace, control bytes (which the
    // `url` crate would strip) and non-ASCII in one pass.
    if value.len() > MAX_ORIGIN_LEN || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let (scheme, authority) = value.split_once("://")?;
    if !is_valid_scheme(scheme) {
        return None;
    }
    // A serialized origin ends at the port: no path (not even `/`), query,
    // fragment, userinfo, percent-encoding, list separators or wildcards.
    if authority
        .bytes()
        .any(|b| matches!(b, b'/' | b'?' | b'#' | b'@' | b'%' | b',' | b'\\' | b'*'))
    {
        return None;
    }
    let (raw_host, port) = split_host_port(authority)?;
    if let Some(port) = port {
        parse_port(port)?;
    }
    let host = parse_ascii_host(raw_host).ok()?;
    let scheme_host = value.get(..scheme.len() + "://".len() + raw_host.len())?;
    Some(Origin {
        scheme,
        scheme_host,
        host,
    })
}

/// Splits `host[:port]` or `[v6][:port]`; the port is returned unparsed.
pub(crate) fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        return match rest {
            "" => Some((host, None)),
            _ => rest.strip_prefix(':').map(|p| (host, Some(p))),
        };
    }
    Some(match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_serialized_origins() {
        for ok in [
            "https://example.com",
            "HTTPS://EXAMPLE.COM:443",
            "http://localhost:3000",
            "http://[::1]:8080",
            "capacitor://localhost",
            "https://example.com.",
            "http://127.1",
        ] {
            assert!(parse_origin(ok).is_some(), "{ok}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "null",
            "",
            "example.com",
            "https://",
            "https://example.com/",
            "https://example.com?x",
            "https://example.com#x",
            "https://user@example.com",
            "https://exa\tmple.com",
            "https://example.com ",
            " https://example.com",
            "https://example.com, https://evil.com",
            "https://example.com https://evil.com",
            "https://münchen.de",
            "https://example.com%2eevil.net",
            "https://*.example.com",
            "*",
            "https://.example.com",
            "https://example..com",
            "https://example.com:",
            "https://example.com:0",
            "https://example.com:65536",
            "https://example.com:80:80",
            "https://example.com:+80",
            "https:/example.com",
            "1https://example.com",
            "https://[::1",
            "https://[::1]x",
            "https://ex\\ample.com",
        ] {
            assert!(parse_origin(bad).is_none(), "{bad:?}");
        }
        assert!(parse_origin(&format!("https://{}.com", "a".repeat(MAX_ORIGIN_LEN))).is_none());
    }
}
