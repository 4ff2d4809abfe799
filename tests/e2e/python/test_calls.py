"""Calls and the global media session end to end, with the Python SDK as the media client: four
users, A and B each with a main window and an overlay connection on the gateway.

A calls B: both of B's connections ring; B accepts from the overlay; B's main connection (the
owner) is told to connect; A and B hear each other's tones. D calls B and nobody answers: D
gets `no_answer` after the ring timeout. C calls B: call waiting; B accepts C, leaves A's room,
A's call ends and A is told. B's overlay sends `set_mute`: C stops hearing B within a second.
B's main connection closes: the overlay becomes owner and is told to connect. A repeated
command id has no second effect; a stale epoch is refused. Each call left its system message.

Runs `xcord serve --ring-timeout 3` as its own process in the test namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import aiohttp
import pytest
from livekit import rtc

from lkutil import AudioMonitor, EventWaiter, Publisher, collect_audio, rms
from test_control_voice import Api, community_with_voice
from xcord_server import XcordServer

RING_TIMEOUT = 3


class Conn:
    """A gateway connection of one kind that heartbeats and keeps every event."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str, kind: str):
        self.http, self.url, self.token, self.kind = http, base.replace("http://", "ws://") + "/api/v1/gateway", token, kind
        self.events: list[dict] = []
        self.ready: dict = {}
        self.tasks: list[asyncio.Task] = []

    async def start(self) -> "Conn":
        self.ws = await self.http.ws_connect(self.url)
        hello = await self.ws.receive_json(timeout=5)
        assert hello["op"] == "hello"
        await self.ws.send_json({"op": "identify", "d": {"token": self.token, "kind": self.kind}})
        ready = await self.ws.receive_json(timeout=5)
        assert ready["op"] == "ready", ready
        self.ready = ready["d"]
        self.id = self.ready["sessionId"]
        self.tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._beat())]
        return self

    async def _read(self):
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                frame = msg.json()
                if frame.get("op") == "event":
                    self.events.append(frame)

    async def _beat(self):
        while True:
            await asyncio.sleep(5)
            await self.ws.send_json({"op": "heartbeat"})

    def seen(self, t: str, pred=lambda d: True) -> list[dict]:
        return [e["d"] for e in self.events if e["t"] == t and pred(e["d"])]

    async def wait(self, t: str, pred=lambda d: True, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.seen(t, pred)
            if found:
                return found[-1]
            await asyncio.sleep(0.02)
        raise AssertionError(f"{self.kind} {self.id[:6]}: no {t} within {timeout}s; got {[e['t'] for e in self.events]}")

    async def close(self):
        for t in self.tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()


def cid() -> str:
    return uuid.uuid4().hex


async def command(api: Api, token: str, body: dict, status: int = 200) -> dict:
    got, data = await api.call("POST", "/api/v1/media-session/commands", token, {"id": cid(), **body} if "id" not in body else body)
    assert got == status, f"{body}: {got} {data}"
    return data


def ringing(snapshot: dict) -> list[str]:
    return [c["callId"] for c in snapshot["incomingCalls"]]


async def connect_media(event: dict) -> rtc.Room:
    room = rtc.Room()
    await asyncio.wait_for(room.connect(event["url"], event["token"]), 30)
    return room


async def hears(room: rtc.Room, subs: EventWaiter, identity: str) -> float:
    track, _, _ = await subs.wait(lambda t, p, part: part.identity == identity, timeout=20)
    level = rms(await collect_audio(track, seconds=0.5, skip_seconds=0.3, timeout=20))
    return level


@pytest.fixture
async def calls_server():
    server = XcordServer("calls", ["--ring-timeout", str(RING_TIMEOUT)], command=["serve", "--dev"])
    async with server, aiohttp.ClientSession() as http:
        yield server, Api(http, server.http_url), http


async def test_calls_and_the_global_media_session(calls_server):
    server, api, http = calls_server
    users = {}
    for name in ("alice", "bob", "carol", "dave"):
        users[name] = await api.register(name)
    (a, a_id), (b, b_id), (c, c_id), (d, d_id) = users["alice"], users["bob"], users["carol"], users["dave"]
    # Direct conversations between people who share a community.
    await community_with_voice(api, b, [a, c, d])
    conv = {}
    for name, token in (("alice", a), ("carol", c), ("dave", d)):
        conv[name] = (await api.ok("POST", "/api/v1/conversations", token, {"userId": b_id}, status=201))["id"]
    conns: list[Conn] = []
    rooms: list[rtc.Room] = []
    pubs: list[Publisher] = []
    monitor = None

    async def conn(token: str, kind: str) -> Conn:
        x = await Conn(http, server.http_url, token, kind).start()
        conns.append(x)
        return x

    try:
        a_main, a_overlay = await conn(a, "main"), await conn(a, "overlay")
        b_main, b_overlay = await conn(b, "main"), await conn(b, "overlay")
        c_main, d_main = await conn(c, "main"), await conn(d, "main")
        assert b_overlay.ready["mediaSession"]["type"] == "idle"

        # A calls B: A's main connection connects; both of B's connections ring.
        started = await command(api, a, {"type": "start_call", "conversationId": conv["alice"]})
        ab_call = started["result"]["call"]["id"]
        a_connect = await a_main.wait("MEDIA_SESSION_CONNECT")
        assert a_connect["room"] == f"dm_{ab_call}"
        assert not a_overlay.seen("MEDIA_SESSION_CONNECT")
        for x in (b_main, b_overlay):
            await x.wait("MEDIA_SESSION_UPDATE", lambda s: ab_call in ringing(s))
        a_room = rtc.Room()
        a_subs = EventWaiter(a_room, "track_subscribed")
        await asyncio.wait_for(a_room.connect(a_connect["url"], a_connect["token"]), 30)
        rooms.append(a_room)
        pubs.append(Publisher(a_room))
        await pubs[-1].publish_tone(440)

        # B accepts from the overlay; the main connection is told to connect, not the overlay.
        accepted = await command(api, b, {"type": "accept_call", "callId": ab_call})
        assert accepted["result"]["call"]["state"] == "accepted"
        b_connect = await b_main.wait("MEDIA_SESSION_CONNECT")
        assert b_connect["room"] == f"dm_{ab_call}"
        for x in (b_main, b_overlay):
            await x.wait("MEDIA_SESSION_UPDATE", lambda s: not ringing(s) and s["type"] == "dm-voice")
        await a_main.wait("CALL_UPDATE", lambda k: k["state"] == "accepted")
        assert not b_overlay.seen("MEDIA_SESSION_CONNECT")
        b_room = rtc.Room()
        b_subs = EventWaiter(b_room, "track_subscribed")
        b_left_ab = EventWaiter(b_room, "disconnected")
        await asyncio.wait_for(b_room.connect(b_connect["url"], b_connect["token"]), 30)
        rooms.append(b_room)
        pubs.append(Publisher(b_room))
        await pubs[-1].publish_tone(660)
        level_ab, level_ba = await hears(a_room, a_subs, b_id), await hears(b_room, b_subs, a_id)
        print(f"A hears B at rms {level_ab:.0f}, B hears A at rms {level_ba:.0f}")
        assert level_ab > 300 and level_ba > 300
        # Both play tones: each side's snapshot shows both speaking (the SFU's active speakers),
        # on every connection, the overlay too.
        both = lambda s: {p["userId"] for p in s["participants"] if p["speaking"]} == {a_id, b_id}
        await a_main.wait("MEDIA_SESSION_UPDATE", both, timeout=5)
        await b_overlay.wait("MEDIA_SESSION_UPDATE", both, timeout=5)

        # D calls B, nobody answers: no_answer after the ring timeout.
        d_started = await command(api, d, {"type": "start_call", "conversationId": conv["dave"]})
        d_call = d_started["result"]["call"]["id"]
        await b_overlay.wait("MEDIA_SESSION_UPDATE", lambda s: d_call in ringing(s) and s["type"] == "dm-voice")
        t0 = time.monotonic()
        over = await d_main.wait("CALL_UPDATE", lambda k: k["id"] == d_call and k["state"] != "ringing", timeout=RING_TIMEOUT + 5)
        print(f"D's call settled {time.monotonic() - t0:.1f} s after B started ringing (ring timeout {RING_TIMEOUT} s)")
        assert over["state"] == "no_answer"

        # C calls B: call waiting; B accepts C, leaves A's room; A's call ends and A is told.
        c_started = await command(api, c, {"type": "start_call", "conversationId": conv["carol"]})
        cb_call = c_started["result"]["call"]["id"]
        c_connect = await c_main.wait("MEDIA_SESSION_CONNECT")
        # B answers within the (3 s) ring timeout; C's media connects meanwhile, however long
        # that takes on a loaded machine.
        waiting = await b_main.wait("MEDIA_SESSION_UPDATE", lambda s: cb_call in ringing(s))
        assert waiting["type"] == "dm-voice"
        accepted = await command(api, b, {"type": "accept_call", "callId": cb_call})
        assert accepted["session"]["context"]["callId"] == cb_call
        c_room = rtc.Room()
        c_subs = EventWaiter(c_room, "track_subscribed")
        await asyncio.wait_for(c_room.connect(c_connect["url"], c_connect["token"]), 30)
        rooms.append(c_room)
        replaced = await b_main.wait("MEDIA_SESSION_REPLACED")
        assert replaced["previous"] == "dm-voice"
        await b_left_ab.wait(lambda *x: True, timeout=10)
        ended = await a_main.wait("CALL_UPDATE", lambda k: k["id"] == ab_call and k["state"] == "ended")
        assert ended["endReason"] == "replaced"
        await a_overlay.wait("MEDIA_SESSION_UPDATE", lambda s: s["type"] == "idle")
        b_connect2 = await b_main.wait("MEDIA_SESSION_CONNECT", lambda e: e["room"] == f"dm_{cb_call}")
        await pubs[-1].stop()
        b_room2 = rtc.Room()
        await asyncio.wait_for(b_room2.connect(b_connect2["url"], b_connect2["token"]), 30)
        rooms.append(b_room2)
        pubs.append(Publisher(b_room2))
        await pubs[-1].publish_tone(660)
        track, _, _ = await c_subs.wait(lambda t, p, part: part.identity == b_id, timeout=20)
        monitor = AudioMonitor(track)
        start = time.monotonic()
        while monitor.audible(start) < 20 and time.monotonic() - start < 10:
            await asyncio.sleep(0.05)
        assert monitor.audible(start) >= 20, "C does not hear B"

        # B's overlay mutes: C stops hearing B within a second (the SFU mutes the track).
        mute_id = cid()
        muted_at = time.monotonic()
        first = await command(api, b, {"id": mute_id, "type": "set_mute", "muted": True})
        assert first["session"]["controls"]["muted"] is True
        await asyncio.sleep(3.0)
        heard = monitor.audible(muted_at + 1.0, muted_at + 3.0)
        last_loud = max((t for t, r in monitor.frames if r >= 300), default=muted_at)
        print(f"C heard B for {max(0.0, last_loud - muted_at) * 1000:.0f} ms after set_mute; {heard} audible frames 1-3 s after")
        assert heard == 0, f"C still hears B after set_mute ({heard} audible frames)"
        assert last_loud - muted_at < 1.0, f"C heard B {last_loud - muted_at:.2f} s after set_mute"
        # The same id again: the first answer, nothing more.
        again = await command(api, b, {"id": mute_id, "type": "set_mute", "muted": True})
        assert again == first

        # B's main connection closes: the overlay becomes owner and is told to connect.
        before = await api.ok("GET", "/api/v1/users/@me/media-session", b)
        await b_main.close()
        handoff = await b_overlay.wait("MEDIA_SESSION_CONNECT", timeout=10)
        assert handoff["room"] == f"dm_{cb_call}" and handoff["epoch"] > before["epoch"]
        after = await api.ok("GET", "/api/v1/users/@me/media-session", b)
        assert after["owner"]["connectionId"] == b_overlay.id and after["owner"]["kind"] == "overlay"
        # The overlay takes over the media connection (same identity: the old one is replaced).
        b_room3 = rtc.Room()
        await asyncio.wait_for(b_room3.connect(handoff["url"], handoff["token"]), 30)
        rooms.append(b_room3)
        await asyncio.sleep(1.0)
        assert b_id in c_room.remote_participants

        # A command sent at the old epoch is refused.
        stale = await command(api, b, {"epoch": before["epoch"], "type": "set_camera", "enabled": True}, status=409)
        assert stale["code"] == "stale_epoch"

        # B hangs up; every call left its system message.
        await command(api, b, {"type": "leave"})
        await c_main.wait("CALL_UPDATE", lambda k: k["id"] == cb_call and k["state"] == "ended")
        for name, want in (("alice", ["ended"]), ("dave", ["no_answer"]), ("carol", ["ended"])):
            messages = await api.ok("GET", f"/api/v1/conversations/{conv[name]}/messages", b)
            got = [m["call"]["state"] for m in messages if m["kind"] == "call"]
            assert got == want, (name, messages)
    finally:
        if monitor:
            await monitor.close()
        for p in pubs:
            await p.stop()
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)
        for x in conns:
            await x.close()
