"""RoomService (Twirp) against xcord with the official `livekit-api` client (protobuf Twirp), and
official `livekit` participants observing every effect.

Each test uses a fresh room on the runner's default server, except the `--no-auto-create` test,
which starts its own server (xcord_server.XcordServer). Every call is checked twice: what the API
answers, and what the participants in the room see (events and their local state).
"""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Optional

import aiohttp
import pytest
from livekit import api, rtc

from lkutil import (
    AudioMonitor,
    API_KEY,
    API_SECRET,
    HTTP_URL,
    TONE_HZ,
    URL,
    EventWaiter,
    Publisher,
    collect_audio,
    disconnect_all,
    dominant_frequency,
    make_token,
    rms,
    unique_room,
)
from xcord_server import XcordServer

A, B, C = "alice", "bob", "carol"
WRONG_SECRET = "not-the-server-secret-" + "x" * 16

RELIABLE = api.DataPacket.Kind.RELIABLE


@pytest.fixture
async def lk():
    async with api.LiveKitAPI(HTTP_URL, API_KEY, API_SECRET) as client:
        yield client


async def enter(
    identity: str,
    room_name: str,
    *,
    room: Optional[rtc.Room] = None,
    url: str = URL,
    auto_subscribe: bool = True,
    timeout: float = 30.0,
) -> rtc.Room:
    """Connect (an existing Room object, so a test can register handlers first)."""
    room = room or rtc.Room()
    token = make_token(identity, room_name)
    try:
        await asyncio.wait_for(room.connect(url, token, rtc.RoomOptions(auto_subscribe=auto_subscribe)), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"{identity}: Room.connect did not finish within {timeout:.0f}s") from None
    return room


async def eventually(check, what: str, timeout: float = 10.0, interval: float = 0.1):
    """Polls async `check()` until it returns something other than None/False; returns it, or
    fails naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = await check()
        if last is not None and last is not False:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")
        await asyncio.sleep(interval)


async def expect_server_error(coro, code: str, status: int, what: str) -> api.ServerError:
    try:
        res = await coro
    except api.ServerError as e:
        assert (e.code, e.status) == (code, status), (
            f"{what}: expected Twirp error {code} ({status}), got {e.code} ({e.status}): {e.message!r}"
        )
        return e
    raise AssertionError(f"{what}: expected Twirp error {code} ({status}), the call succeeded with {res!r}")


def api_token(grants: api.VideoGrants, *, secret: str = API_SECRET) -> str:
    return (
        api.AccessToken(API_KEY, secret)
        .with_grants(grants)
        .with_ttl(datetime.timedelta(minutes=10))
        .to_jwt()
    )


async def twirp_raw(method: str, msg, token: str, *, base: str = HTTP_URL) -> tuple[int, str, bytes]:
    """POSTs a protobuf Twirp request without the SDK (so that the request can be one the SDK
    would not send); returns (status, content type, body)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/protobuf"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        async with s.post(f"{base}/twirp/livekit.RoomService/{method}", data=msg.SerializeToString(), headers=headers) as r:
            return r.status, r.headers.get("Content-Type", ""), await r.read()


async def participants(lk: api.LiveKitAPI, room_name: str) -> dict[str, api.ParticipantInfo]:
    res = await lk.room.list_participants(api.ListParticipantsRequest(room=room_name))
    return {p.identity: p for p in res.participants}


async def room_info(lk: api.LiveKitAPI, room_name: str) -> Optional[api.Room]:
    res = await lk.room.list_rooms(api.ListRoomsRequest(names=[room_name]))
    return res.rooms[0] if res.rooms else None


# ---------------------------------------------------------------------------------------------


