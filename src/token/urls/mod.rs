//! `allowedUrls`: entries parsed once when a token policy is built, and an
//! index that finds the entries for a request host without a linear scan.
//!
//! An entry is `[scheme://]host[:port][/path]`. Its host is normalized like
//! the core's domain entries (IDNA ASCII, lower case, one trailing dot
//! removed) but with no `www.` folding: subdomains are allowed by the
//! matching rule itself. Entries are grouped by host in a hash map, and a
//! request host is looked up once per label-boundary suffix
//! (`a.b.example.com`, `b.example.com`, `example.com`, `com`) — and only
//! for suffixes with as many labels as some entry host has, which is
//! usually one or two lookups.

use std::fmt;
use std::str::FromStr;

use crate::hash::{HashSeed, SeededMap, SMALL_LIST};
use crate::public_suffix::public_suffix_section;
use crate::syntax::host::{normalize_entry_host, HostError, NormalizedHost};
use crate::syntax::host::{punycode_is_canonical, HostRef, LowerBuf};
use crate::syntax::referer::Referer;
use crate::syntax::url::{
    check_entry_text, is_valid_scheme, split_entry, split_scheme, EntryParts, EntrySyntaxError, WebScheme,
};

/// The most `allowedUrls` entries a token may have.
pub const MAX_ALLOWED_URLS: usize = 100;

/// What is wrong with one `allowedUrls` entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AllowedUrlError {
    /// The entry is the empty string.
    #[error("the entry is empty")]
    Empty,
    /// Whitespace or a control character anywhere.
    #[error("the entry contains whitespace or a control character")]
    Whitespace,
    /// A `*` anywhere: allowed URLs have no wildcards (subdomains are
    /// allowed anyway).
    #[error("wildcards ('*') are not supported; an entry already allows its subdomains")]
    Wildcard,
    /// A scheme other than `http` or `https`.
    #[error("the scheme {0:?} is not supported; use http, https or no scheme")]
    UnsupportedScheme(String),
    /// Not of the form `[scheme://]host[:port][/path]`.
    #[error("expected [scheme://]host[:port][/path]")]
    Unparseable,
    /// A `?query` or `#fragment`.
    #[error("an allowed URL cannot have a query ('?') or fragment ('#')")]
    QueryOrFragment,
    /// `user@host` userinfo.
    #[error("an allowed URL cannot contain userinfo ('@')")]
    Userinfo,
    /// A port that is not a number from 1 to 65535.
    #[error("the port {0:?} is not a number from 1 to 65535")]
    InvalidPort(String),
    /// The host is an IP address.
    #[error("IP-address hosts are not supported; use a domain name")]
    IpAddress,
    /// The host is invalid (empty labels, bad characters, bad punycode…).
    #[error(transparent)]
    Host(HostError),
    /// A path segment `.` or `..` (also spelled `%2e`): no request path
    /// with one ever matches, so neither could this entry.
    #[error("the path has a '.' or '..' segment, which no request can match")]
    DotSegment,
    /// A backslash in the path, which browsers read as `/`.
    #[error("the path contains '\\'; write '/'")]
    Backslash,
    /// The host is a public suffix (`com`, `co.uk`, `github.io`): the
    /// entry would allow every site under it, since an entry allows its
    /// subdomains. Single-label names the list does not have, such as
    /// `localhost`, are allowed.
    #[error(
        "the host {host:?} is a public suffix (Public Suffix List, {section} section); \
         the entry would allow every site under it"
    )]
    PublicSuffix {
        /// The normalized host: the public suffix.
        host: String,
        /// The list's section: `ICANN` or `private`.
        section: &'static str,
    },
}

impl From<EntrySyntaxError<'_>> for AllowedUrlError {
    fn from(error: EntrySyntaxError<'_>) -> Self {
        match error {
            EntrySyntaxError::Empty => AllowedUrlError::Empty,
            EntrySyntaxError::Whitespace => AllowedUrlError::Whitespace,
            EntrySyntaxError::InvalidScheme(_) => AllowedUrlError::Unparseable,
            EntrySyntaxError::Userinfo => AllowedUrlError::Userinfo,
            EntrySyntaxError::BadBrackets => AllowedUrlError::IpAddress,
            EntrySyntaxError::InvalidPort(port) => AllowedUrlError::InvalidPort(port.to_owned()),
        }
    }
}

