//! What-if replay: which decisions of a request log change when a policy
//! is replaced.
//!
//! A [`Replay`] holds an old and a new policy (two API keys or two access
//! tokens) and is fed a log one request at a time: [`Replay::record_key`] /
//! [`Replay::record_token`] for requests already parsed (the CLI parses
//! `decide --batch`-style JSON lines, [`JsonLine`]), or
//! [`Replay::access_log_line`] for a line of the combined access-log format
//! with the `Origin` header recorded after it (see below). It keeps
//! counts by old → new outcome and bounded top-N tables of the origins,
//! referers and tilesets whose requests are newly refused or newly
//! allowed, so memory is constant however long the log (each table keeps
//! at most [`Replay::TOP_CAPACITY`] keys; see [`Top`]).
//!
//! ```
//! use keypolicy::{KeyPolicy, KeyRequest};
//! use keypolicy::key::{KeyType, Resource};
//! use keypolicy::replay::Replay;
//!
//! let old = KeyPolicy::unrestricted();
//! let new = KeyPolicy::builder().key_type(KeyType::Web).allowed_domains(["app.example.com"]).build()?;
//! let mut replay = Replay::keys(old, new);
//! replay.record_key(&KeyRequest::new(Resource::Tiles).with_origin("https://app.example.com"), 90, None);
//! replay.record_key(&KeyRequest::new(Resource::Tiles), 10, None); // a server without Origin
//! let report = replay.report();
//! assert_eq!(report.requests, 100);
//! assert_eq!(report.newly_denied, 10);
//! assert_eq!(report.transitions[1].new, Some(keypolicy::Denial::OriginRequired));
//! # Ok::<(), keypolicy::key::KeyPolicyError>(())
//! ```
//!
//! ## The access-log format
//!
//! The combined log format followed by the quoted `Origin` header — in
//! nginx, `log_format keypolicy '$remote_addr - $remote_user [$time_local]
//! "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
//! "$http_origin"';` — one request per line, `-` for an absent header:
//!
//! ```text
//! 203.0.113.7 - - [22/Nov/2026:14:30:00 +0000] "GET /v1/tiles/alice.streets/3/4/2.png?key=K HTTP/1.1" 200 812 "https://app.example.com/map" "Mozilla/5.0" "https://app.example.com"
//! ```
//!
//! The request path says what is asked for, as in the example tile
//! server: `/v1/tiles/{tileset}/…` (tiles of a tileset, percent-decoded,
//! so `%2C` separates a composite), `/v1/styles/…`, `/v1/static/…`,
//! `/v1/export/…`, and `/tiles-auth[?tileset=…]` (tiles). For tokens, tiles
//! and static images need `styles:tiles`, styles `styles:read` and
//! `/v1/fonts/…` `fonts:read`; the log time is the request's `now`. Other
//! paths are counted as skipped.

mod access_log;
mod report;
mod top;

use std::borrow::Cow;

use crate::decision::Denial;
use crate::key::{evaluate_key, KeyPolicy, KeyRequest};
use crate::token::{evaluate_token, TokenPolicy, TokenRequest};

pub use access_log::AccessLogError;
use access_log::{clf_time, AccessLogEntry, Route};
use report::outcome;
pub use report::{ReplayReport, TopTables, Transition};
use top::Tables;
pub use top::{Top, TopEntry};

/// One JSON line of a replayed log: `{"request": {…}, "count": 3}`, the
/// request in the key or token request format of `decide --batch`; `count`
/// (default 1) says how many identical requests the line stands for. Other
/// top-level fields (a batch line's `policy` or `token`, an `id`) are
/// ignored, so a `decide --batch` file can be replayed as it is.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[non_exhaustive]
pub struct JsonLine<R> {
    /// The request.
    pub request: R,
    /// How many requests the line stands for.
    #[cfg_attr(feature = "serde", serde(default = "one"))]
    pub count: u64,
}

#[cfg(feature = "serde")]
fn one() -> u64 {
    1
}

/// What a line did to the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recorded {
    /// The request was replayed against both policies.
    Replayed,
    /// The path is not a route of the tile server; the line was counted
    /// as skipped.
    Skipped,
}

#[allow(
    clippy::large_enum_variant,
    reason = "one value per replay, never moved in a loop: boxing would only add an indirection per request"
)]
#[derive(Debug)]
enum Policies {
    Keys { old: KeyPolicy, new: KeyPolicy },
    Tokens { old: TokenPolicy, new: TokenPolicy },
}

/// A streaming comparison of two policies over a log.
#[derive(Debug)]
pub struct Replay {
    policies: Policies,
    lines: u64,
    requests: u64,
    skipped: u64,
    unparsed: u64,
    errors: Vec<(u64, String)>,
    transitions: Vec<(Option<Denial>, Option<Denial>, u64)>,
    newly_denied: Tables,
    newly_allowed: Tables,
}

impl Replay {
    /// Keys kept per top table.
    pub const TOP_CAPACITY: usize = 1024;
    /// Rows shown per top table in a report.
    pub const TOP_SHOWN: usize = 10;
    /// Unparsed lines whose message is kept (the rest are only counted).
    pub const ERRORS_KEPT: usize = 10;

    /// A replay of API-key requests from `old` to `new`.
    pub fn keys(old: KeyPolicy, new: KeyPolicy) -> Self {
        Replay::with(Policies::Keys { old, new })
    }

    /// A replay of access-token requests from `old` to `new`.
    pub fn tokens(old: TokenPolicy, new: TokenPolicy) -> Self {
        Replay::with(Policies::Tokens { old, new })
    }

