//! The Mappinest key rules of the lifecycle (seed 000 and issue 11), one
//! test per rule.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failed test"
)]

mod lifecycle_common;

use keypolicy::key::{KeyType, Resource};
use keypolicy::lifecycle::{Account, ApplyError, Change, KeyError, KeyString, KeyStringError};
use keypolicy::{evaluate_key, KeyPolicy, KeyRequest};
use lifecycle_common::{at, fixture, t0, Fixture};

fn web_policy(domain: &str) -> KeyPolicy {
    KeyPolicy::builder()
        .key_type(KeyType::Web)
        .allowed_domains([domain])
        .build()
        .unwrap()
}

impl Fixture {
    fn new_key(&mut self, policy: KeyPolicy) -> (String, String) {
        let planned = self.account.create_key(policy, t0(), &mut self.rng).unwrap();
        let object = self.account.commit(planned).unwrap();
        (object.id, object.key.unwrap())
    }

    fn rotate(&mut self, id: &str, grace: Option<i64>, now: keypolicy::token::Timestamp) -> String {
        let planned = self.account.rotate_key(id, grace, now, &mut self.rng).unwrap();
        self.account.commit(planned).unwrap().key.unwrap()
    }
}

fn allowed(f: &Fixture, key: &str, origin: &str, now: keypolicy::token::Timestamp) -> bool {
    let request = KeyRequest::new(Resource::Tiles).with_origin(origin);
    f.account
        .find_key(key, now)
        .is_some_and(|k| evaluate_key(&k.policy, &request).is_allowed())
}

#[test]
fn every_account_has_exactly_one_default_key_and_it_works() {
    let f = fixture();
    let defaults: Vec<_> = f.account.keys().into_iter().filter(|k| k.default).collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(f.account.default_key().unwrap().id, defaults[0].id);
    assert!(allowed(&f, &f.default_key, "https://anything.example", t0()));
}

#[test]
fn the_default_key_cannot_be_edited_409() {
    let f = fixture();
    let id = f.account.default_key().unwrap().id.clone();
    let err = f.account.update_key(&id, web_policy("example.com"), t0()).unwrap_err();
    assert_eq!((err.status(), err.code()), (409, "default_key_read_only"));
    assert!(matches!(err, KeyError::DefaultKeyReadOnly { id: ref got } if *got == id));
}

#[test]
fn the_default_key_cannot_be_deleted_409() {
    let f = fixture();
    let id = f.account.default_key().unwrap().id.clone();
    let err = f.account.delete_key(&id, t0()).unwrap_err();
    assert_eq!((err.status(), err.code()), (409, "default_key_read_only"));
    let body = serde_json::to_value(err.body()).unwrap();
    assert_eq!(body["code"], "default_key_read_only");
    assert!(body["message"].as_str().unwrap().contains(&id));
}

#[test]
fn the_default_key_can_be_rotated() {
    let mut f = fixture();
    let id = f.account.default_key().unwrap().id.clone();
    let old = f.default_key.clone();
    let new = f.rotate(&id, None, t0());
    assert_ne!(new, old);
    assert!(f.account.key(&id).unwrap().default, "still the default key");
    assert!(allowed(&f, &new, "https://a.example", t0()));
    assert!(!allowed(&f, &old, "https://a.example", t0()));
}

#[test]
fn create_shows_the_string_once_and_the_key_works() {
    let mut f = fixture();
    let planned = f
        .account
        .create_key(web_policy("example.com"), t0(), &mut f.rng)
        .unwrap();
    let object = f.account.commit(planned).unwrap();
    let key = object.key.clone().unwrap();
    assert!(!object.default);
    let json = serde_json::to_value(&object).unwrap();
    assert_eq!(json["key_type"], "web");
    assert_eq!(json["allowed_domains"], serde_json::json!(["example.com"]));
    assert_eq!(json["created"], "2026-01-01T00:00:00Z");
    // Listing never shows a key string again.
    let listed = serde_json::to_value(f.account.list_keys()).unwrap();
    assert!(listed.as_array().unwrap().iter().all(|k| k.get("key").is_none()));
    assert!(!listed.to_string().contains(&key));
    assert!(allowed(&f, &key, "https://www.example.com", t0()));
    assert!(!allowed(&f, &key, "https://evil.example", t0()));
}

#[test]
fn edit_replaces_the_policy_and_keeps_the_string() {
    let mut f = fixture();
    let (id, key) = f.new_key(web_policy("example.com"));
    let planned = f.account.update_key(&id, web_policy("other.example"), t0()).unwrap();
    let object = f.account.commit(planned).unwrap();
    assert!(object.key.is_none(), "an edit shows no string");
    assert!(allowed(&f, &key, "https://other.example", t0()));
    assert!(!allowed(&f, &key, "https://example.com", t0()));
}

