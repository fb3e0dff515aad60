//! Key generators (`invariants`, `model`, `no_panic`): key policies and
//! requests, as plain data that can be built into a [`KeyPolicy`] or
//! written as JSON.

use keypolicy::key::{KeyScope, KeyType, Resource};
use keypolicy::{KeyPolicy, KeyRequest};
use proptest::prelude::*;
use proptest::sample::select;

// ---------------------------------------------------------------------------
// Plain data
// ---------------------------------------------------------------------------

/// One `allowed_domains` entry as written, plus the bare host it names
/// (Unicode kept), from which request origins are derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSpec {
    /// The entry text as a policy author might write it.
    pub text: String,
    /// What kind of entry it is.
    pub kind: EntryKind,
    /// The host without decoration: `münchen.de`, `x.y.com` for `*.x.y.com`,
    /// `127.0.0.1`, `[::1]`, or `localhost` for `capacitor://localhost`.
    pub host: String,
    /// For app entries, the scheme (`capacitor`).
    pub scheme: Option<String>,
}

/// The kinds of `allowed_domains` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// An exact (www.-folded) host.
    Domain,
    /// `*.host`.
    Wildcard,
    /// An IP address.
    Ip,
    /// A non-http(s) `scheme://host`.
    App,
}

/// A key policy as plain data (lists may hold duplicates and equivalent
/// spellings).
#[derive(Debug, Clone)]
pub struct PolicySpec {
    /// Key type.
    pub key_type: KeyType,
    /// Scopes, possibly repeated.
    pub scopes: Vec<KeyScope>,
    /// Domain entries.
    pub domains: Vec<DomainSpec>,
    /// Tileset entries as written.
    pub tilesets: Vec<String>,
}

impl PolicySpec {
    /// Builds the policy through the Rust builder.
    pub fn build(&self) -> KeyPolicy {
        KeyPolicy::builder()
            .key_type(self.key_type)
            .scopes(self.scopes.iter().copied())
            .allowed_domains(self.domains.iter().map(|d| d.text.clone()))
            .allowed_tilesets(self.tilesets.iter().cloned())
            .build()
            .unwrap_or_else(|e| panic!("generated policy must build: {e} in {self:?}"))
    }

    /// The policy in the JSON contract's shape (entries as written).
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "key_type": self.key_type.as_str(),
            "scopes": self.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "allowed_domains": self.domains.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(),
            "allowed_tilesets": self.tilesets,
        })
        .to_string()
    }
}

/// A request as plain data.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// The Origin header, if any.
    pub origin: Option<String>,
    /// The resource.
    pub resource: Resource,
    /// The tileset(s) named, if any.
    pub tileset: Option<String>,
}

impl RequestSpec {
    /// A borrowed `KeyRequest`.
    pub fn request(&self) -> KeyRequest<'_> {
        let mut r = KeyRequest::new(self.resource);
        if let Some(o) = &self.origin {
            r = r.with_origin(o.as_str());
        }
        if let Some(t) = &self.tileset {
            r = r.with_tileset(t.as_str());
        }
        r
    }
}

// ---------------------------------------------------------------------------
// Pools
// ---------------------------------------------------------------------------

/// Labels for host names: ASCII, Unicode (IDN), punycode, `www`, `_`.
pub const LABELS: &[&str] = &[
    "example",
    "maps",
    "app",
    "tiles",
    "a",
    "b-c",
    "under_score",
    "www",
    "münchen",
    "bücher",
    "xn--mnchen-3ya",
    "faß",
    "例え",
];
/// Top-level labels.
pub const TLDS: &[&str] = &["com", "de", "co", "org", "net", "example", "テスト"];
/// IP hosts as written in entries (some non-canonical).
pub const IPS: &[&str] = &[
    "127.0.0.1",
    "0x7f.1",
    "2130706433",
    "10.0.0.1",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[2001:db8::1]",
    "[::ffff:127.0.0.1]",
    "[::FFFF:7F00:1]",
];
/// App (non-http) origins used by hybrid apps.
pub const APP_SCHEMES: &[&str] = &["capacitor", "tauri", "ionic", "app"];
/// App hosts.
pub const APP_HOSTS: &[&str] = &["localhost", "example.com", "my-app"];
/// Tileset users and IDs.
pub const TS_USERS: &[&str] = &["alice", "bob", "carol_1", "Alice"];
/// Tileset IDs.
pub const TS_IDS: &[&str] = &["streets", "streets-v2", "terrain", "Sat", "x_1"];
/// Scopes.
pub const SCOPES: [KeyScope; 4] = KeyScope::ALL;
/// Resources.
pub const RESOURCES: [Resource; 4] = [Resource::Tiles, Resource::Styles, Resource::Static, Resource::Export];
/// Key types.
pub const KEY_TYPES: [KeyType; 4] = [KeyType::Any, KeyType::Web, KeyType::Desktop, KeyType::Server];

