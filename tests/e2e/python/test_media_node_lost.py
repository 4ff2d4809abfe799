"""A remote media node that vanishes silently: `xcord serve --livekit-url` in front of a separate
`xcord media` process, with a DM call (Bob and Carol, their media sessions on the gateway), a
voice channel (Alice) and a live broadcast (a host streaming, a viewer watching) on that node.
The node is frozen with SIGSTOP: no process exit, no TCP reset, no webhook — it just stops
answering. The control plane's probe (ListRooms every 2 s, 2 s timeout, 3 failures) declares it
lost, and then, each party told over the gateway:

- the live session is `failed` with `endReason: media_node_lost` (`LIVE_UPDATE` to the host);
- the call ends for both parties (`CALL_UPDATE` ended, `MEDIA_SESSION_UPDATE` idle with
  nothing ringing);
- Alice's voice state is gone (`VOICE_STATE_UPDATE` with `channelId: null` on Bob's gateway).

The node is resumed (SIGCONT) before the clients leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import aiohttp
from livekit import rtc

from lkutil import API_KEY, API_SECRET, Publisher
from test_calls import Conn, command, connect_media
from test_control_voice import Api, Gateway, community_with_voice
from xcord_server import XcordServer

# ListRooms every 2 s, 2 s timeout, 3 failures in a row; then the ends. Generous for CI.
LOST_WITHIN = 40.0


async def until(what: str, check, timeout: float = LOST_WITHIN):
    deadline = time.monotonic() + timeout
    while True:
        got = await check()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        await asyncio.sleep(0.2)


async def test_a_silently_frozen_media_node_is_probed_lost_and_everything_on_it_ends():
    media = XcordServer("lost-media", [])
    control = XcordServer("lost-control", [], command=["serve", "--dev"])
    media.extra_args += ["--webhook-url", f"{control.http_url}/api/v1/webhooks/livekit"]
    control.extra_args += ["--livekit-url", media.url, "--livekit-key", API_KEY, "--livekit-secret", API_SECRET]
    async with control, media, aiohttp.ClientSession() as http:
        api = Api(http, control.http_url)
        alice, alice_id = await api.register("alice")
        bob, bob_id = await api.register("bob")
        carol, carol_id = await api.register("carol")
        host, _ = await api.register("host")
        viewer, _ = await api.register("viewer")
        _, channel = await community_with_voice(api, alice, [bob, carol])
        conv = (await api.ok("POST", "/api/v1/conversations", bob, {"userId": carol_id}, status=201))["id"]
        await api.ok("PATCH", "/api/v1/users/@me", host, {"isCreator": True})
        conns, rooms, pub = [], [], None
        stopped = False
        try:
            b_main = await Conn(http, control.http_url, bob, "main").start()
            c_main = await Conn(http, control.http_url, carol, "main").start()
            h_main = await Conn(http, control.http_url, host, "main").start()
            b_gw = await Gateway(http, control.http_url, bob).start()
            conns += [b_main, c_main, h_main, b_gw]

            # Alice in the voice channel
            ticket = await api.ok("POST", f"/api/v1/channels/{channel}/voice/join", alice)
            a_room = rtc.Room()
            await asyncio.wait_for(a_room.connect(ticket["url"], ticket["token"]), 30)
            rooms.append(a_room)
            await b_gw.wait_voice(alice_id, channel, timeout=15)

            # Bob calls Carol, she accepts; both connect to the call's room
            started = await command(api, bob, {"type": "start_call", "conversationId": conv, "connectionId": b_main.id})
            call_id = started["result"]["call"]["id"]
            await c_main.wait("MEDIA_SESSION_UPDATE", lambda d: any(c["callId"] == call_id for c in d["incomingCalls"]))
            await command(api, carol, {"type": "accept_call", "callId": call_id, "connectionId": c_main.id})
            for conn in (b_main, c_main):
                ev = await conn.wait("MEDIA_SESSION_CONNECT", lambda d: d["room"] == f"dm_{call_id}")
                rooms.append(await connect_media(ev))
            await b_main.wait("CALL_UPDATE", lambda d: d["id"] == call_id and d["state"] == "accepted", timeout=20)

            # a live broadcast with its host streaming and a viewer
            live = await api.ok("POST", "/api/v1/live", host, {"kind": "video_live", "title": "On air", "access": "public"}, status=201)
            lid = live["id"]
            await api.ok("POST", f"/api/v1/live/{lid}/start", host)
            h_ticket = await api.ok("POST", f"/api/v1/live/{lid}/join", host, {"connectionId": h_main.id})
            h_room = rtc.Room()
            await asyncio.wait_for(h_room.connect(h_ticket["url"], h_ticket["token"]), 30)
            rooms.append(h_room)
            pub = Publisher(h_room)
            await pub.publish_tone()
            v_ticket = await api.ok("POST", f"/api/v1/live/{lid}/join", viewer)
            v_room = rtc.Room()
            await asyncio.wait_for(v_room.connect(v_ticket["url"], v_ticket["token"]), 30)
            rooms.append(v_room)
            s = await api.ok("GET", f"/api/v1/live/{lid}", host)
            assert s["state"] == "live", s

            # the node freezes: no exit, no reset, no webhook
            os.kill(media.proc.pid, signal.SIGSTOP)
            stopped = True
            frozen = time.monotonic()

            async def live_failed():
                s = await api.ok("GET", f"/api/v1/live/{lid}", viewer)
                return s if s["state"] == "failed" else None

            s = await until("the live session fails", live_failed)
            assert s["endReason"] == "media_node_lost", s
            print(f"live session failed {time.monotonic() - frozen:.1f} s after the node froze")
            await h_main.wait("LIVE_UPDATE", lambda d: d["id"] == lid and d["state"] == "failed", timeout=10)
            # the call ended for both, each told
            for conn in (b_main, c_main):
                await conn.wait("CALL_UPDATE", lambda d: d["id"] == call_id and d["state"] == "ended", timeout=10)
                await conn.wait("MEDIA_SESSION_UPDATE", lambda d: d["type"] == "idle", timeout=10)
            for token in (bob, carol):
                m = await api.ok("GET", "/api/v1/users/@me/media-session", token)
                assert m["type"] == "idle", m
            got = await api.ok("GET", f"/api/v1/calls/{call_id}", bob)
            assert got["state"] == "ended", got
            # the host's live media session ended too
            await h_main.wait("MEDIA_SESSION_UPDATE", lambda d: d["type"] == "idle", timeout=10)
            # Alice's voice state is gone, announced
            await b_gw.wait_voice(alice_id, None, timeout=10)
            assert await api.ok("GET", f"/api/v1/channels/{channel}/voice", bob) == []
            print(f"everything on the node ended {time.monotonic() - frozen:.1f} s after it froze")
        finally:
            if stopped:
                os.kill(media.proc.pid, signal.SIGCONT)
            if pub:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pub.stop(), 5)
            for r in rooms:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(r.disconnect(), 5)
            for c in conns:
                await c.close()
