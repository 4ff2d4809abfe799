"""Join-latency metric (not a pass/fail test): run with `tests/e2e/run.sh measure`.

A publisher joins a room and publishes a 440 Hz tone. Then N (default 20) listeners join the
same room one after another. For each join we measure, from the moment `Room.connect()` is
called:
  * join time:        until `connect()` returns;
  * first audio time: until the first audible audio frame of the publisher's track arrives
                      (frames are read through rtc.AudioStream; all-silent frames produced by the
                      receiver before any packet arrived do not count).
Prints every sample and p50/p90 of both (nearest-rank percentiles), and one JSON line.
Exit status 1 if any join failed or no audio arrived.

With `--compare-v1` it starts two extra servers itself (xcord_server.py): one serving signal
protocol v1 (the default) and one with `--no-signal-v1`, where the SDK's `/rtc/v1` attempt gets
a 404 and it falls back to `/rtc` (v0). Each gets its own publisher; the listeners' joins
alternate between the two servers (v1, v0, v1, ...) so that load changes on the machine hit both
alike, and the two results are printed side by side (one JSON line each).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time

import numpy as np
from livekit import rtc

from lkutil import URL, Publisher, disconnect_all, make_token, unique_room


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


async def one_join(url: str, room_name: str, i: int, timeout: float) -> tuple[float, float]:
    room = rtc.Room()
    first_audio: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    readers: list[asyncio.Task] = []

    async def read(track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=48000, num_channels=1)
        try:
            async for ev in stream:
                data = np.frombuffer(ev.frame.data, dtype=np.int16)
                if len(data) and np.abs(data).max() > 1000:  # the tone peaks at ~9800
                    if not first_audio.done():
                        first_audio.set_result(time.perf_counter())
                    return
        finally:
            await stream.aclose()

    @room.on("track_subscribed")
    def _on(track, pub, participant):
        if track.kind == rtc.TrackKind.KIND_AUDIO and participant.identity == "publisher":
            readers.append(asyncio.create_task(read(track)))

    token = make_token(f"listener-{i}", room_name)
    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(room.connect(url, token), timeout)
        t_join = time.perf_counter() - t0
        t_audio = await asyncio.wait_for(first_audio, timeout) - t0
        return t_join, t_audio
    finally:
        for t in readers:
            t.cancel()
        await disconnect_all(room)


class Target:
    """One server under measurement: its publisher and the samples taken against it."""

    def __init__(self, name: str, url: str):
        self.name = name
        self.url = url
        self.room_name = unique_room(f"measure-{name}")
        self.pub_room: rtc.Room | None = None
        self.pub: Publisher | None = None
        self.joins: list[float] = []
        self.audios: list[float] = []
        self.failures = 0

    async def start(self) -> None:
        self.pub_room = rtc.Room()
        await asyncio.wait_for(self.pub_room.connect(self.url, make_token("publisher", self.room_name)), 30)
        self.pub = Publisher(self.pub_room)
        await self.pub.publish_tone()

    async def stop(self) -> None:
        if self.pub:
            await self.pub.stop()
        await disconnect_all(self.pub_room)

    async def sample(self, i: int, timeout: float) -> None:
        try:
            tj, ta = await one_join(self.url, self.room_name, i, timeout)
        except Exception as e:  # noqa: BLE001 - report and continue
            self.failures += 1
            print(f"{self.name} join {i + 1:2d}: FAILED: {type(e).__name__}: {e}", flush=True)
            return
        self.joins.append(tj)
        self.audios.append(ta)
        print(f"{self.name} join {i + 1:2d}: join {tj * 1000:7.1f} ms   first audio {ta * 1000:7.1f} ms", flush=True)

    def report(self) -> dict:
        joins, audios = self.joins, self.audios
        if joins:
            print(
                f"{self.name} join time:        p50 {pct(joins, 50) * 1000:.1f} ms  p90 {pct(joins, 90) * 1000:.1f} ms  (n={len(joins)})"
            )
            print(
                f"{self.name} first audio time: p50 {pct(audios, 50) * 1000:.1f} ms  p90 {pct(audios, 90) * 1000:.1f} ms  (n={len(audios)})"
            )
        return {
            "joins": len(joins),
            "failures": self.failures,
            "join_ms_p50": round(pct(joins, 50) * 1000, 1) if joins else None,
            "join_ms_p90": round(pct(joins, 90) * 1000, 1) if joins else None,
            "first_audio_ms_p50": round(pct(audios, 50) * 1000, 1) if audios else None,
            "first_audio_ms_p90": round(pct(audios, 90) * 1000, 1) if audios else None,
        }


async def measure(targets: list[Target], n: int, timeout: float) -> int:
    for t in targets:
        await t.start()
    await asyncio.sleep(1.0)
    try:
        for i in range(n):
            for t in targets:
                await t.sample(i, timeout)
                await asyncio.sleep(0.2)
    finally:
        for t in targets:
            await t.stop()
    ok = True
    for t in targets:
        summary = t.report()
        label = "MEASURE" if len(targets) == 1 else f"MEASURE {t.name}"
        print(f"{label} " + json.dumps(summary), flush=True)
        ok &= bool(t.joins) and not t.failures
    return 0 if ok else 1


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--joins", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument(
        "--compare-v1",
        action="store_true",
        help="measure signal protocol v1 against v0 (--no-signal-v1) on two servers started here",
    )
    args = ap.parse_args()
    if not args.compare_v1:
        return await measure([Target("default", URL)], args.joins, args.timeout)

    from xcord_server import XcordServer

    async with XcordServer("measure-v1") as v1, XcordServer("measure-v0", ["--no-signal-v1"]) as v0:
        return await measure([Target("v1", v1.url), Target("v0", v0.url)], args.joins, args.timeout)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
