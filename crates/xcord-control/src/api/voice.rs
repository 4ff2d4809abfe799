//! Voice and video channels: joining (membership, bans, permissions and the user limit checked;
//! a media token returned), who is in a channel, one's own mute/deafen flags, and moderation —
//! server mute and deafen applied at the SFU through live participant permissions, moving a
//! member (a new token over the gateway, removed from the old room), and disconnecting.

use std::sync::Arc;

use super::ApiPath as Path;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use livekit_protocol as proto;
use serde::Deserialize;

use super::{ApiJson, AppState, Session, State};
use crate::accounts::{User, store as accounts};
use crate::communities::{self, ChannelAccess, permissions::Permissions};
use crate::error::{AppError, AppResult};
use crate::media::{MediaError, MediaPlane};
use crate::realtime::hub::{Audience, GatewayEvent};
use crate::voice::apply::{Change, announce};
use crate::voice::token::{self, MediaTicket};
use crate::voice::{VoiceState, room_of_channel, store};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/channels/{id}/voice", get(channel_states))
        .route("/api/v1/channels/{id}/voice/join", post(join))
        .route("/api/v1/voice/@me", patch(update_self))
        .route(
            "/api/v1/channels/{id}/voice/members/{user_id}/mute",
            post(server_mute),
        )
        .route(
            "/api/v1/channels/{id}/voice/members/{user_id}/deafen",
            post(server_deafen),
        )
        .route(
            "/api/v1/channels/{id}/voice/members/{user_id}/move",
            post(move_member),
        )
        .route(
            "/api/v1/channels/{id}/voice/members/{user_id}/disconnect",
            post(disconnect),
        )
}

fn media(state: &AppState) -> AppResult<(Arc<dyn MediaPlane>, &super::MediaAccess)> {
    match (&state.media, &state.media_access) {
        (Some(m), Some(a)) => Ok((m.clone(), a)),
        _ => Err(AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "media_unavailable",
            "no media plane is attached",
        )),
    }
}

fn media_error(e: MediaError) -> AppError {
    match e {
        MediaError::NotFound(m) => AppError::not_found(m),
        MediaError::Invalid(m) => AppError::invalid(m),
        MediaError::Unavailable(m) => {
            AppError::new(StatusCode::SERVICE_UNAVAILABLE, "media_unavailable", m)
        }
    }
}

/// The caller's access to a voice/video channel they may see.
async fn voice_channel(
    state: &AppState,
    channel_id: &str,
    user_id: &str,
) -> AppResult<ChannelAccess> {
    let access = communities::channel_access(&state.db, channel_id, user_id)
        .await?
        .filter(|a| a.is_member && a.permissions.contains(Permissions::VIEW_CHANNEL))
        .ok_or_else(|| AppError::not_found("channel not found"))?;
    if !access.kind.is_media() {
        return Err(AppError::invalid("this is a text channel: it has no voice"));
    }
    Ok(access)
}

fn require(access: &ChannelAccess, perm: Permissions, name: &str) -> AppResult<()> {
    if access.permissions.contains(perm) {
        Ok(())
    } else {
        Err(AppError::forbidden(format!("missing permission {name}")))
    }
}

async fn ticket_for(
    state: &AppState,
    user: &User,
    access: &ChannelAccess,
) -> AppResult<MediaTicket> {
    let (_, media_access) = media(state)?;
    token::issue(
        media_access,
        user,
        &access.channel_id,
        access.permissions,
        false,
        false,
    )
    .ok_or_else(AppError::internal)
}

/// `POST /api/v1/channels/{id}/voice/join` → `{url, token, room, channelId, expiresAt}`.
async fn join(
    state: State,
    session: Session,
    Path(channel_id): Path<String>,
) -> AppResult<Json<MediaTicket>> {
    let access = voice_channel(&state, &channel_id, &session.user.id).await?;
    if access.banned {
        return Err(AppError::forbidden("you are banned from this community"));
    }
    require(&access, Permissions::CONNECT, "CONNECT")?;
    if access.user_limit > 0 && !access.permissions.contains(Permissions::MOVE_MEMBERS) {
        let inside = store::in_channel(&state.db, &channel_id).await?;
        let others = inside
            .iter()
            .filter(|s| s.user_id != session.user.id)
            .count();
        if others >= access.user_limit as usize {
            return Err(AppError::new(
                StatusCode::FORBIDDEN,
                "channel_full",
                format!("the channel is full ({} of {})", others, access.user_limit),
            ));
        }
    }
    Ok(Json(ticket_for(&state, &session.user, &access).await?))
}

