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

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use crate::decision::Denial;
use crate::key::{evaluate_key, KeyPolicy, KeyRequest, Resource};
use crate::token::{evaluate_token, Timestamp, TokenPolicy, TokenRequest, TokenScope};

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

/// Why an access-log line could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessLogError {
    /// The line does not have the quoted fields of the format.
    #[error("not the combined access-log format with the Origin recorded: {what}")]
    Format {
        /// What is missing.
        what: &'static str,
    },
    /// The `[time]` field is not `dd/Mon/yyyy:hh:mm:ss +zzzz`.
    #[error("time {value:?} is not dd/Mon/yyyy:hh:mm:ss +zzzz")]
    Time {
        /// The field as written.
        value: String,
    },
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

/// A bounded table of the most frequent keys (the Space-Saving
/// algorithm): at most `capacity` keys are kept; when a new key arrives at
/// a full table, the least counted key is replaced and the newcomer
/// inherits its count as a possible overcount. Counts are exact as long as
/// nothing was evicted ([`Top::exact`]).
#[derive(Debug, Clone)]
pub struct Top {
    capacity: usize,
    counts: HashMap<Box<str>, (u64, u64)>,
    evicted: bool,
}

/// Longest key kept in a [`Top`] table, in bytes; longer keys are cut
/// (at a character boundary) so memory stays bounded.
const MAX_KEY_LEN: usize = 256;

impl Top {
    /// An empty table keeping at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> Self {
        Top {
            capacity: capacity.max(1),
            counts: HashMap::new(),
            evicted: false,
        }
    }

    /// Counts `n` more for `key`.
    pub fn add(&mut self, key: &str, n: u64) {
        let mut cut = key.len().min(MAX_KEY_LEN);
        while !key.is_char_boundary(cut) {
            cut -= 1;
        }
        let key = key.get(..cut).unwrap_or_default();
        if let Some((count, _)) = self.counts.get_mut(key) {
            *count += n;
            return;
        }
        let mut inherited = 0;
        if self.counts.len() >= self.capacity {
            let least = self
                .counts
                .iter()
                .min_by(|a, b| a.1 .0.cmp(&b.1 .0).then_with(|| b.0.cmp(a.0)))
                .map(|(k, (c, _))| (k.clone(), *c));
            if let Some((least_key, least_count)) = least {
                self.counts.remove(&least_key);
                inherited = least_count;
                self.evicted = true;
            }
        }
        self.counts.insert(key.into(), (inherited + n, inherited));
    }

    /// Whether every count is exact (no key was ever evicted).
    pub fn exact(&self) -> bool {
        !self.evicted
    }

    /// The `n` most counted keys, most first (ties by key), with their
    /// counts and the most each count may be over (0 while exact).
    pub fn top(&self, n: usize) -> Vec<TopEntry> {
        let mut all: Vec<TopEntry> = self
            .counts
            .iter()
            .map(|(key, &(count, overcount))| TopEntry {
                key: key.to_string(),
                count,
                overcount,
            })
            .collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        all.truncate(n);
        all
    }
}

/// One row of a top-N table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct TopEntry {
    /// The origin, referer (without query) or tileset; `(none)` for an
    /// absent header.
    pub key: String,
    /// Requests counted.
    pub count: u64,
    /// The most `count` may exceed the true count (0 unless the table
    /// overflowed).
    pub overcount: u64,
}

/// The three tables for one direction of change.
#[derive(Debug, Clone)]
struct Tables {
    origins: Top,
    referers: Top,
    tilesets: Top,
}

impl Tables {
    fn new(capacity: usize) -> Self {
        Tables {
            origins: Top::new(capacity),
            referers: Top::new(capacity),
            tilesets: Top::new(capacity),
        }
    }

    fn add(&mut self, origin: Option<&str>, referer: Option<&str>, tileset: Option<&str>, n: u64) {
        self.origins.add(origin.filter(|o| !o.is_empty()).unwrap_or(NONE), n);
        // A referer's query may carry credentials or personal data, and it
        // would split one page into many rows: keep the URL up to its path.
        let referer = referer
            .filter(|r| !r.is_empty())
            .map(|r| r.split(['?', '#']).next().unwrap_or(r));
        self.referers.add(referer.unwrap_or(NONE), n);
        if let Some(tileset) = tileset {
            for one in tileset.split(',') {
                self.tilesets.add(one, n);
            }
        }
    }

