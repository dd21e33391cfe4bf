-- Integrators: API keys and per-user monthly budgets (issue 13). No foreign
-- keys (DUCKDB.md); a deleted user's keys are revoked and their budget
-- override deleted in the same transaction as the user.

-- One row per key ever created. Only the SHA-256 of the secret is kept;
-- prefix is its first characters, for display. Revoked keys stay (the
-- audit trail names them) but are never listed nor accepted.
CREATE TABLE api_keys (
    id                  UUID PRIMARY KEY,
    user_id             UUID NOT NULL,
    name                VARCHAR NOT NULL,
    prefix              VARCHAR NOT NULL,
    secret_hash         VARCHAR NOT NULL UNIQUE,
    scopes              VARCHAR NOT NULL,       -- comma-separated: ai, read
    requests_per_minute INTEGER NOT NULL,       -- 0: AI_REQUESTS_PER_MINUTE
    created_at          TIMESTAMP NOT NULL,
    expires_at          TIMESTAMP,
    revoked_at          TIMESTAMP,
    last_used_at        TIMESTAMP,              -- recorded in batches
    last_used_ip        VARCHAR
);
CREATE INDEX api_keys_user_id ON api_keys (user_id);

-- An admin's override of AI_MONTHLY_BUDGET_USD for one user (0 = no AI).
CREATE TABLE user_budgets (
    user_id     UUID PRIMARY KEY,
    monthly_usd DOUBLE NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
