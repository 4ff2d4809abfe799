"""Prometheus `/metrics`: scraped during a real Python SDK session and parsed with
`prometheus_client`'s text parser. Participants go up and down, packets and bytes are counted
both ways, joins land in the join-latency histogram, forwarding latency is measured; the main
port needs the metrics token (or --dev), `--metrics-bind` serves an unauthenticated listener."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from typing import Optional

from livekit import rtc
from prometheus_client.parser import text_string_to_metric_families

from lkutil import Publisher, disconnect_all, make_token, unique_room
from xcord_server import HOST, XcordServer, _ports


def scrape(url: str, token: Optional[str] = None) -> tuple[int, str]:
    req = urllib.request.Request(url)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample by (name, sorted labels)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(m: dict, name: str, **labels: str) -> float:
    return m.get((name, tuple(sorted(labels.items()))), 0.0)


async def wait_for_metric(url: str, pred, timeout: float = 15.0, token: Optional[str] = None) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    last = {}
    while asyncio.get_running_loop().time() < deadline:
        status, text = await asyncio.to_thread(scrape, url, token)
        assert status == 200, (status, text)
        last = samples(text)
        if pred(last):
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"metrics never matched; last: {sorted((k, v) for k, v in last.items() if k[0].startswith('xcord_sfu'))}")


async def test_metrics_follow_a_real_session():
    metrics_port = next(_ports)
    async with XcordServer(
        "metrics",
        ["--metrics-token", "scrape-me", "--metrics-bind", f"{HOST}:{metrics_port}"],
    ) as srv:
        main_url = srv.http_url + "/metrics"
        side_url = f"http://{HOST}:{metrics_port}/metrics"
        # Main port: the token is required (this server runs with --dev, but a token wins).
        status, body = await asyncio.to_thread(scrape, main_url)
        assert status == 401 and '"code"' in body, (status, body)
        status, _ = await asyncio.to_thread(scrape, main_url, "wrong")
        assert status == 401
        status, text = await asyncio.to_thread(scrape, main_url, "scrape-me")
        assert status == 200
        before = samples(text)
        assert value(before, "xcord_sfu_participants") == 0
        assert value(before, "process_resident_memory_bytes") > 1e6
        joins_before = value(before, "xcord_sfu_join_latency_seconds_count")

        room_name = unique_room("metrics")
        alice, bob = rtc.Room(), rtc.Room()
        pub = Publisher(alice)
        try:
            await asyncio.wait_for(alice.connect(srv.url, make_token("alice", room_name)), 30)
            await asyncio.wait_for(bob.connect(srv.url, make_token("bob", room_name)), 30)
            await pub.publish_tone()
            during = await wait_for_metric(
                side_url,
                lambda m: value(m, "xcord_sfu_participants") == 2
                and value(m, "xcord_sfu_rooms") == 1
                and value(m, "xcord_sfu_tracks") == 1
                and value(m, "xcord_sfu_join_latency_seconds_count") >= joins_before + 2,
            )
            # Media flows both ways through the socket: counters keep moving.
            later = await wait_for_metric(
                side_url,
                lambda m: value(m, "xcord_sfu_packets_total", direction="in")
                >= value(during, "xcord_sfu_packets_total", direction="in") + 100
                and value(m, "xcord_sfu_packets_total", direction="out")
                >= value(during, "xcord_sfu_packets_total", direction="out") + 100,
            )
            assert value(later, "xcord_sfu_bytes_total", direction="in") > value(
                during, "xcord_sfu_bytes_total", direction="in"
            )
            assert value(later, "xcord_sfu_forward_latency_seconds_count") > 0
            assert value(later, "xcord_sfu_joins_total", protocol="v0") + value(
                later, "xcord_sfu_joins_total", protocol="v1"
            ) >= 2
            assert value(later, "process_cpu_seconds_total") > 0
            # Histogram buckets are cumulative and end at +Inf = count.
            count = value(later, "xcord_sfu_join_latency_seconds_count")
            assert value(later, "xcord_sfu_join_latency_seconds_bucket", le="+Inf") == count
            # The same figures on the main port, with the token.
            main = await wait_for_metric(
                main_url, lambda m: value(m, "xcord_sfu_participants") == 2, token="scrape-me"
            )
            assert value(main, "xcord_sfu_rooms") == 1

            await asyncio.wait_for(bob.disconnect(), 10)
            await wait_for_metric(side_url, lambda m: value(m, "xcord_sfu_participants") == 1)
            await pub.stop()
            await asyncio.wait_for(alice.disconnect(), 10)
            await wait_for_metric(
                side_url,
                lambda m: value(m, "xcord_sfu_participants") == 0 and value(m, "xcord_sfu_tracks") == 0,
            )
        finally:
            await pub.stop()
            await disconnect_all(alice, bob)


async def test_metrics_are_closed_on_the_main_port_without_token_or_dev():
    async with XcordServer("metrics-closed", ["--keys", "devkey:secret"], command=("media",)) as srv:
        status, body = await asyncio.to_thread(scrape, srv.http_url + "/metrics")
        assert status == 403, (status, body)
        assert "metrics_disabled" in body