    fn report(&self, n: usize) -> TopTables {
        TopTables {
            origins: self.origins.top(n),
            referers: self.referers.top(n),
            tilesets: self.tilesets.top(n),
            exact: self.origins.exact() && self.referers.exact() && self.tilesets.exact(),
        }
    }
}

/// The key of an absent header in the top tables.
const NONE: &str = "(none)";

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

/// `allowed` or the denial's reason code.
fn outcome(denial: Option<Denial>) -> &'static str {
    denial.map_or("allowed", Denial::reason)
}

/// Requests whose outcome went from `old` to `new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transition {
    /// The old policy's denial (`None`: allowed).
    pub old: Option<Denial>,
    /// The new policy's denial (`None`: allowed).
    pub new: Option<Denial>,
    /// How many requests.
    pub requests: u64,
}

/// The top tables for one direction of change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct TopTables {
    /// Origins (`(none)` when absent).
    pub origins: Vec<TopEntry>,
    /// Referers up to their path (`(none)` when absent).
    pub referers: Vec<TopEntry>,
    /// Tilesets (each part of a composite counted).
    pub tilesets: Vec<TopEntry>,
    /// Whether all counts are exact (no table overflowed).
    pub exact: bool,
}

/// What a replay found.
///
/// JSON (`serde` feature): `{"credential", "lines", "requests",
/// "skipped_lines", "unparsed_lines", "errors": [{"line", "message"}],
/// "newly_denied", "newly_allowed", "reason_changed", "unchanged",
/// "transitions": [{"old", "new", "requests"}], "top_newly_denied",
/// "top_newly_allowed"}`, outcomes written `allowed` or a reason code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplayReport {
    /// `key` or `token`.
    pub credential: &'static str,
    /// Lines replayed.
    pub lines: u64,
    /// Requests replayed (lines weighted by their count).
    pub requests: u64,
    /// Access-log lines for paths that are not tile-server routes.
    pub skipped_lines: u64,
    /// Lines that could not be parsed.
    pub unparsed_lines: u64,
    /// The first unparsed lines: line number and message.
    pub errors: Vec<(u64, String)>,
    /// Requests allowed before and denied now.
    pub newly_denied: u64,
    /// Requests denied before and allowed now.
    pub newly_allowed: u64,
    /// Requests denied both times, for a different reason.
    pub reason_changed: u64,
    /// Requests with the same outcome and reason both times.
    pub unchanged: u64,
    /// Requests by old → new outcome, most first.
    pub transitions: Vec<Transition>,
    /// Who is newly refused.
    pub top_newly_denied: TopTables,
    /// Who is newly allowed.
    pub top_newly_allowed: TopTables,
}

#[cfg(feature = "serde")]
impl serde::Serialize for Transition {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Transition", 3)?;
        s.serialize_field("old", outcome(self.old))?;
        s.serialize_field("new", outcome(self.new))?;
        s.serialize_field("requests", &self.requests)?;
        s.end()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for ReplayReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        #[derive(serde::Serialize)]
        struct LineError<'a> {
            line: u64,
            message: &'a str,
        }
        let errors: Vec<LineError<'_>> = self
            .errors
            .iter()
            .map(|(line, message)| LineError { line: *line, message })
            .collect();
        let mut s = serializer.serialize_struct("ReplayReport", 13)?;
        s.serialize_field("credential", self.credential)?;
        s.serialize_field("lines", &self.lines)?;
        s.serialize_field("requests", &self.requests)?;
        s.serialize_field("skipped_lines", &self.skipped_lines)?;
        s.serialize_field("unparsed_lines", &self.unparsed_lines)?;
        s.serialize_field("errors", &errors)?;
        s.serialize_field("newly_denied", &self.newly_denied)?;
        s.serialize_field("newly_allowed", &self.newly_allowed)?;
        s.serialize_field("reason_changed", &self.reason_changed)?;
        s.serialize_field("unchanged", &self.unchanged)?;
        s.serialize_field("transitions", &self.transitions)?;
        s.serialize_field("top_newly_denied", &self.top_newly_denied)?;
        s.serialize_field("top_newly_allowed", &self.top_newly_allowed)?;
        s.end()
    }
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "replayed {} {} requests from {} lines ({} skipped, {} unparsed)",
            self.requests, self.credential, self.lines, self.skipped_lines, self.unparsed_lines
        )?;
        for (line, message) in &self.errors {
            writeln!(f, "  line {line}: {message}")?;
        }
        writeln!(
            f,
            "newly denied: {}  newly allowed: {}  reason changed: {}  unchanged: {}",
            self.newly_denied, self.newly_allowed, self.reason_changed, self.unchanged
        )?;
        writeln!(f, "\n{:>10}  old -> new", "requests")?;
        for t in &self.transitions {
            let mark = match (t.old, t.new) {
                (None, Some(_)) => "  NEWLY DENIED",
                (Some(_), None) => "  newly allowed",
                _ => "",
            };
            writeln!(f, "{:>10}  {} -> {}{mark}", t.requests, outcome(t.old), outcome(t.new))?;
        }
        for (title, tables) in [
            ("newly denied", &self.top_newly_denied),
            ("newly allowed", &self.top_newly_allowed),
        ] {
            for (what, rows) in [
                ("origins", &tables.origins),
                ("referers", &tables.referers),
                ("tilesets", &tables.tilesets),
            ] {
                if rows.is_empty() {
                    continue;
                }
                writeln!(f, "\ntop {what} {title}:")?;
                for row in rows {
                    let approx = if row.overcount > 0 {
                        format!(" (at most {} over)", row.overcount)
                    } else {
                        String::new()
                    };
                    writeln!(f, "{:>10}  {}{approx}", row.count, row.key)?;
                }
            }
        }
        Ok(())
    }
}

