//! SQL for invites and joining by invite: the use is counted and the membership added in one
//! transaction, and nothing is written when the join is refused.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::communities::{Community, Invite, InvitePreview};
use crate::db::Db;

const COLUMNS: &str = "code, community_id, creator_id, max_uses, uses, expires_at, created_at";

fn from_row(row: &AnyRow) -> Result<Invite, sqlx::Error> {
    Ok(Invite {
        code: row.try_get("code")?,
        community_id: row.try_get("community_id")?,
        creator_id: row.try_get("creator_id")?,
        max_uses: row.try_get("max_uses")?,
        uses: row.try_get("uses")?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A new random invite code: 10 characters of `[A-Za-z0-9]`.
pub fn new_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

pub async fn insert(
    db: &Db,
    community_id: &str,
    creator_id: &str,
    max_uses: Option<i64>,
    expires_at: Option<i64>,
    now: i64,
) -> Result<Invite, sqlx::Error> {
    let invite = Invite {
        code: new_code(),
        community_id: community_id.to_owned(),
        creator_id: creator_id.to_owned(),
        max_uses,
        uses: 0,
        expires_at,
        created_at: now,
    };
    sqlx::query(&format!(
        "INSERT INTO invites ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(&invite.code)
    .bind(&invite.community_id)
    .bind(&invite.creator_id)
    .bind(invite.max_uses)
    .bind(invite.uses)
    .bind(invite.expires_at)
    .bind(invite.created_at)
    .execute(&db.pool)
    .await?;
    Ok(invite)
}

pub async fn invite(db: &Db, code: &str) -> Result<Option<Invite>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM invites WHERE code = $1"))
        .bind(code)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// A community's invites, newest first.
pub async fn invites(db: &Db, community_id: &str) -> Result<Vec<Invite>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM invites WHERE community_id = $1 ORDER BY created_at DESC, code"
    ))
    .bind(community_id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

pub async fn delete(db: &Db, code: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM invites WHERE code = $1")
        .bind(code)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn preview(db: &Db, code: &str) -> Result<Option<InvitePreview>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT i.code, i.community_id, i.expires_at, c.name, \
         (SELECT COUNT(*) FROM community_members m WHERE m.community_id = i.community_id) AS member_count \
         FROM invites i JOIN communities c ON c.id = i.community_id WHERE i.code = $1",
    )
    .bind(code)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(InvitePreview {
        code: row.try_get("code")?,
        community_id: row.try_get("community_id")?,
        community_name: row.try_get("name")?,
        member_count: row.try_get("member_count")?,
        expires_at: row.try_get("expires_at")?,
    }))
}

/// What came of an attempt to join by invite.
#[derive(Debug)]
pub enum JoinOutcome {
    Joined(Community),
    AlreadyMember(Community),
    NotFound,
    Expired,
    UsedUp,
    Banned,
}

/// The community and whether the user is a member of it and banned from it.
async fn standing_in(
    conn: &mut AnyConnection,
    community_id: &str,
    user_id: &str,
) -> Result<(Community, bool, bool), sqlx::Error> {
    super::membership(conn, community_id, user_id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// Joins `user_id` to the invite's community: counts the use and adds the membership, or
/// writes nothing. A ban is reported before anything else; a member gets `AlreadyMember`
/// whatever the state of the invite.
pub async fn join(
    db: &Db,
    code: &str,
    user_id: &str,
    now: i64,
) -> Result<JoinOutcome, sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    // The write comes first, so the transaction holds the write lock from its start (SQLite).
    let used = sqlx::query(
        "UPDATE invites SET uses = uses + 1 WHERE code = $1 \
         AND (max_uses IS NULL OR uses < max_uses) AND (expires_at IS NULL OR expires_at > $2) \
         RETURNING community_id",
    )
    .bind(code)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(used) = used else {
        let invite = sqlx::query(&format!("SELECT {COLUMNS} FROM invites WHERE code = $1"))
            .bind(code)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(invite) = invite.as_ref().map(from_row).transpose()? else {
            tx.rollback().await?;
            return Ok(JoinOutcome::NotFound);
        };
        let (community, is_member, banned) =
            standing_in(&mut tx, &invite.community_id, user_id).await?;
        tx.rollback().await?;
        return Ok(if banned {
            JoinOutcome::Banned
        } else if is_member {
            JoinOutcome::AlreadyMember(community)
        } else if invite.expires_at.is_some_and(|at| at <= now) {
            JoinOutcome::Expired
        } else {
            JoinOutcome::UsedUp
        });
    };
    let community_id: String = used.try_get("community_id")?;
    let (community, is_member, banned) = standing_in(&mut tx, &community_id, user_id).await?;
    if banned || is_member {
        tx.rollback().await?;
        return Ok(if banned {
            JoinOutcome::Banned
        } else {
            JoinOutcome::AlreadyMember(community)
        });
    }
    sqlx::query(
        "INSERT INTO community_members (community_id, user_id, joined_at) VALUES ($1, $2, $3)",
    )
    .bind(&community_id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(JoinOutcome::Joined(community))
}

#[cfg(test)]
mod code_tests {
    #[test]
    fn codes_have_the_documented_shape() {
        assert_eq!(crate::schema::INVITE_CODE_PATTERN, "^[A-Za-z0-9]{10}$");
        for _ in 0..100 {
            let code = super::new_code();
            assert_eq!(code.len(), 10);
            assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }
}
