//! The path parameters the API's operations share, as the document declares them
//! (`params(…)` in each `#[utoipa::path]`). Handlers extract path parameters by position
//! ([`super::ApiPath`]); these types only name and describe them. A parameter's name is the
//! one in the path templates.

// The fields are read by the derives only: nothing deserializes into these types.
#![allow(dead_code)]

use utoipa::IntoParams;

use crate::schema::{Id, InviteCode};

/// `{communityId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct CommunityId {
    /// The community's id.
    #[param(value_type = Id)]
    pub community_id: String,
}

/// `{channelId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct ChannelId {
    /// The channel's id.
    #[param(value_type = Id)]
    pub channel_id: String,
}

/// `{roleId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct RoleId {
    /// The role's id (the `@everyone` role's id is the community's id).
    #[param(value_type = Id)]
    pub role_id: String,
}

/// `{messageId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct MessageId {
    /// The message's id.
    #[param(value_type = Id)]
    pub message_id: String,
}

/// `{conversationId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct ConversationId {
    /// The conversation's id.
    #[param(value_type = Id)]
    pub conversation_id: String,
}

/// `{callId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct CallId {
    /// The call's id.
    #[param(value_type = Id)]
    pub call_id: String,
}

/// `{code}`: an invite code.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct Code {
    /// The invite code.
    #[param(value_type = InviteCode)]
    pub code: String,
}

/// `{userId}`: a user's id.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct UserId {
    /// The user's id.
    #[param(value_type = Id)]
    pub user_id: String,
}

/// `{userId}` in member paths: a user's id, or `@me`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct MemberUserId {
    /// The user's id, or `@me` for the caller.
    #[param(pattern = "^([0-9a-f]{32}|@me)$")]
    pub user_id: String,
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::ParameterIn;

    use super::*;

    #[test]
    fn member_ids_are_ids_or_at_me() {
        let params = MemberUserId::into_params(|| Some(ParameterIn::Path));
        let schema = serde_json::to_value(&params[0]).unwrap();
        assert_eq!(schema["name"], "userId");
        let id = crate::schema::ID_PATTERN
            .trim_start_matches('^')
            .trim_end_matches('$');
        assert_eq!(schema["schema"]["pattern"], format!("^({id}|@me)$"));
    }
}

/// `{id}` of a live session.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct LiveSessionId {
    /// The live session's id.
    #[param(value_type = Id)]
    pub id: String,
}