async def test_create_list_update_metadata_and_participants(lk):
    name = unique_room("rs-create")
    a = b = None
    pub = None
    try:
        t0 = int(time.time())
        created = await lk.room.create_room(
            api.CreateRoomRequest(name=name, empty_timeout=120, departure_timeout=7, max_participants=9, metadata="m0")
        )
        assert created.name == name
        assert created.sid.startswith("RM_"), f"room sid {created.sid!r}"
        assert created.metadata == "m0"
        assert created.max_participants == 9
        assert created.empty_timeout == 120
        assert created.departure_timeout == 7
        assert abs(created.creation_time - t0) <= 5, f"creation_time {created.creation_time}, now {t0}"
        assert created.num_participants == 0

        # CreateRoom is idempotent: the same room comes back
        again = await lk.room.create_room(api.CreateRoomRequest(name=name))
        assert again.sid == created.sid, f"second CreateRoom made a new room: {again.sid} != {created.sid}"

        listed = await lk.room.list_rooms(api.ListRoomsRequest(names=[name]))
        assert [r.sid for r in listed.rooms] == [created.sid], f"ListRooms(names=[{name}]) = {listed.rooms!r}"
        everything = await lk.room.list_rooms(api.ListRoomsRequest())
        assert name in {r.name for r in everything.rooms}, "ListRooms() without names does not list the room"
        nothing = await lk.room.list_rooms(api.ListRoomsRequest(names=[unique_room("rs-nonexistent")]))
        assert list(nothing.rooms) == [], f"ListRooms of an unknown name returned {nothing.rooms!r}"

        # participants join the created room: they see its sid and metadata
        a = await enter(A, name)
        assert await a.sid == created.sid, "A joined a different room than the one created"
        assert a.metadata == "m0", f"A sees room metadata {a.metadata!r}, expected 'm0'"
        pub = Publisher(a)
        apub = await pub.publish_tone()
        b = rtc.Room()
        b_meta = EventWaiter(b, "room_metadata_changed")
        a_meta = EventWaiter(a, "room_metadata_changed")
        await enter(B, name, room=b)

        updated = await lk.room.update_room_metadata(api.UpdateRoomMetadataRequest(room=name, metadata="m1"))
        assert updated.metadata == "m1" and updated.sid == created.sid, f"UpdateRoomMetadata returned {updated!r}"
        for who, w, r in ((A, a_meta, a), (B, b_meta, b)):
            await w.wait(lambda old, new: new == "m1", timeout=10)
            assert r.metadata == "m1", f"{who}: room.metadata is {r.metadata!r} after the update"

        info = await room_info(lk, name)
        assert info is not None and info.metadata == "m1", f"ListRooms after the update: {info!r}"
        assert info.num_participants == 2, f"ListRooms num_participants {info.num_participants}, expected 2"

        # ListParticipants: both, with their sids, ACTIVE (media connected), A's audio track
        async def both_active():
            ps = await participants(lk, name)
            ok = set(ps) == {A, B} and all(p.state == api.ParticipantInfo.State.ACTIVE for p in ps.values())
            return ps if ok else None

        ps = await eventually(both_active, "ListParticipants to show A and B ACTIVE")
        assert ps[A].sid == a.local_participant.sid, f"A's sid {ps[A].sid} != client's {a.local_participant.sid}"
        assert ps[B].sid == b.local_participant.sid
        assert ps[A].name == A
        tracks = {t.sid: t for t in ps[A].tracks}
        assert apub.sid in tracks, f"A's published track {apub.sid} missing from ListParticipants: {ps[A].tracks!r}"
        t = tracks[apub.sid]
        assert t.type == api.TrackType.AUDIO and t.source == api.TrackSource.MICROPHONE and t.name == "tone", t
        assert not t.muted
        assert list(ps[B].tracks) == [], f"B published nothing but has tracks {ps[B].tracks!r}"

        got = await lk.room.get_participant(api.RoomParticipantIdentity(room=name, identity=A))
        assert got.identity == A and got.sid == ps[A].sid and got.name == A
        assert [x.sid for x in got.tracks] == [apub.sid], f"GetParticipant(A).tracks = {got.tracks!r}"
        await expect_server_error(
            lk.room.get_participant(api.RoomParticipantIdentity(room=name, identity="nobody")),
            "not_found", 404, "GetParticipant of an identity not in the room",
        )
    finally:
        if pub:
            await pub.stop()
        await disconnect_all(a, b)


