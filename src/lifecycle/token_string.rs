//! Signed token strings in Mapbox's layout, `usage.payload.signature`.
//!
//! * `usage` is `pk`, `sk` or `tk`.
//! * `payload` is base64url (no padding) JSON, exactly Mapbox's fields.
//!   `pk`/`sk`: `{"u": user, "a": authorization id}` — the token's
//!   metadata is found by `a`. `tk`: `{"u": user, "exp": seconds, "iat":
//!   seconds, "scopes": [..], "client": "api"}` — self-contained, so an
//!   edge node holding the verification key evaluates it from the string
//!   alone.
//! * `signature` is base64url HMAC-SHA256 (RustCrypto `hmac` + `sha2`,
//!   43 characters) over the bytes `usage.payload`, compared in constant time.
//!
//! Order of checks, cheapest first: a string longer than
//! [`MAX_TOKEN_LEN`], without exactly three non-empty base64url parts, with
//! an unknown usage, an undecodable payload, a payload whose fields do not
//! fit its usage, or a signature that is not 32 bytes is
//! [`TokenStringError::Malformed`] before any MAC is computed. Then the
//! MAC is verified with the current signing key and, failing that, the
//! previous one ([`TokenStringError::Invalid`] when neither matches); a `tk` whose `exp − iat` exceeds one
//! hour (or is not positive) is invalid even with a valid MAC.
//!
//! Signing keys carry an id so that two can be live while the platform
//! rotates its signing secret: [`SigningKeys`] signs with its current key
//! and verifies with the current or the previous one. The id stays out of
//! the string (the payload is Mapbox's, field for field): a token signed
//! with the previous key costs a second MAC, only during a rotation.

use std::borrow::Cow;
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::token::{Timestamp, TokenPolicy, TokenScope, TokenScopeSet, TokenUsage};

/// The longest token string accepted; anything longer is malformed at once.
pub const MAX_TOKEN_LEN: usize = 1024;
/// The longest life of a `tk` token, `exp − iat`, in seconds.
pub const MAX_TEMPORARY_LIFETIME_SECONDS: i64 = 3600;
/// The shortest signing secret accepted, in bytes.
pub const MIN_SIGNING_SECRET_LEN: usize = 32;
/// The length of a base64url HMAC-SHA256 signature.
const SIGNATURE_CHARS: usize = 43;

type HmacSha256 = Hmac<Sha256>;

/// A signing key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigningKeyError {
    /// The id is empty, longer than 32 characters, or not `[A-Za-z0-9_-]`.
    #[error("signing key id: {value:?} must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'")]
    InvalidId {
        /// The id given.
        value: String,
    },
    /// The secret is shorter than [`MIN_SIGNING_SECRET_LEN`] bytes.
    #[error("signing key {id:?}: the secret has {len} bytes; at least 32 are required")]
    ShortSecret {
        /// The key's id.
        id: String,
        /// The secret's length.
        len: usize,
    },
    /// Both live keys have the same id.
    #[error("signing key id: {id:?} is used by both the current and the previous key")]
    DuplicateId {
        /// The id.
        id: String,
    },
}

/// One HMAC-SHA256 signing secret and its id. The keyed MAC state is
/// computed once, so each verification hashes only the message.
#[derive(Clone)]
pub struct SigningKey {
    id: String,
    mac: HmacSha256,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key from its id and secret (at least 32 bytes).
    pub fn new(id: impl Into<String>, secret: &[u8]) -> Result<SigningKey, SigningKeyError> {
        let id = id.into();
        let id_ok =
            (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(SigningKeyError::InvalidId { value: id });
        }
        if secret.len() < MIN_SIGNING_SECRET_LEN {
            return Err(SigningKeyError::ShortSecret { id, len: secret.len() });
        }
        let mac = HmacSha256::new_from_slice(secret).map_err(|_| SigningKeyError::ShortSecret {
            id: id.clone(),
            len: secret.len(),
        })?;
        Ok(SigningKey { id, mac })
    }

