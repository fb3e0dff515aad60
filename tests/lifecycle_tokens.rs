//! The Tokens API rules of the lifecycle (seed 003 and issue 11), one
//! test per rule.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failed test"
)]

mod lifecycle_common;

use keypolicy::lifecycle::{Actor, CreatedToken, RetrieveCode, TokenBody, TokenError};
use keypolicy::token::{TokenScope, TokenScopeSet, TokenUsage};
use keypolicy::{evaluate_token, TokenRequest};
use lifecycle_common::{at, body, fixture, t0, tk_body, Fixture};
use serde_json::json;

fn message(e: &TokenError) -> String {
    serde_json::to_value(e.body()).unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn code(f: &Fixture, token: &str, now: &str) -> RetrieveCode {
    f.account.retrieve_token(&f.signing, token, at(now)).code
}

const ADMIN: &[&str] = &["tokens:read", "tokens:write", "styles:read", "fonts:read", "map:read"];

#[test]
fn every_account_has_a_default_public_token_with_every_public_scope() {
    let f = fixture();
    let tokens = f.account.tokens();
    let defaults: Vec<_> = tokens.iter().filter(|t| t.policy.is_default()).collect();
    assert_eq!(defaults.len(), 1);
    let policy = &defaults[0].policy;
    assert_eq!(policy.usage(), TokenUsage::Public);
    assert_eq!(policy.scopes(), TokenScopeSet::PUBLIC);
    assert!(!policy.is_url_restricted());
    assert_eq!(
        code(&f, &f.default_token(), "2026-01-01T00:00:00Z"),
        RetrieveCode::TokenValid
    );
}

#[test]
fn the_default_token_never_gets_a_secret_scope_422() {
    let f = fixture();
    let id = f.account.default_token().unwrap().id.clone();
    let err = f
        .account
        .update_token(&f.signing, Actor::Owner, &id, body(&["styles:read", "map:read"]), t0())
        .unwrap_err();
    assert_eq!(err.status(), 422);
    assert!(message(&err).contains("default token"), "{err}");
}

#[test]
fn the_default_token_never_gets_allowed_urls_422() {
    let f = fixture();
    let id = f.account.default_token().unwrap().id.clone();
    let update = TokenBody {
        allowed_urls: Some(vec!["https://example.com".into()]),
        ..TokenBody::default()
    };
    let err = f
        .account
        .update_token(&f.signing, Actor::Owner, &id, update, t0())
        .unwrap_err();
    assert_eq!(err.status(), 422);
    assert!(
        message(&err).contains("default token cannot have URL restrictions"),
        "{err}"
    );
}

#[test]
fn deleting_the_default_token_generates_a_new_one_and_revokes_the_old() {
    let mut f = fixture();
    let old_id = f.account.default_token().unwrap().id.clone();
    let old = f.default_token();
    let planned = f
        .account
        .delete_token(&f.signing, Actor::Owner, &old_id, t0(), &mut f.rng)
        .unwrap();
    f.account.commit(planned).unwrap();
    let new = f.default_token();
    assert_ne!(new, old);
    let record = f.account.default_token().unwrap();
    assert_ne!(record.id, old_id);
    assert!(record.policy.is_default());
    assert_eq!(record.policy.scopes(), TokenScopeSet::PUBLIC);
    assert_eq!(code(&f, &old, "2026-01-01T00:00:00Z"), RetrieveCode::TokenRevoked);
    assert_eq!(code(&f, &new, "2026-01-01T00:00:00Z"), RetrieveCode::TokenValid);
    assert!(f.account.resolve_token(&f.signing, &old).is_none());
}

#[test]
fn usage_follows_the_scopes() {
    let mut f = fixture();
    assert_eq!(f.owner_token(&["styles:read"]).usage, TokenUsage::Public);
    assert_eq!(
        f.owner_token(&["styles:read", "uploads:write"]).usage,
        TokenUsage::Secret
    );
    assert_eq!(f.owner_token(&[]).usage, TokenUsage::Public);
    let sk = f.owner_token(&["map:read"]);
    assert!(sk.token.as_deref().unwrap().starts_with("sk."));
}

#[test]
fn a_token_actor_cannot_grant_a_scope_it_lacks_422() {
    let mut f = fixture();
    let admin = f.owner_token(&["tokens:write", "styles:read"]).token.unwrap();
    let err = f
        .create(Actor::Token(&admin), body(&["styles:read", "fonts:read"]), t0())
        .unwrap_err();
    assert_eq!((err.status(), message(&err).as_str()), (422, "scopes are invalid"));
    assert!(matches!(
        err,
        TokenError::ScopesInvalid {
            scope: TokenScope::FontsRead
        }
    ));
    // Within its scopes, it may.
    assert!(f.create(Actor::Token(&admin), body(&["styles:read"]), t0()).is_ok());
    // The owner may grant anything.
    assert!(f.create(Actor::Owner, body(&["atlas:read"]), t0()).is_ok());
}

#[test]
fn allowed_urls_are_validated_as_the_crate_validates_them() {
    let mut f = fixture();
    let with_urls = |urls: Vec<String>| TokenBody {
        allowed_urls: Some(urls),
        ..body(&["styles:read"])
    };
    let err = f
        .create(Actor::Owner, with_urls(vec!["https://*.example.com".into()]), t0())
        .unwrap_err();
    assert_eq!(err.status(), 422);
    assert!(message(&err).starts_with("allowedUrls[0]"), "{err}");
    let many: Vec<String> = (0..101).map(|i| format!("site{i}.example.com")).collect();
    let err = f.create(Actor::Owner, with_urls(many), t0()).unwrap_err();
    assert_eq!(message(&err), "allowedUrls: 101 entries; at most 100 are allowed");
    let ok = f
        .create(Actor::Owner, with_urls(vec!["HTTPS://Example.com/maps/".into()]), t0())
        .unwrap();
    let CreatedToken::Permanent(token) = ok else { panic!() };
    assert_eq!(token.allowed_urls, ["https://example.com/maps"]);
}

#[test]
fn a_token_created_without_scopes_can_never_get_any_422() {
    let mut f = fixture();
    let empty = f.owner_token(&[]);
    let err = f
        .account
        .update_token(&f.signing, Actor::Owner, &empty.id, body(&["styles:read"]), t0())
        .unwrap_err();
    assert_eq!(err, TokenError::ScopesOnScopelessToken);
    assert_eq!(err.status(), 422);
    // A note can still change.
    let note = TokenBody {
        note: Some("renamed".into()),
        ..TokenBody::default()
    };
    assert!(f
        .account
        .update_token(&f.signing, Actor::Owner, &empty.id, note, t0())
        .is_ok());
}

#[test]
fn the_owner_cannot_create_a_temporary_token_422() {
    let mut f = fixture();
    let err = f
        .create(Actor::Owner, tk_body(&["styles:read"], "2026-01-01T00:30:00Z"), t0())
        .unwrap_err();
    assert_eq!((err, 422), (TokenError::TemporaryByOwner, 422));
}

#[test]
fn temporary_tokens_need_tokens_write_404() {
    let mut f = fixture();
    let pk = f.default_token();
    let sk = f.owner_token(&["styles:read", "map:read"]).token.unwrap();
    for actor in [pk, sk] {
        let err = f
            .tk(&actor, &["styles:read"], "2026-01-01T00:30:00Z", t0())
            .unwrap_err();
        assert_eq!((err.status(), message(&err).as_str()), (404, "Not found"));
    }
}

#[test]
fn temporary_expiry_at_or_before_now_is_in_the_past() {
    let mut f = fixture();
    let sk = f.owner_token(&["tokens:write", "styles:read"]).token.unwrap();
    for expires in ["2026-01-01T00:00:00Z", "2025-12-31T23:59:59Z"] {
        let err = f.tk(&sk, &["styles:read"], expires, t0()).unwrap_err();
        assert_eq!((err.status(), message(&err).as_str()), (422, "expires is in the past"));
    }
}

#[test]
fn temporary_expiry_more_than_an_hour_ahead_is_refused() {
    let mut f = fixture();
    let sk = f.owner_token(&["tokens:write", "styles:read"]).token.unwrap();
    let err = f.tk(&sk, &["styles:read"], "2026-01-01T01:00:01Z", t0()).unwrap_err();
    assert_eq!(
        (err.status(), message(&err).as_str()),
        (422, "expires is more than one hour in the future")
    );
    assert!(f.tk(&sk, &["styles:read"], "2026-01-01T01:00:00Z", t0()).is_ok());
}

#[test]
fn a_temporary_token_cannot_outlive_its_authorizing_temporary_token() {
    let mut f = fixture();
    let sk = f.owner_token(&["tokens:write", "styles:read"]).token.unwrap();
    let tk = f
        .tk(&sk, &["tokens:write", "styles:read"], "2026-01-01T00:30:00Z", t0())
        .unwrap();
    let err = f.tk(&tk, &["styles:read"], "2026-01-01T00:30:01Z", t0()).unwrap_err();
    assert_eq!(
        message(&err),
        "expires may not be greater than the expiration of the authorizing token"
    );
    assert!(f.tk(&tk, &["styles:read"], "2026-01-01T00:30:00Z", t0()).is_ok());
}

#[test]
fn temporary_scopes_must_be_held_by_the_actor() {
    let mut f = fixture();
    let sk = f.owner_token(&["tokens:write", "styles:read"]).token.unwrap();
    let err = f
        .tk(&sk, &["styles:read", "map:read"], "2026-01-01T00:30:00Z", t0())
        .unwrap_err();
    assert_eq!(message(&err), "scopes are invalid");
}

#[test]
fn temporary_tokens_cannot_have_allowed_urls_422() {
    let mut f = fixture();
    let sk = f.owner_token(&["tokens:write", "styles:read"]).token.unwrap();
    let with_urls = TokenBody {
        allowed_urls: Some(vec!["example.com".into()]),
        ..tk_body(&["styles:read"], "2026-01-01T00:30:00Z")
    };
    let err = f.create(Actor::Token(&sk), with_urls, t0()).unwrap_err();
    assert_eq!(err.status(), 422);
    assert!(
        message(&err).contains("a tk token cannot have URL restrictions"),
        "{err}"
    );
}

#[test]
fn a_temporary_actor_may_create_only_temporary_tokens_422() {
    let mut f = fixture();
    let sk = f.owner_token(&["tokens:write", "styles:read"]).token.unwrap();
    let tk = f
        .tk(&sk, &["tokens:write", "styles:read"], "2026-01-01T00:30:00Z", t0())
        .unwrap();
    let err = f.create(Actor::Token(&tk), body(&["styles:read"]), t0()).unwrap_err();
    assert_eq!((err.status(), err), (422, TokenError::PermanentByTemporary));
}

#[test]
fn update_applies_the_subset_rule() {
    let mut f = fixture();
    let admin = f.owner_token(&["tokens:write", "styles:read"]).token.unwrap();
    let target = f.owner_token(&["styles:read"]);
    let err = f
        .account
        .update_token(
            &f.signing,
            Actor::Token(&admin),
            &target.id,
            body(&["fonts:read"]),
            t0(),
        )
        .unwrap_err();
    assert_eq!(message(&err), "scopes are invalid");
    let planned = f
        .account
        .update_token(&f.signing, Actor::Owner, &target.id, body(&["fonts:read"]), t0())
        .unwrap();
    assert_eq!(f.account.commit(planned).unwrap().scopes, ["fonts:read"]);
}

#[test]
fn a_public_token_may_only_get_public_scopes_422() {
    let mut f = fixture();
    let pk = f.owner_token(&["styles:read"]);
    let err = f
        .account
        .update_token(
            &f.signing,
            Actor::Owner,
            &pk.id,
            body(&["styles:read", "map:read"]),
            t0(),
        )
        .unwrap_err();
    assert_eq!(err.status(), 422);
    assert!(
        message(&err).contains("a pk token can only hold public scopes"),
        "{err}"
    );
}

#[test]
fn temporary_tokens_have_no_id_404() {
    let mut f = fixture();
    let sk = f.owner_token(&["tokens:write", "styles:read"]).token.unwrap();
    let tk = f.tk(&sk, &["styles:read"], "2026-01-01T00:30:00Z", t0()).unwrap();
    let update = f
        .account
        .update_token(&f.signing, Actor::Token(&sk), &tk, body(&[]), t0());
    assert_eq!(update.unwrap_err().status(), 404);
    let delete = f
        .account
        .delete_token(&f.signing, Actor::Token(&sk), &tk, t0(), &mut f.rng);
    assert_eq!(delete.unwrap_err().status(), 404);
    assert_eq!(f.account.tokens().len(), 2, "a tk is never state");
}

#[test]
fn delete_is_permanent_and_ids_are_never_reused() {
    let mut f = fixture();
    let pk = f.owner_token(&["styles:read"]);
    let planned = f
        .account
        .delete_token(&f.signing, Actor::Owner, &pk.id, t0(), &mut f.rng)
        .unwrap();
    assert!(planned.change.is_some());
    f.account.commit(planned).unwrap();
    let string = pk.token.unwrap();
    assert_eq!(code(&f, &string, "2026-01-01T00:00:00Z"), RetrieveCode::TokenRevoked);
    let again = f
        .account
        .delete_token(&f.signing, Actor::Owner, &pk.id, t0(), &mut f.rng);
    assert_eq!(
        again.unwrap_err(),
        TokenError::NotFound {
            id: Some(pk.id.clone())
        }
    );
    let reuse = keypolicy::lifecycle::Change::TokenCreated {
        id: pk.id,
        policy: keypolicy::TokenPolicy::builder(TokenUsage::Public).build().unwrap(),
        at: t0(),
    };
    assert!(f.account.apply(&reuse).is_err());
}

#[test]
fn list_shows_pk_strings_never_sk_strings_nor_tk_tokens() {
    let mut f = fixture();
    let admin = f.owner_token(ADMIN);
    let pk = f.owner_token(&["styles:read"]);
    let admin_string = admin.token.clone().unwrap();
    f.tk(&admin_string, &["styles:read"], "2026-01-01T00:30:00Z", t0())
        .unwrap();
    let list = f
        .account
        .list_tokens(&f.signing, Actor::Token(&admin_string), t0())
        .unwrap();
    assert_eq!(list.len(), 3);
    let json = serde_json::to_value(&list).unwrap();
    for token in json.as_array().unwrap() {
        assert_eq!(token["token"].is_string(), token["usage"] == "pk", "{token}");
        assert_ne!(token["usage"], "tk");
    }
    assert_eq!(json[0]["default"], true);
    assert_eq!(json[2]["token"], json!(pk.token.unwrap()));
    assert!(!json.to_string().contains(&admin_string));
}

#[test]
fn list_needs_tokens_read_404() {
    let mut f = fixture();
    let writer = f.owner_token(&["tokens:write"]).token.unwrap();
    let err = f
        .account
        .list_tokens(&f.signing, Actor::Token(&writer), t0())
        .unwrap_err();
    assert_eq!((err.status(), message(&err).as_str()), (404, "Not found"));
}

#[test]
fn write_operations_need_tokens_write_404() {
    let mut f = fixture();
    let reader = f.owner_token(&["tokens:read", "styles:read"]).token.unwrap();
    let id = f.account.default_token().unwrap().id.clone();
    let create = f
        .create(Actor::Token(&reader), body(&["styles:read"]), t0())
        .unwrap_err();
    let update = f
        .account
        .update_token(&f.signing, Actor::Token(&reader), &id, body(&[]), t0())
        .unwrap_err();
    let delete = f
        .account
        .delete_token(&f.signing, Actor::Token(&reader), &id, t0(), &mut f.rng)
        .unwrap_err();
    for err in [create, update, delete] {
        assert_eq!(
            serde_json::to_value(err.body()).unwrap(),
            json!({"message": "Not found"})
        );
        assert_eq!(err.status(), 404);
    }
}

#[test]
fn malformed_forged_expired_or_deleted_actors_are_401() {
    let mut f = fixture();
    let admin = f.owner_token(ADMIN);
    let admin_string = admin.token.clone().unwrap();
    let tk = f
        .tk(&admin_string, &["tokens:read"], "2026-01-01T00:10:00Z", t0())
        .unwrap();
    let mut forged = admin_string.clone().into_bytes();
    let n = forged.len();
    forged[n - 10] = if forged[n - 10] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let other = keypolicy::lifecycle::SigningKeys::new(keypolicy::lifecycle::SigningKey::new("x", &[3; 32]).unwrap());
    let foreign_key = other.sign(
        TokenUsage::Secret,
        &keypolicy::lifecycle::Claims::Permanent {
            user: "alice".into(),
            authorization: admin.id.clone(),
        },
    );
    let expired_at = at("2026-01-01T00:10:00Z");
    let cases: [(&str, keypolicy::token::Timestamp); 4] = [
        ("not-a-token", t0()),
        (&forged, t0()),
        (&foreign_key, t0()),
        (&tk, expired_at),
    ];
    for (actor, now) in cases {
        let err = f.account.list_tokens(&f.signing, Actor::Token(actor), now).unwrap_err();
        assert_eq!(
            serde_json::to_value(err.body()).unwrap(),
            json!({"message": "Unauthorized"})
        );
        assert_eq!(err.status(), 401);
    }
    let planned = f
        .account
        .delete_token(&f.signing, Actor::Token(&admin_string), &admin.id, t0(), &mut f.rng)
        .unwrap();
    f.account.commit(planned).unwrap();
    let err = f
        .account
        .list_tokens(&f.signing, Actor::Token(&admin_string), t0())
        .unwrap_err();
    assert_eq!(err.status(), 401);
}

#[test]
fn another_accounts_token_is_not_an_actor_here() {
    let mut f = fixture();
    let mut rng = keypolicy::lifecycle::SeededRandom::new(99);
    let bob = keypolicy::lifecycle::Account::open("bob", t0(), &mut rng).unwrap();
    let mut bob = bob.account;
    let planned = bob
        .create_token(&f.signing, Actor::Owner, body(ADMIN), t0(), &mut rng)
        .unwrap();
    let CreatedToken::Permanent(bobs) = bob.commit(planned).unwrap() else {
        panic!()
    };
    let err = f.create(
        Actor::Token(bobs.token.as_deref().unwrap()),
        body(&["styles:read"]),
        t0(),
    );
    assert_eq!(err.unwrap_err().status(), 401);
    assert_eq!(
        code(&f, bobs.token.as_deref().unwrap(), "2026-01-01T00:00:00Z"),
        RetrieveCode::TokenInvalid
    );
}

#[test]
fn retrieve_answers_each_code() {
    let mut f = fixture();
    let admin = f.owner_token(ADMIN).token.unwrap();
    let tk = f.tk(&admin, &["styles:read"], "2026-01-01T00:30:00Z", t0()).unwrap();
    let now = "2026-01-01T00:00:00Z";
    assert_eq!(code(&f, &admin, now), RetrieveCode::TokenValid);
    assert_eq!(code(&f, &tk, now), RetrieveCode::TokenValid);
    assert_eq!(code(&f, &tk, "2026-01-01T00:30:00Z"), RetrieveCode::TokenExpired);
    assert_eq!(code(&f, "pk.nope", now), RetrieveCode::TokenMalformed);
    let bad_sig = {
        let (head, sig) = tk.rsplit_once('.').unwrap();
        let mut sig: Vec<char> = sig.chars().collect();
        sig[20] = if sig[20] == 'A' { 'B' } else { 'A' };
        format!("{head}.{}", sig.into_iter().collect::<String>())
    };
    assert_eq!(code(&f, &bad_sig, now), RetrieveCode::TokenInvalid);
}

#[test]
fn retrieve_bodies_have_the_tokens_api_shape() {
    let mut f = fixture();
    let admin = f.owner_token(ADMIN);
    let admin_string = admin.token.clone().unwrap();
    let tk = f
        .tk(&admin_string, &["styles:read"], "2026-01-01T00:30:00Z", t0())
        .unwrap();
    let body = |t: &str| serde_json::to_value(f.account.retrieve_token(&f.signing, t, t0())).unwrap();
    assert_eq!(
        body(&admin_string),
        json!({"code": "TokenValid", "token": {"usage": "sk", "user": "alice", "authorization": admin.id}})
    );
    assert_eq!(
        body(&tk),
        json!({"code": "TokenValid", "token": {"usage": "tk", "user": "alice",
            "expires": "2026-01-01T00:30:00Z", "created": "2026-01-01T00:00:00Z",
            "scopes": ["styles:read"], "client": "api"}})
    );
    assert_eq!(body("garbage"), json!({"code": "TokenMalformed"}));
}

#[test]
fn token_objects_have_the_tokens_api_shape() {
    let mut f = fixture();
    let created = f
        .create(
            Actor::Owner,
            TokenBody {
                note: Some("web".into()),
                allowed_urls: Some(vec!["example.com".into()]),
                ..body(&["fonts:read", "styles:read"])
            },
            t0(),
        )
        .unwrap();
    let json = serde_json::to_value(&created).unwrap();
    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "allowedUrls",
            "client",
            "created",
            "default",
            "id",
            "modified",
            "note",
            "scopes",
            "token",
            "usage"
        ]
    );
    assert_eq!(json["client"], "api");
    assert_eq!(json["scopes"], json!(["styles:read", "fonts:read"]));
    let admin = f.owner_token(ADMIN).token.unwrap();
    let tk = f
        .create(
            Actor::Token(&admin),
            tk_body(&["styles:read"], "2026-01-01T00:30:00Z"),
            t0(),
        )
        .unwrap();
    let tk = serde_json::to_value(tk).unwrap();
    assert_eq!(tk["expires"], "2026-01-01T00:30:00Z");
    assert_eq!(tk.as_object().unwrap().len(), 2);
}

