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
/// use keypolicy::Timestamp;
/// let a: Timestamp = "2026-11-22T16:00:00+01:00".parse()?;
/// let b: Timestamp = "2026-11-22T15:00:00Z".parse()?;
/// assert_eq!(a, b);
/// assert_eq!(a.to_string(), "2026-11-22T15:00:00Z");
/// assert_eq!(Timestamp::from_unix_seconds(a.unix_seconds()), Some(a));
/// # Ok::<(), keypolicy::InvalidTimestamp>(())
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

impl Timestamp {
    /// The instant `seconds` after the Unix epoch, if representable.
    pub fn from_unix_seconds(seconds: i64) -> Option<Timestamp> {
        OffsetDateTime::from_unix_timestamp(seconds).ok().map(Timestamp)
    }

    /// Converts a `SystemTime` (e.g. `SystemTime::now()`).
    pub fn from_system_time(time: SystemTime) -> Timestamp {
        Timestamp(OffsetDateTime::from(time))
    }

    /// Whole seconds since the Unix epoch (rounded towards minus infinity).
    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }
}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;

    fn from_str(s: &str) -> Result<Self, InvalidTimestamp> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| Timestamp(t.to_offset(time::UtcOffset::UTC)))
            .map_err(|_| InvalidTimestamp { value: s.to_owned() })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Formatting a UTC instant with a four-digit year cannot fail; years
        // outside 0..=9999 cannot be parsed from RFC 3339 in the first place,
        // but `from_unix_seconds` can reach them, so fall back to seconds.
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
