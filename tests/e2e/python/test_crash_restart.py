"""Crash and restart: `kill -9` of the server while Python SDK clients talk in a voice channel,
messages and wallet top-ups are being written and `xcord loadtest` runs; then a restart on the
same data directory and ports. Checked:

- the SDK clients reconnect by themselves (no test code reconnects them) and audio flows again;
  the time from the server answering again to the first audible frame is printed (the report
  and BENCHMARKS.md carry it);
- every voice state left by the crash is repaired: afterwards each user has exactly one, with
  the participant sid the media plane has now;
- nothing stored is lost or doubled: every message and ledger entry acknowledged before the
  crash is there once, the media-event inbox has no duplicate ids and keeps every event stored
  before the crash.

The same with the control plane pointed at a separate `xcord media` node that is killed and
restarted while the control plane keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from livekit import api as lkapi
from livekit import rtc

from lkutil import API_KEY, API_SECRET, AudioMonitor, Publisher
from test_control_voice import Api, community_with_voice
from xcord_server import XcordServer

# Voice states of a crash are ghosts until the reconciler has missed them twice (10 s passes).
REPAIR_TIMEOUT = 45.0


class Listener:
    """Keeps an AudioMonitor on every audio track the room subscribes to (a full reconnect
    brings new track objects)."""

    def __init__(self, room: rtc.Room):
        # (subscribed at, monitor)
        self.monitors: list[tuple[float, AudioMonitor]] = []
        self.events: list[tuple[float, str]] = []
        room.on("track_subscribed", self._on_track)
        for name in ("reconnecting", "reconnected", "disconnected"):
            room.on(name, lambda *a, n=name: self.events.append((time.monotonic(), n)))

    def _on_track(self, track, *_):
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            self.monitors.append((time.monotonic(), AudioMonitor(track)))

    def first_audible_after(self, since: float, subscribed_after: float = 0.0) -> float | None:
        """First audible frame at or after `since` on a track subscribed after
        `subscribed_after` (an old track's decoder keeps concealing a lost stream for a while)."""
        times = [
            t for at, m in self.monitors if at >= subscribed_after for t, r in m.frames if t >= since and r >= 300.0
        ]
        return min(times) if times else None

    def seen(self, name: str, since: float) -> float | None:
        times = [t for t, n in self.events if n == name and t >= since]
        return min(times) if times else None

    async def close(self):
        for _, m in self.monitors:
            await m.close()


class Writer:
    """Posts messages and wallet top-ups in a loop, remembering what was acknowledged."""

    def __init__(self, api: Api, token: str, channel: str):
        self.api, self.token, self.channel = api, token, channel
        self.acked_messages: list[str] = []
        self.acked_topups = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self):
        i = 0
        while True:
            i += 1
            with contextlib.suppress(Exception):
                status, data = await self.api.call(
                    "POST", f"/api/v1/channels/{self.channel}/messages", self.token, {"content": f"m{i}"}
                )
                if status in (200, 201):
                    self.acked_messages.append(data["id"])
                status, _ = await self.api.call("POST", "/api/v1/wallet/topups", self.token, {"amount": 1})
                if status == 200:
                    self.acked_topups += 1
            await asyncio.sleep(0.05)

    async def stop(self):
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task


def db_rows(data_dir: str) -> dict[str, list[tuple]]:
    """The tables that must survive a crash, read straight from the SQLite file."""
    path = Path(data_dir) / "xcord.db"
    if not path.exists():
        candidates = list(Path(data_dir).glob("*.db")) + list(Path(data_dir).glob("*.sqlite*"))
        path = next(p for p in candidates if p.suffix in (".db", ".sqlite"))
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            "channel_messages": con.execute("SELECT id, channel_id, author_id, content, created_at FROM channel_messages").fetchall(),
            "wallet_entries": con.execute("SELECT id, user_id, amount, balance_after, reason, created_at FROM wallet_entries").fetchall(),
            "media_event_inbox": con.execute("SELECT * FROM media_event_inbox").fetchall(),
            "voice_states": con.execute("SELECT user_id, channel_id, participant_sid FROM voice_states").fetchall(),
        }
    finally:
        con.close()


