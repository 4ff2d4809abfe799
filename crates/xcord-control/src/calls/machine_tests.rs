//! The call machine at exact instants: every race is decided by one call, one input and one
//! `now`, so each test is a few milliseconds of arithmetic.

use super::*;

const T0: i64 = 1_000_000;
const RING: Duration = Duration::from_secs(30);
const RING_MS: i64 = 30_000;

fn ringing() -> Call {
    Call::ringing(
        "call1".into(),
        "conv1".into(),
        "alice".into(),
        "bob".into(),
        false,
        T0,
        RING,
    )
}

fn accept(by: &str) -> CallInput {
    CallInput::Accept { by: by.into() }
}

#[test]
fn an_answer_before_the_deadline_connects_the_call() {
    let d = decide(&ringing(), accept("bob"), T0 + RING_MS - 1);
    assert_eq!(d.verdict, Ok(true));
    assert_eq!(d.call.state, CallState::Accepted);
    assert_eq!(d.call.answered_at, Some(T0 + RING_MS - 1));
    assert_eq!(d.effects, vec![CallEffect::Announce, CallEffect::Answered]);
}

#[test]
fn accept_and_ring_timeout_at_the_same_instant_is_no_answer() {
    let d = decide(&ringing(), accept("bob"), T0 + RING_MS);
    assert_eq!(d.call.state, CallState::NoAnswer);
    assert_eq!(d.call.ended_at, Some(T0 + RING_MS));
    assert_eq!(d.verdict, Err(CallRefusal::NotRinging(CallState::NoAnswer)));
    assert_eq!(d.effects, vec![CallEffect::Announce, CallEffect::Finished]);
}

#[test]
fn the_ring_timer_alone_ends_the_call_at_its_deadline() {
    let c = ringing();
    assert_eq!(c.next_deadline(), Some(T0 + RING_MS));
    let before = decide(&c, CallInput::Tick, T0 + RING_MS - 1);
    assert_eq!(before.call, c);
    assert!(before.effects.is_empty());
    let at = decide(&c, CallInput::Tick, T0 + RING_MS);
    assert_eq!(at.call.state, CallState::NoAnswer);
    assert_eq!(at.call.end_reason.as_deref(), Some("no_answer"));
    assert_eq!(at.call.next_deadline(), None);
}

#[test]
fn two_connections_accepting_at_once_one_wins_the_other_sees_the_settled_call() {
    let first = decide(&ringing(), accept("bob"), T0 + 10);
    let second = decide(&first.call, accept("bob"), T0 + 10);
    assert_eq!(first.verdict, Ok(true));
    assert_eq!(second.verdict, Ok(false));
    assert_eq!(second.call, first.call);
    assert!(second.effects.is_empty(), "no second join, no second event");
}

#[test]
fn a_late_answer_for_an_ended_call_is_refused_and_changes_nothing() {
    let over = decide(&ringing(), CallInput::Tick, T0 + RING_MS).call;
    let late = decide(&over, accept("bob"), T0 + RING_MS + 5_000);
    assert_eq!(
        late.verdict,
        Err(CallRefusal::NotRinging(CallState::NoAnswer))
    );
    assert_eq!(late.call, over);
    assert!(late.effects.is_empty());
    let declined = decide(
        &over,
        CallInput::Decline { by: "bob".into() },
        T0 + RING_MS + 1,
    );
    assert_eq!(
        declined.verdict,
        Err(CallRefusal::NotRinging(CallState::NoAnswer))
    );
}

#[test]
fn caller_cancel_while_callee_accepts_whichever_comes_first_wins() {
    let cancel = CallInput::Leave {
        by: "alice".into(),
        reason: "hangup".into(),
    };
    // Cancel first: the accept finds a canceled call.
    let canceled = decide(&ringing(), cancel.clone(), T0 + 100);
    assert_eq!(canceled.call.state, CallState::Canceled);
    let accept_after = decide(&canceled.call, accept("bob"), T0 + 100);
    assert_eq!(
        accept_after.verdict,
        Err(CallRefusal::NotRinging(CallState::Canceled))
    );
    // Accept first: the caller's leave hangs up a connected call.
    let accepted = decide(&ringing(), accept("bob"), T0 + 100);
    let hung_up = decide(&accepted.call, cancel, T0 + 100);
    assert_eq!(hung_up.call.state, CallState::Ended);
    assert_eq!(hung_up.call.end_reason.as_deref(), Some("hangup"));
    assert_eq!(hung_up.call.duration_ms(), Some(0));
}

#[test]
fn only_the_callee_answers_and_strangers_are_refused() {
    assert_eq!(
        decide(&ringing(), accept("alice"), T0).verdict,
        Err(CallRefusal::NotCallee)
    );
    assert_eq!(
        decide(&ringing(), accept("mallory"), T0).verdict,
        Err(CallRefusal::NotAParty)
    );
    let d = decide(&ringing(), CallInput::Decline { by: "bob".into() }, T0 + 1);
    assert_eq!(d.call.state, CallState::Declined);
    assert_eq!(d.effects, vec![CallEffect::Announce, CallEffect::Finished]);
}

#[test]
fn a_party_out_of_the_room_past_the_grace_ends_the_call() {
    let grace = DISCONNECT_GRACE.as_millis() as i64;
    let accepted = decide(&ringing(), accept("bob"), T0).call;
    // Both join; later the callee drops.
    let joined = decide(
        &accepted,
        CallInput::Joined {
            user: "alice".into(),
        },
        T0 + 500,
    )
    .call;
    let joined = decide(&joined, CallInput::Joined { user: "bob".into() }, T0 + 600).call;
    assert_eq!(joined.next_deadline(), None);
    let dropped = decide(&joined, CallInput::Left { user: "bob".into() }, T0 + 10_000).call;
    assert_eq!(dropped.next_deadline(), Some(T0 + 10_000 + grace));
    // Back within the grace: still on.
    let back = decide(
        &dropped,
        CallInput::Joined { user: "bob".into() },
        T0 + 10_000 + grace - 1,
    );
    assert_eq!(back.call.state, CallState::Accepted);
    // Not back: over at the deadline exactly, told as `disconnected`.
    let over = decide(&dropped, CallInput::Tick, T0 + 10_000 + grace);
    assert_eq!(over.call.state, CallState::Ended);
    assert_eq!(over.call.end_reason.as_deref(), Some("disconnected"));
    assert_eq!(over.call.duration_ms(), Some(10_000 + grace));
    assert!(over.effects.contains(&CallEffect::Finished));
}

#[test]
fn a_party_that_never_connects_ends_the_call_after_the_grace() {
    let grace = DISCONNECT_GRACE.as_millis() as i64;
    let accepted = decide(&ringing(), accept("bob"), T0).call;
    let one = decide(
        &accepted,
        CallInput::Joined {
            user: "alice".into(),
        },
        T0 + 1,
    )
    .call;
    assert_eq!(one.next_deadline(), Some(T0 + grace));
    assert_eq!(
        decide(&one, CallInput::Tick, T0 + grace).call.state,
        CallState::Ended
    );
}

#[test]
fn busy_calls_are_final_from_the_start() {
    let c = ringing().busy(T0);
    assert_eq!(c.state, CallState::Busy);
    assert_eq!(c.next_deadline(), None);
    assert_eq!(c.duration_ms(), None);
    assert_eq!(CallState::parse("no_answer"), Some(CallState::NoAnswer));
}
