//! Policy lint: what a key or token policy can never do, or does riskily.
//!
//! A policy that builds is valid, but it can still be useless (a key with
//! `allowed_tilesets` and scopes without `tiles:read` never serves a
//! tile) or risky (a `localhost` entry in a production key). [`lint_key`]
//! and [`lint_token`] look at a built policy; [`lint_key_as_written`] and
//! [`lint_token_as_written`] also take the entries as the user wrote them,
//! so they can report duplicates that building folded away (`www.`, case,
//! a trailing dot, Unicode vs punycode) and indexes that point into the
//! user's own list.
//!
//! Each [`Finding`] has a stable [`LintCode`], a [`Severity`], the field
//! and entry index it is about, and a message saying what to do. With the
//! `serde` feature a finding serializes as
//! `{"code", "severity", "field", "index", "message"}` (`field` and
//! `index` are `null` for whole-policy findings); codes and field names
//! are stable, messages are for people and may be reworded.
//!
//! ```
//! use keypolicy::KeyPolicy;
//! use keypolicy::key::{KeyScope, KeyType};
//! use keypolicy::lint::{lint_key, LintCode, Severity};
//!
//! let key = KeyPolicy::builder()
//!     .key_type(KeyType::Desktop)
//!     .allowed_domains(["app.example.com"])
//!     .build()?;
//! let findings = lint_key(&key);
//! assert_eq!(findings[0].code, LintCode::DomainsOnNonBrowserKey);
//! assert_eq!(findings[0].severity, Severity::Warning);
//! # Ok::<(), keypolicy::key::KeyPolicyError>(())
//! ```

mod key;
mod token;

use std::fmt;
use std::net::IpAddr;

pub use key::{lint_key, lint_key_as_written};
pub use token::{lint_token, lint_token_as_written};

/// How bad a finding is.
///
/// Ordered: `Note < Warning < Error`. Deliberately not `#[non_exhaustive]`:
/// CI gates match on all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Note,
    /// Risky: works, but probably not as intended, or too widely.
    Warning,
    /// The credential can never serve what it is obviously for.
    Error,
}

impl Severity {
    /// `note`, `warning` or `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! lint_codes {
    ($($variant:ident => $code:literal, $severity:ident, $doc:literal;)+) => {
        /// A lint check, with a stable snake_case [`code`](LintCode::as_str)
        /// and a fixed [`severity`](LintCode::severity).
        ///
        /// `#[non_exhaustive]`: new checks may be added.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum LintCode {
            $(#[doc = concat!("`", $code, "` (", stringify!($severity), "): ", $doc)] $variant,)+
        }

        impl LintCode {
            /// Every code, in the order of this list.
            pub const ALL: &'static [LintCode] = &[$(LintCode::$variant,)+];

            /// The stable code, e.g. `development_entry`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(LintCode::$variant => $code,)+
                }
            }

            /// The severity of every finding with this code.
            pub const fn severity(self) -> Severity {
                match self {
                    $(LintCode::$variant => Severity::$severity,)+
                }
            }
        }
    };
}

lint_codes! {
    TilesetsWithoutTilesScope => "tilesets_without_tiles_scope", Error,
        "a key restricts tilesets but its scopes lack `tiles:read`, so it can never serve a tile.";
    WebKeyOnlyAppSchemes => "web_key_only_app_schemes", Error,
        "a `web` key whose only domains are app-scheme origins (`capacitor://…`): no website can use it.";
    ServesNothing => "serves_nothing", Error,
        "a token with no scopes, or a public token with none of the scopes a tile server checks.";
    DomainsOnNonBrowserKey => "domains_on_non_browser_key", Warning,
        "a `desktop` or `server` key with `allowed_domains`: desktop clients send no Origin and are refused.";
    UrlWithPath => "url_with_path", Warning,
        "an `allowedUrls` entry with a path: pages that send only their origin (the default Referrer-Policy cross-site, MapLibre's workers) are refused.";
    SecretTokenWithUrls => "secret_token_with_urls", Warning,
        "an `sk` token with `allowedUrls`: URL restrictions suggest a browser, where a secret token must never be.";
    DevelopmentEntry => "development_entry", Warning,
        "`localhost`, a loopback or private-range IP, or a `.local`/`.test`-style name in the allowlist.";
    DuplicateEntry => "duplicate_entry", Warning,
        "two entries that are the same after normalization (`www.`, case, trailing dot, Unicode vs punycode, ignored scheme, port or path).";
    Unrestricted => "unrestricted", Warning,
        "a key or public token with no restriction: it works from anywhere, with anything.";
    WildcardCoversExact => "wildcard_covers_exact", Note,
        "an exact domain that a wildcard entry already allows.";
    ShadowedEntry => "shadowed_entry", Note,
        "an entry whose every match another, broader entry already allows.";
    WebKeyAnyOrigin => "web_key_any_origin", Note,
        "a `web` key without `allowed_domains`: every website may use it (only non-browser clients are refused).";
    IgnoredPortOrPath => "ignored_port_or_path", Note,
        "an `allowed_domains` entry with a port or path, which domain matching ignores.";
}

