-- Direct conversations between two users and their messages.
-- The pair is stored in a fixed order (user_a < user_b, decided by the application), so one
-- pair has one conversation.
CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    user_a          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_b          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    last_message_at BIGINT,
    UNIQUE (user_a, user_b)
);
CREATE INDEX conversations_user_b ON conversations(user_b);

-- Message ids are time-ordered: pages are read by id, compared bytewise (COLLATE "C").
CREATE TABLE dm_messages (
    id              TEXT COLLATE "C" PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    author_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    edited_at       BIGINT
);
CREATE INDEX dm_messages_conversation ON dm_messages(conversation_id, id);
