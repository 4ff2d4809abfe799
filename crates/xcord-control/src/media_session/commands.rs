//! `POST /api/v1/media-session/commands`: one command from any of the user's connections. Each
//! carries the client's id — the first answer is kept and returned again for the same id,
//! with nothing done twice — and may carry the epoch it was sent at, refused as `stale_epoch`
//! when the session has moved on. Calls' flows start here: `start_call` rings the callee (or
//! is `busy`) and puts the caller's session in the call's room; `accept_call` moves the
//! callee's session into it; `decline_call` closes one ringing call.

use serde_json::{Value, json};

use super::machine::{Control, Input, Refusal, fence};
use super::model::{Context, IncomingCall, Person, Pip, SessionType};
pub use super::request::{CommandRequest, MAX_COMMAND_ID, parse};
use super::store;
use super::unit::{Answer, Unit, render};
use crate::accounts::{User, store as accounts};
use crate::app::Services;
use crate::calls::machine::{Call, CallRefusal};
use crate::calls::{CallView, room_of_call};
use crate::communities::{self, ChannelKind};
use crate::conversations;
use crate::db::new_id;
use crate::error::{Error, ErrorCode, Result};
use crate::voice;

fn person(u: &User) -> Person {
    Person {
        id: u.id.clone(),
        display_name: u.display_name.clone(),
        avatar_gradient: u.avatar_gradient.clone(),
    }
}

fn refused(r: Refusal) -> Error {
    match r {
        Refusal::StaleEpoch { .. } => Error::new(ErrorCode::StaleEpoch, r.to_string()),
        Refusal::NotLive(_) => Error::not_found(r.to_string()),
        Refusal::NotOwner | Refusal::Busy => Error::conflict(r.to_string()),
    }
}

fn call_refused(r: CallRefusal) -> Error {
    match r {
        CallRefusal::NotAParty => Error::not_found("call not found"),
        CallRefusal::NotCallee => Error::forbidden(r.to_string()),
        CallRefusal::NotRinging(_) => Error::conflict(r.to_string()),
    }
}

/// Runs one command for `user`; the answer is `{result, session}`.
pub async fn run(services: &Services, user: &User, command: CommandRequest) -> Result<Value> {
    let (id, epoch) = command.id_and_epoch();
    let id = id.to_owned();
    if id.is_empty() || id.chars().count() > MAX_COMMAND_ID {
        return Err(Error::invalid(format!(
            "id must be 1 to {MAX_COMMAND_ID} characters"
        )));
    }
    if let Some(first) = store::answer(&services.db, &user.id, &id).await? {
        return Ok(first);
    }
    let mut unit = Unit::begin(services).await;
    // Under the lock: a duplicate sent at the same moment finds the first one's answer.
    if let Some(first) = store::answer(&services.db, &user.id, &id).await? {
        return Ok(first);
    }
    fence(unit.session(&user.id).await?, epoch).map_err(refused)?;
    let flags = voice_flags(&command);
    let outcome = execute(services, &mut unit, user, command, epoch).await;
    let result = match outcome {
        Ok(result) => result,
        Err(e) => {
            // A refusal still stores what time changed on the way (an expired ring, say).
            unit.commit(None).await?;
            return Err(e);
        }
    };
    let session = unit.session(&user.id).await?.clone();
    let rendered = render(services, &session).await?;
    let answer = json!({"result": result, "session": rendered});
    unit.commit(Some(Answer {
        user_id: &user.id,
        command_id: &id,
        answer: &answer,
    }))
    .await?;
    if let Some((self_mute, self_deaf)) = flags {
        sync_voice_state(services, &user.id, &session, self_mute, self_deaf).await;
    }
    Ok(answer)
}

/// The voice-state flags a mute or deafen command sets (`None`: leave as is); deafening mutes.
fn voice_flags(command: &CommandRequest) -> Option<(Option<bool>, Option<bool>)> {
    match command {
        CommandRequest::SetMute { muted, .. } => Some((Some(*muted), None)),
        CommandRequest::SetDeafen { deafened, .. } => {
            Some((deafened.then_some(true), Some(*deafened)))
        }
        _ => None,
    }
}

