//! Generators shared by the token property-test files (`token_invariants`,
//! `token_model`): access-token policies and requests as plain data that can
//! be built into a [`TokenPolicy`] or written as Tokens API JSON, and
//! Referers derived from a policy's own entries and mutated toward
//! near-misses.

use keypolicy::token::{Timestamp, TokenScope, TokenUsage};
use keypolicy::{TokenPolicy, TokenRequest};
use proptest::prelude::*;
use proptest::sample::select;

/// 2026-11-22T15:00:00Z: the instant generated expiries and `now`s are
/// offsets from.
pub const T0: i64 = 1_795_359_600;

pub fn ts(unix: i64) -> Timestamp {
    Timestamp::from_unix_seconds(unix).unwrap()
}

/// Hosts as a token author might write them: ASCII, upper case, IDN,
/// trailing dot, `_`, deep subdomains, `localhost`, a single-label intranet
/// name. (Not a public suffix such as `co`: such entries are refused.)
pub const HOSTS: &[&str] = &[
    "example.com",
    "docs.example.com",
    "Example.COM",
    "example.org",
    "a.b.example.net",
    "münchen.de",
    "xn--mnchen-3ya.de",
    "bücher.example",
    "localhost",
    "under_score.example.com",
    "example.com.",
    "maps-1.example.io",
    "intranet",
];

/// Entry paths (before normalization): none, `/`, case, trailing slashes,
/// deeper paths, escapes kept literally, `~`.
pub const PATHS: &[&str] = &[
    "",
    "",
    "",
    "/",
    "/maps",
    "/maps/",
    "/Maps",
    "/a/b",
    "/a/b//",
    "/map",
    "/%7Euser",
    "/x-y_z.html",
    "/v1/maps",
];

pub const PORTS: &[Option<u16>] = &[None, None, None, Some(443), Some(80), Some(8080), Some(3000)];

pub const SCHEMES: &[Option<&str>] = &[None, None, Some("https"), Some("http"), Some("HTTPS")];

/// One `allowedUrls` entry as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlSpec {
    pub scheme: Option<&'static str>,
    pub host: String,
    pub port: Option<u16>,
    pub path: String,
}

impl UrlSpec {
    pub fn text(&self) -> String {
        let mut s = String::new();
        if let Some(scheme) = self.scheme {
            s.push_str(scheme);
            s.push_str("://");
        }
        s.push_str(&self.host);
        if let Some(port) = self.port {
            s.push_str(&format!(":{port}"));
        }
        s.push_str(&self.path);
        s
    }
}

pub fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(HOSTS).prop_map(str::to_owned),
        // `site-` keeps the label off the Public Suffix List (`us.com`,
        // `uk.net`, `com.de` are on it, and refused as entries).
        1 => ("[a-z][a-z0-9]{0,5}", select(&["com", "net", "de"][..])).prop_map(|(l, t)| format!("site-{l}.{t}")),
    ]
}

pub fn url_spec() -> impl Strategy<Value = UrlSpec> {
    (select(SCHEMES), host(), select(PORTS), select(PATHS)).prop_map(|(scheme, host, port, path)| UrlSpec {
        scheme,
        host,
        port,
        path: path.to_owned(),
    })
}

/// A token policy as plain data.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    pub usage: TokenUsage,
    pub scopes: Vec<TokenScope>,
    pub urls: Vec<UrlSpec>,
    /// Seconds after [`T0`] (tk only).
    pub expires: Option<i64>,
    pub default: bool,
}

impl TokenSpec {
    pub fn build(&self) -> TokenPolicy {
        let mut b = TokenPolicy::builder(self.usage)
            .scopes(self.scopes.iter().copied())
            .allowed_urls(self.urls.iter().map(UrlSpec::text))
            .default_token(self.default);
        if let Some(e) = self.expires {
            b = b.expires(ts(T0 + e));
        }
        b.build().unwrap_or_else(|e| panic!("{self:?}: {e}"))
    }

    /// The Tokens API JSON, with metadata fields the crate ignores.
    pub fn json(&self) -> String {
        let mut v = serde_json::json!({
            "id": "cktest",
            "usage": self.usage.as_str(),
            "scopes": self.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "default": self.default,
            "created": "2026-11-01T09:00:00Z",
            "note": "generated",
        });
        if !self.urls.is_empty() {
            v["allowedUrls"] = self.urls.iter().map(UrlSpec::text).collect();
        }
        if let Some(e) = self.expires {
            v["expires"] = ts(T0 + e).to_string().into();
        }
        v.to_string()
    }
}

pub fn public_scopes() -> Vec<TokenScope> {
    TokenScope::ALL.into_iter().filter(|s| s.is_public()).collect()
}

