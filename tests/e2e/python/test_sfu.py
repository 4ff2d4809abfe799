"""xcord SFU against the official Python `livekit` SDK: three participants A, B, C in one room.

Each test uses a fresh room. A publishes; B and C receive. Every check below can fail: audio must
carry a 440 Hz tone (FFT), video must decode at the published size, data must arrive with the
right sender and must not reach a participant it was not addressed to, and so on.
"""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc

from lkutil import (
    TONE_HZ,
    VIDEO_H,
    VIDEO_W,
    EventWaiter,
    Publisher,
    collect_audio,
    collect_video_sizes,
    connect,
    disconnect_all,
    dominant_frequency,
    join,
    rms,
    unique_room,
)

A, B, C = "alice", "bob", "carol"


def _from_a_kind(kind):
    return lambda track, pub, participant: participant.identity == A and track.kind == kind


async def test_audio_and_video_reach_both_subscribers():
    room_name = unique_room("media")
    a = b = c = None
    pub = None
    try:
        a = await connect(A, room_name)
        pub = Publisher(a)
        # audio is published before B and C join (they get it with the join) ...
        await pub.publish_tone()

        b, c = rtc.Room(), rtc.Room()
        subs = {name: EventWaiter(r, "track_subscribed") for name, r in ((B, b), (C, c))}
        await asyncio.gather(join(b, B, room_name), join(c, C, room_name))

        # ... video is published while they are in the room
        await pub.publish_video()

        async def check(name: str) -> dict:
            w = subs[name]
            atrack, _, _ = await w.wait(_from_a_kind(rtc.TrackKind.KIND_AUDIO), timeout=20)
            vtrack, _, _ = await w.wait(_from_a_kind(rtc.TrackKind.KIND_VIDEO), timeout=20)
            samples, sizes = await asyncio.gather(
                collect_audio(atrack, seconds=1.0, skip_seconds=0.5, timeout=20),
                collect_video_sizes(vtrack, (VIDEO_W, VIDEO_H), timeout=15),
            )
            return {"freq": dominant_frequency(samples), "rms": rms(samples), "sizes": sizes}

        results = dict(zip((B, C), await asyncio.gather(check(B), check(C))))
        for name, r in results.items():
            print(f"{name}: dominant {r['freq']:.1f} Hz, rms {r['rms']:.0f}, video sizes {r['sizes']}")
        for name, r in results.items():
            assert r["rms"] > 300, f"{name}: received audio is (near) silent, rms={r['rms']:.0f}"
            assert abs(r["freq"] - TONE_HZ) <= 3.0, (
                f"{name}: dominant frequency {r['freq']:.1f} Hz, expected {TONE_HZ} Hz"
            )
            assert r["sizes"], f"{name}: no decoded video frame within 15 s"
            assert (VIDEO_W, VIDEO_H) in r["sizes"], (
                f"{name}: never received full-size {VIDEO_W}x{VIDEO_H} frames, sizes seen {r['sizes']}"
            )
    finally:
        if pub:
            await pub.stop()
        await disconnect_all(a, b, c)


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_video_codecs_are_forwarded(codec):
    """A publishes video in the given codec; B decodes frames of the published size and the
    publication reports that codec."""
    room_name = unique_room(f"codec-{codec.lower()}")
    a = b = None
    pub = None
    try:
        a = await connect(A, room_name)
        b = rtc.Room()
        subs = EventWaiter(b, "track_subscribed")
        await join(b, B, room_name)
        pub = Publisher(a)
        await pub.publish_video(codec=getattr(rtc.VideoCodec, codec))
        track, publication, _ = await subs.wait(_from_a_kind(rtc.TrackKind.KIND_VIDEO), timeout=20)
        sizes = await collect_video_sizes(track, (VIDEO_W, VIDEO_H), timeout=15)
        # what B's peer connection actually receives, from its own WebRTC stats
        received = sorted(
            {s.codec.codec.mime_type for s in await track.get_stats() if s.WhichOneof("stats") == "codec"}
        )
        print(f"{codec}: publication {publication.mime_type!r}, received {received}, sizes {sizes}")
        assert publication.mime_type.lower() == f"video/{codec.lower()}", publication.mime_type
        assert [m.lower() for m in received] == [f"video/{codec.lower()}"], f"B receives {received}"
        assert (VIDEO_W, VIDEO_H) in sizes, f"{codec}: no full-size frame decoded, sizes seen {sizes}"
    finally:
        if pub:
            await pub.stop()
        await disconnect_all(a, b)