    /// The key's id, written into every token it signs.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn tag(&self, signed: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(signed);
        mac.finalize().into_bytes().into()
    }

    fn verify(&self, signed: &[u8], signature: &[u8]) -> bool {
        let mut mac = self.mac.clone();
        mac.update(signed);
        // `verify_slice` compares in constant time.
        mac.verify_slice(signature).is_ok()
    }
}

/// The live signing keys: the current one signs, and the current or the
/// previous one (during a rotation of the signing secret) verifies.
#[derive(Debug, Clone)]
pub struct SigningKeys {
    current: SigningKey,
    previous: Option<SigningKey>,
}

impl SigningKeys {
    /// Only `current` is live.
    pub fn new(current: SigningKey) -> SigningKeys {
        SigningKeys {
            current,
            previous: None,
        }
    }

    /// `current` signs; tokens signed by `previous` still verify.
    pub fn with_previous(current: SigningKey, previous: SigningKey) -> Result<SigningKeys, SigningKeyError> {
        if current.id == previous.id {
            return Err(SigningKeyError::DuplicateId { id: current.id });
        }
        Ok(SigningKeys {
            current,
            previous: Some(previous),
        })
    }

    /// Starts a rotation: `next` signs from now on, the current key only
    /// verifies, and the previous one (if any) stops verifying.
    pub fn rotate(self, next: SigningKey) -> Result<SigningKeys, SigningKeyError> {
        SigningKeys::with_previous(next, self.current)
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// The keys that verify: the current one, then the previous one.
    fn live(&self) -> impl Iterator<Item = &SigningKey> {
        std::iter::once(&self.current).chain(self.previous.as_ref())
    }

    /// Signs `claims` as a token string of `usage` (`pk`/`sk` for
    /// permanent claims; temporary claims are always `tk`).
    pub fn sign(&self, usage: TokenUsage, claims: &Claims) -> String {
        let (usage, payload) = match claims {
            Claims::Permanent { user, authorization } => (
                usage,
                serde_json::to_vec(&PermanentPayload {
                    u: user,
                    a: authorization,
                }),
            ),
            Claims::Temporary {
                user,
                expires,
                issued,
                scopes,
            } => (
                TokenUsage::Temporary,
                serde_json::to_vec(&TemporaryPayload {
                    u: user,
                    exp: expires.unix_seconds(),
                    iat: issued.unix_seconds(),
                    scopes: scopes.iter().map(TokenScope::as_str).collect(),
                    client: "api",
                }),
            ),
        };
        // Serializing strings, integers and a list of strings cannot fail;
        // were it to, the empty payload would be refused as malformed.
        let payload = payload.unwrap_or_default();
        let mut out = String::with_capacity(128);
        out.push_str(usage.as_str());
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut out);
        let tag = self.current.tag(out.as_bytes());
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut out);
        out
    }

    /// Parses and verifies a token string.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, TokenStringError> {
        self.verify_with(token, |usage, claims| VerifiedToken {
            usage,
            claims: claims.to_owned_claims(),
        })
    }
}

/// What a token string says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claims {
    /// A `pk` or `sk` token: its metadata is found by `authorization`.
    Permanent {
        /// The account's user name.
        user: String,
        /// The token's id.
        authorization: String,
    },
    /// A `tk` token, complete in itself.
    Temporary {
        /// The account's user name.
        user: String,
        /// When it stops working (`exp`).
        expires: Timestamp,
        /// When it was created (`iat`).
        issued: Timestamp,
        /// Its scopes.
        scopes: TokenScopeSet,
    },
}

impl Claims {
    /// The account's user name.
    pub fn user(&self) -> &str {
        match self {
            Claims::Permanent { user, .. } | Claims::Temporary { user, .. } => user,
        }
    }
}

/// Why a token string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenStringError {
    /// It cannot be parsed (the Tokens API's `TokenMalformed`).
    #[error("token: malformed: {reason}")]
    Malformed {
        /// What is wrong with its shape.
        reason: &'static str,
    },
    /// It parses but does not verify (`TokenInvalid`).
    #[error("token: invalid: {reason}")]
    Invalid {
        /// What failed.
        reason: &'static str,
        /// What the unverified payload says, for the retrieve answer.
        usage: TokenUsage,
        /// The unverified claims.
        claims: Box<Claims>,
    },
}

