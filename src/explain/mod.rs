//! Explain a decision: every rule in order with its outcome, the header as
//! received and as normalized, and the allowlist entry that matched — or,
//! on a denial, the nearest entries and why each failed.
//!
//! [`explain_key`] and [`explain_token`] return an [`Explanation`] whose
//! verdict is always the one [`evaluate_key`](crate::evaluate_key) or
//! [`evaluate_token`](crate::evaluate_token) gives: the decision is taken
//! from them, and the trace only describes it. Its
//! [`Display`](std::fmt::Display) form is for people; with the `serde`
//! feature it serializes to a stable JSON object:
//!
//! ```json
//! {"allowed": false, "status": 403, "reason": "origin_not_allowed",
//!  "header": {"name": "Origin", "received": "https://app.example.co", "normalized": "app.example.co"},
//!  "rules": [{"rule": "origin", "outcome": "failed", "detail": "…"},
//!            {"rule": "scope", "outcome": "not_reached", "detail": "…"}, …],
//!  "matched": null,
//!  "nearest": [{"index": 1, "entry": "app.example.com", "difference": "top_level_label", "why": "…"}]}
//! ```
//!
//! Rule names, outcomes (`passed`, `failed`, `skipped`, `not_reached`) and
//! differences are stable codes; `detail` and `why` are for people.
//!
//! ```
//! use keypolicy::{KeyPolicy, KeyRequest};
//! use keypolicy::explain::{explain_key, Difference};
//! use keypolicy::key::Resource;
//!
//! let key = KeyPolicy::builder().allowed_domains(["www.mappinest.com", "app.example.com"]).build()?;
//! let request = KeyRequest::new(Resource::Tiles).with_origin("https://app.example.co");
//! let trace = explain_key(&key, &request);
//! assert!(!trace.allowed);
//! assert_eq!(trace.nearest[0].entry, "app.example.com");
//! assert_eq!(trace.nearest[0].difference, Difference::TopLevelLabel);
//! assert!(trace.to_string().contains(
//!     "`https://app.example.co` matches none of allowed_domains; nearest: `app.example.com` (top-level label differs)"
//! ));
//! # Ok::<(), keypolicy::key::KeyPolicyError>(())
//! ```

mod key;
mod token;

use std::fmt;

pub use key::explain_key;
pub use token::explain_token;

/// The trace of one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Explanation {
    /// Whether the request is allowed (as the evaluate function decides).
    pub allowed: bool,
    /// The HTTP status (200, 401 or 403).
    pub status: u16,
    /// The denial's reason code, `None` when allowed.
    pub reason: Option<&'static str>,
    /// The header the allowlist judges (`Origin` for keys, `Referer` for
    /// tokens, or `Origin` when a token's `origin_fallback` used it).
    pub header: HeaderTrace,
    /// Every rule, in the order they run.
    pub rules: Vec<RuleTrace>,
    /// The allowlist entry that matched, when one did.
    pub matched: Option<EntryRef>,
    /// On a denial by the allowlist, the nearest entries (at most three,
    /// nearest first) and why each failed.
    pub nearest: Vec<Nearest>,
}

/// A request header as received and as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeaderTrace {
    /// `Origin` or `Referer`.
    pub name: &'static str,
    /// The value as received (`None`: absent).
    pub received: Option<String>,
    /// The value as normalized for matching (lower case, trailing dot and
    /// default port dropped, `www.` folded for keys); `None` when absent or
    /// unusable.
    pub normalized: Option<String>,
}

/// One rule's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleTrace {
    /// The rule's stable name: `origin`, `scope`, `tileset` (keys);
    /// `expiry`, `referer`, `scope` (tokens).
    pub rule: &'static str,
    /// What happened.
    pub outcome: RuleOutcome,
    /// Why, for people.
    pub detail: String,
}

/// What a rule did.
///
/// Deliberately not `#[non_exhaustive]`: these four cover every rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleOutcome {
    /// The rule applies and the request satisfies it.
    Passed,
    /// The rule applies and the request fails it: the decision's reason.
    Failed,
    /// The policy does not set this rule.
    Skipped,
    /// An earlier rule failed, so this one was not checked.
    NotReached,
}

