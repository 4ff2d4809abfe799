//! Live-session rules: creating (creators only), listing and reading (time applied on read, so
//! a session past its maximum duration shows as ended even before the timer task ends it),
//! starting and ending (the host only), what every state change does (`LIVE_UPDATE`; ending or
//! failing closes the media room, which disconnects everyone, and a failed or cancelled session
//! refunds its purchases), joining (a role and its media token, or a precise refusal), and
//! buying a pay-per-view session from the wallet in one transaction.

use serde::Serialize;
use utoipa::ToSchema;

use super::access::{self, Caller, JoinRefusal};
use super::machine::{self, LiveInput, Refusal};
use super::store::{self, Purchase};
use super::{
    LiveAccess, LiveKind, LiveRole, LiveSession, LiveState, events, moderation, presence, presets,
    room_of, stage, subscriptions,
};
use crate::accounts::User;
use crate::app::Services;
use crate::db::{is_unique_violation, new_id};
use crate::error::{Error, ErrorCode, Result};
use crate::wallet;
use sqlx::AnyConnection;

/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 100;
/// The highest price, the largest audience and the longest duration a session may have.
pub const MAX_PRICE_COINS: i64 = 1_000_000;
pub const MAX_VIEWERS: i64 = 1_000_000;
pub const MAX_DURATION_SECONDS: i64 = 24 * 3600;
/// The longest `Idempotency-Key`.
pub const MAX_KEY_CHARS: usize = 100;
/// The most sessions a list shows.
pub const LIST_LIMIT: i64 = 100;

/// A session to create.
pub struct NewLive {
    pub kind: LiveKind,
    pub title: String,
    pub access: LiveAccess,
    pub price_coins: Option<i64>,
    pub max_viewers: Option<i64>,
    pub max_duration_seconds: Option<i64>,
}

/// What a client needs to connect to a session's room.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveTicket {
    /// Where to connect (`ws://…` or `wss://…`).
    pub url: String,
    /// A media access token (JWT, valid for 10 minutes) with the role's grants.
    pub token: String,
    /// The media room: `live_<sessionId>`.
    #[schema(pattern = "^live_")]
    pub room: String,
    pub role: LiveRole,
    /// How to publish in this session's kind (see the README's bitrate presets).
    pub publish_defaults: presets::PublishDefaults,
}

fn in_range(name: &str, value: Option<i64>, min: i64, max: i64) -> Result<()> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(Error::invalid(format!(
            "{name} must be between {min} and {max}"
        ))),
        _ => Ok(()),
    }
}

/// Creates a scheduled session hosted by `user`, who must be a creator.
pub async fn create(services: &Services, user: &User, new: NewLive) -> Result<LiveSession> {
    if !user.is_creator {
        return Err(Error::forbidden(
            "only creators may host live sessions (set isCreator on your profile)",
        ));
    }
    let title = new.title.trim().to_owned();
    let chars = title.chars().count();
    if chars == 0 || chars > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "title must be 1 to {MAX_TITLE_CHARS} characters without control characters"
        )));
    }
    let price_coins = match (new.access, new.price_coins) {
        (LiveAccess::PayPerView, Some(p)) if (1..=MAX_PRICE_COINS).contains(&p) => p,
        (LiveAccess::PayPerView, _) => {
            return Err(Error::invalid(format!(
                "a pay_per_view session needs priceCoins between 1 and {MAX_PRICE_COINS}"
            )));
        }
        (_, None | Some(0)) => 0,
        (_, Some(_)) => {
            return Err(Error::invalid(
                "priceCoins is only for pay_per_view sessions",
            ));
        }
    };
    in_range("maxViewers", new.max_viewers, 1, MAX_VIEWERS)?;
    in_range(
        "maxDurationSeconds",
        new.max_duration_seconds,
        1,
        MAX_DURATION_SECONDS,
    )?;
    let session = LiveSession {
        id: new_id(),
        host_id: user.id.clone(),
        kind: new.kind,
        title,
        access: new.access,
        price_coins,
        state: LiveState::Scheduled,
        max_viewers: new.max_viewers,
        max_duration_seconds: new.max_duration_seconds,
        viewer_count: 0,
        peak_viewers: 0,
        started_at: None,
        ended_at: None,
        end_reason: None,
        host_connected_at: None,
        host_lost_at: None,
        created_at: services.clock.now_ms(),
        version: 1,
    };
    store::insert(&services.db, &session).await?;
    Ok(session)
}

/// Closes an ended session's media room, which disconnects everyone in it (best effort: the
/// room also empties by itself, and joins after the end are refused).
async fn close_room(services: &Services, session: &LiveSession) {
    if let Some(media) = &services.media
        && let Err(e) = media.plane.delete_room(&room_of(&session.id)).await
    {
        tracing::warn!(session = %session.id, error = %e, "closing a live room failed");
    }
    if let Err(e) = presence::all_left(&services.db, &session.id, services.clock.now_ms()).await {
        tracing::warn!(session = %session.id, "live participants not marked as left: {e}");
    }
}

