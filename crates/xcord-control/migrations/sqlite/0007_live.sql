-- Live broadcasts and audio rooms (issue 12), the coin wallet and its ledger, and pay-per-view
-- purchases. A wallet's balance can never go below zero (the CHECK is the last guard; debits
-- are conditional updates inside the purchase's transaction).
CREATE TABLE live_sessions (
    id                   TEXT PRIMARY KEY,
    host_id              TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind                 TEXT NOT NULL,
    title                TEXT NOT NULL,
    access               TEXT NOT NULL,
    price_coins          BIGINT NOT NULL,
    state                TEXT NOT NULL,
    max_viewers          BIGINT,
    max_duration_seconds BIGINT,
    viewer_count         BIGINT NOT NULL DEFAULT 0,
    peak_viewers         BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    started_at           BIGINT,
    ended_at             BIGINT,
    end_reason           TEXT,
    -- Compare-and-set: every state change names the version it read.
    version              BIGINT NOT NULL
);
CREATE INDEX live_sessions_state ON live_sessions(state, id);

-- Every audience member a join token was issued to (once per user and session).
CREATE TABLE live_admissions (
    session_id TEXT NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    joined_at  BIGINT NOT NULL,
    PRIMARY KEY (session_id, user_id)
);

CREATE TABLE wallets (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    balance BIGINT NOT NULL CHECK (balance >= 0)
);

-- Every change of a balance: amount (positive credit, negative debit) and the balance after.
CREATE TABLE wallet_entries (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    amount        BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    reason        TEXT NOT NULL,
    reference     TEXT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX wallet_entries_user ON wallet_entries(user_id, id);

-- One purchase per buyer and session; one purchase per buyer and idempotency key.
CREATE TABLE live_purchases (
    id              TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    buyer_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    price_coins     BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (session_id, buyer_id),
    UNIQUE (buyer_id, idempotency_key)
);
