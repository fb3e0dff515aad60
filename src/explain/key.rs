//! Explaining API-key decisions.

use crate::decision::Denial;
use crate::explain::{
    edit_distance, keep_nearest, label_difference, nearest_suffix, Difference, EntryRef, Explanation, HeaderTrace,
    Nearest, RuleOutcome, Rules,
};
use crate::key::{evaluate_key, AllowedDomain, KeyPolicy, KeyRequest, KeyType, Resource};

/// An Origin as the domain rule sees it.
struct NormalizedOrigin {
    /// Lower-case scheme.
    scheme: String,
    /// The entry-form host: lower case, IDNA ASCII, trailing dot and one
    /// `www.` removed (`scheme://host` for app schemes).
    host: String,
    /// Whether the scheme is `http` or `https`.
    web: bool,
}

/// The adapter to the Origin grammar, through the public API only: an
/// Origin is valid when a `web` key without domains accepts it, and its
/// normalized form is what the same text normalizes to as an
/// `allowed_domains` entry (the two share one host grammar).
fn normalize_origin(header: &str) -> Option<NormalizedOrigin> {
    let any_site = KeyPolicy::builder().key_type(KeyType::Web).build().ok()?;
    let probe = KeyRequest::new(Resource::Tiles).with_origin(header);
    if !evaluate_key(&any_site, &probe).is_allowed() {
        return None;
    }
    let entry = header.parse::<AllowedDomain>().ok()?.to_string();
    let scheme = header.split_once("://")?.0.to_ascii_lowercase();
    let web = scheme == "http" || scheme == "https";
    Some(NormalizedOrigin {
        scheme,
        host: entry,
        web,
    })
}

/// Whether `entry` alone allows `header` (the same matcher, one entry).
fn entry_allows(entry: &AllowedDomain, header: &str) -> bool {
    KeyPolicy::builder()
        .key_type(KeyType::Web)
        .allowed_domains([entry.to_string()])
        .build()
        .is_ok_and(|one| evaluate_key(&one, &KeyRequest::new(Resource::Tiles).with_origin(header)).is_allowed())
}

/// Explains [`evaluate_key`]'s decision for `request` under `policy`.
pub fn explain_key(policy: &KeyPolicy, request: &KeyRequest<'_>) -> Explanation {
    let decision = evaluate_key(policy, request);
    let denial = decision.denial();
    let received = request.origin.as_deref().map(str::to_owned);
    let present = request.origin.as_deref().filter(|o| !o.is_empty());
    let normalized = present.and_then(normalize_origin);
    let domains = policy.allowed_domains();
    let listed = || {
        let all: Vec<String> = domains.iter().map(ToString::to_string).collect();
        all.join(", ")
    };

    let mut matched = None;
    let mut nearest = Vec::new();
    if let (Some(header), Some(origin)) = (present, &normalized) {
        if !domains.is_empty() {
            matched = domains.iter().position(|d| entry_allows(d, header)).and_then(|i| {
                domains.get(i).map(|d| EntryRef {
                    index: i,
                    entry: d.to_string(),
                })
            });
        }
        if denial == Some(Denial::OriginNotAllowed) {
            nearest = near_entries(domains, origin);
        }
    }

    let mut rules = Rules::new();
    let origin_fails = matches!(
        denial,
        Some(Denial::OriginRequired | Denial::OriginInvalid | Denial::OriginNotAllowed)
    );
    rules.push("origin", policy.has_origin_rule(), origin_fails, |outcome| {
        let shown = present.unwrap_or_default();
        match (outcome, denial) {
            (RuleOutcome::Skipped, _) => format!(
                "key type {} and no allowed_domains: the Origin header is not checked",
                policy.key_type()
            ),
            (RuleOutcome::Failed, Some(Denial::OriginRequired)) if domains.is_empty() => {
                "the key type is web, so every request needs an Origin header; none was sent".to_owned()
            }
            (RuleOutcome::Failed, Some(Denial::OriginRequired)) => format!(
                "allowed_domains is set ({}), so an Origin header is required; none was sent (non-browser clients \
                 send none)",
                listed()
            ),
            (RuleOutcome::Failed, Some(Denial::OriginInvalid)) => {
                format!("`{shown}` is not a single valid ASCII origin of the form scheme://host[:port]")
            }
            (RuleOutcome::Failed, _) => {
                format!("`{shown}` matches none of allowed_domains{}", nearest_suffix(&nearest))
            }
            _ => match &matched {
                Some(entry) => format!("`{shown}` matches allowed_domains[{}] `{}`", entry.index, entry.entry),
                None => format!("web key without allowed_domains: any valid Origin will do, and `{shown}` is one"),
            },
        }
    });

    let scopes = policy.scopes();
    let needed = request.resource.required_scope();
    rules.push(
        "scope",
        !scopes.is_empty(),
        denial == Some(Denial::ScopeMissing),
        |outcome| {
            let has: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
            match outcome {
                RuleOutcome::Skipped => "no scopes: requests are not restricted by scope".to_owned(),
                RuleOutcome::Failed => format!(
                    "a {} request needs {needed}; the key has {}",
                    request.resource.as_str(),
                    has.join(", ")
                ),
                _ => format!(
                    "a {} request needs {needed}, which the key has",
                    request.resource.as_str()
                ),
            }
        },
    );

    let tilesets = policy.allowed_tilesets();
    let named = request.tileset.as_deref();
    let tileset_applies = !tilesets.is_empty() && (named.is_some() || request.resource == Resource::Tiles);
    rules.push(
        "tileset",
        tileset_applies,
        denial == Some(Denial::TilesetNotAllowed),
        |outcome| {
            let patterns: Vec<String> = tilesets.iter().map(ToString::to_string).collect();
            match (outcome, named) {
                (RuleOutcome::Skipped, _) if tilesets.is_empty() => {
                    "no allowed_tilesets: every tileset is allowed".to_owned()
                }
                (RuleOutcome::Skipped, _) => format!(
                    "a {} request naming no tileset is not restricted by allowed_tilesets",
                    request.resource.as_str()
                ),
                (RuleOutcome::Failed, None) => format!(
                    "a tile request must name a tileset covered by allowed_tilesets ({}); it names none",
                    patterns.join(", ")
                ),
                (RuleOutcome::Failed, Some(named)) => {
                    let refused: Vec<&str> = named.split(',').filter(|t| !covered(&patterns, t)).collect();
                    format!(
                        "`{}` is not covered by allowed_tilesets ({})",
                        if refused.is_empty() {
                            named.to_owned()
                        } else {
                            refused.join("`, `")
                        },
                        patterns.join(", ")
                    )
                }
                (_, Some(named)) => format!("`{named}` is covered by allowed_tilesets ({})", patterns.join(", ")),
                (_, None) => "no tileset named".to_owned(),
            }
        },
    );

    Explanation {
        allowed: decision.is_allowed(),
        status: decision.status(),
        reason: decision.reason(),
        header: HeaderTrace {
            name: "Origin",
            received,
            normalized: normalized.map(|o| o.host),
        },
        rules: rules.finish(),
        matched,
        nearest,
    }
}

