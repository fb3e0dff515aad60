//! Who a token string is: verified and resolved against the account, the
//! Tokens API's retrieve answer, and an [`Actor`]'s powers for the
//! operations of [`tokens`](super::tokens).

use std::borrow::Cow;

use crate::lifecycle::account::{Account, TokenRecord};
use crate::lifecycle::body::{scope_names, RetrieveBody, RetrieveCode, RetrievedToken};
use crate::lifecycle::error::TokenError;
use crate::lifecycle::token_string::{Claims, ClaimsRef, SigningKeys, TokenStringError, VerifiedToken};
use crate::token::{Timestamp, TokenPolicy, TokenScope, TokenScopeSet, TokenUsage};

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// The account holder in the console: may grant any scope, cannot
    /// create `tk` tokens (an API feature).
    Owner,
    /// A token string, through the Tokens API.
    Token(&'a str),
}

/// An authenticated actor's powers.
pub(super) struct Powers {
    pub(super) scopes: Option<TokenScopeSet>,
    /// A `tk` actor's expiry.
    pub(super) expires: Option<Timestamp>,
}

impl Powers {
    pub(super) fn holds(&self, scope: TokenScope) -> bool {
        self.scopes.is_none_or(|s| s.contains(scope))
    }
}

/// A token string resolved against the account.
#[derive(Debug, Clone)]
pub enum ResolvedToken<'a> {
    /// A live `pk`/`sk` token.
    Permanent(&'a TokenRecord),
    /// A verified `tk` (not checked for expiry: evaluation does that with
    /// the request's time).
    Temporary {
        /// Its policy, from the string alone.
        policy: TokenPolicy,
        /// What it says.
        token: VerifiedToken,
    },
}

impl ResolvedToken<'_> {
    /// The policy to evaluate requests with.
    pub fn policy(&self) -> Cow<'_, TokenPolicy> {
        match self {
            ResolvedToken::Permanent(record) => Cow::Borrowed(&record.policy),
            ResolvedToken::Temporary { policy, .. } => Cow::Borrowed(policy),
        }
    }
}

/// Why a string does not resolve to a usable token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unresolved {
    Malformed,
    Invalid,
    Revoked,
}