// ---------------------------------------------------------------------------
// Hosts and entries
// ---------------------------------------------------------------------------

/// A domain host of 1 to 3 labels plus a TLD (or `localhost`).
pub fn domain_host() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => (prop::collection::vec(select(LABELS), 1..=3), select(TLDS))
            .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join("."))),
        1 => Just("localhost".to_owned()),
    ]
}

/// A host with at least two labels, as a wildcard suffix must be.
pub fn wildcard_suffix() -> impl Strategy<Value = String> {
    (prop::collection::vec(select(LABELS), 1..=2), select(TLDS))
        .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")))
}

/// Upper-cases some characters of `s` (Unicode-aware), per `mask` bits.
pub fn recase(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            // `ß` upper-cases to `SS`, which is a different name under
            // non-transitional UTS-46; every other letter here folds back.
            if mask >> (i % 64) & 1 == 1 && c != 'ß' {
                c.to_uppercase().collect::<String>()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Decoration that never changes what an entry means: scheme, case, port,
/// path, trailing dot.
#[derive(Debug, Clone, Copy)]
pub struct Decoration {
    /// 0: none, 1: `https://`, 2: `http://`, 3: `HTTPS://`.
    pub scheme: u8,
    /// Case mask.
    pub case: u64,
    /// Port to add.
    pub port: Option<u16>,
    /// Append a path.
    pub path: bool,
    /// Append one trailing dot (domains only).
    pub dot: bool,
}

/// Random decoration.
pub fn decoration() -> impl Strategy<Value = Decoration> {
    (
        0u8..4,
        prop_oneof![2 => Just(0u64), 1 => any::<u64>()],
        prop::option::weighted(0.3, 1u16..),
        any::<bool>(),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(scheme, case, port, path, dot)| Decoration {
            scheme,
            case,
            port,
            path,
            dot,
        })
}

impl Decoration {
    /// Writes `host` (already possibly `*.`-prefixed) with this decoration.
    pub fn apply(&self, host: &str, allow_dot: bool) -> String {
        let scheme = ["", "https://", "http://", "HTTPS://"][usize::from(self.scheme % 4)];
        let mut host = recase(host, self.case);
        if self.dot && allow_dot {
            host.push('.');
        }
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        let path = if self.path { "/some/path?q=1#f" } else { "" };
        format!("{scheme}{host}{port}{path}")
    }
}

/// An `allowed_domains` entry of any kind.
pub fn domain_spec() -> impl Strategy<Value = DomainSpec> {
    prop_oneof![
        6 => (domain_host(), any::<bool>(), decoration()).prop_map(|(host, www, deco)| {
            let written = if www { format!("www.{host}") } else { host.clone() };
            DomainSpec { text: deco.apply(&written, true), kind: EntryKind::Domain, host: written, scheme: None }
        }),
        2 => (wildcard_suffix(), decoration()).prop_map(|(host, deco)| DomainSpec {
            text: deco.apply(&format!("*.{host}"), true),
            kind: EntryKind::Wildcard,
            host,
            scheme: None,
        }),
        1 => (select(IPS), decoration()).prop_map(|(ip, deco)| DomainSpec {
            text: deco.apply(ip, false),
            kind: EntryKind::Ip,
            host: ip.to_owned(),
            scheme: None,
        }),
        1 => (select(APP_SCHEMES), select(APP_HOSTS), any::<bool>(), prop::option::of(1u16..)).prop_map(
            |(scheme, host, upper, port)| {
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                let text = format!("{scheme}://{host}{port}");
                DomainSpec {
                    text: if upper { text.to_uppercase() } else { text },
                    kind: EntryKind::App,
                    host: host.to_owned(),
                    scheme: Some(scheme.to_owned()),
                }
            }
        ),
    ]
}

/// A tileset entry: `user.id` or `user.*`.
pub fn tileset_entry() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (select(TS_USERS), select(TS_IDS)).prop_map(|(u, i)| format!("{u}.{i}")),
        1 => select(TS_USERS).prop_map(|u| format!("{u}.*")),
    ]
}