#[test]
fn delete_is_permanent_and_the_string_never_works_again() {
    let mut f = fixture();
    let (id, key) = f.new_key(KeyPolicy::unrestricted());
    let planned = f.account.delete_key(&id, t0()).unwrap();
    f.account.commit(planned).unwrap();
    assert!(f.account.find_key(&key, t0()).is_none());
    assert!(f.account.key(&id).is_none());
    assert_eq!(f.account.delete_key(&id, t0()).unwrap_err().status(), 404);
    // The id cannot come back, not even through a replayed change.
    let reuse = Change::KeyCreated {
        id: id.clone(),
        digest: KeyString::generate(&mut f.rng).unwrap().digest(),
        policy: KeyPolicy::unrestricted(),
        at: t0(),
    };
    assert!(matches!(f.account.apply(&reuse), Err(ApplyError::Reused { .. })));
    // Nor the string.
    let reuse = Change::KeyCreated {
        id: "fresh".into(),
        digest: KeyString::parse(&key).unwrap().digest(),
        policy: KeyPolicy::unrestricted(),
        at: t0(),
    };
    assert!(matches!(f.account.apply(&reuse), Err(ApplyError::Reused { .. })));
}

#[test]
fn unknown_ids_are_404() {
    let mut f = fixture();
    let errors = [
        f.account
            .update_key("nope", KeyPolicy::unrestricted(), t0())
            .unwrap_err(),
        f.account.rotate_key("nope", None, t0(), &mut f.rng).unwrap_err(),
        f.account.delete_key("nope", t0()).unwrap_err(),
    ];
    for err in errors {
        assert_eq!((err.status(), err.code()), (404, "key_not_found"));
    }
}

#[test]
fn rotate_keeps_the_policy_and_the_old_string_stops_at_once() {
    let mut f = fixture();
    let (id, old) = f.new_key(web_policy("example.com"));
    let planned = f.account.rotate_key(&id, None, t0(), &mut f.rng).unwrap();
    let object = f.account.commit(planned).unwrap();
    let new = object.key.unwrap();
    assert_ne!(new, old);
    assert_eq!(object.id, id);
    assert!(allowed(&f, &new, "https://example.com", t0()));
    assert!(f.account.find_key(&old, t0()).is_none());
}

#[test]
fn grace_seconds_keeps_the_old_string_until_the_deadline() {
    let mut f = fixture();
    let (id, old) = f.new_key(KeyPolicy::unrestricted());
    let new = f.rotate(&id, Some(600), t0());
    assert!(f.account.find_key(&old, at("2026-01-01T00:09:59Z")).is_some());
    assert!(f.account.find_key(&new, at("2026-01-01T00:09:59Z")).is_some());
    assert!(f.account.find_key(&old, at("2026-01-01T00:10:00Z")).is_none());
    assert!(f.account.find_key(&new, at("2026-01-01T00:10:00Z")).is_some());
}

/// Deleting a key ends the grace of its rotated-away strings too: "the
/// string never works again" holds for every string the key had.
#[test]
fn delete_ends_every_grace_period_of_the_key() {
    let mut f = fixture();
    let (id, first) = f.new_key(KeyPolicy::unrestricted());
    let second = f.rotate(&id, Some(600), t0());
    let third = f.rotate(&id, Some(600), t0());
    let (_, other) = f.new_key(KeyPolicy::unrestricted());
    for key in [&first, &second, &third] {
        assert!(f.account.find_key(key, t0()).is_some(), "{key}");
    }
    let planned = f.account.delete_key(&id, t0()).unwrap();
    f.account.commit(planned).unwrap();
    for key in [&first, &second, &third] {
        assert!(f.account.find_key(key, t0()).is_none(), "{key}");
    }
    assert!(f.account.find_key(&other, t0()).is_some(), "another key is untouched");
}

#[test]
fn grace_seconds_zero_means_no_grace() {
    let mut f = fixture();
    let (id, old) = f.new_key(KeyPolicy::unrestricted());
    f.rotate(&id, Some(0), t0());
    assert!(f.account.find_key(&old, t0()).is_none());
}

#[test]
fn grace_seconds_above_a_day_or_negative_is_422() {
    let mut f = fixture();
    let (id, _) = f.new_key(KeyPolicy::unrestricted());
    let revision = f.account.revision();
    for value in [86_401, -1, i64::MAX] {
        let err = f.account.rotate_key(&id, Some(value), t0(), &mut f.rng).unwrap_err();
        assert_eq!((err.status(), err.code()), (422, "grace_out_of_range"));
        assert_eq!(err, KeyError::GraceOutOfRange { value });
    }
    assert!(f.account.rotate_key(&id, Some(86_400), t0(), &mut f.rng).is_ok());
    assert_eq!(
        f.account.revision(),
        revision,
        "failed and uncommitted operations change nothing"
    );
}

