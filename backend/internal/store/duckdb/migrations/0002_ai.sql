-- The AI gateway: one row per upstream generation call (usage), and the
-- asynchronous video jobs. No foreign keys (DUCKDB.md): user ids are plain
-- columns, and a deleted user's history stays for the usage reports.

-- Append-only, written in batches by the usage recorder. status is 'ok' or
-- the HTTP status the caller got ('502', '429', '499' for a client that left).
CREATE TABLE ai_usage (
    id                UUID NOT NULL,
    occurred_at       TIMESTAMP NOT NULL,
    user_id           UUID NOT NULL,
    kind              VARCHAR NOT NULL,      -- chat | text | image | video
    model             VARCHAR NOT NULL,
    status            VARCHAR NOT NULL,
    latency_ms        DOUBLE NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost              DOUBLE,                -- OpenRouter's usage.cost, when it said
    generation_id     VARCHAR,
    error_kind        VARCHAR                -- openrouter.Kind of a failure
);

-- A video job mirrors an upstream job; the backend polls it until terminal.
CREATE TABLE video_jobs (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL,
    upstream_id VARCHAR NOT NULL,
    polling_url VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,  -- pending | in_progress | completed | failed | cancelled | expired
    model       VARCHAR NOT NULL,
    prompt      VARCHAR NOT NULL,
    params      VARCHAR NOT NULL,  -- JSON: duration, resolution, aspect_ratio, image
    error_message VARCHAR,
    cost        DOUBLE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    polled_at   TIMESTAMP
);
-- status is not indexed: it changes, and the poller's scan of unfinished jobs is rare.
CREATE INDEX video_jobs_user_id ON video_jobs (user_id);
