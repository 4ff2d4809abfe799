//! Communities ("servers") over HTTP: one file per aggregate, as in
//! `crate::communities::service` — the community itself, invites, members and bans, roles,
//! channels, and channel messages. The handlers read the request and shape the response; the
//! rules live in the services. `{userId}` may be `@me` in member paths (removing yourself is
//! leaving).

mod channels;
mod community;
mod invites;
mod members;
pub(super) mod messages;
mod roles;

use std::sync::Arc;

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Services, Session};

pub(super) use channels::document_kind_rule;

type St = State<Arc<Services>>;

pub fn routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::default()
        .routes(routes!(community::create))
        .routes(routes!(community::mine))
        .routes(routes!(members::leave))
        .routes(routes!(
            community::view,
            community::rename,
            community::remove
        ))
        .routes(routes!(invites::list_invites, invites::create_invite))
        .routes(routes!(
            invites::preview_invite,
            invites::join,
            invites::revoke_invite
        ))
        .routes(routes!(members::list_members))
        .routes(routes!(members::member, members::kick))
        .routes(routes!(members::list_bans))
        .routes(routes!(members::ban, members::unban))
        .routes(routes!(roles::list_roles, roles::create_role))
        .routes(routes!(roles::update_role, roles::delete_role))
        .routes(routes!(roles::assign_role, roles::unassign_role))
        .routes(routes!(channels::list_channels, channels::create_channel))
        .routes(routes!(
            channels::channel,
            channels::update_channel,
            channels::delete_channel
        ))
        .routes(routes!(messages::list_messages, messages::send_message))
        .routes(routes!(messages::edit_message, messages::delete_message))
}

/// `@me` names the signed-in user in paths.
fn user_param<'a>(session: &'a Session, user_id: &'a str) -> &'a str {
    if user_id == "@me" {
        &session.user.id
    } else {
        user_id
    }
}