#[test]
fn a_second_rotation_during_grace_keeps_each_deadline() {
    let mut f = fixture();
    let (id, first) = f.new_key(KeyPolicy::unrestricted());
    let second = f.rotate(&id, Some(600), t0());
    let third = f.rotate(&id, Some(60), at("2026-01-01T00:05:00Z"));
    let check = |when: &str| [&first, &second, &third].map(|k| f.account.find_key(k, at(when)).is_some());
    assert_eq!(check("2026-01-01T00:05:30Z"), [true, true, true]);
    assert_eq!(check("2026-01-01T00:06:00Z"), [true, false, true]);
    assert_eq!(check("2026-01-01T00:10:00Z"), [false, false, true]);
}

#[test]
fn key_strings_have_the_documented_format() {
    let mut f = fixture();
    let (_, key) = f.new_key(KeyPolicy::unrestricted());
    assert_eq!(key.len(), 40);
    assert!(key.starts_with("mpk_"));
    assert!(key[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    // The checksum: CRC32 of the first 34 characters in 6 base62 digits.
    let mut crc = u64::from(crc32fast::hash(&key.as_bytes()[..34]));
    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut digits = Vec::new();
    for _ in 0..6 {
        digits.push(alphabet[(crc % 62) as usize]);
        crc /= 62;
    }
    digits.reverse();
    assert_eq!(&key.as_bytes()[34..], digits.as_slice());
}

#[test]
fn a_mistyped_or_truncated_key_is_refused_without_lookup() {
    let mut f = fixture();
    let (_, key) = f.new_key(KeyPolicy::unrestricted());
    for i in 4..key.len() {
        for c in ['0', 'a', 'Z'] {
            let mut typo: Vec<char> = key.chars().collect();
            if typo[i] == c {
                continue;
            }
            typo[i] = c;
            let typo: String = typo.into_iter().collect();
            assert!(
                matches!(KeyString::parse(&typo), Err(KeyStringError::Checksum { .. })),
                "{typo}"
            );
            assert!(f.account.find_key(&typo, t0()).is_none());
        }
    }
    assert_eq!(KeyString::parse(&key[..35]), Err(KeyStringError::Length { len: 35 }));
    assert!(matches!(KeyString::parse("pk.abc"), Err(KeyStringError::Prefix { .. })));
    let bad_char = format!("{}-{}", &key[..10], &key[11..]);
    assert!(matches!(
        KeyString::parse(&bad_char),
        Err(KeyStringError::Character { index: 10, .. })
    ));
}

#[test]
fn a_failed_key_operation_changes_nothing() {
    let mut f = fixture();
    let default_id = f.account.default_key().unwrap().id.clone();
    let before = serde_json::to_string(&f.account.list_keys()).unwrap();
    let revision = f.account.revision();
    assert!(f
        .account
        .update_key(&default_id, KeyPolicy::unrestricted(), t0())
        .is_err());
    assert!(f.account.delete_key(&default_id, t0()).is_err());
    assert!(f.account.rotate_key(&default_id, Some(-5), t0(), &mut f.rng).is_err());
    assert_eq!(f.account.revision(), revision);
    assert_eq!(serde_json::to_string(&f.account.list_keys()).unwrap(), before);
    assert!(f.account.find_key(&f.default_key, t0()).is_some());
}

#[test]
fn key_changes_serialize_and_replay_to_the_same_state() {
    let mut rng = keypolicy::lifecycle::SeededRandom::new(3);
    let opened = Account::open("bob", t0(), &mut rng).unwrap();
    let mut account = opened.account;
    let mut log = vec![opened.change];
    let planned = account.create_key(web_policy("example.com"), t0(), &mut rng).unwrap();
    let created = planned.change.clone().unwrap();
    let id = account.commit(planned).unwrap().id;
    log.push(created);
    let planned = account.rotate_key(&id, Some(30), t0(), &mut rng).unwrap();
    log.push(planned.change.clone().unwrap());
    account.commit(planned).unwrap();
    let planned = account.update_key(&id, KeyPolicy::unrestricted(), t0()).unwrap();
    log.push(planned.change.clone().unwrap());
    account.commit(planned).unwrap();
    let text: Vec<String> = log.iter().map(|c| serde_json::to_string(c).unwrap()).collect();
    assert!(text[1].starts_with(r#"{"change":"key_created""#), "{}", text[1]);
    assert!(
        !text.concat().contains("mpk_"),
        "changes hold digests, never key strings"
    );
    let parsed: Vec<Change> = text.iter().map(|t| serde_json::from_str(t).unwrap()).collect();
    let replayed = Account::replay("bob", &parsed).unwrap();
    assert_eq!(
        serde_json::to_string(&replayed.list_keys()).unwrap(),
        serde_json::to_string(&account.list_keys()).unwrap()
    );
    assert_eq!(replayed.revision(), account.revision());
    // Replaying out of order is refused.
    assert!(Account::replay("bob", &parsed[1..]).is_err());
}
