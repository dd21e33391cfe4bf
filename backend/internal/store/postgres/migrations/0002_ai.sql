-- The AI gateway: one row per upstream generation call (usage), and the
-- asynchronous video jobs (DuckDB's 0002). Usage ids are a primary key here:
-- a record written again after an ambiguous commit (the connection died
-- during COMMIT) is skipped, never counted twice.

CREATE TABLE ai_usage (
    id                uuid PRIMARY KEY,
    occurred_at       timestamptz NOT NULL,
    user_id           uuid NOT NULL,
    kind              text NOT NULL,
    model             text NOT NULL,
    status            text NOT NULL,
    latency_ms        double precision NOT NULL,
    prompt_tokens     integer NOT NULL,
    completion_tokens integer NOT NULL,
    cost              double precision,
    generation_id     text,
    error_kind        text
);
CREATE INDEX ai_usage_occurred_at ON ai_usage (occurred_at);
CREATE INDEX ai_usage_generation_id ON ai_usage (generation_id) WHERE generation_id IS NOT NULL;

CREATE TABLE video_jobs (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL,
    upstream_id   text NOT NULL,
    polling_url   text NOT NULL,
    status        text NOT NULL,
    model         text NOT NULL,
    prompt        text NOT NULL,
    params        text NOT NULL,
    error_message text,
    cost          double precision,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    polled_at     timestamptz
);
CREATE INDEX video_jobs_user_id ON video_jobs (user_id);
-- The poller's scan: only the few unfinished jobs are in this index.
CREATE INDEX video_jobs_unfinished ON video_jobs (created_at) WHERE status IN ('pending', 'in_progress');
