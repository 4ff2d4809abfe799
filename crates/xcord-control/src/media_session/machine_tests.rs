//! The session machine at exact instants: ownership, handoff, fencing, call waiting and every
//! timer, each decided by one session, one input and one `now`.

use super::*;
use crate::media_session::model::Person;

const T0: i64 = 5_000_000;
const LEASE_MS: i64 = 22_500;
const GRACE_MS: i64 = 20_000;

fn step(s: &Session, input: Input, now: i64) -> Decision {
    decide(s, input, now)
}

fn open(s: &Session, id: &str, kind: ConnectionKind, now: i64) -> Session {
    step(
        s,
        Input::Opened {
            connection_id: id.into(),
            kind,
        },
        now,
    )
    .session
}

fn call_start() -> Input {
    Input::Start {
        session_type: SessionType::DmVoice,
        context: Box::new(Context {
            call_id: Some("c1".into()),
            ..Context::default()
        }),
        room: "dm_c1".into(),
        prefer: None,
    }
}

fn owner_id(s: &Session) -> Option<&str> {
    s.owner.as_ref().map(|o| o.connection_id.as_str())
}

fn ring(call_id: &str, from: &str, expires_at: i64) -> IncomingCall {
    IncomingCall {
        call_id: call_id.into(),
        from: Person {
            id: from.into(),
            ..Person::default()
        },
        video: false,
        ringing_since: expires_at - 45_000,
        expires_at,
    }
}

/// Bob with a main window and an overlay, in a call owned by the main window.
fn bob_in_a_call() -> Session {
    let s = Session::idle("bob");
    let s = open(&s, "main", ConnectionKind::Main, T0);
    let s = open(&s, "overlay", ConnectionKind::Overlay, T0 + 1);
    step(&s, call_start(), T0 + 2).session
}

#[test]
fn the_owner_is_main_before_overlay_before_mobile_and_the_newest_of_a_kind() {
    let s = Session::idle("u");
    let s = open(&s, "phone", ConnectionKind::Mobile, T0);
    let s = open(&s, "ov", ConnectionKind::Overlay, T0 + 1);
    assert_eq!(preferred(&s.connections).map(|c| c.id.as_str()), Some("ov"));
    let s = open(&s, "main-old", ConnectionKind::Main, T0 + 2);
    let s = open(&s, "main-new", ConnectionKind::Main, T0 + 3);
    assert_eq!(
        preferred(&s.connections).map(|c| c.id.as_str()),
        Some("main-new")
    );
    let d = step(&s, call_start(), T0 + 4);
    assert_eq!(owner_id(&d.session), Some("main-new"));
    assert_eq!(
        d.effects,
        vec![Effect::Connect {
            connection_id: "main-new".into(),
            room: "dm_c1".into(),
            epoch: d.session.epoch,
        }]
    );
}

#[test]
fn closing_the_owner_hands_off_at_once_with_a_new_epoch() {
    let s = bob_in_a_call();
    assert_eq!(owner_id(&s), Some("main"));
    let d = step(
        &s,
        Input::Closed {
            connection_id: "main".into(),
        },
        T0 + 100,
    );
    assert_eq!(owner_id(&d.session), Some("overlay"));
    assert!(d.session.epoch > s.epoch);
    assert_eq!(
        d.effects,
        vec![Effect::Connect {
            connection_id: "overlay".into(),
            room: "dm_c1".into(),
            epoch: d.session.epoch,
        }]
    );
    assert!(d.session.version > s.version);
}