/// Scopes valid for `usage`: public only for `pk`, any for `sk`/`tk`, with
/// repeats.
pub fn scopes_for(usage: TokenUsage) -> BoxedStrategy<Vec<TokenScope>> {
    let pool = match usage {
        TokenUsage::Public => public_scopes(),
        _ => TokenScope::ALL.to_vec(),
    };
    prop::collection::vec(select(pool), 0..6).boxed()
}

/// Any valid token: `pk`/`sk` with 0–4 URL entries (now and then 9–12, so
/// that the hashed matcher of long lists is covered too), `tk` with an
/// expiry, now and then a default `pk` token.
pub fn token_spec() -> impl Strategy<Value = TokenSpec> {
    select(&[TokenUsage::Public, TokenUsage::Secret, TokenUsage::Temporary][..]).prop_flat_map(|usage| {
        let urls = match usage {
            TokenUsage::Temporary => Just(Vec::new()).boxed(),
            _ => prop_oneof![
                4 => prop::collection::vec(url_spec(), 0..5),
                1 => prop::collection::vec(url_spec(), 9..13)
            ]
            .boxed(),
        };
        let expires = match usage {
            TokenUsage::Temporary => (-3600i64..3600).prop_map(Some).boxed(),
            _ => Just(None).boxed(),
        };
        (scopes_for(usage), urls, expires, any::<u8>()).prop_map(move |(scopes, urls, expires, d)| {
            let default = usage == TokenUsage::Public && urls.is_empty() && d < 16;
            TokenSpec {
                usage,
                scopes,
                urls,
                expires,
                default,
            }
        })
    })
}

/// A URL-restricted `pk`/`sk` token.
pub fn restricted_token_spec() -> impl Strategy<Value = TokenSpec> {
    token_spec().prop_filter("URL-restricted", |t| !t.urls.is_empty())
}

// ---------------------------------------------------------------------------
// Referers
// ---------------------------------------------------------------------------

/// A Referer as parts, so that properties can change one part at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefParts {
    pub scheme: String,
    pub host: String,
    /// The port as written after `:`, if any.
    pub port: Option<String>,
    /// Starts with `/` (or is empty: no path at all).
    pub path: String,
    /// `?…` and/or `#…`, or empty.
    pub tail: String,
}

impl RefParts {
    pub fn render(&self) -> String {
        let mut s = format!("{}://{}", self.scheme, self.host);
        if let Some(p) = &self.port {
            s.push(':');
            s.push_str(p);
        }
        s.push_str(&self.path);
        s.push_str(&self.tail);
        s
    }

    /// `scheme://host[:port]`: the Origin a browser would send.
    pub fn origin(&self) -> String {
        let mut s = format!("{}://{}", self.scheme, self.host);
        if let Some(p) = &self.port {
            s.push(':');
            s.push_str(p);
        }
        s
    }

    pub fn is_https(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("https")
    }
}

/// Mutations toward near-misses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    SchemeFlip,
    ExplicitDefaultPort,
    OtherPort,
    AddSubdomain,
    RemoveLabel,
    PrefixAttack,
    SuffixAttack,
    PathAppend,
    PathGlue,
    PathCase,
    PathTruncate,
    DotSegment,
    DotDotSegment,
    EncodedDotDot,
    EncodedSlash,
    Query,
    Fragment,
    TrailingDot,
    UpperHost,
    UpperScheme,
    Userinfo,
    UnicodeHost,
}

pub const MUTATIONS: &[Mutation] = &[
    Mutation::SchemeFlip,
    Mutation::ExplicitDefaultPort,
    Mutation::OtherPort,
    Mutation::AddSubdomain,
    Mutation::RemoveLabel,
    Mutation::PrefixAttack,
    Mutation::SuffixAttack,
    Mutation::PathAppend,
    Mutation::PathGlue,
    Mutation::PathCase,
    Mutation::PathTruncate,
    Mutation::DotSegment,
    Mutation::DotDotSegment,
    Mutation::EncodedDotDot,
    Mutation::EncodedSlash,
    Mutation::Query,
    Mutation::Fragment,
    Mutation::TrailingDot,
    Mutation::UpperHost,
    Mutation::UpperScheme,
    Mutation::Userinfo,
    Mutation::UnicodeHost,
];

pub fn default_port(scheme: &str) -> u16 {
    if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    }
}

