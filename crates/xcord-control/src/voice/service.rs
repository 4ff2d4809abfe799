//! The rules of voice and video channels: who may join (the `admission` rules: member, not
//! banned, CONNECT, the user limit unless MOVE_MEMBERS) and with which media grants; who is in
//! a channel; one's own mute/deafen flags; moderation — server mute and deafen, persisted per
//! member and community and applied at the SFU through live participant permissions, moving a
//! member (a new ticket over the gateway, removed from the old room), disconnecting; and
//! judging people already in voice again when their permissions change.

use livekit_protocol as proto;

use super::admission::{self, Refusal, Verdict};
use super::apply::{Change, act, announce};
use super::decide::MediaAction;
use super::moderation::{self, Moderation};
use super::token::{self, MediaTicket};
use super::{VoiceState, room_of_channel, store};
use crate::accounts::{User, store as accounts};
use crate::app::Services;
use crate::communities::{self, ChannelAccess, Permissions};
use crate::error::{Error, ErrorCode, Result};
use crate::media::MediaError;
use crate::realtime::hub::{Audience, GatewayEvent};

/// The gateway event that hands a moved member their new ticket.
pub const VOICE_MOVE: &str = "VOICE_MOVE";

/// The caller's access to a voice/video channel they may see.
async fn voice_channel(
    services: &Services,
    channel_id: &str,
    user_id: &str,
) -> Result<ChannelAccess> {
    let access = communities::channel_access(&services.db, channel_id, user_id)
        .await?
        .filter(|a| a.is_member && a.permissions.grants(Permissions::VIEW_CHANNEL))
        .ok_or_else(|| Error::not_found("channel not found"))?;
    if !access.kind.is_media() {
        return Err(Error::invalid("this is a text channel: it has no voice"));
    }
    Ok(access)
}

/// 403 naming the permission unless the access grants it.
fn require(access: &ChannelAccess, perm: Permissions) -> Result<()> {
    if access.permissions.grants(perm) {
        Ok(())
    } else {
        Err(Error::forbidden(format!("missing permission {perm}")))
    }
}

fn ticket_for(
    services: &Services,
    user: &User,
    access: &ChannelAccess,
    moderation: Moderation,
) -> Result<MediaTicket> {
    let media = services.media()?;
    token::issue(
        &media.access,
        user,
        &access.channel_id,
        access.permissions,
        moderation.server_mute,
        moderation.server_deaf,
        services.clock.now_ms(),
    )
    .ok_or_else(|| Error::internal("signing a media token failed"))
}

/// The error a refused join answers with.
fn refused(why: Refusal, access: &ChannelAccess, others: usize) -> Error {
    match why {
        Refusal::NotMember => Error::not_found("channel not found"),
        Refusal::Banned => Error::forbidden("you are banned from this community"),
        Refusal::NoConnect => {
            Error::forbidden(format!("missing permission {}", Permissions::CONNECT))
        }
        Refusal::ChannelFull => Error::new(
            ErrorCode::ChannelFull,
            format!("the channel is full ({} of {})", others, access.user_limit),
        ),
    }
}

/// A ticket into the channel's room, after the admission rules (membership, ban, CONNECT, the
/// user limit unless MOVE_MEMBERS); the ticket carries the member's server mute and deafen.
/// The same rules are applied again when the participant actually joins.
pub async fn join(services: &Services, user: &User, channel_id: &str) -> Result<MediaTicket> {
    let access = voice_channel(services, channel_id, &user.id).await?;
    let others = store::in_channel(&services.db, channel_id)
        .await?
        .iter()
        .filter(|s| s.user_id != user.id)
        .count();
    let moderation = moderation::get(&services.db, &access.community_id, &user.id).await?;
    match admission::decide(Some(&access), Some(others), moderation) {
        Verdict::Admit { moderation, .. } => ticket_for(services, user, &access, moderation),
        Verdict::Refuse(why) => Err(refused(why, &access, others)),
    }
}