impl fmt::Display for LintCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// Which check.
    pub code: LintCode,
    /// How bad ([`LintCode::severity`] of `code`).
    pub severity: Severity,
    /// The policy field the finding is about (`allowed_domains`,
    /// `allowedUrls`, `scopes`, …), or `None` for the policy as a whole.
    pub field: Option<&'static str>,
    /// The entry's index in `field`: in the list as written for the
    /// `*_as_written` functions, else in the built policy's (deduplicated)
    /// list.
    pub index: Option<usize>,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl Finding {
    pub(crate) fn new(code: LintCode, message: impl Into<String>) -> Self {
        Finding {
            code,
            severity: code.severity(),
            field: None,
            index: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(mut self, field: &'static str, index: Option<usize>) -> Self {
        self.field = Some(field);
        self.index = index;
        self
    }
}

impl fmt::Display for Finding {
    /// `warning[development_entry] allowed_domains[2]: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.severity, self.code)?;
        match (self.field, self.index) {
            (Some(field), Some(index)) => write!(f, " {field}[{index}]")?,
            (Some(field), None) => write!(f, " {field}")?,
            _ => {}
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Finding", 5)?;
        s.serialize_field("code", self.code.as_str())?;
        s.serialize_field("severity", self.severity.as_str())?;
        s.serialize_field("field", &self.field)?;
        s.serialize_field("index", &self.index)?;
        s.serialize_field("message", &self.message)?;
        s.end()
    }
}

/// The most severe finding's severity, if any: what a CI gate compares.
pub fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max()
}

/// Errors first, then warnings, then notes; within a severity, policy-wide
/// findings first, then by field and index (a stable sort keeps the order
/// the checks ran in otherwise).
pub(crate) fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.field.cmp(&b.field))
            .then_with(|| a.index.cmp(&b.index))
    });
}

/// Why a host is a development entry, if it is one: `localhost`, a
/// reserved development name, or a loopback, private or link-local IP.
pub(crate) fn development_host(host: &str) -> Option<&'static str> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return match ip {
            IpAddr::V4(v4) if v4.is_loopback() => Some("a loopback address"),
            IpAddr::V4(v4) if v4.is_private() => Some("a private-range address"),
            IpAddr::V4(v4) if v4.is_link_local() => Some("a link-local address"),
            IpAddr::V6(v6) if v6.is_loopback() => Some("a loopback address"),
            // fc00::/7 (unique local) and fe80::/10 (link-local).
            IpAddr::V6(v6) if v6.segments().first().is_some_and(|s| s & 0xfe00 == 0xfc00) => {
                Some("a private-range (unique local) address")
            }
            IpAddr::V6(v6) if v6.segments().first().is_some_and(|s| s & 0xffc0 == 0xfe80) => {
                Some("a link-local address")
            }
            _ => None,
        };
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return Some("localhost");
    }
    // RFC 6761/6762 and common private suffixes: never a public website.
    ["local", "test", "internal", "lan", "home.arpa", "example", "invalid"]
        .into_iter()
        .find(|suffix| {
            host.strip_suffix(suffix)
                .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
        })
        .map(|_| "a reserved development name")
}

