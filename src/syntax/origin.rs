//! Parsing the `Origin` request header, which is untrusted.
//!
//! A browser serializes an origin as exactly `scheme://host[:port]` in
//! ASCII. Anything else — `null`, a path, userinfo, several origins, stray
//! whitespace — did not come from a browser's origin serializer and is
//! refused outright instead of being "repaired" (the `url` crate, for
//! example, silently strips tabs and newlines, which would turn
//! `https://exa\tmple.com` into an allowed host).

use crate::syntax::host::{
    host_byte_class, is_punycode_label, parse_ascii_host, punycode_is_canonical, DomainRef, HostRef, LowerBuf,
    MAX_HOST_LEN, MAX_LABEL_LEN, UPPER,
};
use crate::syntax::url::{is_valid_scheme, is_web_scheme, parse_port, split_host_port, MAX_SCHEME_LEN};

/// The longest `Origin` header value we look at, in bytes. Browsers send
/// `scheme://host:port`, at most a few hundred bytes; anything longer is
/// refused before it is parsed, so hostile input costs constant time.
pub const MAX_ORIGIN_LEN: usize = 2048;

/// Longest authority (`host[:port]`) that can be valid: a 253-byte name,
/// its optional trailing dot, and `:` with a port of at most 5 digits
/// (IPv6 literals are far shorter). Anything longer is refused before it is
/// scanned, so a hostile header costs at most this much work.
const MAX_AUTHORITY_LEN: usize = MAX_HOST_LEN + ".".len() + ":65535".len();

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
    /// The explicit port, if any.
    pub(crate) port: Option<u16>,
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

/// The bytes that may appear in the authority (`host[:port]`) of a
/// serialized origin, as a bit set over ASCII: printable ASCII, except what
/// would start a path, query or fragment, userinfo, percent-encoding, a
/// list of origins, or a wildcard. A bit set, because this runs on every
/// byte of every request's header.
const AUTHORITY_BYTES: u128 = {
    let mut set = 0u128;
    let mut b = 0u8;
    while b < 128 {
        if b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'@' | b'%' | b',' | b'\\' | b'*') {
            set |= 1 << b;
        }
        b += 1;
    }
    set
};

/// Whether `b` is in [`AUTHORITY_BYTES`] (never for non-ASCII bytes).
fn is_authority_byte(b: u8) -> bool {
    b < 128 && (AUTHORITY_BYTES >> b) & 1 == 1
}

/// Parses one `Origin` header value; `None` means `origin_invalid`.
pub(crate) fn parse_origin(value: &str) -> Option<Origin<'_>> {
    // Over the cap: refused on its length alone, before reading a byte.
    if value.len() > MAX_ORIGIN_LEN {
        return None;
    }
    // `scheme://`: the scheme ends at the first `:` (a valid scheme has
    // none), which must start `://`.
    // (A colon further in than the longest scheme is refused unread.)
    let head = value.as_bytes().get(..=MAX_SCHEME_LEN).unwrap_or(value.as_bytes());
    let colon = head.iter().position(|&b| b == b':')?;
    let (scheme, rest) = value.split_at(colon);
    let authority = rest.strip_prefix("://")?;
    if !is_valid_scheme(scheme) || authority.len() > MAX_AUTHORITY_LEN {
        return None;
    }
    parse_plain_authority(value, scheme, authority).or_else(|| parse_any_authority(value, scheme, authority))
}

/// The general path of [`parse_origin`]: any authority a browser may
/// serialize, IP literals and trailing dots included.
fn parse_any_authority<'a>(value: &'a str, scheme: &'a str, authority: &'a str) -> Option<Origin<'a>> {
    // A serialized origin is printable ASCII (which rules out whitespace,
    // control bytes — which the `url` crate would strip — and non-ASCII) and
    // ends at the port: no path (not even `/`), query, fragment, userinfo,
    // percent-encoding, list separators or wildcards. One pass checks it all;
    // the scheme's own characters were checked above.
    if !authority.bytes().all(is_authority_byte) {
        return None;
    }
    let (raw_host, port) = split_host_port(authority)?;
    let port = match port {
        Some(port) => Some(parse_port(port)?),
        None => None,
    };
    let host = parse_ascii_host(raw_host).ok()?;
    let scheme_host = value.get(..scheme.len() + "://".len() + raw_host.len())?;
    Some(Origin {
        scheme,
        scheme_host,
        host,
        port,
    })
}