impl RuleOutcome {
    /// `passed`, `failed`, `skipped` or `not_reached`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RuleOutcome::Passed => "passed",
            RuleOutcome::Failed => "failed",
            RuleOutcome::Skipped => "skipped",
            RuleOutcome::NotReached => "not_reached",
        }
    }
}

/// An allowlist entry: its index in the policy's normalized list and its
/// normalized spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryRef {
    /// Index in [`KeyPolicy::allowed_domains`](crate::KeyPolicy::allowed_domains)
    /// or [`TokenPolicy::allowed_urls`](crate::TokenPolicy::allowed_urls).
    pub index: usize,
    /// The entry's normalized spelling.
    pub entry: String,
}

/// An entry near the denied header, and why it did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Nearest {
    /// Index in the policy's normalized list.
    pub index: usize,
    /// The entry's normalized spelling.
    pub entry: String,
    /// The kind of difference.
    pub difference: Difference,
    /// The difference, for people.
    pub why: String,
}

/// How a near entry differs from the request.
///
/// `#[non_exhaustive]`: finer kinds may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Difference {
    /// Same labels but the last (`app.example.co` vs `app.example.com`).
    TopLevelLabel,
    /// Same number of labels, one other label differs.
    Label,
    /// The same name under another public suffix (`example.co.uk` vs `example.com`).
    PublicSuffix,
    /// The request host is a subdomain of an exact (key) entry.
    Subdomain,
    /// The request host is the bare domain of a wildcard (`*.example.com`
    /// does not cover `example.com`).
    WildcardApex,
    /// The request host is a parent of the entry's host (entries cover
    /// subdomains, not parents).
    ParentDomain,
    /// `www.` on one side only, where it is not folded.
    Www,
    /// The entry pins a scheme the request does not use (including app
    /// schemes such as `capacitor://`).
    Scheme,
    /// The entry pins a port the request does not use.
    Port,
    /// The request path is outside the entry's path.
    Path,
    /// The request path continues the entry's path but not at a `/`
    /// (`/mapsevil` vs `/maps`).
    PathBoundary,
    /// Similar spelling, nothing more specific.
    Spelling,
}

impl Difference {
    /// The stable code, e.g. `top_level_label`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Difference::TopLevelLabel => "top_level_label",
            Difference::Label => "label",
            Difference::PublicSuffix => "public_suffix",
            Difference::Subdomain => "subdomain",
            Difference::WildcardApex => "wildcard_apex",
            Difference::ParentDomain => "parent_domain",
            Difference::Www => "www",
            Difference::Scheme => "scheme",
            Difference::Port => "port",
            Difference::Path => "path",
            Difference::PathBoundary => "path_boundary",
            Difference::Spelling => "spelling",
        }
    }

    /// A short phrase, e.g. `top-level label differs`.
    pub const fn phrase(self) -> &'static str {
        match self {
            Difference::TopLevelLabel => "top-level label differs",
            Difference::Label => "one label differs",
            Difference::PublicSuffix => "public suffix differs",
            Difference::Subdomain => "a subdomain of an exact entry",
            Difference::WildcardApex => "a wildcard does not cover its bare domain",
            Difference::ParentDomain => "a parent of the entry's host",
            Difference::Www => "`www.` on one side only",
            Difference::Scheme => "scheme differs",
            Difference::Port => "port differs",
            Difference::Path => "path outside the entry's",
            Difference::PathBoundary => "path continues without a `/`",
            Difference::Spelling => "similar spelling",
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            None => writeln!(f, "ALLOWED ({})", self.status)?,
            Some(reason) => writeln!(f, "DENIED ({} {reason})", self.status)?,
        }
        let name = self.header.name;
        match &self.header.received {
            Some(value) => writeln!(f, "  {name} as received:   {value:?}")?,
            None => writeln!(f, "  {name} as received:   (none)")?,
        }
        match &self.header.normalized {
            Some(value) => writeln!(f, "  {name} as normalized: {value}")?,
            None => writeln!(f, "  {name} as normalized: (none)")?,
        }
        for (n, rule) in self.rules.iter().enumerate() {
            writeln!(
                f,
                "  {}. {:<8} {:<12} {}",
                n + 1,
                rule.rule,
                rule.outcome.as_str(),
                rule.detail
            )?;
        }
        if let Some(matched) = &self.matched {
            writeln!(f, "  matched entry [{}]: {}", matched.index, matched.entry)?;
        }
        if !self.nearest.is_empty() {
            writeln!(f, "  nearest entries:")?;
            for near in &self.nearest {
                writeln!(f, "    [{}] {}: {}", near.index, near.entry, near.why)?;
            }
        }
        Ok(())
    }
}