async def test_remove_participant(lk):
    name = unique_room("rs-remove")
    a = b = None
    try:
        a = rtc.Room()
        gone = EventWaiter(a, "participant_disconnected")
        await enter(A, name, room=a)
        b = rtc.Room()
        b_disc = EventWaiter(b, "disconnected")
        await enter(B, name, room=b)
        await eventually(lambda: _aval(B in a.remote_participants), "A to see B")

        await expect_server_error(
            lk.room.remove_participant(api.RoomParticipantIdentity(room=name, identity="nobody")),
            "not_found", 404, "RemoveParticipant of an identity not in the room",
        )
        assert not b_disc.seen, "B was disconnected by the removal of somebody else"

        await lk.room.remove_participant(api.RoomParticipantIdentity(room=name, identity=B))
        (reason,) = await b_disc.wait(timeout=10)
        assert reason == rtc.DisconnectReason.PARTICIPANT_REMOVED, (
            f"B disconnected with reason {rtc.DisconnectReason.Name(reason)}, expected PARTICIPANT_REMOVED"
        )
        assert not b.isconnected()
        await gone.wait(lambda p: p.identity == B, timeout=10)
        ps = await eventually(
            lambda: _filtered(participants(lk, name), lambda d: set(d) == {A}), "ListParticipants to show only A"
        )
        assert set(ps) == {A}
        assert a.isconnected(), "A was disconnected too"
    finally:
        await disconnect_all(a, b)


async def _aval(v):
    return v


async def _filtered(coro, pred):
    v = await coro
    return v if pred(v) else None


async def test_mute_published_track(lk):
    name = unique_room("rs-mute")
    a = b = None
    pub = None
    try:
        a = await enter(A, name)
        pub = Publisher(a)
        apub = await pub.publish_tone()
        b = rtc.Room()
        subscribed = EventWaiter(b, "track_subscribed")
        b_muted = EventWaiter(b, "track_muted")
        b_unmuted = EventWaiter(b, "track_unmuted")
        a_muted = EventWaiter(a, "track_muted")
        await enter(B, name, room=b)
        await subscribed.wait(lambda t, p, part: part.identity == A and p.sid == apub.sid, timeout=20)
        assert not apub.muted and not b_muted.seen and not a_muted.seen

        res = await lk.room.mute_published_track(
            api.MuteRoomTrackRequest(room=name, identity=A, track_sid=apub.sid, muted=True)
        )
        assert res.track.sid == apub.sid and res.track.muted, f"MutePublishedTrack returned {res.track!r}"

        # the publisher is told: its own publication becomes muted
        await a_muted.wait(lambda part, p: part.identity == A and p.sid == apub.sid, timeout=10)
        assert a.local_participant.track_publications[apub.sid].muted, "A's local publication is not muted"
        # the others see the track muted
        _, bp = await b_muted.wait(lambda part, p: part.identity == A and p.sid == apub.sid, timeout=10)
        assert bp.muted, "B's publication of A's track is not marked muted"
        got = await lk.room.get_participant(api.RoomParticipantIdentity(room=name, identity=A))
        assert [t.muted for t in got.tracks if t.sid == apub.sid] == [True], f"GetParticipant: {got.tracks!r}"

        # the publisher may unmute itself again; everybody sees it
        pub.audio_track.unmute()
        _, bp = await b_unmuted.wait(lambda part, p: part.identity == A and p.sid == apub.sid, timeout=10)
        assert not bp.muted

        await expect_server_error(
            lk.room.mute_published_track(
                api.MuteRoomTrackRequest(room=name, identity=A, track_sid="TR_doesnotexist", muted=True)
            ),
            "not_found", 404, "MutePublishedTrack of an unknown track",
        )
    finally:
        if pub:
            await pub.stop()
        await disconnect_all(a, b)


