"""Webhooks: each test starts its own xcord server with `--webhook-url` pointing at an aiohttp
receiver inside the test. Every request is validated with the official
`livekit.api.WebhookReceiver(TokenVerifier("devkey", "secret"))`; the receiver can refuse the first
deliveries with 500 to exercise redelivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Optional

import aiohttp
from aiohttp import web
from livekit import api, rtc
from livekit.protocol import rtc as proto_rtc

from lkutil import API_KEY, API_SECRET, Publisher, disconnect_all, make_token, unique_room
from xcord_server import HOST, XcordServer

A = "alice"


class HookReceiver:
    """Records every POST: arrival time, headers, body, the validated event (or the validation
    error), and the status it answered. The first `fail_first` valid deliveries get 500."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.requests: list[dict] = []
        self.receiver = api.WebhookReceiver(api.TokenVerifier(API_KEY, API_SECRET))
        self._runner: Optional[web.AppRunner] = None
        self.url = ""
        self._changed = asyncio.Event()

    async def start(self) -> "HookReceiver":
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{HOST}:{port}/hook"
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        rec = {
            "t": time.monotonic(),
            "content_type": request.headers.get("Content-Type", ""),
            "authorization": request.headers.get("Authorization", ""),
            "raw": raw,
            "event": None,
            "error": None,
        }
        try:
            rec["event"] = self.receiver.receive(raw.decode("utf-8"), rec["authorization"])
        except Exception as e:  # the official receiver refused it
            rec["error"] = f"{type(e).__name__}: {e}"
            rec["status"] = 401
        else:
            valid_before = sum(1 for r in self.requests if r["event"] is not None)
            rec["status"] = 500 if valid_before < self.fail_first else 200
        self.requests.append(rec)
        self._changed.set()
        return web.Response(status=rec["status"], text="refused for the test" if rec["status"] == 500 else "ok")

    def acked(self) -> list[api.WebhookEvent]:
        """Events answered 200, in arrival order."""
        return [r["event"] for r in self.requests if r["status"] == 200]

    async def wait_for(self, pred, what: str, timeout: float) -> api.WebhookEvent:
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.acked():
                if pred(ev):
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for webhook {what}; received: {self.summary()}"
                )
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))

    def summary(self) -> str:
        out = []
        for r in self.requests:
            ev = r["event"]
            name = f"{ev.event}({ev.id})" if ev is not None else f"INVALID[{r['error']}]"
            out.append(f"{name}->{r['status']}")
        return ", ".join(out) or "nothing"


def check_request_shape(receiver: HookReceiver) -> None:
    invalid = [(r["error"], r["raw"][:200]) for r in receiver.requests if r["error"]]
    assert not invalid, f"WebhookReceiver refused deliveries: {invalid!r}"
    for r in receiver.requests:
        assert r["content_type"].split(";")[0].strip() == "application/webhook+json", (
            f"Content-Type {r['content_type']!r}"
        )
        assert not r["authorization"].lower().startswith("bearer"), (
            f"Authorization must be the bare JWT: {r['authorization'][:20]!r}..."
        )