/// Whether a session ending this way refunds its purchases: it failed, or it was cancelled
/// before it went live (see the README's refund rule).
pub fn refunds(s: &LiveSession) -> bool {
    s.state == LiveState::Failed
        || (s.state == LiveState::Ended && s.end_reason.as_deref() == Some("cancelled"))
}

/// Refunds every purchase of `session` not refunded yet, in the caller's transaction (the
/// state change's: whoever reads the failed session finds the refunds made): each one a
/// `refund` ledger entry referencing the purchase, once.
async fn refund_all(conn: &mut AnyConnection, session: &LiveSession, now: i64) -> Result<()> {
    for p in store::unrefunded(&mut *conn, &session.id).await? {
        if !store::mark_refunded(&mut *conn, &p.id, now).await? {
            continue;
        }
        let change = wallet::store::Change {
            user_id: &p.buyer_id,
            reason: "refund",
            reference: Some(&p.id),
            now,
        };
        wallet::store::credit(&mut *conn, &change, p.price_coins).await?;
    }
    Ok(())
}

/// What a stored state change does: the timers hear of a start, an end closes the room, and
/// everyone watching gets the session.
async fn after_change(services: &Services, current: &LiveSession, next: &mut LiveSession) {
    let over = |s: &LiveSession| matches!(s.state, LiveState::Ended | LiveState::Failed);
    if next.state == LiveState::Live && current.state != LiveState::Live {
        services.live.wake_timers();
    }
    if over(next) && !over(current) {
        // Those watching hear of the end before the room closes around them; so does everyone
        // who was in the room (a room lost by the media plane drops its participants before
        // the session hears of it, and they must still be told why).
        let seen = presence::seen(&services.db, &next.id)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(session = %next.id, "live participants unreadable: {e}");
                Vec::new()
            });
        let seen: Vec<&str> = seen.iter().map(String::as_str).collect();
        events::publish(services, next, &seen, events::LIVE_UPDATE, &*next).await;
        close_room(services, next).await;
        // the media sessions in it end too (the room they would leave is closed already)
        if let Err(e) = super::media_session::ended(services, &next.id).await {
            tracing::warn!(session = %next.id, "media sessions of an ended live not ended: {e}");
        }
        next.viewer_count = 0;
        return;
    }
    events::live_update(services, next).await;
}

/// Stores `next`, made from `current`; false when another change came first.
async fn store_change(
    services: &Services,
    current: &LiveSession,
    next: &mut LiveSession,
) -> Result<bool> {
    if next == current {
        return Ok(true);
    }
    next.version = current.version + 1;
    let mut tx = services.db.pool.begin().await?;
    if !store::update_state(&mut tx, next).await? {
        return Ok(false);
    }
    let over = |s: &LiveSession| matches!(s.state, LiveState::Ended | LiveState::Failed);
    if refunds(next) && !over(current) {
        refund_all(&mut tx, next, services.clock.now_ms()).await?;
    }
    tx.commit().await?;
    after_change(services, current, next).await;
    Ok(true)
}

/// The session as it is now (time applied).
async fn current(services: &Services, s: LiveSession) -> Result<LiveSession> {
    let mut next = machine::apply(&s, LiveInput::Tick, services.clock.now_ms())
        .map_err(|e| Error::internal(format!("a tick was refused: {e}")))?;
    if store_change(services, &s, &mut next).await? {
        return Ok(next);
    }
    // Another change came first: show that one.
    Ok(store::get(&services.db, &s.id).await?.unwrap_or(next))
}

/// Session `id`, or `not_found`.
pub async fn get(services: &Services, id: &str) -> Result<LiveSession> {
    let s = store::get(&services.db, id)
        .await?
        .ok_or_else(|| Error::not_found("no such live session"))?;
    current(services, s).await
}

/// The newest sessions (in `state` if given).
pub async fn list(services: &Services, state: Option<LiveState>) -> Result<Vec<LiveSession>> {
    let mut sessions = Vec::new();
    for s in store::list(&services.db, state, LIST_LIMIT).await? {
        let s = current(services, s).await?;
        if state.is_none_or(|wanted| wanted == s.state) {
            sessions.push(s);
        }
    }
    Ok(sessions)
}

/// The host starts (`Start`) or ends (`End`) session `id`.
pub async fn change(
    services: &Services,
    user: &User,
    id: &str,
    input: LiveInput,
) -> Result<LiveSession> {
    loop {
        let s = store::get(&services.db, id)
            .await?
            .ok_or_else(|| Error::not_found("no such live session"))?;
        if s.host_id != user.id {
            return Err(Error::forbidden("only the host may start or end a session"));
        }
        let mut next = machine::apply(&s, input, services.clock.now_ms()).map_err(|e| match e {
            Refusal::AlreadyLive => Error::conflict(e.to_string()),
            Refusal::Over => Error::new(ErrorCode::NotLive, e.to_string()),
        })?;
        if store_change(services, &s, &mut next).await? {
            return Ok(next);
        }
    }
}