/// A policy: any key type, 0–3 scopes, 0–4 domains, 0–3 tilesets, each
/// list empty about a third of the time.
pub fn policy_spec() -> impl Strategy<Value = PolicySpec> {
    (
        select(&KEY_TYPES[..]),
        prop_oneof![1 => Just(vec![]), 2 => prop::collection::vec(select(&SCOPES[..]), 1..=3)],
        // Short lists (scanned) and, now and then, lists long enough to be
        // hashed (over 8 entries), so that properties cover both matchers.
        prop_oneof![
            2 => Just(vec![]),
            3 => prop::collection::vec(domain_spec(), 1..=4),
            1 => prop::collection::vec(domain_spec(), 9..=12)
        ],
        prop_oneof![
            2 => Just(vec![]),
            3 => prop::collection::vec(tileset_entry(), 1..=3),
            1 => prop::collection::vec(tileset_entry(), 9..=11)
        ],
    )
        .prop_map(|(key_type, scopes, domains, tilesets)| PolicySpec {
            key_type,
            scopes,
            domains,
            tilesets,
        })
}

// ---------------------------------------------------------------------------
// Origins
// ---------------------------------------------------------------------------

/// `host` in its IDNA ASCII form (what a browser sends), when it has one.
pub fn to_ascii_host(host: &str) -> String {
    if host.starts_with('[') {
        return host.to_ascii_lowercase();
    }
    idna::domain_to_ascii(host).unwrap_or_else(|_| host.to_owned())
}

/// How an origin is derived from a host.
#[derive(Debug, Clone, Copy)]
pub enum Mutation {
    /// The host as a browser sends it.
    Same,
    /// Random upper case.
    Case(u64),
    /// `www.` added.
    AddWww,
    /// A leading `www.` removed.
    StripWww,
    /// One trailing dot.
    TrailingDot,
    /// A label added in front (`a.example.com`).
    AddLabel,
    /// The first label removed.
    DropLabel,
    /// `example.com.evil.net`.
    SuffixAttack,
    /// `evilexample.com`.
    PrefixAttack,
    /// `example.comx`, `example.co` style tail change.
    TailAttack,
    /// The Unicode form (not valid in a header).
    Unicode,
    /// A non-http(s) scheme for a web host, or https for an app host.
    SwapScheme,
}

/// Any mutation.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => Just(Mutation::Same),
        2 => any::<u64>().prop_map(Mutation::Case),
        1 => Just(Mutation::AddWww),
        1 => Just(Mutation::StripWww),
        1 => Just(Mutation::TrailingDot),
        1 => Just(Mutation::AddLabel),
        1 => Just(Mutation::DropLabel),
        1 => Just(Mutation::SuffixAttack),
        1 => Just(Mutation::PrefixAttack),
        1 => Just(Mutation::TailAttack),
        1 => Just(Mutation::Unicode),
        1 => Just(Mutation::SwapScheme),
    ]
}

/// An Origin header derived from an entry's host and mutated.
pub fn origin_from(entry: &DomainSpec, mutation: Mutation, https: bool, port: Option<u16>) -> String {
    let is_ip = entry.kind == EntryKind::Ip;
    let base = match entry.kind {
        // A subdomain, so that the wildcard covers it.
        EntryKind::Wildcard => format!("sub.{}", entry.host),
        _ => entry.host.clone(),
    };
    let ascii = if entry.kind == EntryKind::App {
        base.clone()
    } else {
        to_ascii_host(&base)
    };
    let mut scheme = match &entry.scheme {
        Some(s) => s.clone(),
        None if https => "https".to_owned(),
        None => "http".to_owned(),
    };
    let host = match mutation {
        Mutation::Same => ascii,
        Mutation::Case(mask) => recase(&ascii, mask),
        Mutation::AddWww if !is_ip => format!("www.{ascii}"),
        Mutation::StripWww => ascii.strip_prefix("www.").map_or(ascii.clone(), str::to_owned),
        Mutation::TrailingDot if !ascii.starts_with('[') => format!("{ascii}."),
        Mutation::AddLabel if !is_ip => format!("a.{ascii}"),
        Mutation::DropLabel => ascii.split_once('.').map_or(ascii.clone(), |(_, rest)| rest.to_owned()),
        Mutation::SuffixAttack => format!("{ascii}.evil-attacker.net"),
        Mutation::PrefixAttack => format!("evil{ascii}"),
        Mutation::TailAttack if !is_ip => format!("{ascii}x"),
        Mutation::Unicode => base,
        Mutation::SwapScheme => {
            scheme = if entry.scheme.is_some() {
                "https".to_owned()
            } else {
                "app".to_owned()
            };
            ascii
        }
        _ => ascii,
    };
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    format!("{scheme}://{host}{port}")
}