/// The parts of an entry as written, before normalization: enough to say
/// how two spellings of one entry differ, and whether a port or path was
/// given. Only used on strings that built successfully.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written<'a> {
    pub(crate) scheme: Option<&'a str>,
    pub(crate) host: &'a str,
    pub(crate) port: Option<&'a str>,
    pub(crate) path: &'a str,
}

impl<'a> Written<'a> {
    pub(crate) fn split(entry: &'a str) -> Self {
        let (scheme, rest) = match entry.split_once("://") {
            Some((scheme, rest)) if !scheme.contains(['/', '?', '#']) => (Some(scheme), rest),
            _ => (None, entry),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let (host, port) = if authority.starts_with('[') {
            match authority.find(']') {
                Some(close) => {
                    let (host, tail) = authority.split_at(close + 1);
                    (host, tail.strip_prefix(':'))
                }
                None => (authority, None),
            }
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        Written {
            scheme,
            host,
            port,
            path,
        }
    }

    /// How `self` and `other`, two spellings of one entry, differ.
    pub(crate) fn differences(&self, other: &Written<'_>, www_folds: bool) -> Vec<&'static str> {
        let mut out = Vec::new();
        let lower = |s: Option<&str>| s.map(str::to_ascii_lowercase);
        if lower(self.scheme) != lower(other.scheme) {
            out.push("scheme");
        }
        if self.port != other.port {
            out.push("port");
        }
        if self.path.trim_end_matches('/') != other.path.trim_end_matches('/') {
            out.push("path");
        } else if self.path != other.path {
            out.push("trailing slash");
        }
        let (a, b) = (self.host, other.host);
        fn strip_dot(h: &str) -> &str {
            h.strip_suffix('.').unwrap_or(h)
        }
        if a.ends_with('.') != b.ends_with('.') {
            out.push("trailing dot");
        }
        let (a, b) = (strip_dot(a), strip_dot(b));
        let www = |h: &str| h.len() >= 4 && h.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www."));
        let (a, b) = if www_folds && www(a) != www(b) {
            out.push("`www.`");
            (
                if www(a) { a.get(4..).unwrap_or(a) } else { a },
                if www(b) { b.get(4..).unwrap_or(b) } else { b },
            )
        } else {
            (a, b)
        };
        if a.is_ascii() != b.is_ascii() {
            out.push("Unicode vs punycode");
        } else if a != b && a.eq_ignore_ascii_case(b) {
            out.push("case");
        } else if a != b {
            out.push("spelling");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_hosts() {
        for (host, expected) in [
            ("localhost", true),
            ("app.localhost", true),
            ("127.0.0.1", true),
            ("10.1.2.3", true),
            ("192.168.0.10", true),
            ("[::1]", true),
            ("[fd00::1]", true),
            ("printer.local", true),
            ("shop.test", true),
            ("example.com", false),
            ("8.8.8.8", false),
            ("localhost.example.com", false),
            ("latest", false),
        ] {
            assert_eq!(development_host(host).is_some(), expected, "{host}");
        }
    }

    #[test]
    fn written_parts_and_differences() {
        let a = Written::split("HTTPS://WWW.Example.com.:8443/maps");
        assert_eq!(a.scheme, Some("HTTPS"));
        assert_eq!(a.host, "WWW.Example.com.");
        assert_eq!(a.port, Some("8443"));
        assert_eq!(a.path, "/maps");
        let b = Written::split("example.com");
        assert_eq!(
            a.differences(&b, true),
            ["scheme", "port", "path", "trailing dot", "`www.`", "case"]
        );
        let v6 = Written::split("http://[::1]:80");
        assert_eq!((v6.host, v6.port), ("[::1]", Some("80")));
        assert_eq!(
            Written::split("münchen.de").differences(&Written::split("xn--mnchen-3ya.de"), true),
            ["Unicode vs punycode"]
        );
    }

    #[test]
    fn codes_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in LintCode::ALL {
            assert!(seen.insert(code.as_str()), "{code}");
            assert!(code.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }
}