#[test]
fn a_temporary_token_is_evaluated_from_its_string_alone() {
    let mut f = fixture();
    let admin = f.owner_token(ADMIN).token.unwrap();
    let tk = f.tk(&admin, &["styles:read"], "2026-01-01T00:30:00Z", t0()).unwrap();
    // No account: only the verification key.
    let verified = lifecycle_common::signing().verify(&tk).unwrap();
    let policy = verified.temporary_policy().unwrap();
    let ok = TokenRequest::new(TokenScope::StylesRead).with_now(at("2026-01-01T00:29:59Z"));
    let late = TokenRequest::new(TokenScope::StylesRead).with_now(at("2026-01-01T00:30:00Z"));
    let scope = TokenRequest::new(TokenScope::FontsRead).with_now(t0());
    assert!(evaluate_token(&policy, &ok).is_allowed());
    assert_eq!(evaluate_token(&policy, &late).status(), 401);
    assert_eq!(evaluate_token(&policy, &scope).status(), 403);
}

#[test]
fn a_failed_token_operation_changes_nothing() {
    let mut f = fixture();
    let admin = f.owner_token(&["tokens:write", "styles:read"]).token.unwrap();
    let before = serde_json::to_string(&f.account.list_tokens(&f.signing, Actor::Owner, t0()).unwrap()).unwrap();
    let revision = f.account.revision();
    let id = f.account.default_token().unwrap().id.clone();
    assert!(f.create(Actor::Token(&admin), body(&["map:read"]), t0()).is_err());
    assert!(f
        .account
        .update_token(&f.signing, Actor::Owner, &id, body(&["map:read"]), t0())
        .is_err());
    assert!(f
        .account
        .delete_token(&f.signing, Actor::Token("x"), &id, t0(), &mut f.rng)
        .is_err());
    assert_eq!(f.account.revision(), revision);
    let after = serde_json::to_string(&f.account.list_tokens(&f.signing, Actor::Owner, t0()).unwrap()).unwrap();
    assert_eq!(after, before);
}
