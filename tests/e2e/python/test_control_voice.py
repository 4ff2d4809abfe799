"""The control plane end to end: accounts made over the API get tokens for a voice channel and
join with the Python SDK; the gateway shows voice states; a killed client disappears; permissions
become grants; a moderator's server mute silences a member at the SFU while they stay connected.

Runs `xcord serve` (control plane + embedded SFU) as its own process in the test namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from livekit import rtc

from lkutil import AudioMonitor, EventWaiter, Publisher, collect_audio, rms
from xcord_server import XcordServer

HERE = Path(__file__).resolve().parent


class Api:
    def __init__(self, http: aiohttp.ClientSession, base: str):
        self.http, self.base = http, base

    async def call(self, method: str, path: str, token: str | None = None, body: dict | None = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as r:
            text = await r.text()
            data = None
            if text:
                with contextlib.suppress(ValueError):
                    data = await r.json(content_type=None)
            return r.status, data

    async def ok(self, method: str, path: str, token: str | None = None, body: dict | None = None, status: int = 200):
        got, data = await self.call(method, path, token, body)
        assert got == status, f"{method} {path}: {got} {data}"
        return data

    async def register(self, handle: str) -> tuple[str, str]:
        d = await self.ok("POST", "/api/v1/auth/register", body={"handle": handle, "displayName": handle.title(), "password": "correct horse battery"}, status=201)
        return d["token"], d["user"]["id"]


class Gateway:
    """A gateway connection collecting every event."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str):
        self.http, self.url, self.token = http, base.replace("http://", "ws://") + "/api/v1/gateway", token
        self.events: list[dict] = []
        self.ready: dict | None = None
        self.task = None

    async def start(self):
        self.ws = await self.http.ws_connect(self.url)
        hello = await self.ws.receive_json(timeout=5)
        assert hello["op"] == "hello"
        await self.ws.send_json({"op": "identify", "d": {"token": self.token, "kind": "main"}})
        ready = await self.ws.receive_json(timeout=5)
        assert ready["op"] == "ready", ready
        self.ready = ready["d"]
        self.task = asyncio.create_task(self._read())
        self.beat = asyncio.create_task(self._heartbeat(hello["d"]["heartbeatInterval"] / 1000))
        return self

    async def _heartbeat(self, interval: float):
        """Heartbeats as a client must, or the server closes a session silent for 1.5 intervals."""
        while True:
            await asyncio.sleep(interval / 2)
            await self.ws.send_json({"op": "heartbeat"})

    async def _read(self):
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                frame = msg.json()
                if frame.get("op") == "event":
                    self.events.append(frame)

    def voice(self) -> dict[str, str | None]:
        """userId → channelId, from the Ready snapshot and VOICE_STATE_UPDATE events."""
        state = {s["userId"]: s["channelId"] for s in (self.ready or {}).get("voiceStates", [])}
        for e in self.events:
            if e["t"] == "VOICE_STATE_UPDATE":
                state[e["d"]["userId"]] = e["d"]["channelId"]
        return state

    async def wait_voice(self, user_id: str, channel: str | None, timeout: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.voice().get(user_id) == channel:
                return time.monotonic() - start
            await asyncio.sleep(0.02)
        raise AssertionError(f"gateway: {user_id} not in {channel} within {timeout}s; voice states {self.voice()}")

    async def close(self):
        if self.task:
            self.task.cancel()
        if getattr(self, "beat", None):
            self.beat.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()


@pytest.fixture
async def control():
    server = XcordServer("control", [], command=["serve", "--dev"])
    async with server, aiohttp.ClientSession() as http:
        yield server, Api(http, server.http_url), http


async def community_with_voice(api: Api, owner: str, members: list[str]) -> tuple[str, str]:
    c = await api.ok("POST", "/api/v1/communities", owner, {"name": "E2E Guild"}, status=201)
    ch = await api.ok("POST", f"/api/v1/communities/{c['id']}/channels", owner, {"name": "Lounge", "kind": "voice"}, status=201)
    invite = await api.ok("POST", f"/api/v1/communities/{c['id']}/invites", owner, {}, status=201)
    for token in members:
        await api.ok("POST", f"/api/v1/invites/{invite['code']}", token, status=201)
    return c["id"], ch["id"]


async def join_voice(api: Api, token: str, channel: str, room: rtc.Room | None = None) -> rtc.Room:
    ticket = await api.ok("POST", f"/api/v1/channels/{channel}/voice/join", token)
    assert ticket["room"] == f"vc_{channel}"
    room = room or rtc.Room()
    await asyncio.wait_for(room.connect(ticket["url"], ticket["token"]), 30)
    return room


async def test_voice_states_reach_the_gateway_and_ghosts_disappear(control):
    server, api, http = control
    alice, alice_id = await api.register("alice")
    bob, bob_id = await api.register("bob")
    dave, dave_id = await api.register("dave")
    _, channel = await community_with_voice(api, alice, [bob, dave])
    gw_alice = await Gateway(http, server.http_url, alice).start()
    gw_bob = await Gateway(http, server.http_url, bob).start()
    rooms = []
    holder = None
    try:
        rooms.append(await join_voice(api, alice, channel))
        rooms.append(await join_voice(api, bob, channel))
        # both gateways show both voice states within a second of the join
        for gw in (gw_alice, gw_bob):
            for uid in (alice_id, bob_id):
                took = await gw.wait_voice(uid, channel, timeout=1.0)
                print(f"voice state of {uid[:6]} seen after {took*1000:.0f} ms")
        states = await api.ok("GET", f"/api/v1/channels/{channel}/voice", alice)
        assert sorted(s["userId"] for s in states) == sorted([alice_id, bob_id])
        # a new gateway connection gets them in its Ready snapshot
        late = await Gateway(http, server.http_url, bob).start()
        assert late.voice() == {alice_id: channel, bob_id: channel}, late.voice()
        await late.close()

        # a client killed without leaving disappears from the voice states
        ticket = await api.ok("POST", f"/api/v1/channels/{channel}/voice/join", dave)
        holder = subprocess.Popen([sys.executable, str(HERE / "hold_voice.py"), ticket["url"], ticket["token"]], stdout=subprocess.PIPE, cwd=HERE)
        line = await asyncio.wait_for(asyncio.to_thread(holder.stdout.readline), 30)
        assert line.strip() == b"connected", line
        await gw_alice.wait_voice(dave_id, channel, timeout=2.0)
        holder.send_signal(signal.SIGKILL)
        holder.wait(5)
        took = await gw_alice.wait_voice(dave_id, None, timeout=30.0)
        print(f"killed client gone from voice states after {took:.1f} s")
        states = await api.ok("GET", f"/api/v1/channels/{channel}/voice", alice)
        assert dave_id not in [s["userId"] for s in states]
        # the others are still there
        assert gw_alice.voice().get(bob_id) == channel
    finally:
        if holder and holder.poll() is None:
            holder.kill()
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)
        await gw_alice.close()
        await gw_bob.close()


