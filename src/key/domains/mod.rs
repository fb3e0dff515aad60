//! `allowed_domains`: parsing entries once, then matching `Origin` hosts.
//!
//! Every entry is normalized when the policy is built (scheme, port and path
//! dropped, IDNA ToASCII, lower case, one trailing dot and one leading `www.`
//! removed) and put in a hash set, so matching an Origin is one lookup
//! whatever the size of the allowlist. Wildcard entries live in their own set
//! and are found by looking up each label-boundary suffix of the Origin host.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::hash::{CompiledList, HashSeed, IpSet, StrSet};
use crate::key::text::TaggedStr;
use crate::public_suffix::public_suffix_section;
use crate::syntax::host::{
    normalize_entry_host, parse_ascii_host, punycode_is_canonical, HostError, HostRef, LowerBuf, NormalizedHost,
};
use crate::syntax::origin::Origin;
use crate::syntax::url::{check_entry_text, is_web_scheme, split_entry, split_scheme, EntrySyntaxError};

/// What is wrong with one `allowed_domains` entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AllowedDomainError {
    /// The entry is the empty string.
    #[error("the entry is empty")]
    Empty,
    /// The entry contains whitespace or a control character.
    #[error("the entry contains whitespace or a control character")]
    Whitespace,
    /// More than one `scheme://` (e.g. `https://http://example.com`).
    #[error("the entry has more than one scheme")]
    MultipleSchemes,
    /// The scheme is not a valid URL scheme.
    #[error("the scheme {0:?} is not a valid URL scheme")]
    InvalidScheme(String),
    /// `user@host` userinfo.
    #[error("the entry contains userinfo ('@'); write only the host")]
    Userinfo,
    /// A port that is not a number from 1 to 65535.
    #[error("the port {0:?} is not a number from 1 to 65535")]
    InvalidPort(String),
    /// `*` anywhere but as the whole first label of a web entry.
    #[error("'*' is only allowed as a whole leading label, as in '*.example.com'")]
    MisplacedWildcard,
    /// `*.com`: a wildcard needs at least two labels after `*.`.
    #[error("a wildcard needs at least two labels after '*.' (e.g. '*.example.com')")]
    WildcardTooBroad,
    /// `*.` in front of an IP address.
    #[error("a wildcard cannot cover an IP address")]
    WildcardIp,
    /// A wildcard with a non-http(s) scheme (`capacitor://*.x.y`).
    #[error("a wildcard cannot be used with the non-web scheme {0:?}")]
    WildcardAppScheme(String),
    /// The host part is invalid.
    #[error(transparent)]
    Host(#[from] HostError),
    /// A wildcard over a whole public suffix (`*.co.uk`, `*.github.io`):
    /// anyone can register a site under it. List the sites instead; an
    /// exact entry for the suffix itself (`github.io`) is allowed.
    #[error(
        "'*.{suffix}' would allow every site under {suffix:?}, a public suffix \
         (Public Suffix List, {section} section); list your own sites instead"
    )]
    WildcardPublicSuffix {
        /// The wildcard's base, normalized: the public suffix.
        suffix: String,
        /// The list's section: `ICANN` or `private`.
        section: &'static str,
    },
}

impl From<EntrySyntaxError<'_>> for AllowedDomainError {
    fn from(error: EntrySyntaxError<'_>) -> Self {
        match error {
            EntrySyntaxError::Empty => AllowedDomainError::Empty,
            EntrySyntaxError::Whitespace => AllowedDomainError::Whitespace,
            EntrySyntaxError::InvalidScheme(scheme) => AllowedDomainError::InvalidScheme(scheme.to_owned()),
            EntrySyntaxError::Userinfo => AllowedDomainError::Userinfo,
            EntrySyntaxError::BadBrackets => AllowedDomainError::Host(HostError::BadIp),
            EntrySyntaxError::InvalidPort(port) => AllowedDomainError::InvalidPort(port.to_owned()),
        }
    }
}

