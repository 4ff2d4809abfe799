"""What the server decided stays true in live media, not only when a ticket is issued (the
outside probe's media findings): removed members cannot come back with old tickets and are
removed at once when they join anyway; server mute persists across rejoins; audio and video
carry only their own sources (LiveKit's NOT_ALLOWED); permission changes reach people already in
voice; the user limit holds when participants actually join; refreshed tokens carry current
grants.

Runs `xcord serve --dev` (control plane + embedded SFU) in the test namespace, with the official
Python SDK as the client and a raw signal connection where the wire answer itself is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.parse

import aiohttp
import jwt
import pytest
from livekit import api as lkapi
from livekit import rtc
from livekit.protocol import models
from livekit.protocol import rtc as proto

from lkutil import EventWaiter, Publisher, run_tone
from test_control_voice import Api, Gateway, community_with_voice, join_voice
from xcord_server import XcordServer


@pytest.fixture
async def control():
    server = XcordServer("voicesec", [], command=["serve", "--dev"])
    async with server, aiohttp.ClientSession() as http:
        yield server, Api(http, server.http_url), http


def grants(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})["video"]


async def ticket(api: Api, token: str, channel: str) -> dict:
    return await api.ok("POST", f"/api/v1/channels/{channel}/voice/join", token)


async def voice_users(api: Api, token: str, channel: str) -> list[str]:
    return [s["userId"] for s in await api.ok("GET", f"/api/v1/channels/{channel}/voice", token)]


async def everyone_role(api: Api, owner: str, community: str) -> dict:
    roles = await api.ok("GET", f"/api/v1/communities/{community}/roles", owner)
    return next(r for r in roles if r["isEveryone"])


async def set_everyone(api: Api, owner: str, community: str, drop: set[str]) -> None:
    role = await everyone_role(api, owner, community)
    perms = [p for p in role["permissions"] if p not in drop]
    await api.ok("PATCH", f"/api/v1/communities/{community}/roles/{role['id']}", owner, {"permissions": perms})


async def connect_refused(t: dict) -> str:
    room = rtc.Room()
    try:
        with pytest.raises(Exception) as e:
            await asyncio.wait_for(room.connect(t["url"], t["token"]), 20)
        return str(e.value)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(room.disconnect(), 5)


class Signal:
    """A raw LiveKit signal connection (protocol v0): sends requests, collects responses."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str):
        q = urllib.parse.urlencode({"access_token": token, "protocol": "15", "auto_subscribe": "1", "sdk": "python"})
        self.http, self.url = http, f"{url}/rtc?{q}"
        self.responses: list[proto.SignalResponse] = []
        self._task = None

    async def start(self) -> "Signal":
        self.ws = await self.http.ws_connect(self.url)
        self._task = asyncio.create_task(self._read())
        await self.wait("join")
        return self

    async def _read(self):
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                r = proto.SignalResponse()
                r.ParseFromString(msg.data)
                self.responses.append(r)

    async def send(self, **kw):
        await self.ws.send_bytes(proto.SignalRequest(**kw).SerializeToString())

    async def wait(self, kind: str, pred=lambda m: True, timeout: float = 5.0, after: int = 0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in self.responses[after:]:
                if r.WhichOneof("message") == kind and pred(getattr(r, kind)):
                    return getattr(r, kind)
            await asyncio.sleep(0.02)
        kinds = [r.WhichOneof("message") for r in self.responses]
        raise AssertionError(f"no {kind} response within {timeout}s; got {kinds}")

    async def close(self):
        if self._task:
            self._task.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()


async def test_removed_members_stay_out_and_outsiders_are_removed_at_once(control):
    server, api, http = control
    alice, alice_id = await api.register("alice")
    bob, bob_id = await api.register("bob")
    carol, carol_id = await api.register("carol")
    community, channel = await community_with_voice(api, alice, [bob, carol])
    gw = await Gateway(http, server.http_url, alice).start()
    rooms = []
    try:
        # a ticket taken before a kick does not bring the member back (it is valid 10 more minutes)
        old = await ticket(api, bob, channel)
        b = rtc.Room()
        b_gone = EventWaiter(b, "disconnected")
        rooms.append(await join_voice(api, bob, channel, b))
        await gw.wait_voice(bob_id, channel, timeout=2.0)
        await api.ok("DELETE", f"/api/v1/communities/{community}/members/{bob_id}", alice, status=204)
        await b_gone.wait(timeout=10)
        await gw.wait_voice(bob_id, None, timeout=5.0)
        err = await connect_refused(old)
        print(f"kicked member's old ticket refused: {err}")
        status, body = await asyncio.to_thread(_validate, server.url, old["token"])
        assert (status, body) == (401, "participant was removed from this room"), (status, body)

        # banned the same way
        old = await ticket(api, carol, channel)
        await api.ok("PUT", f"/api/v1/communities/{community}/bans/{carol_id}", alice, status=201)
        await connect_refused(old)
        assert carol_id not in await voice_users(api, alice, channel)

        # a token the control plane never issued (the API key holder's, as a leaked or replayed
        # credential would be) for someone who is not a member: they are removed at once and never
        # get a voice state
        outsider, outsider_id = await api.register("mallory")
        forged = (
            lkapi.AccessToken("devkey", "secret")
            .with_identity(outsider_id)
            .with_grants(lkapi.VideoGrants(room_join=True, room=f"vc_{channel}"))
            .to_jwt()
        )
        took = await kept_out(old["url"], forged)
        print(f"an outsider's join undone after {took * 1000:.0f} ms")
        assert outsider_id not in await voice_users(api, alice, channel)
        assert not any(e["t"] == "VOICE_STATE_UPDATE" and e["d"]["userId"] == outsider_id for e in gw.events), "an outsider's voice state was announced"
    finally:
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)
        await gw.close()