/// In a channel, the others see the session's mute and deafen in its voice state.
async fn sync_voice_state(
    services: &Services,
    user_id: &str,
    session: &super::model::Session,
    self_mute: Option<bool>,
    self_deaf: Option<bool>,
) {
    if !matches!(
        session.session_type,
        SessionType::ServerVoice | SessionType::ServerVideo
    ) {
        return;
    }
    match voice::service::set_self_flags(services, user_id, self_mute, self_deaf).await {
        Ok(_) => {}
        // Not in the channel's room yet: nothing to update (the voice state created at the join
        // reads the mute from the microphone track; a deafen from before the join is not carried).
        Err(e) if e.code() == ErrorCode::NotFound => {}
        Err(e) => tracing::warn!(user = %user_id, "voice state not updated: {e}"),
    }
}

async fn execute(
    services: &Services,
    unit: &mut Unit<'_>,
    user: &User,
    command: CommandRequest,
    epoch: Option<i64>,
) -> Result<Value> {
    let control = |c: Control| Input::Control { epoch, control: c };
    let simple = match command {
        CommandRequest::StartCall {
            conversation_id,
            video,
            connection_id,
            ..
        } => {
            return start_call(services, unit, user, &conversation_id, video, connection_id).await;
        }
        CommandRequest::AcceptCall {
            call_id,
            connection_id,
            ..
        } => {
            return accept_call(services, unit, user, &call_id, connection_id).await;
        }
        CommandRequest::DeclineCall { call_id, .. } => {
            let verdict = unit
                .feed_call(
                    &call_id,
                    crate::calls::machine::CallInput::Decline {
                        by: user.id.clone(),
                    },
                )
                .await?;
            verdict.map_err(call_refused)?;
            let call = unit.call(&call_id).await?.map(CallView::from);
            return Ok(json!({ "call": call }));
        }
        CommandRequest::JoinChannel {
            channel_id,
            connection_id,
            ..
        } => {
            return join_channel(services, unit, user, &channel_id, connection_id).await;
        }
        CommandRequest::Leave { .. } => Input::End {
            reason: "hangup".into(),
        },
        CommandRequest::SetMute { muted, .. } => control(Control::SetMute(muted)),
        CommandRequest::SetDeafen { deafened, .. } => {
            unit.feed(&user.id, control(Control::SetDeafen(deafened)))
                .await?
                .map_err(refused)?;
            // the others in the room show who is deafened: a new snapshot for them
            if let Some(room) = unit.session(&user.id).await?.room.clone() {
                for other in store::users_in_room(&services.db, &room).await? {
                    if other != user.id {
                        let _ = unit.feed(&other, Input::Touch).await?;
                    }
                }
            }
            return Ok(json!({}));
        }
        CommandRequest::SetCamera { enabled, .. } => control(Control::SetCamera(enabled)),
        CommandRequest::SetScreenShare { enabled, .. } => control(Control::SetScreenShare(enabled)),
        CommandRequest::SetPip {
            enabled,
            x,
            y,
            width,
            height,
            minimized,
            ..
        } => {
            if width < 0 || height < 0 {
                return Err(Error::invalid("width and height cannot be negative"));
            }
            control(Control::SetPip(Pip {
                enabled,
                x,
                y,
                width,
                height,
                minimized,
            }))
        }
        CommandRequest::ClaimOwner { connection_id, .. } => {
            control(Control::ClaimOwner { connection_id })
        }
        CommandRequest::ReportConnection {
            connection_id,
            state,
            ..
        } => control(Control::ReportConnection {
            connection_id,
            state,
        }),
    };
    unit.feed(&user.id, simple).await?.map_err(refused)?;
    Ok(json!({}))
}

