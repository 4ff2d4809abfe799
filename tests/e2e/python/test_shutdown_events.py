"""SIGTERM during activity loses no media event: `xcord serve` tells its participants to go,
and before it exits every event the SFU emitted for them (their leaves, the room's end) is stored
in the control plane's inbox and applied, so no voice state outlives the process.

Runs `xcord serve` (control plane + embedded SFU on SQLite) as its own process in the test
namespace and reads its database after it exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import stat
from pathlib import Path

import aiohttp
from livekit import rtc

from test_control_voice import Api, Gateway, community_with_voice, join_voice
from xcord_server import XcordServer


async def test_sigterm_during_activity_stores_every_media_event():
    server = XcordServer("shutdown-events", [], command=["serve", "--dev"])
    log_path = server.log_path.with_suffix(".events.jsonl")
    server.extra_args = ["--media-event-log", str(log_path)]
    rooms: list[rtc.Room] = []
    try:
        server.start()
        await server.wait_ready()
        async with aiohttp.ClientSession() as http:
            api = Api(http, server.http_url)
            users = [await api.register(h) for h in ("sd_owner", "sd_bob", "sd_carol")]
            _, channel = await community_with_voice(api, users[0][0], [t for t, _ in users[1:]])
            gateway = await Gateway(http, server.http_url, users[0][0]).start()
            for token, _ in users:
                rooms.append(await join_voice(api, token, channel))
            for _, user_id in users:
                await gateway.wait_voice(user_id, channel, 15)
            await gateway.close()

        assert server.proc is not None
        datadir = Path(server._datadir or "")
        # The data stays its owner's: the directory 0700, the database and its journal 0600.
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in datadir.iterdir()}
        assert modes.get("xcord.db") == 0o600, modes
        assert all(m & 0o077 == 0 for m in modes.values()), {n: oct(m) for n, m in modes.items()}
        server.proc.terminate()
        code = await asyncio.get_running_loop().run_in_executor(None, server.proc.wait, 15)
        assert code == 0, f"server exited with {code}\n{server.log_tail()}"

        db = sqlite3.connect(datadir / "xcord.db")
        inbox = db.execute("SELECT event_id, event, payload, processed FROM media_event_inbox").fetchall()
        voice_left = db.execute("SELECT COUNT(*) FROM voice_states").fetchone()[0]
        db.close()

        stored = {row[0]: row for row in inbox}
        unprocessed = [row[:2] for row in inbox if not row[3]]
        assert not unprocessed, f"events stored but never applied: {unprocessed}"
        joined = {json.loads(r[2])["participant"]["sid"] for r in inbox if r[1] == "participant_joined"}
        gone = {
            json.loads(r[2])["participant"]["sid"]
            for r in inbox
            if r[1] in ("participant_left", "participant_connection_aborted")
        }
        assert len(joined) == 3, f"expected three joins, inbox has {sorted(r[1] for r in inbox)}"
        assert joined <= gone, f"participants whose leave was lost at shutdown: {joined - gone}"
        assert any(r[1] == "room_finished" for r in inbox), "the room's end was lost at shutdown"
        assert voice_left == 0, f"{voice_left} voice states outlived the server"

        # Everything the handler saw is in the inbox (the log is written by the same handler,
        # before the inbox: nothing it logged may be missing there).
        logged = [json.loads(line)["id"] for line in log_path.read_text().splitlines() if line.strip()]
        assert logged, "the media event log is empty"
        missing = [i for i in logged if i not in stored]
        assert not missing, f"logged but not stored: {missing}"
    finally:
        for room in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(room.disconnect(), 5)
        server.stop()