impl Account {
    /// Resolves a token string: verified, this account's, and (for
    /// `pk`/`sk`) live. Expiry of a `tk` is left to evaluation.
    pub fn resolve_token(&self, keys: &SigningKeys, token: &str) -> Option<ResolvedToken<'_>> {
        self.resolve(keys, token).ok()
    }

    fn resolve(&self, keys: &SigningKeys, token: &str) -> Result<ResolvedToken<'_>, (Unresolved, Option<ParsedInfo>)> {
        // The claims are borrowed from the decoded payload; they are copied
        // only for a failure's retrieve answer or a `tk`'s own policy.
        let outcome = keys.verify_with(token, |usage, claims| {
            let fail = |why| {
                Err((
                    why,
                    Some(ParsedInfo {
                        usage,
                        claims: claims.to_owned_claims(),
                    }),
                ))
            };
            if claims.user() != self.user() {
                return fail(Unresolved::Invalid);
            }
            match claims {
                ClaimsRef::Permanent { authorization, .. } => match self.token(authorization) {
                    Some(record) if record.policy.usage() == usage => Ok(ResolvedToken::Permanent(record)),
                    Some(_) => fail(Unresolved::Invalid),
                    None if self.is_deleted_token(authorization) => fail(Unresolved::Revoked),
                    None => fail(Unresolved::Invalid),
                },
                ClaimsRef::Temporary { .. } => {
                    let token = VerifiedToken {
                        usage,
                        claims: claims.to_owned_claims(),
                    };
                    match token.temporary_policy() {
                        Some(policy) => Ok(ResolvedToken::Temporary { policy, token }),
                        None => fail(Unresolved::Invalid),
                    }
                }
            }
        });
        match outcome {
            Ok(resolved) => resolved,
            Err(TokenStringError::Invalid { usage, claims, .. }) => {
                Err((Unresolved::Invalid, Some(ParsedInfo { usage, claims: *claims })))
            }
            Err(_) => Err((Unresolved::Malformed, None)),
        }
    }

    /// `GET /tokens/v2?access_token=T`: the verdict on a string at `now`.
    pub fn retrieve_token(&self, keys: &SigningKeys, token: &str, now: Timestamp) -> RetrieveBody {
        let (code, info) = match self.resolve(keys, token) {
            Ok(ResolvedToken::Permanent(record)) => (
                RetrieveCode::TokenValid,
                ParsedInfo {
                    usage: record.policy.usage(),
                    claims: Claims::Permanent {
                        user: self.user().to_owned(),
                        authorization: record.id.clone(),
                    },
                },
            ),
            Ok(ResolvedToken::Temporary { token, .. }) => {
                let expired = matches!(&token.claims, Claims::Temporary { expires, .. } if *expires <= now);
                let code = if expired {
                    RetrieveCode::TokenExpired
                } else {
                    RetrieveCode::TokenValid
                };
                (
                    code,
                    ParsedInfo {
                        usage: token.usage,
                        claims: token.claims,
                    },
                )
            }
            Err((why, info)) => {
                let code = match why {
                    Unresolved::Malformed => RetrieveCode::TokenMalformed,
                    Unresolved::Invalid => RetrieveCode::TokenInvalid,
                    Unresolved::Revoked => RetrieveCode::TokenRevoked,
                };
                return RetrieveBody {
                    code,
                    token: info.map(ParsedInfo::retrieved),
                };
            }
        };
        RetrieveBody {
            code,
            token: Some(info.retrieved()),
        }
    }

    fn authenticate(&self, keys: &SigningKeys, actor: Actor<'_>, now: Timestamp) -> Result<Powers, TokenError> {
        let token = match actor {
            Actor::Owner => {
                return Ok(Powers {
                    scopes: None,
                    expires: None,
                })
            }
            Actor::Token(token) => token,
        };
        let unauthorized = |reason| TokenError::Unauthorized { reason };
        match self.resolve(keys, token) {
            Ok(ResolvedToken::Permanent(record)) => Ok(Powers {
                scopes: Some(record.policy.scopes()),
                expires: None,
            }),
            Ok(ResolvedToken::Temporary { policy, .. }) => match policy.expires() {
                Some(expires) if now < expires => Ok(Powers {
                    scopes: Some(policy.scopes()),
                    expires: Some(expires),
                }),
                _ => Err(unauthorized("the actor tk token has expired")),
            },
            Err((Unresolved::Malformed, _)) => Err(unauthorized("the actor token is malformed")),
            Err((Unresolved::Invalid, _)) => Err(unauthorized("the actor token does not verify")),
            Err((Unresolved::Revoked, _)) => Err(unauthorized("the actor token was deleted")),
        }
    }

    /// Authenticates `actor` and checks that it holds `needs` (the owner
    /// holds every scope): 401 or 404 as the Tokens API answers. The
    /// operations call this first; it is public so that a caller who cannot
    /// even read a request body still answers in the same order.
    pub fn authorize(
        &self,
        keys: &SigningKeys,
        actor: Actor<'_>,
        now: Timestamp,
        needs: TokenScope,
    ) -> Result<(), TokenError> {
        self.powers(keys, actor, now, needs).map(|_| ())
    }

    pub(super) fn powers(
        &self,
        keys: &SigningKeys,
        actor: Actor<'_>,
        now: Timestamp,
        needs: TokenScope,
    ) -> Result<Powers, TokenError> {
        let powers = self.authenticate(keys, actor, now)?;
        if !powers.holds(needs) {
            return Err(TokenError::NotFound { id: None });
        }
        Ok(powers)
    }
}

/// What a parseable string says, verified or not.
#[derive(Debug, Clone)]
struct ParsedInfo {
    usage: TokenUsage,
    claims: Claims,
}

impl ParsedInfo {
    fn retrieved(self) -> RetrievedToken {
        match self.claims {
            Claims::Permanent { user, authorization } => RetrievedToken::Permanent {
                usage: self.usage,
                user,
                authorization,
            },
            Claims::Temporary {
                user,
                expires,
                issued,
                scopes,
            } => RetrievedToken::Temporary {
                usage: self.usage,
                user,
                expires,
                created: issued,
                scopes: scope_names(scopes),
                client: "api",
            },
        }
    }
}
