"""Extra xcord server processes for tests that need their own (other ports, other flags), inside
the test namespace, each stopped by its PID."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

HOST = "10.99.0.1"
BIN = os.environ.get("XCORD_BIN", "target/release/xcord")
OUT = Path(os.environ.get("E2E_OUT", tempfile.gettempdir()))


class Server:
    """One xcord process, stopped by its PID."""

    def __init__(self, name: str, args: list[str], http_port: int):
        self.name = name
        self.http = f"http://{HOST}:{http_port}"
        self.data = tempfile.mkdtemp(prefix=f"xcord-{name}-")
        self.log = open(OUT / f"{name}.log", "wb")
        self.proc = subprocess.Popen(
            [BIN, *args, "--bind", f"{HOST}:{http_port}", "--data-dir", self.data],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}")
            with contextlib.suppress(Exception):
                with urllib.request.urlopen(self.http + "/", timeout=1) as r:
                    if r.status == 200:
                        return
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready within {timeout}s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


