//! Tokens API operations. An [`Actor`] is the owner (the console, who may
//! grant any scope) or a token string (bound by its own scopes).
//!
//! Checks run in this order, so the answer never reveals more than the
//! actor may know: the actor's string (401 `Unauthorized`), its
//! `tokens:write`/`tokens:read` scope (404 `Not found`), the id (404),
//! then the body (422).

use crate::lifecycle::account::{default_token_policy, Account, TokenRecord};
use crate::lifecycle::body::{scope_names, CreatedToken, TemporaryTokenObject, TokenObject};
use crate::lifecycle::change::{Change, Planned};
use crate::lifecycle::error::TokenError;
use crate::lifecycle::random::RandomSource;
use crate::lifecycle::token_access::{Actor, Powers};
use crate::lifecycle::token_string::{Claims, SigningKeys, MAX_TEMPORARY_LIFETIME_SECONDS};
use crate::token::{Timestamp, TokenPolicy, TokenPolicyError, TokenScope, TokenScopeSet, TokenUsage};

/// The body of a create or update: `{"note"?, "scopes"?, "allowedUrls"?,
/// "expires"?}`, unknown fields refused. A create with `expires` asks for
/// a `tk`; without, for a `pk` (public scopes only) or `sk` (any secret
/// scope), and needs `scopes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// A free-text note.
    #[serde(default)]
    pub note: Option<String>,
    /// Scope names.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// URL restrictions.
    #[serde(default, rename = "allowedUrls")]
    pub allowed_urls: Option<Vec<String>>,
    /// A `tk`'s expiry, RFC 3339.
    #[serde(default)]
    pub expires: Option<String>,
}

fn parse_scopes(names: &[String]) -> Result<TokenScopeSet, TokenError> {
    names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            name.parse::<TokenScope>()
                .map_err(|source| TokenError::Policy(TokenPolicyError::UnknownKeyScope { index, source }))
        })
        .collect()
}

impl TokenRecord {
    /// The token object; `token` is included when `with_string` (the
    /// string is re-derived by signing: it is never stored).
    pub fn object(&self, user: &str, keys: &SigningKeys, with_string: bool) -> TokenObject {
        let token = with_string.then(|| {
            keys.sign(
                self.policy.usage(),
                &Claims::Permanent {
                    user: user.to_owned(),
                    authorization: self.id.clone(),
                },
            )
        });
        TokenObject {
            id: self.id.clone(),
            usage: self.policy.usage(),
            client: "api",
            default: self.policy.is_default(),
            scopes: scope_names(self.policy.scopes()),
            note: self.policy.note().map(str::to_owned),
            created: self.created,
            modified: self.modified,
            allowed_urls: self.policy.allowed_urls().iter().map(ToString::to_string).collect(),
            token,
        }
    }
}

impl Account {
    /// The live `pk`/`sk` token `id`, or 404 `Not found`.
    pub fn live_token(&self, id: &str) -> Result<&TokenRecord, TokenError> {
        self.token(id).ok_or_else(|| TokenError::NotFound {
            id: Some(id.to_owned()),
        })
    }

    /// Creates a `pk`/`sk` token (`{note?, scopes, allowedUrls?}`) or, with
    /// `expires`, a `tk` (`{expires, scopes}`).
    pub fn create_token(
        &self,
        keys: &SigningKeys,
        actor: Actor<'_>,
        body: TokenBody,
        now: Timestamp,
        rng: &mut dyn RandomSource,
    ) -> Result<Planned<CreatedToken>, TokenError> {
        let powers = self.powers(keys, actor, now, TokenScope::TokensWrite)?;
        if let Some(expires) = body.expires.clone() {
            return self.create_temporary(keys, actor, &powers, expires, body, now);
        }
        if powers.expires.is_some() {
            return Err(TokenError::PermanentByTemporary);
        }
        let names = body.scopes.ok_or(TokenError::ScopesRequired)?;
        let scopes = parse_scopes(&names)?;
        if let Some(scope) = scopes.iter().find(|&s| !powers.holds(s)) {
            return Err(TokenError::ScopesInvalid { scope });
        }
        let usage = if scopes.has_secret() {
            TokenUsage::Secret
        } else {
            TokenUsage::Public
        };
        let mut builder = TokenPolicy::builder(usage)
            .scopes(scopes.iter())
            .allowed_urls(body.allowed_urls.unwrap_or_default());
        if let Some(note) = body.note {
            builder = builder.note(note);
        }
        let policy = builder.build()?;
        let id = self.new_id(rng)?;
        let record = TokenRecord::new(&id, policy.clone(), now);
        Ok(Planned {
            change: Some(Change::TokenCreated { id, policy, at: now }),
            answer: CreatedToken::Permanent(record.object(self.user(), keys, true)),
        })
    }