async def test_data_packets_broadcast_and_addressed():
    room_name = unique_room("data")
    a = b = c = None
    try:
        a = await connect(A, room_name)
        b, c = rtc.Room(), rtc.Room()
        got = {B: EventWaiter(b, "data_received"), C: EventWaiter(c, "data_received")}
        await asyncio.gather(join(b, B, room_name), join(c, C, room_name))

        def pkt(topic: str, payload: bytes, kind):
            return lambda p: (
                p.topic == topic
                and p.data == payload
                and p.kind == kind
                and p.participant is not None
                and p.participant.identity == A
            )

        rel, lossy = rtc.DataPacketKind.KIND_RELIABLE, rtc.DataPacketKind.KIND_LOSSY

        # reliable broadcast
        await a.local_participant.publish_data(b"hello-reliable", reliable=True, topic="e2e-reliable")
        for name in (B, C):
            await got[name].wait(pkt("e2e-reliable", b"hello-reliable", rel), timeout=15)

        # lossy broadcast (the publisher's data channels are open now, and the link is lossless)
        await a.local_participant.publish_data(b"hello-lossy", reliable=False, topic="e2e-lossy")
        for name in (B, C):
            await got[name].wait(pkt("e2e-lossy", b"hello-lossy", lossy), timeout=10)

        # addressed to C only, followed by a reliable broadcast "fence": the reliable channel is
        # ordered, so once B has the fence, an (incorrectly) forwarded addressed packet would
        # already have arrived at B.
        await a.local_participant.publish_data(
            b"only-for-carol", reliable=True, topic="e2e-direct", destination_identities=[C]
        )
        await a.local_participant.publish_data(b"fence", reliable=True, topic="e2e-fence")
        await got[C].wait(pkt("e2e-direct", b"only-for-carol", rel), timeout=10)
        for name in (B, C):
            await got[name].wait(pkt("e2e-fence", b"fence", rel), timeout=10)
        await asyncio.sleep(1.5)
        leaked = got[B].matching(lambda p: p.topic == "e2e-direct")
        assert not leaked, f"{B} received a packet addressed only to {C}: {leaked!r}"
        # nobody gets duplicates
        for name in (B, C):
            n = len(got[name].matching(lambda p: p.topic == "e2e-reliable"))
            assert n == 1, f"{name} received the reliable packet {n} times"
    finally:
        await disconnect_all(a, b, c)


async def test_mute_and_unmute_are_seen_by_others():
    room_name = unique_room("mute")
    a = b = None
    pub = None
    try:
        a = await connect(A, room_name)
        pub = Publisher(a)
        apub = await pub.publish_tone()
        b = rtc.Room()
        subscribed = EventWaiter(b, "track_subscribed")
        muted = EventWaiter(b, "track_muted")
        unmuted = EventWaiter(b, "track_unmuted")
        await join(b, B, room_name)
        await subscribed.wait(_from_a_kind(rtc.TrackKind.KIND_AUDIO), timeout=20)

        def is_a_audio(participant, publication):
            return participant.identity == A and publication.sid == apub.sid

        assert not muted.matching(is_a_audio), "track_muted seen before A muted"
        pub.audio_track.mute()
        _, publication = await muted.wait(is_a_audio, timeout=10)
        assert publication.muted, "B's publication of A's audio is not marked muted"

        pub.audio_track.unmute()
        _, publication = await unmuted.wait(is_a_audio, timeout=10)
        assert not publication.muted, "B's publication of A's audio is still marked muted"
    finally:
        if pub:
            await pub.stop()
        await disconnect_all(a, b)


async def test_disconnect_is_seen_by_others():
    room_name = unique_room("leave")
    a = b = c = None
    try:
        a = await connect(A, room_name)
        b, c = rtc.Room(), rtc.Room()
        gone = {B: EventWaiter(b, "participant_disconnected"), C: EventWaiter(c, "participant_disconnected")}
        await join(b, B, room_name)
        await join(c, C, room_name)
        # membership: everybody sees the others
        for name, r, others in ((B, b, {A, C}), (C, c, {A, B})):
            for _ in range(50):
                if others <= set(r.remote_participants):
                    break
                await asyncio.sleep(0.1)
            assert others <= set(r.remote_participants), (
                f"{name} sees {sorted(r.remote_participants)}, expected {sorted(others)}"
            )
        assert not gone[B].seen and not gone[C].seen, "participant_disconnected before anyone left"

        await a.disconnect()
        for name, r in ((B, b), (C, c)):
            await gone[name].wait(lambda p: p.identity == A, timeout=10)
            assert A not in r.remote_participants, f"{name} still lists {A} after the disconnect"
        # the others are still there
        assert C in b.remote_participants and B in c.remote_participants
    finally:
        await disconnect_all(a, b, c)