/// One normalized `allowed_domains` entry.
///
/// Parse one with [`str::parse`]; its [`Display`](fmt::Display) form is the
/// normalized spelling, which parses back to the same entry.
///
/// ```
/// use keypolicy::key::AllowedDomain;
/// let entry: AllowedDomain = "https://WWW.Example.com:8443/maps".parse()?;
/// assert_eq!(entry.to_string(), "example.com");
/// let idn: AllowedDomain = "münchen.de".parse()?;
/// assert_eq!(idn.to_string(), "xn--mnchen-3ya.de");
/// # Ok::<(), keypolicy::key::AllowedDomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AllowedDomain(Entry);

/// An entry: an IP address, or a name of one of three kinds. 24 bytes,
/// with names of up to [`INLINE_NAME`] bytes held inline (no allocation).
#[derive(Clone, PartialEq, Eq, Hash)]
enum Entry {
    /// An IP address, matched by value.
    Ip(IpAddr),
    /// A domain, wildcard or app origin.
    Name(Name),
}

/// How many bytes of a name an entry holds in place; a longer one is boxed.
const INLINE_NAME: usize = 21;

/// A name entry's text and kind.
type Name = TaggedStr<NameKind, INLINE_NAME>;

/// What a name entry's text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum NameKind {
    /// Exact host, `www.`-folded: `example.com`.
    Domain,
    /// `*.example.com`, holding `example.com`.
    Wildcard,
    /// A non-web origin, held as lower-case `scheme://host`.
    App,
}

impl Entry {
    fn name(kind: NameKind, text: &str) -> Self {
        Entry::Name(Name::new(kind, text))
    }

    /// The text of a name entry of `kind`, as bytes.
    #[inline]
    fn text_of(&self, kind: NameKind) -> Option<&[u8]> {
        match self {
            Entry::Name(name) if name.tag() == kind => Some(name.as_bytes()),
            _ => None,
        }
    }
}

impl fmt::Debug for Entry {
    /// As the variants were written before names were held inline:
    /// `Domain("example.com")`, `Ip(127.0.0.1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Ip(ip) => f.debug_tuple("Ip").field(ip).finish(),
            Entry::Name(name) => name.fmt(f),
        }
    }
}

impl FromStr for AllowedDomain {
    type Err = AllowedDomainError;

    fn from_str(input: &str) -> Result<Self, AllowedDomainError> {
        check_entry_text(input)?;
        if split_scheme(input).is_some_and(|(_, rest)| split_scheme(rest).is_some()) {
            return Err(AllowedDomainError::MultipleSchemes);
        }
        // Path, query and fragment (`parts.rest`) are ignored: only the
        // host is compared.
        let parts = split_entry(input)?;
        let (scheme, host) = (parts.scheme.map(str::to_ascii_lowercase), parts.host);
        let app_scheme = scheme.filter(|s| !is_web_scheme(s));
        if host.contains('*') {
            let suffix = host.strip_prefix("*.").ok_or(AllowedDomainError::MisplacedWildcard)?;
            if suffix.contains('*') {
                return Err(AllowedDomainError::MisplacedWildcard);
            }
            if let Some(scheme) = app_scheme {
                return Err(AllowedDomainError::WildcardAppScheme(scheme));
            }
            return match normalize_entry_host(suffix)? {
                NormalizedHost::Ip(_) => Err(AllowedDomainError::WildcardIp),
                NormalizedHost::Domain(d) if !d.contains('.') => Err(AllowedDomainError::WildcardTooBroad),
                NormalizedHost::Domain(d) => match public_suffix_section(&d) {
                    Some(section) => Err(AllowedDomainError::WildcardPublicSuffix { suffix: d, section }),
                    None => Ok(AllowedDomain(Entry::name(NameKind::Wildcard, &d))),
                },
            };
        }
        if let Some(scheme) = app_scheme {
            // App origins are compared as written (case aside): no IDNA, no
            // `www.` or trailing-dot folding.
            if let Some(bad) = host.chars().find(|c| !c.is_ascii()) {
                return Err(HostError::BadCharacter(bad).into());
            }
            if let HostRef::Domain(d) = parse_ascii_host(host)? {
                if d.has_punycode && !punycode_is_canonical(&d.name.to_ascii_lowercase()) {
                    return Err(HostError::BadIdna.into());
                }
            }
            return Ok(AllowedDomain(Entry::name(
                NameKind::App,
                &format!("{scheme}://{}", host.to_ascii_lowercase()),
            )));
        }
        Ok(AllowedDomain(match normalize_entry_host(host)? {
            NormalizedHost::Ip(ip) => Entry::Ip(ip),
            NormalizedHost::Domain(d) => Entry::name(NameKind::Domain, fold_www(&d)),
        }))
    }
}

