-- Accounts people can recover and admins can run.

-- One-time tokens mailed (or handed over) to set a password: a reset, or
-- an invitation. Stored as hashes; used_at is set on use and when a newer
-- token or a password change supersedes them.
CREATE TABLE account_tokens (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL,
    purpose    VARCHAR NOT NULL,  -- reset | invite
    token_hash VARCHAR NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX account_tokens_user_id ON account_tokens (user_id);

-- The audit trail names people, and keeps the names after they are gone.
ALTER TABLE audit_log ADD COLUMN actor_email VARCHAR;
ALTER TABLE audit_log ADD COLUMN target_email VARCHAR;

-- A session signed in without "keep me signed in" lives SHORT_SESSION_TTL.
ALTER TABLE refresh_tokens ADD COLUMN short_session BOOLEAN DEFAULT false;  -- DuckDB adds no NOT NULL column
