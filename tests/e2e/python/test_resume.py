"""Resume: a subscriber whose network disappears for 5 s — its media datagrams dropped, its
signal connection reset, new connections refused — comes back by resuming (the SDK's
`reconnected`, not a rejoin): the same participant sid, nobody sees it leave, the server logs
the resume, and it hears the publisher's tone again."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from urllib.parse import urlparse

from livekit import rtc

from lkutil import URL, AudioMonitor, EventWaiter, Publisher, connect, disconnect_all, unique_room
from test_quality import subscriber_port

TABLE = "xcord_e2e_resume"
SERVER = urlparse(URL)
OUTAGE_S = 5.0


def nft(*args: str) -> None:
    subprocess.run(["nft", *args], check=True, capture_output=True)


def signal_ports() -> set[int]:
    """Local ports of this process's established TCP connections to the server."""
    out = subprocess.run(
        ["ss", "-tnH", "state", "established", "dst", f"{SERVER.hostname}:{SERVER.port}"],
        check=True, capture_output=True, text=True,
    ).stdout
    return {int(line.split()[2].rsplit(":", 1)[1]) for line in out.splitlines() if line.strip()}


def cut_off(ws_port: int, media_port: int) -> None:
    """The client's network goes away: media dropped both ways, its signal connection reset,
    and no new connection to the server accepted."""
    nft("add", "table", "inet", TABLE)
    for hook in ("input", "output"):
        nft("add", "chain", "inet", TABLE, hook, f"{{ type filter hook {hook} priority 0; }}")
        # The resets the rules below send must get through, or neither side notices.
        nft("add", "rule", "inet", TABLE, hook, "tcp", "flags", "&", "rst", "==", "rst", "accept")
        for direction in ("sport", "dport"):
            nft("add", "rule", "inet", TABLE, hook, "udp", direction, str(media_port), "drop")
            nft("add", "rule", "inet", TABLE, hook, "tcp", direction, str(ws_port), "reject", "with", "tcp", "reset")
        nft("add", "rule", "inet", TABLE, hook, "tcp", "dport", str(SERVER.port), "ct", "state", "new", "drop")


def restore() -> None:
    subprocess.run(["nft", "delete", "table", "inet", TABLE], capture_output=True)


def server_log() -> str:
    path = os.path.join(os.environ.get("E2E_OUT", "."), "server.log")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


async def test_a_subscriber_resumes_after_five_seconds_offline():
    name = unique_room("resume")
    alice = bob = None
    pub = monitor = None
    restore()
    try:
        alice = await connect("alice", name)
        left = EventWaiter(alice, "participant_disconnected")
        pub = Publisher(alice)
        await pub.publish_tone()

        before = signal_ports()
        bob = await connect("bob", name)
        ws = signal_ports() - before
        assert len(ws) == 1, f"bob's signal connection: {ws}"
        reconnecting = EventWaiter(bob, "reconnecting")
        reconnected = EventWaiter(bob, "reconnected")
        subscribed = EventWaiter(bob, "track_subscribed")
        # Over v1 the existing track can arrive with the join itself, before any waiter.
        present = [
            pub.track
            for part in bob.remote_participants.values()
            for pub in part.track_publications.values()
            if pub.track is not None
        ]
        track = present[0] if present else (await subscribed.wait(timeout=15))[0]
        monitor = AudioMonitor(track)
        t0 = time.monotonic()
        while monitor.audible(t0) < 10:
            assert time.monotonic() - t0 < 10, "bob never heard the tone"
            await asyncio.sleep(0.1)
        sid = bob.local_participant.sid
        media = await subscriber_port(bob)

        ws_port = ws.pop()
        print(f"cutting bob off: signal port {ws_port}, media port {media}")
        cut_off(ws_port, media)
        await asyncio.sleep(OUTAGE_S)
        restore()
        back = time.monotonic()

        # The SDK notices on its next ping (every 5 s) or when ICE fails.
        await reconnecting.wait(timeout=20)
        await reconnected.wait(timeout=30)
        print(f"resumed {time.monotonic() - back:.1f} s after the network came back")
        while monitor.audible(back) < 25:
            assert time.monotonic() - back < 20, "bob does not hear the tone after the resume"
            await asyncio.sleep(0.1)
        print(f"audible again {time.monotonic() - back:.1f} s after the network came back")

        assert bob.local_participant.sid == sid, "same participant, not a rejoin"
        assert not left.matching(lambda p: p.identity == "bob"), "alice saw bob leave"
        assert "bob" in {p.identity for p in alice.remote_participants.values()}
        log = server_log()
        assert f"participant={sid}" in log and "participant resumed" in log, "the server resumed bob"
    finally:
        restore()
        if monitor:
            await monitor.close()
        if pub:
            await pub.stop()
        await disconnect_all(alice, bob)