async def test_permissions_become_grants_and_server_mute_silences(control):
    server, api, http = control
    alice, alice_id = await api.register("alice")
    bob, bob_id = await api.register("bob")
    carol, carol_id = await api.register("carol")
    community, channel = await community_with_voice(api, alice, [bob, carol])
    rooms = []
    bob_pub = None
    try:
        a = rtc.Room()
        subs = EventWaiter(a, "track_subscribed")
        unpublished = EventWaiter(a, "track_unpublished")
        rooms.append(await join_voice(api, alice, channel, a))
        b = rtc.Room()
        b_gone = EventWaiter(b, "disconnected")
        rooms.append(await join_voice(api, bob, channel, b))
        bob_pub = Publisher(b)
        pub = await bob_pub.publish_tone()
        track, _, _ = await subs.wait(lambda t, p, part: part.identity == bob_id, timeout=20)
        level = rms(await collect_audio(track, seconds=0.5, skip_seconds=0.3, timeout=20))
        assert level > 300, f"alice does not hear bob before the mute (rms {level:.0f})"

        # server mute by the owner: bob's microphone is taken away at the SFU, bob stays connected
        muted = await api.ok("POST", f"/api/v1/channels/{channel}/voice/members/{bob_id}/mute", alice, {"muted": True})
        assert muted["serverMute"] is True
        await unpublished.wait(lambda p, part: part.identity == bob_id and p.sid == pub.sid, timeout=10)
        await asyncio.sleep(1.0)
        assert not b_gone.seen, "bob was disconnected by the server mute"
        assert bob_id in a.remote_participants, "bob left the room"
        assert not a.remote_participants[bob_id].track_publications, "bob still has a published track"
        states = {s["userId"]: s for s in await api.ok("GET", f"/api/v1/channels/{channel}/voice", alice)}
        assert states[bob_id]["serverMute"] is True
        # bob may not mute alice: he lacks MUTE_MEMBERS
        status, err = await api.call("POST", f"/api/v1/channels/{channel}/voice/members/{alice_id}/mute", bob, {"muted": True})
        assert (status, err["message"]) == (403, "missing permission MUTE_MEMBERS"), (status, err)

        # without SPEAK, a member's token has no microphone: the SFU refuses the publication
        roles = await api.ok("GET", f"/api/v1/communities/{community}/roles", alice)
        everyone = next(r for r in roles if r["isEveryone"])
        perms = [p for p in everyone["permissions"] if p != "SPEAK"]
        await api.ok("PATCH", f"/api/v1/communities/{community}/roles/{everyone['id']}", alice, {"permissions": perms})
        c = rtc.Room()
        rooms.append(await join_voice(api, carol, channel, c))
        assert not c.local_participant.permissions.can_publish_sources or rtc.TrackSource.SOURCE_MICROPHONE not in c.local_participant.permissions.can_publish_sources
        carol_pub = Publisher(c)
        with pytest.raises(Exception):
            await asyncio.wait_for(carol_pub.publish_tone(), 15)
        await carol_pub.stop()
        await asyncio.sleep(0.5)
        assert carol_id in a.remote_participants
        assert not a.remote_participants[carol_id].track_publications, "carol published a microphone without SPEAK"

        # kicking a member from the community also drops them from its voice channel
        c_gone = EventWaiter(c, "disconnected")
        await api.ok("DELETE", f"/api/v1/communities/{community}/members/{carol_id}", alice, status=204)
        await c_gone.wait(lambda reason: True, timeout=10)
        states = await api.ok("GET", f"/api/v1/channels/{channel}/voice", alice)
        for _ in range(50):
            if carol_id not in [s["userId"] for s in states]:
                break
            await asyncio.sleep(0.1)
            states = await api.ok("GET", f"/api/v1/channels/{channel}/voice", alice)
        assert carol_id not in [s["userId"] for s in states], "a kicked member is still in the voice states"
    finally:
        if bob_pub:
            await bob_pub.stop()
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)


