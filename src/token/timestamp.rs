//! RFC 3339 instants for `expires` and the request's `now`.
//!
//! Parsing and formatting are the `time` crate's; this newtype keeps that
//! crate out of the public API and fixes one spelling for output (UTC, `Z`).

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// An instant, read from and written as an RFC 3339 timestamp such as
/// `2026-11-22T15:00:00Z`.
///
/// Timestamps compare as instants, whatever offset they were written with:
/// `2026-11-22T16:00:00+01:00` equals `2026-11-22T15:00:00Z`. They are
/// displayed in UTC. The crate has no clock: the caller supplies "now"
/// ([`Timestamp::from_system_time`] converts `SystemTime::now()`).
///
/// ```
/// use keypolicy::token::Timestamp;
/// let a: Timestamp = "2026-11-22T16:00:00+01:00".parse()?;
/// let b: Timestamp = "2026-11-22T15:00:00Z".parse()?;
/// assert_eq!(a, b);
/// assert_eq!(a.to_string(), "2026-11-22T15:00:00Z");
/// assert_eq!(Timestamp::from_unix_seconds(a.unix_seconds()), Some(a));
/// # Ok::<(), keypolicy::token::InvalidTimestamp>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

/// A string that is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not an RFC 3339 timestamp such as 2026-11-22T15:00:00Z")]
pub struct InvalidTimestamp {
    /// The string given.
    pub value: String,
}

/// The first and last instants RFC 3339 can write in UTC
/// (`0000-01-01T00:00:00Z` and `9999-12-31T23:59:59.999999999Z`), in
/// nanoseconds since the Unix epoch. Every `Timestamp` lies in between, so
/// its `Display` form always parses back.
const MIN_NANOS: i128 = -62_167_219_200 * 1_000_000_000;
const MAX_NANOS: i128 = 253_402_300_800 * 1_000_000_000 - 1;

impl Timestamp {
    /// The instant `nanos` after the Unix epoch, if RFC 3339 can write it
    /// in UTC.
    fn from_unix_nanos(nanos: i128) -> Option<Timestamp> {
        if !(MIN_NANOS..=MAX_NANOS).contains(&nanos) {
            return None;
        }
        OffsetDateTime::from_unix_timestamp_nanos(nanos).ok().map(Timestamp)
    }

    /// The instant `seconds` after the Unix epoch, if representable: years
    /// 0000 to 9999 in UTC, what RFC 3339 can write.
    pub fn from_unix_seconds(seconds: i64) -> Option<Timestamp> {
        Timestamp::from_unix_nanos(i128::from(seconds) * 1_000_000_000)
    }

    /// Converts a `SystemTime` (e.g. `SystemTime::now()`). A time outside
    /// the years 0000 to 9999 saturates to the first or last representable
    /// instant (a clock far in the future finds every `tk` token expired).
    pub fn from_system_time(time: SystemTime) -> Timestamp {
        let nanos = match time.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
            Err(before) => i128::try_from(before.duration().as_nanos()).map_or(i128::MIN, |n| -n),
        };
        let clamped = nanos.clamp(MIN_NANOS, MAX_NANOS);
        Timestamp(OffsetDateTime::from_unix_timestamp_nanos(clamped).unwrap_or(OffsetDateTime::UNIX_EPOCH))
    }

    /// Whole seconds since the Unix epoch (rounded towards minus infinity).
    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }
}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;

    /// RFC 3339 with any offset; the instant must fall in the years 0000
    /// to 9999 in UTC (`9999-12-31T23:00:00-01:00` does not), so that it
    /// can be written back.
    fn from_str(s: &str) -> Result<Self, InvalidTimestamp> {
        // Through the Unix time: converting to UTC with `to_offset` panics
        // when the UTC date leaves the supported years.
        OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .and_then(|t| Timestamp::from_unix_nanos(t.unix_timestamp_nanos()))
            .ok_or_else(|| InvalidTimestamp { value: s.to_owned() })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Formatting a UTC instant with a four-digit year cannot fail, and
        // every constructor keeps to years 0..=9999; the fallback to seconds
        // only avoids a panic path.
        match self.0.format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            Err(_) => write!(f, "@{}", self.0.unix_timestamp()),
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_and_compares_instants() {
        let z: Timestamp = "2026-11-22T15:00:00Z".parse().unwrap();
        let offset: Timestamp = "2026-11-22T10:00:00-05:00".parse().unwrap();
        let frac: Timestamp = "2026-11-22T15:00:00.5Z".parse().unwrap();
        assert_eq!(z, offset);
        assert!(frac > z);
        assert_eq!(z.unix_seconds(), 1_795_359_600);
        assert_eq!(offset.to_string(), "2026-11-22T15:00:00Z");
        assert_eq!(frac.to_string(), "2026-11-22T15:00:00.5Z");
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        for bad in [
            "",
            "2026-11-22",
            "2026-11-22T15:00:00",
            "2026-11-22 15:00Z",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "1795359600",
            " 2026-11-22T15:00:00Z",
        ] {
            assert_eq!(
                bad.parse::<Timestamp>(),
                Err(InvalidTimestamp { value: bad.into() }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn system_time_converts() {
        let t = Timestamp::from_system_time(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(60));
        assert_eq!(t.unix_seconds(), 60);
        assert_eq!(t.to_string(), "1970-01-01T00:01:00Z");
    }
}
