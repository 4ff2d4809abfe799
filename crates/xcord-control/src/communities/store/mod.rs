//! SQL for communities, one file per aggregate, and the read functions other parts of the
//! control plane call (the gateway's Ready snapshot, voice): `communities_of`,
//! `channel_access`, `channel_viewers`, `community_of_channel`, `channel_ids_of_community`,
//! `member_ids`, `is_member`.

pub mod bans;
pub mod channels;
pub mod community;
pub mod invites;
pub mod members;
pub mod messages;
pub mod roles;

use sqlx::{AnyConnection, Row};

use super::{ChannelAccess, ChannelKind, Community, CommunityView, Permissions};
use crate::db::Db;

/// A user's standing in a community.
#[derive(Clone, Debug)]
pub struct Standing {
    pub community: Community,
    pub is_member: bool,
    pub banned: bool,
    /// Effective permissions: all for the owner, none for non-members.
    pub permissions: Permissions,
}

/// The community, and whether the user is a member of it and banned from it; `None` when the
/// community does not exist. On a connection, so a transaction can ask too.
pub(crate) async fn membership(
    conn: &mut AnyConnection,
    community_id: &str,
    user_id: &str,
) -> Result<Option<(Community, bool, bool)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.id, c.name, c.owner_id, c.created_at, \
         (SELECT COUNT(*) FROM community_members m WHERE m.community_id = c.id AND m.user_id = $2) AS member_count, \
         (SELECT COUNT(*) FROM bans b WHERE b.community_id = c.id AND b.user_id = $2) AS ban_count \
         FROM communities c WHERE c.id = $1",
    )
    .bind(community_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some((
        community::from_row(&row)?,
        row.try_get::<i64, _>("member_count")? > 0,
        row.try_get::<i64, _>("ban_count")? > 0,
    )))
}

/// The community and the user's standing in it; `None` when the community does not exist.
pub async fn standing(
    db: &Db,
    community_id: &str,
    user_id: &str,
) -> Result<Option<Standing>, sqlx::Error> {
    let found = membership(&mut *db.pool.acquire().await?, community_id, user_id).await?;
    let Some((community, is_member, banned)) = found else {
        return Ok(None);
    };
    let permissions = if community.owner_id == user_id {
        Permissions::all()
    } else if is_member {
        members::granted_permissions(db, community_id, user_id).await?
    } else {
        Permissions::empty()
    };
    Ok(Some(Standing {
        community,
        is_member,
        banned,
        permissions,
    }))
}

/// Every community `user_id` is a member of, as a client renders it (channels only when the
/// user may view them), oldest membership first.
pub async fn communities_of(db: &Db, user_id: &str) -> Result<Vec<CommunityView>, sqlx::Error> {
    let ids: Vec<String> = sqlx::query(
        "SELECT community_id FROM community_members WHERE user_id = $1 ORDER BY joined_at, community_id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| r.try_get("community_id"))
    .collect::<Result<_, _>>()?;
    let mut views = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(s) = standing(db, &id, user_id).await?
            && s.is_member
        {
            views.push(community::view(db, s.community, s.permissions).await?);
        }
    }
    Ok(views)
}

/// A user's standing towards a channel; `None` when the channel does not exist.
pub async fn channel_access(
    db: &Db,
    channel_id: &str,
    user_id: &str,
) -> Result<Option<ChannelAccess>, sqlx::Error> {
    let Some(channel) = channels::channel(db, channel_id).await? else {
        return Ok(None);
    };
    let Some(s) = standing(db, &channel.community_id, user_id).await? else {
        return Ok(None);
    };
    Ok(Some(ChannelAccess {
        community_id: channel.community_id,
        channel_id: channel.id,
        kind: channel.kind,
        user_limit: channel.user_limit,
        is_member: s.is_member,
        banned: s.banned,
        permissions: s.permissions,
    }))
}

/// The ids of a community's members.
pub async fn member_ids(db: &Db, community_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("SELECT user_id FROM community_members WHERE community_id = $1 ORDER BY user_id")
        .bind(community_id)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| r.try_get("user_id"))
        .collect()
}

pub async fn is_member(db: &Db, community_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM community_members WHERE community_id = $1 AND user_id = $2",
    )
    .bind(community_id)
    .bind(user_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// The community a channel belongs to; `None` when the channel does not exist.
pub async fn community_of_channel(
    db: &Db,
    channel_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    Ok(channels::channel(db, channel_id)
        .await?
        .map(|c| c.community_id))
}

/// The ids of a community's channels (read before the community is deleted).
pub async fn channel_ids_of_community(
    db: &Db,
    community_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("SELECT id FROM channels WHERE community_id = $1")
        .bind(community_id)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect()
}

/// Members of the community who may view its channels: the audience of channel events.
pub async fn viewers(db: &Db, community_id: &str) -> Result<Vec<String>, sqlx::Error> {
    Ok(members::all_permissions(db, community_id)
        .await?
        .into_iter()
        .filter(|(_, p)| p.grants(Permissions::VIEW_CHANNEL))
        .map(|(u, _)| u)
        .collect())
}

/// The viewers of the community a channel belongs to (none when it does not exist).
pub async fn channel_viewers(db: &Db, channel_id: &str) -> Result<Vec<String>, sqlx::Error> {
    match community_of_channel(db, channel_id).await? {
        Some(community_id) => viewers(db, &community_id).await,
        None => Ok(Vec::new()),
    }
}

/// Reads a stored channel kind.
pub(crate) fn kind_from_db(kind: &str) -> Result<ChannelKind, sqlx::Error> {
    ChannelKind::parse(kind)
        .ok_or_else(|| sqlx::Error::Decode(format!("channel kind {kind:?}").into()))
}
