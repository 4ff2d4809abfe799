//! The rules of accounts: registering (validated fields, a unique handle, an argon2 hash, a
//! per-address limit), logging in, logging out, and editing a profile.
//!
//! Log-in limits, so that nobody can lock another user out: attempts per address (all of
//! them); failed attempts per (handle, address) — the hard limit; failed attempts per handle
//! from anywhere only slow further attempts on that handle, so the right password from a clean
//! address always gets in. A handle that cannot exist is never used as a key, and an unknown
//! handle costs the same verification time as a known one.

use std::net::IpAddr;

use super::ratelimit::AccountLimits;
use super::store::{self, NewUser};
use super::{SESSION_TTL_MS, User, validate};
use crate::app::Services;
use crate::db::{is_unique_violation, new_id};
use crate::error::{Error, ErrorCode, Result};

/// A new account as requested.
pub struct Registration {
    pub handle: String,
    pub display_name: String,
    pub password: String,
    pub avatar_gradient: Option<[String; 2]>,
    pub is_creator: bool,
}

/// The highest price of a creator's 30-day subscription.
pub const MAX_SUBSCRIPTION_PRICE_COINS: i64 = 1_000_000;

/// Changes to a profile; `None` keeps the value.
#[derive(Default)]
pub struct ProfileChanges {
    pub display_name: Option<String>,
    pub handle: Option<String>,
    pub avatar_gradient: Option<[String; 2]>,
    pub is_creator: Option<bool>,
    /// 0 stops offering subscriptions.
    pub subscription_price_coins: Option<i64>,
}

/// A signed-in session: the bearer token (shown once) and its user.
pub struct NewSession {
    pub token: String,
    pub user: User,
}

async fn open_session(services: &Services, user: User) -> Result<NewSession> {
    let (token, hash) = super::new_session_token();
    store::insert_session(
        &services.db,
        &hash,
        &user.id,
        SESSION_TTL_MS,
        services.clock.now_ms(),
    )
    .await?;
    Ok(NewSession { token, user })
}

fn validate_gradient(gradient: Option<&[String; 2]>) -> Result<()> {
    if let Some(g) = gradient {
        validate::colour(&g[0])?;
        validate::colour(&g[1])?;
    }
    Ok(())
}

/// Creates an account (from `peer`) and signs it in.
pub async fn register(services: &Services, peer: IpAddr, req: Registration) -> Result<NewSession> {
    let limits = &services.account_limits;
    let address = peer.to_string();
    validate::handle(&req.handle)?;
    validate::display_name(&req.display_name)?;
    validate::password(&req.password)?;
    validate_gradient(req.avatar_gradient.as_ref())?;
    // Valid registrations per address, counted before the password is hashed, so that parallel
    // requests cannot all pass the check before any is counted (a taken handle counts too).
    limits.registrations_by_address.check_or_refuse(
        &address,
        services.clock.instant(),
        "registrations from your address",
    )?;
    let id = new_id();
    let avatar = req
        .avatar_gradient
        .unwrap_or_else(|| super::default_gradient(&id));
    let hash = services.passwords.hash(req.password).await?;
    let new = NewUser {
        id: &id,
        handle: &req.handle,
        display_name: req.display_name.trim(),
        password_hash: &hash,
        avatar: &avatar,
        is_creator: req.is_creator,
    };
    let user = store::insert_user(&services.db, new, services.clock.now_ms())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::conflict(format!("handle {:?} is taken", req.handle))
            } else {
                Error::from(e)
            }
        })?;
    open_session(services, user).await
}

/// Signs in with a handle and password, from `peer`.
pub async fn login(
    services: &Services,
    peer: IpAddr,
    handle: &str,
    password: String,
) -> Result<NewSession> {
    let now = services.clock.instant();
    let limits = &services.account_limits;
    let too_many = || {
        Error::busy(
            ErrorCode::RateLimited,
            "too many log-in attempts; try again in a few minutes",
            300,
        )
    };
    if !limits.login_by_address.allow(&peer.to_string(), now) {
        return Err(too_many());
    }
    let refused = || Error::unauthorized("invalid handle or password");
    if validate::handle(handle).is_err() {
        // No such account can exist: spend the time of a check, key nothing by it.
        services.passwords.verify_unknown(password).await?;
        return Err(refused());
    }
    let handle_key = handle.to_lowercase();
    let pair_key = format!("{handle_key} {peer}");
    if limits
        .failures_by_handle_and_address
        .exhausted(&pair_key, now)
    {
        return Err(too_many());
    }
    if limits.failures_by_handle.exhausted(&handle_key, now) {
        services.clock.sleep(AccountLimits::HANDLE_BACKOFF).await;
    }
    let accepted = match store::credentials_by_handle(&services.db, handle).await? {
        Some((user, hash)) => services
            .passwords
            .verify(password, hash)
            .await?
            .then_some(user),
        None => {
            services.passwords.verify_unknown(password).await?;
            None
        }
    };
    match accepted {
        Some(user) => open_session(services, user).await,
        None => {
            limits.failures_by_handle_and_address.hit(&pair_key, now);
            limits.failures_by_handle.hit(&handle_key, now);
            Err(refused())
        }
    }
}

/// Ends the session whose token hashes to `token_hash`, and the gateway connections it opened.
pub async fn logout(services: &Services, token_hash: &str) -> Result<()> {
    store::delete_session(&services.db, token_hash).await?;
    services.sessions.close_token(token_hash);
    Ok(())
}

/// Edits the user's profile; returns it as stored.
pub async fn update_profile(
    services: &Services,
    user_id: &str,
    changes: ProfileChanges,
) -> Result<User> {
    if let Some(n) = &changes.display_name {
        validate::display_name(n)?;
    }
    if let Some(h) = &changes.handle {
        validate::handle(h)?;
    }
    validate_gradient(changes.avatar_gradient.as_ref())?;
    if let Some(p) = changes.subscription_price_coins
        && !(0..=MAX_SUBSCRIPTION_PRICE_COINS).contains(&p)
    {
        return Err(Error::invalid(format!(
            "subscriptionPriceCoins must be between 0 (none offered) and {MAX_SUBSCRIPTION_PRICE_COINS}"
        )));
    }
    store::update_profile(
        &services.db,
        user_id,
        changes.display_name.as_deref().map(str::trim),
        changes.handle.as_deref(),
        changes.avatar_gradient.as_ref(),
        changes.is_creator,
        changes.subscription_price_coins,
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::conflict("that handle is taken")
        } else {
            Error::from(e)
        }
    })?;
    user(services, user_id).await
}

/// A user by id.
pub async fn user(services: &Services, id: &str) -> Result<User> {
    store::user_by_id(&services.db, id)
        .await?
        .ok_or_else(|| Error::not_found("user not found"))
}