#[test]
fn a_command_in_flight_during_a_handoff_is_fenced_by_its_epoch() {
    let s = bob_in_a_call();
    let sent_at = s.epoch;
    let handed = step(
        &s,
        Input::Closed {
            connection_id: "main".into(),
        },
        T0 + 100,
    )
    .session;
    let late = step(
        &handed,
        Input::Control {
            epoch: Some(sent_at),
            control: Control::SetMute(true),
        },
        T0 + 101,
    );
    assert_eq!(
        late.verdict,
        Err(Refusal::StaleEpoch {
            sent: sent_at,
            current: handed.epoch
        })
    );
    assert!(!late.session.controls.muted);
    assert!(late.effects.is_empty());
    // Resent with the current epoch (or none), it works and mutes at the SFU.
    let ok = step(
        &handed,
        Input::Control {
            epoch: Some(handed.epoch),
            control: Control::SetMute(true),
        },
        T0 + 102,
    );
    assert_eq!(ok.verdict, Ok(()));
    assert_eq!(
        ok.effects,
        vec![Effect::MuteMicrophone {
            room: "dm_c1".into()
        }]
    );
}

#[test]
fn a_hung_owner_loses_ownership_when_its_lease_lapses() {
    let s = bob_in_a_call();
    // The overlay keeps heartbeating; the main window hangs after opening at T0.
    let s = step(
        &s,
        Input::Heartbeat {
            connection_id: "overlay".into(),
        },
        T0 + 20_000,
    )
    .session;
    assert_eq!(next_deadline(&s), Some(T0 + LEASE_MS));
    let before = step(&s, Input::Tick, T0 + LEASE_MS - 1);
    assert_eq!(owner_id(&before.session), Some("main"));
    let at = step(&s, Input::Tick, T0 + LEASE_MS);
    assert_eq!(owner_id(&at.session), Some("overlay"));
    assert!(
        matches!(at.effects.as_slice(), [Effect::Connect { connection_id, .. }] if connection_id == "overlay")
    );
}

#[test]
fn with_no_connection_left_the_session_ends_after_the_grace() {
    let s = bob_in_a_call();
    let s = step(
        &s,
        Input::Closed {
            connection_id: "main".into(),
        },
        T0 + 10,
    )
    .session;
    let s = step(
        &s,
        Input::Closed {
            connection_id: "overlay".into(),
        },
        T0 + 20,
    )
    .session;
    assert_eq!(s.owner, None);
    assert!(s.is_active());
    assert_eq!(next_deadline(&s), Some(T0 + 20 + GRACE_MS));
    assert!(
        step(&s, Input::Tick, T0 + 20 + GRACE_MS - 1)
            .session
            .is_active()
    );
    let ended = step(&s, Input::Tick, T0 + 20 + GRACE_MS);
    assert_eq!(ended.session.session_type, SessionType::Idle);
    assert!(ended.effects.contains(&Effect::LeaveRoom {
        room: "dm_c1".into()
    }));
    assert!(ended.effects.iter().any(|e| matches!(e, Effect::Ended { reason, context } if reason == "no_connection" && context.call_id.as_deref() == Some("c1"))));
    // A connection returning within the grace keeps the session and owns it.
    let back = open(&s, "main2", ConnectionKind::Main, T0 + 20 + GRACE_MS - 1);
    assert_eq!(owner_id(&back), Some("main2"));
    assert!(
        step(&back, Input::Tick, T0 + 20 + GRACE_MS)
            .session
            .is_active()
    );
}

#[test]
fn starting_a_session_replaces_the_old_one() {
    let s = bob_in_a_call();
    let d = step(
        &s,
        Input::Start {
            session_type: SessionType::ServerVoice,
            context: Box::new(Context {
                channel_id: Some("ch".into()),
                ..Context::default()
            }),
            room: "vc_ch".into(),
            prefer: None,
        },
        T0 + 50,
    );
    assert_eq!(d.session.session_type, SessionType::ServerVoice);
    assert!(d.session.epoch >= s.epoch + 2);
    assert_eq!(
        d.effects[..3],
        [
            Effect::Replaced {
                connection_id: "main".into(),
                previous: SessionType::DmVoice
            },
            Effect::LeaveRoom {
                room: "dm_c1".into()
            },
            Effect::Ended {
                context: Box::new(s.context.clone()),
                reason: "replaced".into()
            },
        ]
    );
    assert!(matches!(&d.effects[3], Effect::Connect { room, .. } if room == "vc_ch"));
}

