"""Token refusals: Room.connect must raise, and GET /rtc/validate must answer 401.

The positive controls (a good token validates with 200 and connects) make sure the refusals
are about the token, not a server that refuses everything.
"""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from livekit import rtc

from lkutil import (
    API_KEY,
    API_SECRET,
    URL,
    EventWaiter,
    disconnect_all,
    join,
    make_token,
    unique_room,
    validate_status,
)


def bad_signature(identity: str, room: str) -> str:
    return make_token(identity, room, secret="not-the-server-secret-" + "x" * 16)


def expired(identity: str, room: str) -> str:
    # exp 5 minutes in the past (well beyond any clock-skew leeway), otherwise a valid token
    now = int(time.time())
    claims = {
        "iss": API_KEY,
        "sub": identity,
        "name": identity,
        "nbf": now - 900,
        "exp": now - 300,
        "video": {"roomJoin": True, "room": room, "canPublish": True, "canSubscribe": True},
    }
    return jwt.encode(claims, API_SECRET, algorithm="HS256")


def no_room_join(identity: str, room: str) -> str:
    return make_token(identity, room, room_join=False)


BAD_TOKENS = {
    "bad-signature": bad_signature,
    "expired": expired,
    "room-join-false": no_room_join,
}


def test_tokens_are_what_they_claim():
    """Sanity check of the test's own tokens, independent of the server."""
    room = "r"
    good = jwt.decode(make_token("x", room), API_SECRET, algorithms=["HS256"])
    assert good["video"]["roomJoin"] is True and good["video"]["room"] == room
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(bad_signature("x", room), API_SECRET, algorithms=["HS256"])
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(expired("x", room), API_SECRET, algorithms=["HS256"])
    nj = jwt.decode(no_room_join("x", room), API_SECRET, algorithms=["HS256"])
    assert nj["video"]["roomJoin"] is False


async def test_validate_accepts_good_token():
    status, body = await asyncio.to_thread(validate_status, make_token("ok", unique_room("auth")))
    assert status == 200, f"/rtc/validate with a good token answered {status}: {body!r}"


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
async def test_validate_refuses_bad_token(kind):
    token = BAD_TOKENS[kind]("mallory", unique_room("auth"))
    status, body = await asyncio.to_thread(validate_status, token)
    assert status == 401, f"/rtc/validate with a {kind} token answered {status}: {body!r}"


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
async def test_connect_refuses_bad_token(kind):
    room_name = unique_room("auth")
    # control: a good token for the same room connects, so a refusal below is about the token
    control = rtc.Room()
    joined = EventWaiter(control, "participant_connected")
    await join(control, "control", room_name)
    room = rtc.Room()
    t0 = time.monotonic()
    try:
        with pytest.raises(rtc.ConnectError) as err:
            await asyncio.wait_for(room.connect(URL, BAD_TOKENS[kind]("mallory", room_name)), 40)
        msg = err.value.message
        print(f"{kind}: refused after {time.monotonic() - t0:.1f}s: {msg}")
        assert not room.isconnected()
        assert "401" in msg, f"{kind}: connect failed, but not with 401 Unauthorized: {msg!r}"
        await asyncio.sleep(0.5)
        assert not joined.matching(lambda p: p.identity == "mallory"), (
            f"{kind}: the refused participant was announced to the room"
        )
    finally:
        await disconnect_all(room, control)
