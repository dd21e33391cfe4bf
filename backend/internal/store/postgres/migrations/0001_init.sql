-- Accounts, sessions (refresh-token families) and the audit trail: the
-- same tables as DuckDB's 0001 (so export and import move rows as they
-- are), plus sessions, which holds what the DuckDB engine keeps in memory.
-- No foreign keys, as in DuckDB: a deleted user's revoked tokens, audit
-- entries and usage stay (and count) the same way on both engines.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role          text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- One row per refresh token ever issued, appended and (but for revocation)
-- never updated; see DuckDB's 0001 for the states.
CREATE TABLE refresh_tokens (
    id                uuid PRIMARY KEY,
    token_hash        text NOT NULL UNIQUE,
    family_id         uuid NOT NULL,
    user_id           uuid NOT NULL,
    parent_id         uuid,
    status            text NOT NULL,          -- active | revoked (rotated = has a successor)
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    family_created_at timestamptz NOT NULL,
    user_agent        text NOT NULL,
    ip                text NOT NULL,
    revoked_at        timestamptz
);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_parent_id ON refresh_tokens (parent_id);

-- One row per live session: its current token and the token that one
-- replaced (a retry within the grace presents it). A rotation is one
-- conditional UPDATE of this row (WHERE token_hash = the presented one), so
-- concurrent rotations on any replica serialise on the row lock and only
-- the first finds its token current. Ending a session deletes its row.
CREATE TABLE sessions (
    family_id   uuid PRIMARY KEY,
    user_id     uuid NOT NULL,
    born        timestamptz NOT NULL,   -- the sign-in
    token_id    uuid NOT NULL,
    token_hash  text NOT NULL UNIQUE,
    parent_id   uuid,
    parent_hash text,
    rotated_at  timestamptz,            -- the parent's first rotation
    last_used   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    user_agent  text NOT NULL,
    ip          text NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_parent_hash ON sessions (parent_hash);

-- Append-only: rows are inserted in the same transaction as the change they
-- record and never updated or deleted.
CREATE TABLE audit_log (
    id          uuid PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    actor_id    text,
    action      text NOT NULL,
    target_id   text,
    detail      text,
    request_id  text
);
CREATE INDEX audit_log_occurred_at ON audit_log (occurred_at DESC, id DESC);
