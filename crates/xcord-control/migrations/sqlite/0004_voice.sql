-- Voice states (who is in which voice/video channel) and the media event inbox.
-- SQLite: booleans are INTEGER 0/1.
CREATE TABLE voice_states (
    participant_sid TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    channel_id      TEXT NOT NULL,
    room            TEXT NOT NULL,
    self_mute       INTEGER NOT NULL DEFAULT 0,
    self_deaf       INTEGER NOT NULL DEFAULT 0,
    server_mute     INTEGER NOT NULL DEFAULT 0,
    server_deaf     INTEGER NOT NULL DEFAULT 0,
    camera          INTEGER NOT NULL DEFAULT 0,
    screen_share    INTEGER NOT NULL DEFAULT 0,
    joined_at       BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX voice_states_user ON voice_states(user_id);
CREATE INDEX voice_states_channel ON voice_states(channel_id);

-- Every media event is stored here before it is acknowledged or applied; `processed` turns
-- true in the same transaction that applies it, so a duplicate (same id) is a no-op and an event
-- received but not yet applied survives a restart.
CREATE TABLE media_event_inbox (
    event_id    TEXT PRIMARY KEY,
    event       TEXT NOT NULL,
    room        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    processed   INTEGER NOT NULL DEFAULT 0,
    received_at BIGINT NOT NULL
);
CREATE INDEX media_event_inbox_pending ON media_event_inbox(processed);
