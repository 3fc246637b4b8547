"""``notes-bff serve --workers 2 --demo`` as an operator runs it: metrics summed over both
workers per operation, one JSON log line per operation carrying the request id (and the
lines logged inside its resolvers), gunicorn's own lines in the same format, and a SIGTERM
that turns readiness to 503 before the websockets close."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from notes_bff.embedded import EmbeddedProcess
from tests.serve import ServeProcess, serving
from tests.ws import Closed, GraphQLSocket

LOG_IN = 'mutation LogIn { logIn(input: {email: "demo@example.com", password: "demo-password"}) { accessToken } }'
BAD_LOG_IN = 'mutation BadLogIn { logIn(input: {email: "demo@example.com", password: "wrong password"}) { accessToken } }'
BOARD = "query Board { dashboard { stats { totalNotes } } workspaces { name owner { name } } }"


def _log_lines(server: ServeProcess) -> list[dict[str, Any]]:
    lines = server.log.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


async def _post(
    url: str, query: str, token: str | None = None, request_id: str | None = None
) -> tuple[dict[str, Any], Any]:
    """One request on a connection of its own (so the kernel spreads them over workers)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if request_id:
        headers["X-Request-ID"] = request_id
    connector = aiohttp.TCPConnector(force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(f"{url}/graphql", json={"query": query}, headers=headers) as resp,
    ):
        return await resp.json(), resp.headers


async def _metrics(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as resp:
        text = await resp.text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_two_workers_with_demo_data_metrics_logs_and_drain(
    servers: dict[str, EmbeddedProcess], tmp_path: Path
) -> None:
    env = {"NOTES_BFF_LOG_JSON": "true", "NOTES_BFF_DRAIN_SECONDS": "3"}
    home = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": ""}  # where gunicorn's control socket goes
    with serving(servers, tmp_path, "--workers", "2", "--demo", **env, **home) as server:
        url = server.url
        # No control socket: by default every gunicorn of a user takes over the same path.
        assert not (tmp_path / ".gunicorn").exists()
        token = (await _post(url, LOG_IN))[0]["data"]["logIn"]["accessToken"]
        # Rounds of concurrent requests until both workers have served some.
        board_pids: Counter[int] = Counter()
        for _ in range(20):
            replies = await asyncio.gather(*(_post(url, BOARD, token) for _ in range(10)))
            assert all("errors" not in body for body, _ in replies)
            lines = _log_lines(server)
            board_pids = Counter(
                line["pid"]
                for line in lines
                if line["event"] == "operation" and line.get("operation") == "Board"
            )
            if len(board_pids) == 2:
                break
        assert len(board_pids) == 2, board_pids
        bad_ids = [f"obs-bad-login-{i:04d}" for i in range(4)]
        for request_id in bad_ids:
            body, headers = await _post(url, BAD_LOG_IN, request_id=request_id)
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert headers["X-Request-Id"] == request_id
        samples = await _metrics(url)

        # The totals of both workers, per operation name.
        operations = "notes_bff_graphql_operations_total"
        board = frozenset({("operation", "Board"), ("type", "query"), ("outcome", "ok")})
        assert samples[operations, board] == sum(board_pids.values())
        bad = frozenset(
            {("operation", "BadLogIn"), ("type", "mutation"), ("outcome", "UNAUTHENTICATED")}
        )
        assert samples[operations, bad] == len(bad_ids)
        assert sum(
            v for (name, labels), v in samples.items()
            if name == "notes_bff_graphql_operation_duration_seconds_count" and ("operation", "Board") in labels
        ) == sum(board_pids.values())  # fmt: skip
        pids = {
            dict(labels)["pid"]
            for name, labels in samples
            if name == "notes_bff_process_resident_memory_bytes"
        }
        assert pids == {str(pid) for pid in board_pids}
        assert any(
            name == "notes_bff_mongodb_command_duration_seconds_count" for name, _ in samples
        )

        # One line per operation, with the request id it came with; the resolver's own line too.
        lines = _log_lines(server)
        for request_id in bad_ids:
            mine = [line for line in lines if line.get("request_id") == request_id]
            events = {line["event"]: line for line in mine}
            assert set(events) == {"log_in_refused", "operation", "request"}, mine
            operation = events["operation"]
            assert operation["operation"] == "BadLogIn"
            assert operation["errors"] == ["UNAUTHENTICATED"]
            assert operation["mongodb_commands"] >= 1 and operation["redis_commands"] >= 1
        # gunicorn's own lines, in the same JSON format.
        assert any(line.get("logger") == "gunicorn.error" for line in lines)

        # A worker killed: gunicorn replaces it; its live gauges go, its counts stay.
        dead = min(board_pids)
        os.kill(dead, signal.SIGKILL)
        for _ in range(100):
            samples = await _metrics(url)
            live = {
                dict(labels)["pid"]
                for name, labels in samples
                if name == "notes_bff_process_resident_memory_bytes"
            }
            if len(live) == 2 and str(dead) not in live:
                break
            await asyncio.sleep(0.2)
        assert len(live) == 2 and str(dead) not in live, live
        assert samples[operations, board] == sum(board_pids.values())

        # SIGTERM: readiness says 503 first, while the websocket stays open; then it closes.
        async with aiohttp.ClientSession() as session:
            socket = await GraphQLSocket.open(session, f"{url}/graphql", token=token)
            assert server.proc is not None
            server.proc.send_signal(signal.SIGTERM)
            statuses = []
            for _ in range(100):
                async with aiohttp.ClientSession() as probe, probe.get(f"{url}/readyz") as resp:
                    statuses.append((resp.status, (await resp.json())["status"]))
                if statuses[-1][0] == 503:
                    break
                await asyncio.sleep(0.05)
            assert statuses[-1] == (503, "draining")
            with pytest.raises(TimeoutError):  # still open: nothing, not even a close frame
                await socket.receive(timeout=0.2)
            with pytest.raises(Closed) as closed:  # the next message is the close
                await socket.receive(timeout=30)
            assert closed.value.code == 1001  # going away: reconnect elsewhere
        assert server.proc.wait(30) == 0