    fn with(policies: Policies) -> Self {
        Replay {
            policies,
            lines: 0,
            requests: 0,
            skipped: 0,
            unparsed: 0,
            errors: Vec::new(),
            transitions: Vec::new(),
            newly_denied: Tables::new(Self::TOP_CAPACITY),
            newly_allowed: Tables::new(Self::TOP_CAPACITY),
        }
    }

    /// Whether this replays access tokens (else API keys).
    pub fn is_tokens(&self) -> bool {
        matches!(self.policies, Policies::Tokens { .. })
    }

    fn count(
        &mut self,
        old: Option<Denial>,
        new: Option<Denial>,
        n: u64,
        origin: Option<&str>,
        referer: Option<&str>,
        tileset: Option<&str>,
    ) {
        self.lines += 1;
        self.requests += n;
        match self.transitions.iter_mut().find(|(o, w, _)| *o == old && *w == new) {
            Some((_, _, count)) => *count += n,
            None => self.transitions.push((old, new, n)),
        }
        match (old, new) {
            (None, Some(_)) => self.newly_denied.add(origin, referer, tileset, n),
            (Some(_), None) => self.newly_allowed.add(origin, referer, tileset, n),
            _ => {}
        }
    }

    /// Replays `count` identical key requests. `referer`, when the log
    /// recorded one, only feeds the top-referers tables (keys do not judge
    /// it). On a token replay the line is counted as unparsed.
    pub fn record_key(&mut self, request: &KeyRequest<'_>, count: u64, referer: Option<&str>) {
        let Policies::Keys { old, new } = &self.policies else {
            self.unparsed(
                self.lines + self.unparsed + self.skipped + 1,
                "a key request in a token replay",
            );
            return;
        };
        let (a, b) = (evaluate_key(old, request).denial(), evaluate_key(new, request).denial());
        self.count(
            a,
            b,
            count,
            request.origin.as_deref(),
            referer,
            request.tileset.as_deref(),
        );
    }

    /// Replays `count` identical token requests. On a key replay the line
    /// is counted as unparsed.
    pub fn record_token(&mut self, request: &TokenRequest<'_>, count: u64) {
        let Policies::Tokens { old, new } = &self.policies else {
            self.unparsed(
                self.lines + self.unparsed + self.skipped + 1,
                "a token request in a key replay",
            );
            return;
        };
        let (a, b) = (
            evaluate_token(old, request).denial(),
            evaluate_token(new, request).denial(),
        );
        self.count(a, b, count, request.origin.as_deref(), request.referer.as_deref(), None);
    }

    /// Counts a line that could not be parsed; the first
    /// [`ERRORS_KEPT`](Self::ERRORS_KEPT) messages are kept with their
    /// line numbers (1-based, as the caller counts them).
    pub fn unparsed(&mut self, line_number: u64, message: impl Into<String>) {
        self.unparsed += 1;
        if self.errors.len() < Self::ERRORS_KEPT {
            self.errors.push((line_number, message.into()));
        }
    }

    /// Replays one line of the access-log format (see the module docs).
    pub fn access_log_line(&mut self, line: &str) -> Result<Recorded, AccessLogError> {
        let entry = AccessLogEntry::parse(line)?;
        let Some(route) = Route::of(entry.target) else {
            self.skipped += 1;
            return Ok(Recorded::Skipped);
        };
        match &self.policies {
            Policies::Keys { .. } => {
                let mut request = KeyRequest::new(route.resource);
                request.origin = entry.origin.map(Cow::Borrowed);
                request.tileset = route.tileset;
                self.record_key(&request, 1, entry.referer);
            }
            Policies::Tokens { old, new } => {
                let Some(scope) = route.token_scope else {
                    self.skipped += 1;
                    return Ok(Recorded::Skipped);
                };
                let mut request = TokenRequest::new(scope);
                request.referer = entry.referer.map(Cow::Borrowed);
                request.origin = entry.origin.map(Cow::Borrowed);
                if old.expires().is_some() || new.expires().is_some() {
                    request.now = Some(clf_time(entry.time)?);
                }
                self.record_token(&request, 1);
            }
        }
        Ok(Recorded::Replayed)
    }

    /// The counts so far.
    pub fn report(&self) -> ReplayReport {
        let mut transitions: Vec<Transition> = self
            .transitions
            .iter()
            .map(|&(old, new, requests)| Transition { old, new, requests })
            .collect();
        transitions.sort_by(|a, b| {
            b.requests
                .cmp(&a.requests)
                .then_with(|| outcome(a.old).cmp(outcome(b.old)))
                .then_with(|| outcome(a.new).cmp(outcome(b.new)))
        });
        let sum = |f: fn(&Transition) -> bool| transitions.iter().filter(|t| f(t)).map(|t| t.requests).sum();
        ReplayReport {
            credential: if self.is_tokens() { "token" } else { "key" },
            lines: self.lines,
            requests: self.requests,
            skipped_lines: self.skipped,
            unparsed_lines: self.unparsed,
            errors: self.errors.clone(),
            newly_denied: sum(|t| t.old.is_none() && t.new.is_some()),
            newly_allowed: sum(|t| t.old.is_some() && t.new.is_none()),
            reason_changed: sum(|t| t.old.is_some() && t.new.is_some() && t.old != t.new),
            unchanged: sum(|t| t.old == t.new),
            transitions,
            top_newly_denied: self.newly_denied.report(Self::TOP_SHOWN),
            top_newly_allowed: self.newly_allowed.report(Self::TOP_SHOWN),
        }
    }
}
