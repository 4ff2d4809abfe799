"""Live broadcasts and audio rooms with the Python SDK against `xcord serve --dev`: a public
session reaches a hidden viewer who cannot publish, and ending disconnects everyone; pay-per-view
admits a buyer (once per key) who then hears the host; an audio-room listener raises a hand, is
invited, accepts and is heard on the same connection, and a kick disconnects; a subscribers-only
session admits a viewer after they subscribe, a banned viewer is disconnected and refused, and
chat arrives in order over the gateway with deletions reaching everyone."""

from __future__ import annotations

import asyncio
import contextlib

from livekit import rtc

from lkutil import EventWaiter, Publisher, collect_audio, rms
from test_control_voice import Gateway, control  # noqa: F401  (the fixture)


async def test_a_public_broadcast_reaches_a_hidden_viewer(control):  # noqa: F811
    server, api, http = control
    host, host_id = await api.register("hoster")
    viewer, viewer_id = await api.register("watcher")
    await api.ok("PATCH", "/api/v1/users/@me", host, {"isCreator": True})
    status, err = await api.call("POST", "/api/v1/live", viewer, {"kind": "video_live", "title": "No", "access": "public"})
    assert status == 403, (status, err)
    live = await api.ok("POST", "/api/v1/live", host, {"kind": "video_live", "title": "Tones", "access": "public"}, status=201)
    status, err = await api.call("POST", f"/api/v1/live/{live['id']}/join", viewer)
    assert (status, err["code"]) == (409, "not_live"), (status, err)
    await api.ok("POST", f"/api/v1/live/{live['id']}/start", host)

    rooms = []
    pub = None
    try:
        h_ticket = await api.ok("POST", f"/api/v1/live/{live['id']}/join", host)
        assert (h_ticket["role"], h_ticket["room"]) == ("host", f"live_{live['id']}")
        h = rtc.Room()
        await asyncio.wait_for(h.connect(h_ticket["url"], h_ticket["token"]), 30)
        rooms.append(h)
        pub = Publisher(h)
        await pub.publish_tone()

        v_ticket = await api.ok("POST", f"/api/v1/live/{live['id']}/join", viewer)
        assert v_ticket["role"] == "viewer"
        v = rtc.Room()
        subs = EventWaiter(v, "track_subscribed")
        v_gone = EventWaiter(v, "disconnected")
        await asyncio.wait_for(v.connect(v_ticket["url"], v_ticket["token"]), 30)
        rooms.append(v)
        track, _, part = await subs.wait(lambda t, p, part: part.identity == host_id, timeout=20)
        level = rms(await collect_audio(track, seconds=0.5, skip_seconds=0.3, timeout=20))
        assert level > 300, f"the viewer does not hear the host (rms {level:.0f})"

        # the host's room never lists the viewer
        await asyncio.sleep(1.0)
        assert viewer_id not in h.remote_participants, "the hidden viewer is listed to the host"
        # the viewer cannot publish
        sneaky = Publisher(v)
        published = True
        try:
            await asyncio.wait_for(sneaky.publish_tone(), 10)
        except Exception:
            published = False
        await sneaky.stop()
        assert not published, "a viewer published a microphone"

        # ending disconnects everyone
        await api.ok("POST", f"/api/v1/live/{live['id']}/end", host)
        await v_gone.wait(timeout=10)
        ended = await api.ok("GET", f"/api/v1/live/{live['id']}", viewer)
        assert ended["state"] == "ended", ended
    finally:
        if pub:
            await pub.stop()
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)


