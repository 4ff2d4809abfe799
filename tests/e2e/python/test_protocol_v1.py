"""LiveKit signal protocol v1 (`/rtc/v1`, one peer connection) with the Python SDK.

The Python SDK (`livekit` 1.2, LiveKit's Rust SDK inside) tries `/rtc/v1` first and falls back
to `/rtc` only on a 404. Which path each join used is read from the server's log: every admitted
join logs `participant joined over signal` with `protocol="v1"` or `"v0"` and the identity.

- v1 on (the default): a listener and four tone publishers all join over v1 (no fallback); the
  listener hears each publisher's own frequency. The listener joins first, so the first three
  tracks go onto the receive sections of its first offer only after a re-offer the server asks
  for, and the fourth needs a section the server asks the client to add
  (MediaSectionsRequirement).
- a listener joining a room whose tone is already published receives it on the sections of the
  offer carried in its join request.
- a listener follows an unpublish (its section goes inactive) and then hears the speaker's new
  track on another section.
- v1 off (`--no-signal-v1`): `/rtc/v1` answers 404, the same clients fall back to v0 and work.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from livekit import rtc

from lkutil import (
    EventWaiter,
    Publisher,
    collect_audio,
    disconnect_all,
    dominant_frequency,
    make_token,
    unique_room,
)
from xcord_server import XcordServer

JOIN_LINE = re.compile(
    r'participant joined over signal.*?protocol="?(v[01])"?.*?identity="?([^\s"]+)"?'
)


def joins_by_identity(log: str) -> dict[str, list[str]]:
    """identity → the protocols of its joins, in order, from the server log."""
    out: dict[str, list[str]] = {}
    for m in JOIN_LINE.finditer(log):
        out.setdefault(m.group(2), []).append(m.group(1))
    return out


async def connect_to(srv: XcordServer, identity: str, room_name: str, room: rtc.Room | None = None) -> rtc.Room:
    room = room or rtc.Room()
    token = make_token(identity, room_name)
    await asyncio.wait_for(room.connect(srv.url, token), 30)
    return room


async def wait_track(waiter: EventWaiter, identity: str, timeout: float = 20.0) -> rtc.Track:
    args = await waiter.wait(lambda track, pub, participant: participant.identity == identity, timeout=timeout)
    return args[0]


async def hear(track: rtc.Track, freq: float, others: tuple[float, ...] = ()) -> None:
    """The track carries the tone `freq`: its dominant frequency is nearer to it than to any of
    `others` (the other publishers' tones, 110 Hz apart) and within a quarter of that spacing.
    (On the loaded 2-core machine the receiver's jitter buffer stretches audio while it settles,
    which moved a measured 660 Hz peak to 677 Hz once; which tone arrives is what is tested.)"""
    samples = await collect_audio(track, seconds=1.0, skip_seconds=1.0, timeout=20)
    got = dominant_frequency(samples)
    nearest = min((freq, *others), key=lambda f: abs(f - got))
    assert nearest == freq and abs(got - freq) < 27.5, f"expected {freq} Hz, heard {got:.1f} Hz"


@pytest.mark.asyncio
async def test_python_joins_over_v1_and_gets_more_sections_when_needed() -> None:
    room_name = unique_room("v1-py")
    freqs = {"pub-a": 330.0, "pub-b": 440.0, "pub-c": 550.0, "pub-d": 660.0}
    listener = rtc.Room()
    waiter = EventWaiter(listener, "track_subscribed")
    pubs: list[tuple[rtc.Room, Publisher]] = []
    async with XcordServer("v1-on") as srv:
        try:
            await connect_to(srv, "listener", room_name, listener)
            for identity, freq in freqs.items():
                room = await connect_to(srv, identity, room_name)
                publisher = Publisher(room)
                pubs.append((room, publisher))
                await publisher.publish_tone(freq)
            tracks = {identity: await wait_track(waiter, identity) for identity in freqs}
            for identity, track in tracks.items():
                others = tuple(f for i, f in freqs.items() if i != identity)
                await hear(track, freqs[identity], others)
        finally:
            for room, publisher in pubs:
                await publisher.stop()
            await disconnect_all(listener, *(r for r, _ in pubs))
        joins = joins_by_identity(srv.log_text())
    for identity in ["listener", *freqs]:
        assert joins.get(identity) == ["v1"], f"{identity} joined over {joins.get(identity)}"


@pytest.mark.asyncio
async def test_python_v1_listener_gets_existing_tracks_with_its_join() -> None:
    room_name = unique_room("v1-py-late")
    async with XcordServer("v1-late") as srv:
        speaker = await connect_to(srv, "speaker", room_name)
        publisher = Publisher(speaker)
        listener = rtc.Room()
        waiter = EventWaiter(listener, "track_subscribed")
        try:
            await publisher.publish_tone(500.0)
            await connect_to(srv, "late-listener", room_name, listener)
            track = await wait_track(waiter, "speaker")
            await hear(track, 500.0)
        finally:
            await publisher.stop()
            await disconnect_all(listener, speaker)
        joins = joins_by_identity(srv.log_text())
    assert joins.get("speaker") == ["v1"] and joins.get("late-listener") == ["v1"], joins


async def inbound_mid(track: rtc.Track) -> str:
    """The mid of the receive section (m-line) the track arrives on, from its inbound-rtp stats."""
    for _ in range(40):
        mids = [s.inbound_rtp.inbound.mid for s in await track.get_stats() if s.HasField("inbound_rtp")]
        if mids and mids[0]:
            return mids[0]
        await asyncio.sleep(0.25)
    raise AssertionError("no inbound-rtp stats with a mid")


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", ["v1", "v0"])
async def test_python_listener_follows_republished_tracks_on_reused_sections(protocol: str) -> None:
    """A speaker republishes its microphone five times (a new track each time). The Python
    listener (libwebrtc under the Rust SDK) hears every new track, and the sections of ended
    subscriptions carry later tracks (on v1 a released section is answered inactive once, then
    it is free; on v0 the server's offer makes the line inactive, then reuses it with a new
    SSRC), so the listener's SDP does not grow by a section per track."""
    room_name = unique_room(f"{protocol}-py-republish")
    args = ["--no-signal-v1"] if protocol == "v0" else []
    tones = [330.0, 440.0, 550.0, 660.0, 770.0]
    async with XcordServer(f"{protocol}-republish", args) as srv:
        listener = rtc.Room()
        subscribed = EventWaiter(listener, "track_subscribed")
        unsubscribed = EventWaiter(listener, "track_unsubscribed")
        speaker = None
        publisher = None
        mids: list[str] = []
        try:
            await connect_to(srv, "listener", room_name, listener)
            speaker = await connect_to(srv, "speaker", room_name)
            publisher = Publisher(speaker)
            for i, freq in enumerate(tones):
                pub = await publisher.publish_tone(freq)
                args_ = await subscribed.wait(lambda track, p, participant: p.sid == pub.sid, timeout=20)
                others = tuple(t for t in tones if t != freq)
                await hear(args_[0], freq, others)
                mids.append(await inbound_mid(args_[0]))
                if i + 1 < len(tones):
                    await speaker.local_participant.unpublish_track(pub.sid)
                    await unsubscribed.wait(lambda track, p, participant: p.sid == pub.sid, timeout=15)
                    await publisher.stop()
        finally:
            if publisher:
                await publisher.stop()
            await disconnect_all(listener, speaker)
        joins = joins_by_identity(srv.log_text())
    assert joins.get("listener") == [protocol] and joins.get("speaker") == [protocol], joins
    assert len(set(mids)) < len(mids), f"each track on a new section: {mids}"


@pytest.mark.asyncio
async def test_python_falls_back_to_v0_when_v1_is_off() -> None:
    room_name = unique_room("v0-py")
    async with XcordServer("v1-off", ["--no-signal-v1"]) as srv:
        listener = rtc.Room()
        waiter = EventWaiter(listener, "track_subscribed")
        speaker = None
        publisher = None
        try:
            await connect_to(srv, "listener", room_name, listener)
            speaker = await connect_to(srv, "speaker", room_name)
            publisher = Publisher(speaker)
            await publisher.publish_tone(440.0)
            track = await wait_track(waiter, "speaker")
            await hear(track, 440.0)
        finally:
            if publisher:
                await publisher.stop()
            await disconnect_all(listener, speaker)
        joins = joins_by_identity(srv.log_text())
    assert joins.get("listener") == ["v0"] and joins.get("speaker") == ["v0"], joins