/// One `allowedUrls` entry, validated and normalized.
///
/// Its [`Display`](fmt::Display) form is the normalized spelling (lower-case
/// scheme and IDNA ASCII host, path without trailing slash), which parses
/// back to the same entry.
///
/// ```
/// use keypolicy::token::AllowedUrl;
/// let url: AllowedUrl = "HTTPS://Docs.Example.com:8000/maps/".parse()?;
/// assert_eq!(url.to_string(), "https://docs.example.com:8000/maps");
/// assert_eq!(url.host(), "docs.example.com");
/// let idn: AllowedUrl = "münchen.de".parse()?;
/// assert_eq!(idn.to_string(), "xn--mnchen-3ya.de");
/// # Ok::<(), keypolicy::token::AllowedUrlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AllowedUrl {
    scheme: Option<WebScheme>,
    /// Lower-case IDNA ASCII, no trailing dot.
    host: Box<str>,
    port: Option<u16>,
    /// `None` for no path or `/`; else starts with `/`, never ends with one.
    path: Option<Box<str>>,
}

impl AllowedUrl {
    /// The normalized host (lower-case IDNA ASCII, no trailing dot).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The path restriction, if any: starts with `/` and has no trailing
    /// slash (`/` itself is no restriction and gives `None`).
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The scheme (`http` or `https`), if the entry names one.
    pub fn scheme(&self) -> Option<&'static str> {
        self.scheme.map(WebScheme::as_str)
    }

    /// The port, if the entry names one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Whether a request with this scheme, effective port and path
    /// satisfies the entry (the host was matched by the index).
    /// `path_is_clean` says the path has no dot segment; a path-restricted
    /// entry never matches a path with one.
    pub(crate) fn allows(&self, scheme: WebScheme, port: u16, path: &str, path_is_clean: bool) -> bool {
        self.allows_origin(scheme, port)
            && match &self.path {
                None => true,
                Some(prefix) => path_is_clean && path_continues(path, prefix),
            }
    }

    /// The scheme and port rules alone (for an Origin, which has no path).
    pub(crate) fn allows_origin(&self, scheme: WebScheme, port: u16) -> bool {
        self.scheme.is_none_or(|s| s == scheme) && self.port.is_none_or(|p| p == port)
    }

    /// Whether `lower_host` (lower case, no trailing dot) is this entry's
    /// host or a subdomain of it on a label boundary.
    pub(crate) fn covers_host(&self, lower_host: &str) -> bool {
        lower_host
            .strip_suffix(&*self.host)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
    }
}

/// `path` equals `prefix` or continues it at a `/` boundary.
fn path_continues(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether some `/`-separated segment of `path` is `.` or `..`, also in
/// the percent-encoded spellings (`%2e`, `.%2E`, …) that URL parsers treat
/// as dot segments. One pass over the bytes: this runs on every request to
/// a path-restricted entry.
pub(crate) fn has_dot_segment(path: &str) -> bool {
    let bytes = path.as_bytes();
    starts_with_dot_segment(bytes)
        || bytes
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'/' && starts_with_dot_segment(bytes.get(i + 1..).unwrap_or_default()))
}

/// Whether `rest` starts with a whole segment `.`, `..`, `%2e`, `.%2e`,
/// `%2e.` or `%2e%2e` (any case), ended by `/` or the end.
fn starts_with_dot_segment(rest: &[u8]) -> bool {
    let ends = |s: &[u8]| matches!(s.first(), None | Some(b'/'));
    strip_dot(rest).is_some_and(|once| ends(once) || strip_dot(once).is_some_and(ends))
}

/// Strips one leading `.` or `%2e` (any case).
fn strip_dot(s: &[u8]) -> Option<&[u8]> {
    match s {
        [b'.', rest @ ..] => Some(rest),
        [b'%', b'2', b'e' | b'E', rest @ ..] => Some(rest),
        _ => None,
    }
}

impl FromStr for AllowedUrl {
    type Err = AllowedUrlError;

    fn from_str(input: &str) -> Result<Self, AllowedUrlError> {
        check_entry_text(input)?;
        if input.contains('*') {
            return Err(AllowedUrlError::Wildcard);
        }
        if input.contains(['?', '#']) {
            return Err(AllowedUrlError::QueryOrFragment);
        }
        if split_scheme(input).is_none() {
            // `mailto:x`, `https:/example.com`: a scheme without `//`.
            if let Some((before, after)) = input.split_once(':') {
                let port_like = after.bytes().next().is_none_or(|b| b.is_ascii_digit());
                if is_valid_scheme(before) && !port_like {
                    return Err(AllowedUrlError::Unparseable);
                }
            }
        }
        // No query or fragment is left, so what follows the authority is
        // the path.
        let EntryParts {
            scheme,
            host,
            port,
            rest: path,
        } = split_entry(input)?;
        let scheme = match scheme {
            Some(scheme) => {
                Some(WebScheme::parse(scheme).ok_or_else(|| AllowedUrlError::UnsupportedScheme(scheme.into()))?)
            }
            None => None,
        };
        let host = match normalize_entry_host(host) {
            Ok(NormalizedHost::Domain(d)) => d.into_boxed_str(),
            Ok(NormalizedHost::Ip(_)) | Err(HostError::BadIp) => return Err(AllowedUrlError::IpAddress),
            Err(e) => return Err(AllowedUrlError::Host(e)),
        };
        let path = normalize_path(path)?;
        if let Some(section) = public_suffix_section(&host) {
            return Err(AllowedUrlError::PublicSuffix {
                host: host.into(),
                section,
            });
        }
        Ok(AllowedUrl {
            scheme,
            host,
            port,
            path,
        })
    }
}

