"""The control plane's OpenAPI document against the running server, fuzzed with schemathesis.

Starts its own `xcord serve --dev`, fetches GET /api/v1/openapi.json, registers a user whose session
token authorizes every request, seeds a community (a text and two voice channels, a message, a
role, an invite, two more members; the three users connected to a voice channel with the SDK) and
a direct conversation, whose ids openapi_fuzz_hooks.py mixes into the generated path parameters
(keeping them from being deleted), then runs the schemathesis CLI on the document with a bounded
number of examples per operation and a time budget. Checks: no 5xx (`not_a_server_error`), and
every response conforms to the document: its status is documented (`status_code_conformance`),
its content type is the documented one (`content_type_conformance`) and its body validates
against the documented schema (`response_schema_conformance`). Signing out is fuzzed last, in a
run of its own, since it ends the session the others use.

Schemathesis's output (with a curl command reproducing each failure) is printed and kept in
$E2E_OUT/openapi-fuzz/, with JUnit reports.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from livekit import rtc

from lkutil import disconnect_all
from xcord_server import OUT_DIR, XcordServer

HERE = Path(__file__).resolve().parent
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MAX_EXAMPLES = 20
# The main run's budget: fuzzing and stateful testing repeat until it is spent.
MAX_TIME_S = 100
# Hard limits on each schemathesis process.
MAIN_TIMEOUT_S = MAX_TIME_S + 80
LOGOUT_TIMEOUT_S = 60
PASSWORD = "correct horse battery"


class Api:
    def __init__(self, http: aiohttp.ClientSession, base: str):
        self.http, self.base = http, base

    async def ok(self, method: str, path: str, token: str | None = None, body: dict | None = None, status: int = 200):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as r:
            data = await r.json(content_type=None) if r.status != 204 else None
            assert r.status == status, f"{method} {path}: {r.status} {data}"
            return data

    async def register(self, handle: str) -> tuple[str, str]:
        d = await self.ok(
            "POST", "/api/v1/auth/register", body={"handle": handle, "displayName": handle, "password": PASSWORD}, status=201
        )
        return d["token"], d["user"]["id"]


async def join_voice(api: Api, token: str, channel: str) -> rtc.Room:
    ticket = await api.ok("POST", f"/api/v1/channels/{channel}/voice/join", token)
    room = rtc.Room()
    await asyncio.wait_for(room.connect(ticket["url"], ticket["token"]), 30)
    return room


async def seed(api: Api, owner: str) -> tuple[dict[str, str], list[rtc.Room]]:
    """Real resources for the hooks, owned by `owner`: ids by path parameter name (channels by
    kind; `memberId` stays a member, `targetId` is the one to kick, ban, move and disconnect), and
    the rooms of the three users connected to the voice channel."""
    c = await api.ok("POST", "/api/v1/communities", owner, {"name": "Fuzzed Guild"}, status=201)
    cid = c["id"]
    text = await api.ok("POST", f"/api/v1/communities/{cid}/channels", owner, {"name": "general", "kind": "text"}, status=201)
    voice = await api.ok(
        "POST", f"/api/v1/communities/{cid}/channels", owner, {"name": "lounge", "kind": "voice", "userLimit": 5}, status=201
    )
    voice2 = await api.ok("POST", f"/api/v1/communities/{cid}/channels", owner, {"name": "stage", "kind": "video"}, status=201)
    message = await api.ok("POST", f"/api/v1/channels/{text['id']}/messages", owner, {"content": "hello"}, status=201)
    role = await api.ok("POST", f"/api/v1/communities/{cid}/roles", owner, {"name": "helper", "permissions": ["VIEW_CHANNEL"]}, status=201)
    invite = await api.ok("POST", f"/api/v1/communities/{cid}/invites", owner, {}, status=201)
    member_token, member_id = await api.register("fuzz_member")
    target_token, target_id = await api.register("fuzz_target")
    for token in (member_token, target_token):
        await api.ok("POST", f"/api/v1/invites/{invite['code']}", token, status=201)
    conversation = await api.ok("POST", "/api/v1/conversations", owner, {"userId": member_id}, status=201)
    await api.ok("POST", f"/api/v1/conversations/{conversation['id']}/messages", member_token, {"content": "hi"}, status=201)
    rooms = []
    for token in (owner, member_token, target_token):
        rooms.append(await join_voice(api, token, voice["id"]))
    deadline = time.monotonic() + 15
    while True:
        states = await api.ok("GET", f"/api/v1/channels/{voice['id']}/voice", owner)
        if len(states) == 3:
            break
        assert time.monotonic() < deadline, f"voice states of the seeded users: {states}"
        await asyncio.sleep(0.1)
    return {
        "communityId": cid,
        "textChannelId": text["id"],
        "voiceChannelId": voice["id"],
        "voiceChannel2Id": voice2["id"],
        "messageId": message["id"],
        "roleId": role["id"],
        "code": invite["code"],
        "memberId": member_id,
        "targetId": target_id,
        "conversationId": conversation["id"],
    }, rooms


def schemathesis(name: str, schema_url: str, token: str, seed_ids: dict, extra: list[str], timeout: float) -> tuple[int, str]:
    """Runs the schemathesis CLI; returns its exit status and output (also printed and kept)."""
    out_dir = OUT_DIR / "openapi-fuzz"
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(SCHEMATHESIS),
        "run",
        schema_url,
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--header",
        f"Authorization: Bearer {token}",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(out_dir / f"{name}-junit.xml"),
        *extra,
    ]
    env = dict(
        os.environ,
        SCHEMATHESIS_HOOKS="openapi_fuzz_hooks",
        PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        XCORD_FUZZ_SEED=json.dumps(seed_ids),
    )
    print(f"[openapi-fuzz] {name}: {' '.join(c if not c.startswith('Authorization') else 'Authorization: …' for c in cmd)}")
    try:
        proc = subprocess.run(cmd, cwd=out_dir, env=env, capture_output=True, text=True, timeout=timeout)
        rc, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        rc = -1
        output = f"schemathesis did not finish within {timeout:.0f}s\n" + (e.stdout or b"").decode(errors="replace")
    (out_dir / f"{name}.log").write_text(output)
    print(output)
    return rc, output


def tail(text: str, lines: int = 200) -> str:
    return "\n".join(text.splitlines()[-lines:])


@pytest.mark.timeout(MAIN_TIMEOUT_S + LOGOUT_TIMEOUT_S + 60)
async def test_openapi_fuzz():
    assert SCHEMATHESIS.exists(), f"{SCHEMATHESIS} missing: run tests/e2e/setup.sh"
    server = XcordServer("openapi", [], command=["serve", "--dev"])
    async with server, aiohttp.ClientSession() as http:
        api = Api(http, server.http_url)
        schema_url = server.http_url + "/api/v1/openapi.json"
        async with http.get(schema_url) as r:
            assert r.status == 200 and r.content_type == "application/json", (r.status, r.content_type)
            doc = await r.json()
        assert doc["openapi"].startswith("3.1."), doc["openapi"]

        token, _ = await api.register("fuzz_owner")
        # Made before the fuzz run: registrations are limited per address, and the run makes
        # accounts of its own.
        logout_token, _ = await api.register("fuzz_leaver")
        seed_ids, rooms = await seed(api, token)
        try:
            rc, output = await asyncio.to_thread(
                schemathesis,
                "main",
                schema_url,
                token,
                seed_ids,
                ["--exclude-operation-id", "logout", "--max-time", str(MAX_TIME_S)],
                MAIN_TIMEOUT_S,
            )
        finally:
            await disconnect_all(*rooms)
        assert server.alive(), "the server died during the fuzz run"
        assert rc == 0, f"schemathesis found problems (exit {rc}):\n{tail(output)}"

        # Signing out ends the session: a session of its own, fuzzed on its own.
        rc, output = await asyncio.to_thread(
            schemathesis,
            "logout",
            schema_url,
            logout_token,
            {},
            ["--include-operation-id", "logout", "--phases", "examples,coverage,fuzzing"],
            LOGOUT_TIMEOUT_S,
        )
        assert server.alive(), "the server died during the fuzz run"
        assert rc == 0, f"schemathesis found problems in POST /api/v1/auth/logout (exit {rc}):\n{tail(output)}"
