"""Joins a LiveKit room (url and token from argv), publishes a tone, prints "connected" and
waits to be killed — a client that disappears without leaving."""

import asyncio
import sys

from livekit import rtc

from lkutil import Publisher


async def main() -> None:
    room = rtc.Room()
    await room.connect(sys.argv[1], sys.argv[2])
    await Publisher(room).publish_tone()
    print("connected", flush=True)
    await asyncio.sleep(3600)


asyncio.run(main())