/// The media plane lost session `id`'s room: a live session fails (`media_room_closed`),
/// which tells everyone watching and refunds by the refund rule; any other state is left as
/// it is (a room closing after the end, say).
pub async fn media_failed(services: &Services, id: &str) -> Result<()> {
    media_lost(services, id, LiveInput::MediaFailed).await
}

/// The media node stopped answering: every live session fails (`media_node_lost`), telling
/// everyone watching and refunding by the refund rule. Returns how many failed.
pub async fn media_node_lost(services: &Services) -> Result<usize> {
    let live = store::list(&services.db, Some(LiveState::Live), i64::from(u32::MAX)).await?;
    for s in &live {
        media_lost(services, &s.id, LiveInput::MediaNodeLost).await?;
    }
    Ok(live.len())
}

async fn media_lost(services: &Services, id: &str, input: LiveInput) -> Result<()> {
    loop {
        let Some(s) = store::get(&services.db, id).await? else {
            return Ok(());
        };
        let mut next = machine::apply(&s, input, services.clock.now_ms())
            .map_err(|e| Error::internal(format!("a media failure was refused: {e}")))?;
        if next.state == LiveState::Failed && s.state == LiveState::Live {
            tracing::warn!(session = %id, reason = ?next.end_reason, "live session failed");
        }
        if store_change(services, &s, &mut next).await? {
            return Ok(());
        }
    }
}

/// What the service knows about `user` for session `s`.
async fn caller_of<'a>(services: &Services, s: &LiveSession, user: &'a User) -> Result<Caller<'a>> {
    let db = &services.db;
    let host = user.id == s.host_id;
    Ok(Caller {
        user_id: &user.id,
        banned: !host && moderation::is_banned(db, &s.host_id, &user.id).await?,
        subscribed: !host
            && s.access == LiveAccess::SubscribersOnly
            && subscriptions::is_subscribed(db, &user.id, &s.host_id, services.clock.now_ms())
                .await?,
        purchased: !host
            && s.access == LiveAccess::PayPerView
            && store::has_purchase(db, &s.id, &user.id).await?,
        present: presence::is_present(db, &s.id, &user.id).await?,
    })
}

/// The API error of a refusal.
pub fn refusal_error(refusal: JoinRefusal) -> Error {
    match refusal {
        JoinRefusal::NotLive => Error::new(ErrorCode::NotLive, "the session is not live"),
        JoinRefusal::Banned => Error::new(
            ErrorCode::Banned,
            "you are banned from this host's live sessions",
        ),
        JoinRefusal::SubscriptionRequired => Error::new(
            ErrorCode::SubscriptionRequired,
            "this session is for the host's subscribers",
        ),
        JoinRefusal::PaymentRequired => Error::new(
            ErrorCode::PaymentRequired,
            "this session is pay-per-view: buy it first",
        ),
        JoinRefusal::SessionFull => {
            Error::new(ErrorCode::SessionFull, "the session has reached maxViewers")
        }
    }
}

/// Session `id` if `user` may watch it at all (the host, or entitled by its access rule and not
/// banned), whatever its state.
pub async fn entitled(services: &Services, user: &User, id: &str) -> Result<LiveSession> {
    let s = get(services, id).await?;
    let caller = caller_of(services, &s, user).await?;
    access::entitled(&s, caller).map_err(refusal_error)?;
    Ok(s)
}

/// A media token for `user` in session `id`, in the role their place gives them (the host's,
/// their stage role, or the audience's), with the session. The count of `maxViewers` checked
/// here is the one media events keep; the place itself is taken, atomically, when they connect.
pub async fn ticket(
    services: &Services,
    user: &User,
    id: &str,
) -> Result<(LiveSession, LiveTicket)> {
    let s = get(services, id).await?;
    let ticket = ticket_in(services, user, &s).await?;
    Ok((s, ticket))
}

/// Like [`ticket`], deciding on session `id` with time applied but nothing stored: for a media
/// session's handoff, which runs under the media sessions' lock (a stored change here could end
/// media sessions, which takes that lock).
pub async fn ticket_unstored(services: &Services, user: &User, id: &str) -> Result<LiveTicket> {
    let s = store::get(&services.db, id)
        .await?
        .ok_or_else(|| Error::not_found("no such live session"))?;
    let s = machine::apply(&s, LiveInput::Tick, services.clock.now_ms())
        .map_err(|e| Error::internal(format!("a tick was refused: {e}")))?;
    ticket_in(services, user, &s).await
}