/// Whether one tileset ID is covered by the patterns (`user.id` or `user.*`).
fn covered(patterns: &[String], tileset: &str) -> bool {
    let user = tileset.split_once('.').map(|(user, _)| user);
    patterns.iter().any(|p| {
        p == tileset
            || p.strip_suffix(".*")
                .is_some_and(|pattern_user| Some(pattern_user) == user)
    })
}

/// The entries nearest to a denied Origin.
fn near_entries(domains: &[AllowedDomain], origin: &NormalizedOrigin) -> Vec<Nearest> {
    let host = origin.host.as_str();
    // The host part alone, for comparing an app origin with web entries.
    let bare_host = host.split_once("://").map_or(host, |(_, h)| h);
    let mut candidates = Vec::new();
    for (index, domain) in domains.iter().enumerate() {
        let entry = domain.to_string();
        let distance = edit_distance(host, &entry);
        let near = |_: usize, difference: Difference, why: String| {
            (
                distance,
                Nearest {
                    index,
                    entry: entry.clone(),
                    difference,
                    why,
                },
            )
        };
        let candidate = if let Some((scheme, entry_host)) = entry.split_once("://") {
            if entry_host == bare_host {
                near(
                    0,
                    Difference::Scheme,
                    format!(
                        "the entry pins the app scheme `{scheme}://`; the Origin's scheme is `{}`",
                        origin.scheme
                    ),
                )
            } else {
                near(
                    edit_distance(host, &entry),
                    Difference::Spelling,
                    "a different app origin".to_owned(),
                )
            }
        } else if !origin.web {
            if entry == bare_host || entry.strip_prefix("*.").is_some_and(|s| bare_host.ends_with(s)) {
                near(
                    0,
                    Difference::Scheme,
                    format!(
                        "the entry is a web domain; an app origin (`{}://`) needs its own entry `{host}`",
                        origin.scheme
                    ),
                )
            } else {
                continue;
            }
        } else if let Some(suffix) = entry.strip_prefix("*.") {
            if host == suffix {
                near(
                    0,
                    Difference::WildcardApex,
                    format!("`{entry}` covers subdomains of `{suffix}` only, not `{suffix}` itself; add `{suffix}`"),
                )
            } else if let Some((difference, why)) = host
                .split_once('.')
                .and_then(|(_, parent)| label_difference(parent, suffix))
            {
                near(1, difference, why)
            } else {
                near(
                    edit_distance(host, suffix),
                    Difference::Spelling,
                    "similar spelling".to_owned(),
                )
            }
        } else if host
            .strip_suffix(entry.as_str())
            .is_some_and(|rest| rest.ends_with('.'))
        {
            near(
                1,
                Difference::Subdomain,
                format!("`{host}` is a subdomain of `{entry}`, and an exact entry does not cover subdomains; add `*.{entry}` or `{host}`"),
            )
        } else if entry.strip_suffix(host).is_some_and(|rest| rest.ends_with('.')) {
            near(
                1,
                Difference::ParentDomain,
                format!("`{host}` is a parent of `{entry}`; entries do not cover parent domains"),
            )
        } else if let Some((difference, why)) = label_difference(host, &entry) {
            near(1, difference, why)
        } else {
            near(
                edit_distance(host, &entry),
                Difference::Spelling,
                "similar spelling".to_owned(),
            )
        };
        candidates.push(candidate);
    }
    keep_nearest(candidates, host.len())
}
