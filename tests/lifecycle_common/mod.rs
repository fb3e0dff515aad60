//! Shared set-up of the lifecycle tests: a fixed clock, a fixed signing
//! key, seeded randomness, and shortcuts that create and commit.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a panic is a failed test; each test file uses a different subset"
)]

use keypolicy::lifecycle::{
    Account, Actor, CreatedToken, SeededRandom, SigningKey, SigningKeys, TokenBody, TokenError, TokenObject,
};
use keypolicy::token::Timestamp;

pub fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

pub fn t0() -> Timestamp {
    at("2026-01-01T00:00:00Z")
}

pub fn signing() -> SigningKeys {
    SigningKeys::new(SigningKey::new("test-1", &[1u8; 32]).unwrap())
}

pub struct Fixture {
    pub account: Account,
    pub signing: SigningKeys,
    pub rng: SeededRandom,
    pub default_key: String,
}

pub fn fixture() -> Fixture {
    let mut rng = SeededRandom::new(42);
    let opened = Account::open("alice", t0(), &mut rng).unwrap();
    Fixture {
        account: opened.account,
        signing: signing(),
        rng,
        default_key: opened.default_key.as_str().to_owned(),
    }
}

pub fn body(scopes: &[&str]) -> TokenBody {
    TokenBody {
        scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
        ..TokenBody::default()
    }
}

pub fn tk_body(scopes: &[&str], expires: &str) -> TokenBody {
    TokenBody {
        expires: Some(expires.to_owned()),
        ..body(scopes)
    }
}

impl Fixture {
    /// Creates and commits; the created token or the error.
    pub fn create(&mut self, actor: Actor<'_>, body: TokenBody, now: Timestamp) -> Result<CreatedToken, TokenError> {
        let planned = self
            .account
            .create_token(&self.signing, actor, body, now, &mut self.rng)?;
        Ok(self.account.commit(planned).unwrap())
    }

    /// A pk/sk token created by the owner: (object with its string).
    pub fn owner_token(&mut self, scopes: &[&str]) -> TokenObject {
        match self.create(Actor::Owner, body(scopes), t0()).unwrap() {
            CreatedToken::Permanent(t) => t,
            other => panic!("expected a pk/sk, got {other:?}"),
        }
    }

    /// A tk created by `actor`: its string.
    pub fn tk(&mut self, actor: &str, scopes: &[&str], expires: &str, now: Timestamp) -> Result<String, TokenError> {
        match self.create(Actor::Token(actor), tk_body(scopes, expires), now)? {
            CreatedToken::Temporary(t) => Ok(t.token),
            other => panic!("expected a tk, got {other:?}"),
        }
    }

    pub fn default_token(&self) -> String {
        self.account.default_token_string(&self.signing).unwrap()
    }
}
