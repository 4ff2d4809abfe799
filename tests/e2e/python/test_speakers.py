"""Active speakers: the SFU reads the audio level publishers put in their packets and tells
everyone who is speaking. A participant playing a tone is named, one publishing silence is not;
when the tone stops, the speaker is dropped within a couple of seconds."""

from __future__ import annotations

import asyncio
import time

import numpy as np
from livekit import rtc

from lkutil import SAMPLE_RATE, EventWaiter, Publisher, connect, disconnect_all, unique_room


async def publish_silence(room: rtc.Room) -> asyncio.Task:
    source = rtc.AudioSource(SAMPLE_RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("silence", source)
    await asyncio.wait_for(
        room.local_participant.publish_track(track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)), 20
    )

    async def run():
        frame = rtc.AudioFrame(np.zeros(480, dtype=np.int16).tobytes(), SAMPLE_RATE, 1, 480)
        next_t = time.monotonic()
        while True:
            await source.capture_frame(frame)
            next_t += 0.01
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))

    return asyncio.create_task(run())


async def test_the_participant_playing_a_tone_is_the_active_speaker():
    name = unique_room("speakers")
    listener = await connect("listener", name)
    speakers_seen = EventWaiter(listener, "active_speakers_changed")
    talker = await connect("talker", name)
    quiet = await connect("quiet", name)
    pub = Publisher(talker)
    silence = None
    try:
        silence = await publish_silence(quiet)
        start = time.monotonic()
        await pub.publish_tone()
        (speakers,) = await speakers_seen.wait(lambda s: any(p.identity == "talker" for p in s), timeout=10)
        print(f"talker named {1000 * (time.monotonic() - start):.0f} ms after publishing")
        # let the quiet participant's silence flow for a few windows: it never speaks
        await asyncio.sleep(2.0)
        for (s,) in speakers_seen.matching(lambda s: True):
            assert all(p.identity != "quiet" for p in s), f"silence reported as speech: {[p.identity for p in s]}"
        (latest,) = speakers_seen.seen[-1]
        assert [p.identity for p in latest] == ["talker"], [p.identity for p in latest]

        # the tone stops: the talker is dropped
        stopped = time.monotonic()
        await pub.stop()
        await speakers_seen.wait(lambda s: all(p.identity != "talker" for p in s), timeout=5)
        print(f"talker dropped {1000 * (time.monotonic() - stopped):.0f} ms after the tone stopped")
        (latest,) = speakers_seen.seen[-1]
        assert not latest, [p.identity for p in latest]
    finally:
        await pub.stop()
        if silence:
            silence.cancel()
        await disconnect_all(listener, talker, quiet)