async def test_webhooks_in_order_signed_and_redelivered():
    name = unique_room("wh")
    hooks = await HookReceiver(fail_first=2).start()
    a = None
    pub = None
    try:
        async with XcordServer("webhook", ["--webhook-url", hooks.url]) as srv:
            async with api.LiveKitAPI(srv.http_url, API_KEY, API_SECRET) as lk:
                t_start = time.time()
                created = await lk.room.create_room(api.CreateRoomRequest(name=name, departure_timeout=1))
                await hooks.wait_for(lambda e: e.event == "room_started", "room_started", timeout=15)

                a = rtc.Room()
                await asyncio.wait_for(a.connect(srv.url, make_token(A, name)), 30)
                a_sid = a.local_participant.sid
                pub = Publisher(a)
                apub = await pub.publish_tone()
                await hooks.wait_for(lambda e: e.event == "track_published", "track_published", timeout=15)
                await a.local_participant.unpublish_track(apub.sid)
                await pub.stop()
                await hooks.wait_for(lambda e: e.event == "track_unpublished", "track_unpublished", timeout=15)
                await a.disconnect()
                await hooks.wait_for(lambda e: e.event == "room_finished", "room_finished", timeout=30)
                await asyncio.sleep(1.0)  # anything late or duplicated would show up now
                t_end = time.time()

        print("webhook deliveries:", hooks.summary())
        check_request_shape(hooks)
        reqs = hooks.requests
        assert all(r["event"].room.name == name for r in reqs), "a webhook for another room"

        # redelivery: the first two deliveries were refused with 500; both were the first event,
        # redelivered byte for byte with the same id, and its third delivery was accepted
        statuses = [r["status"] for r in reqs]
        assert statuses[:3] == [500, 500, 200], f"answers {statuses}"
        assert statuses[3:].count(500) == 0
        first = [r["event"] for r in reqs[:3]]
        assert len({e.id for e in first}) == 1, f"a redelivery changed the id: {[e.id for e in first]}"
        assert len({r["raw"] for r in reqs[:3]}) == 1, "a redelivery changed the body"
        gap1, gap2 = reqs[1]["t"] - reqs[0]["t"], reqs[2]["t"] - reqs[1]["t"]
        print(f"retry gaps: {gap1 * 1000:.0f} ms, {gap2 * 1000:.0f} ms")
        assert gap1 >= 0.2 and gap2 >= 0.4, f"redelivery without backoff: gaps {gap1:.3f}s, {gap2:.3f}s"

        # distinct events: grouped by id, every delivery of one id is the same body
        by_id: dict[str, list[dict]] = {}
        for r in reqs:
            by_id.setdefault(r["event"].id, []).append(r)
        for ev_id, group in by_id.items():
            assert len({g["raw"] for g in group}) == 1, f"id {ev_id} was used for different bodies"
            assert [g["status"] for g in group].count(200) == 1, (
                f"{ev_id} ({group[0]['event'].event}) acknowledged {[g['status'] for g in group]}"
            )
        events = [group[0]["event"] for group in by_id.values()]  # dicts keep first-arrival order
        names = [e.event for e in events]
        assert names == [
            "room_started", "participant_joined", "track_published",
            "track_unpublished", "participant_left", "room_finished",
        ], f"events in arrival order: {names}"
        assert len(set(by_id)) == len(events) == 6
        # in order: no event was delivered before the events before it were acknowledged
        order = list(by_id)
        acked: set[str] = set()
        for r in reqs:
            ev_id = r["event"].id
            pending = [by_id[i][0]["event"].event for i in order[: order.index(ev_id)] if i not in acked]
            assert not pending, (
                f"{r['event'].event} delivered while {pending} were not yet acknowledged: {hooks.summary()}"
            )
            if r["status"] == 200:
                acked.add(ev_id)

        for e in events:
            assert e.id.startswith("EV_"), f"{e.event} id {e.id!r}"
            assert t_start - 5 <= e.created_at <= t_end + 5, f"{e.event} createdAt {e.created_at}"
            assert e.room.sid == created.sid, f"{e.event}: room sid {e.room.sid!r}, expected {created.sid}"
        assert [e.created_at for e in events] == sorted(e.created_at for e in events), "createdAt goes backwards"
        ev = dict(zip(names, events))
        for n in ("participant_joined", "track_published", "track_unpublished", "participant_left"):
            assert ev[n].participant.identity == A and ev[n].participant.sid == a_sid, (
                f"{n}: participant {ev[n].participant.identity!r}/{ev[n].participant.sid!r}, expected {A}/{a_sid}"
            )
        for n in ("track_published", "track_unpublished"):
            assert ev[n].track.sid == apub.sid and ev[n].track.type == api.TrackType.AUDIO, f"{n}: track {ev[n].track!r}"
    finally:
        if pub:
            await pub.stop()
        await disconnect_all(a)
        await hooks.stop()


async def test_webhook_participant_connection_aborted():
    """A signal-only join (the WebSocket gets its JoinResponse, no media connection is ever made)
    ends in participant_connection_aborted, never participant_joined."""
    name = unique_room("wh-abort")
    ident = "ghost"
    hooks = await HookReceiver().start()
    try:
        async with XcordServer("webhook-abort", ["--webhook-url", hooks.url]) as srv:
            params = {"access_token": make_token(ident, name), "auto_subscribe": "1", "sdk": "python", "protocol": "16"}
            async with aiohttp.ClientSession() as s:
                async with s.ws_connect(f"{srv.url}/rtc", params=params, timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
                    msg = await asyncio.wait_for(ws.receive(), 10)
                    assert msg.type == aiohttp.WSMsgType.BINARY, f"first signal message: {msg!r}"
                    resp = proto_rtc.SignalResponse.FromString(msg.data)
                    assert resp.WhichOneof("message") == "join", f"first signal message is {resp.WhichOneof('message')}"
                    ghost_sid = resp.join.participant.sid
                    assert resp.join.participant.identity == ident
            # the socket is closed without any offer, ICE or DTLS
            aborted = await hooks.wait_for(
                lambda e: e.event == "participant_connection_aborted", "participant_connection_aborted", timeout=20
            )
            await asyncio.sleep(1.5)

        print("webhook deliveries:", hooks.summary())
        check_request_shape(hooks)
        assert aborted.participant.identity == ident and aborted.participant.sid == ghost_sid, (
            f"aborted participant {aborted.participant.identity!r}/{aborted.participant.sid!r}, "
            f"expected {ident}/{ghost_sid}"
        )
        assert aborted.room.name == name
        names = [e.event for e in hooks.acked()]
        assert "participant_joined" not in names, f"participant_joined for a participant that never connected: {names}"
        assert names.index("room_started") < names.index("participant_connection_aborted"), names
        assert names.count("participant_connection_aborted") == 1, names
        ids = [e.id for e in hooks.acked()]
        assert len(set(ids)) == len(ids), f"ids not unique: {ids}"
    finally:
        await hooks.stop()