impl RefParts {
    /// A Referer that satisfies `entry` (normalized: scheme, ASCII host,
    /// port, path as the library reports them), `pick` choosing the free
    /// parts.
    pub fn from_entry(entry: &keypolicy::token::AllowedUrl, pick: u32) -> RefParts {
        let scheme = entry
            .scheme()
            .unwrap_or(if pick & 1 == 0 { "https" } else { "http" })
            .to_owned();
        let port = match entry.port() {
            Some(p) if p == default_port(&scheme) && pick & 2 == 0 => None,
            Some(p) => Some(p.to_string()),
            None if pick & 4 != 0 => Some("8443".to_owned()),
            None => None,
        };
        let path = match entry.path() {
            Some(p) if pick & 8 != 0 => format!("{p}/sub/page.html"),
            Some(p) if pick & 16 != 0 => format!("{p}/"),
            Some(p) => p.to_owned(),
            None if pick & 8 != 0 => "/anything/here".to_owned(),
            None if pick & 16 != 0 => String::new(),
            None => "/".to_owned(),
        };
        let host = if pick & 32 != 0 {
            format!("www.{}", entry.host())
        } else {
            entry.host().to_owned()
        };
        RefParts {
            scheme,
            host,
            port,
            path,
            tail: String::new(),
        }
    }

    pub fn mutate(&mut self, m: Mutation) {
        match m {
            Mutation::SchemeFlip => {
                self.scheme = if self.is_https() { "http" } else { "https" }.to_owned();
            }
            Mutation::ExplicitDefaultPort => {
                if self.port.is_none() {
                    self.port = Some(default_port(&self.scheme).to_string());
                }
            }
            Mutation::OtherPort => self.port = Some("8081".to_owned()),
            Mutation::AddSubdomain => self.host = format!("x.{}", self.host),
            Mutation::RemoveLabel => {
                if let Some((_, rest)) = self.host.split_once('.') {
                    self.host = rest.to_owned();
                }
            }
            Mutation::PrefixAttack => self.host = format!("bad{}", self.host),
            Mutation::SuffixAttack => self.host = format!("{}.evil.net", self.host),
            Mutation::PathAppend => self.path = format!("{}/q", self.path.trim_end_matches('/')),
            Mutation::PathGlue => {
                self.path = if self.path.is_empty() || self.path == "/" {
                    "/q".to_owned()
                } else {
                    format!("{}q", self.path.trim_end_matches('/'))
                }
            }
            Mutation::PathCase => {
                self.path = if self.path.chars().any(|c| c.is_ascii_lowercase()) {
                    self.path.to_ascii_uppercase()
                } else {
                    self.path.to_ascii_lowercase()
                }
            }
            Mutation::PathTruncate => {
                let trimmed = self.path.trim_end_matches('/');
                if trimmed.len() > 1 {
                    self.path = trimmed[..trimmed.len() - 1].to_owned();
                }
            }
            Mutation::DotSegment => self.path = format!("{}/./x", self.path.trim_end_matches('/')),
            Mutation::DotDotSegment => self.path = format!("{}/../admin", self.path.trim_end_matches('/')),
            Mutation::EncodedDotDot => self.path = format!("{}/%2e%2E/admin", self.path.trim_end_matches('/')),
            Mutation::EncodedSlash => self.path = format!("{}%2F..%2Fadmin", self.path.trim_end_matches('/')),
            Mutation::Query => self.tail.push_str("?q=/maps&x=..%2F"),
            Mutation::Fragment => self.tail.push_str("#/maps/../admin"),
            Mutation::TrailingDot => {
                if !self.host.ends_with('.') {
                    self.host.push('.');
                }
            }
            Mutation::UpperHost => self.host = self.host.to_ascii_uppercase(),
            Mutation::UpperScheme => self.scheme = self.scheme.to_ascii_uppercase(),
            Mutation::Userinfo => self.host = format!("user@{}", self.host),
            Mutation::UnicodeHost => {
                let (unicode, _) = idna::domain_to_unicode(&self.host);
                self.host = if unicode == self.host {
                    format!("ü{}", self.host)
                } else {
                    unicode
                };
            }
        }
    }
}

/// A request against some token, as plain data.
#[derive(Debug, Clone)]
pub struct ReqSpec {
    pub referer: Option<String>,
    pub origin: Option<String>,
    pub scope: TokenScope,
    /// Seconds after [`T0`]; `None`: no `now`.
    pub now: Option<i64>,
    pub fallback: bool,
}

impl ReqSpec {
    pub fn request(&self) -> TokenRequest<'_> {
        let mut r = TokenRequest::new(self.scope).with_origin_fallback(self.fallback);
        if let Some(x) = &self.referer {
            r = r.with_referer(x.as_str());
        }
        if let Some(x) = &self.origin {
            r = r.with_origin(x.as_str());
        }
        if let Some(n) = self.now {
            r = r.with_now(ts(T0 + n));
        }
        r
    }

    pub fn json(&self) -> String {
        let mut v = serde_json::json!({ "scope": self.scope.as_str(), "origin_fallback": self.fallback });
        if let Some(x) = &self.referer {
            v["referer"] = x.as_str().into();
        }
        if let Some(x) = &self.origin {
            v["origin"] = x.as_str().into();
        }
        if let Some(n) = self.now {
            v["now"] = ts(T0 + n).to_string().into();
        }
        v.to_string()
    }
}