/// The fields of an access-log line that a replay reads.
struct AccessLogEntry<'a> {
    time: &'a str,
    target: &'a str,
    referer: Option<&'a str>,
    origin: Option<&'a str>,
}

impl<'a> AccessLogEntry<'a> {
    fn parse(line: &'a str) -> Result<Self, AccessLogError> {
        let format = |what| AccessLogError::Format { what };
        let (_, rest) = line.split_once('[').ok_or(format("no [time]"))?;
        let (time, rest) = rest.split_once(']').ok_or(format("no [time]"))?;
        let (request, rest) = quoted(rest).ok_or(format("no quoted request line"))?;
        let (referer, rest) = quoted(rest).ok_or(format("no quoted Referer"))?;
        let (_agent, rest) = quoted(rest).ok_or(format("no quoted User-Agent"))?;
        let (origin, _) = quoted(rest).ok_or(format("no quoted Origin after the User-Agent"))?;
        let mut parts = request.split(' ');
        let _method = parts.next();
        let target = parts.next().ok_or(format("no request target"))?;
        let header = |value: &'a str| (value != "-" && !value.is_empty()).then_some(value);
        Ok(AccessLogEntry {
            time,
            target,
            referer: header(referer),
            origin: header(origin),
        })
    }
}

/// The next `"…"` field of `s` and the rest after it; `\"` inside is kept
/// as written (headers with quotes are unusable anyway).
fn quoted(s: &str) -> Option<(&str, &str)> {
    let start = s.find('"')? + 1;
    let body = s.get(start..)?;
    let bytes = body.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some((body.get(..i)?, body.get(i + 1..)?)),
            _ => i += 1,
        }
    }
    None
}

/// What a tile-server path asks for.
struct Route<'a> {
    resource: Resource,
    tileset: Option<Cow<'a, str>>,
    token_scope: Option<TokenScope>,
}

impl<'a> Route<'a> {
    fn of(target: &'a str) -> Option<Self> {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if path == "/tiles-auth" {
            let tileset = form_urlencoded::parse(query.as_bytes())
                .find_map(|(name, value)| (name == "tileset").then(|| Cow::Owned(value.into_owned())));
            return Some(Route {
                resource: Resource::Tiles,
                tileset,
                token_scope: Some(TokenScope::StylesTiles),
            });
        }
        let mut segments = path.strip_prefix("/v1/")?.split('/');
        let (resource, token_scope) = match segments.next()? {
            "tiles" => (Resource::Tiles, Some(TokenScope::StylesTiles)),
            "styles" => (Resource::Styles, Some(TokenScope::StylesRead)),
            "static" => (Resource::Static, Some(TokenScope::StylesTiles)),
            "export" => (Resource::Export, None),
            "fonts" => (Resource::Styles, Some(TokenScope::FontsRead)),
            _ => return None,
        };
        let tileset = match resource {
            Resource::Tiles => Some(percent_decode(segments.next().filter(|s| !s.is_empty())?)),
            _ => None,
        };
        Some(Route {
            resource,
            tileset,
            token_scope,
        })
    }
}

