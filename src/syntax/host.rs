//! Host grammar shared by allowlist entries and request headers.
//!
//! Two paths meet here. At build time, allowlist entries may be Unicode or
//! upper case and go through `idna` (UTS-46, non-transitional). At request
//! time, header values are ASCII and must be checked without allocating, so
//! this module validates labels, lowercases into a stack buffer and parses IP
//! literals the WHATWG way by hand; only a label in punycode (`xn--`) that the
//! allowlist does not already hold is handed to `idna` to be validated.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

/// Longest host name in bytes, without the optional trailing dot (RFC 1035).
pub(crate) const MAX_HOST_LEN: usize = 253;
/// Longest label in bytes (RFC 1035).
pub(crate) const MAX_LABEL_LEN: usize = 63;

/// What is wrong with a host, in an allowlist entry or a request header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// Nothing where a host should be.
    #[error("the host is empty")]
    Empty,
    /// Two dots in a row, or a leading dot.
    #[error("the host has an empty label")]
    EmptyLabel,
    /// A label longer than 63 bytes.
    #[error("a label is longer than 63 bytes")]
    LabelTooLong,
    /// A host longer than 253 bytes.
    #[error("the host is longer than 253 bytes")]
    TooLong,
    /// A character outside letters, digits, `-`, `_` and `.`.
    #[error("the host contains {0:?}; only letters, digits, '-', '_' and '.' are allowed")]
    BadCharacter(char),
    /// Looks like an IP address (last label numeric, or brackets) but is not one.
    #[error("the host looks like an IP address but is not a valid one")]
    BadIp,
    /// Not a valid internationalized domain name (UTS-46), e.g. bad punycode.
    #[error("the host is not a valid internationalized domain name (UTS-46)")]
    BadIdna,
}

/// A syntactically valid host as written in an ASCII header: a domain name
/// (case as written, one trailing dot removed) or an IP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostRef<'a> {
    Domain(DomainRef<'a>),
    Ip(IpAddr),
}

/// A valid ASCII domain name, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DomainRef<'a> {
    /// The name without its trailing dot; may contain upper case.
    pub(crate) name: &'a str,
    /// Whether some label starts with `xn--` (case-insensitive).
    pub(crate) has_punycode: bool,
    /// Whether the name has ASCII upper case, and so must be lowercased
    /// (copied) before it is looked up.
    pub(crate) has_upper: bool,
}

/// Parses a host (no port, no brackets other than around an IPv6 literal).
pub(crate) fn parse_ascii_host(host: &str) -> Result<HostRef<'_>, HostError> {
    if host.is_empty() {
        return Err(HostError::Empty);
    }
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(HostError::BadIp)?;
        return inner
            .parse::<Ipv6Addr>()
            .map(|ip| HostRef::Ip(IpAddr::V6(ip)))
            .map_err(|_| HostError::BadIp);
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() {
        return Err(HostError::EmptyLabel);
    }
    if name.len() > MAX_HOST_LEN {
        return Err(HostError::TooLong);
    }
    // One pass over the bytes (this runs on every request): labels end at
    // `.`; each is checked when it ends, in the order of the checks below,
    // so the first bad label gives the error. `.` is never part of a
    // multi-byte UTF-8 sequence, and the first non-label byte of a label is
    // where its first non-label character starts.
    let bytes = name.as_bytes();
    let mut has_punycode = false;
    let mut has_upper = false;
    let mut start = 0;
    let mut first_bad: Option<usize> = None;
    for (i, &b) in bytes.iter().enumerate() {
        has_upper |= b.is_ascii_uppercase();
        if b == b'.' {
            has_punycode |= check_label(name, start, i, first_bad)?;
            start = i + 1;
            first_bad = None;
        } else if first_bad.is_none() && !is_label_byte(b) {
            first_bad = Some(i);
        }
    }
    has_punycode |= check_label(name, start, bytes.len(), first_bad)?;
    let last = name.get(start..).unwrap_or_default();
    // WHATWG: a host whose last label is a number is an IPv4 address, and
    // nothing else; `example.0x1` is invalid rather than a domain.
    if ends_in_number(last) {
        return parse_whatwg_ipv4(name)
            .map(|ip| HostRef::Ip(IpAddr::V4(ip)))
            .ok_or(HostError::BadIp);
    }
    Ok(HostRef::Domain(DomainRef {
        name,
        has_punycode,
        has_upper,
    }))
}

