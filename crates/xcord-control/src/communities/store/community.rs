//! SQL for the community itself: creation (with its `@everyone` role, the owner's membership and
//! default channels, in one transaction), rename, delete and the full view.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{channels, members, roles};
use crate::communities::{ChannelKind, Community, CommunityView, Permissions};
use crate::db::{Db, new_id};

pub(crate) fn from_row(row: &AnyRow) -> Result<Community, sqlx::Error> {
    Ok(Community {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        owner_id: row.try_get("owner_id")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The channels every new community starts with.
const DEFAULT_CHANNELS: [(&str, ChannelKind); 2] = [
    ("general", ChannelKind::Text),
    ("General", ChannelKind::Voice),
];

/// Creates a community owned by `owner_id`: the community, its `@everyone` role (id = the
/// community's id), the owner's membership and the default channels, all or nothing.
pub async fn create(
    db: &Db,
    owner_id: &str,
    name: &str,
    now: i64,
) -> Result<Community, sqlx::Error> {
    let community = Community {
        id: new_id(),
        name: name.to_owned(),
        owner_id: owner_id.to_owned(),
        created_at: now,
    };
    let mut tx = db.pool.begin().await?;
    sqlx::query("INSERT INTO communities (id, name, owner_id, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&community.id)
        .bind(&community.name)
        .bind(&community.owner_id)
        .bind(community.created_at)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO roles (id, community_id, name, permissions, position, created_at) VALUES ($1, $1, $2, $3, 0, $4)",
    )
    .bind(&community.id)
    .bind(roles::EVERYONE)
    .bind(Permissions::EVERYONE_DEFAULT.bits() as i64)
    .bind(community.created_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO community_members (community_id, user_id, joined_at) VALUES ($1, $2, $3)",
    )
    .bind(&community.id)
    .bind(owner_id)
    .bind(community.created_at)
    .execute(&mut *tx)
    .await?;
    for (position, (name, kind)) in DEFAULT_CHANNELS.into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO channels (id, community_id, name, kind, user_limit, position, created_at) VALUES ($1, $2, $3, $4, 0, $5, $6)",
        )
        .bind(new_id())
        .bind(&community.id)
        .bind(name)
        .bind(kind.as_str())
        .bind(position as i64)
        .bind(community.created_at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(community)
}

pub async fn rename(db: &Db, id: &str, name: &str) -> Result<Option<Community>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE communities SET name = $1 WHERE id = $2 RETURNING id, name, owner_id, created_at",
    )
    .bind(name)
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Deletes a community and everything in it (by cascade).
pub async fn delete(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM communities WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// The community as a viewer with `permissions` sees it: channels only with VIEW_CHANNEL.
pub async fn view(
    db: &Db,
    community: Community,
    permissions: Permissions,
) -> Result<CommunityView, sqlx::Error> {
    let channels = if permissions.grants(Permissions::VIEW_CHANNEL) {
        channels::channels(db, &community.id).await?
    } else {
        Vec::new()
    };
    let roles = roles::roles(db, &community.id).await?;
    let members = members::members(db, &community.id).await?;
    Ok(CommunityView {
        community,
        channels,
        roles,
        members,
    })
}