async def _purchase(http, server, token: str, live_id: str, key: str):
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    async with http.post(f"{server.http_url}/api/v1/live/{live_id}/purchase", headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def _connect(ticket: dict) -> rtc.Room:
    room = rtc.Room()
    await asyncio.wait_for(room.connect(ticket["url"], ticket["token"]), 30)
    return room


async def test_pay_per_view_admits_a_buyer_who_then_hears_the_host(control):  # noqa: F811
    server, api, http = control
    host, host_id = await api.register("ppvhost")
    viewer, _ = await api.register("ppvfan")
    await api.ok("PATCH", "/api/v1/users/@me", host, {"isCreator": True})
    live = await api.ok("POST", "/api/v1/live", host, {"kind": "video_live", "title": "Paid", "access": "pay_per_view", "priceCoins": 20}, status=201)
    await api.ok("POST", f"/api/v1/live/{live['id']}/start", host)
    rooms, pub = [], None
    try:
        h = await _connect(await api.ok("POST", f"/api/v1/live/{live['id']}/join", host))
        rooms.append(h)
        pub = Publisher(h)
        await pub.publish_tone()
        status, err = await api.call("POST", f"/api/v1/live/{live['id']}/join", viewer)
        assert (status, err["code"]) == (402, "payment_required"), (status, err)
        status, err = await _purchase(http, server, viewer, live["id"], "buy-1")
        assert (status, err["code"]) == (402, "insufficient_funds"), (status, err)
        await api.ok("POST", "/api/v1/wallet/topups", viewer, {"amount": 30})
        status, bought = await _purchase(http, server, viewer, live["id"], "buy-1")
        assert (status, bought["balance"]) == (201, 10), (status, bought)
        status, again = await _purchase(http, server, viewer, live["id"], "buy-1")
        assert (status, again) == (200, bought)
        status, err = await _purchase(http, server, viewer, live["id"], "buy-2")
        assert (status, err["code"]) == (409, "already_purchased"), (status, err)

        ticket = await api.ok("POST", f"/api/v1/live/{live['id']}/join", viewer)
        assert ticket["role"] == "viewer"
        v = rtc.Room()
        subs = EventWaiter(v, "track_subscribed")
        await asyncio.wait_for(v.connect(ticket["url"], ticket["token"]), 30)
        rooms.append(v)
        track, _, _ = await subs.wait(lambda t, p, part: part.identity == host_id, timeout=20)
        level = rms(await collect_audio(track, seconds=0.5, skip_seconds=0.3, timeout=20))
        assert level > 300, f"the buyer does not hear the host (rms {level:.0f})"
        # the audience count comes from the media plane's events
        for _ in range(50):
            s = await api.ok("GET", f"/api/v1/live/{live['id']}", viewer)
            if s["viewerCount"] == 1:
                break
            await asyncio.sleep(0.1)
        assert (s["viewerCount"], s["peakViewers"]) == (1, 1), s
    finally:
        if pub:
            await pub.stop()
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)