/// `GET /api/v1/channels/{id}/voice` → the channel's voice states.
async fn channel_states(
    state: State,
    session: Session,
    Path(channel_id): Path<String>,
) -> AppResult<Json<Vec<VoiceState>>> {
    voice_channel(&state, &channel_id, &session.user.id).await?;
    Ok(Json(store::in_channel(&state.db, &channel_id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SelfFlags {
    self_mute: Option<bool>,
    self_deaf: Option<bool>,
}

/// `PATCH /api/v1/voice/@me {selfMute?, selfDeaf?}` → the caller's updated voice state.
async fn update_self(
    state: State,
    session: Session,
    ApiJson(req): ApiJson<SelfFlags>,
) -> AppResult<Json<VoiceState>> {
    let current = store::of_user(&state.db, &session.user.id)
        .await?
        .ok_or_else(|| AppError::not_found("you are not in a voice channel"))?;
    let mut s = current.clone();
    if let Some(m) = req.self_mute {
        s.self_mute = m;
    }
    if let Some(d) = req.self_deaf {
        s.self_deaf = d;
    }
    set_flags(&state, &s).await?;
    Ok(Json(s))
}

async fn set_flags(state: &AppState, s: &VoiceState) -> AppResult<()> {
    let mut tx = state.db.pool.begin().await?;
    store::update_flags(&mut tx, s, crate::db::now_ms()).await?;
    tx.commit().await?;
    announce(
        state,
        &[Change::Updated {
            state: s.clone(),
            previous: None,
        }],
    )
    .await;
    Ok(())
}

/// The target's voice state in this channel, after checking the moderator's permission.
async fn moderated(
    state: &AppState,
    moderator: &User,
    channel_id: &str,
    target: &str,
    perm: Permissions,
    name: &str,
) -> AppResult<(ChannelAccess, VoiceState)> {
    let access = voice_channel(state, channel_id, &moderator.id).await?;
    require(&access, perm, name)?;
    let s = store::of_user(&state.db, target)
        .await?
        .filter(|s| s.channel_id == channel_id)
        .ok_or_else(|| AppError::not_found("that member is not in this channel"))?;
    Ok((access, s))
}

/// Applies the target's server mute/deafen as live permissions at the SFU.
async fn enforce(state: &AppState, s: &VoiceState) -> AppResult<()> {
    let (media, _) = media(state)?;
    let access = communities::channel_access(&state.db, &s.channel_id, &s.user_id)
        .await?
        .ok_or_else(|| AppError::not_found("channel not found"))?;
    let room = room_of_channel(&s.channel_id);
    media
        .update_participant(proto::UpdateParticipantRequest {
            room: room.clone(),
            identity: s.user_id.clone(),
            permission: Some(token::permission(
                access.permissions,
                s.server_mute,
                s.server_deaf,
            )),
            ..Default::default()
        })
        .await
        .map_err(media_error)?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MuteRequest {
    muted: bool,
}

/// Which server-side flag a moderator sets.
#[derive(Clone, Copy)]
enum ServerFlag {
    Mute,
    Deafen,
}

/// Sets a member's server mute or deafen: the permission is checked, the member's live
/// permissions at the SFU are updated (they stay connected), and the state is announced.
async fn set_server_flag(
    state: &AppState,
    moderator: &User,
    channel_id: &str,
    target: &str,
    flag: ServerFlag,
    on: bool,
) -> AppResult<VoiceState> {
    let (perm, name) = match flag {
        ServerFlag::Mute => (Permissions::MUTE_MEMBERS, "MUTE_MEMBERS"),
        ServerFlag::Deafen => (Permissions::DEAFEN_MEMBERS, "DEAFEN_MEMBERS"),
    };
    let (_, mut s) = moderated(state, moderator, channel_id, target, perm, name).await?;
    match flag {
        ServerFlag::Mute => s.server_mute = on,
        ServerFlag::Deafen => s.server_deaf = on,
    }
    enforce(state, &s).await?;
    set_flags(state, &s).await?;
    Ok(s)
}

/// `POST …/members/{userId}/mute {muted}` (MUTE_MEMBERS): the member stays connected but can no
/// longer publish a microphone (their microphone track is unpublished at the SFU).
async fn server_mute(
    state: State,
    session: Session,
    Path((channel_id, target)): Path<(String, String)>,
    ApiJson(req): ApiJson<MuteRequest>,
) -> AppResult<Json<VoiceState>> {
    let s = set_server_flag(
        &state,
        &session.user,
        &channel_id,
        &target,
        ServerFlag::Mute,
        req.muted,
    )
    .await?;
    Ok(Json(s))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeafenRequest {
    deafened: bool,
}

/// `POST …/members/{userId}/deafen {deafened}` (DEAFEN_MEMBERS): the member receives nothing.
async fn server_deafen(
    state: State,
    session: Session,
    Path((channel_id, target)): Path<(String, String)>,
    ApiJson(req): ApiJson<DeafenRequest>,
) -> AppResult<Json<VoiceState>> {
    let s = set_server_flag(
        &state,
        &session.user,
        &channel_id,
        &target,
        ServerFlag::Deafen,
        req.deafened,
    )
    .await?;
    Ok(Json(s))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MoveRequest {
    channel_id: String,
}

/// `POST …/members/{userId}/move {channelId}` (MOVE_MEMBERS in both channels): the member gets a
/// token for the target channel over the gateway (VOICE_MOVE) and is removed from the old room.
async fn move_member(
    state: State,
    session: Session,
    Path((channel_id, target)): Path<(String, String)>,
    ApiJson(req): ApiJson<MoveRequest>,
) -> AppResult<StatusCode> {
    let (from, s) = moderated(
        &state,
        &session.user,
        &channel_id,
        &target,
        Permissions::MOVE_MEMBERS,
        "MOVE_MEMBERS",
    )
    .await?;
    let to = voice_channel(&state, &req.channel_id, &session.user.id).await?;
    require(&to, Permissions::MOVE_MEMBERS, "MOVE_MEMBERS")?;
    if to.community_id != from.community_id {
        return Err(AppError::invalid(
            "members can only be moved within their community",
        ));
    }
    let target_access = communities::channel_access(&state.db, &req.channel_id, &target)
        .await?
        .filter(|a| a.is_member && !a.banned)
        .ok_or_else(|| AppError::forbidden("that member cannot join the target channel"))?;
    let user = accounts::user_by_id(&state.db, &target)
        .await?
        .ok_or_else(|| AppError::not_found("user not found"))?;
    let ticket = ticket_for(&state, &user, &target_access).await?;
    state.hub.publish(
        Audience::User(target.clone()),
        GatewayEvent::new("VOICE_MOVE", &ticket),
    );
    remove_from_room(&state, &s.channel_id, &target).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/members/{userId}/disconnect` (MOVE_MEMBERS): removes the member from the room.
async fn disconnect(
    state: State,
    session: Session,
    Path((channel_id, target)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    let (_, s) = moderated(
        &state,
        &session.user,
        &channel_id,
        &target,
        Permissions::MOVE_MEMBERS,
        "MOVE_MEMBERS",
    )
    .await?;
    remove_from_room(&state, &s.channel_id, &target).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes `user_id` from the channel's media room (already gone counts as done).
async fn remove_from_room(state: &AppState, channel_id: &str, user_id: &str) -> AppResult<()> {
    let (media, _) = media(state)?;
    match media
        .remove_participant(&room_of_channel(channel_id), user_id)
        .await
    {
        Ok(()) | Err(MediaError::NotFound(_)) => Ok(()),
        Err(e) => Err(media_error(e)),
    }
}

/// Drops a member who was kicked or banned from a community out of its voice channels.
pub async fn drop_from_community_voice(state: &AppState, community_id: &str, user_id: &str) {
    let Ok(Some(s)) = store::of_user(&state.db, user_id).await else {
        return;
    };
    let in_community = communities::channel_access(&state.db, &s.channel_id, user_id)
        .await
        .ok()
        .flatten()
        .is_some_and(|a| a.community_id == community_id);
    if !in_community {
        return;
    }
    if let Some(media) = &state.media
        && let Err(e) = media
            .remove_participant(&room_of_channel(&s.channel_id), user_id)
            .await
    {
        tracing::warn!(user = %user_id, "could not remove a removed member from voice: {e}");
    }
}
