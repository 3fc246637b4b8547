"""Structured logging (structlog): JSON lines in production, readable lines in development.

Every line carries the process id (which worker), what is bound to the context (the
``request_id`` of the request being served) and, while tracing, the current ``trace_id`` and
``span_id``. The application's own lines are rendered by structlog and written straight to
stderr (below the level, a log call returns at once); the standard library's (gunicorn,
aiohttp, other libraries) pass through a handler that renders them the same way.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import orjson
import structlog

from notes_bff.config import Settings
from notes_bff.observability.tracing import add_trace_ids


def add_pid(logger: Any, method: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """structlog processor: the process id (gunicorn workers fork after configuration)."""
    event["pid"] = os.getpid()
    return event


def dumps(event: Mapping[str, Any], default: Any = None) -> str:
    """One JSON line by orjson; by the standard library's ``json`` for what orjson refuses
    (an integer beyond 64 bits, a key that is not a string)."""
    try:
        return orjson.dumps(event, default=default).decode()
    except TypeError:
        return json.dumps(event, default=default)


class NamedWriteLogger(structlog.WriteLogger):
    """structlog's writer to ``file``, with the name ``add_logger_name`` reads."""

    def __init__(self, file: TextIO, name: str | None = None) -> None:
        super().__init__(file)
        self.name = name


def configure_logging(settings: Settings) -> None:
    """Render structlog's lines and the standard library's logging alike to stderr (as it
    is now), JSON when ``NOTES_BFF_LOG_JSON`` (default: in production), at
    ``NOTES_BFF_LOG_LEVEL``."""
    stream = sys.stderr
    json_lines = settings.log_json if settings.log_json is not None else settings.is_production
    rendering: list[structlog.types.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer(dumps)]
        if json_lines
        else [
            structlog.processors.StackInfoRenderer(),
            structlog.dev.ConsoleRenderer(colors=stream.isatty()),
        ]
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_pid,
        add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, *rendering],
        logger_factory=functools.partial(NamedWriteLogger, stream),
        wrapper_class=structlog.make_filtering_bound_logger(settings.log_level),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