    fn create_temporary(
        &self,
        keys: &SigningKeys,
        actor: Actor<'_>,
        powers: &Powers,
        expires: String,
        body: TokenBody,
        now: Timestamp,
    ) -> Result<Planned<CreatedToken>, TokenError> {
        if actor == Actor::Owner {
            return Err(TokenError::TemporaryByOwner);
        }
        if let Some(value) = body.allowed_urls.as_ref().and_then(|urls| urls.first()) {
            return Err(TokenError::Policy(TokenPolicyError::TemporaryTokenAllowedUrls {
                index: 0,
                value: value.clone(),
            }));
        }
        if body.note.is_some() {
            return Err(TokenError::FieldNotAllowed {
                field: "note",
                context: "on a tk token",
            });
        }
        let expires: Timestamp = expires
            .parse()
            .map_err(|_| TokenError::InvalidExpires { value: expires.clone() })?;
        // The payload holds whole seconds: judge the instants it will hold.
        let issued_s = now.unix_seconds();
        let expires_s = expires.unix_seconds();
        if expires <= now || expires_s <= issued_s {
            return Err(TokenError::ExpiresInPast { expires });
        }
        if expires_s - issued_s > MAX_TEMPORARY_LIFETIME_SECONDS {
            return Err(TokenError::ExpiresTooFar { expires });
        }
        if let Some(actor_expires) = powers.expires {
            if expires_s > actor_expires.unix_seconds() {
                return Err(TokenError::ExpiresAfterActor { expires, actor_expires });
            }
        }
        let names = body.scopes.ok_or(TokenError::ScopesRequired)?;
        let scopes = parse_scopes(&names)?;
        if let Some(scope) = scopes.iter().find(|&s| !powers.holds(s)) {
            return Err(TokenError::ScopesInvalid { scope });
        }
        let (Some(issued), Some(expires)) = (
            Timestamp::from_unix_seconds(issued_s),
            Timestamp::from_unix_seconds(expires_s),
        ) else {
            return Err(TokenError::ExpiresTooFar { expires });
        };
        let token = keys.sign(
            TokenUsage::Temporary,
            &Claims::Temporary {
                user: self.user().to_owned(),
                expires,
                issued,
                scopes,
            },
        );
        Ok(Planned {
            change: None,
            answer: CreatedToken::Temporary(TemporaryTokenObject { token, expires }),
        })
    }

    /// Updates a `pk`/`sk` token's note, scopes and URL restrictions.
    pub fn update_token(
        &self,
        keys: &SigningKeys,
        actor: Actor<'_>,
        id: &str,
        body: TokenBody,
        now: Timestamp,
    ) -> Result<Planned<TokenObject>, TokenError> {
        let powers = self.powers(keys, actor, now, TokenScope::TokensWrite)?;
        let record = self.live_token(id)?;
        if body.expires.is_some() {
            return Err(TokenError::FieldNotAllowed {
                field: "expires",
                context: "on an update: only tk tokens expire, and they cannot be updated",
            });
        }
        let current = &record.policy;
        let scopes = match &body.scopes {
            Some(names) => {
                let scopes = parse_scopes(names)?;
                if current.scopes().is_empty() && !scopes.is_empty() {
                    return Err(TokenError::ScopesOnScopelessToken);
                }
                if let Some(scope) = scopes.iter().find(|&s| !powers.holds(s)) {
                    return Err(TokenError::ScopesInvalid { scope });
                }
                scopes
            }
            None => current.scopes(),
        };
        let urls: Vec<String> = match body.allowed_urls {
            Some(urls) => urls,
            None => current.allowed_urls().iter().map(ToString::to_string).collect(),
        };
        let mut builder = TokenPolicy::builder(current.usage())
            .scopes(scopes.iter())
            .allowed_urls(urls)
            .default_token(current.is_default());
        if let Some(note) = body.note.or_else(|| current.note().map(str::to_owned)) {
            builder = builder.note(note);
        }
        let policy = builder.build()?;
        let updated = TokenRecord {
            policy: policy.clone(),
            modified: now,
            ..record.clone()
        };
        let with_string = policy.usage() == TokenUsage::Public;
        Ok(Planned {
            change: Some(Change::TokenUpdated {
                id: id.to_owned(),
                policy,
                at: now,
            }),
            answer: updated.object(self.user(), keys, with_string),
        })
    }

    /// Deletes a `pk`/`sk` token for good. Deleting the default token
    /// generates a new default token (new id, new string); the answer is
    /// empty either way (204), and the new default is found by listing.
    pub fn delete_token(
        &self,
        keys: &SigningKeys,
        actor: Actor<'_>,
        id: &str,
        now: Timestamp,
        rng: &mut dyn RandomSource,
    ) -> Result<Planned<()>, TokenError> {
        self.authorize(keys, actor, now, TokenScope::TokensWrite)?;
        let record = self.live_token(id)?;
        let change = if record.policy.is_default() {
            Change::DefaultTokenReplaced {
                deleted: id.to_owned(),
                id: self.new_id(rng)?,
                policy: default_token_policy()?,
                at: now,
            }
        } else {
            Change::TokenDeleted {
                id: id.to_owned(),
                at: now,
            }
        };
        Ok(Planned {
            change: Some(change),
            answer: (),
        })
    }

    /// Lists every `pk`/`sk` token, oldest first; a `pk`'s string is
    /// included, an `sk`'s never (shown once, at creation). `tk` tokens are
    /// not state and never listed.
    pub fn list_tokens(
        &self,
        keys: &SigningKeys,
        actor: Actor<'_>,
        now: Timestamp,
    ) -> Result<Vec<TokenObject>, TokenError> {
        self.authorize(keys, actor, now, TokenScope::TokensRead)?;
        Ok(self
            .tokens()
            .into_iter()
            .map(|t| t.object(self.user(), keys, t.policy.usage() == TokenUsage::Public))
            .collect())
    }

    /// The current default token's string.
    pub fn default_token_string(&self, keys: &SigningKeys) -> Option<String> {
        self.default_token()
            .and_then(|t| t.object(self.user(), keys, true).token)
    }
}
