//! The credential in a request's query string: `?key=` or `?access_token=`.

use std::borrow::Cow;
use std::fmt;

/// Which kind of credential a query parameter carries.
///
/// `#[non_exhaustive]`: a platform may add credential kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialKind {
    /// A Mappinest API key: `?key=…`.
    Key,
    /// A Mapbox-style access token: `?access_token=…`.
    AccessToken,
}

impl CredentialKind {
    /// Every kind, in the order the query string is searched.
    pub const ALL: [CredentialKind; 2] = [CredentialKind::Key, CredentialKind::AccessToken];

    /// The query parameter's name: `key` or `access_token`.
    pub const fn param(self) -> &'static str {
        match self {
            CredentialKind::Key => "key",
            CredentialKind::AccessToken => "access_token",
        }
    }

    fn from_param(name: &str) -> Option<CredentialKind> {
        CredentialKind::ALL.into_iter().find(|kind| kind.param() == name)
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.param())
    }
}

/// A credential found in the query string, percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryCredential<'a> {
    /// The parameter it came in.
    pub kind: CredentialKind,
    /// The decoded value; borrowed unless the query percent-encodes it.
    pub value: Cow<'a, str>,
}

/// Why the query string's credential cannot be used. Every variant is a
/// `401 Missing or invalid key` in the [`Guard`](crate::http::Guard).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The same credential parameter appears more than once
    /// (`?key=a&key=b`, even with equal values): which one a cache, a
    /// proxy and this server would each read is anybody's guess.
    #[error("query parameter `{param}` is given more than once")]
    Repeated {
        /// `key` or `access_token`.
        param: CredentialKind,
    },
    /// Both a key and an access token are given.
    #[error("query parameters `key` and `access_token` are both given; give one")]
    Ambiguous,
    /// The parameter is present with an empty value (`?key=`).
    #[error("query parameter `{param}` is empty")]
    Empty {
        /// `key` or `access_token`.
        param: CredentialKind,
    },
}

/// Finds the credential in a query string (`key=` or `access_token=`),
/// percent-decoded the `application/x-www-form-urlencoded` way (`+` is a
/// space). `Ok(None)` when there is none.
///
/// ```
/// use keypolicy::http::{credential_from_query, CredentialKind, QueryError};
/// let c = credential_from_query(Some("z=1&access_token=pk.a%2Bb")).unwrap().unwrap();
/// assert_eq!((c.kind, c.value.as_ref()), (CredentialKind::AccessToken, "pk.a+b"));
/// assert_eq!(credential_from_query(Some("key=a&key=a")), Err(QueryError::Repeated { param: CredentialKind::Key }));
/// assert_eq!(credential_from_query(None), Ok(None));
/// ```
pub fn credential_from_query(query: Option<&str>) -> Result<Option<QueryCredential<'_>>, QueryError> {
    let Some(query) = query else {
        return Ok(None);
    };
    let mut found: Option<QueryCredential<'_>> = None;
    for (name, value) in query.split('&').filter(|pair| !pair.is_empty()).map(decode_pair) {
        let Some(kind) = CredentialKind::from_param(&name) else {
            continue;
        };
        if let Some(previous) = &found {
            return Err(if previous.kind == kind {
                QueryError::Repeated { param: kind }
            } else {
                QueryError::Ambiguous
            });
        }
        found = Some(QueryCredential { kind, value });
    }
    match found {
        Some(credential) if credential.value.is_empty() => Err(QueryError::Empty { param: credential.kind }),
        found => Ok(found),
    }
}