/// Checks the label `name[start..end]`: not empty, at most 63 bytes, and
/// no character other than letters, digits, `-` and `_` (`first_bad` is
/// the index of the first byte that is not one, if any). Returns whether the
/// label starts with `xn--` (in any case).
fn check_label(name: &str, start: usize, end: usize, first_bad: Option<usize>) -> Result<bool, HostError> {
    let len = end - start;
    if len == 0 {
        return Err(HostError::EmptyLabel);
    }
    if len > MAX_LABEL_LEN {
        return Err(HostError::LabelTooLong);
    }
    if let Some(bad) = first_bad {
        let c = name.get(bad..).and_then(|rest| rest.chars().next()).unwrap_or_default();
        return Err(HostError::BadCharacter(c));
    }
    Ok(name.as_bytes().get(start..end).is_some_and(is_punycode_label))
}

/// Whether a label starts with the IDNA ACE prefix `xn--`, in any case.
pub(crate) fn is_punycode_label(label: &[u8]) -> bool {
    // A slice pattern: rejects most labels on their first byte, without
    // the general case-insensitive comparison.
    matches!(label, [x, n, b'-', b'-', ..] if x.eq_ignore_ascii_case(&b'x') && n.eq_ignore_ascii_case(&b'n'))
}

/// [`host_byte_class`] of a byte allowed in a label: letters, digits, `-`
/// and `_` (WHATWG hosts allow `_`, and real subdomains use it).
pub(crate) const LABEL: u8 = 1;
/// [`host_byte_class`] bit of an upper-case letter (which is also a
/// [`LABEL`] byte).
pub(crate) const UPPER: u8 = 2;

/// [`host_byte_class`] as a lookup table: one load per byte on the hot path.
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of range fails the build"
)]
const HOST_BYTE_CLASS: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0u8;
    while b < 128 {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            table[b as usize] = LABEL;
        }
        if b.is_ascii_uppercase() {
            table[b as usize] |= UPPER;
        }
        b += 1;
    }
    table
};

/// The class of a host byte: 0 when it cannot appear in a label, else
/// [`LABEL`], with the [`UPPER`] bit for an upper-case letter.
pub(crate) fn host_byte_class(b: u8) -> u8 {
    HOST_BYTE_CLASS.get(usize::from(b)).copied().unwrap_or(0)
}

/// Whether `b` may appear in a label (never a non-ASCII byte).
pub(crate) fn is_label_byte(b: u8) -> bool {
    host_byte_class(b) != 0
}

fn ends_in_number(label: &str) -> bool {
    if !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let hex = label.strip_prefix("0x").or_else(|| label.strip_prefix("0X"));
    hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The WHATWG IPv4 parser: one to four parts, each decimal, octal (leading
/// `0`) or hexadecimal (`0x`), the last part filling the remaining bytes.
/// `name` has no trailing dot. Returns `None` on failure.
fn parse_whatwg_ipv4(name: &str) -> Option<Ipv4Addr> {
    let mut numbers = [0u64; 4];
    let mut count = 0usize;
    for part in name.split('.') {
        let slot = numbers.get_mut(count)?;
        *slot = parse_ipv4_number(part)?;
        count += 1;
    }
    let (init, last) = numbers.get(..count)?.split_at(count.checked_sub(1)?);
    if init.iter().any(|&n| n > 255) {
        return None;
    }
    let last = *last.first()?;
    let bits = 8 * (5 - count as u32);
    if last >= 1u64 << bits {
        return None;
    }
    let mut address = last;
    for (i, &n) in init.iter().enumerate() {
        address += n << (8 * (3 - i as u32));
    }
    u32::try_from(address).ok().map(Ipv4Addr::from)
}

fn parse_ipv4_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(h) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
        (h, 16)
    } else if part.len() > 1 && part.starts_with('0') {
        (part.get(1..)?, 8)
    } else {
        (part, 10)
    };
    if digits.is_empty() {
        return Some(0);
    }
    // Anything this long overflows an IPv4 address; refuse before parsing.
    if digits.len() > 16 {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// A stack buffer for lowercasing a host without allocating.
pub(crate) struct LowerBuf {
    bytes: [u8; LowerBuf::CAP],
}

impl LowerBuf {
    /// Large enough for any host (253 bytes) or `scheme://host` prefix we
    /// accept; longer inputs are rejected before they get here.
    pub(crate) const CAP: usize = 320;

    pub(crate) fn new() -> Self {
        LowerBuf { bytes: [0; Self::CAP] }
    }

    /// Like [`lower`](Self::lower), but the buffer is only made (and
    /// zeroed) in `slot` when `s` has upper case: on the hot path a header
    /// is usually lower case already, and zeroing the buffer would cost
    /// more than the rest of the lookup.
    pub(crate) fn lower_in<'a>(slot: &'a mut Option<LowerBuf>, s: &'a str) -> Option<&'a str> {
        if !s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Some(s);
        }
        slot.insert(LowerBuf::new()).lower(s)
    }

    /// Returns `s` in ASCII lower case: `s` itself when it has no upper
    /// case, else a copy in this buffer. `None` if `s` is longer than the
    /// buffer (callers treat that as invalid input).
    pub(crate) fn lower<'a>(&'a mut self, s: &'a str) -> Option<&'a str> {
        if !s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Some(s);
        }
        let out = self.bytes.get_mut(..s.len())?;
        out.copy_from_slice(s.as_bytes());
        out.make_ascii_lowercase();
        std::str::from_utf8(out).ok()
    }
}

