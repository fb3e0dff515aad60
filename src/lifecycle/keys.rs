//! Key operations; the owner (the console) acts. Each validates against
//! the state and returns a [`Planned`] change and answer, or a [`KeyError`]
//! having changed nothing.
//!
//! | Operation | Rule |
//! |---|---|
//! | create | any valid policy; the answer carries the string once |
//! | update | replaces a non-default key's policy; the string is unchanged; default key: 409 |
//! | rotate | new string, same policy, also for the default key; the old string stops at once, or after `grace_seconds` (1–86,400; 0 or absent: at once; more: 422) |
//! | delete | permanent, every string of the key stops; default key: 409 |
//! | unknown or deleted id | 404 |

use crate::key::KeyPolicy;
use crate::lifecycle::account::{Account, KeyRecord};
use crate::lifecycle::body::KeyObject;
use crate::lifecycle::change::{Change, Planned};
use crate::lifecycle::error::KeyError;
use crate::lifecycle::random::RandomSource;
use crate::token::Timestamp;

/// The longest grace period of a rotated-away key string: one day.
pub const MAX_GRACE_SECONDS: i64 = 86_400;

impl KeyRecord {
    /// The key object, with `key` (the string) only when just minted.
    pub fn object(&self, key: Option<String>) -> KeyObject {
        KeyObject {
            id: self.id.clone(),
            key,
            default: self.default,
            created: self.created,
            policy: self.policy.clone(),
        }
    }
}

impl Account {
    /// The live key `id`, or 404.
    pub fn live_key(&self, id: &str) -> Result<&KeyRecord, KeyError> {
        self.key(id).ok_or_else(|| KeyError::NotFound { id: id.to_owned() })
    }

    /// The live, non-default key `id`: 404 or 409 otherwise. Public so a
    /// caller who cannot read a body still answers in the same order.
    pub fn editable_key(&self, id: &str) -> Result<&KeyRecord, KeyError> {
        let key = self.live_key(id)?;
        if key.default {
            return Err(KeyError::DefaultKeyReadOnly { id: id.to_owned() });
        }
        Ok(key)
    }

    /// Creates a key with `policy`.
    pub fn create_key(
        &self,
        policy: KeyPolicy,
        now: Timestamp,
        rng: &mut dyn RandomSource,
    ) -> Result<Planned<KeyObject>, KeyError> {
        let key = self.new_key_string(rng)?;
        let id = self.new_id(rng)?;
        let answer = KeyObject {
            id: id.clone(),
            key: Some(key.as_str().to_owned()),
            default: false,
            created: now,
            policy: policy.clone(),
        };
        Ok(Planned {
            change: Some(Change::KeyCreated {
                id,
                digest: key.digest(),
                policy,
                at: now,
            }),
            answer,
        })
    }

    /// Replaces a non-default key's policy; its string does not change.
    pub fn update_key(&self, id: &str, policy: KeyPolicy, now: Timestamp) -> Result<Planned<KeyObject>, KeyError> {
        let key = self.editable_key(id)?;
        let mut answer = key.object(None);
        answer.policy = policy.clone();
        Ok(Planned {
            change: Some(Change::KeyUpdated {
                id: id.to_owned(),
                policy,
                at: now,
            }),
            answer,
        })
    }

    /// Gives a key (the default key too) a new string. The old string stops
    /// working at once, or — with `grace_seconds` from 1 to 86,400 — at
    /// `now + grace_seconds`. `0` means no grace, like `None`.
    pub fn rotate_key(
        &self,
        id: &str,
        grace_seconds: Option<i64>,
        now: Timestamp,
        rng: &mut dyn RandomSource,
    ) -> Result<Planned<KeyObject>, KeyError> {
        let record = self.live_key(id)?;
        let grace = grace_seconds.unwrap_or(0);
        if !(0..=MAX_GRACE_SECONDS).contains(&grace) {
            return Err(KeyError::GraceOutOfRange { value: grace });
        }
        let grace_until = match grace {
            0 => None,
            seconds => Some(
                Timestamp::from_unix_seconds(now.unix_seconds().saturating_add(seconds))
                    .ok_or(KeyError::GraceOutOfRange { value: grace })?,
            ),
        };
        let key = self.new_key_string(rng)?;
        Ok(Planned {
            change: Some(Change::KeyRotated {
                id: id.to_owned(),
                retired: record.digest,
                digest: key.digest(),
                grace_until,
                at: now,
            }),
            answer: record.object(Some(key.as_str().to_owned())),
        })
    }

    /// Deletes a non-default key: every string it had stops working, and
    /// its id is never used again.
    pub fn delete_key(&self, id: &str, now: Timestamp) -> Result<Planned<()>, KeyError> {
        self.editable_key(id)?;
        Ok(Planned {
            change: Some(Change::KeyDeleted {
                id: id.to_owned(),
                at: now,
            }),
            answer: (),
        })
    }

    /// The live keys as key objects (no strings), oldest first.
    pub fn list_keys(&self) -> Vec<KeyObject> {
        self.keys().into_iter().map(|k| k.object(None)).collect()
    }
}
