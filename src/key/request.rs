//! `KeyRequest`: what an API-key check looks at in a request.

use std::borrow::Cow;

use crate::key::scope::Resource;

/// What [`KeyRequest::with_unreadable_origin`] stores: it holds a space
/// and `<`, so no Origin grammar accepts it and keys with an origin rule
/// deny it `origin_invalid`, as they deny any malformed Origin.
const UNREADABLE_ORIGIN: &str = "<unreadable header>";

/// The parts of a request that a [`KeyPolicy`](crate::KeyPolicy) judges.
///
/// Strings are borrowed when they can be (from a header map, or from JSON
/// without escapes), so building one per request costs nothing.
///
/// ```
/// use keypolicy::KeyRequest;
/// use keypolicy::key::Resource;
/// let request = KeyRequest::new(Resource::Tiles)
///     .with_origin("https://app.example.com")
///     .with_tileset("alice.streets");
/// assert_eq!(request.origin.as_deref(), Some("https://app.example.com"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct KeyRequest<'a> {
    /// The `Origin` header value, or `None` when there is none.
    #[cfg_attr(
        feature = "serde",
        serde(default, borrow, deserialize_with = "crate::serde_util::borrowed")
    )]
    pub origin: Option<Cow<'a, str>>,
    /// What is requested (default `tiles`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub resource: Resource,
    /// The tileset(s) named, e.g. `alice.streets` or a composite
    /// `alice.streets,bob.terrain`; `None` when the request names none.
    #[cfg_attr(
        feature = "serde",
        serde(
            default,
            borrow,
            deserialize_with = "crate::serde_util::borrowed",
            skip_serializing_if = "Option::is_none"
        )
    )]
    pub tileset: Option<Cow<'a, str>>,
}

impl<'a> KeyRequest<'a> {
    /// A request for `resource` with no Origin and no tileset.
    pub fn new(resource: Resource) -> Self {
        KeyRequest {
            origin: None,
            resource,
            tileset: None,
        }
    }

    /// Sets the `Origin` header value.
    #[must_use]
    pub fn with_origin(mut self, origin: impl Into<Cow<'a, str>>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Records an `Origin` header that was sent but cannot be read
    /// (repeated, or not visible ASCII; see
    /// `keypolicy::http::HeaderField`): keys with an origin rule deny the
    /// request `origin_invalid`, other keys ignore it.
    #[must_use]
    pub fn with_unreadable_origin(mut self) -> Self {
        self.origin = Some(Cow::Borrowed(UNREADABLE_ORIGIN));
        self
    }

    /// Sets the requested tileset(s).
    #[must_use]
    pub fn with_tileset(mut self, tileset: impl Into<Cow<'a, str>>) -> Self {
        self.tileset = Some(tileset.into());
        self
    }
}