/// A token string whose signature and lifetime were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// `pk`, `sk` or `tk`.
    pub usage: TokenUsage,
    /// What it says.
    pub claims: Claims,
}

impl VerifiedToken {
    /// The policy of a `tk` token, built from the string alone (`None` for
    /// `pk`/`sk`, whose policy is the registry's).
    pub fn temporary_policy(&self) -> Option<TokenPolicy> {
        match &self.claims {
            Claims::Temporary { expires, scopes, .. } => TokenPolicy::builder(TokenUsage::Temporary)
                .scopes(scopes.iter())
                .expires(*expires)
                .build()
                .ok(),
            Claims::Permanent { .. } => None,
        }
    }
}

/// A `pk`/`sk` payload as written: `{"u", "a"}`.
#[derive(serde::Serialize)]
struct PermanentPayload<'a> {
    u: &'a str,
    a: &'a str,
}

/// A `tk` payload as written: `{"u", "exp", "iat", "scopes", "client"}`.
#[derive(serde::Serialize)]
struct TemporaryPayload<'a> {
    u: &'a str,
    exp: i64,
    iat: i64,
    scopes: Vec<&'static str>,
    client: &'static str,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadJson<'a> {
    #[serde(borrow)]
    u: Cow<'a, str>,
    #[serde(default, borrow)]
    a: Option<Cow<'a, str>>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default, deserialize_with = "scope_set")]
    scopes: Option<TokenScopeSet>,
    #[serde(default, borrow)]
    client: Option<Cow<'a, str>>,
}

/// `scopes` straight into a set: no list is allocated, and an unknown
/// scope makes the payload malformed.
fn scope_set<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<TokenScopeSet>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Option<TokenScopeSet>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of scope names")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut set = TokenScopeSet::EMPTY;
            while let Some(name) = seq.next_element::<Cow<'de, str>>()? {
                let scope = name.parse::<TokenScope>().map_err(serde::de::Error::custom)?;
                set = set.with(scope);
            }
            Ok(Some(set))
        }
    }
    deserializer.deserialize_seq(Visitor)
}

/// What a payload says, borrowed from the decoded bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClaimsRef<'a> {
    Permanent {
        user: &'a str,
        authorization: &'a str,
    },
    Temporary {
        user: &'a str,
        expires: Timestamp,
        issued: Timestamp,
        scopes: TokenScopeSet,
    },
}

impl ClaimsRef<'_> {
    pub(crate) fn user(&self) -> &str {
        match self {
            ClaimsRef::Permanent { user, .. } | ClaimsRef::Temporary { user, .. } => user,
        }
    }

    pub(crate) fn to_owned_claims(self) -> Claims {
        match self {
            ClaimsRef::Permanent { user, authorization } => Claims::Permanent {
                user: user.to_owned(),
                authorization: authorization.to_owned(),
            },
            ClaimsRef::Temporary {
                user,
                expires,
                issued,
                scopes,
            } => Claims::Temporary {
                user: user.to_owned(),
                expires,
                issued,
                scopes,
            },
        }
    }
}

const fn malformed(reason: &'static str) -> TokenStringError {
    TokenStringError::Malformed { reason }
}

