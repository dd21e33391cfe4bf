-- Accounts, sessions (refresh-token families) and the audit trail.
-- No foreign keys: DuckDB cannot update an indexed parent column or delete a
-- parent and its children in one transaction while they exist (DUCKDB.md).

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         VARCHAR NOT NULL UNIQUE,
    password_hash VARCHAR NOT NULL,
    role          VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

-- One row per refresh token ever issued, appended and (but for revocation)
-- never updated. A login starts a family (family_id = the session id, the
-- access token's sid); each refresh appends a successor whose parent_id is
-- the presented token. A token with a successor is rotated: rows are kept so
-- that a rotated token presented again is recognised and revokes its family.
CREATE TABLE refresh_tokens (
    id                UUID PRIMARY KEY,
    token_hash        VARCHAR NOT NULL UNIQUE,
    family_id         UUID NOT NULL,
    user_id           UUID NOT NULL,
    parent_id         UUID,                  -- the token this one replaced
    status            VARCHAR NOT NULL,      -- active | revoked (rotated = has a successor)
    created_at        TIMESTAMP NOT NULL,    -- issued (= the session's last use)
    expires_at        TIMESTAMP NOT NULL,
    family_created_at TIMESTAMP NOT NULL,    -- the sign-in
    user_agent        VARCHAR NOT NULL,
    ip                VARCHAR NOT NULL,
    revoked_at        TIMESTAMP
);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_parent_id ON refresh_tokens (parent_id);

-- Append-only: rows are inserted in the same transaction as the change they
-- record and never updated or deleted.
CREATE TABLE audit_log (
    id         UUID NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor_id   VARCHAR,
    action     VARCHAR NOT NULL,
    target_id  VARCHAR,
    detail     VARCHAR,
    request_id VARCHAR
);