async def test_update_participant_metadata_name_attributes(lk):
    name = unique_room("rs-update")
    a = b = None
    try:
        a = rtc.Room()
        a_events = {e: EventWaiter(a, e) for e in ("participant_metadata_changed", "participant_name_changed",
                                                    "participant_attributes_changed")}
        await enter(A, name, room=a)
        b = rtc.Room()
        b_events = {e: EventWaiter(b, e) for e in a_events}
        await enter(B, name, room=b)
        await eventually(lambda: _aval(A in b.remote_participants), "B to see A")

        res = await lk.room.update_participant(
            api.UpdateParticipantRequest(
                room=name, identity=A, metadata="meta-1", name="Alice Renamed",
                attributes={"role": "speaker", "lang": "en"},
            )
        )
        assert res.identity == A and res.metadata == "meta-1" and res.name == "Alice Renamed", res
        assert dict(res.attributes) == {"role": "speaker", "lang": "en"}, dict(res.attributes)

        is_a = lambda part, *rest: part.identity == A  # noqa: E731
        for who, ev in ((B, b_events), (A, a_events)):
            _, old, new = await ev["participant_metadata_changed"].wait(is_a, timeout=10)
            assert new == "meta-1", f"{who}: metadata changed to {new!r}"
            _, old, new = await ev["participant_name_changed"].wait(is_a, timeout=10)
            assert new == "Alice Renamed", f"{who}: name changed to {new!r}"
            changed, _ = await ev["participant_attributes_changed"].wait(
                lambda changed, part: part.identity == A, timeout=10
            )
            assert changed == {"role": "speaker", "lang": "en"}, f"{who}: changed attributes {changed!r}"
        ra = b.remote_participants[A]
        assert (ra.metadata, ra.name, dict(ra.attributes)) == ("meta-1", "Alice Renamed", {"role": "speaker", "lang": "en"})
        la = a.local_participant
        assert (la.metadata, la.name, dict(la.attributes)) == ("meta-1", "Alice Renamed", {"role": "speaker", "lang": "en"})

        # attributes are merged; an empty value deletes one; empty metadata/name leave them alone
        for ev in (*a_events.values(), *b_events.values()):
            ev.seen.clear()
        res = await lk.room.update_participant(
            api.UpdateParticipantRequest(room=name, identity=A, attributes={"lang": "", "mood": "calm"})
        )
        assert dict(res.attributes) == {"role": "speaker", "mood": "calm"}, f"merged attributes {dict(res.attributes)}"
        assert res.metadata == "meta-1" and res.name == "Alice Renamed", (
            f"an update without metadata/name changed them: {res.metadata!r}, {res.name!r}"
        )
        changed, _ = await b_events["participant_attributes_changed"].wait(
            lambda changed, part: part.identity == A, timeout=10
        )
        assert changed.get("mood") == "calm" and "role" not in changed, f"B: changed attributes {changed!r}"
        assert dict(b.remote_participants[A].attributes) == {"role": "speaker", "mood": "calm"}
        await asyncio.sleep(0.5)
        assert not b_events["participant_metadata_changed"].seen, "metadata event without a metadata change"
        assert not b_events["participant_name_changed"].seen, "name event without a name change"

        got = await lk.room.get_participant(api.RoomParticipantIdentity(room=name, identity=A))
        assert (got.metadata, got.name, dict(got.attributes)) == ("meta-1", "Alice Renamed", {"role": "speaker", "mood": "calm"})
    finally:
        await disconnect_all(a, b)


