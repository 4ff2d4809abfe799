//! SQL for roles and their assignment to members. The `@everyone` role's id is its
//! community's id; it has position 0 and is never assigned (every member has it).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::communities::{Permissions, Role};
use crate::db::{Db, new_id};

/// The name of the role every member has.
pub const EVERYONE: &str = "@everyone";

const COLUMNS: &str = "id, community_id, name, permissions, position, created_at";

fn from_row(row: &AnyRow) -> Result<Role, sqlx::Error> {
    let id: String = row.try_get("id")?;
    let community_id: String = row.try_get("community_id")?;
    Ok(Role {
        is_everyone: id == community_id,
        id,
        community_id,
        name: row.try_get("name")?,
        permissions: Permissions::from_bits_truncate(row.try_get::<i64, _>("permissions")? as u64),
        position: row.try_get("position")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A community's roles, `@everyone` first.
pub async fn roles(db: &Db, community_id: &str) -> Result<Vec<Role>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM roles WHERE community_id = $1 ORDER BY position, id"
    ))
    .bind(community_id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

pub async fn role(db: &Db, community_id: &str, role_id: &str) -> Result<Option<Role>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM roles WHERE community_id = $1 AND id = $2"
    ))
    .bind(community_id)
    .bind(role_id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Adds a role after the community's last one.
pub async fn insert(
    db: &Db,
    community_id: &str,
    name: &str,
    permissions: Permissions,
    now: i64,
) -> Result<Role, sqlx::Error> {
    let row = sqlx::query(&format!(
        "INSERT INTO roles (id, community_id, name, permissions, position, created_at) \
         SELECT $1, $2, $3, $4, COALESCE(MAX(position), 0) + 1, $5 FROM roles WHERE community_id = $2 \
         RETURNING {COLUMNS}"
    ))
    .bind(new_id())
    .bind(community_id)
    .bind(name)
    .bind(permissions.bits() as i64)
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    from_row(&row)
}

/// Changes a role's name and/or permissions.
pub async fn update(
    db: &Db,
    community_id: &str,
    role_id: &str,
    name: Option<&str>,
    permissions: Option<Permissions>,
) -> Result<Option<Role>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "UPDATE roles SET name = COALESCE($1, name), permissions = COALESCE($2, permissions) \
         WHERE community_id = $3 AND id = $4 RETURNING {COLUMNS}"
    ))
    .bind(name)
    .bind(permissions.map(|p| p.bits() as i64))
    .bind(community_id)
    .bind(role_id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Deletes a role (and its assignments, by cascade).
pub async fn delete(db: &Db, community_id: &str, role_id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM roles WHERE community_id = $1 AND id = $2")
        .bind(community_id)
        .bind(role_id)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Gives a member a role; whether it was new.
pub async fn assign(
    db: &Db,
    community_id: &str,
    user_id: &str,
    role_id: &str,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "INSERT INTO member_roles (community_id, user_id, role_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(community_id)
    .bind(user_id)
    .bind(role_id)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Takes a role from a member; whether they had it.
pub async fn unassign(
    db: &Db,
    community_id: &str,
    user_id: &str,
    role_id: &str,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "DELETE FROM member_roles WHERE community_id = $1 AND user_id = $2 AND role_id = $3",
    )
    .bind(community_id)
    .bind(user_id)
    .bind(role_id)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() > 0)
}