async def join(api: Api, token: str, channel: str) -> tuple[rtc.Room, Listener]:
    ticket = await api.ok("POST", f"/api/v1/channels/{channel}/voice/join", token)
    room = rtc.Room()
    listener = Listener(room)
    await asyncio.wait_for(room.connect(ticket["url"], ticket["token"]), 30)
    return room, listener


def start_loadtest(media_url: str, room: str, seconds: int) -> subprocess.Popen:
    cmd = [
        os.environ["XCORD_BIN"], "loadtest", "--url", media_url, "--api-key", API_KEY, "--api-secret", API_SECRET,
        "--room", room, "--publishers", "2", "--subscribers", "2", "--duration", str(seconds),
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def wait_ready_again(server: XcordServer) -> float:
    server.start()
    await server.wait_ready()
    return time.monotonic()


async def crash_and_recover(victim: XcordServer, control: XcordServer, media_http: str, data_dir: str):
    async with aiohttp.ClientSession() as http, lkapi.LiveKitAPI(media_http, API_KEY, API_SECRET) as lk:
        api = Api(http, control.http_url)
        alice, alice_id = await api.register("alice")
        bob, bob_id = await api.register("bob")
        community, voice = await community_with_voice(api, alice, [bob])
        text = await api.ok("POST", f"/api/v1/communities/{community}/channels", alice, {"name": "general", "kind": "text"}, status=201)
        room_a, lis_a = await join(api, alice, voice)
        room_b, lis_b = await join(api, bob, voice)
        pub = Publisher(room_a)
        writer = Writer(api, alice, text["id"])
        load = None
        try:
            await pub.publish_tone()
            start = time.monotonic()
            while lis_b.first_audible_after(start) is None:
                assert time.monotonic() - start < 15, "bob never heard alice before the crash"
                await asyncio.sleep(0.1)
            load = start_loadtest(victim.url, "crash-load", 30)
            await asyncio.sleep(3)
            assert load.poll() is None, load.stdout.read().decode() if load.stdout else ""

            victim.kill()
            killed = time.monotonic()
            acked_messages = list(writer.acked_messages)
            acked_topups = writer.acked_topups
            if victim is control:
                await writer.stop()
                before = db_rows(data_dir)
            back = await wait_ready_again(victim)
            print(f"server back {back - killed:.2f} s after kill -9")
            if victim is not control:
                await writer.stop()
                acked_messages = list(writer.acked_messages)
                acked_topups = writer.acked_topups
                before = db_rows(data_dir)

            # The SDKs reconnect on their own; audio flows again on the new subscription.
            heard = None
            while heard is None or lis_a.seen("reconnected", killed) is None or lis_b.seen("reconnected", killed) is None:
                heard = lis_b.first_audible_after(back, subscribed_after=killed)
                assert time.monotonic() - back < 30, (
                    f"not back 30 s after the restart; alice {lis_a.events}, bob {lis_b.events}"
                )
                assert not lis_a.seen("disconnected", killed) and not lis_b.seen("disconnected", killed), (
                    lis_a.events, lis_b.events
                )
                await asyncio.sleep(0.05)
            reconnected = [lis.seen("reconnected", killed) - back for lis in (lis_a, lis_b)]
            print(f"RECONNECT: SDK 'reconnected' {reconnected[0]:.2f} s (alice) and {reconnected[1]:.2f} s (bob) "
                  f"after the server is back; bob hears alice again after {heard - back:.2f} s")

            # Voice states repaired: one per user, with the sids the media plane has now.
            deadline = time.monotonic() + REPAIR_TIMEOUT
            while True:
                states = await api.ok("GET", f"/api/v1/channels/{voice}/voice", alice)
                listed = await lk.room.list_participants(lkapi.ListParticipantsRequest(room=f"vc_{voice}"))
                live = sorted(p.sid for p in listed.participants if not p.identity.startswith("crash-load"))
                users = sorted(s["userId"] for s in states)
                rows = db_rows(data_dir)["voice_states"]
                if users == sorted([alice_id, bob_id]) and sorted(r[2] for r in rows) == live and len(live) == 2:
                    break
                assert time.monotonic() < deadline, f"voice states not repaired: {rows} vs live {live}"
                await asyncio.sleep(0.5)
            print(f"voice states repaired {time.monotonic() - back:.1f} s after the restart")

            # Nothing stored lost or doubled.
            after = db_rows(data_dir)
            message_ids = [r[0] for r in after["channel_messages"]]
            assert len(message_ids) == len(set(message_ids))
            missing = set(acked_messages) - set(message_ids)
            assert not missing, f"acknowledged messages lost: {missing}"
            assert set(before["channel_messages"]) <= set(after["channel_messages"])
            assert set(before["wallet_entries"]) <= set(after["wallet_entries"])
            assert len([r for r in after["wallet_entries"] if r[1] == alice_id]) >= acked_topups
            balance = await api.ok("GET", "/api/v1/wallet", alice)
            entries = [r for r in after["wallet_entries"] if r[1] == alice_id]
            # The ledger adds up: no entry lost or doubled against the balance.
            assert sum(r[2] for r in entries) == balance["balance"], (balance, len(entries))
            inbox_ids = [r[0] for r in after["media_event_inbox"]]
            assert len(inbox_ids) == len(set(inbox_ids)), "an event stored twice"
            assert set(r[0] for r in before["media_event_inbox"]) <= set(inbox_ids)
            print(f"stored before/after: messages {len(before['channel_messages'])}/{len(after['channel_messages'])}, "
                  f"ledger {len(before['wallet_entries'])}/{len(after['wallet_entries'])}, "
                  f"inbox {len(before['media_event_inbox'])}/{len(after['media_event_inbox'])}")
        finally:
            await writer.stop()
            if load is not None and load.poll() is None:
                load.kill()
                load.wait(5)
            await pub.stop()
            await lis_a.close()
            await lis_b.close()
            for r in (room_a, room_b):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(r.disconnect(), 5)


async def test_kill_9_of_serve_and_restart():
    server = XcordServer("crash", [], command=["serve", "--dev"])
    async with server:
        await crash_and_recover(server, server, server.http_url, server.data_dir)


async def test_kill_9_of_a_media_node_and_restart():
    media = XcordServer("crash-media", [])
    control = XcordServer("crash-control", [], command=["serve", "--dev"])
    media.extra_args += ["--webhook-url", f"{control.http_url}/api/v1/webhooks/livekit"]
    control.extra_args += ["--livekit-url", media.url, "--livekit-key", API_KEY, "--livekit-secret", API_SECRET]
    # The control plane starts first and stops last: the media node's shutdown then delivers its
    # last webhooks instead of retrying into a stopped receiver.
    async with control, media:
        await crash_and_recover(media, control, media.http_url, control.data_dir)


async def accepted_call(http, api: Api, server: XcordServer, caller: str, callee: str, conv: str):
    """Caller's and callee's main gateway connections, a DM call from the caller that the callee
    accepts, and both connected to its room with the Python SDK: (caller's connection, callee's
    connection, call id, caller's room, callee's room)."""
    from test_calls import Conn, command, connect_media

    c_main = await Conn(http, server.http_url, caller, "main").start()
    d_main = await Conn(http, server.http_url, callee, "main").start()
    started = await command(api, caller, {"type": "start_call", "conversationId": conv, "connectionId": c_main.id})
    call_id = started["result"]["call"]["id"]
    await d_main.wait("MEDIA_SESSION_UPDATE", lambda d: any(c["callId"] == call_id for c in d["incomingCalls"]))
    await command(api, callee, {"type": "accept_call", "callId": call_id, "connectionId": d_main.id})
    c_room = await connect_media(await c_main.wait("MEDIA_SESSION_CONNECT", lambda d: d["room"] == f"dm_{call_id}"))
    d_room = await connect_media(await d_main.wait("MEDIA_SESSION_CONNECT", lambda d: d["room"] == f"dm_{call_id}"))
    return c_main, d_main, call_id, c_room, d_room


async def test_kill_9_of_serve_with_a_call_and_a_live_in_progress():
    """A DM call (Carol and Dave, their media sessions on the gateway) and a live broadcast (a
    host streaming a tone, a viewer) across `kill -9` of serve and a restart: both continue from
    the database. The parties' gateways reconnect; each new connection is handed the session
    (`MEDIA_SESSION_CONNECT` for the call's room, once the dead connection's lease lapses) with
    the call still `accepted`; the SDKs reconnect by themselves and hear each other again; the
    live session is still live and the viewer hears the host again. No call system message is
    written (the call did not end)."""
    from test_calls import Conn

    server = XcordServer("crash-calls", [], command=["serve", "--dev"])
    async with server, aiohttp.ClientSession() as http:
        api = Api(http, server.http_url)
        carol, _ = await api.register("carol")
        dave, dave_id = await api.register("dave")
        host, host_id = await api.register("host")
        viewer, _ = await api.register("viewer")
        await community_with_voice(api, carol, [dave])
        conv = (await api.ok("POST", "/api/v1/conversations", carol, {"userId": dave_id}, status=201))["id"]
        await api.ok("PATCH", "/api/v1/users/@me", host, {"isCreator": True})
        conns, rooms, pubs, lists = [], [], [], []
        try:
            c_main, d_main, call_id, c_room, d_room = await accepted_call(http, api, server, carol, dave, conv)
            conns += [c_main, d_main]
            rooms += [c_room, d_room]
            lis_d = Listener(d_room)
            lists.append(lis_d)
            c_pub = Publisher(c_room)
            pubs.append(c_pub)
            await c_pub.publish_tone()

            live = await api.ok("POST", "/api/v1/live", host, {"kind": "audio_room", "title": "Night", "access": "public"}, status=201)
            lid = live["id"]
            await api.ok("POST", f"/api/v1/live/{lid}/start", host)
            h_ticket = await api.ok("POST", f"/api/v1/live/{lid}/join", host)
            h_room = rtc.Room()
            await asyncio.wait_for(h_room.connect(h_ticket["url"], h_ticket["token"]), 30)
            rooms.append(h_room)
            h_pub = Publisher(h_room)
            pubs.append(h_pub)
            await h_pub.publish_tone()
            v_ticket = await api.ok("POST", f"/api/v1/live/{lid}/join", viewer)
            v_room = rtc.Room()
            lis_v = Listener(v_room)
            lists.append(lis_v)
            await asyncio.wait_for(v_room.connect(v_ticket["url"], v_ticket["token"]), 30)
            rooms.append(v_room)
            start = time.monotonic()
            while lis_d.first_audible_after(start) is None or lis_v.first_audible_after(start) is None:
                assert time.monotonic() - start < 20, "no audio before the crash"
                await asyncio.sleep(0.1)
            messages_before = len(await api.ok("GET", f"/api/v1/conversations/{conv}/messages", carol))

            server.kill()
            killed = time.monotonic()
            for c in conns:
                await c.close()
            back = await wait_ready_again(server)
            print(f"server back {back - killed:.2f} s after kill -9")

            # the gateways come back; the sessions continue from the database
            c2 = await Conn(http, server.http_url, carol, "main").start()
            d2 = await Conn(http, server.http_url, dave, "main").start()
            conns += [c2, d2]
            for ready in (c2.ready, d2.ready):
                m = ready["mediaSession"]
                assert (m["type"], m["context"].get("callId")) == ("dm-voice", call_id), m
            for conn in (c2, d2):
                ev = await conn.wait("MEDIA_SESSION_CONNECT", lambda d: d["room"] == f"dm_{call_id}", timeout=45)
                print(f"{conn.id[:6]} handed the call {time.monotonic() - back:.1f} s after the restart")
                assert ev["token"]
            got = await api.ok("GET", f"/api/v1/calls/{call_id}", carol)
            assert got["state"] == "accepted", got
            # the SDKs reconnected by themselves: Dave hears Carol, the viewer the host
            while lis_d.first_audible_after(back, subscribed_after=killed) is None or lis_v.first_audible_after(back, subscribed_after=killed) is None:
                assert time.monotonic() - back < 30, f"no audio 30 s after the restart; dave {lis_d.events}, viewer {lis_v.events}"
                await asyncio.sleep(0.1)
            s = await api.ok("GET", f"/api/v1/live/{lid}", viewer)
            assert s["state"] == "live", s
            # nothing written twice or lost: the call left no system message (it goes on)
            after = await api.ok("GET", f"/api/v1/conversations/{conv}/messages", carol)
            assert len(after) == messages_before, (messages_before, after)
            assert not c2.seen("CALL_UPDATE", lambda d: d["state"] == "ended")
        finally:
            for p in pubs:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(p.stop(), 5)
            for lis in lists:
                await lis.close()
            for r in rooms:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(r.disconnect(), 5)
            for c in conns:
                await c.close()


async def test_kill_9_of_serve_with_a_call_whose_party_never_returns():
    """A DM call across `kill -9` of serve where only Carol comes back: Dave's gateway and SDK are
    gone for good. The restarted server ends the call by itself — Dave's connections' leases
    lapse, his session outlives them by its grace, the call its disconnect grace — and tells
    Carol (`CALL_UPDATE` ended, `no_connection`), ends her media session (idle), and writes the call's
    system message exactly once. When Dave's gateway returns much later, its Ready's media session
    is idle and the call reads ended."""
    from test_calls import Conn

    server = XcordServer("crash-call-gone", [], command=["serve", "--dev"])
    async with server, aiohttp.ClientSession() as http:
        api = Api(http, server.http_url)
        carol, _ = await api.register("carol")
        dave, dave_id = await api.register("dave")
        await community_with_voice(api, carol, [dave])
        conv = (await api.ok("POST", "/api/v1/conversations", carol, {"userId": dave_id}, status=201))["id"]
        conns, rooms = [], []
        pub = None
        lis = None
        try:
            c_main, d_main, call_id, c_room, d_room = await accepted_call(http, api, server, carol, dave, conv)
            conns += [c_main, d_main]
            rooms.append(c_room)
            lis = Listener(d_room)
            pub = Publisher(c_room)
            await pub.publish_tone()
            start = time.monotonic()
            while lis.first_audible_after(start) is None:
                assert time.monotonic() - start < 20, "dave never heard carol before the crash"
                await asyncio.sleep(0.1)
            messages_before = len(await api.ok("GET", f"/api/v1/conversations/{conv}/messages", carol))

            server.kill()
            killed = time.monotonic()
            for c in conns:
                await c.close()
            # Dave is gone for good: his SDK stops without a word to the dead server.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(d_room.disconnect(), 5)
            await lis.close()
            lis = None
            back = await wait_ready_again(server)
            print(f"server back {back - killed:.2f} s after kill -9")

            c2 = await Conn(http, server.http_url, carol, "main").start()
            conns.append(c2)
            m = c2.ready["mediaSession"]
            assert (m["type"], m["context"].get("callId")) == ("dm-voice", call_id), m
            # Dave's lease (22.5 s) + his session's grace (20 s), with margin
            ended = await c2.wait("CALL_UPDATE", lambda d: d["id"] == call_id and d["state"] == "ended", timeout=75)
            print(f"call ended {time.monotonic() - back:.1f} s after the restart: {ended.get('endReason')}")
            assert ended.get("endReason") == "no_connection", ended
            await c2.wait("MEDIA_SESSION_UPDATE", lambda d: d["type"] == "idle", timeout=10)
            got = await api.ok("GET", f"/api/v1/calls/{call_id}", carol)
            assert got["state"] == "ended", got
            after = await api.ok("GET", f"/api/v1/conversations/{conv}/messages", carol)
            assert len(after) == messages_before + 1, (messages_before, after)

            d2 = await Conn(http, server.http_url, dave, "main").start()
            conns.append(d2)
            assert d2.ready["mediaSession"]["type"] == "idle", d2.ready["mediaSession"]
            got = await api.ok("GET", f"/api/v1/calls/{call_id}", dave)
            assert got["state"] == "ended", got
            # still one system message: nothing written twice once Dave is back
            await asyncio.sleep(1)
            again = await api.ok("GET", f"/api/v1/conversations/{conv}/messages", carol)
            assert len(again) == messages_before + 1, again
        finally:
            if pub:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pub.stop(), 5)
            if lis:
                await lis.close()
            for r in rooms:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(r.disconnect(), 5)
            for c in conns:
                await c.close()