/// The fast path of [`parse_origin`], for the shape nearly every browser
/// sends: `authority` is `name[:port]`, where `name` is a domain of letters,
/// digits, `-`, `_` and single dots, with no trailing dot and a last label
/// that does not start with a digit (so it is not an IPv4 address), and the
/// port is valid. That is checked in one pass over the bytes, and the result
/// is exactly what the general path would return for it. Anything else
/// (IP literals, a trailing dot, any byte outside that set, invalid input)
/// returns `None`, and the general path decides.
fn parse_plain_authority<'a>(value: &'a str, scheme: &'a str, authority: &'a str) -> Option<Origin<'a>> {
    let bytes = authority.as_bytes();
    let mut has_punycode = false;
    let mut classes = 0;
    let mut label_start = 0;
    let mut host_end = bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        let class = host_byte_class(b);
        if class != 0 {
            classes |= class;
            continue;
        }
        if b != b'.' && b != b':' {
            return None;
        }
        let label = bytes.get(label_start..i)?;
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return None;
        }
        has_punycode |= is_punycode_label(label);
        if b == b':' {
            host_end = i;
            break;
        }
        label_start = i + 1;
    }
    // The last label: the loop has checked it only if a port follows.
    let last = bytes.get(label_start..host_end)?;
    if host_end == bytes.len() {
        if last.is_empty() || last.len() > MAX_LABEL_LEN {
            return None;
        }
        has_punycode |= is_punycode_label(last);
    }
    if host_end > MAX_HOST_LEN || !matches!(last.first(), Some(b) if !b.is_ascii_digit()) {
        return None;
    }
    let port = match authority.get(host_end..).and_then(|p| p.strip_prefix(':')) {
        Some(port) => Some(parse_port(port)?),
        None => None,
    };
    Some(Origin {
        scheme,
        scheme_host: value.get(..scheme.len() + "://".len() + host_end)?,
        host: HostRef::Domain(DomainRef {
            name: authority.get(..host_end)?,
            has_punycode,
            has_upper: classes & UPPER != 0,
        }),
        port,
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

    /// `https://` + an authority of exactly `len` bytes: a name of 63-byte
    /// labels (the last one shorter), a trailing dot if asked, and a port.
    fn origin_of_authority_len(len: usize, trailing_dot: bool, port: &str) -> String {
        let mut host = String::new();
        let name_len = len - port.len() - usize::from(trailing_dot);
        while host.len() < name_len {
            if !host.is_empty() {
                host.push('.');
            }
            let room = (name_len - host.len()).min(MAX_LABEL_LEN);
            host.push_str(&"a".repeat(room));
        }
        format!("https://{host}{}{port}", if trailing_dot { "." } else { "" })
    }

    /// The caps hold at their exact boundary: a 253-byte name with a
    /// trailing dot and a 5-digit port is the longest valid authority.
    #[test]
    fn length_caps_hold_at_the_boundary() {
        let longest = origin_of_authority_len(MAX_AUTHORITY_LEN, true, ":65535");
        assert_eq!(longest.len(), "https://".len() + MAX_AUTHORITY_LEN);
        assert!(parse_origin(&longest).is_some(), "{longest}");
        let without_dot = origin_of_authority_len(MAX_HOST_LEN + ":65535".len(), false, ":65535");
        assert!(parse_origin(&without_dot).is_some(), "{without_dot}");
        // One byte more name: over the host cap (and, with the dot, the
        // authority cap).
        let over = origin_of_authority_len(MAX_AUTHORITY_LEN + 1, true, ":65535");
        assert!(parse_origin(&over).is_none(), "{over}");
        let over = origin_of_authority_len(MAX_HOST_LEN + 1 + ":65535".len(), false, ":65535");
        assert!(parse_origin(&over).is_none(), "{over}");
        // Labels: 63 bytes is the most, on the fast path and the general one.
        for last in [MAX_LABEL_LEN, MAX_LABEL_LEN + 1] {
            for suffix in ["", ":8080", "."] {
                let origin = format!("https://example.{}{suffix}", "a".repeat(last));
                assert_eq!(parse_origin(&origin).is_some(), last == MAX_LABEL_LEN, "{origin}");
                let first = format!("https://{}.example{suffix}", "a".repeat(last));
                assert_eq!(parse_origin(&first).is_some(), last == MAX_LABEL_LEN, "{first}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 4096, failure_persistence: None, ..Default::default() })]

        /// The fast path is only a shortcut: for any authority it returns
        /// nothing (and the general path decides) or exactly what the
        /// general path returns.
        #[test]
        fn fast_path_agrees_with_the_general_path(
            authority in "([a-zA-Z0-9_-]{0,70}[.:]){0,4}([a-zA-Z0-9_-]{0,70}|[a-zA-Z0-9_.:\\[\\]%@-]{0,20})",
            scheme in "(https|http|HTTP|app)",
        ) {
            let value = format!("{scheme}://{authority}");
            if let Some(fast) = parse_plain_authority(&value, &scheme, &authority) {
                proptest::prop_assert_eq!(Some(fast), parse_any_authority(&value, &scheme, &authority), "{}", value);
            }
        }
    }
}