/// Hostile or odd origins not derived from any entry.
pub const ODD_ORIGINS: &[&str] = &[
    "",
    "null",
    "*",
    "file://",
    "https://",
    "https://example.com/",
    "https://user@example.com",
    "https://exa\tmple.com",
    "https://example.com, https://evil.net",
    "https://example.com%2eevil.net",
    "https://*.example.com",
    "https://.example.com",
    "https://example..com",
    "https://example.com:0",
    "https://example.com:65536",
    "https://xn--zz.example.com",
    "https://xn--mnchen-3yb.de",
    "https://münchen.de",
    "http://2130706433",
    "http://[::ffff:127.0.0.1]",
    "capacitor://localhost",
    "https://localhost:3000",
    "https://evil.net",
    "capacitor://xn--zz",
    "app://XN--MNCHEN-3YB.de",
    "https://example.com:000443",
];

/// An Origin for `policy`: derived from one of its entries and mutated,
/// or an odd/unrelated one, or absent.
pub fn origin_for(policy: &PolicySpec) -> BoxedStrategy<Option<String>> {
    let unrelated = prop_oneof![
        select(ODD_ORIGINS).prop_map(str::to_owned),
        (domain_spec(), mutation(), any::<bool>()).prop_map(|(e, m, https)| origin_from(&e, m, https, None)),
    ];
    if policy.domains.is_empty() {
        return prop_oneof![1 => Just(None), 4 => unrelated.prop_map(Some)].boxed();
    }
    let entries = policy.domains.clone();
    let derived = (
        select(entries),
        mutation(),
        any::<bool>(),
        prop::option::weighted(0.2, prop_oneof![Just(443u16), Just(8080), 1u16..]),
    )
        .prop_map(|(e, m, https, port)| origin_from(&e, m, https, port));
    prop_oneof![1 => Just(None), 6 => derived.prop_map(Some), 2 => unrelated.prop_map(Some)].boxed()
}

// ---------------------------------------------------------------------------
// Tilesets and requests
// ---------------------------------------------------------------------------

/// One requested tileset part: mostly well-formed, sometimes broken.
pub fn tileset_part() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (select(TS_USERS), select(TS_IDS)).prop_map(|(u, i)| format!("{u}.{i}")),
        1 => select(&["", "alice", "alice.*", "alice.streets.x", " alice.streets", "alice.stre ets", "alice."][..])
            .prop_map(str::to_owned),
    ]
}

/// The tileset field of a request: absent, one part, or a composite.
pub fn requested_tileset() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        4 => tileset_part().prop_map(Some),
        2 => prop::collection::vec(tileset_part(), 2..=3).prop_map(|parts| Some(parts.join(","))),
    ]
}

/// A request for `policy`.
pub fn request_for(policy: &PolicySpec) -> impl Strategy<Value = RequestSpec> {
    (origin_for(policy), select(&RESOURCES[..]), requested_tileset()).prop_map(|(origin, resource, tileset)| {
        RequestSpec {
            origin,
            resource,
            tileset,
        }
    })
}

/// A policy with requests derived from it.
pub fn policy_and_requests(n: usize) -> impl Strategy<Value = (PolicySpec, Vec<RequestSpec>)> {
    policy_spec().prop_flat_map(move |p| {
        let reqs = prop::collection::vec(request_for(&p), n);
        (Just(p), reqs)
    })
}