/// Validates a lower-case ASCII domain with `xn--` labels the way UTS-46
/// does: it must decode, be valid, and already be in canonical form.
/// Allocates; only used for punycode the allowlist does not hold.
pub(crate) fn punycode_is_canonical(lower: &str) -> bool {
    matches!(
        Uts46::new().to_ascii(lower.as_bytes(), AsciiDenyList::URL, Hyphens::Allow, DnsLength::Ignore),
        Ok(ascii) if ascii == lower
    )
}

/// Normalizes a host written in an allowlist entry: Unicode and upper case
/// go through UTS-46 ToASCII, then the ASCII grammar above applies. The
/// result is lower case, with no trailing dot (IP hosts are returned parsed).
pub(crate) fn normalize_entry_host(host: &str) -> Result<NormalizedHost, HostError> {
    let ascii;
    let host = if host.is_ascii() && !host.bytes().any(|b| b.is_ascii_uppercase()) {
        host
    } else if host.starts_with('[') {
        // An IPv6 literal: UTS-46 would refuse its brackets and colons, and
        // it only needs case folding (`[::FFFF:1]` is `[::ffff:1]`).
        ascii = std::borrow::Cow::Owned(host.to_ascii_lowercase());
        &ascii
    } else {
        // Only the part before a bracket can be Unicode; IPv6 literals are ASCII.
        ascii = Uts46::new()
            .to_ascii(host.as_bytes(), AsciiDenyList::URL, Hyphens::Allow, DnsLength::Ignore)
            .map_err(|_| HostError::BadIdna)?;
        &ascii
    };
    match parse_ascii_host(host)? {
        HostRef::Ip(ip) => Ok(NormalizedHost::Ip(ip)),
        HostRef::Domain(d) => {
            let lower = d.name.to_ascii_lowercase();
            if d.has_punycode && !punycode_is_canonical(&lower) {
                return Err(HostError::BadIdna);
            }
            Ok(NormalizedHost::Domain(lower))
        }
    }
}

