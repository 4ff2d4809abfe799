-- Server mute and deafen per member and community: they hold across leaving and rejoining
-- voice (tickets and admitted participants reflect them) until a moderator lifts them.
CREATE TABLE voice_moderation (
    community_id TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    server_mute  BOOLEAN NOT NULL DEFAULT FALSE,
    server_deaf  BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (community_id, user_id)
);
