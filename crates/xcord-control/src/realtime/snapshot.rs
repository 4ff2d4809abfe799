//! The Ready snapshot: everything a client needs to render, replacing its state.

use serde_json::{Value, json};

use crate::accounts::User;
use crate::api::AppState;

pub async fn ready(_state: &AppState, user: &User) -> Value {
    json!({ "user": user })
}