async def test_permissions_apply_live(lk):
    """Revoking canPublish unpublishes A's track; granting it back lets A publish a new one without
    reconnecting, and B subscribes to it and hears it."""
    name = unique_room("rs-perm")
    a = b = None
    pub = pub2 = None
    try:
        a = rtc.Room()
        a_perm = EventWaiter(a, "participant_permissions_changed")
        a_trouble = [EventWaiter(a, "reconnecting"), EventWaiter(a, "disconnected")]
        await enter(A, name, room=a)
        a_sid = a.local_participant.sid
        pub = Publisher(a)
        apub = await pub.publish_tone()
        b = rtc.Room()
        subscribed = EventWaiter(b, "track_subscribed")
        unpublished = EventWaiter(b, "track_unpublished")
        b_published = EventWaiter(b, "track_published")
        await enter(B, name, room=b)
        await subscribed.wait(lambda t, p, part: part.identity == A and p.sid == apub.sid, timeout=20)

        res = await lk.room.update_participant(
            api.UpdateParticipantRequest(
                room=name, identity=A,
                permission=api.ParticipantPermission(can_subscribe=True, can_publish=False, can_publish_data=True),
            )
        )
        assert not res.permission.can_publish and res.permission.can_subscribe, f"returned permission {res.permission!r}"

        # B sees the track go. (A's SDK ignores the server's TrackUnpublishedResponse -- the Rust SDK
        # has no handler for it -- so A's side is checked through its permission and the API.)
        await unpublished.wait(lambda p, part: part.identity == A and p.sid == apub.sid, timeout=10)
        await a_perm.wait(lambda part, perm: part.identity == A and not perm.can_publish, timeout=10)
        assert not a.local_participant.permissions.can_publish
        assert apub.sid not in b.remote_participants[A].track_publications
        got = await lk.room.get_participant(api.RoomParticipantIdentity(room=name, identity=A))
        assert list(got.tracks) == [], f"A still has tracks after canPublish was revoked: {got.tracks!r}"
        assert not got.permission.can_publish

        await pub.stop()
        b_published.seen.clear()
        subscribed.seen.clear()

        res = await lk.room.update_participant(
            api.UpdateParticipantRequest(
                room=name, identity=A,
                permission=api.ParticipantPermission(can_subscribe=True, can_publish=True, can_publish_data=True),
            )
        )
        assert res.permission.can_publish
        await a_perm.wait(lambda part, perm: part.identity == A and perm.can_publish, timeout=10)

        # the same connection publishes again
        pub2 = Publisher(a)
        new_pub = await pub2.publish_tone(freq=660.0)
        assert new_pub.sid != apub.sid
        track, _, _ = await subscribed.wait(lambda t, p, part: part.identity == A and p.sid == new_pub.sid, timeout=20)
        got = await lk.room.get_participant(api.RoomParticipantIdentity(room=name, identity=A))
        print("A's tracks after publishing again:", [(t.sid, t.mid, t.muted) for t in got.tracks])
        samples = await collect_audio(track, seconds=1.0, skip_seconds=0.5, timeout=20)
        freq, level = dominant_frequency(samples), rms(samples)
        print(f"B hears A's new track: {freq:.1f} Hz, rms {level:.0f}")
        assert level > 300 and abs(freq - 660.0) <= 3.0, f"B hears {freq:.1f} Hz at rms {level:.0f}, expected 660 Hz"

        assert a.local_participant.sid == a_sid, "A's participant sid changed: it rejoined"
        assert not any(w.seen for w in a_trouble), f"A reconnected/disconnected: {[w.seen for w in a_trouble]}"
    finally:
        for p in (pub, pub2):
            if p:
                await p.stop()
        await disconnect_all(a, b)


