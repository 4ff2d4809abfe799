-- Live sessions, media-plane failures (issue 12): when the host's last media connection to the
-- room was lost while live (NULL: connected, or never connected). A host who does not come back
-- within the grace period fails the session (`host_connection_lost`).
ALTER TABLE live_sessions ADD COLUMN host_lost_at BIGINT;
