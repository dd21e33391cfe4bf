-- The workspace: conversations and their messages, and generated images,
-- kept per user. No foreign keys (DUCKDB.md): DeleteUser deletes a user's
-- rows of these tables in the same transaction.

CREATE TABLE conversations (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL,
    title         VARCHAR NOT NULL,
    pinned        BOOLEAN NOT NULL,
    model         VARCHAR NOT NULL,
    system_prompt VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX conversations_user_id ON conversations (user_id);

-- seq numbers a conversation's messages from 0; an edit or a regeneration
-- deletes from a seq on and appends.
CREATE TABLE messages (
    id              UUID PRIMARY KEY,
    conversation_id UUID NOT NULL,
    seq             INTEGER NOT NULL,
    role            VARCHAR NOT NULL,
    content         VARCHAR NOT NULL,
    model           VARCHAR NOT NULL,
    cut_short       BOOLEAN NOT NULL,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX messages_conversation_id ON messages (conversation_id);

CREATE TABLE images (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL,
    prompt     VARCHAR NOT NULL,
    model      VARCHAR NOT NULL,
    media_type VARCHAR NOT NULL,
    bytes      BIGINT NOT NULL,
    sha256     VARCHAR NOT NULL,
    content    BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX images_user_id ON images (user_id);