fn is_base64url(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl SigningKeys {
    /// The core of [`SigningKeys::verify`], borrowing the claims from the
    /// decoded payload so the hot path allocates nothing: checks the shape
    /// and decodes (no MAC yet), verifies the MAC with a live key, checks a `tk`'s lifetime, then hands the claims to `f`.
    pub(crate) fn verify_with<R>(
        &self,
        token: &str,
        f: impl FnOnce(TokenUsage, ClaimsRef<'_>) -> R,
    ) -> Result<R, TokenStringError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(malformed("longer than 1024 characters"));
        }
        let (signed, signature) = token
            .rsplit_once('.')
            .ok_or(malformed("expected usage.payload.signature"))?;
        let (usage, payload) = signed
            .split_once('.')
            .ok_or(malformed("expected usage.payload.signature"))?;
        let usage = match usage {
            "pk" => TokenUsage::Public,
            "sk" => TokenUsage::Secret,
            "tk" => TokenUsage::Temporary,
            _ => return Err(malformed("the usage is not pk, sk or tk")),
        };
        if !is_base64url(payload) || !is_base64url(signature) {
            return Err(malformed("the payload and signature must be non-empty base64url"));
        }
        if signature.len() != SIGNATURE_CHARS {
            return Err(malformed("the signature is not 32 bytes"));
        }
        let mut sig = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(signature, &mut sig) {
            Ok(32) => {}
            _ => return Err(malformed("the signature is not 32 bytes of base64url")),
        }
        // The whole string is at most MAX_TOKEN_LEN, so the payload decodes
        // into a stack buffer.
        let mut buf = [0u8; MAX_TOKEN_LEN * 3 / 4];
        let len = URL_SAFE_NO_PAD
            .decode_slice(payload, &mut buf)
            .map_err(|_| malformed("the payload is not base64url"))?;
        let bytes = buf.get(..len).ok_or(malformed("the payload is not base64url"))?;
        let json: PayloadJson<'_> =
            serde_json::from_slice(bytes).map_err(|_| malformed("the payload is not the expected JSON"))?;
        let claims = match (usage, &json) {
            (
                TokenUsage::Public | TokenUsage::Secret,
                PayloadJson {
                    u,
                    a: Some(a),
                    exp: None,
                    iat: None,
                    scopes: None,
                    client: None,
                    ..
                },
            ) => ClaimsRef::Permanent {
                user: u,
                authorization: a,
            },
            (
                TokenUsage::Temporary,
                PayloadJson {
                    u,
                    a: None,
                    exp: Some(exp),
                    iat: Some(iat),
                    scopes: Some(scopes),
                    client: Some(client),
                    ..
                },
            ) if client == "api" => ClaimsRef::Temporary {
                user: u,
                expires: Timestamp::from_unix_seconds(*exp).ok_or(malformed("exp is out of range"))?,
                issued: Timestamp::from_unix_seconds(*iat).ok_or(malformed("iat is out of range"))?,
                scopes: *scopes,
            },
            _ => return Err(malformed("the payload's fields do not fit the usage")),
        };
        let invalid = |reason| TokenStringError::Invalid {
            reason,
            usage,
            claims: Box::new(claims.to_owned_claims()),
        };
        // Every live key is tried, each in constant time; the current one
        // first, as nearly every token is signed with it.
        if !self.live().any(|key| key.verify(signed.as_bytes(), &sig)) {
            return Err(invalid("the signature does not verify"));
        }
        if let ClaimsRef::Temporary { expires, issued, .. } = claims {
            let life = expires.unix_seconds().saturating_sub(issued.unix_seconds());
            if !(1..=MAX_TEMPORARY_LIFETIME_SECONDS).contains(&life) {
                return Err(invalid("a tk token may live at most one hour"));
            }
        }
        Ok(f(usage, claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SigningKeys {
        SigningKeys::new(SigningKey::new("k1", &[7u8; 32]).unwrap())
    }

    #[test]
    fn a_signed_pk_verifies_and_decodes() {
        let claims = Claims::Permanent {
            user: "alice".into(),
            authorization: "abc".into(),
        };
        let s = keys().sign(TokenUsage::Public, &claims);
        assert!(s.starts_with("pk."));
        let v = keys().verify(&s).unwrap();
        assert_eq!(v.usage, TokenUsage::Public);
        assert_eq!(v.claims, claims);
    }

    #[test]
    fn signing_keys_validate_ids_and_secrets() {
        assert!(matches!(
            SigningKey::new("", &[0; 32]),
            Err(SigningKeyError::InvalidId { .. })
        ));
        assert!(matches!(
            SigningKey::new("a b", &[0; 32]),
            Err(SigningKeyError::InvalidId { .. })
        ));
        assert!(matches!(
            SigningKey::new("a", &[0; 31]),
            Err(SigningKeyError::ShortSecret { len: 31, .. })
        ));
        let k = SigningKey::new("a", &[0; 32]).unwrap();
        assert!(matches!(
            SigningKeys::with_previous(k.clone(), k),
            Err(SigningKeyError::DuplicateId { .. })
        ));
    }
}
