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

from lkutil import URL, Publisher, disconnect_all, make_token, connect, unique_room


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


async def one_join(room_name: str, i: int, timeout: float) -> tuple[float, float]:
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
        await asyncio.wait_for(room.connect(URL, token), timeout)
        t_join = time.perf_counter() - t0
        t_audio = await asyncio.wait_for(first_audio, timeout) - t0
        return t_join, t_audio
    finally:
        for t in readers:
            t.cancel()
        await disconnect_all(room)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--joins", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()

    room_name = unique_room("measure")
    pub_room = await connect("publisher", room_name)
    pub = Publisher(pub_room)
    await pub.publish_tone()
    await asyncio.sleep(1.0)

    joins: list[float] = []
    audios: list[float] = []
    failures = 0
    try:
        for i in range(args.joins):
            try:
                tj, ta = await one_join(room_name, i, args.timeout)
            except Exception as e:  # noqa: BLE001 - report and continue
                failures += 1
                print(f"join {i + 1:2d}: FAILED: {type(e).__name__}: {e}", flush=True)
                continue
            joins.append(tj)
            audios.append(ta)
            print(f"join {i + 1:2d}: join {tj * 1000:7.1f} ms   first audio {ta * 1000:7.1f} ms", flush=True)
            await asyncio.sleep(0.2)
    finally:
        await pub.stop()
        await disconnect_all(pub_room)

    if joins:
        print(
            f"join time:        p50 {pct(joins, 50) * 1000:.1f} ms  p90 {pct(joins, 90) * 1000:.1f} ms  (n={len(joins)})"
        )
        print(
            f"first audio time: p50 {pct(audios, 50) * 1000:.1f} ms  p90 {pct(audios, 90) * 1000:.1f} ms  (n={len(audios)})"
        )
    summary = {
        "joins": len(joins),
        "failures": failures,
        "join_ms_p50": round(pct(joins, 50) * 1000, 1) if joins else None,
        "join_ms_p90": round(pct(joins, 90) * 1000, 1) if joins else None,
        "first_audio_ms_p50": round(pct(audios, 50) * 1000, 1) if audios else None,
        "first_audio_ms_p90": round(pct(audios, 90) * 1000, 1) if audios else None,
    }
    print("MEASURE " + json.dumps(summary), flush=True)
    return 0 if joins and not failures else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
