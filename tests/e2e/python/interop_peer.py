"""Python SDK participant for the browser interop test (driven by tests/e2e/node/browser/browser.test.mjs).

Joins ROOM as IDENTITY, publishes a 440 Hz tone, and for every identity given with --listen
reports (one JSON line on stdout) whether it receives audible audio from that participant's
microphone track. Runs until stdin closes (or --max-seconds pass), then disconnects.

stdout lines:  {"event": "ready"}
               {"event": "audio", "from": ID, "frames": N, "peak": P, "rms": R}
               {"event": "error", "message": ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import numpy as np
from livekit import rtc

from lkutil import Publisher, disconnect_all, join, rms


def emit(**kw) -> None:
    print(json.dumps(kw), flush=True)


async def listen(track: rtc.Track, identity: str, timeout: float) -> None:
    stream = rtc.AudioStream(track, sample_rate=48000, num_channels=1)
    frames = 0
    peak = 0
    best_rms = 0.0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        async for ev in stream:
            frames += 1
            data = np.frombuffer(ev.frame.data, dtype=np.int16)
            peak = max(peak, int(np.abs(data).max()) if len(data) else 0)
            best_rms = max(best_rms, rms(data))
            # Chromium's fake microphone beeps periodically; a few audible frames are enough
            if best_rms > 300 or loop.time() > deadline:
                break
    finally:
        await stream.aclose()
    emit(event="audio", **{"from": identity}, frames=frames, peak=peak, rms=round(best_rms, 1))


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--room", required=True)
    ap.add_argument("--identity", default="py-peer")
    ap.add_argument("--listen", action="append", default=[])
    ap.add_argument("--max-seconds", type=float, default=150)
    args = ap.parse_args()

    room = rtc.Room()
    tasks: list[asyncio.Task] = []

    @room.on("track_subscribed")
    def _on(track, publication, participant):
        if track.kind == rtc.TrackKind.KIND_AUDIO and participant.identity in args.listen:
            tasks.append(asyncio.create_task(listen(track, participant.identity, 30)))

    pub = None
    try:
        await join(room, args.identity, args.room)
        pub = Publisher(room)
        await pub.publish_tone()
        emit(event="ready")
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        try:
            await asyncio.wait_for(reader.read(), args.max_seconds)
        except asyncio.TimeoutError:
            pass
        return 0
    except Exception as e:  # noqa: BLE001
        emit(event="error", message=f"{type(e).__name__}: {e}")
        return 1
    finally:
        for t in tasks:
            t.cancel()
        if pub:
            await pub.stop()
        await disconnect_all(room)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