impl fmt::Display for AllowedDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Entry::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Entry::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Entry::Name(name) => {
                let text = name.as_str();
                match name.tag() {
                    // A stored name that itself starts with a foldable `www.`
                    // came from an entry with two of them
                    // (`www.www.example.com`); write the folded label back so
                    // the spelling re-parses to this entry.
                    NameKind::Domain if fold_www(text) != text => write!(f, "www.{text}"),
                    NameKind::Domain | NameKind::App => f.write_str(text),
                    NameKind::Wildcard => write!(f, "*.{text}"),
                }
            }
        }
    }
}

/// Removes one leading `www.` label, on entries and Origins alike:
/// `www.example.com` is `example.com` and `www.localhost` is `localhost`.
/// The fold must not depend on what remains: an earlier version kept
/// `www.localhost` whole yet folded the Origin `www.www.localhost` into it,
/// allowing a host the entry does not name.
fn fold_www(lower: &str) -> &str {
    lower.strip_prefix("www.").unwrap_or(lower)
}

/// The [`DomainAllowlist::wildcard_label_counts`] bit of a domain.
fn label_count_bit(domain: &str) -> u64 {
    label_count_bit_of(domain.bytes().filter(|&b| b == b'.').count() + 1)
}

/// The [`DomainAllowlist::wildcard_label_counts`] bit for `labels` labels.
fn label_count_bit_of(labels: usize) -> u64 {
    1 << labels.min(63)
}

/// The outcome of matching an Origin against the allowlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OriginMatch {
    Allowed,
    NotAllowed,
    /// The host has a punycode label that is not valid IDNA.
    Invalid,
}

/// The compiled `allowed_domains` list.
///
/// Most keys list a handful of domains, so a short list is matched by
/// scanning its entries (no hash table, no second copy of any string:
/// a few comparisons cost less than one hash). Past [`SMALL_LIST`]
/// entries, seeded hash sets are built beside them, so that matching
/// stays one lookup per label boundary however long the list grows.
#[derive(Debug, Clone, Default)]
pub(crate) struct DomainAllowlist(CompiledList<AllowedDomain, DomainIndex>);

/// The seeded hash sets of a long domain list.
#[derive(Debug, Clone)]
struct DomainIndex {
    exact: StrSet,
    wildcards: StrSet,
    /// Bit `n` is set when some wildcard entry's domain has `n` labels
    /// (bit 63: 63 or more). A suffix of the Origin host with a label count
    /// no entry has cannot match, so it is not looked up: a denied host
    /// costs one lookup per useful suffix, not one per dot.
    wildcard_label_counts: u64,
    ips: IpSet,
    apps: StrSet,
}

impl DomainIndex {
    fn new(seed: &HashSeed) -> Self {
        DomainIndex {
            exact: StrSet::new(seed.clone()),
            wildcards: StrSet::new(seed.clone()),
            wildcard_label_counts: 0,
            ips: IpSet::new(seed.clone()),
            apps: StrSet::new(seed.clone()),
        }
    }

    /// Adds an entry; false when an equal one is already there.
    fn insert(&mut self, entry: &Entry) -> bool {
        match entry {
            Entry::Ip(ip) => self.ips.insert(*ip),
            Entry::Name(name) => {
                let text: Box<str> = name.as_str().into();
                match name.tag() {
                    NameKind::Domain => self.exact.insert(text),
                    NameKind::Wildcard => {
                        self.wildcard_label_counts |= label_count_bit(&text);
                        self.wildcards.insert(text)
                    }
                    NameKind::App => self.apps.insert(text),
                }
            }
        }
    }
}

impl DomainAllowlist {
    /// Compiles `entries`; a long list's hash sets are keyed by `seed`.
    pub(crate) fn new(entries: impl IntoIterator<Item = AllowedDomain>, seed: &HashSeed) -> Self {
        DomainAllowlist(CompiledList::new(
            entries,
            || DomainIndex::new(seed),
            |index, entry| index.insert(&entry.0),
        ))
    }

