-- Accounts and sessions.
CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    handle          TEXT NOT NULL,
    handle_lower    TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    avatar_from     TEXT NOT NULL,
    avatar_to       TEXT NOT NULL,
    is_creator      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
