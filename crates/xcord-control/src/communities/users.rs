//! Reading users joined into other queries: `user_columns("u")` selects a user's columns with a
//! `u_` prefix and `user_from_row` reads them back; the `_as` forms take another prefix (for two
//! users in one row).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::accounts::User;
use crate::db::get_bool;

const COLUMNS: [&str; 8] = [
    "id",
    "handle",
    "display_name",
    "avatar_from",
    "avatar_to",
    "is_creator",
    "subscription_price_coins",
    "created_at",
];

/// The select list of the user table aliased as `alias`, each column renamed `u_<column>`.
pub(crate) fn user_columns(alias: &str) -> String {
    user_columns_as(alias, "u")
}

/// The select list of the user table aliased as `alias`, each column renamed
/// `<prefix>_<column>`.
pub(crate) fn user_columns_as(alias: &str, prefix: &str) -> String {
    COLUMNS
        .iter()
        .map(|c| format!("{alias}.{c} AS {prefix}_{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The user selected with `user_columns`.
pub(crate) fn user_from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    user_from_row_as(row, "u")
}

/// The user selected with `user_columns_as(_, prefix)`.
pub(crate) fn user_from_row_as(row: &AnyRow, prefix: &str) -> Result<User, sqlx::Error> {
    let col = |c: &str| format!("{prefix}_{c}");
    Ok(User {
        id: row.try_get(col("id").as_str())?,
        handle: row.try_get(col("handle").as_str())?,
        display_name: row.try_get(col("display_name").as_str())?,
        avatar_gradient: [
            row.try_get(col("avatar_from").as_str())?,
            row.try_get(col("avatar_to").as_str())?,
        ],
        is_creator: get_bool(row, &col("is_creator"))?,
        subscription_price_coins: row.try_get(col("subscription_price_coins").as_str())?,
        created_at: row.try_get(col("created_at").as_str())?,
    })
}