    pub(crate) fn entries(&self) -> &[AllowedDomain] {
        self.0.entries()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.entries().is_empty()
    }

    /// The seed the sets are keyed by, for a long list.
    #[cfg(test)]
    pub(crate) fn seed(&self) -> Option<&HashSeed> {
        self.0.index().map(|index| index.exact.seed())
    }

    /// Whether the Origin's app-scheme `scheme://host` (lower case) is listed.
    fn has_app(&self, lower: &str) -> bool {
        match self.0.index() {
            Some(index) => index.apps.contains(lower),
            None => self
                .entries()
                .iter()
                .any(|e| e.0.text_of(NameKind::App) == Some(lower.as_bytes())),
        }
    }

    fn has_ip(&self, ip: &IpAddr) -> bool {
        match self.0.index() {
            Some(index) => index.ips.contains(ip),
            None => self
                .entries()
                .iter()
                .any(|e| matches!(&e.0, Entry::Ip(listed) if listed == ip)),
        }
    }

    /// Whether the `www.`-folded, lower-case host is an exact entry.
    fn has_exact(&self, folded: &str) -> bool {
        match self.0.index() {
            Some(index) => index.exact.contains(folded),
            None => self
                .entries()
                .iter()
                .any(|e| e.0.text_of(NameKind::Domain) == Some(folded.as_bytes())),
        }
    }

    /// Whether a wildcard entry covers the lower-case host: some suffix of
    /// it after a dot is the wildcard's domain.
    fn has_wildcard_for(&self, lower: &str) -> bool {
        match self.0.index() {
            Some(index) => {
                !index.wildcards.is_empty() && {
                    // Each suffix after a dot, with its label count.
                    let mut labels = lower.bytes().filter(|&b| b == b'.').count() + 1;
                    lower.match_indices('.').any(|(dot, _)| {
                        labels -= 1;
                        index.wildcard_label_counts & label_count_bit_of(labels) != 0
                            && lower
                                .get(dot + 1..)
                                .is_some_and(|suffix| index.wildcards.contains(suffix))
                    })
                }
            }
            None => {
                let lower = lower.as_bytes();
                self.entries().iter().any(|e| match e.0.text_of(NameKind::Wildcard) {
                    Some(d) => lower
                        .len()
                        .checked_sub(d.len() + 1)
                        .is_some_and(|dot| lower.get(dot) == Some(&b'.') && lower.get(dot + 1..) == Some(d)),
                    None => false,
                })
            }
        }
    }

    /// Matches a parsed Origin. Allocation-free unless the host has a
    /// punycode label that no exact entry holds.
    pub(crate) fn match_origin(&self, origin: &Origin<'_>) -> OriginMatch {
        let verdict = |hit: bool| {
            if hit {
                OriginMatch::Allowed
            } else {
                OriginMatch::NotAllowed
            }
        };
        let mut buf = None;
        if !origin.is_web() {
            if LowerBuf::lower_in(&mut buf, origin.scheme_host).is_some_and(|key| self.has_app(key)) {
                return OriginMatch::Allowed;
            }
            // Entries were validated when built, so only a miss can be invalid.
            return if origin.idna_is_valid() {
                OriginMatch::NotAllowed
            } else {
                OriginMatch::Invalid
            };
        }
        let name = match origin.host {
            HostRef::Ip(ip) => return verdict(self.has_ip(&ip)),
            HostRef::Domain(d) => d,
        };
        // The parser noted whether the name has upper case: only then is it
        // copied, lowercased, into the buffer.
        let lower = if name.has_upper {
            LowerBuf::lower_in(&mut buf, name.name)
        } else {
            Some(name.name)
        };
        let Some(lower) = lower else {
            return OriginMatch::Invalid;
        };
        if self.has_exact(fold_www(lower)) {
            // Entries were validated when built, so a hit needs no IDNA check.
            return OriginMatch::Allowed;
        }
        let wildcard_hit = self.has_wildcard_for(lower);
        if !origin.idna_is_valid() {
            return OriginMatch::Invalid;
        }
        verdict(wildcard_hit)
    }
}

#[cfg(test)]
mod tests;
