"""Extra xcord server instances for tests that need their own flags (--no-auto-create,
--webhook-url ...), started next to the runner's default server inside the same namespace.

    async with XcordServer("noauto", ["--no-auto-create"]) as srv:
        srv.url        # ws://10.99.0.1:<port>
        srv.http_url   # http://10.99.0.1:<port>

Each instance gets its own HTTP port and UDP media ports (from 7900 up, so they never collide
with the default server on 7880/7882 or the Node suite's instances from 7950 up), its own data
directory and its own log file in $E2E_OUT. It runs `--media-threads 2` unless the test passes
its own count: shard i listens on UDP `udp_port + i` and TCP `tcp_port + i` (`udp_ports`,
`tcp_ports`) (server-<name>-<port>.log). It is stopped by its PID
(SIGTERM, then SIGKILL after 10 s). When the block exits with an exception, the tail of the
server's log is printed so that pytest shows it with the failure.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional, Sequence

HOST = os.environ.get("XCORD_EXTRA_HOST", "10.99.0.1")
XCORD_BIN = os.environ.get("XCORD_BIN", str(Path(__file__).resolve().parents[3] / "target/debug/xcord"))
OUT_DIR = Path(os.environ.get("E2E_OUT", tempfile.gettempdir()))

# Media shards of each instance (ports HTTP + 1 … for ICE-TCP, HTTP + 2 … for UDP; at most 2:
# the next instance's ports start at HTTP + 4).
DEFAULT_MEDIA_THREADS = int(os.environ.get("E2E_MEDIA_THREADS", "2"))
# HTTP ports 7900, 7904, ... (UDP media port = HTTP port + 2)
_ports = itertools.count(int(os.environ.get("XCORD_EXTRA_PORT_BASE", "7900")), 4)


def _status(url: str) -> Optional[int]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return None


class XcordServer:
    def __init__(
        self,
        name: str,
        extra_args: Sequence[str] = (),
        *,
        ready_timeout: float = 30.0,
        command: Sequence[str] = ("media", "--dev"),
    ):
        self.name = name
        self.extra_args = list(extra_args)
        self.command = list(command)
        self.ready_timeout = ready_timeout
        self.port = next(_ports)
        self.udp_port = self.port + 2
        self.tcp_port = self.port + 1
        given = [a for a in self.extra_args if a.startswith("--media-threads")]
        self._threads_args = [] if given else ["--media-threads", str(DEFAULT_MEDIA_THREADS)]
        threads = DEFAULT_MEDIA_THREADS
        if given:
            value = given[0].split("=", 1)[1] if "=" in given[0] else self.extra_args[self.extra_args.index(given[0]) + 1]
            threads = int(value)
        self.udp_ports = range(self.udp_port, self.udp_port + threads)
        self.tcp_ports = range(self.tcp_port, self.tcp_port + threads)
        self.url = f"ws://{HOST}:{self.port}"
        self.http_url = f"http://{HOST}:{self.port}"
        self.log_path = OUT_DIR / f"server-{name}-{self.port}.log"
        self.proc: Optional[subprocess.Popen] = None
        self._datadir: Optional[str] = None
        self._log = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        # A restart (after kill) keeps the data directory, the ports and the log.
        if self._datadir is None:
            self._datadir = tempfile.mkdtemp(prefix=f"xcord-e2e-{self.name}.")
        if self._log is None:
            self._log = open(self.log_path, "ab" if self.proc is not None else "wb")
        cmd = [
            XCORD_BIN, *self.command,
            "--bind", f"{HOST}:{self.port}",
            "--node-ip", HOST,
            "--udp-port", str(self.udp_port),
            # ICE-TCP on HTTP + 1; TURN (fixed ports) only where a test asks for it.
            *([] if "--tcp-port" in self.extra_args else ["--tcp-port", str(self.tcp_port)]),
            *([] if any(a.startswith("--no-turn") for a in self.extra_args) else ["--no-turn"]),
            "--data-dir", self._datadir,
            *self._threads_args,
            *self.extra_args,
        ]
        env = dict(os.environ, NO_COLOR="1", RUST_LOG=os.environ.get("RUST_LOG", "info"))
        self._log.write((" ".join(cmd) + "\n").encode())
        self._log.flush()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        print(f"[xcord-server {self.name}] pid {self.proc.pid} at {self.http_url}, log {self.log_path}")

    async def wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.ready_timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError(
                    f"extra server {self.name} exited with status {rc} before it was ready\n{self.log_tail()}"
                )
            last = await asyncio.to_thread(_status, self.http_url + "/")
            if last == 200:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(
            f"extra server {self.name}: GET / did not answer 200 within {self.ready_timeout:.0f}s "
            f"(last: {last})\n{self.log_tail()}"
        )

    def stop(self) -> Optional[int]:
        """Stops the server by its PID; returns its exit status."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    print(f"[xcord-server {self.name}] no exit within 10 s of SIGTERM; killing pid {self.proc.pid}")
                    self.proc.kill()
                    self.proc.wait(5)
            rc = self.proc.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._datadir:
            shutil.rmtree(self._datadir, ignore_errors=True)
            self._datadir = None
        return rc

    def kill(self) -> None:
        """SIGKILL by PID (a crash): the data directory, ports and log stay for `start()`."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    @property
    def data_dir(self) -> Optional[str]:
        return self._datadir

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 80) -> str:
        tail = self.log_text().splitlines()[-lines:]
        return (
            f"---- last {len(tail)} lines of {self.log_path} ----\n" + "\n".join(tail) + "\n---- end of server log ----"
        )

    async def __aenter__(self) -> "XcordServer":
        self.start()
        try:
            await self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        was_alive = self.alive()
        await asyncio.to_thread(self.stop)
        if exc_type is not None or not was_alive:
            print(self.log_tail())
        if exc_type is None:
            assert was_alive, f"extra server {self.name} died during the test (see its log above)"
