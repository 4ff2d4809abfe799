-- 1-1 calls, each user's media session, the answers of media-session commands (idempotency by
-- the client's command id), who is in each media room (from media events), and the call a
-- direct message records (its system message).
CREATE TABLE calls (
    id                  TEXT PRIMARY KEY,
    conversation_id     TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    caller_id           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    callee_id           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    video               BOOLEAN NOT NULL DEFAULT FALSE,
    state               TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    ring_expires_at     BIGINT NOT NULL,
    answered_at         BIGINT,
    ended_at            BIGINT,
    end_reason          TEXT,
    caller_absent_since BIGINT,
    callee_absent_since BIGINT,
    -- When time alone changes the call (the timer task's index); NULL when final.
    next_deadline       BIGINT,
    -- Compare-and-set: every write names the version it read.
    version             BIGINT NOT NULL
);
CREATE INDEX calls_next_deadline ON calls(next_deadline);

-- The session is stored whole (JSON), with what queries need beside it.
CREATE TABLE media_sessions (
    user_id       TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    version       BIGINT NOT NULL,
    state         TEXT NOT NULL,
    room          TEXT,
    next_deadline BIGINT
);
CREATE INDEX media_sessions_next_deadline ON media_sessions(next_deadline);
CREATE INDEX media_sessions_room ON media_sessions(room);

CREATE TABLE media_session_commands (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    command_id TEXT NOT NULL,
    answer     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, command_id)
);

CREATE TABLE media_room_participants (
    participant_sid TEXT PRIMARY KEY,
    room            TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    muted           BOOLEAN NOT NULL DEFAULT FALSE,
    camera          BOOLEAN NOT NULL DEFAULT FALSE,
    screen_share    BOOLEAN NOT NULL DEFAULT FALSE,
    joined_at       BIGINT NOT NULL
);
CREATE INDEX media_room_participants_room ON media_room_participants(room);

ALTER TABLE dm_messages ADD COLUMN call_id TEXT REFERENCES calls(id) ON DELETE SET NULL;