/// Normalizes an entry's path: non-ASCII characters and `"<>\`{}` are
/// percent-encoded as a browser sends them (UTF-8, upper-case hex), other
/// text is kept literally (`%xx` escapes are not decoded or re-cased);
/// trailing slashes are dropped, and an empty result means no restriction.
fn normalize_path(path: &str) -> Result<Option<Box<str>>, AllowedUrlError> {
    if path.contains('\\') {
        return Err(AllowedUrlError::Backslash);
    }
    if has_dot_segment(path) {
        return Err(AllowedUrlError::DotSegment);
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(None);
    }
    let mut out = String::with_capacity(trimmed.len());
    for c in trimmed.chars() {
        if c.is_ascii() && !matches!(c, '"' | '<' | '>' | '`' | '{' | '}') {
            out.push(c);
        } else {
            let mut utf8 = [0u8; 4];
            for byte in c.encode_utf8(&mut utf8).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    Ok(Some(out.into_boxed_str()))
}

impl fmt::Display for AllowedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scheme) = self.scheme {
            write!(f, "{}://", scheme.as_str())?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        if let Some(path) = &self.path {
            f.write_str(path)?;
        }
        Ok(())
    }
}

/// The compiled `allowedUrls` list: scanned while short, with a seeded
/// host map beside it once longer than [`SMALL_LIST`] (as a key's
/// `allowed_domains`).
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowedUrls {
    /// Entries in the order given, duplicates removed.
    entries: Box<[AllowedUrl]>,
    /// Bit `n` is set when some entry host has `n` labels (1..=127).
    label_counts: u128,
    /// Host → indexes into `entries`, for a long list; `None` for a short one.
    by_host: Option<Box<SeededMap<Box<str>, Vec<usize>>>>,
}

impl AllowedUrls {
    /// Compiles `entries`; a long list's map is keyed by a freshly drawn seed.
    pub(crate) fn new(entries: impl IntoIterator<Item = AllowedUrl>) -> Self {
        // At most MAX_ALLOWED_URLS (100) entries: a scan for duplicates is cheap.
        let mut kept: Vec<AllowedUrl> = Vec::new();
        let mut label_counts = 0u128;
        for entry in entries {
            if kept.contains(&entry) {
                continue;
            }
            let labels = entry.host.split('.').count();
            label_counts |= 1u128.checked_shl(labels as u32).unwrap_or(0);
            kept.push(entry);
        }
        let by_host = (kept.len() > SMALL_LIST).then(|| {
            let mut map = SeededMap::new(HashSeed::random());
            for (i, entry) in kept.iter().enumerate() {
                map.get_or_insert_with(entry.host.clone(), Vec::new).push(i);
            }
            Box::new(map)
        });
        AllowedUrls {
            entries: kept.into_boxed_slice(),
            label_counts,
            by_host,
        }
    }

    pub(crate) fn entries(&self) -> &[AllowedUrl] {
        &self.entries
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The seed the host map is keyed by, for a long list.
    #[cfg(test)]
    pub(crate) fn seed(&self) -> Option<&HashSeed> {
        self.by_host.as_deref().map(SeededMap::seed)
    }

    /// The entries whose host is exactly `host`, in the order given.
    fn with_host<'s>(&'s self, host: &'s str) -> HostEntries<'s> {
        match &self.by_host {
            Some(map) => HostEntries::Indexed {
                indexes: map.get(host).map_or(&[][..], Vec::as_slice).iter(),
                entries: &self.entries,
            },
            None => HostEntries::Scan {
                entries: self.entries.iter(),
                host,
            },
        }
    }

    /// The entries whose host is `lower_host` (lower case, no trailing dot)
    /// or one of its label-boundary suffixes, the shortest suffix first.
    /// Only suffixes with as many labels as some entry host are looked up,
    /// and the scan stops past the longest entry host. Allocation-free.
    pub(crate) fn candidates<'s>(&'s self, lower_host: &'s str) -> impl Iterator<Item = &'s AllowedUrl> + 's {
        let bytes = lower_host.as_bytes();
        // Bits above the highest set one are all zero: stop there.
        let max_labels = 127u32.saturating_sub(self.label_counts.leading_zeros());
        let mut end = Some(bytes.len());
        let mut labels = 0u32;
        std::iter::from_fn(move || loop {
            // The next suffix: from just after the previous dot to the left.
            let stop = end?;
            let dot = bytes.get(..stop).and_then(|b| b.iter().rposition(|&c| c == b'.'));
            let suffix_start = dot.map_or(0, |d| d + 1);
            end = dot;
            labels += 1;
            if labels >= max_labels {
                end = None;
            }
            if self.label_counts & (1u128 << labels.min(127)) == 0 {
                continue;
            }
            if let Some(suffix) = lower_host.get(suffix_start..) {
                return Some(self.with_host(suffix));
            }
        })
        .flatten()
    }
}