async fn start_call(
    services: &Services,
    unit: &mut Unit<'_>,
    user: &User,
    conversation_id: &str,
    video: bool,
    prefer: Option<String>,
) -> Result<Value> {
    let conversation = conversations::service::get(services, &user.id, conversation_id).await?;
    let callee = conversation
        .participants
        .iter()
        .find(|p| p.id != user.id)
        .cloned()
        .ok_or_else(|| Error::invalid("a conversation with oneself cannot be called"))?;
    let settings = services.media_sessions.settings;
    let call = Call::ringing(
        new_id(),
        conversation.id.clone(),
        user.id.clone(),
        callee.id.clone(),
        video,
        unit.now,
        settings.ring_timeout,
    );
    let ring = Input::Ring {
        call: IncomingCall {
            call_id: call.id.clone(),
            from: person(user),
            video,
            ringing_since: call.created_at,
            expires_at: call.ring_expires_at,
        },
        max: settings.max_incoming_calls,
    };
    if unit.feed(&callee.id, ring).await? == Err(Refusal::Busy) {
        let busy = call.busy(unit.now);
        let view = CallView::from(&busy);
        unit.add_call(busy);
        return Ok(json!({ "call": view }));
    }
    unit.add_call(call.clone());
    let start = Input::Start {
        session_type: if video {
            SessionType::DmVideo
        } else {
            SessionType::DmVoice
        },
        context: Box::new(Context {
            call_id: Some(call.id.clone()),
            conversation_id: Some(conversation.id.clone()),
            other_user: Some(person(&callee)),
            ..Context::default()
        }),
        room: room_of_call(&call.id),
        prefer,
    };
    unit.feed(&user.id, start).await?.map_err(refused)?;
    let view = unit.call(&call.id).await?.map(CallView::from);
    Ok(json!({ "call": view }))
}

async fn accept_call(
    services: &Services,
    unit: &mut Unit<'_>,
    user: &User,
    call_id: &str,
    prefer: Option<String>,
) -> Result<Value> {
    let verdict = unit
        .feed_call(
            call_id,
            crate::calls::machine::CallInput::Accept {
                by: user.id.clone(),
            },
        )
        .await?;
    let changed = verdict.map_err(call_refused)?;
    let call = unit
        .call(call_id)
        .await?
        .cloned()
        .ok_or_else(|| Error::not_found("call not found"))?;
    if changed {
        let caller = accounts::user_by_id(&services.db, &call.caller_id)
            .await?
            .ok_or_else(|| Error::not_found("the caller is gone"))?;
        let _ = unit
            .feed(
                &user.id,
                Input::Unring {
                    call_id: call.id.clone(),
                },
            )
            .await?;
        let start = Input::Start {
            session_type: if call.video {
                SessionType::DmVideo
            } else {
                SessionType::DmVoice
            },
            context: Box::new(Context {
                call_id: Some(call.id.clone()),
                conversation_id: Some(call.conversation_id.clone()),
                other_user: Some(person(&caller)),
                ..Context::default()
            }),
            room: room_of_call(&call.id),
            prefer,
        };
        unit.feed(&user.id, start).await?.map_err(refused)?;
    }
    let view = unit.call(call_id).await?.map(CallView::from);
    Ok(json!({ "call": view }))
}

async fn join_channel(
    services: &Services,
    unit: &mut Unit<'_>,
    user: &User,
    channel_id: &str,
    prefer: Option<String>,
) -> Result<Value> {
    // Voice's own join checks (membership, ban, CONNECT, user limit) decide.
    let ticket = voice::service::join(services, user, channel_id).await?;
    let access = communities::channel_access(&services.db, channel_id, &user.id)
        .await?
        .ok_or_else(|| Error::not_found("channel not found"))?;
    let start = Input::Start {
        session_type: if access.kind == ChannelKind::Video {
            SessionType::ServerVideo
        } else {
            SessionType::ServerVoice
        },
        context: Box::new(Context {
            community_name: communities::communities_of(&services.db, &user.id)
                .await?
                .into_iter()
                .find(|c| c.community.id == access.community_id)
                .map(|c| c.community.name),
            channel_name: communities::store::channels::channel(&services.db, channel_id)
                .await?
                .map(|c| c.name),
            community_id: Some(access.community_id.clone()),
            channel_id: Some(channel_id.to_owned()),
            ..Context::default()
        }),
        room: ticket.room,
        prefer,
    };
    unit.feed(&user.id, start).await?.map_err(refused)?;
    Ok(json!({}))
}