async def _until_ok(api, method: str, path: str, token: str, timeout: float = 10.0):
    """Calls until 200 (the media plane's join event may still be on its way)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = await api.call(method, path, token)
        if status == 200 or asyncio.get_running_loop().time() > deadline:
            assert status == 200, (method, path, status, body)
            return body
        await asyncio.sleep(0.1)


async def test_an_audio_room_listener_goes_on_stage_and_is_heard(control):  # noqa: F811
    server, api, http = control
    host, host_id = await api.register("roomhost")
    speaker, speaker_id = await api.register("handraiser")
    other, other_id = await api.register("earwitness")
    await api.ok("PATCH", "/api/v1/users/@me", host, {"isCreator": True})
    live = await api.ok("POST", "/api/v1/live", host, {"kind": "audio_room", "title": "Room", "access": "public"}, status=201)
    lid = live["id"]
    await api.ok("POST", f"/api/v1/live/{lid}/start", host)
    rooms, pubs = [], []
    try:
        h = await _connect(await api.ok("POST", f"/api/v1/live/{lid}/join", host))
        rooms.append(h)
        hp = Publisher(h)
        pubs.append(hp)
        await hp.publish_tone()

        s_ticket = await api.ok("POST", f"/api/v1/live/{lid}/join", speaker)
        assert s_ticket["role"] == "listener"
        s = await _connect(s_ticket)
        rooms.append(s)
        sid_before = s.local_participant.sid
        o = rtc.Room()
        o_subs = EventWaiter(o, "track_subscribed")
        o_gone = EventWaiter(o, "disconnected")
        await asyncio.wait_for(o.connect(*(lambda t: (t["url"], t["token"]))(await api.ok("POST", f"/api/v1/live/{lid}/join", other))), 30)
        rooms.append(o)
        await o_subs.wait(lambda t, p, part: part.identity == host_id, timeout=20)

        # a listener cannot publish before the stage
        early = Publisher(s)
        published = True
        try:
            await asyncio.wait_for(early.publish_tone(freq=880), 8)
        except Exception:
            published = False
        await early.stop()
        assert not published, "a listener published before going on stage"

        stage = await _until_ok(api, "PUT", f"/api/v1/live/{lid}/hand", speaker)
        assert [x["userId"] for x in stage["hands"]] == [speaker_id], stage
        await api.ok("POST", f"/api/v1/live/{lid}/stage/{speaker_id}/invite", host)
        stage = await api.ok("POST", f"/api/v1/live/{lid}/stage/invite/accept", speaker)
        assert {"userId": speaker_id, "role": "speaker"} in stage["roles"], stage

        # same connection, now allowed to publish: others hear it
        sp = Publisher(s)
        pubs.append(sp)
        for attempt in range(20):
            try:
                await asyncio.wait_for(sp.publish_tone(freq=880), 8)
                break
            except Exception:
                await sp.stop()
                await asyncio.sleep(0.25)
        else:
            raise AssertionError("the speaker could not publish after accepting")
        assert s.local_participant.sid == sid_before, "the speaker reconnected"
        track, _, part = await o_subs.wait(lambda t, p, part: part.identity == speaker_id, timeout=20)
        assert part.sid == sid_before
        level = rms(await collect_audio(track, seconds=0.5, skip_seconds=0.3, timeout=20))
        assert level > 300, f"the speaker is not heard (rms {level:.0f})"

        # kick disconnects
        await api.ok("POST", f"/api/v1/live/{lid}/participants/{other_id}/kick", host, {"reason": "test"})
        await o_gone.wait(timeout=10)
        log = await api.ok("GET", f"/api/v1/live/{lid}/moderation-log", host)
        assert [(e["action"], e["targetId"], e["reason"]) for e in log] == [("kick", other_id, "test")], log
    finally:
        for p in pubs:
            await p.stop()
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)


async def test_subscribers_bans_and_chat(control):  # noqa: F811
    server, api, http = control
    host, host_id = await api.register("subhost")
    fan, fan_id = await api.register("subfan")
    await api.ok("PATCH", "/api/v1/users/@me", host, {"isCreator": True, "subscriptionPriceCoins": 15})
    live = await api.ok("POST", "/api/v1/live", host, {"kind": "video_live", "title": "Fans", "access": "subscribers_only"}, status=201)
    lid = live["id"]
    await api.ok("POST", f"/api/v1/live/{lid}/start", host)
    gw = await Gateway(http, server.http_url, fan).start()
    rooms, pub = [], None
    try:
        h = await _connect(await api.ok("POST", f"/api/v1/live/{lid}/join", host))
        rooms.append(h)
        pub = Publisher(h)
        await pub.publish_tone()
        status, err = await api.call("POST", f"/api/v1/live/{lid}/join", fan)
        assert (status, err["code"]) == (403, "subscription_required"), (status, err)
        await api.ok("POST", "/api/v1/wallet/topups", fan, {"amount": 20})
        sub = await api.ok("PUT", f"/api/v1/creators/{host_id}/subscription", fan, status=201)
        assert sub["balance"] == 5, sub
        v = rtc.Room()
        subs = EventWaiter(v, "track_subscribed")
        v_gone = EventWaiter(v, "disconnected")
        ticket = await api.ok("POST", f"/api/v1/live/{lid}/join", fan)
        await asyncio.wait_for(v.connect(ticket["url"], ticket["token"]), 30)
        rooms.append(v)
        await subs.wait(lambda t, p, part: part.identity == host_id, timeout=20)

        # the gateway events go to those in the room: wait until the media plane says so
        for _ in range(100):
            if (await api.ok("GET", f"/api/v1/live/{lid}", fan))["viewerCount"] == 1:
                break
            await asyncio.sleep(0.1)
        # chat in order, over the gateway; a deleted message disappears
        sent = []
        for text in ("first", "second", "third"):
            m = await api.ok("POST", f"/api/v1/live/{lid}/messages", fan, {"content": text}, status=201)
            sent.append(m["id"])
        deadline = asyncio.get_running_loop().time() + 10
        while asyncio.get_running_loop().time() < deadline:
            got = [e["d"]["content"] for e in gw.events if e["t"] == "LIVE_MESSAGE_CREATE"]
            if len(got) == 3:
                break
            await asyncio.sleep(0.05)
        assert got == ["first", "second", "third"], got
        status, _ = await api.call("DELETE", f"/api/v1/live/{lid}/messages/{sent[1]}", host, {"reason": "test"})
        assert status == 204
        while asyncio.get_running_loop().time() < deadline:
            if any(e["t"] == "LIVE_MESSAGE_DELETE" and e["d"]["id"] == sent[1] for e in gw.events):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("no LIVE_MESSAGE_DELETE")
        listed = await api.ok("GET", f"/api/v1/live/{lid}/messages", fan)
        assert [m["content"] for m in listed] == ["first", "third"], listed

        # a ban disconnects now and refuses later
        await api.ok("PUT", f"/api/v1/live/{lid}/bans/{fan_id}", host, {"reason": "test"})
        await v_gone.wait(timeout=10)
        status, err = await api.call("POST", f"/api/v1/live/{lid}/join", fan)
        assert (status, err["code"]) == (403, "banned"), (status, err)
    finally:
        await gw.close()
        if pub:
            await pub.stop()
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)



async def test_joining_a_live_moves_a_voice_channel_member_into_it(control):  # noqa: F811
    """A live is a media session: Bob, in a voice channel through his media session (Ali in it
    too), joins a live as a viewer: his channel media ends (his voice state is gone on Ali's
    gateway, his channel room disconnects, his own window is told it was replaced) and his media
    session is the live, which he hears; leaving the live ends it."""
    from test_calls import Conn, command, connect_media
    from test_control_voice import community_with_voice

    server, api, http = control
    host, host_id = await api.register("livehost")
    bob, bob_id = await api.register("voicebob")
    ali, ali_id = await api.register("voiceali")
    _, channel = await community_with_voice(api, ali, [bob])
    await api.ok("PATCH", "/api/v1/users/@me", host, {"isCreator": True})
    live = await api.ok("POST", "/api/v1/live", host, {"kind": "video_live", "title": "Show", "access": "public"}, status=201)
    lid = live["id"]
    await api.ok("POST", f"/api/v1/live/{lid}/start", host)
    conns, rooms, pub = [], [], None
    try:
        b_main = await Conn(http, server.http_url, bob, "main").start()
        a_gw = await Gateway(http, server.http_url, ali).start()
        conns += [b_main, a_gw]
        rooms.append(await _connect(await api.ok("POST", f"/api/v1/channels/{channel}/voice/join", ali)))
        await command(api, bob, {"type": "join_channel", "channelId": channel, "connectionId": b_main.id})
        vc = await connect_media(await b_main.wait("MEDIA_SESSION_CONNECT", lambda d: d["room"] == f"vc_{channel}"))
        rooms.append(vc)
        vc_gone = EventWaiter(vc, "disconnected")
        await a_gw.wait_voice(bob_id, channel, timeout=10)
        s = await api.ok("GET", "/api/v1/users/@me/media-session", bob)
        assert s["type"] == "server-voice", s

        h = await _connect(await api.ok("POST", f"/api/v1/live/{lid}/join", host))
        rooms.append(h)
        pub = Publisher(h)
        await pub.publish_tone()

        ticket = await api.ok("POST", f"/api/v1/live/{lid}/join", bob, {"connectionId": b_main.id})
        assert ticket["role"] == "viewer"
        # the channel's media session ended cleanly, each party told
        replaced = await b_main.wait("MEDIA_SESSION_REPLACED")
        assert replaced["previous"] == "server-voice", replaced
        took = await a_gw.wait_voice(bob_id, None, timeout=10)
        print(f"Bob's voice state gone on Ali's gateway after {took*1000:.0f} ms")
        await vc_gone.wait(timeout=10)
        states = await api.ok("GET", f"/api/v1/channels/{channel}/voice", ali)
        assert [x["userId"] for x in states] == [ali_id], states
        # the live is Bob's media session; its owner is told to connect to the live room
        connect = await b_main.wait("MEDIA_SESSION_CONNECT", lambda d: d["room"] == f"live_{lid}")
        assert connect["role"] == "viewer", connect
        s = await api.ok("GET", "/api/v1/users/@me/media-session", bob)
        assert (s["type"], s["context"].get("liveId"), s["owner"]["connectionId"]) == ("live-stream", lid, b_main.id), s
        v = rtc.Room()
        subs = EventWaiter(v, "track_subscribed")
        await asyncio.wait_for(v.connect(connect["url"], connect["token"]), 30)
        rooms.append(v)
        track, _, _ = await subs.wait(lambda t, p, part: part.identity == host_id, timeout=20)
        level = rms(await collect_audio(track, seconds=0.5, skip_seconds=0.3, timeout=20))
        assert level > 300, f"the viewer does not hear the host (rms {level:.0f})"
        for _ in range(50):
            s = await api.ok("GET", "/api/v1/users/@me/media-session", bob)
            if s["connection"] == "connected":
                break
            await asyncio.sleep(0.1)
        assert s["connection"] == "connected", s

        # leaving the live ends the session and the room
        v_gone = EventWaiter(v, "disconnected")
        status, _ = await api.call("POST", f"/api/v1/live/{lid}/leave", bob)
        assert status == 204
        await v_gone.wait(timeout=10)
        s = await b_main.wait("MEDIA_SESSION_UPDATE", lambda d: d["type"] == "idle")
        assert s["context"] == {}, s
    finally:
        if pub:
            await pub.stop()
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)
        for c in conns:
            await c.close()
