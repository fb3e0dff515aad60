-- keypolicy-registry schema, version 1.
--
-- `changes` is the source of truth: every acknowledged lifecycle change,
-- in commit order, with a monotonic revision. The other tables are the
-- same state materialized by the same transaction, for inspection and
-- indexed lookup; the process rebuilds its in-memory index from
-- `changes`. No table holds a usable credential: key strings appear only
-- as SHA-256 digests, token strings not at all (they are verified by
-- signature, and their metadata found by id).

CREATE TABLE changes (
    revision INTEGER PRIMARY KEY,          -- monotonic, never reused
    user     TEXT    NOT NULL,
    kind     TEXT    NOT NULL,             -- e.g. key_created
    body     TEXT    NOT NULL,             -- the change as JSON
    at       TEXT    NOT NULL              -- RFC 3339
) STRICT;

CREATE INDEX changes_by_user ON changes (user, revision);

CREATE TABLE accounts (
    user          TEXT PRIMARY KEY,
    default_key   TEXT NOT NULL,
    default_token TEXT NOT NULL,
    opened        TEXT NOT NULL,
    revision      INTEGER NOT NULL,        -- the revision of its last change
    changes       INTEGER NOT NULL         -- how many changes it has had
) STRICT;

-- Every key ever created; `deleted` is its tombstone.
CREATE TABLE keys (
    id         TEXT PRIMARY KEY,
    user       TEXT    NOT NULL REFERENCES accounts (user),
    policy     TEXT    NOT NULL,           -- the key-policy JSON
    is_default INTEGER NOT NULL,
    created    TEXT    NOT NULL,
    modified   TEXT    NOT NULL,
    deleted    TEXT
) STRICT;

-- Every key string ever issued, by digest: the current one (`retired` is
-- NULL), rotated-away ones (with their grace deadline, if any).
CREATE TABLE key_strings (
    digest      BLOB PRIMARY KEY,          -- SHA-256 of the key string
    key_id      TEXT NOT NULL REFERENCES keys (id),
    issued      TEXT NOT NULL,
    retired     TEXT,
    grace_until TEXT
) STRICT;

-- Every pk/sk token ever created (tk tokens are not state); `deleted` is
-- its tombstone.
CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    user       TEXT    NOT NULL REFERENCES accounts (user),
    policy     TEXT    NOT NULL,           -- the Tokens API JSON
    is_default INTEGER NOT NULL,
    created    TEXT    NOT NULL,
    modified   TEXT    NOT NULL,
    deleted    TEXT
) STRICT;