async def test_move_and_disconnect_by_a_moderator(control):
    server, api, http = control
    alice, alice_id = await api.register("alice")
    bob, bob_id = await api.register("bob")
    community, lounge = await community_with_voice(api, alice, [bob])
    other = await api.ok("POST", f"/api/v1/communities/{community}/channels", alice, {"name": "Stage", "kind": "video"}, status=201)
    gw_bob = await Gateway(http, server.http_url, bob).start()
    gw_alice = await Gateway(http, server.http_url, alice).start()
    rooms = []
    try:
        b = rtc.Room()
        b_gone = EventWaiter(b, "disconnected")
        rooms.append(await join_voice(api, bob, lounge, b))
        await gw_alice.wait_voice(bob_id, lounge, timeout=2.0)

        # bob may not move anyone
        status, err = await api.call("POST", f"/api/v1/channels/{lounge}/voice/members/{bob_id}/move", bob, {"channelId": other["id"]})
        assert (status, err["message"]) == (403, "missing permission MOVE_MEMBERS"), (status, err)

        await api.ok("POST", f"/api/v1/channels/{lounge}/voice/members/{bob_id}/move", alice, {"channelId": other["id"]}, status=204)
        # bob's gateway carries a token for the new channel; his old connection is removed
        deadline = time.monotonic() + 5
        move = None
        while move is None and time.monotonic() < deadline:
            move = next((e["d"] for e in gw_bob.events if e["t"] == "VOICE_MOVE"), None)
            await asyncio.sleep(0.05)
        assert move is not None, "no VOICE_MOVE reached bob's gateway"
        assert move["channelId"] == other["id"] and move["room"] == f"vc_{other['id']}"
        await b_gone.wait(lambda *a: True, timeout=10)
        b2 = rtc.Room()
        await asyncio.wait_for(b2.connect(move["url"], move["token"]), 30)
        rooms.append(b2)
        await gw_alice.wait_voice(bob_id, other["id"], timeout=5.0)
        states = await api.ok("GET", f"/api/v1/channels/{other['id']}/voice", alice)
        assert [s["userId"] for s in states] == [bob_id]

        # disconnect: bob is removed from the room and from the voice states
        b2_gone = EventWaiter(b2, "disconnected")
        await api.ok("POST", f"/api/v1/channels/{other['id']}/voice/members/{bob_id}/disconnect", alice, status=204)
        await b2_gone.wait(lambda *a: True, timeout=10)
        await gw_alice.wait_voice(bob_id, None, timeout=5.0)
    finally:
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)
        await gw_alice.close()
        await gw_bob.close()


