//! The outcome of an evaluation: allow or deny, why, and the CORS headers.

use std::fmt;

/// Why a request was denied. Each denial has a stable snake_case
/// [`code`](Denial::reason), an HTTP [`status`](Denial::status) and a human
/// [`message`](Denial::message).
///
/// `#[non_exhaustive]`: new rules may add new reasons; match with a
/// wildcard arm and fall back on [`Denial::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Denial {
    /// The key needs an `Origin` header and the request has none.
    OriginRequired,
    /// The `Origin` header is not a single valid ASCII origin.
    OriginInvalid,
    /// The Origin's host is not on the key's `allowed_domains`.
    OriginNotAllowed,
    /// The key or token has scopes, and not the one this request needs.
    ScopeMissing,
    /// A requested tileset is not on the key's `allowed_tilesets`.
    TilesetNotAllowed,
    /// The token has URL restrictions and the request has no `Referer`.
    RefererRequired,
    /// The `Referer` is unusable or matches no allowed URL.
    RefererNotAllowed,
    /// The temporary token's `expires` is at or before the request time.
    TokenExpired,
}

impl Denial {
    /// The stable reason code, e.g. `origin_not_allowed`.
    pub const fn reason(self) -> &'static str {
        match self {
            Denial::OriginRequired => "origin_required",
            Denial::OriginInvalid => "origin_invalid",
            Denial::OriginNotAllowed => "origin_not_allowed",
            Denial::ScopeMissing => "scope_missing",
            Denial::TilesetNotAllowed => "tileset_not_allowed",
            Denial::RefererRequired => "referer_required",
            Denial::RefererNotAllowed => "referer_not_allowed",
            Denial::TokenExpired => "token_expired",
        }
    }

    /// The HTTP status to answer with: 401 for an expired token, else 403.
    pub const fn status(self) -> u16 {
        match self {
            Denial::TokenExpired => 401,
            _ => 403,
        }
    }

    /// A short human explanation.
    pub const fn message(self) -> &'static str {
        match self {
            Denial::OriginRequired => "This key only serves browser requests: an Origin header is required",
            Denial::OriginInvalid => "The Origin header is not a single valid origin",
            Denial::OriginNotAllowed => "The Origin is not on this key's allowed domains",
            Denial::ScopeMissing => "This key or token does not have the scope this request needs",
            Denial::TilesetNotAllowed => "A requested tileset is not on this key's allowed tilesets",
            Denial::RefererRequired => "This token is URL-restricted: a Referer header is required",
            Denial::RefererNotAllowed => "The Referer is not on this token's allowed URLs",
            Denial::TokenExpired => "This temporary token has expired",
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.reason())
    }
}

/// The `Access-Control-Allow-Origin` value of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AllowOrigin<'r> {
    /// `*`: the answer does not depend on the Origin.
    Any,
    /// The request's exact Origin header, echoed.
    Origin(&'r str),
}

impl<'r> AllowOrigin<'r> {
    /// The header value.
    pub const fn as_str(self) -> &'r str {
        match self {
            AllowOrigin::Any => "*",
            AllowOrigin::Origin(origin) => origin,
        }
    }
}

/// Which request headers the decision depended on, for the `Vary` header:
/// a cache must not serve one Origin's (or Referer's) answer to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Vary {
    /// The decision read the `Origin` header.
    pub origin: bool,
    /// The decision read the `Referer` header.
    pub referer: bool,
}

impl Vary {
    /// The `Vary` header value, or `None` when nothing varies.
    pub const fn header_value(self) -> Option<&'static str> {
        match (self.origin, self.referer) {
            (true, true) => Some("Origin, Referer"),
            (true, false) => Some("Origin"),
            (false, true) => Some("Referer"),
            (false, false) => None,
        }
    }
}

/// The result of [`evaluate_key`](crate::evaluate_key): allowed or denied with a
/// [`Denial`], plus the CORS headers to send. Borrows the request's Origin
/// when it echoes it, so building one never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub struct Decision<'r> {
    denial: Option<Denial>,
    allow_origin: Option<AllowOrigin<'r>>,
    vary: Vary,
}