/// Judges someone already in voice again (their permissions or moderation changed): removes
/// them, refusing their earlier tickets, if they may no longer be there; otherwise brings their
/// live permissions at the media plane to what the server decided.
pub async fn rejudge(services: &Services, s: &VoiceState) {
    let Some(media) = &services.media else {
        return;
    };
    let room = room_of_channel(&s.channel_id);
    let verdict = match communities::channel_access(&services.db, &s.channel_id, &s.user_id).await {
        Ok(access) => match &access {
            Some(a) => match moderation::get(&services.db, &a.community_id, &s.user_id).await {
                Ok(m) => admission::decide(access.as_ref(), None, m),
                Err(e) => {
                    tracing::warn!(user = %s.user_id, "moderation unreadable: {e}");
                    return;
                }
            },
            None => admission::decide(None, None, Moderation::default()),
        },
        Err(e) => {
            tracing::warn!(user = %s.user_id, "standing unreadable: {e}");
            return;
        }
    };
    let action = match verdict {
        Verdict::Refuse(_) => MediaAction::Remove {
            identity: s.user_id.clone(),
        },
        Verdict::Admit { permission, .. } => {
            match media.plane.get_participant(&room, &s.user_id).await {
                Ok(p) if p.permission.as_ref() == Some(&permission) => return,
                Ok(_) => MediaAction::SetPermission {
                    identity: s.user_id.clone(),
                    permission,
                },
                Err(MediaError::NotFound(_)) => return,
                Err(e) => {
                    tracing::warn!(user = %s.user_id, "participant unreadable: {e}");
                    return;
                }
            }
        }
    };
    act(services, &room, &[action]).await;
}

/// Who is in the channel (for members who may see it).
pub async fn states(
    services: &Services,
    user_id: &str,
    channel_id: &str,
) -> Result<Vec<VoiceState>> {
    voice_channel(services, channel_id, user_id).await?;
    Ok(store::in_channel(&services.db, channel_id).await?)
}

/// Sets the caller's own mute/deafen flags (what their client reports).
pub async fn set_self_flags(
    services: &Services,
    user_id: &str,
    self_mute: Option<bool>,
    self_deaf: Option<bool>,
) -> Result<VoiceState> {
    let mut s = store::of_user(&services.db, user_id)
        .await?
        .ok_or_else(|| Error::not_found("you are not in a voice channel"))?;
    if let Some(m) = self_mute {
        s.self_mute = m;
    }
    if let Some(d) = self_deaf {
        s.self_deaf = d;
    }
    write_flags(services, &s).await?;
    Ok(s)
}

async fn write_flags(services: &Services, s: &VoiceState) -> Result<()> {
    let mut tx = services.db.pool.begin().await?;
    store::update_flags(&mut tx, s, services.clock.now_ms()).await?;
    tx.commit().await?;
    announce(
        services,
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
    services: &Services,
    moderator: &User,
    channel_id: &str,
    target: &str,
    perm: Permissions,
) -> Result<(ChannelAccess, VoiceState)> {
    let access = voice_channel(services, channel_id, &moderator.id).await?;
    require(&access, perm)?;
    let s = store::of_user(&services.db, target)
        .await?
        .filter(|s| s.channel_id == channel_id)
        .ok_or_else(|| Error::not_found("that member is not in this channel"))?;
    Ok((access, s))
}

/// Applies the target's server mute/deafen as live permissions at the SFU.
async fn enforce(services: &Services, s: &VoiceState, moderation: Moderation) -> Result<()> {
    let media = services.media()?;
    let access = communities::channel_access(&services.db, &s.channel_id, &s.user_id)
        .await?
        .ok_or_else(|| Error::not_found("channel not found"))?;
    media
        .plane
        .update_participant(proto::UpdateParticipantRequest {
            room: room_of_channel(&s.channel_id),
            identity: s.user_id.clone(),
            permission: Some(token::permission(
                access.permissions,
                moderation.server_mute,
                moderation.server_deaf,
            )),
            ..Default::default()
        })
        .await?;
    Ok(())
}

/// Which server-side flag a moderator sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerFlag {
    /// The member can no longer publish a microphone (MUTE_MEMBERS).
    Mute,
    /// The member receives nothing (DEAFEN_MEMBERS).
    Deafen,
}