async fn ticket_in(services: &Services, user: &User, s: &LiveSession) -> Result<LiveTicket> {
    let caller = caller_of(services, s, user).await?;
    let role = access::decide(s, caller).map_err(refusal_error)?;
    let role = match role {
        LiveRole::Host => LiveRole::Host,
        _ => stage::role_of(&services.db, s, &user.id).await?,
    };
    let media = services.media()?;
    let room = room_of(&s.id);
    let (token, _) = super::token::sign(&media.access, user, &room, role, services.clock.now_ms())
        .ok_or_else(|| Error::internal("signing a media token failed"))?;
    Ok(LiveTicket {
        url: media.access.url.clone(),
        token,
        room,
        role,
        publish_defaults: presets::publish_defaults(s.kind),
    })
}

/// `user` joins session `id`: its ticket, and the session becomes their one media session
/// (`live-stream`; whatever they were in before ends). `prefer` names the gateway connection
/// that should hold the media connection.
pub async fn join(
    services: &Services,
    user: &User,
    id: &str,
    prefer: Option<String>,
) -> Result<LiveTicket> {
    let (s, ticket) = ticket(services, user, id).await?;
    super::media_session::join(services, user, &s, ticket.role, prefer).await?;
    Ok(ticket)
}

/// `user` leaves session `id`: their media session ends if it is this session's (which also
/// takes them out of its room).
pub async fn leave(services: &Services, user: &User, id: &str) -> Result<()> {
    store::get(&services.db, id)
        .await?
        .ok_or_else(|| Error::not_found("no such live session"))?;
    super::media_session::leave(services, &user.id, id, "hangup").await
}

/// A purchase and the buyer's balance after it; `created` is false when the key was used
/// before (nothing was charged again).
pub struct Bought {
    pub purchase: Purchase,
    pub balance: i64,
    pub created: bool,
}

/// An earlier purchase with `key`: the same answer again, or a conflict for another session.
async fn replay(services: &Services, user: &User, id: &str, key: &str) -> Result<Option<Bought>> {
    let Some(purchase) = store::purchase_by_key(&services.db, &user.id, key).await? else {
        return Ok(None);
    };
    if purchase.session_id != id {
        return Err(Error::conflict(
            "this Idempotency-Key was used for another purchase",
        ));
    }
    Ok(Some(Bought {
        purchase,
        balance: wallet::store::balance(&services.db, &user.id).await?,
        created: false,
    }))
}

/// `user` buys pay-per-view session `id` with the `Idempotency-Key` `key`: the purchase, the
/// debit and its ledger entry in one transaction.
pub async fn purchase(services: &Services, user: &User, id: &str, key: &str) -> Result<Bought> {
    if key.is_empty() || key.len() > MAX_KEY_CHARS || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(format!(
            "an Idempotency-Key header of 1 to {MAX_KEY_CHARS} visible ASCII characters is required"
        )));
    }
    let s = get(services, id).await?;
    if let Some(bought) = replay(services, user, id, key).await? {
        return Ok(bought);
    }
    if s.access != LiveAccess::PayPerView {
        return Err(Error::invalid("this session is not pay-per-view"));
    }
    if s.host_id == user.id {
        return Err(Error::invalid("the host does not buy their own session"));
    }
    if matches!(s.state, LiveState::Ended | LiveState::Failed) {
        return Err(Error::new(ErrorCode::NotLive, "the session is over"));
    }
    let now = services.clock.now_ms();
    let purchase = Purchase {
        id: new_id(),
        session_id: s.id.clone(),
        buyer_id: user.id.clone(),
        price_coins: s.price_coins,
        created_at: now,
        idempotency_key: key.to_owned(),
    };
    let mut tx = services.db.pool.begin().await?;
    // The purchase first: a write takes SQLite's write lock at once, and a concurrent purchase
    // of the same session (or with the same key) waits here and then fails as a duplicate.
    if let Err(e) = store::insert_purchase(&mut tx, &purchase).await {
        drop(tx);
        if !is_unique_violation(&e) {
            return Err(e.into());
        }
        if let Some(bought) = replay(services, user, id, key).await? {
            return Ok(bought);
        }
        return Err(Error::new(
            ErrorCode::AlreadyPurchased,
            "you already bought this session",
        ));
    }
    let change = wallet::store::Change {
        user_id: &user.id,
        reason: "purchase",
        reference: Some(&purchase.id),
        now,
    };
    let Some(balance) = wallet::store::debit(&mut tx, &change, s.price_coins).await? else {
        return Err(Error::new(
            ErrorCode::InsufficientFunds,
            format!("this session costs {} coins", s.price_coins),
        ));
    };
    tx.commit().await?;
    Ok(Bought {
        purchase,
        balance,
        created: true,
    })
}
