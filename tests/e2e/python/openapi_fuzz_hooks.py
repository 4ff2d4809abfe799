"""Schemathesis hooks for test_openapi_fuzz.py (loaded by the schemathesis CLI through
SCHEMATHESIS_HOOKS=openapi_fuzz_hooks).

Random ids only reach the API's 404s. The test seeds a community owned by the fuzzing user, with a
text and two voice channels, a message, a role, an invite, two more members (the three of them
connected to the first voice channel) and a direct conversation, and passes their ids in
$XCORD_FUZZ_SEED (JSON). Here, half of the generated path
parameter sets are replaced by those real ids, so that the handlers behind the lookups are fuzzed
too; and the seeded resources are kept alive: an operation that would destroy one (deleting the
community, a seeded channel, message, role or invite, kicking, banning, moving or disconnecting
the seeded member) gets an id that names nothing instead, wherever its parameters came from
(schemathesis also reuses ids it saw in responses). Kicks, bans, moves and disconnections are
aimed at a second member, `targetId`, who may go; half of the moves go to the second voice channel.
"""

from __future__ import annotations

import json
import os

import schemathesis
from hypothesis import strategies as st

SEED: dict[str, str] = json.loads(os.environ.get("XCORD_FUZZ_SEED", "{}"))
NOBODY = "f" * 32
NO_CODE = "Z" * 10

# (method, path) → the path parameter whose seeded values it must not be given.
DESTROYS = {
    ("DELETE", "/api/v1/communities/{communityId}"): "communityId",
    ("DELETE", "/api/v1/channels/{channelId}"): "channelId",
    ("DELETE", "/api/v1/channels/{channelId}/messages/{messageId}"): "messageId",
    ("DELETE", "/api/v1/communities/{communityId}/roles/{roleId}"): "roleId",
    ("DELETE", "/api/v1/invites/{code}"): "code",
    ("DELETE", "/api/v1/communities/{communityId}/members/{userId}"): "userId",
    ("PUT", "/api/v1/communities/{communityId}/bans/{userId}"): "userId",
    ("POST", "/api/v1/channels/{channelId}/voice/members/{userId}/move"): "userId",
    ("POST", "/api/v1/channels/{channelId}/voice/members/{userId}/disconnect"): "userId",
}
# Operations whose `userId` is aimed at the expendable member.
AT_TARGET = {
    ("DELETE", "/api/v1/communities/{communityId}/members/{userId}"),
    ("PUT", "/api/v1/communities/{communityId}/bans/{userId}"),
    ("DELETE", "/api/v1/communities/{communityId}/bans/{userId}"),
    ("POST", "/api/v1/channels/{channelId}/voice/members/{userId}/move"),
    ("POST", "/api/v1/channels/{channelId}/voice/members/{userId}/disconnect"),
}
MOVE = ("POST", "/api/v1/channels/{channelId}/voice/members/{userId}/move")


def protected_values(name: str) -> set[str]:
    if name == "channelId":
        return {SEED["textChannelId"], SEED["voiceChannelId"]}
    if name == "userId":
        return {SEED["memberId"]}
    return {SEED[name]}


def protect(op: tuple[str, str], params: dict) -> dict:
    name = DESTROYS.get(op)
    if name is None or params.get(name) not in protected_values(name):
        return params
    return {**params, name: NO_CODE if name == "code" else NOBODY}


def seeded(op: tuple[str, str], params: dict) -> dict:
    method, path = op
    out = dict(params)
    for name in params:
        if name == "channelId":
            out[name] = SEED["voiceChannelId"] if "/voice" in path else SEED["textChannelId"]
        elif name == "userId":
            out[name] = SEED["targetId"] if op in AT_TARGET else SEED["memberId"]
        elif name in SEED:
            out[name] = SEED[name]
    return protect(op, out)


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    op = context.operation
    if not SEED or not path_parameters or op is None:
        return st.just(path_parameters)
    key = (op.method.upper(), op.path)
    generated = protect(key, path_parameters)
    return st.sampled_from([generated, seeded(key, path_parameters)])


@schemathesis.hook
def flatmap_body(context, body):
    """Half of the moves go to the seeded second voice channel."""
    op = context.operation
    if not SEED or op is None or (op.method.upper(), op.path) != MOVE or not isinstance(body, dict):
        return st.just(body)
    return st.sampled_from([body, {**body, "channelId": SEED["voiceChannel2Id"]}])