async def test_server_deafen_stops_what_a_member_hears(control):
    """A deafened member stays connected but receives no audio; undeafened, they may subscribe
    again (the permission comes back live)."""
    server, api, http = control
    alice, alice_id = await api.register("alice")
    bob, bob_id = await api.register("bob")
    _, channel = await community_with_voice(api, alice, [bob])
    rooms = []
    alice_pub = None
    monitor = None
    try:
        a = rtc.Room()
        rooms.append(await join_voice(api, alice, channel, a))
        alice_pub = Publisher(a)
        await alice_pub.publish_tone()
        b = rtc.Room()
        b_subs = EventWaiter(b, "track_subscribed")
        b_perm = EventWaiter(b, "participant_permissions_changed")
        b_gone = EventWaiter(b, "disconnected")
        rooms.append(await join_voice(api, bob, channel, b))
        track, _, _ = await b_subs.wait(lambda t, p, part: part.identity == alice_id, timeout=20)
        monitor = AudioMonitor(track)
        start = time.monotonic()
        while monitor.audible(start) < 20 and time.monotonic() - start < 10:
            await asyncio.sleep(0.1)
        assert monitor.audible(start) >= 20, "bob does not hear alice before the deafen"

        s = await api.ok("POST", f"/api/v1/channels/{channel}/voice/members/{bob_id}/deafen", alice, {"deafened": True})
        assert s["serverDeaf"] is True
        await b_perm.wait(lambda part, perm: part.identity == bob_id and not perm.can_subscribe, timeout=10)
        await asyncio.sleep(1.0)  # frames already buffered drain
        quiet_from = time.monotonic()
        await asyncio.sleep(2.0)
        heard = monitor.audible(quiet_from)
        assert heard == 0, f"a deafened member still hears audio ({heard} audible frames in 2 s)"
        assert not b_gone.seen, "the deafened member was disconnected"
        states = {x["userId"]: x for x in await api.ok("GET", f"/api/v1/channels/{channel}/voice", alice)}
        assert states[bob_id]["serverDeaf"] is True

        await api.ok("POST", f"/api/v1/channels/{channel}/voice/members/{bob_id}/deafen", alice, {"deafened": False})
        await b_perm.wait(lambda part, perm: part.identity == bob_id and perm.can_subscribe, timeout=10)
    finally:
        if monitor:
            await monitor.close()
        if alice_pub:
            await alice_pub.stop()
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)