/// Odd header values: absent-like, opaque, non-http(s), hostile.
pub const ODD_REFERERS: &[&str] = &[
    "",
    "null",
    "about:blank",
    "file:///etc/passwd",
    "data:text/html,x",
    "blob:https://example.com/uuid",
    "chrome-extension://abcdef/page.html",
    "https://example.com@evil.net/",
    "https://evil.net\\@example.com/",
    "https://ex%61mple.com/",
    "https://exa\tmple.com/",
    "https://münchen.de/",
    "https://127.0.0.1/",
    "http://[::1]/",
    "*",
    "https://example.com, https://evil.net",
    "//example.com/",
    "example.com",
];

/// Parts of a Referer derived from one of the token's entries, then 0–3
/// mutations.
pub fn derived_parts(token: &TokenPolicy) -> BoxedStrategy<RefParts> {
    let entries = token.allowed_urls().to_vec();
    if entries.is_empty() {
        return (host(), any::<bool>(), "(/[a-z]{1,4}){0,2}")
            .prop_map(|(host, https, path)| RefParts {
                scheme: if https { "https" } else { "http" }.to_owned(),
                host: idna::domain_to_ascii(&host).unwrap_or(host),
                port: None,
                path,
                tail: String::new(),
            })
            .boxed();
    }
    (
        select(entries),
        any::<u32>(),
        prop::collection::vec(select(MUTATIONS), 0..3),
    )
        .prop_map(|(entry, pick, mutations)| {
            let mut parts = RefParts::from_entry(&entry, pick);
            for m in mutations {
                parts.mutate(m);
            }
            parts
        })
        .boxed()
}

/// A request for `token`: a derived Referer (or an odd or absent one), an
/// Origin (the Referer's own, another derived one, odd or absent), a scope,
/// a `now` around the expiry and the fallback flag.
pub fn request_for(token: &TokenPolicy) -> BoxedStrategy<ReqSpec> {
    let referer = prop_oneof![
        6 => derived_parts(token).prop_map(|p| Some(p.render())),
        1 => select(ODD_REFERERS).prop_map(|s| Some(s.to_owned())),
        1 => Just(None),
    ];
    let origin = prop_oneof![
        2 => Just(None),
        2 => derived_parts(token).prop_map(|p| Some(p.origin())),
        1 => select(ODD_REFERERS).prop_map(|s| Some(s.to_owned())),
    ];
    let expires = token.expires().map(|e| e.unix_seconds() - T0);
    let now = match expires {
        Some(e) => prop_oneof![
            Just(Some(e)),
            Just(Some(e - 1)),
            Just(Some(e + 1)),
            (-7200i64..7200).prop_map(Some),
            Just(None)
        ]
        .boxed(),
        None => prop::option::of(-7200i64..7200).boxed(),
    };
    (
        referer,
        origin,
        select(TokenScope::ALL.to_vec()),
        now,
        prop::bool::weighted(0.2),
    )
        .prop_map(|(referer, origin, scope, now, fallback)| ReqSpec {
            referer,
            origin,
            scope,
            now,
            fallback,
        })
        .boxed()
}

/// A token and `n` requests for it.
pub fn token_and_requests(n: usize) -> impl Strategy<Value = (TokenSpec, Vec<ReqSpec>)> {
    token_spec().prop_flat_map(move |spec| {
        let token = spec.build();
        (Just(spec), prop::collection::vec(request_for(&token), n))
    })
}

/// Whether a decision's denial (if any) comes from the URL rule.
pub fn url_denied(d: &keypolicy::Decision<'_>) -> bool {
    matches!(
        d.denial(),
        Some(keypolicy::Denial::RefererRequired | keypolicy::Denial::RefererNotAllowed)
    )
}

/// A decision without borrows: reason, `Access-Control-Allow-Origin` and
/// `Vary`, for comparing decisions on different requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub denial: Option<keypolicy::Denial>,
    pub allow_origin: Option<String>,
    pub vary: Option<&'static str>,
}

impl Outcome {
    pub fn of(d: &keypolicy::Decision<'_>) -> Outcome {
        Outcome {
            denial: d.denial(),
            allow_origin: d.allow_origin().map(|o| o.as_str().to_owned()),
            vary: d.vary().header_value(),
        }
    }
}

/// Evaluates `r` against `token`.
pub fn eval(token: &TokenPolicy, r: &ReqSpec) -> Outcome {
    Outcome::of(&keypolicy::evaluate_token(token, &r.request()))
}
