//! Explaining access-token decisions.

use crate::decision::Denial;
use crate::explain::{
    edit_distance, keep_nearest, label_difference, nearest_suffix, Difference, EntryRef, Explanation, HeaderTrace,
    Nearest, RuleOutcome, Rules,
};
use crate::token::{evaluate_token, AllowedUrl, TokenPolicy, TokenRequest, TokenScope, TokenUsage};

/// A Referer (or fallback Origin) as the URL rule sees it.
struct NormalizedUrl {
    scheme: &'static str,
    /// Lower case, no trailing dot (an IP host as written).
    host: String,
    /// The effective port.
    port: u16,
    /// The path without query or fragment (`/` when there is none).
    path: String,
}

impl NormalizedUrl {
    fn show(&self) -> String {
        let default = if self.scheme == "https" { 443 } else { 80 };
        let port = if self.port == default {
            String::new()
        } else {
            format!(":{}", self.port)
        };
        format!("{}://{}{port}{}", self.scheme, self.host, self.path)
    }
}

/// The one adapter to crate internals: the Referer grammar
/// (`crate::syntax::referer::parse_referer`), also used for an Origin
/// judged by `origin_fallback` (a usable Origin is a Referer that ends
/// with its authority). Returns `None` for an unusable value.
fn normalize_url(value: &str, as_origin: bool) -> Option<NormalizedUrl> {
    use crate::syntax::host::HostRef;
    let parsed = crate::syntax::referer::parse_referer(value)?;
    if as_origin && parsed.origin.len() != value.len() {
        return None;
    }
    let host = match parsed.host {
        HostRef::Domain(d) => d.name.to_ascii_lowercase(),
        HostRef::Ip(ip) => ip.to_string(),
    };
    Some(NormalizedUrl {
        scheme: parsed.scheme.as_str(),
        host,
        port: parsed.port,
        path: parsed.path.to_owned(),
    })
}

/// Whether `entry` alone allows the request's Referer (the same matcher,
/// one entry, the scope rule neutralized).
fn entry_allows(entry: &AllowedUrl, request: &TokenRequest<'_>) -> bool {
    let Ok(one) = TokenPolicy::builder(TokenUsage::Public)
        .scope(TokenScope::StylesRead)
        .allowed_urls([entry.to_string()])
        .build()
    else {
        return false;
    };
    let mut probe = TokenRequest::new(TokenScope::StylesRead).with_origin_fallback(request.origin_fallback);
    probe.referer = request.referer.clone();
    probe.origin = request.origin.clone();
    evaluate_token(&one, &probe).is_allowed()
}

/// Explains [`evaluate_token`]'s decision for `request` under `token`.
pub fn explain_token(token: &TokenPolicy, request: &TokenRequest<'_>) -> Explanation {
    let decision = evaluate_token(token, request);
    let denial = decision.denial();
    let referer = request.referer.as_deref().filter(|r| !r.is_empty());
    let origin = request.origin.as_deref().filter(|o| !o.is_empty());
    let uses_origin = referer.is_none() && request.origin_fallback && origin.is_some();
    let (name, judged, received) = if uses_origin {
        ("Origin", origin, request.origin.as_deref())
    } else {
        ("Referer", referer, request.referer.as_deref())
    };
    let normalized = judged.and_then(|value| normalize_url(value, uses_origin));
    let urls = token.allowed_urls();
    let listed = || {
        let all: Vec<String> = urls.iter().map(ToString::to_string).collect();
        all.join(", ")
    };

    let mut matched = None;
    let mut nearest = Vec::new();
    if token.is_url_restricted() && judged.is_some() {
        matched = urls.iter().position(|u| entry_allows(u, request)).and_then(|i| {
            urls.get(i).map(|u| EntryRef {
                index: i,
                entry: u.to_string(),
            })
        });
        if let (Some(url), Some(Denial::RefererNotAllowed)) = (&normalized, denial) {
            nearest = near_entries(urls, url);
        }
    }

    let mut rules = Rules::new();
    rules.push(
        "expiry",
        token.expires().is_some(),
        denial == Some(Denial::TokenExpired),
        |outcome| match (outcome, token.expires(), request.now) {
            (RuleOutcome::Skipped, _, _) => format!("a {} token does not expire", token.usage()),
            (RuleOutcome::Failed, Some(expires), Some(now)) => {
                format!("the tk token expired at {expires}, and now is {now}")
            }
            (RuleOutcome::Failed, _, _) => "a tk token needs the current time (now) to be judged".to_owned(),
            (_, Some(expires), Some(now)) => format!("the tk token expires at {expires}, after now ({now})"),
            _ => "not expired".to_owned(),
        },
    );
    rules.push(
        "referer",
        token.is_url_restricted(),
        matches!(denial, Some(Denial::RefererRequired | Denial::RefererNotAllowed)),
        |outcome| {
            let shown = judged.unwrap_or_default();
            match (outcome, denial) {
                (RuleOutcome::Skipped, _) => "no allowedUrls: the token works from any URL".to_owned(),
                (RuleOutcome::Failed, Some(Denial::RefererRequired)) if request.origin_fallback => format!(
                    "allowedUrls is set ({}), so a Referer header (or, with origin_fallback, an Origin) is required; \
                     neither was sent",
                    listed()
                ),
                (RuleOutcome::Failed, Some(Denial::RefererRequired)) => format!(
                    "allowedUrls is set ({}), so a Referer header is required; none was sent (check the page's \
                     Referrer-Policy)",
                    listed()
                ),
                (RuleOutcome::Failed, _) if normalized.is_none() => {
                    format!("the {name} `{shown}` is not a usable http(s) URL")
                }
                (RuleOutcome::Failed, _) => {
                    format!("`{shown}` matches none of allowedUrls{}", nearest_suffix(&nearest))
                }
                _ => match &matched {
                    Some(entry) => format!("`{shown}` matches allowedUrls[{}] `{}`", entry.index, entry.entry),
                    None => format!("`{shown}` matches allowedUrls"),
                },
            }
        },
    );
    rules.push("scope", true, denial == Some(Denial::ScopeMissing), |outcome| {
        let has: Vec<&str> = token.scopes().iter().map(TokenScope::as_str).collect();
        let has = if has.is_empty() {
            "none".to_owned()
        } else {
            has.join(", ")
        };
        match outcome {
            RuleOutcome::Failed => format!("the request needs {}; the token has {has}", request.scope),
            _ => format!("the request needs {}, which the token has", request.scope),
        }
    });

    Explanation {
        allowed: decision.is_allowed(),
        status: decision.status(),
        reason: decision.reason(),
        header: HeaderTrace {
            name,
            received: received.map(str::to_owned),
            normalized: normalized.map(|u| u.show()),
        },
        rules: rules.finish(),
        matched,
        nearest,
    }
}

