"""ICE over TCP with the Python SDK (LiveKit's Rust SDK, libwebrtc inside): on its own server
(TURN off, ICE-TCP on HTTP port + 1), every UDP datagram to or from the server's media port is
dropped with nftables, so the only way media can flow is the server's passive TCP candidate. A
speaker's tone must reach a listener at its pitch.
"""

from __future__ import annotations

import asyncio
import subprocess

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


def nft(*args: str) -> None:
    subprocess.run(["nft", *args], check=True, capture_output=True)


async def connect_to(srv: XcordServer, identity: str, room_name: str, room: rtc.Room | None = None) -> rtc.Room:
    room = room or rtc.Room()
    await asyncio.wait_for(room.connect(srv.url, make_token(identity, room_name)), 45)
    return room


@pytest.mark.asyncio
async def test_python_sdk_with_udp_blocked_connects_over_ice_tcp() -> None:
    room_name = unique_room("ice-tcp-py")
    async with XcordServer("ice-tcp-py") as srv:
        table = f"xcord_icetcp_py_{srv.port}"
        nft("add", "table", "inet", table)
        nft("add", "chain", "inet", table, "out", "{ type filter hook output priority 0; }")
        # Every media shard's UDP port.
        ports = f"{srv.udp_ports[0]}-{srv.udp_ports[-1]}"
        nft("add", "rule", "inet", table, "out", "udp", "dport", ports, "drop")
        nft("add", "rule", "inet", table, "out", "udp", "sport", ports, "drop")
        listener = rtc.Room()
        waiter = EventWaiter(listener, "track_subscribed")
        speaker = publisher = None
        try:
            await connect_to(srv, "listener", room_name, listener)
            speaker = await connect_to(srv, "speaker", room_name)
            publisher = Publisher(speaker)
            await publisher.publish_tone(440.0)
            track, _, _ = await waiter.wait(lambda t, p, part: part.identity == "speaker", timeout=30)
            samples = await collect_audio(track, seconds=1.0, skip_seconds=1.0, timeout=30)
            got = dominant_frequency(samples)
            assert abs(got - 440.0) < 27.5, f"expected 440 Hz over ICE-TCP, heard {got:.1f} Hz"
        finally:
            subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)
            if publisher:
                await publisher.stop()
            await disconnect_all(listener, speaker)
        log = srv.log_text()
    assert "participant active" in log, "no participant became active"