/// Sets a member's server mute or deafen: the permission is checked, the member's live
/// permissions at the SFU are updated (they stay connected), and the state is announced.
pub async fn set_server_flag(
    services: &Services,
    moderator: &User,
    channel_id: &str,
    target: &str,
    flag: ServerFlag,
    on: bool,
) -> Result<VoiceState> {
    let perm = match flag {
        ServerFlag::Mute => Permissions::MUTE_MEMBERS,
        ServerFlag::Deafen => Permissions::DEAFEN_MEMBERS,
    };
    let (access, mut s) = moderated(services, moderator, channel_id, target, perm).await?;
    let mut m = moderation::get(&services.db, &access.community_id, target).await?;
    match flag {
        ServerFlag::Mute => m.server_mute = on,
        ServerFlag::Deafen => m.server_deaf = on,
    }
    // Recorded first, so that a rejoin racing this request already gets a ticket without it.
    moderation::set(
        &services.db,
        &access.community_id,
        target,
        m,
        services.clock.now_ms(),
    )
    .await?;
    s.server_mute = m.server_mute;
    s.server_deaf = m.server_deaf;
    enforce(services, &s, m).await?;
    write_flags(services, &s).await?;
    Ok(s)
}

/// Moves a member (MOVE_MEMBERS in both channels, same community): they get a ticket for the
/// target channel over the gateway (`VOICE_MOVE`) and are removed from the old room.
pub async fn move_member(
    services: &Services,
    moderator: &User,
    channel_id: &str,
    target: &str,
    to_channel_id: &str,
) -> Result<()> {
    let (from, s) = moderated(
        services,
        moderator,
        channel_id,
        target,
        Permissions::MOVE_MEMBERS,
    )
    .await?;
    let to = voice_channel(services, to_channel_id, &moderator.id).await?;
    require(&to, Permissions::MOVE_MEMBERS)?;
    if to.community_id != from.community_id {
        return Err(Error::invalid(
            "members can only be moved within their community",
        ));
    }
    let target_access = communities::channel_access(&services.db, to_channel_id, target)
        .await?
        .filter(|a| a.is_member && !a.banned)
        .ok_or_else(|| Error::forbidden("that member cannot join the target channel"))?;
    let user = accounts::user_by_id(&services.db, target)
        .await?
        .ok_or_else(|| Error::not_found("user not found"))?;
    let m = moderation::get(&services.db, &target_access.community_id, target).await?;
    let ticket = ticket_for(services, &user, &target_access, m)?;
    services.hub.publish(
        Audience::User(target.to_owned()),
        GatewayEvent::new(VOICE_MOVE, &ticket),
    );
    remove_from_room(services, &s.channel_id, target).await
}

/// Removes a member from the channel's room (MOVE_MEMBERS).
pub async fn disconnect(
    services: &Services,
    moderator: &User,
    channel_id: &str,
    target: &str,
) -> Result<()> {
    let (_, s) = moderated(
        services,
        moderator,
        channel_id,
        target,
        Permissions::MOVE_MEMBERS,
    )
    .await?;
    remove_from_room(services, &s.channel_id, target).await
}

/// Removes `user_id` from the channel's media room (already gone counts as done) and refuses
/// the tickets they hold for it: coming back takes a new ticket, which the rules decide.
async fn remove_from_room(services: &Services, channel_id: &str, user_id: &str) -> Result<()> {
    let media = services.media()?;
    match media
        .plane
        .revoke_participant(&room_of_channel(channel_id), user_id, token::TOKEN_TTL)
        .await
    {
        Ok(_) | Err(MediaError::NotFound(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
