//! One change to media sessions and calls: inputs are decided by the pure machines in order,
//! and what one decision implies for another entity (a replaced session hangs up its call, a
//! finished call ends its parties' sessions and stops its ringing) is queued and decided in
//! the same unit. [`Unit::commit`] stores every changed session and call with compare-and-set
//! in one transaction, with the system messages of finished calls and the command's answer,
//! then performs the effects: events, media-plane calls, tokens.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::Value;

use super::machine::{self, Effect, Input, Refusal};
use super::model::{Session, Snapshot};
use super::{MEDIA_SESSION_UPDATE, effects, store};
use crate::app::Services;
use crate::calls::machine::{Call, CallEffect, CallInput, CallRefusal};
use crate::calls::{self, store as call_store};
use crate::conversations::{self, store as dm_store};
use crate::error::{Error, Result};
use crate::realtime::hub::{Audience, GatewayEvent};

/// An entity as read and as decided.
struct Tracked<T> {
    read: Option<T>,
    now: T,
}

enum Work {
    Session(String, Box<Input>),
    Call(String, CallInput),
}

/// A change in progress. Holds the process's media-session lock while it lives.
pub struct Unit<'a> {
    services: &'a Services,
    _guard: tokio::sync::MutexGuard<'a, ()>,
    pub now: i64,
    sessions: BTreeMap<String, Tracked<Session>>,
    calls: BTreeMap<String, Tracked<Call>>,
    effects: Vec<(String, Effect)>,
    announce: BTreeSet<String>,
    finished: Vec<String>,
    pending: VecDeque<Work>,
    /// Sessions whose room's participants changed (a new snapshot though nothing stored did).
    touched: BTreeSet<String>,
    /// The media node is gone: its rooms are not left, muted or deafened (nothing answers).
    node_gone: bool,
}

/// A command's first answer, kept with the change it made.
pub struct Answer<'v> {
    pub user_id: &'v str,
    pub command_id: &'v str,
    pub answer: &'v Value,
}

