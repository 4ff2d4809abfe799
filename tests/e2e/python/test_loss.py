"""Loss on the SFU → subscriber leg: the SFU answers the subscriber's NACKs from its own packet
cache (the publisher's leg is lossless, so retransmissions can only come from the SFU), and video
keeps decoding at the published size.

The loss is made with nftables inside the test namespace: a random 5 % of the UDP datagrams the
server sends from its media ports (every shard's) are dropped.
"""

from __future__ import annotations

import asyncio
import subprocess

from livekit import rtc

from lkutil import VIDEO_H, VIDEO_W, EventWaiter, Publisher, collect_video_sizes, connect, disconnect_all, join, unique_room

TABLE = "xcord_e2e_loss"


# The default server's media ports: 7882 and one more per media shard (up to 8 shards).
MEDIA_PORTS = "7882-7889"


def nft(*args: str) -> None:
    subprocess.run(["nft", *args], check=True, capture_output=True)


def add_loss(percent: int) -> None:
    nft("add", "table", "inet", TABLE)
    nft("add", "chain", "inet", TABLE, "out", "{ type filter hook output priority 0; }")
    nft("add", "rule", "inet", TABLE, "out", "udp", "sport", MEDIA_PORTS, "numgen", "random", "mod", "100", "<", str(percent), "drop")


def remove_loss() -> None:
    subprocess.run(["nft", "delete", "table", "inet", TABLE], capture_output=True)


async def inbound_video(track: rtc.Track):
    for s in await track.get_stats():
        if s.WhichOneof("stats") == "inbound_rtp":
            return s.inbound_rtp
    return None


async def test_nacks_are_answered_from_the_sfu_cache_under_loss():
    room_name = unique_room("loss")
    a = b = None
    pub = None
    try:
        a = await connect("alice", room_name)
        b = rtc.Room()
        subs = EventWaiter(b, "track_subscribed")
        await join(b, "bob", room_name)
        pub = Publisher(a)
        await pub.publish_video()
        track, _, _ = await subs.wait(lambda t, p, part: t.kind == rtc.TrackKind.KIND_VIDEO, timeout=20)
        await collect_video_sizes(track, (VIDEO_W, VIDEO_H), timeout=15)

        add_loss(5)
        try:
            before = await inbound_video(track)
            await asyncio.sleep(6)
            after = await inbound_video(track)
            sizes = await collect_video_sizes(track, (VIDEO_W, VIDEO_H), timeout=15)
        finally:
            remove_loss()
        assert before is not None and after is not None, "no inbound-rtp stats for the video track"
        nacks = after.inbound.nack_count - before.inbound.nack_count
        rtx = after.inbound.retransmitted_packets_received - before.inbound.retransmitted_packets_received
        decoded = after.inbound.frames_decoded - before.inbound.frames_decoded
        print(f"under 5% loss for 6 s: {nacks} NACKs sent, {rtx} retransmissions received, {decoded} frames decoded")
        assert nacks > 0, "the subscriber sent no NACKs: was any loss applied?"
        assert rtx > 0, "no retransmission reached the subscriber: the SFU did not answer NACKs"
        assert decoded > 60, f"video stalled under loss: only {decoded} frames decoded in 6 s"
        assert (VIDEO_W, VIDEO_H) in sizes, f"no full-size frame under loss: {sizes}"
    finally:
        if pub:
            await pub.stop()
        await disconnect_all(a, b)