async def test_update_subscriptions(lk):
    """B joins with auto_subscribe off; the API subscribes it to A's track (B hears it), unsubscribes
    it (B's audio goes silent), subscribes it again (B gets the track again and hears it).

    Unsubscription is observed through the audio: the Rust SDK behind the Python SDK emits
    track_unsubscribed only for its own unsubscribe or an unpublish, not for a subscription the
    server ends (its RemoteTrackPublication has "TODO: wait for the PC onRemoveTrack event")."""
    name = unique_room("rs-subs")
    a = b = None
    pub = None
    monitors: list[AudioMonitor] = []
    try:
        a = await enter(A, name)
        pub = Publisher(a)
        apub = await pub.publish_tone()
        b = rtc.Room()
        subscribed = EventWaiter(b, "track_subscribed")
        await enter(B, name, room=b, auto_subscribe=False)

        async def b_knows_track():
            ra = b.remote_participants.get(A)
            return ra is not None and apub.sid in ra.track_publications

        await eventually(b_knows_track, "B to learn about A's track")
        await asyncio.sleep(1.5)
        assert not subscribed.seen, f"B (auto_subscribe off) was subscribed anyway: {subscribed.seen!r}"

        is_a_track = lambda t, p, part: part.identity == A and p.sid == apub.sid  # noqa: E731
        await lk.room.update_subscriptions(
            api.UpdateSubscriptionsRequest(room=name, identity=B, track_sids=[apub.sid], subscribe=True)
        )
        track, _, _ = await subscribed.wait(is_a_track, timeout=15)
        mon = AudioMonitor(track)
        monitors.append(mon)
        t_sub = time.monotonic()
        await eventually(lambda: _aval(mon.audible(t_sub) >= 50), "B to hear 0.5 s of A's tone", timeout=15)

        # unsubscribe: within a few seconds B's audio must go (and stay) silent
        await lk.room.update_subscriptions(
            api.UpdateSubscriptionsRequest(room=name, identity=B, track_sids=[apub.sid], subscribe=False)
        )
        t_unsub = time.monotonic()

        async def silent_for_a_second():
            now = time.monotonic()
            return now - t_unsub >= 1.0 and mon.audible(now - 1.0) == 0

        await eventually(silent_for_a_second, "B's audio to go silent after the unsubscribe", timeout=8)
        t_silent = time.monotonic()
        await asyncio.sleep(1.5)
        assert mon.audible(t_silent) == 0, (
            f"B hears A again without being subscribed: {mon.audible(t_silent)} audible frames"
        )
        assert mon.audible(t_sub, t_unsub) >= 50, "control: B heard A while subscribed"

        # subscribe again: the track is delivered anew
        n_before = len(subscribed.matching(is_a_track))
        await lk.room.update_subscriptions(
            api.UpdateSubscriptionsRequest(room=name, identity=B, track_sids=[apub.sid], subscribe=True)
        )
        deadline = time.monotonic() + 15
        while len(subscribed.matching(is_a_track)) <= n_before and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        again = subscribed.matching(is_a_track)
        assert len(again) > n_before, "no track_subscribed after subscribing B again"
        samples = await collect_audio(again[-1][0], seconds=1.0, skip_seconds=0.5, timeout=20)
        freq = dominant_frequency(samples)
        assert rms(samples) > 300 and abs(freq - TONE_HZ) <= 3.0, f"B hears {freq:.1f} Hz at rms {rms(samples):.0f}"
        assert a.isconnected() and b.isconnected()
    finally:
        for m in monitors:
            await m.close()
        if pub:
            await pub.stop()
        await disconnect_all(a, b)


async def test_send_data(lk):
    name = unique_room("rs-data")
    a = b = None
    try:
        a, b = rtc.Room(), rtc.Room()
        got = {A: EventWaiter(a, "data_received"), B: EventWaiter(b, "data_received")}
        await enter(A, name, room=a)
        await enter(B, name, room=b)

        def pkt(topic: str, payload: bytes):
            return lambda p: p.topic == topic and p.data == payload and p.participant is None

        await lk.room.send_data(api.SendDataRequest(room=name, data=b"from-the-server", kind=RELIABLE, topic="srv"))
        for who in (A, B):
            (p,) = await got[who].wait(lambda p: p.topic == "srv", timeout=10)
            assert p.data == b"from-the-server", f"{who}: payload {p.data!r}"
            assert p.participant is None, f"{who}: server data came with a sender {p.participant.identity!r}"
            assert p.kind == rtc.DataPacketKind.KIND_RELIABLE

        await lk.room.send_data(
            api.SendDataRequest(room=name, data=b"only-for-bob", kind=RELIABLE, topic="srv-direct",
                                destination_identities=[B])
        )
        await lk.room.send_data(api.SendDataRequest(room=name, data=b"fence", kind=RELIABLE, topic="srv-fence"))
        await got[B].wait(pkt("srv-direct", b"only-for-bob"), timeout=10)
        for who in (A, B):
            await got[who].wait(pkt("srv-fence", b"fence"), timeout=10)
        await asyncio.sleep(1.0)
        assert not got[A].matching(lambda p: p.topic == "srv-direct"), "A got data addressed only to B"
        for who in (A, B):
            n = len(got[who].matching(lambda p: p.topic == "srv"))
            assert n == 1, f"{who} received the broadcast {n} times"

        # nonce: 16 bytes or empty, anything else is invalid_argument (and nothing is sent)
        admin = api_token(api.VideoGrants(room_admin=True, room=name))
        status, ctype, body = await twirp_raw(
            "SendData",
            api.SendDataRequest(room=name, data=b"bad-nonce", kind=RELIABLE, topic="srv-bad", nonce=b"12345"),
            admin,
        )
        assert status == 400 and b"invalid_argument" in body, f"5-byte nonce: {status} {body!r}"
        status, _, body = await twirp_raw(
            "SendData", api.SendDataRequest(room=name, data=b"no-nonce", kind=RELIABLE, topic="srv-nononce"), admin
        )
        assert status == 200, f"SendData without a nonce: {status} {body!r}"
        for who in (A, B):
            await got[who].wait(pkt("srv-nononce", b"no-nonce"), timeout=10)
        assert not got[A].matching(lambda p: p.topic == "srv-bad") and not got[B].matching(
            lambda p: p.topic == "srv-bad"
        ), "data of a refused SendData was delivered"
    finally:
        await disconnect_all(a, b)