/// A normalized host from an allowlist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NormalizedHost {
    /// Lower-case ASCII (IDNA) domain without trailing dot.
    Domain(String),
    /// An IP address.
    Ip(IpAddr),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        match parse_ascii_host(s) {
            Ok(HostRef::Ip(ip)) => Some(ip),
            _ => None,
        }
    }

    #[test]
    fn whatwg_ipv4_forms_canonicalize() {
        let loopback = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        for form in [
            "127.0.0.1",
            "2130706433",
            "0x7f000001",
            "0x7f.1",
            "0177.0.0.1",
            "127.1",
            "127.0.0.1.",
        ] {
            assert_eq!(ip(form), loopback, "{form}");
        }
        for bad in [
            "256.0.0.1",
            "1.2.3.4.5",
            "example.0x1",
            "0x100000000",
            "1.2.3.09",
            "99999999999999999999",
        ] {
            assert!(parse_ascii_host(bad).is_err(), "{bad}");
        }
    }

    /// Our hand-written IPv4 parser must agree with the `url` crate's, which
    /// implements the WHATWG URL Standard.
    #[test]
    fn ipv4_parser_agrees_with_url_crate() {
        let samples = [
            "0",
            "1",
            "0x",
            "0X1F",
            "00",
            "08",
            "1.2",
            "1.2.3",
            "1.2.3.4",
            "255.255.255.255",
            "4294967295",
            "4294967296",
            "1.16777215",
            "1.16777216",
            "1.2.65535",
            "1.2.65536",
            "0x.0x.0x.0x",
            "1..2",
            "01.02.03.04",
            "0xff.0xff.0xff.0xff",
            "0xfff.1",
            "9.9.9.9.",
            "a.1",
            "1.a",
            "0x1g",
            // Sixteen digits, the most the parser reads (leading zeros).
            "0x0000000000000001",
            "00000000000000001",
        ];
        for s in samples {
            let ours = parse_ascii_host(s).ok();
            let theirs = url::Host::parse(s).ok();
            match (ours, theirs) {
                (Some(HostRef::Ip(IpAddr::V4(a))), Some(url::Host::Ipv4(b))) => assert_eq!(a, b, "{s}"),
                (Some(HostRef::Domain(_)), Some(url::Host::Domain(_))) => {}
                (None, None) => {}
                (o, t) => panic!("{s}: ours {o:?}, url {t:?}"),
            }
        }
    }

    #[test]
    fn ipv6_is_canonical_value() {
        assert_eq!(ip("[0:0:0:0:0:0:0:1]"), ip("[::1]"));
        assert_ne!(ip("[::ffff:127.0.0.1]"), ip("127.0.0.1"));
        assert!(parse_ascii_host("[::1").is_err());
        assert!(parse_ascii_host("[fe80::1%eth0]").is_err());
    }

    #[test]
    fn label_rules() {
        assert_eq!(parse_ascii_host("a..b"), Err(HostError::EmptyLabel));
        assert_eq!(parse_ascii_host(".a"), Err(HostError::EmptyLabel));
        assert_eq!(parse_ascii_host("."), Err(HostError::EmptyLabel));
        assert_eq!(parse_ascii_host("a{b}.com"), Err(HostError::BadCharacter('{')));
        assert_eq!(parse_ascii_host(&"a".repeat(64)), Err(HostError::LabelTooLong));
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(parse_ascii_host(&long), Err(HostError::TooLong));
        // 253 bytes is the longest name, with or without a trailing dot.
        let name = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        );
        assert_eq!(name.len(), MAX_HOST_LEN);
        assert!(matches!(parse_ascii_host(&name), Ok(HostRef::Domain(d)) if d.name == name));
        assert!(matches!(parse_ascii_host(&format!("{name}.")), Ok(HostRef::Domain(d)) if d.name == name));
        assert_eq!(parse_ascii_host(&format!("{name}d")), Err(HostError::TooLong));
        assert!(parse_ascii_host("under_score.example.com").is_ok());
    }

    /// The label loop, written the obvious way (as it first was): the
    /// optimized loop must give the same result for every input.
    fn labels_reference(name: &str) -> Result<bool, HostError> {
        let mut has_punycode = false;
        for label in name.split('.') {
            if label.is_empty() {
                return Err(HostError::EmptyLabel);
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(HostError::LabelTooLong);
            }
            if let Some(bad) = label
                .chars()
                .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            {
                return Err(HostError::BadCharacter(bad));
            }
            has_punycode |= label.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--"));
        }
        Ok(has_punycode)
    }

    proptest::proptest! {
        #[test]
        fn label_loop_agrees_with_the_reference(host in "([a-zA-Z0-9_-]{0,5}[.%é{ ]?){0,6}|.{0,70}|[a-z]{60,70}\\.x") {
            let name = host.strip_suffix('.').unwrap_or(&host);
            if !host.is_empty() && !host.starts_with('[') && !name.is_empty() && name.len() <= MAX_HOST_LEN {
                let ours = parse_ascii_host(&host).map(|h| match h {
                    HostRef::Domain(d) => Some(d.has_punycode),
                    HostRef::Ip(_) => None,
                });
                match labels_reference(name) {
                    Err(e) => proptest::prop_assert_eq!(ours, Err(e)),
                    Ok(punycode) => proptest::prop_assert!(
                        ours == Ok(Some(punycode)) || ours.is_ok_and(|h| h.is_none()) || ours == Err(HostError::BadIp)
                    ),
                }
            }
        }
    }

    #[test]
    fn lower_buf_borrows_when_already_lower() {
        let mut buf = LowerBuf::new();
        let s = "example.com";
        let out = buf.lower(s);
        assert_eq!(out.map(str::as_ptr), Some(s.as_ptr()));
        let mut buf = LowerBuf::new();
        assert_eq!(buf.lower("ExAmple.COM"), Some("example.com"));
    }

    #[test]
    fn entry_hosts_go_through_idna() {
        assert_eq!(
            normalize_entry_host("münchen.de"),
            Ok(NormalizedHost::Domain("xn--mnchen-3ya.de".into()))
        );
        assert_eq!(
            normalize_entry_host("EXAMPLE。com"),
            Ok(NormalizedHost::Domain("example.com".into()))
        );
        assert_eq!(normalize_entry_host("xn--zz.de"), Err(HostError::BadIdna));
        // Regression: an upper-case IPv6 literal was sent through UTS-46,
        // which refuses `[`, `:` and `]`, so a valid entry was rejected.
        assert_eq!(
            normalize_entry_host("[::FFFF:7F00:1]"),
            Ok(NormalizedHost::Ip("::ffff:127.0.0.1".parse().unwrap()))
        );
        assert_eq!(normalize_entry_host("[::A"), Err(HostError::BadIp));
        assert!(punycode_is_canonical("xn--mnchen-3ya.de"));
        assert!(!punycode_is_canonical("xn--abc-.de"));
    }
}
