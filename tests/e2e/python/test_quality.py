"""Connection quality: the SFU scores each participant's connection from the loss and round trip
its peer connections measure and tells the room when the band changes. On a clean link everyone
is EXCELLENT; with 15 % loss on one subscriber's leg (nftables in the test namespace drops the
datagrams the SFU sends to that subscriber's port) that subscriber drops to POOR, and it
recovers when the loss stops."""

from __future__ import annotations

import asyncio
import subprocess
import time

from livekit import rtc

from lkutil import EventWaiter, Publisher, connect, disconnect_all, unique_room

TABLE = "xcord_e2e_quality"
# The default server's media ports: 7882 and one more per media shard (up to 8 shards).
MEDIA_PORTS = "7882-7889"


def nft(*args: str) -> None:
    subprocess.run(["nft", *args], check=True, capture_output=True)


def drop_to(port: int, percent: int) -> None:
    nft("add", "table", "inet", TABLE)
    nft("add", "chain", "inet", TABLE, "out", "{ type filter hook output priority 0; }")
    nft(
        "add", "rule", "inet", TABLE, "out",
        "udp", "sport", MEDIA_PORTS, "udp", "dport", str(port),
        "numgen", "random", "mod", "100", "<", str(percent), "drop",
    )


def stop_dropping() -> None:
    subprocess.run(["nft", "delete", "table", "inet", TABLE], capture_output=True)


async def subscriber_port(room: rtc.Room) -> int:
    """The local UDP port of the connection that brings the room's media to this participant (its
    selected candidate pair): the subscriber connection in protocol v0, the one connection in v1
    (the SDK reports it as the publisher's)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        all_stats = await room.get_rtc_stats()
        for stats in (all_stats.subscriber_stats, all_stats.publisher_stats):
            pairs = [s.candidate_pair.candidate_pair for s in stats if s.WhichOneof("stats") == "candidate_pair"]
            local = {s.local_candidate.rtc.id: s.local_candidate.candidate for s in stats if s.WhichOneof("stats") == "local_candidate"}
            nominated = [local[p.local_candidate_id].port for p in pairs if p.nominated and p.local_candidate_id in local]
            if nominated:
                return nominated[0]
        await asyncio.sleep(0.2)
    raise AssertionError("no nominated candidate pair on the connection carrying the subscriptions")


def latest(waiter: EventWaiter, identity: str):
    found = waiter.matching(lambda part, q: part.identity == identity)
    return found[-1][1] if found else None


async def test_quality_is_reported_and_follows_loss_on_a_subscriber_leg():
    name = unique_room("quality")
    alice = bob = None
    pub = None
    stop_dropping()
    try:
        alice = await connect("alice", name)
        seen = EventWaiter(alice, "connection_quality_changed")
        bob = await connect("bob", name)
        pub = Publisher(alice)
        await pub.publish_tone()
        await seen.wait(lambda part, q: part.identity == "bob" and q == rtc.ConnectionQuality.QUALITY_EXCELLENT, timeout=10)

        port = await subscriber_port(bob)
        drop_to(port, 15)
        start = time.monotonic()
        await seen.wait(lambda part, q: part.identity == "bob" and q == rtc.ConnectionQuality.QUALITY_POOR, timeout=20)
        print(f"bob POOR {time.monotonic() - start:.1f} s after 15 % loss began")
        assert latest(seen, "alice") == rtc.ConnectionQuality.QUALITY_EXCELLENT, "the lossless publisher was marked down too"

        stop_dropping()
        start = time.monotonic()
        while latest(seen, "bob") != rtc.ConnectionQuality.QUALITY_EXCELLENT:
            assert time.monotonic() - start < 25, f"bob still {latest(seen, 'bob')} 25 s after the loss stopped"
            await asyncio.sleep(0.1)
        print(f"bob EXCELLENT again {time.monotonic() - start:.1f} s after the loss stopped")
    finally:
        stop_dropping()
        if pub:
            await pub.stop()
        await disconnect_all(alice, bob)
