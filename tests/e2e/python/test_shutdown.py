"""Graceful shutdown: on SIGTERM the server tells its participants (LeaveRequest SERVER_SHUTDOWN
asking them to reconnect), closes their connections and exits promptly."""

from __future__ import annotations

import asyncio
import contextlib
import time

from livekit import rtc

from lkutil import EventWaiter, make_token, unique_room
from xcord_server import XcordServer


async def test_sigterm_disconnects_participants_and_exits():
    server = XcordServer("shutdown")
    room = rtc.Room()
    try:
        server.start()
        await server.wait_ready()
        trouble = [EventWaiter(room, "reconnecting"), EventWaiter(room, "disconnected")]
        await asyncio.wait_for(room.connect(server.url, make_token("alice", unique_room("bye"))), 30)
        assert not any(w.seen for w in trouble)
        started = time.monotonic()
        assert server.proc is not None
        server.proc.terminate()
        code = await asyncio.get_running_loop().run_in_executor(None, server.proc.wait, 10)
        took = time.monotonic() - started
        print(f"server exited with {code} after {took:.2f}s")
        assert code == 0, f"server exited with {code}"
        assert took < 5, f"shutdown took {took:.1f}s"
        deadline = time.monotonic() + 5
        while not any(w.seen for w in trouble) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert any(w.seen for w in trouble), "the participant was not told the server went away"
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(room.disconnect(), 5)
        server.stop()
