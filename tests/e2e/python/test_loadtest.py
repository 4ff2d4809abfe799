"""`xcord loadtest` against `xcord media`, over signal protocol v0 and v1: 2 publishers × 4
subscribers of synthetic Opus (and, in the second test, VP8 simulcast) on the clean veth link
of the test namespace. Every
subscriber must receive every published track with no loss at all (by the sequence number the
generator embeds in each payload), and the report must carry real join and forwarding latency
figures and, with --server-pid (or the server's /metrics), the server's CPU per forwarded packet."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess

import pytest

from xcord_server import HOST, XCORD_BIN, XcordServer

PUBLISHERS = 2
SUBSCRIBERS = 4
DURATION = 4


async def run_loadtest(server: XcordServer, *extra: str, server_cost: list[str] | None = None) -> dict:
    assert server.proc is not None
    if server_cost is None:
        server_cost = ["--server-pid", str(server.proc.pid)]
    cmd = [
        XCORD_BIN, "loadtest",
        "--url", server.url,
        "--api-key", "devkey", "--api-secret", "secret",
        "--room", f"lt-{server.port}",
        "--publishers", str(PUBLISHERS),
        "--subscribers", str(SUBSCRIBERS),
        "--duration", str(DURATION),
        "--join-rate", "20",
        "--local-ip", HOST.rsplit(".", 1)[0] + ".2",
        *server_cost,
        "--json",
        *extra,
    ]
    print(" ".join(cmd))
    proc = await asyncio.to_thread(
        subprocess.run, cmd, capture_output=True, text=True, timeout=90,
        env=dict(os.environ, NO_COLOR="1"),
    )
    print(proc.stderr[-4000:])
    assert proc.returncode == 0, f"loadtest exited {proc.returncode}\n{proc.stdout[-2000:]}"
    report = json.loads(proc.stdout)
    brief = {k: report[k] for k in ("loss", "sent", "window", "server", "client_wake_late_ms",
                                    "udp_rcvbuf_errors", "server_udp_drops")}
    print(json.dumps(brief, indent=1))
    return report


def check_clean_delivery(report: dict, tracks_per_publisher: int) -> None:
    assert report["participants"] == PUBLISHERS + SUBSCRIBERS
    assert report["failed"] == 0, report["errors"]
    loss = report["loss"]
    assert loss["tracks_expected"] == SUBSCRIBERS * PUBLISHERS * tracks_per_publisher
    assert loss["tracks_received"] == loss["tracks_expected"], loss
    assert loss["lost"] == 0 and loss["tail_missing"] == 0, loss
    assert loss["duplicates"] == 0, loss
    subs = report["subscribers"]
    assert len(subs) == SUBSCRIBERS
    for s in subs:
        assert s["tracks"] == PUBLISHERS * tracks_per_publisher, s
        assert s["lost"] == 0 and s["tail_missing"] == 0, s
    # every subscriber got the window's worth of each publisher's audio (50 packets/s); the
    # generator may skip a few send slots when this shared machine stalls it (sent.skipped), and
    # skipped packets are never sent, so they are not the server's loss
    assert all(s["packets"] >= 0.8 * PUBLISHERS * 50 * DURATION for s in subs), subs
    sent = report["sent"]
    assert sent["packets"] > 0, sent
    join = report["join_ms"]
    for phase in ("join_response", "connected", "first_media", "all_tracks"):
        assert join[phase]["count"] > 0 and join[phase]["p50_ms"] > 0, (phase, join)
    assert join["all_tracks"]["count"] == SUBSCRIBERS
    assert join["join_response"]["p50_ms"] <= join["all_tracks"]["p50_ms"]
    audio = report["audio_latency_ms"]
    assert audio["count"] > 0 and 0 < audio["p50_ms"] <= audio["p99_ms"] < 1000, audio
    window = report["window"]
    assert window["forwarded_packets"] > 0
    server = report["server"]
    assert server is not None and server["us_per_packet"] is not None and server["us_per_packet"] > 0, server


@pytest.mark.parametrize("protocol", ["v0", "v1"])
async def test_audio_room_delivers_everything(protocol):
    async with XcordServer(f"loadtest-{protocol}") as server:
        report = await run_loadtest(server, "--protocol", protocol)
    assert report["config"]["protocol"] == protocol
    check_clean_delivery(report, tracks_per_publisher=1)
    assert report["video_latency_ms"]["count"] == 0
    # 2 publishers × 4 subscribers × 50 packets/s
    assert 300 <= report["window"]["forwarded_pps"] <= 500, report["window"]


@pytest.mark.parametrize("protocol", ["v0", "v1"])
async def test_simulcast_video_room_delivers_everything(protocol):
    async with XcordServer(f"loadtest-video-{protocol}") as server:
        report = await run_loadtest(server, "--video", "3", "--protocol", protocol)
    check_clean_delivery(report, tracks_per_publisher=2)
    video = report["video_latency_ms"]
    assert video["count"] > 0 and 0 < video["p50_ms"] <= video["p99_ms"] < 1000, video
    # subscribers ask for nothing less, so they get the top layer (f)
    for s in report["subscribers"]:
        assert s["video_layers"] == [2] * PUBLISHERS, s
    assert report["sent"]["keyframes"] > 0


async def test_server_cost_read_from_metrics():
    """Without --server-pid the server's CPU and memory come from its /metrics (with its token)."""
    async with XcordServer("loadtest-metrics", ["--metrics-token", "lt-token"]) as server:
        report = await run_loadtest(
            server,
            server_cost=["--server-metrics", f"{server.http_url}/metrics", "--server-metrics-token", "lt-token"],
        )
    check_clean_delivery(report, tracks_per_publisher=1)
    assert report["config"]["server_pid"] is None
    assert report["server"]["rss_after_mb"] > 1, report["server"]
