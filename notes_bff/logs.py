"""Structured logging (structlog): JSON lines in production, readable lines in development.

Every line carries the process id (which worker), what is bound to the context (the
``request_id`` of the request being served) and, while tracing, the current ``trace_id`` and
``span_id``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from notes_bff.config import Settings
from notes_bff.observability.tracing import add_trace_ids


def add_pid(logger: Any, method: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """structlog processor: the process id (gunicorn workers fork after configuration)."""
    event["pid"] = os.getpid()
    return event


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library's logging through one renderer, JSON when
    ``NOTES_BFF_LOG_JSON`` (default: in production), at ``NOTES_BFF_LOG_LEVEL``."""
    json = settings.log_json if settings.log_json is not None else settings.is_production
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
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
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info
                if json
                else structlog.processors.StackInfoRenderer(),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