#[test]
fn busy_when_the_ring_queue_is_full_or_the_caller_already_rings() {
    let s = Session::idle("bob");
    let max = 2;
    let s = step(
        &s,
        Input::Ring {
            call: ring("c1", "alice", T0 + 30_000),
            max,
        },
        T0,
    )
    .session;
    let again = step(
        &s,
        Input::Ring {
            call: ring("c2", "alice", T0 + 30_000),
            max,
        },
        T0,
    );
    assert_eq!(again.verdict, Err(Refusal::Busy));
    assert_eq!(again.session, s);
    let s = step(
        &s,
        Input::Ring {
            call: ring("c3", "carol", T0 + 30_000),
            max,
        },
        T0,
    )
    .session;
    let full = step(
        &s,
        Input::Ring {
            call: ring("c4", "dave", T0 + 30_000),
            max,
        },
        T0,
    );
    assert_eq!(full.verdict, Err(Refusal::Busy));
    assert_eq!(s.incoming_calls.len(), 2);
}

#[test]
fn waiting_calls_queue_and_each_expires_on_its_own() {
    let s = bob_in_a_call();
    let s = step(
        &s,
        Input::Ring {
            call: ring("w1", "carol", T0 + 1_000),
            max: 3,
        },
        T0 + 10,
    )
    .session;
    let s = step(
        &s,
        Input::Ring {
            call: ring("w2", "dave", T0 + 2_000),
            max: 3,
        },
        T0 + 20,
    )
    .session;
    assert_eq!(s.incoming_calls.len(), 2);
    assert!(
        s.is_active(),
        "call waiting leaves the current session alone"
    );
    let s1 = step(&s, Input::Tick, T0 + 1_000).session;
    assert_eq!(
        s1.incoming_calls
            .iter()
            .map(|c| c.call_id.as_str())
            .collect::<Vec<_>>(),
        ["w2"]
    );
    let s2 = step(&s1, Input::Tick, T0 + 2_000).session;
    assert!(s2.incoming_calls.is_empty());
    // Declining one closes only that one.
    let d = step(
        &s,
        Input::Unring {
            call_id: "w1".into(),
        },
        T0 + 30,
    )
    .session;
    assert_eq!(d.incoming_calls.len(), 1);
    assert_eq!(d.session_type, SessionType::DmVoice);
}

#[test]
fn claim_owner_takes_ownership_back_without_ending_the_session() {
    let s = bob_in_a_call();
    let s = step(
        &s,
        Input::Closed {
            connection_id: "main".into(),
        },
        T0 + 10,
    )
    .session;
    let s = open(&s, "main2", ConnectionKind::Main, T0 + 20);
    assert_eq!(
        owner_id(&s),
        Some("overlay"),
        "a returning window does not take over by itself"
    );
    let claim = |id: &str| Input::Control {
        epoch: None,
        control: Control::ClaimOwner {
            connection_id: id.into(),
        },
    };
    let d = step(&s, claim("main2"), T0 + 30);
    assert_eq!(owner_id(&d.session), Some("main2"));
    assert_eq!(d.session.session_type, SessionType::DmVoice);
    assert!(
        matches!(d.effects.as_slice(), [Effect::Connect { connection_id, epoch, .. }] if connection_id == "main2" && *epoch == d.session.epoch)
    );
    assert_eq!(
        step(&s, claim("gone"), T0 + 30).verdict,
        Err(Refusal::NotLive("gone".into()))
    );
}

#[test]
fn only_the_owner_reports_the_media_connection() {
    let s = bob_in_a_call();
    let report = |id: &str| Input::Control {
        epoch: None,
        control: Control::ReportConnection {
            connection_id: id.into(),
            state: ConnectionState::Connected,
        },
    };
    assert_eq!(
        step(&s, report("overlay"), T0 + 5).verdict,
        Err(Refusal::NotOwner)
    );
    let d = step(&s, report("main"), T0 + 5);
    assert_eq!(d.session.connection, ConnectionState::Connected);
}

