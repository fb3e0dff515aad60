-- keypolicy-registry PostgreSQL schema, version 1: the same data as the
-- SQLite schema (migrations/0001_initial.sql), in PostgreSQL's types.
--
-- `changes` is the source of truth: every acknowledged lifecycle change,
-- in commit order, with a monotonic revision. The other tables are the
-- same state materialized by the same transaction, for inspection and
-- indexed lookup; every node rebuilds its in-memory index from `changes`
-- and follows it. No table holds a usable credential: key strings appear
-- only as SHA-256 digests, token strings not at all.
--
-- `user` is a reserved word in PostgreSQL, so the account column is
-- `username` here.

CREATE TABLE changes (
    -- Monotonic, never reused. An identity column may leave gaps (a
    -- rolled-back append consumed a value); readers only rely on order.
    revision bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username text        NOT NULL,
    kind     text        NOT NULL,         -- e.g. key_created
    body     jsonb       NOT NULL,         -- the change
    at       timestamptz NOT NULL
);

CREATE INDEX changes_by_user ON changes (username, revision);

CREATE TABLE accounts (
    username      text PRIMARY KEY,
    default_key   text        NOT NULL,
    default_token text        NOT NULL,
    opened        timestamptz NOT NULL,
    revision      bigint      NOT NULL,    -- the revision of its last change
    changes       bigint      NOT NULL     -- how many changes it has had
);

-- Every key ever created; `deleted` is its tombstone.
CREATE TABLE keys (
    id         text PRIMARY KEY,
    username   text        NOT NULL REFERENCES accounts (username),
    policy     jsonb       NOT NULL,       -- the key-policy JSON
    is_default boolean     NOT NULL,
    created    timestamptz NOT NULL,
    modified   timestamptz NOT NULL,
    deleted    timestamptz
);

-- Every key string ever issued, by digest: the current one (`retired` is
-- NULL), rotated-away ones (with their grace deadline, if any).
CREATE TABLE key_strings (
    digest      bytea PRIMARY KEY,         -- SHA-256 of the key string
    key_id      text        NOT NULL REFERENCES keys (id),
    issued      timestamptz NOT NULL,
    retired     timestamptz,
    grace_until timestamptz
);

-- Every pk/sk token ever created (tk tokens are not state); `deleted` is
-- its tombstone.
CREATE TABLE tokens (
    id         text PRIMARY KEY,
    username   text        NOT NULL REFERENCES accounts (username),
    policy     jsonb       NOT NULL,       -- the Tokens API JSON
    is_default boolean     NOT NULL,
    created    timestamptz NOT NULL,
    modified   timestamptz NOT NULL,
    deleted    timestamptz
);