async def kept_out(url: str, token: str, limit: float = 3.0) -> float:
    """Connects with a token the server will not honour: the SDK fails to connect (refused at
    the door) or is disconnected, within `limit` seconds. Returns how long it took."""
    room = rtc.Room()
    gone = EventWaiter(room, "disconnected")
    start = time.monotonic()
    try:
        await asyncio.wait_for(room.connect(url, token), 20)
    except rtc.ConnectError as e:
        print(f"connect refused: {e}")
    else:
        await gone.wait(timeout=limit)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(room.disconnect(), 5)
    took = time.monotonic() - start
    assert took < limit, f"the participant stayed {took:.1f} s"
    await asyncio.sleep(0.3)
    return took


def _validate(url: str, token: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    u = url.replace("ws://", "http://") + "/rtc/validate?" + urllib.parse.urlencode({"access_token": token})
    try:
        with urllib.request.urlopen(u, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def test_server_mute_persists_across_rejoins(control):
    server, api, http = control
    alice, alice_id = await api.register("alice")
    bob, bob_id = await api.register("bob")
    _, channel = await community_with_voice(api, alice, [bob])
    t = await ticket(api, bob, channel)
    assert "microphone" in grants(t["token"])["canPublishSources"]
    b = await join_voice(api, bob, channel)
    for _ in range(100):
        if bob_id in await voice_users(api, alice, channel):
            break
        await asyncio.sleep(0.05)
    await api.ok("POST", f"/api/v1/channels/{channel}/voice/members/{bob_id}/mute", alice, {"muted": True})
    await asyncio.wait_for(b.disconnect(), 5)

    # leave and come back: the new ticket has no microphone and the state says serverMute
    for _ in range(100):
        if bob_id not in await voice_users(api, alice, channel):
            break
        await asyncio.sleep(0.05)
    t = await ticket(api, bob, channel)
    assert "microphone" not in grants(t["token"])["canPublishSources"], grants(t["token"])
    b = await join_voice(api, bob, channel)
    try:
        states = {}
        for _ in range(100):
            states = {s["userId"]: s for s in await api.ok("GET", f"/api/v1/channels/{channel}/voice", alice)}
            if bob_id in states:
                break
            await asyncio.sleep(0.05)
        assert states[bob_id]["serverMute"] is True, states
        pub = Publisher(b)
        with pytest.raises(Exception):
            await asyncio.wait_for(pub.publish_tone(), 15)
        await pub.stop()
    finally:
        await asyncio.wait_for(b.disconnect(), 5)

    # lifted (by a moderator, while bob is in voice): the next ticket has the microphone again
    b = await join_voice(api, bob, channel)
    try:
        for _ in range(100):
            if bob_id in await voice_users(api, alice, channel):
                break
            await asyncio.sleep(0.05)
        await api.ok("POST", f"/api/v1/channels/{channel}/voice/members/{bob_id}/mute", alice, {"muted": False})
    finally:
        await asyncio.wait_for(b.disconnect(), 5)
    assert "microphone" in grants((await ticket(api, bob, channel))["token"])["canPublishSources"]


async def test_refreshed_tokens_carry_current_grants(control):
    """When the server changes a participant's permission, the SFU sends a refresh token that
    says so at once (a reconnect with the old one would restore the old rights)."""
    server, api, http = control
    room = "grants-" + str(int(time.time() * 1000))
    token = (
        lkapi.AccessToken("devkey", "secret")
        .with_identity("pat")
        .with_grants(lkapi.VideoGrants(room_join=True, room=room, can_publish_sources=["microphone", "camera"]))
        .to_jwt()
    )
    sig = await Signal(http, server.url, token).start()
    try:
        before = len(sig.responses)
        async with lkapi.LiveKitAPI(server.http_url, "devkey", "secret") as lk:
            await lk.room.update_participant(
                lkapi.UpdateParticipantRequest(
                    room=room,
                    identity="pat",
                    permission=models.ParticipantPermission(
                        can_publish=True, can_subscribe=True, can_publish_sources=[models.TrackSource.CAMERA]
                    ),
                )
            )
        refreshed = await sig.wait("refresh_token", after=before, timeout=3)
        g = grants(refreshed)
        assert g["canPublishSources"] == ["camera"] and g["room"] == room and g["roomJoin"], g
        assert jwt.decode(refreshed, options={"verify_signature": False})["sub"] == "pat"
    finally:
        await sig.close()


async def test_tracks_carry_only_their_own_sources(control):
    """An audio track declared as `camera` would pass a server mute (the permission checked is
    the declared source's); a member without VIDEO could publish video declared as `microphone`.
    Both are refused with NOT_ALLOWED, on the wire and in the SDK."""
    server, api, http = control
    alice, alice_id = await api.register("alice")
    bob, bob_id = await api.register("bob")
    community, channel = await community_with_voice(api, alice, [bob])
    rooms = []
    sig = None
    try:
        t = await ticket(api, bob, channel)
        sig = await Signal(http, server.url, t["token"]).start()
        for cid, kind, source in [
            ("a-as-cam", models.TrackType.AUDIO, models.TrackSource.CAMERA),
            ("a-as-screen", models.TrackType.AUDIO, models.TrackSource.SCREEN_SHARE),
            ("v-as-mic", models.TrackType.VIDEO, models.TrackSource.MICROPHONE),
            ("v-as-unknown", models.TrackType.VIDEO, models.TrackSource.UNKNOWN),
        ]:
            await sig.send(add_track=proto.AddTrackRequest(cid=cid, name=cid, type=kind, source=source))
            rr = await sig.wait("request_response", lambda r, cid=cid: r.add_track.cid == cid)
            assert rr.reason == proto.RequestResponse.NOT_ALLOWED, (cid, rr)
        assert not any(r.WhichOneof("message") == "track_published" for r in sig.responses)
        await sig.send(add_track=proto.AddTrackRequest(cid="mic", name="mic", type=models.TrackType.AUDIO, source=models.TrackSource.MICROPHONE))
        published = await sig.wait("track_published", lambda r: r.cid == "mic")
        assert published.track.source == models.TrackSource.MICROPHONE
        await sig.close()
        sig = None

        # the SDK: server-muted bob publishes his tone declared as a camera; nobody hears it
        a = rtc.Room()
        subs = EventWaiter(a, "track_subscribed")
        rooms.append(await join_voice(api, alice, channel, a))
        b = await join_voice(api, bob, channel)
        rooms.append(b)
        for _ in range(100):
            if bob_id in await voice_users(api, alice, channel):
                break
            await asyncio.sleep(0.05)
        await api.ok("POST", f"/api/v1/channels/{channel}/voice/members/{bob_id}/mute", alice, {"muted": True})
        source = rtc.AudioSource(48000, 1)
        tone = asyncio.create_task(run_tone(source))
        try:
            track = rtc.LocalAudioTrack.create_audio_track("sneaky", source)
            with pytest.raises(Exception):
                await asyncio.wait_for(
                    b.local_participant.publish_track(track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA)), 15
                )
        finally:
            tone.cancel()
        await asyncio.sleep(0.5)
        assert not subs.matching(lambda t, p, part: part.identity == bob_id), "alice subscribed to a muted member's track"

        # a member without VIDEO cannot publish video declared as a microphone either
        await set_everyone(api, alice, community, {"VIDEO"})
        await api.ok("POST", f"/api/v1/channels/{channel}/voice/members/{bob_id}/mute", alice, {"muted": False})
        vsrc = rtc.VideoSource(320, 240)
        vtrack = rtc.LocalVideoTrack.create_video_track("sneaky-video", vsrc)
        with pytest.raises(Exception):
            await asyncio.wait_for(
                b.local_participant.publish_track(vtrack, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)), 15
            )
        await asyncio.sleep(0.5)
        assert not subs.matching(lambda t, p, part: part.identity == bob_id and t.kind == rtc.TrackKind.KIND_VIDEO)
    finally:
        if sig:
            await sig.close()
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)


