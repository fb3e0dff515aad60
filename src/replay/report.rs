//! What a replay found: counts by old → new outcome and the top tables,
//! as JSON (`serde`) and as text.

use std::fmt;

use crate::decision::Denial;

use super::top::TopEntry;

/// `allowed` or the denial's reason code.
pub(super) fn outcome(denial: Option<Denial>) -> &'static str {
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