#[cfg(feature = "serde")]
mod json {
    use serde::ser::{SerializeMap, SerializeStruct};
    use serde::{Serialize, Serializer};

    use super::{EntryRef, Explanation, HeaderTrace, Nearest, RuleTrace};

    impl Serialize for Explanation {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut s = serializer.serialize_struct("Explanation", 7)?;
            s.serialize_field("allowed", &self.allowed)?;
            s.serialize_field("status", &self.status)?;
            s.serialize_field("reason", &self.reason)?;
            s.serialize_field("header", &self.header)?;
            s.serialize_field("rules", &self.rules)?;
            s.serialize_field("matched", &self.matched)?;
            s.serialize_field("nearest", &self.nearest)?;
            s.end()
        }
    }

    impl Serialize for HeaderTrace {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut s = serializer.serialize_struct("HeaderTrace", 3)?;
            s.serialize_field("name", self.name)?;
            s.serialize_field("received", &self.received)?;
            s.serialize_field("normalized", &self.normalized)?;
            s.end()
        }
    }

    impl Serialize for RuleTrace {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut s = serializer.serialize_struct("RuleTrace", 3)?;
            s.serialize_field("rule", self.rule)?;
            s.serialize_field("outcome", self.outcome.as_str())?;
            s.serialize_field("detail", &self.detail)?;
            s.end()
        }
    }

    impl Serialize for EntryRef {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut s = serializer.serialize_map(Some(2))?;
            s.serialize_entry("index", &self.index)?;
            s.serialize_entry("entry", &self.entry)?;
            s.end()
        }
    }

    impl Serialize for Nearest {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut s = serializer.serialize_struct("Nearest", 4)?;
            s.serialize_field("index", &self.index)?;
            s.serialize_field("entry", &self.entry)?;
            s.serialize_field("difference", self.difference.as_str())?;
            s.serialize_field("why", &self.why)?;
            s.end()
        }
    }
}

/// Builds the rule list from the decision: the failed rule is the one
/// whose denial the decision carries; rules before it passed or were
/// skipped, rules after it were not reached.
pub(crate) struct Rules {
    rules: Vec<RuleTrace>,
    failed: bool,
}

impl Rules {
    pub(crate) fn new() -> Self {
        Rules {
            rules: Vec::new(),
            failed: false,
        }
    }

    /// Adds a rule: `applies` says the policy sets it, `fails` that it is
    /// the decision's reason; `detail` is asked for the outcome reached.
    pub(crate) fn push(
        &mut self,
        rule: &'static str,
        applies: bool,
        fails: bool,
        detail: impl FnOnce(RuleOutcome) -> String,
    ) {
        let outcome = if self.failed {
            RuleOutcome::NotReached
        } else if fails {
            self.failed = true;
            RuleOutcome::Failed
        } else if applies {
            RuleOutcome::Passed
        } else {
            RuleOutcome::Skipped
        };
        let detail = match outcome {
            RuleOutcome::NotReached => "not checked: an earlier rule failed".to_owned(),
            _ => detail(outcome),
        };
        self.rules.push(RuleTrace { rule, outcome, detail });
    }

    pub(crate) fn finish(self) -> Vec<RuleTrace> {
        self.rules
    }
}