async def test_permission_changes_reach_people_already_in_voice(control):
    server, api, http = control
    alice, alice_id = await api.register("alice")
    bob, bob_id = await api.register("bob")
    community, channel = await community_with_voice(api, alice, [bob])
    gw = await Gateway(http, server.http_url, alice).start()
    rooms = []
    bob_pub = None
    try:
        a = rtc.Room()
        unpublished = EventWaiter(a, "track_unpublished")
        subs = EventWaiter(a, "track_subscribed")
        rooms.append(await join_voice(api, alice, channel, a))
        b = rtc.Room()
        b_gone = EventWaiter(b, "disconnected")
        rooms.append(await join_voice(api, bob, channel, b))
        bob_pub = Publisher(b)
        pub = await bob_pub.publish_tone()
        await subs.wait(lambda t, p, part: part.identity == bob_id, timeout=20)

        # SPEAK taken from @everyone: bob's microphone goes, bob stays
        start = time.monotonic()
        await set_everyone(api, alice, community, {"SPEAK"})
        await unpublished.wait(lambda p, part: part.identity == bob_id and p.sid == pub.sid, timeout=5)
        print(f"microphone unpublished {1000 * (time.monotonic() - start):.0f} ms after SPEAK was taken")
        assert not b_gone.seen
        for _ in range(50):
            if rtc.TrackSource.SOURCE_MICROPHONE not in b.local_participant.permissions.can_publish_sources:
                break
            await asyncio.sleep(0.05)
        assert rtc.TrackSource.SOURCE_MICROPHONE not in b.local_participant.permissions.can_publish_sources

        # CONNECT taken: bob is removed, and his voice state with him
        start = time.monotonic()
        await set_everyone(api, alice, community, {"SPEAK", "CONNECT"})
        await b_gone.wait(timeout=5)
        await gw.wait_voice(bob_id, None, timeout=5.0)
        print(f"removed {1000 * (time.monotonic() - start):.0f} ms after CONNECT was taken")
        assert alice_id in [s["userId"] for s in await api.ok("GET", f"/api/v1/channels/{channel}/voice", alice)], "the owner was removed too"
    finally:
        if bob_pub:
            await bob_pub.stop()
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)
        await gw.close()


