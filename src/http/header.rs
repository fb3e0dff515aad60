//! Reading the `Origin` and `Referer` request headers: absent, one
//! readable value, or unreadable — three typed states, never a stand-in
//! string.

use ::http::header::{HeaderMap, HeaderName, HeaderValue};

/// Why a request header cannot be read as one value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The header is sent more than once. A browser sends one `Origin` and
    /// at most one `Referer`; two are forged or mangled, and taking either
    /// would let the sender choose the one that passes.
    #[error("header `{name}` is sent more than once")]
    Repeated {
        /// The header's name.
        name: HeaderName,
    },
    /// The value holds bytes other than visible ASCII, space and tab.
    #[error("header `{name}` is not visible ASCII")]
    NotVisibleAscii {
        /// The header's name.
        name: HeaderName,
    },
}

/// A request header that must appear at most once, as read.
///
/// `#[non_exhaustive]` is deliberately absent: a header is absent, present
/// or unreadable, and code that matches on it should say what it does in
/// each case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderField<'a> {
    /// Not sent.
    Absent,
    /// Sent once, visible ASCII; borrowed from the header map.
    Value(&'a str),
    /// Sent, but repeated or not visible ASCII: evaluation treats it as
    /// sent and invalid (see [`key_request`](crate::http::key_request)).
    Unreadable(HeaderError),
}

impl<'a> HeaderField<'a> {
    /// Reads `name` from `headers`.
    ///
    /// ```
    /// use http::header::{HeaderMap, ORIGIN, REFERER};
    /// use keypolicy::http::{HeaderError, HeaderField};
    /// let mut headers = HeaderMap::new();
    /// headers.append(ORIGIN, "https://a.example".parse().unwrap());
    /// assert_eq!(HeaderField::read(&headers, &ORIGIN), HeaderField::Value("https://a.example"));
    /// assert_eq!(HeaderField::read(&headers, &REFERER), HeaderField::Absent);
    /// headers.append(ORIGIN, "https://b.example".parse().unwrap());
    /// assert_eq!(
    ///     HeaderField::read(&headers, &ORIGIN),
    ///     HeaderField::Unreadable(HeaderError::Repeated { name: ORIGIN })
    /// );
    /// ```
    pub fn read(headers: &'a HeaderMap, name: &HeaderName) -> Self {
        match single_header(headers, name) {
            Ok(None) => HeaderField::Absent,
            Ok(Some(value)) => HeaderField::Value(value),
            Err(error) => HeaderField::Unreadable(error),
        }
    }

    /// Whether the header was not sent at all.
    pub const fn is_absent(&self) -> bool {
        matches!(self, HeaderField::Absent)
    }
}

/// Reads a header that must appear at most once, as `&str` borrowed from
/// the map. `Ok(None)` when it is absent.
///
/// ```
/// use http::header::{HeaderMap, ORIGIN};
/// use keypolicy::http::{single_header, HeaderError};
/// let mut headers = HeaderMap::new();
/// headers.append(ORIGIN, "https://a.example".parse().unwrap());
/// assert_eq!(single_header(&headers, &ORIGIN), Ok(Some("https://a.example")));
/// headers.append(ORIGIN, "https://b.example".parse().unwrap());
/// assert_eq!(single_header(&headers, &ORIGIN), Err(HeaderError::Repeated { name: ORIGIN }));
/// ```
pub fn single_header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a str>, HeaderError> {
    match single_header_value(headers, name)? {
        None => Ok(None),
        Some(value) => visible_ascii(value, name).map(Some),
    }
}

/// [`single_header`]'s value as it is in the map, not yet read as text:
/// the guard echoes an allowed `Origin` by cloning it (no copy).
pub(crate) fn single_header_value<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a HeaderValue>, HeaderError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(HeaderError::Repeated { name: name.clone() });
    }
    Ok(Some(value))
}

/// A header value as `&str`: visible ASCII, space and tab only.
pub(crate) fn visible_ascii<'a>(value: &'a HeaderValue, name: &HeaderName) -> Result<&'a str, HeaderError> {
    value
        .to_str()
        .map_err(|_| HeaderError::NotVisibleAscii { name: name.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::http::header::{self, HeaderValue};

    #[test]
    fn origin_headers_must_be_single_and_visible_ascii() {
        let mut headers = HeaderMap::new();
        headers.append(header::ORIGIN, HeaderValue::from_static("https://a.com"));
        assert_eq!(single_header(&headers, &header::ORIGIN), Ok(Some("https://a.com")));
        assert_eq!(single_header(&headers, &header::REFERER), Ok(None));
        assert!(HeaderField::read(&headers, &header::REFERER).is_absent());

        headers.append(header::ORIGIN, HeaderValue::from_static("https://a.com"));
        let repeated = HeaderError::Repeated { name: header::ORIGIN };
        assert_eq!(single_header(&headers, &header::ORIGIN), Err(repeated.clone()));
        assert_eq!(
            HeaderField::read(&headers, &header::ORIGIN),
            HeaderField::Unreadable(repeated)
        );

        let mut headers = HeaderMap::new();
        let bytes = HeaderValue::from_bytes(b"https://m\xfcnchen.de").unwrap();
        headers.append(header::ORIGIN, bytes);
        let binary = HeaderError::NotVisibleAscii { name: header::ORIGIN };
        assert_eq!(single_header(&headers, &header::ORIGIN), Err(binary.clone()));
        assert!(!HeaderField::read(&headers, &header::ORIGIN).is_absent());
        assert_eq!(binary.to_string(), "header `origin` is not visible ASCII");
        assert_eq!(
            HeaderError::Repeated { name: header::ORIGIN }.to_string(),
            "header `origin` is sent more than once"
        );
    }
}
