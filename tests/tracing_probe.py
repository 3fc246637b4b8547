"""One traced request, in a process of its own (OpenTelemetry's state is process-wide).

``python -m tests.tracing_probe SETTINGS_JSON TRACEPARENT`` serves the application with an
in-memory span exporter, sends one operation with that ``traceparent``, and prints the spans
of that request, its response's ``traceparent`` and the JSON log lines it wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import io
import json
import os
import sys
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from notes_bff.config import Settings
from notes_bff.logs import configure_logging
from notes_bff.observability import tracing
from notes_bff.server import create_app

SIGN_UP = (
    'mutation { signUp(input: {email: "probe@example.com", password: "long enough", '
    'name: "Probe"}) { accessToken } }'
)
WORKSPACE = 'mutation { createWorkspace(input: {name: "Traced"}) { id } }'
BOARD = "query Board { workspaces { name owner { name } } }"
# Well inside the test's own timeout: a hung probe says where it hangs instead of being killed.
HANG_SECONDS = 80


async def _report_hang() -> None:
    """Print every task's stack and exit when the probe has not finished in time."""
    await asyncio.sleep(HANG_SECONDS)
    print(f"the probe hung for {HANG_SECONDS} s; its tasks:", file=sys.stderr)
    for task in asyncio.all_tasks():
        task.print_stack(file=sys.stderr)
    sys.stderr.flush()
    os._exit(3)


async def main(settings: Settings, traceparent: str) -> dict[str, Any]:
    watchdog = asyncio.create_task(_report_hang())
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    logs = io.StringIO()
    with contextlib.redirect_stderr(logs):
        configure_logging(settings)
    async with TestClient(TestServer(create_app(settings))) as client:
        signed = await (await client.post("/graphql", json={"query": SIGN_UP})).json()
        auth = {"Authorization": f"Bearer {signed['data']['signUp']['accessToken']}"}
        await client.post("/graphql", json={"query": WORKSPACE}, headers=auth)
        exporter.clear()
        logs.seek(0)
        logs.truncate()
        headers = {**auth, "traceparent": traceparent}
        resp = await client.post("/graphql", json={"query": BOARD}, headers=headers)
        assert (await resp.json())["data"]["workspaces"][0]["owner"]["name"] == "Probe"
        finished = exporter.get_finished_spans()  # the request's, not the shutdown's
    spans = [
        {
            "name": span.name,
            "kind": span.kind.name,
            "trace_id": format(span.context.trace_id, "032x"),
            "span_id": format(span.context.span_id, "016x"),
            "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
        }
        for span in finished
    ]
    watchdog.cancel()
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    return {"spans": spans, "traceparent": resp.headers.get("traceparent"), "logs": lines}


if __name__ == "__main__":
    faulthandler.dump_traceback_later(HANG_SECONDS + 10, exit=True)  # a blocked event loop
    values = json.loads(sys.argv[1])
    probe_settings = Settings(_env_file=None, log_json=True, **values)  # type: ignore[call-arg]
    print(json.dumps(asyncio.run(main(probe_settings, sys.argv[2]))))
