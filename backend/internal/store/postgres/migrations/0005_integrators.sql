-- Integrators: API keys, per-user monthly budgets and the reservations of
-- AI calls in flight (DuckDB's 0005, plus budget_reservations, which the
-- DuckDB engine keeps in its one process's memory). No foreign keys; a
-- deleted user's keys are revoked and their budget override deleted in the
-- same transaction as the user.

-- One row per key ever created. Only the SHA-256 of the secret is kept;
-- prefix is its first characters, for display. Revoked keys stay (the
-- audit trail names them) but are never listed nor accepted.
CREATE TABLE api_keys (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL,
    name                text NOT NULL,
    prefix              text NOT NULL,
    secret_hash         text NOT NULL UNIQUE,
    scopes              text[] NOT NULL,
    requests_per_minute integer NOT NULL,      -- 0: AI_REQUESTS_PER_MINUTE
    created_at          timestamptz NOT NULL,
    expires_at          timestamptz,
    revoked_at          timestamptz,
    last_used_at        timestamptz,           -- recorded in batches, newest wins
    last_used_ip        text
);
CREATE INDEX api_keys_user_id ON api_keys (user_id);

-- An admin's override of AI_MONTHLY_BUDGET_USD for one user (0 = no AI).
CREATE TABLE user_budgets (
    user_id     uuid PRIMARY KEY,
    monthly_usd double precision NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- The estimated cost of each AI call in flight, on any replica, held
-- against its user's month until the call's usage record settles it (the
-- record names the reservation and deletes it in the same transaction) or
-- the call ends without one. expires_at frees the reservation of a call
-- whose replica died.
CREATE TABLE budget_reservations (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL,
    amount     double precision NOT NULL,
    month      timestamptz NOT NULL,          -- the first instant of the month, UTC
    expires_at timestamptz NOT NULL
);
CREATE INDEX budget_reservations_user_id ON budget_reservations (user_id, month);

-- A user's spend in a month is summed from ai_usage on every reservation.
CREATE INDEX ai_usage_user_id ON ai_usage (user_id, occurred_at);