#[test]
fn deafen_and_unmute_are_effects_only_when_they_change_something() {
    let s = bob_in_a_call();
    let ctl = |c: Control| Input::Control {
        epoch: None,
        control: c,
    };
    let d = step(&s, ctl(Control::SetDeafen(true)), T0 + 5);
    // deafening an unmuted user mutes them too
    assert_eq!(
        d.effects,
        vec![
            Effect::MuteMicrophone {
                room: "dm_c1".into()
            },
            Effect::Deafen {
                room: "dm_c1".into(),
                deafened: true
            }
        ]
    );
    assert!(d.session.controls.muted && d.session.controls.deafened);
    assert!(
        step(&d.session, ctl(Control::SetDeafen(true)), T0 + 6)
            .effects
            .is_empty()
    );
    let muted = step(&s, ctl(Control::SetMute(true)), T0 + 5).session;
    // Unmuting is relayed to the owner through the snapshot, not forced at the SFU.
    let unmuted = step(&muted, ctl(Control::SetMute(false)), T0 + 6);
    assert!(unmuted.effects.is_empty());
    assert!(!unmuted.session.controls.muted);
    assert!(unmuted.session.version > muted.version);
}

#[test]
fn undeafening_leaves_the_microphone_muted_until_unmuted() {
    let s = bob_in_a_call();
    let ctl = |c: Control| Input::Control {
        epoch: None,
        control: c,
    };
    let deaf = step(&s, ctl(Control::SetDeafen(true)), T0 + 5).session;
    let d = step(&deaf, ctl(Control::SetDeafen(false)), T0 + 6);
    assert!(!d.session.controls.deafened);
    assert!(d.session.controls.muted);
    assert_eq!(
        d.effects,
        vec![Effect::Deafen {
            room: "dm_c1".into(),
            deafened: false
        }]
    );
    // an already muted user is not muted at the SFU again
    let muted = step(&s, ctl(Control::SetMute(true)), T0 + 5).session;
    let d = step(&muted, ctl(Control::SetDeafen(true)), T0 + 6);
    assert_eq!(
        d.effects,
        vec![Effect::Deafen {
            room: "dm_c1".into(),
            deafened: true
        }]
    );
}

#[test]
fn a_start_names_the_connection_that_acted_and_it_owns_the_session() {
    // two main windows: the newest would win the election, but the older one clicked
    let s = Session::idle("bob");
    let s = open(&s, "older", ConnectionKind::Main, T0);
    let s = open(&s, "newer", ConnectionKind::Main, T0 + 1);
    let s = open(&s, "overlay", ConnectionKind::Overlay, T0 + 2);
    let start = |prefer: Option<&str>| Input::Start {
        session_type: SessionType::DmVoice,
        context: Box::new(Context::default()),
        room: "dm_c1".into(),
        prefer: prefer.map(str::to_owned),
    };
    let d = step(&s, start(Some("older")), T0 + 3);
    assert_eq!(owner_id(&d.session), Some("older"));
    assert_eq!(
        d.effects,
        vec![Effect::Connect {
            connection_id: "older".into(),
            room: "dm_c1".into(),
            epoch: d.session.epoch
        }]
    );
    // even an overlay, when it is the one that acted
    let d = step(&s, start(Some("overlay")), T0 + 3);
    assert_eq!(owner_id(&d.session), Some("overlay"));
    // without one, or naming a connection that is not live, the election decides
    assert_eq!(
        owner_id(&step(&s, start(None), T0 + 3).session),
        Some("newer")
    );
    assert_eq!(
        owner_id(&step(&s, start(Some("gone")), T0 + 3).session),
        Some("newer")
    );
}