impl<'a> Unit<'a> {
    /// Starts a change at the clock's current instant (waits for the one before it).
    pub async fn begin(services: &'a Services) -> Unit<'a> {
        let guard = services.media_sessions.lock.lock().await;
        Unit {
            services,
            _guard: guard,
            now: services.clock.now_ms(),
            sessions: BTreeMap::new(),
            calls: BTreeMap::new(),
            effects: Vec::new(),
            announce: BTreeSet::new(),
            finished: Vec::new(),
            pending: VecDeque::new(),
            touched: BTreeSet::new(),
            node_gone: false,
        }
    }

    /// The media node holding the rooms stopped answering: this change asks nothing of it.
    pub fn node_gone(&mut self) {
        self.node_gone = true;
    }

    pub async fn session(&mut self, user_id: &str) -> Result<&Session> {
        if !self.sessions.contains_key(user_id) {
            let s = store::load(&self.services.db, user_id).await?;
            self.sessions.insert(
                user_id.to_owned(),
                Tracked {
                    read: Some(s.clone()),
                    now: s,
                },
            );
        }
        self.sessions
            .get(user_id)
            .map(|t| &t.now)
            .ok_or_else(|| Error::internal("a loaded session is missing"))
    }

    pub async fn call(&mut self, call_id: &str) -> Result<Option<&Call>> {
        if !self.calls.contains_key(call_id) {
            match call_store::get(&self.services.db, call_id).await? {
                Some(c) => {
                    self.calls.insert(
                        call_id.to_owned(),
                        Tracked {
                            read: Some(c.clone()),
                            now: c,
                        },
                    );
                }
                None => return Ok(None),
            }
        }
        Ok(self.calls.get(call_id).map(|t| &t.now))
    }

    /// Adds a call created in this unit (a busy one is final already).
    pub fn add_call(&mut self, mut call: Call) {
        call.version = 1;
        self.announce.insert(call.id.clone());
        if call.state.is_final() {
            self.finished.push(call.id.clone());
        }
        self.calls.insert(
            call.id.clone(),
            Tracked {
                read: None,
                now: call,
            },
        );
    }

    /// Decides `input` for `user_id`'s session and everything it implies; the verdict is the
    /// first decision's.
    pub async fn feed(&mut self, user_id: &str, input: Input) -> Result<Result<(), Refusal>> {
        let verdict = self.session_step(user_id, input).await?;
        self.drain().await?;
        Ok(verdict)
    }

    /// Decides `input` for a call and everything it implies; the verdict is the call's.
    pub async fn feed_call(
        &mut self,
        call_id: &str,
        input: CallInput,
    ) -> Result<Result<bool, CallRefusal>> {
        let verdict = self.call_step(call_id, input).await?;
        self.drain().await?;
        Ok(verdict)
    }

    async fn drain(&mut self) -> Result<()> {
        let mut queue: VecDeque<Work> = std::mem::take(&mut self.pending);
        while let Some(work) = queue.pop_front() {
            match work {
                Work::Session(user, input) => {
                    let _ = self.session_step(&user, *input).await?;
                }
                Work::Call(id, input) => {
                    let _ = self.call_step(&id, input).await?;
                }
            }
            queue.extend(std::mem::take(&mut self.pending));
        }
        Ok(())
    }

    async fn session_step(&mut self, user_id: &str, input: Input) -> Result<Result<(), Refusal>> {
        let current = self.session(user_id).await?.clone();
        if input == Input::Touch {
            self.touched.insert(user_id.to_owned());
        }
        let d = machine::decide(&current, input, self.now);
        if let Some(t) = self.sessions.get_mut(user_id) {
            t.now = d.session;
        }
        for effect in d.effects {
            if let Effect::Ended { context, reason } = &effect
                && let Some(call_id) = &context.call_id
            {
                self.pending.push_back(Work::Call(
                    call_id.clone(),
                    CallInput::Leave {
                        by: user_id.to_owned(),
                        reason: reason.clone(),
                    },
                ));
            }
            self.effects.push((user_id.to_owned(), effect));
        }
        Ok(d.verdict)
    }

    async fn call_step(
        &mut self,
        call_id: &str,
        input: CallInput,
    ) -> Result<Result<bool, CallRefusal>> {
        let Some(current) = self.call(call_id).await?.cloned() else {
            return Ok(Err(CallRefusal::NotAParty));
        };
        let d = calls::machine::decide(&current, input, self.now);
        if d.effects.contains(&CallEffect::Announce) {
            self.announce.insert(call_id.to_owned());
        }
        if d.effects.contains(&CallEffect::Finished) {
            self.finished.push(call_id.to_owned());
            let call = &d.call;
            self.pending.push_back(Work::Session(
                call.callee_id.clone(),
                Box::new(Input::Unring {
                    call_id: call.id.clone(),
                }),
            ));
            for party in [&call.caller_id, &call.callee_id] {
                let in_it = self.session(party).await?.context.call_id.as_deref() == Some(call_id);
                if in_it {
                    self.pending.push_back(Work::Session(
                        party.clone(),
                        Box::new(Input::End {
                            reason: "call_ended".into(),
                        }),
                    ));
                }
            }
        }
        if let Some(t) = self.calls.get_mut(call_id) {
            let mut next = d.call;
            if next != t.now {
                next.version = t.now.version + 1;
            }
            t.now = next;
        }
        Ok(d.verdict)
    }

    /// Stores everything that changed (compare-and-set) with `answer` kept for its command id,
    /// then performs the effects (calls are announced before the sessions they changed). A concurrent writer elsewhere makes it a `conflict`.
    pub async fn commit(self, answer: Option<Answer<'_>>) -> Result<()> {
        let services = self.services;
        let mut tx = services.db.pool.begin().await?;
        let lost = || Error::conflict("the media session changed meanwhile: try again");
        for t in self.sessions.values() {
            let read_version = t.read.as_ref().map_or(0, |r| r.version);
            if t.read.as_ref() != Some(&t.now)
                && !store::save(&mut tx, &t.now, read_version).await?
            {
                return Err(lost());
            }
        }
        for t in self.calls.values() {
            let stored = match &t.read {
                None => call_store::insert(&mut tx, &t.now).await?,
                Some(read) if *read != t.now => {
                    call_store::update(&mut tx, &t.now, read.version).await?
                }
                Some(_) => true,
            };
            if !stored {
                return Err(lost());
            }
        }
        let mut messages = Vec::new();
        for id in &self.finished {
            if let Some(t) = self.calls.get(id) {
                let c = &t.now;
                let at = c.ended_at.unwrap_or(self.now);
                messages.push(
                    dm_store::insert_call_message(
                        &mut tx,
                        &c.conversation_id,
                        &c.caller_id,
                        &c.id,
                        at,
                    )
                    .await?,
                );
            }
        }
        if let Some(a) = answer {
            store::keep_answer(&mut tx, a.user_id, a.command_id, a.answer, self.now).await?;
        }
        tx.commit().await?;

        for id in &self.announce {
            if let Some(t) = self.calls.get(id) {
                calls::service::announce(services, &t.now);
            }
        }
        for (user, t) in &self.sessions {
            // What clients see, without the version (a heartbeat grows it, and shows nothing).
            let seen = |s: &Session| Snapshot {
                version: 0,
                ..Snapshot::of(s, Vec::new())
            };
            let changed = t.read.as_ref().map(seen) != Some(seen(&t.now));
            if changed || self.touched.contains(user) {
                publish_snapshot(services, &t.now).await;
            }
        }
        for id in messages {
            match dm_store::message(&services.db, &id).await {
                Ok(Some(m)) => {
                    if let Some(t) = self
                        .calls
                        .values()
                        .find(|t| Some(&t.now.id) == m.call.as_ref().map(|c| &c.id))
                    {
                        services.hub.publish(
                            Audience::Users(vec![t.now.caller_id.clone(), t.now.callee_id.clone()]),
                            GatewayEvent::new(conversations::DM_MESSAGE_CREATE, &m),
                        );
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(dm_message = %id, "a call's system message is unreadable: {e}")
                }
            }
        }
        for (user, effect) in self.effects {
            let at_the_node = matches!(
                effect,
                Effect::LeaveRoom { .. } | Effect::MuteMicrophone { .. } | Effect::Deafen { .. }
            );
            if self.node_gone && at_the_node {
                continue;
            }
            effects::perform(services, &user, effect).await;
        }
        services.media_sessions.wake_timers();
        Ok(())
    }
}

/// The snapshot of `session` with its room's participants.
pub async fn render(services: &Services, session: &Session) -> Result<Snapshot> {
    let participants = match &session.room {
        Some(room) => {
            let mut ps = store::participants(&services.db, room, &session.user_id).await?;
            let deafened = store::deafened_in_room(&services.db, room).await?;
            for p in &mut ps {
                // the user's own flag as this change leaves it (the stored one may be older)
                p.deafened = if p.user_id == session.user_id {
                    session.controls.deafened
                } else {
                    deafened.contains(&p.user_id)
                };
                p.speaking = services
                    .media_sessions
                    .speaking
                    .is_speaking(room, &p.user_id);
            }
            ps
        }
        None => Vec::new(),
    };
    Ok(Snapshot::of(session, participants))
}

/// `MEDIA_SESSION_UPDATE` to every connection of the session's user.
pub async fn publish_snapshot(services: &Services, session: &Session) {
    match render(services, session).await {
        Ok(snapshot) => services.hub.publish(
            Audience::User(session.user_id.clone()),
            GatewayEvent::new(MEDIA_SESSION_UPDATE, snapshot),
        ),
        Err(e) => tracing::warn!(user = %session.user_id, "media session snapshot failed: {e}"),
    }
}