/// Decodes `%XX` escapes; borrowed when there are none. An escape that
/// does not decode to UTF-8 leaves the segment as written (it then names
/// no valid tileset, which fails closed).
fn percent_decode(segment: &str) -> Cow<'_, str> {
    if !segment.contains('%') {
        return Cow::Borrowed(segment);
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(value)) => {
                out.push(value);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_or(Cow::Borrowed(segment), Cow::Owned)
}

/// Parses the common-log time `22/Nov/2026:14:30:00 +0000`.
fn clf_time(value: &str) -> Result<Timestamp, AccessLogError> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parse = || -> Option<Timestamp> {
        let (date, rest) = value.split_once(':')?;
        let (clock, offset) = rest.split_once(' ')?;
        let mut date = date.split('/');
        let day: u8 = date.next()?.parse().ok()?;
        let month_name = date.next()?;
        let month = MONTHS.iter().position(|m| *m == month_name)?;
        let year: i32 = date.next()?.parse().ok()?;
        let mut clock = clock.split(':').map(|part| part.parse::<u8>().ok());
        let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
        let sign = match offset.get(..1)? {
            "+" => 1,
            "-" => -1,
            _ => return None,
        };
        let (oh, om): (i32, i32) = (offset.get(1..3)?.parse().ok()?, offset.get(3..5)?.parse().ok()?);
        let month = time::Month::try_from(u8::try_from(month + 1).ok()?).ok()?;
        let date = time::Date::from_calendar_date(year, month, day).ok()?;
        let local = date.with_hms(hour, minute, second).ok()?.assume_utc().unix_timestamp();
        Timestamp::from_unix_seconds(local - i64::from(sign * (oh * 3600 + om * 60)))
    };
    parse().ok_or_else(|| AccessLogError::Time {
        value: value.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_tables_stay_bounded_and_flag_overcounts() {
        let mut top = Top::new(2);
        top.add("a", 5);
        top.add("b", 1);
        assert!(top.exact());
        top.add("c", 1);
        assert!(!top.exact());
        let rows = top.top(5);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].key.as_str(), rows[0].count), ("a", 5));
        assert_eq!((rows[1].key.as_str(), rows[1].count, rows[1].overcount), ("c", 2, 1));
        let long = "x".repeat(1000);
        let mut top = Top::new(4);
        top.add(&long, 1);
        assert_eq!(top.top(1)[0].key.len(), MAX_KEY_LEN);
    }

    #[test]
    fn access_log_fields_and_routes() {
        let line = r#"203.0.113.7 - - [22/Nov/2026:14:30:00 +0000] "GET /v1/tiles/alice.streets%2Cbob.terrain/3/4/2.png?key=K HTTP/1.1" 200 812 "https://app.example.com/map?x=1" "Mozilla/5.0 \"quoted\"" "https://app.example.com""#;
        let entry = AccessLogEntry::parse(line).unwrap();
        assert_eq!(entry.referer, Some("https://app.example.com/map?x=1"));
        assert_eq!(entry.origin, Some("https://app.example.com"));
        let route = Route::of(entry.target).unwrap();
        assert_eq!(route.resource, Resource::Tiles);
        assert_eq!(route.tileset.as_deref(), Some("alice.streets,bob.terrain"));
        assert_eq!(
            clf_time(entry.time).unwrap(),
            "2026-11-22T14:30:00Z".parse::<Timestamp>().unwrap()
        );
        let no_origin = r#"1.2.3.4 - - [22/Nov/2026:14:30:00 +0000] "GET /v1/styles/a/b HTTP/1.1" 200 1 "-" "curl/8""#;
        assert!(AccessLogEntry::parse(no_origin).is_err());
        assert!(Route::of("/favicon.ico").is_none());
        assert_eq!(
            Route::of("/tiles-auth?tileset=alice.streets")
                .unwrap()
                .tileset
                .as_deref(),
            Some("alice.streets")
        );
        assert_eq!(
            clf_time("22/Nov/2026:07:30:00 -0700").unwrap(),
            "2026-11-22T14:30:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(clf_time("yesterday").is_err());
        assert!(clf_time("31/Foo/2026:07:30:00 -0700").is_err());
        assert_eq!(percent_decode("a%2cb%zz"), "a,b%zz");
    }
}
