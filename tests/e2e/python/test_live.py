"""Live broadcasts with the Python SDK: a creator's public session; the host streams a tone and a
viewer hears it, while the host's room never lists the viewer and the viewer cannot publish;
joining before the start is refused, and ending the session disconnects everyone."""

from __future__ import annotations

import asyncio
import contextlib

from livekit import rtc

from lkutil import EventWaiter, Publisher, collect_audio, rms
from test_control_voice import control  # noqa: F401  (the fixture)


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