async def test_the_user_limit_holds_when_participants_join(control):
    """Two tickets for a one-person channel, both issued while it was empty: the second to join
    is removed (and its ticket refused); once there is room, a new ticket gets in."""
    server, api, http = control
    alice, alice_id = await api.register("alice")
    bob, bob_id = await api.register("bob")
    carol, carol_id = await api.register("carol")
    community, _ = await community_with_voice(api, alice, [bob, carol])
    ch = await api.ok("POST", f"/api/v1/communities/{community}/channels", alice, {"name": "Booth", "kind": "voice", "userLimit": 1}, status=201)
    channel = ch["id"]
    gw = await Gateway(http, server.http_url, alice).start()
    rooms = []
    try:
        tb = await ticket(api, bob, channel)
        tc = await ticket(api, carol, channel)
        b = rtc.Room()
        await asyncio.wait_for(b.connect(tb["url"], tb["token"]), 20)
        rooms.append(b)
        await gw.wait_voice(bob_id, channel, timeout=3.0)
        took = await kept_out(tc["url"], tc["token"])
        print(f"a join beyond the user limit undone after {took * 1000:.0f} ms")
        assert await voice_users(api, alice, channel) == [bob_id]
        status, err = await api.call("POST", f"/api/v1/channels/{channel}/voice/join", carol)
        assert (status, err["code"]) == (403, "channel_full"), (status, err)

        await asyncio.wait_for(b.disconnect(), 5)
        await gw.wait_voice(bob_id, None, timeout=5.0)
        # the refused ticket stays refused; a new one, issued by the rules, gets in
        await asyncio.sleep(1.0)
        tc = await ticket(api, carol, channel)
        c2 = rtc.Room()
        await asyncio.wait_for(c2.connect(tc["url"], tc["token"]), 20)
        rooms.append(c2)
        await gw.wait_voice(carol_id, channel, timeout=3.0)
    finally:
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)
        await gw.close()


