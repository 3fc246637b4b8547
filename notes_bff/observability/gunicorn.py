"""gunicorn, set up for ``notes-bff serve --workers N`` and for running gunicorn yourself
(``gunicorn -c python:notes_bff.observability.gunicorn_conf notes_bff.server:gunicorn_app``).

Metrics: every worker writes to ``PROMETHEUS_MULTIPROC_DIR``, which must be set before
anything imports prometheus-client (the CLI uses a temporary one unless it is set); it is
wiped when the arbiter starts and told when a worker dies (its live gauges are dropped, its
counters keep counting in the totals). Logs: gunicorn's own lines go through the server's
renderer (JSON in production). Timeouts come from settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

from notes_bff.config import Settings
from notes_bff.observability.drain import drain_seconds

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def on_starting(server: Any) -> None:
    """gunicorn hook (arbiter): drop the samples of a previous run."""
    for stale in Path(os.environ[MULTIPROC_DIR]).glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook (arbiter): a worker exited; its live gauges no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


class StructuredLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, writing through the root logger (the server's format)."""

    def setup(self, cfg: Any) -> None:
        """gunicorn's setup, minus its own handlers."""
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.propagate = True


def options(settings: Settings, workers: int | None = None) -> dict[str, Any]:
    """gunicorn settings for ``settings`` (``workers``: gunicorn's default or command line)."""
    values: dict[str, Any] = {
        "bind": f"{settings.host}:{settings.port}",
        "worker_class": "aiohttp.GunicornUVLoopWebWorker",
        # The drain comes first, then the time in-flight requests get to finish.
        "graceful_timeout": drain_seconds(settings) + settings.graceful_timeout_seconds,
        "timeout": settings.worker_timeout_seconds,
        "keepalive": settings.keepalive_seconds,
        "accesslog": None,
        "logger_class": f"{__name__}.StructuredLogger",
        "loglevel": settings.log_level.lower(),
        "on_starting": on_starting,
        "child_exit": child_exit,
        # gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl),
        # which every instance on the host takes over in turn, and its thread runs in the
        # master while it forks replacement workers: operators use signals instead.
        "control_socket_disable": True,
    }
    if workers is not None:
        values["workers"] = workers
    return values
