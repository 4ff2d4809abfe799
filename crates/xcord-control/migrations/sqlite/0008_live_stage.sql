-- Live sessions, second slice (issue 12): who is in each room (from media events), stage hands
-- and invites, bans and the moderation log, live chat, creator subscriptions, and credits from
-- the server API (idempotent per key). Flags are nullable timestamps or 0/1 integers, the same
-- on SQLite and PostgreSQL.

-- The price of a month's subscription to a creator; NULL: no subscriptions offered.
ALTER TABLE users ADD COLUMN subscription_price_coins BIGINT;

-- When the host's media connection was first seen (a live session whose host never connects
-- within the grace period fails).
ALTER TABLE live_sessions ADD COLUMN host_connected_at BIGINT;

-- Token counts are gone: counts come from media events now.
DROP TABLE live_admissions;

-- Every media connection to a session's room, keyed by participant sid: joined, and left.
-- `counted` (0/1): it holds one of the session's audience places (viewerCount).
CREATE TABLE live_participants (
    participant_sid TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL,
    role            TEXT NOT NULL,
    counted         BIGINT NOT NULL,
    joined_at       BIGINT NOT NULL,
    left_at         BIGINT,
    left_reason     TEXT
);
CREATE INDEX live_participants_present ON live_participants(session_id, left_at);
CREATE INDEX live_participants_user ON live_participants(session_id, user_id);

-- The stage: a raised hand, an invitation (by a host or co-host) and, once accepted, the role.
CREATE TABLE live_stage (
    session_id     TEXT NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hand_raised_at BIGINT,
    invited_at     BIGINT,
    invited_by     TEXT,
    role           TEXT,
    PRIMARY KEY (session_id, user_id)
);

-- Banned from every session of a host.
CREATE TABLE live_bans (
    host_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    actor_id   TEXT NOT NULL,
    reason     TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (host_id, user_id)
);

CREATE TABLE live_moderation_log (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    actor_id   TEXT NOT NULL,
    action     TEXT NOT NULL,
    target_id  TEXT,
    message_id TEXT,
    reason     TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX live_moderation_log_session ON live_moderation_log(session_id, id);

CREATE TABLE live_messages (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    author_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX live_messages_session ON live_messages(session_id, id);

-- A subscription runs until current_period_end; canceled_at: it ends then (no renewal).
CREATE TABLE creator_subscriptions (
    subscriber_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    creator_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    price_coins        BIGINT NOT NULL,
    current_period_end BIGINT NOT NULL,
    canceled_at        BIGINT,
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (subscriber_id, creator_id)
);

-- Credits made through the server API, one per idempotency key.
CREATE TABLE wallet_credits (
    idempotency_key TEXT PRIMARY KEY,
    id              TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    amount          BIGINT NOT NULL,
    reason          TEXT,
    created_at      BIGINT NOT NULL
);

-- A purchase refunded (the session failed or was cancelled), once.
ALTER TABLE live_purchases ADD COLUMN refunded_at BIGINT;
