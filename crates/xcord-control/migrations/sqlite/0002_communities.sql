-- Communities ("servers"): members, roles, bans, invites, channels and channel messages.
-- The @everyone role of a community has the community's id as its own id.
CREATE TABLE communities (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    owner_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL
);

CREATE TABLE community_members (
    community_id    TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    joined_at       BIGINT NOT NULL,
    PRIMARY KEY (community_id, user_id)
);
CREATE INDEX community_members_user ON community_members(user_id);

-- Permissions are a bit set (see src/communities/permissions.rs).
CREATE TABLE roles (
    id              TEXT PRIMARY KEY,
    community_id    TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    permissions     BIGINT NOT NULL,
    position        BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX roles_community ON roles(community_id, position);

CREATE TABLE member_roles (
    community_id    TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    role_id         TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (community_id, user_id, role_id),
    FOREIGN KEY (community_id, user_id)
        REFERENCES community_members(community_id, user_id) ON DELETE CASCADE
);
CREATE INDEX member_roles_role ON member_roles(role_id);

CREATE TABLE bans (
    community_id    TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    banned_by       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (community_id, user_id)
);

-- max_uses and expires_at are NULL when unlimited.
CREATE TABLE invites (
    code            TEXT PRIMARY KEY,
    community_id    TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    creator_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    max_uses        BIGINT,
    uses            BIGINT NOT NULL DEFAULT 0,
    expires_at      BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX invites_community ON invites(community_id);

CREATE TABLE channels (
    id              TEXT PRIMARY KEY,
    community_id    TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('text', 'voice', 'video')),
    user_limit      BIGINT NOT NULL DEFAULT 0,
    position        BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX channels_community ON channels(community_id, position);

-- Message ids are time-ordered: pages are read by id.
CREATE TABLE channel_messages (
    id              TEXT PRIMARY KEY,
    channel_id      TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    author_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    edited_at       BIGINT
);
CREATE INDEX channel_messages_channel ON channel_messages(channel_id, id);
