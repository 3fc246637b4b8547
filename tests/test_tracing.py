"""Traces with the ``tracing`` extra: one request's span tree, from the caller's
``traceparent`` down to MongoDB and Redis commands, and its trace id in the log lines."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from notes_bff.config import Settings

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def _ancestors(span: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[str]:
    names = []
    while span["parent_id"] in by_id:
        span = by_id[span["parent_id"]]
        names.append(span["name"])
    return names


def test_one_request_makes_one_span_tree_under_the_callers_traceparent(
    settings: Settings, tmp_path: Path
) -> None:
    values = {
        "mongodb_uri": settings.mongodb_uri,
        "redis_url": settings.redis_url,
        "mongodb_db": f"traced_{uuid.uuid4().hex[:8]}",
        "jwt_secret": "t" * 40,
        "data_dir": str(tmp_path),
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "auth_attempts_per_ip": 100_000,  # the suite signs up many users from this address
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.tracing_probe", json.dumps(values), f"00-{TRACE_ID}-{CALLER_SPAN}-01"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    # Background tasks (the collaboration log reader, the search indexer) trace on their own;
    # the request's spans are the caller's trace.
    spans = [span for span in probe["spans"] if span["trace_id"] == TRACE_ID]
    by_id = {span["span_id"]: span for span in spans}
    (server,) = [span for span in probe["spans"] if span["parent_id"] == CALLER_SPAN]
    assert server["trace_id"] == TRACE_ID
    assert (server["name"], server["kind"]) == ("POST /graphql", "SERVER")
    (operation,) = [span for span in spans if span["name"] == "query Board"]
    assert operation["parent_id"] == server["span_id"]
    phases = {span["name"] for span in spans if span["parent_id"] == operation["span_id"]}
    assert phases == {"graphql.parse", "graphql.validate", "graphql.execute"}
    # One span per database command and per loader batch, below the operation's phases.
    mongodb = [span for span in spans if span["name"].endswith(".find")]
    redis = [span for span in spans if span["name"] == "EVALSHA"]
    batches = [span for span in spans if span["name"] == "dataloader.batch"]
    assert mongodb and redis and batches
    for span in [*mongodb, *redis, *batches]:
        assert _ancestors(span, by_id)[-2:] == ["query Board", "POST /graphql"], span
    assert any(_ancestors(span, by_id)[0] == "dataloader.batch" for span in mongodb)
    assert len(spans) < 30  # phases, loaders and commands: never a span per field
    # The caller learns the trace; the operation's log line carries it.
    assert probe["traceparent"].split("-")[1] == TRACE_ID
    (line,) = [line for line in probe["logs"] if line["event"] == "operation"]
    assert (line["trace_id"], line["operation"]) == (TRACE_ID, "Board")