/// The entries nearest to a denied Referer.
fn near_entries(urls: &[AllowedUrl], url: &NormalizedUrl) -> Vec<Nearest> {
    let host = url.host.as_str();
    let mut candidates = Vec::new();
    for (index, entry) in urls.iter().enumerate() {
        let distance = edit_distance(host, entry.host());
        let near = |_: usize, difference: Difference, why: String| {
            (
                distance,
                Nearest {
                    index,
                    entry: entry.to_string(),
                    difference,
                    why,
                },
            )
        };
        let e = entry.host();
        let host_covered = host
            .strip_suffix(e)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'));
        let candidate = if host_covered {
            if let Some(scheme) = entry.scheme().filter(|s| *s != url.scheme) {
                near(
                    0,
                    Difference::Scheme,
                    format!("the entry pins `{scheme}://`; the request uses `{}://`", url.scheme),
                )
            } else if let Some(port) = entry.port().filter(|p| *p != url.port) {
                near(
                    0,
                    Difference::Port,
                    format!("the entry pins port {port}; the request uses port {}", url.port),
                )
            } else if let Some(prefix) = entry.path() {
                if url.path.starts_with(prefix) {
                    near(
                        0,
                        Difference::PathBoundary,
                        format!(
                            "`{}` continues `{prefix}` without a `/`: only `{prefix}` and `{prefix}/…` match",
                            url.path
                        ),
                    )
                } else {
                    near(
                        0,
                        Difference::Path,
                        format!(
                            "the path `{}` is outside `{prefix}` (paths are case-sensitive; pages that send only \
                             their origin have path `/`)",
                            url.path
                        ),
                    )
                }
            } else {
                near(
                    0,
                    Difference::Spelling,
                    "host, scheme and port match, but the URL has a dot segment or invalid punycode".to_owned(),
                )
            }
        } else if e.strip_prefix("www.") == Some(host) {
            near(
                1,
                Difference::Www,
                format!("the entry has `www.` and the request host does not; entries cover subdomains, not parents: add `{host}`"),
            )
        } else if e.strip_suffix(host).is_some_and(|rest| rest.ends_with('.')) {
            near(
                1,
                Difference::ParentDomain,
                format!("`{host}` is a parent of `{e}`; entries cover subdomains, not parents"),
            )
        } else {
            // Compare the request host's trailing labels, as many as the entry has.
            let labels = e.split('.').count();
            let dots: Vec<usize> = host.match_indices('.').map(|(i, _)| i).collect();
            let tail = dots
                .len()
                .checked_sub(labels)
                .and_then(|k| dots.get(k))
                .and_then(|&dot| host.get(dot + 1..))
                .unwrap_or(host);
            match label_difference(tail, e).or_else(|| label_difference(host, e)) {
                Some((difference, why)) => near(1, difference, why),
                None => near(
                    edit_distance(tail, e),
                    Difference::Spelling,
                    "similar spelling".to_owned(),
                ),
            }
        };
        candidates.push(candidate);
    }
    keep_nearest(candidates, host.len())
}
