//! The access-log format a replay reads (see the module docs of
//! [`replay`](super)): the fields of a line, the route its path names, and
//! its time.

use std::borrow::Cow;

use crate::key::Resource;
use crate::token::{Timestamp, TokenScope};

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

/// The fields of an access-log line that a replay reads.
pub(super) struct AccessLogEntry<'a> {
    pub(super) time: &'a str,
    pub(super) target: &'a str,
    pub(super) referer: Option<&'a str>,
    pub(super) origin: Option<&'a str>,
}

impl<'a> AccessLogEntry<'a> {
    pub(super) fn parse(line: &'a str) -> Result<Self, AccessLogError> {
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
pub(super) struct Route<'a> {
    pub(super) resource: Resource,
    pub(super) tileset: Option<Cow<'a, str>>,
    pub(super) token_scope: Option<TokenScope>,
}

impl<'a> Route<'a> {
    pub(super) fn of(target: &'a str) -> Option<Self> {
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
pub(super) fn clf_time(value: &str) -> Result<Timestamp, AccessLogError> {
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
