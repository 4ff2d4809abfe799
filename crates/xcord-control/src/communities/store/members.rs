//! SQL for memberships: members with their role ids, permissions granted by roles, leaving.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::communities::users::{user_columns, user_from_row};
use crate::communities::{Member, Permissions};
use crate::db::Db;

fn member_from_row(row: &AnyRow, role_ids: Vec<String>) -> Result<Member, sqlx::Error> {
    Ok(Member {
        community_id: row.try_get("community_id")?,
        user: user_from_row(row)?,
        role_ids,
        joined_at: row.try_get("joined_at")?,
    })
}

/// Role ids of members (`user_id = None`: of every member), by role position.
async fn role_ids(
    db: &Db,
    community_id: &str,
    user_id: Option<&str>,
) -> Result<HashMap<String, Vec<String>>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT mr.user_id, mr.role_id FROM member_roles mr JOIN roles r ON r.id = mr.role_id \
         WHERE mr.community_id = $1 AND ($2 = '' OR mr.user_id = $2) ORDER BY r.position, r.id",
    )
    .bind(community_id)
    .bind(user_id.unwrap_or(""))
    .fetch_all(&db.pool)
    .await?;
    let mut by_user: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        by_user
            .entry(row.try_get("user_id")?)
            .or_default()
            .push(row.try_get("role_id")?);
    }
    Ok(by_user)
}

fn member_select() -> String {
    format!(
        "SELECT m.community_id, m.joined_at, {} FROM community_members m JOIN users u ON u.id = m.user_id",
        user_columns("u")
    )
}

/// A community's members, earliest first.
pub async fn members(db: &Db, community_id: &str) -> Result<Vec<Member>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "{} WHERE m.community_id = $1 ORDER BY m.joined_at, m.user_id",
        member_select()
    ))
    .bind(community_id)
    .fetch_all(&db.pool)
    .await?;
    let mut roles = role_ids(db, community_id, None).await?;
    rows.iter()
        .map(|row| {
            let user_id: String = row.try_get("u_id")?;
            member_from_row(row, roles.remove(&user_id).unwrap_or_default())
        })
        .collect()
}

pub async fn member(
    db: &Db,
    community_id: &str,
    user_id: &str,
) -> Result<Option<Member>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "{} WHERE m.community_id = $1 AND m.user_id = $2",
        member_select()
    ))
    .bind(community_id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let roles = role_ids(db, community_id, Some(user_id))
        .await?
        .remove(user_id)
        .unwrap_or_default();
    member_from_row(&row, roles).map(Some)
}

/// What `@everyone` and a member's roles grant (ownership not counted), effective.
pub async fn granted_permissions(
    db: &Db,
    community_id: &str,
    user_id: &str,
) -> Result<Permissions, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT permissions FROM roles WHERE id = $1 \
         UNION ALL \
         SELECT r.permissions FROM member_roles mr JOIN roles r ON r.id = mr.role_id \
         WHERE mr.community_id = $1 AND mr.user_id = $2",
    )
    .bind(community_id)
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    let mut granted = Permissions::empty();
    for row in rows {
        granted |= Permissions::from_bits_truncate(row.try_get::<i64, _>("permissions")? as u64);
    }
    Ok(granted.effective())
}

/// Every member's effective permissions (the owner's are all).
pub async fn all_permissions(
    db: &Db,
    community_id: &str,
) -> Result<Vec<(String, Permissions)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT m.user_id, c.owner_id, e.permissions AS everyone, r.permissions AS granted \
         FROM community_members m \
         JOIN communities c ON c.id = m.community_id \
         JOIN roles e ON e.id = m.community_id \
         LEFT JOIN member_roles mr ON mr.community_id = m.community_id AND mr.user_id = m.user_id \
         LEFT JOIN roles r ON r.id = mr.role_id \
         WHERE m.community_id = $1 ORDER BY m.user_id",
    )
    .bind(community_id)
    .fetch_all(&db.pool)
    .await?;
    let mut out: Vec<(String, Permissions)> = Vec::new();
    for row in rows {
        let user: String = row.try_get("user_id")?;
        let owner: String = row.try_get("owner_id")?;
        let bits = row.try_get::<i64, _>("everyone")?
            | row.try_get::<Option<i64>, _>("granted")?.unwrap_or(0);
        let mut p = Permissions::from_bits_truncate(bits as u64);
        if user == owner {
            p = Permissions::all();
        }
        match out.last_mut() {
            Some((last, acc)) if *last == user => *acc |= p,
            _ => out.push((user, p)),
        }
    }
    Ok(out.into_iter().map(|(u, p)| (u, p.effective())).collect())
}

/// Removes a membership (and its role assignments, by cascade); whether there was one.
pub async fn remove(db: &Db, community_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM community_members WHERE community_id = $1 AND user_id = $2")
        .bind(community_id)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Whether users `a` and `b` are members of a community in common.
pub async fn share_a_community(db: &Db, a: &str, b: &str) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "SELECT 1 AS shared FROM community_members x JOIN community_members y \
         ON x.community_id = y.community_id WHERE x.user_id = $1 AND y.user_id = $2 LIMIT 1",
    )
    .bind(a)
    .bind(b)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.is_some())
}
