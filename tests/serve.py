"""``notes-bff serve`` in a subprocess on the session's embedded servers, for the browser and
JavaScript client tests (one per module: starting one takes seconds)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.harness import children_by_parent
from notes_bff.embedded import EmbeddedProcess, free_port
from tests.conftest import JWT_SECRET

STARTUP_S = 120
# Its own database, and its own Redis database: no key of the in-process suite is shared.
REDIS_DB = 1


class ServeProcess:
    """A running ``notes-bff serve``; ``env`` reaches the same database (for other commands)."""

    def __init__(self, servers: dict[str, EmbeddedProcess], data_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"serve-{self.port}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NOTES_BFF_")}
        self.env.update(
            {
                "NOTES_BFF_MONGODB_URI": servers["mongodb"].url,
                "NOTES_BFF_MONGODB_DB": f"serve_{uuid.uuid4().hex[:8]}",
                "NOTES_BFF_REDIS_URL": servers["redis"].url.rsplit("/", 1)[0] + f"/{REDIS_DB}",
                "NOTES_BFF_DATA_DIR": str(data_dir),
                "NOTES_BFF_JWT_SECRET": JWT_SECRET,
                "NOTES_BFF_ARGON2_TIME_COST": "1",
                "NOTES_BFF_ARGON2_MEMORY_KIB": "1024",
                # Every client of these tests signs up and refreshes from 127.0.0.1.
                "NOTES_BFF_AUTH_ATTEMPTS_PER_IP": "100000",
                "NOTES_BFF_REFRESH_ATTEMPTS_PER_IP": "100000",
                **env,
            }
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> None:
        """Start ``serve`` with ``args`` and wait until ``/readyz`` answers 200."""
        argv = [sys.executable, "-m", "notes_bff", "serve", "--port", str(self.port), *args]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"serve not ready: {self.log.read_text()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not stopped in 30 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def serving(
    servers: dict[str, EmbeddedProcess], data_dir: Path, *args: str, **env: str
) -> Iterator[ServeProcess]:
    """``notes-bff serve ARGS`` for the duration of the block."""
    server = ServeProcess(servers, data_dir, **env)
    try:
        server.start(*args)
        yield server
    finally:
        server.stop()


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (gunicorn's workers, for a serve process)."""
    return children_by_parent().get(pid, [])
