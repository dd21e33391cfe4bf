-- The workspace: conversations and their messages, and generated images,
-- kept per user (DuckDB's 0004). No foreign keys, as on DuckDB: DeleteUser
-- deletes a user's rows of these tables in the same transaction.

CREATE TABLE conversations (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL,
    title         text NOT NULL,
    pinned        boolean NOT NULL,
    model         text NOT NULL,
    system_prompt text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
-- A user's listing: pinned first, then the most recently updated.
CREATE INDEX conversations_user_id ON conversations (user_id, pinned DESC, updated_at DESC, id DESC);

-- seq numbers a conversation's messages from 0; an edit or a regeneration
-- deletes from a seq on and appends. The unique index backs the count
-- guard of ReplaceMessages: two writers can never number over each other.
CREATE TABLE messages (
    id              uuid PRIMARY KEY,
    conversation_id uuid NOT NULL,
    seq             integer NOT NULL,
    role            text NOT NULL,
    content         text NOT NULL,
    model           text NOT NULL,
    cut_short       boolean NOT NULL,
    created_at      timestamptz NOT NULL,
    UNIQUE (conversation_id, seq)
);

-- The bytes live in the row (bytea), so every replica serves every image.
CREATE TABLE images (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL,
    prompt     text NOT NULL,
    model      text NOT NULL,
    media_type text NOT NULL,
    bytes      bigint NOT NULL,
    sha256     text NOT NULL,
    content    bytea NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX images_user_id ON images (user_id, created_at DESC, id DESC);
