//! Server mute and deafen as they persist per member and community: a member muted by a
//! moderator stays muted when they leave voice and come back, until a moderator lifts it.

use crate::db::{Db, get_bool};

/// A member's server-side flags in one community.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moderation {
    pub server_mute: bool,
    pub server_deaf: bool,
}

/// The member's flags in the community (none set when never moderated).
pub async fn get(db: &Db, community_id: &str, user_id: &str) -> Result<Moderation, sqlx::Error> {
    let row = sqlx::query(
        "SELECT server_mute, server_deaf FROM voice_moderation WHERE community_id = $1 AND user_id = $2",
    )
    .bind(community_id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    match row {
        Some(r) => Ok(Moderation {
            server_mute: get_bool(&r, "server_mute")?,
            server_deaf: get_bool(&r, "server_deaf")?,
        }),
        None => Ok(Moderation::default()),
    }
}

/// Records the member's flags (a row with both off is removed).
pub async fn set(
    db: &Db,
    community_id: &str,
    user_id: &str,
    m: Moderation,
    now: i64,
) -> Result<(), sqlx::Error> {
    if m == Moderation::default() {
        sqlx::query("DELETE FROM voice_moderation WHERE community_id = $1 AND user_id = $2")
            .bind(community_id)
            .bind(user_id)
            .execute(&db.pool)
            .await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO voice_moderation (community_id, user_id, server_mute, server_deaf, updated_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (community_id, user_id) DO UPDATE SET server_mute = $3, server_deaf = $4, updated_at = $5",
    )
    .bind(community_id)
    .bind(user_id)
    .bind(m.server_mute)
    .bind(m.server_deaf)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}