impl<'r> Decision<'r> {
    pub(crate) const fn allow(allow_origin: Option<AllowOrigin<'r>>, vary: Vary) -> Self {
        Decision {
            denial: None,
            allow_origin,
            vary,
        }
    }

    /// A denial. An echoed Origin is dropped here, in one place: a denied
    /// decision never tells a browser that the Origin may read the answer.
    pub(crate) const fn deny(denial: Denial, allow_origin: Option<AllowOrigin<'r>>, vary: Vary) -> Self {
        let allow_origin = match allow_origin {
            Some(AllowOrigin::Any) => Some(AllowOrigin::Any),
            _ => None,
        };
        Decision {
            denial: Some(denial),
            allow_origin,
            vary,
        }
    }

    /// Whether the request may be served.
    pub const fn is_allowed(&self) -> bool {
        self.denial.is_none()
    }

    /// Why it was denied, if it was.
    pub const fn denial(&self) -> Option<Denial> {
        self.denial
    }

    /// The HTTP status: 200, or the denial's status.
    pub const fn status(&self) -> u16 {
        match self.denial {
            Some(denial) => denial.status(),
            None => 200,
        }
    }

    /// The reason code of a denial (`None` when allowed).
    pub const fn reason(&self) -> Option<&'static str> {
        match self.denial {
            Some(denial) => Some(denial.reason()),
            None => None,
        }
    }

    /// A human message.
    pub const fn message(&self) -> &'static str {
        match self.denial {
            Some(denial) => denial.message(),
            None => "Allowed",
        }
    }

    /// The `Access-Control-Allow-Origin` to send, if any.
    pub const fn allow_origin(&self) -> Option<AllowOrigin<'r>> {
        self.allow_origin
    }

    /// Which request headers the decision depended on.
    pub const fn vary(&self) -> Vary {
        self.vary
    }

    /// The response headers to send, as `(name, value)` pairs.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &'r str)> {
        let allow = self.allow_origin.map(|o| ("Access-Control-Allow-Origin", o.as_str()));
        let vary = self.vary.header_value().map(|v| ("Vary", v));
        allow.into_iter().chain(vary)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Decision<'_> {
    /// `{"allowed", "status", "reason", "message", "headers": {…}}`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;

        struct Headers<'a, 'r>(&'a Decision<'r>);
        impl serde::Serialize for Headers<'_, '_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_map(self.0.headers())
            }
        }

        let mut s = serializer.serialize_struct("Decision", 5)?;
        s.serialize_field("allowed", &self.is_allowed())?;
        s.serialize_field("status", &self.status())?;
        s.serialize_field("reason", &self.reason())?;
        s.serialize_field("message", self.message())?;
        s.serialize_field("headers", &Headers(self))?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_have_stable_codes_and_statuses() {
        let all = [
            (Denial::OriginRequired, "origin_required", 403),
            (Denial::OriginInvalid, "origin_invalid", 403),
            (Denial::OriginNotAllowed, "origin_not_allowed", 403),
            (Denial::ScopeMissing, "scope_missing", 403),
            (Denial::TilesetNotAllowed, "tileset_not_allowed", 403),
            (Denial::RefererRequired, "referer_required", 403),
            (Denial::RefererNotAllowed, "referer_not_allowed", 403),
            (Denial::TokenExpired, "token_expired", 401),
        ];
        for (denial, code, status) in all {
            assert_eq!((denial.reason(), denial.status()), (code, status));
        }
    }

    #[test]
    fn a_denial_never_echoes_the_origin() {
        let vary = Vary {
            origin: true,
            referer: false,
        };
        let d = Decision::deny(Denial::ScopeMissing, Some(AllowOrigin::Origin("https://a.com")), vary);
        assert_eq!(d.allow_origin(), None);
        assert_eq!(d.headers().collect::<Vec<_>>(), [("Vary", "Origin")]);
        let d = Decision::deny(Denial::ScopeMissing, Some(AllowOrigin::Any), Vary::default());
        assert_eq!(d.headers().collect::<Vec<_>>(), [("Access-Control-Allow-Origin", "*")]);
    }
}