/// The entries with one host: through the map, or by scanning a short list.
enum HostEntries<'s> {
    Indexed {
        indexes: std::slice::Iter<'s, usize>,
        entries: &'s [AllowedUrl],
    },
    Scan {
        entries: std::slice::Iter<'s, AllowedUrl>,
        host: &'s str,
    },
}

impl<'s> Iterator for HostEntries<'s> {
    type Item = &'s AllowedUrl;

    fn next(&mut self) -> Option<&'s AllowedUrl> {
        match self {
            HostEntries::Indexed { indexes, entries } => indexes.find_map(|&i| entries.get(i)),
            HostEntries::Scan { entries, host } => entries.find(|entry| *entry.host == **host),
        }
    }
}

/// How a Referer (or an Origin as fallback) matched the allowlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefererMatch {
    /// No entry matched.
    NotAllowed,
    /// The target matched an entry.
    Allowed,
    /// ... and the Origin header satisfies the scheme, host and port of
    /// one such entry, so it may be echoed.
    AllowedWithOrigin,
}

/// Matches `target` (a Referer, or an Origin as fallback) against the
/// entries, and the Origin header against the entries the target matched.
/// The Origin is parsed only once an entry has matched, and not at all
/// when it is the target's own `scheme://authority`, as it is for a page
/// calling from its own origin.
impl AllowedUrls {
    pub(crate) fn match_referer(&self, target: &Referer<'_>, origin_header: Option<&str>) -> RefererMatch {
        let HostRef::Domain(domain) = target.host else {
            // No entry is an IP address.
            return RefererMatch::NotAllowed;
        };
        let mut buf = LowerBuf::new();
        let Some(host) = buf.lower(domain.name) else {
            return RefererMatch::NotAllowed;
        };
        // Computed when first needed: only path-restricted entries look.
        let mut path_is_clean = None;
        let mut host_checked = false;
        let mut origin: Option<Option<Referer<'_>>> = None;
        let mut matched = RefererMatch::NotAllowed;
        for entry in self.candidates(host) {
            if !entry.allows_origin(target.scheme, target.port) {
                continue;
            }
            if entry.path().is_some() {
                let clean =
                    *path_is_clean.get_or_insert_with(|| !(target.path_may_have_dots && has_dot_segment(target.path)));
                if !entry.allows(target.scheme, target.port, target.path, clean) {
                    continue;
                }
            }
            // Entry hosts were validated when built; a longer host with a
            // punycode label must be valid IDNA too.
            if domain.has_punycode && entry.host() != host && !host_checked {
                if !punycode_is_canonical(host) {
                    return RefererMatch::NotAllowed;
                }
                host_checked = true;
            }
            matched = RefererMatch::Allowed;
            let Some(header) = origin_header else {
                return matched;
            };
            if header == target.origin {
                return RefererMatch::AllowedWithOrigin;
            }
            let Some(origin) = origin.get_or_insert_with(|| Referer::from_origin_header(header)) else {
                // An unusable Origin is never echoed.
                return matched;
            };
            if origin_satisfies(entry, origin) {
                return RefererMatch::AllowedWithOrigin;
            }
        }
        matched
    }
}

/// Whether a parsed Origin satisfies the entry's host, scheme and port.
fn origin_satisfies(entry: &AllowedUrl, origin: &Referer<'_>) -> bool {
    let HostRef::Domain(domain) = origin.host else {
        return false;
    };
    let mut buf = LowerBuf::new();
    buf.lower(domain.name).is_some_and(|host| {
        entry.covers_host(host)
            && entry.allows_origin(origin.scheme, origin.port)
            && (!domain.has_punycode || host == entry.host() || punycode_is_canonical(host))
    })
}

#[cfg(test)]
mod tests;
