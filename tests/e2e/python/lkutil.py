"""Shared helpers for the Python end-to-end tests (official `livekit` / `livekit-api` SDKs)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Callable, Optional

import numpy as np
from livekit import api, rtc
from livekit.rtc._proto.room_pb2 import DegradationPreference

log = logging.getLogger("e2e")

URL = os.environ.get("LIVEKIT_URL", "ws://10.99.0.1:7880")
HTTP_URL = os.environ.get("XCORD_HTTP", URL.replace("ws://", "http://").replace("wss://", "https://"))
API_KEY = os.environ.get("LIVEKIT_API_KEY", "devkey")
API_SECRET = os.environ.get("LIVEKIT_API_SECRET", "secret")

SAMPLE_RATE = 48000
TONE_HZ = 440.0
VIDEO_W, VIDEO_H = 640, 360


def unique_room(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_token(
    identity: str,
    room: str,
    *,
    secret: str = API_SECRET,
    room_join: Optional[bool] = True,
    ttl_s: int = 600,
) -> str:
    grants = api.VideoGrants(room_join=room_join, room=room)
    return (
        api.AccessToken(API_KEY, secret)
        .with_identity(identity)
        .with_name(identity)
        .with_grants(grants)
        .with_ttl(datetime.timedelta(seconds=ttl_s))
        .to_jwt()
    )


async def join(room: rtc.Room, identity: str, room_name: str, *, timeout: float = 30.0) -> rtc.Room:
    """Connect an existing Room object (so a test can register event handlers first)."""
    token = make_token(identity, room_name)
    try:
        await asyncio.wait_for(room.connect(URL, token), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"{identity}: Room.connect did not finish within {timeout:.0f}s") from None
    return room


async def connect(identity: str, room_name: str, *, timeout: float = 30.0) -> rtc.Room:
    """Connect a new participant; raises (fails the test) if connect() fails or hangs."""
    return await join(rtc.Room(), identity, room_name, timeout=timeout)


async def disconnect_all(*rooms: Optional[rtc.Room]) -> None:
    for r in rooms:
        if r is None:
            continue
        with contextlib.suppress(Exception):
            await asyncio.wait_for(r.disconnect(), 10)


class EventWaiter:
    """Records every occurrence of a room event (from the moment it is created) and lets a test
    wait for the first one matching a predicate."""

    def __init__(self, room: rtc.Room, event: str):
        self.room = room
        self.event = event
        self.seen: list[tuple] = []
        self._cond = asyncio.Condition()
        self._loop = asyncio.get_running_loop()
        room.on(event, self._on)

    def _on(self, *args: Any) -> None:
        self.seen.append(args)

        async def notify() -> None:
            async with self._cond:
                self._cond.notify_all()

        self._loop.create_task(notify())

    def matching(self, pred: Callable[..., bool]) -> list[tuple]:
        return [a for a in self.seen if pred(*a)]

    async def wait(self, pred: Callable[..., bool] = lambda *a: True, timeout: float = 10.0) -> tuple:
        deadline = time.monotonic() + timeout
        async with self._cond:
            while True:
                m = self.matching(pred)
                if m:
                    return m[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out after {timeout:.0f}s waiting for '{self.event}' "
                        f"(saw {len(self.seen)} non-matching: {self.seen[:5]!r})"
                    )
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._cond.wait(), left)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.room.off(self.event, self._on)


# ---------------------------------------------------------------------------------------------
# Media sources


async def run_tone(source: rtc.AudioSource, freq: float = TONE_HZ, amplitude: float = 0.3) -> None:
    """Push a continuous sine tone in 10 ms frames, paced to real time (at most ~100 ms ahead)."""
    spc = SAMPLE_RATE // 100
    phase = 0
    start = time.monotonic()
    while True:
        t = (np.arange(spc) + phase) / SAMPLE_RATE
        samples = (amplitude * 32767 * np.sin(2 * math.pi * freq * t)).astype(np.int16)
        phase += spc
        frame = rtc.AudioFrame(samples.tobytes(), SAMPLE_RATE, 1, spc)
        await source.capture_frame(frame)
        ahead = phase / SAMPLE_RATE - (time.monotonic() - start)
        if ahead > 0.1:
            await asyncio.sleep(ahead - 0.1)


async def run_video(source: rtc.VideoSource, width: int = VIDEO_W, height: int = VIDEO_H, fps: int = 30) -> None:
    """Push RGBA frames with a moving pattern (a sweeping bar over a gradient) at ~fps."""
    base = np.zeros((height, width, 4), dtype=np.uint8)
    base[:, :, 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    base[:, :, 1] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    base[:, :, 3] = 255
    n = 0
    period = 1.0 / fps
    next_t = time.monotonic()
    while True:
        frame = base.copy()
        x = (n * 8) % width
        frame[:, x : x + 40, :3] = 255
        frame[:, :, 2] = (n * 4) % 256
        source.capture_frame(rtc.VideoFrame(width, height, rtc.VideoBufferType.RGBA, frame.tobytes()))
        n += 1
        next_t += period
        await asyncio.sleep(max(0.0, next_t - time.monotonic()))


class Publisher:
    """Owns the tone/video tasks of a publishing participant."""

    def __init__(self, room: rtc.Room):
        self.room = room
        self.tasks: list[asyncio.Task] = []
        self.audio_track: Optional[rtc.LocalAudioTrack] = None
        self.audio_pub: Optional[rtc.LocalTrackPublication] = None
        self.video_pub: Optional[rtc.LocalTrackPublication] = None

    async def publish_tone(self, freq: float = TONE_HZ) -> rtc.LocalTrackPublication:
        source = rtc.AudioSource(SAMPLE_RATE, 1)
        self.tasks.append(asyncio.create_task(run_tone(source, freq)))
        self.audio_track = rtc.LocalAudioTrack.create_audio_track("tone", source)
        opts = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        self.audio_pub = await asyncio.wait_for(
            self.room.local_participant.publish_track(self.audio_track, opts), 20
        )
        return self.audio_pub

    async def publish_video(
        self, width: int = VIDEO_W, height: int = VIDEO_H, codec: Optional[int] = None
    ) -> rtc.LocalTrackPublication:
        source = rtc.VideoSource(width, height)
        self.tasks.append(asyncio.create_task(run_video(source, width, height)))
        track = rtc.LocalVideoTrack.create_video_track("pattern", source)
        opts = rtc.TrackPublishOptions(
            source=rtc.TrackSource.SOURCE_CAMERA,
            video_codec=codec if codec is not None else rtc.VideoCodec.VP8,
            # keep the resolution even if the 2-core CI machine reports CPU overuse, so that the
            # size check below tests the SFU rather than libwebrtc's CPU adaptation
            degradation_preference=DegradationPreference.DEGRADATION_PREFERENCE_MAINTAIN_RESOLUTION,
        )
        self.video_pub = await asyncio.wait_for(
            self.room.local_participant.publish_track(track, opts), 20
        )
        return self.video_pub

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(BaseException):
                await t
        self.tasks.clear()


# ---------------------------------------------------------------------------------------------
# Analysis


def dominant_frequency(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    x = samples.astype(np.float64)
    x = x - x.mean()
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1.0 / sample_rate)
    k = int(np.argmax(spectrum))
    # parabolic interpolation around the peak for sub-bin accuracy
    if 0 < k < len(spectrum) - 1:
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
        denom = a - 2 * b + c
        if denom != 0:
            return float(freqs[k] + 0.5 * (a - c) / denom * (freqs[1] - freqs[0]))
    return float(freqs[k])


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0


async def collect_audio(
    track: rtc.Track,
    *,
    seconds: float = 1.0,
    skip_seconds: float = 0.5,
    silence_rms: float = 100.0,
    timeout: float = 20.0,
) -> np.ndarray:
    """Collect `seconds` of mono 48 kHz audio from a remote track, after `skip_seconds` of audible
    audio have been discarded (start-up frames, jitter-buffer fill). Raises on timeout with a
    description of what was received."""
    stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
    want = int(seconds * SAMPLE_RATE)
    skip = int(skip_seconds * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    got = 0
    frames = 0
    audible_frames = 0

    async def run() -> None:
        nonlocal got, skip, frames, audible_frames
        async for ev in stream:
            frames += 1
            data = np.frombuffer(ev.frame.data, dtype=np.int16).copy()
            if skip > 0:
                if rms(data) >= silence_rms:
                    audible_frames += 1
                    skip -= len(data)
                continue
            chunks.append(data)
            got += len(data)
            if got >= want:
                return

    try:
        await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(
            f"audio: only {got}/{want} samples collected in {timeout:.0f}s "
            f"({frames} frames received, {audible_frames} audible before collection)"
        ) from None
    finally:
        with contextlib.suppress(Exception):
            await stream.aclose()
    return np.concatenate(chunks)[:want]


async def collect_video_sizes(track: rtc.Track, want: tuple[int, int], timeout: float = 15.0) -> list[tuple[int, int]]:
    """Read decoded frames until one has size `want` (or timeout); return the distinct sizes seen,
    in order. The caller asserts."""
    stream = rtc.VideoStream(track)
    sizes: list[tuple[int, int]] = []
    frames = 0

    async def run() -> None:
        nonlocal frames
        async for ev in stream:
            frames += 1
            s = (ev.frame.width, ev.frame.height)
            if not sizes or sizes[-1] != s:
                sizes.append(s)
            if s == want and frames >= 3:
                return

    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(run(), timeout)
    with contextlib.suppress(Exception):
        await stream.aclose()
    log.info("video: %d frames, sizes %s", frames, sizes)
    return sizes


def http_get(path: str, timeout: float = 5.0) -> tuple[int, str]:
    """Plain HTTP GET against the server; returns (status, body) also for error statuses."""
    try:
        with urllib.request.urlopen(HTTP_URL + path, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def validate_status(token: str) -> tuple[int, str]:
    return http_get("/rtc/validate?" + urllib.parse.urlencode({"access_token": token}))


class AudioMonitor:
    """Reads a remote audio track for as long as it lives and records (time, rms) per frame."""

    def __init__(self, track: rtc.Track):
        self.frames: list[tuple[float, float]] = []
        self._stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for ev in self._stream:
            data = np.frombuffer(ev.frame.data, dtype=np.int16)
            self.frames.append((time.monotonic(), rms(data)))

    def audible(self, since: float, until: float = float("inf"), level: float = 300.0) -> int:
        return sum(1 for t, r in self.frames if since <= t < until and r >= level)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        with contextlib.suppress(Exception):
            await self._stream.aclose()
