"""JSON log lines as a production process writes them, in a process of its own (logging's
configuration is process-wide): structlog's lines and the standard library's alike, one valid
JSON object per line with the same keys, whatever the values logged."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import logging, structlog
from notes_bff.config import Settings
from notes_bff.logs import configure_logging
configure_logging(Settings(_env_file=None, log_json=True, log_level="INFO"))
structlog.contextvars.bind_contextvars(request_id="req-0001")
log = structlog.get_logger("notes_bff.probe")
log.debug("below_the_level")
log.info("operation", errors=["UNAUTHENTICATED"], cost=3, ms=1.5, user_id=None)
log.warning("odd_values", big=2**70, keys={1: "one"}, thing=object())
try:
    1 / 0
except ZeroDivisionError as exc:
    log.error("unexpected_error", exc_info=exc)
logging.getLogger("gunicorn.error").warning("worker %s booted", 7)
"""
COMMON = {"event", "request_id", "pid", "level", "logger", "timestamp"}


def test_json_lines_of_structlog_and_the_standard_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    operation, odd, error, foreign = lines
    assert all(set(line) >= COMMON and line["request_id"] == "req-0001" for line in lines)
    assert set(operation) == COMMON | {"errors", "cost", "ms", "user_id"}
    assert (operation["event"], operation["level"], operation["logger"]) == (
        "operation",
        "info",
        "notes_bff.probe",
    )
    assert operation["errors"] == ["UNAUTHENTICATED"] and operation["user_id"] is None
    assert (odd["big"], odd["keys"]) == (2**70, {"1": "one"})
    assert odd["thing"].startswith("<object object")
    assert error["level"] == "error" and "ZeroDivisionError" in error["exception"]
    assert (foreign["event"], foreign["logger"]) == ("worker 7 booted", "gunicorn.error")
