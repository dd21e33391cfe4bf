-- Accounts people can recover and admins can run (DuckDB's 0006).

-- One-time tokens mailed (or handed over) to set a password: a reset, or
-- an invitation. Stored as hashes; used_at is set on use and when a newer
-- token or a password change supersedes them.
CREATE TABLE account_tokens (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL,
    purpose    text NOT NULL,          -- reset | invite
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX account_tokens_user_id ON account_tokens (user_id);

-- The audit trail names people, and keeps the names after they are gone.
ALTER TABLE audit_log ADD COLUMN actor_email text, ADD COLUMN target_email text;

-- A session signed in without "keep me signed in" lives SHORT_SESSION_TTL:
-- its tokens say so, and so does the session's row, which refreshes read.
ALTER TABLE refresh_tokens ADD COLUMN short_session boolean NOT NULL DEFAULT false;
ALTER TABLE sessions ADD COLUMN short boolean NOT NULL DEFAULT false;