async def test_delete_room(lk):
    name = unique_room("rs-delete")
    a = b = None
    try:
        await lk.room.create_room(api.CreateRoomRequest(name=name))
        a, b = rtc.Room(), rtc.Room()
        disc = {A: EventWaiter(a, "disconnected"), B: EventWaiter(b, "disconnected")}
        await enter(A, name, room=a)
        await enter(B, name, room=b)
        await lk.room.delete_room(api.DeleteRoomRequest(room=name))
        for who, r in ((A, a), (B, b)):
            (reason,) = await disc[who].wait(timeout=10)
            assert reason == rtc.DisconnectReason.ROOM_DELETED, (
                f"{who} disconnected with reason {rtc.DisconnectReason.Name(reason)}, expected ROOM_DELETED"
            )
            assert not r.isconnected()
        assert await room_info(lk, name) is None, "the deleted room is still listed"
        await expect_server_error(
            lk.room.list_participants(api.ListParticipantsRequest(room=name)),
            "not_found", 404, "ListParticipants of a deleted room",
        )
    finally:
        await disconnect_all(a, b)


async def test_wrong_secret_is_refused(lk):
    name = unique_room("rs-badsig")
    async with api.LiveKitAPI(HTTP_URL, API_KEY, WRONG_SECRET) as bad:
        for what, call in (
            ("ListRooms", bad.room.list_rooms(api.ListRoomsRequest())),
            ("CreateRoom", bad.room.create_room(api.CreateRoomRequest(name=name))),
        ):
            with pytest.raises(api.ServerError) as err:
                await call
            assert err.value.status == 401, f"{what} signed with a wrong secret: {err.value}"
    # nothing happened
    assert await room_info(lk, name) is None, "CreateRoom signed with a wrong secret created the room"
    # the refusal comes before Twirp, in plain text
    status, ctype, body = await twirp_raw(
        "ListRooms", api.ListRoomsRequest(), api_token(api.VideoGrants(room_list=True), secret=WRONG_SECRET)
    )
    assert status == 401 and ctype.startswith("text/plain"), f"wrong secret, raw: {status} {ctype!r} {body!r}"
    # control: the same call with the right secret works
    status, _, body = await twirp_raw("ListRooms", api.ListRoomsRequest(), api_token(api.VideoGrants(room_list=True)))
    assert status == 200, f"control ListRooms with the right secret: {status} {body!r}"


