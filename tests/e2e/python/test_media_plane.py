"""The control plane's MediaPlane boundary: `xcord serve` on its embedded SFU and `xcord serve
--livekit-url` pointed at a separate `xcord media` node (Twirp + signed webhooks) must see the same
sequence of media events for the same scenario.

Each configuration runs its own server processes inside the test namespace; the control plane
writes every event it receives to `--media-event-log`, which the test reads back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from pathlib import Path

from livekit import api, rtc

from lkutil import API_KEY, API_SECRET, Publisher, make_token, unique_room
from xcord_server import XcordServer



def read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def wait_for_event(path: Path, name: str, timeout: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = read_events(path)
        if any(e["event"] == name for e in events):
            return events
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {name} event within {timeout}s; got {[e['event'] for e in read_events(path)]}")


async def scenario(ws_url: str, http_url: str, events: Path) -> list[tuple[str, str, str]]:
    """Room created by the API, a participant joins, publishes, unpublishes, leaves, the room
    closes. Returns (event, participant identity, track source) in the order received."""
    room_name = unique_room("plane")
    lk = api.LiveKitAPI(http_url, API_KEY, API_SECRET)
    try:
        await lk.room.create_room(api.CreateRoomRequest(name=room_name, departure_timeout=1))
    finally:
        await lk.aclose()
    room = rtc.Room()
    pub = Publisher(room)
    try:
        await asyncio.wait_for(room.connect(ws_url, make_token("alice", room_name)), 30)
        publication = await pub.publish_tone()
        await wait_for_event(events, "track_published")
        await room.local_participant.unpublish_track(publication.sid)
        await wait_for_event(events, "track_unpublished")
    finally:
        await pub.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(room.disconnect(), 10)
    got = await wait_for_event(events, "room_finished")
    ids = [e["id"] for e in got]
    assert len(set(ids)) == len(ids), f"event ids are not unique: {ids}"
    for e in got:
        assert e["room"]["name"] == room_name, f"event for another room: {e}"
    return [
        (
            e["event"],
            (e.get("participant") or {}).get("identity", ""),
            (e.get("track") or {}).get("source", ""),
        )
        for e in got
    ]


EXPECTED = [
    ("room_started", "", ""),
    ("participant_joined", "alice", ""),
    ("track_published", "alice", "MICROPHONE"),
    ("track_unpublished", "alice", "MICROPHONE"),
    ("participant_left", "alice", ""),
    ("room_finished", "", ""),
]


async def test_embedded_and_remote_media_planes_deliver_the_same_events():
    workdir = Path(tempfile.mkdtemp(prefix="xcord-planes-"))
    embedded_log = workdir / "embedded.jsonl"
    remote_log = workdir / "remote.jsonl"
    embedded = XcordServer("serve-embedded", ["--media-event-log", str(embedded_log)], command=["serve", "--dev"])
    media = XcordServer("media-node", [])
    control = XcordServer("serve-remote", ["--media-event-log", str(remote_log)], command=["serve"])
    media.extra_args += ["--webhook-url", f"{control.http_url}/api/v1/webhooks/livekit"]
    control.extra_args += ["--livekit-url", media.url, "--livekit-key", API_KEY, "--livekit-secret", API_SECRET]
    async with embedded, media, control:
        seq_embedded = await scenario(embedded.url, embedded.http_url, embedded_log)
        seq_remote = await scenario(media.url, media.http_url, remote_log)
        print("embedded:", seq_embedded)
        print("remote:  ", seq_remote)
        assert seq_embedded == EXPECTED, f"embedded plane saw {seq_embedded}"
        assert seq_remote == seq_embedded, f"remote plane saw {seq_remote}, embedded saw {seq_embedded}"