/// How two different host names relate, if in a way worth naming: one
/// label differs (the top-level one or another), or the same leading
/// labels under another public suffix. `None` when they are not that close.
pub(crate) fn label_difference(request: &str, entry: &str) -> Option<(Difference, String)> {
    let a: Vec<&str> = request.split('.').collect();
    let b: Vec<&str> = entry.split('.').collect();
    if a.len() == b.len() && a.len() >= 2 {
        let differing: Vec<usize> = (0..a.len()).filter(|&i| a.get(i) != b.get(i)).collect();
        if let [only] = differing.as_slice() {
            let (x, y) = (
                a.get(*only).copied().unwrap_or_default(),
                b.get(*only).copied().unwrap_or_default(),
            );
            // `example.com` vs `mappinest.com` share only the top-level
            // label: two unrelated names, not a near miss.
            if *only + 1 != a.len() && a.len() < 3 && edit_distance(x, y) > 2 {
                return None;
            }
            return Some(if *only + 1 == a.len() {
                (
                    Difference::TopLevelLabel,
                    format!("top-level label differs (`{x}` vs `{y}`)"),
                )
            } else {
                (Difference::Label, format!("one label differs (`{x}` vs `{y}`)"))
            });
        }
    }
    // The same leading labels, then a different suffix of one or two labels.
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (rest_a, rest_b) = (a.len() - common, b.len() - common);
    if common >= 1 && (1..=2).contains(&rest_a) && (1..=2).contains(&rest_b) && a.len() >= 2 && b.len() >= 2 {
        let suffix = |labels: &[&str]| labels.get(common..).map(|l| l.join(".")).unwrap_or_default();
        return Some((
            Difference::PublicSuffix,
            format!("public suffix differs (`.{}` vs `.{}`)", suffix(&a), suffix(&b)),
        ));
    }
    None
}

/// Levenshtein distance by characters, for ranking near entries; capped
/// inputs keep it cheap (hosts are at most 253 bytes).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().take(300).collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().take(300).enumerate() {
        let mut diagonal = i;
        let mut left = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row.get(j + 1).copied().unwrap_or(usize::MAX);
            let cost = diagonal + usize::from(ca != *cb);
            let value = cost.min(up + 1).min(left + 1);
            diagonal = up;
            left = value;
            if let Some(slot) = row.get_mut(j + 1) {
                *slot = value;
            }
        }
        if let Some(first) = row.get_mut(0) {
            *first = i + 1;
        }
    }
    row.last().copied().unwrap_or_default()
}

/// How structurally close a kind of difference is: the same name with a
/// pinned part or `www.`/subdomain relation first, then one label or the
/// suffix, then mere spelling.
fn tier(difference: Difference) -> u8 {
    match difference {
        Difference::TopLevelLabel | Difference::Label | Difference::PublicSuffix => 1,
        Difference::Spelling => 2,
        _ => 0,
    }
}

/// Keeps the nearest candidates, given with the edit distance between the
/// request host and the entry's: every named difference, plus spelling
/// neighbours within a quarter of the host's length; three at most,
/// structurally closest first, then by edit distance, then in list order.
pub(crate) fn keep_nearest(mut candidates: Vec<(usize, Nearest)>, host_len: usize) -> Vec<Nearest> {
    let limit = (host_len / 4).max(2);
    candidates.retain(|(distance, near)| near.difference != Difference::Spelling || *distance <= limit);
    candidates.sort_by_key(|(distance, near)| (tier(near.difference), *distance, near.index));
    candidates.into_iter().take(3).map(|(_, near)| near).collect()
}

/// `; nearest: `a` (why), `b` (why)` for a denial's detail line.
pub(crate) fn nearest_suffix(nearest: &[Nearest]) -> String {
    if nearest.is_empty() {
        return String::new();
    }
    let items: Vec<String> = nearest
        .iter()
        .map(|n| format!("`{}` ({})", n.entry, n.difference.phrase()))
        .collect();
    format!("; nearest: {}", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_differences() {
        assert_eq!(
            label_difference("app.example.co", "app.example.com").map(|d| d.0),
            Some(Difference::TopLevelLabel)
        );
        assert_eq!(
            label_difference("api.example.com", "app.example.com").map(|d| d.0),
            Some(Difference::Label)
        );
        assert_eq!(
            label_difference("example.co.uk", "example.com").map(|d| d.0),
            Some(Difference::PublicSuffix)
        );
        assert_eq!(label_difference("a.b.example.com", "x.y.example.com"), None);
        assert_eq!(label_difference("evil.net", "example.com"), None);
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("mappinest.com", "mapinest.com"), 1);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