async def test_missing_grants_are_refused(lk):
    name = unique_room("rs-grants")
    a = None
    try:
        a = await enter(A, name)
        # everything but roomAdmin
        no_admin = api_token(api.VideoGrants(room_create=True, room_list=True, room=name))
        async with api.LiveKitAPI(HTTP_URL, token=no_admin) as weak:
            await expect_server_error(
                weak.room.list_participants(api.ListParticipantsRequest(room=name)),
                "unauthenticated", 401, "ListParticipants without roomAdmin",
            )
            await expect_server_error(
                weak.room.remove_participant(api.RoomParticipantIdentity(room=name, identity=A)),
                "unauthenticated", 401, "RemoveParticipant without roomAdmin",
            )
        # roomAdmin for another room
        other = api_token(api.VideoGrants(room_admin=True, room=unique_room("rs-other")))
        async with api.LiveKitAPI(HTTP_URL, token=other) as wrong_room:
            await expect_server_error(
                wrong_room.room.list_participants(api.ListParticipantsRequest(room=name)),
                "unauthenticated", 401, "ListParticipants with roomAdmin for another room",
            )
        # roomList is needed for ListRooms, roomCreate for CreateRoom
        admin_only = api_token(api.VideoGrants(room_admin=True, room=name))
        async with api.LiveKitAPI(HTTP_URL, token=admin_only) as adm:
            await expect_server_error(adm.room.list_rooms(api.ListRoomsRequest()), "unauthenticated", 401,
                                      "ListRooms without roomList")
            await expect_server_error(adm.room.create_room(api.CreateRoomRequest(name=unique_room("rs-nocreate"))),
                                      "unauthenticated", 401, "CreateRoom without roomCreate")
            # control: the admin token for this room does list its participants
            ps = await adm.room.list_participants(api.ListParticipantsRequest(room=name))
            assert [p.identity for p in ps.participants] == [A]
        assert a.isconnected(), "A was removed by a refused RemoveParticipant"
    finally:
        await disconnect_all(a)


async def test_no_auto_create():
    async with XcordServer("noauto", ["--no-auto-create"]) as srv:
        name = unique_room("rs-noauto")
        a = b = None
        async with api.LiveKitAPI(srv.http_url, API_KEY, API_SECRET) as lk:
            try:
                token = make_token(A, name)
                async with aiohttp.ClientSession() as s:
                    async with s.get(f"{srv.http_url}/rtc/validate", params={"access_token": token}) as r:
                        status, body = r.status, await r.text()
                assert status == 404 and "requested room does not exist" in body, f"/rtc/validate: {status} {body!r}"

                a = rtc.Room()
                with pytest.raises(rtc.ConnectError) as err:
                    await asyncio.wait_for(a.connect(srv.url, token), 40)
                print(f"join of an uncreated room refused: {err.value.message}")
                assert not a.isconnected()
                assert "404" in err.value.message or "does not exist" in err.value.message, err.value.message
                assert await room_info(lk, name) is None, "the refused join created the room"

                await lk.room.create_room(api.CreateRoomRequest(name=name))
                b = await enter(B, name, url=srv.url)
                ps = await participants(lk, name)
                assert set(ps) == {B}, f"participants after the join: {sorted(ps)}"
                # the default server (auto-create) is not affected by the flag
                status, body = await asyncio.to_thread(_validate, HTTP_URL, make_token(A, unique_room("rs-auto")))
                assert status == 200, f"default server /rtc/validate: {status} {body!r}"
            finally:
                await disconnect_all(a, b)


def _validate(base: str, token: str) -> tuple[int, str]:
    import urllib.error
    import urllib.parse
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base}/rtc/validate?" + urllib.parse.urlencode({"access_token": token}), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def test_max_participants(lk):
    name = unique_room("rs-max")
    a = b = None
    try:
        created = await lk.room.create_room(api.CreateRoomRequest(name=name, max_participants=1))
        assert created.max_participants == 1
        a = rtc.Room()
        joined = EventWaiter(a, "participant_connected")
        await enter(A, name, room=a)
        b = rtc.Room()
        with pytest.raises(rtc.ConnectError) as err:
            await asyncio.wait_for(b.connect(URL, make_token(B, name)), 40)
        print(f"second join refused: {err.value.message}")
        assert not b.isconnected()
        await asyncio.sleep(0.5)
        assert not joined.seen, f"A saw somebody join a full room: {joined.seen!r}"
        assert set(await participants(lk, name)) == {A}

        # once A has left there is room again
        await a.disconnect()
        await eventually(lambda: _filtered(participants(lk, name), lambda d: not d), "A to be gone")
        b = await enter(B, name)
        assert set(await participants(lk, name)) == {B}
    finally:
        await disconnect_all(a, b)