/// One `name=value` pair of a query string (no `&` in it), decoded as
/// `form_urlencoded::parse` decodes it. A pair without `%` or `+` — every
/// ordinary key — decodes to itself, so it is split in place and borrowed
/// without running the decoder (the guard's hot path); any other pair goes
/// through `form_urlencoded` itself, so the two can never disagree.
fn decode_pair(pair: &str) -> (Cow<'_, str>, Cow<'_, str>) {
    if !pair.bytes().any(|b| b == b'%' || b == b'+') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        return (Cow::Borrowed(name), Cow::Borrowed(value));
    }
    form_urlencoded::parse(pair.as_bytes())
        .next()
        .unwrap_or((Cow::Borrowed(""), Cow::Borrowed("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(query: &str) -> Result<Option<(CredentialKind, String)>, QueryError> {
        credential_from_query(Some(query)).map(|c| c.map(|c| (c.kind, c.value.into_owned())))
    }

    #[test]
    fn query_credentials_are_decoded_and_unique() {
        let key = |v: &str| Ok(Some((CredentialKind::Key, v.to_owned())));
        let repeated = |param| Err(QueryError::Repeated { param });
        assert_eq!(cred("key=abc"), key("abc"));
        assert_eq!(cred("a=1&key=abc&b=2"), key("abc"));
        assert_eq!(cred("key=a%20b%2Bc+d"), key("a b+c d"));
        assert_eq!(cred("KEY=abc&keys=x&xkey=y"), Ok(None));
        assert_eq!(cred(""), Ok(None));
        assert_eq!(
            cred("access_token=pk.x"),
            Ok(Some((CredentialKind::AccessToken, "pk.x".into())))
        );
        assert_eq!(cred("key=a&key=b"), repeated(CredentialKind::Key));
        assert_eq!(cred("key=a&key=a"), repeated(CredentialKind::Key));
        assert_eq!(cred("k%65y=a&key=a"), repeated(CredentialKind::Key));
        assert_eq!(
            cred("access_token=a&access_token=b"),
            repeated(CredentialKind::AccessToken)
        );
        assert_eq!(cred("key=a&access_token=b"), Err(QueryError::Ambiguous));
        let empty = Err(QueryError::Empty {
            param: CredentialKind::Key,
        });
        assert_eq!(cred("key="), empty);
        assert_eq!(cred("key"), empty);
        // Undecodable bytes are replaced, so such a key is simply unknown.
        assert_eq!(cred("key=%FF"), key("\u{fffd}"));
        assert_eq!(
            QueryError::Repeated {
                param: CredentialKind::Key
            }
            .to_string(),
            "query parameter `key` is given more than once"
        );
    }

    #[test]
    fn the_query_value_is_borrowed_unless_encoded() {
        let c = credential_from_query(Some("key=plain")).unwrap().unwrap();
        assert!(matches!(c.value, Cow::Borrowed("plain")));
        let c = credential_from_query(Some("a=%41&key=v=w&b")).unwrap().unwrap();
        assert!(matches!(c.value, Cow::Borrowed("v=w")));
    }

    /// What `credential_from_query` computed before its fast path: every
    /// pair through `form_urlencoded::parse`.
    fn reference(query: &str) -> Result<Option<(CredentialKind, String)>, QueryError> {
        let mut found: Option<(CredentialKind, String)> = None;
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let Some(kind) = CredentialKind::from_param(&name) else {
                continue;
            };
            if let Some((previous, _)) = &found {
                return Err(if *previous == kind {
                    QueryError::Repeated { param: kind }
                } else {
                    QueryError::Ambiguous
                });
            }
            found = Some((kind, value.into_owned()));
        }
        match found {
            Some((kind, value)) if value.is_empty() => Err(QueryError::Empty { param: kind }),
            found => Ok(found),
        }
    }

    proptest::proptest! {
        /// The borrowed fast path decodes exactly as `form_urlencoded` does.
        #[test]
        fn the_fast_path_agrees_with_form_urlencoded(
            query in "((key|access_token|k%65y|ke%79|key\\+|x|)(=[a-z0-9%+=.\\u{e9}]{0,6})?&{0,2}){0,4}",
        ) {
            proptest::prop_assert_eq!(cred(&query), reference(&query), "query {:?}", query);
        }
    }
}
