//! The URL pieces every allowlist entry and browser header is made of:
//! scheme, authority (`host[:port]`), port, and the tokenizer that splits
//! an allowlist entry into them.
//!
//! Key entries (`allowed_domains`) and token entries (`allowedUrls`) are
//! both written as `[scheme://]host[:port][/path…]`; they differ only in
//! what they do with the parts (a key ignores the path, a token matches
//! it), so one tokenizer splits both and each side maps its errors.

/// Longest scheme we accept (custom app schemes are short).
pub(crate) const MAX_SCHEME_LEN: usize = 32;

/// `http` or `https`: the only schemes an allowed URL, a usable Referer
/// and a web (not app-scheme) Origin may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum WebScheme {
    Http,
    Https,
}

impl WebScheme {
    /// Parses `http` or `https` in any case.
    pub(crate) fn parse(scheme: &str) -> Option<WebScheme> {
        // `http` then an optional `s`: one comparison instead of two (this
        // runs on every Origin).
        if !scheme.get(..4).is_some_and(|http| http.eq_ignore_ascii_case("http")) {
            return None;
        }
        match scheme.get(4..) {
            Some("") => Some(WebScheme::Http),
            Some(s) if s.eq_ignore_ascii_case("s") => Some(WebScheme::Https),
            _ => None,
        }
    }

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            WebScheme::Http => "http",
            WebScheme::Https => "https",
        }
    }

    /// The port a URL of this scheme uses when it names none.
    pub(crate) const fn default_port(self) -> u16 {
        match self {
            WebScheme::Http => 80,
            WebScheme::Https => 443,
        }
    }
}

/// `http` or `https`, in any case.
pub(crate) fn is_web_scheme(scheme: &str) -> bool {
    WebScheme::parse(scheme).is_some()
}

/// Splits `scheme://rest` in an allowlist entry, where the scheme ends
/// before any path, query or fragment: in `example.com/?next=https://x` the
/// `://` is in the query, and the entry has no scheme.
pub(crate) fn split_scheme(entry: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = entry.split_once("://")?;
    (!scheme.contains(['/', '?', '#'])).then_some((scheme, rest))
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
    // `split_once(':')`, by bytes: cheaper on the short strings seen here.
    Some(match authority.bytes().position(|b| b == b':') {
        Some(colon) => {
            let (host, port) = authority.split_at(colon);
            (host, port.get(1..))
        }
        None => (authority, None),
    })
}

/// An allowlist entry split into its URL parts, nothing normalized yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EntryParts<'a> {
    /// The scheme as written, if the entry names one (a valid scheme).
    pub(crate) scheme: Option<&'a str>,
    /// The host as written: a name, an IPv4 address or a `[v6]` literal.
    pub(crate) host: &'a str,
    /// The port, if the entry names one (1..=65535).
    pub(crate) port: Option<u16>,
    /// Everything after the authority: path, query and fragment.
    pub(crate) rest: &'a str,
}

/// Why an entry could not be split into URL parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntrySyntaxError<'a> {
    /// The entry is empty.
    Empty,
    /// The entry holds whitespace or a control character.
    Whitespace,
    /// The scheme is not a valid URL scheme.
    InvalidScheme(&'a str),
    /// The authority holds userinfo (`user@`).
    Userinfo,
    /// A `[` without its `]`, or text after the `]` that is not a port.
    BadBrackets,
    /// The port is not 1..=65535.
    InvalidPort(&'a str),
}

/// Checks what every entry must be: non-empty, no whitespace or control
/// characters. Separate from [`split_entry`] so that each side can add
/// its own refusals (a token refuses `*`, `?` and `#`) in between.
pub(crate) fn check_entry_text(input: &str) -> Result<(), EntrySyntaxError<'_>> {
    if input.is_empty() {
        return Err(EntrySyntaxError::Empty);
    }
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(EntrySyntaxError::Whitespace);
    }
    Ok(())
}

/// Splits `[scheme://]host[:port][rest]`, where the authority ends at the
/// first `/`, `?` or `#`.
pub(crate) fn split_entry(input: &str) -> Result<EntryParts<'_>, EntrySyntaxError<'_>> {
    let (scheme, rest) = match split_scheme(input) {
        Some((scheme, _)) if !is_valid_scheme(scheme) => return Err(EntrySyntaxError::InvalidScheme(scheme)),
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, input),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    if authority.contains('@') {
        return Err(EntrySyntaxError::Userinfo);
    }
    let (host, port) = split_host_port(authority).ok_or(EntrySyntaxError::BadBrackets)?;
    let port = match port {
        Some(port) => Some(parse_port(port).ok_or(EntrySyntaxError::InvalidPort(port))?),
        None => None,
    };
    Ok(EntryParts {
        scheme,
        host,
        port,
        rest,
    })
}