async def test_two_joins_racing_for_the_last_place_leave_one(control):
    """Both tickets pass every check at the door at the same moment (nobody is inside yet); when
    both participants become active, the control plane keeps the first and removes the second
    (the check on `participant_joined`, the one a remote media plane relies on)."""
    server, api, http = control
    alice, alice_id = await api.register("alice")
    bob, bob_id = await api.register("bob")
    carol, carol_id = await api.register("carol")
    community, _ = await community_with_voice(api, alice, [bob, carol])
    ch = await api.ok("POST", f"/api/v1/communities/{community}/channels", alice, {"name": "Booth", "kind": "voice", "userLimit": 1}, status=201)
    channel = ch["id"]
    tickets = [await ticket(api, bob, channel), await ticket(api, carol, channel)]
    rooms = [rtc.Room(), rtc.Room()]
    try:
        results = await asyncio.gather(
            *(asyncio.wait_for(r.connect(t["url"], t["token"]), 40) for r, t in zip(rooms, tickets)),
            return_exceptions=True,
        )
        print(f"racing joins: {results}")
        deadline = time.monotonic() + 25
        inside = []
        while time.monotonic() < deadline:
            inside = await voice_users(api, alice, channel)
            connected = [r for r in rooms if r.connection_state == rtc.ConnectionState.CONN_CONNECTED]
            if len(inside) == 1 and len(connected) == 1:
                break
            await asyncio.sleep(0.1)
        assert len(inside) == 1 and inside[0] in (bob_id, carol_id), inside
        connected = [r for r in rooms if r.connection_state == rtc.ConnectionState.CONN_CONNECTED]
        assert len(connected) == 1, "both racing participants stayed connected"
        await asyncio.sleep(1.0)
        assert len(await voice_users(api, alice, channel)) == 1
    finally:
        for r in rooms:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(r.disconnect(), 5)
