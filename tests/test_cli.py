"""The command line as operators use it: real subprocesses on embedded servers."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.harness import descendants
from notes_bff.embedded import free_port

STARTUP_S = 120


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTES_BFF_")}
    env.update(
        {"NOTES_BFF_DATA_DIR": str(data_dir), "NOTES_BFF_ARGON2_MEMORY_KIB": "1024", **extra}
    )
    return env


def _cmdlines(pids: set[int]) -> dict[int, bytes]:
    return {p: Path(f"/proc/{p}/cmdline").read_bytes() for p in pids}


def _workers(server: Server) -> set[int]:
    """The gunicorn workers among the processes ``server`` started."""
    embedded = (b"secantus", b"valkey", b"dev_smtp")
    cmdlines = _cmdlines(descendants(server.proc.pid))
    return {p for p, c in cmdlines.items() if not any(e in c for e in embedded) and _alive(p)}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Server:
    """``notes-bff serve`` in a subprocess."""

    def __init__(self, data_dir: Path, *args: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"serve-{self.port}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "notes_bff", "serve", "--port", str(self.port), *args],
                env=_env(data_dir, **env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_S
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, self.log.read_text()
                try:
                    async with session.get(f"{self.url}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.3)
        raise AssertionError(f"not ready: {self.log.read_text()}")

    def stop(self) -> tuple[int, set[int]]:
        """SIGTERM; the exit code and the processes it had started."""
        children = descendants(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        return code, children


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[Server] = []

    def make(*args: str, **env: str) -> Server:
        server = Server(tmp_path, *args, **env)
        started.append(server)
        return server

    yield make
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


async def _gql(
    session: aiohttp.ClientSession,
    url: str,
    query: str,
    variables: Any = None,
    token: str | None = None,
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.post(
        f"{url}/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    ) as resp:
        body = await resp.json()
    assert "errors" not in body, body
    return body["data"]


async def test_serve_with_two_gunicorn_workers_sign_up_to_dashboard(server_factory: Any) -> None:
    server = server_factory("--workers", "2", NOTES_BFF_RATE_LIMIT_ANONYMOUS_POINTS="20")
    await server.wait_ready()
    async with aiohttp.ClientSession() as session:
        signed = await _gql(
            session, server.url,
            "mutation { signUp(input: {email: \"w@example.com\", password: \"long enough\", name: \"W\"}) { accessToken } }",
        )  # fmt: skip
        token = signed["signUp"]["accessToken"]
        ws = await _gql(
            session,
            server.url,
            'mutation { createWorkspace(input: {name: "Two"}) { id } }',
            token=token,
        )
        ws_id = ws["createWorkspace"]["id"]
        # Several requests, spread by the kernel over both workers: every one sees every write.
        for i in range(6):
            await _gql(
                session, server.url, "mutation($w: ID!, $t: String!) { createNote(input: {workspaceId: $w, title: $t, isPinned: true}) { id } }",
                {"w": ws_id, "t": f"n{i}"}, token=token,
            )  # fmt: skip
            dash = await _gql(
                session,
                server.url,
                "{ dashboard { stats { totalNotes pinnedNotes } } }",
                token=token,
            )
            assert dash["dashboard"]["stats"] == {"totalNotes": i + 1, "pinnedNotes": i + 1}
    # One anonymous budget across both workers: a new connection per request spreads them,
    # and exactly the 19 points left after the sign-up are granted.
    statuses = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh:
        for _ in range(25):
            async with fresh.post(f"{server.url}/graphql", json={"query": "{ me { id } }"}) as resp:
                statuses.append(resp.status)
        async with fresh.get(f"{server.url}/metrics") as resp:
            metrics = await resp.text()
    assert statuses == [200] * 19 + [429] * 6
    # /metrics answers the sum of both workers' counts.
    for labels, count in [
        ('operation="anonymous",outcome="ok",type="mutation"', 8),
        ('operation="anonymous",outcome="ok",type="query"', 25),
        ('operation="anonymous",outcome="RATE_LIMITED",type="query"', 6),
    ]:
        assert f"notes_bff_graphql_operations_total{{{labels}}} {count}.0" in metrics
    assert 'notes_bff_rate_limit_rejections_total{budget="ip"} 6.0' in metrics
    cmdlines = _cmdlines(descendants(server.proc.pid))
    assert any(b"secantus" in c for c in cmdlines.values())
    assert any(b"valkey-server" in c for c in cmdlines.values())
    assert any(b"notes_bff.email.dev_smtp" in c for c in cmdlines.values())
    assert len(_workers(server)) == 2, cmdlines
    code, children = server.stop()
    assert code == 0, server.log.read_text()
    await asyncio.sleep(0.5)
    assert [p for p in children if _alive(p)] == [], "orphans left behind"


async def test_a_worker_that_leaves_is_replaced_and_metrics_stay(server_factory: Any) -> None:
    # A worker that exits on its own (stopped, recycled or timed out) unwinds the master's
    # stack it was forked from: it must not remove the workers' shared metrics directory,
    # without which its replacement cannot start and the master halts.
    server = server_factory("--workers", "2")
    await server.wait_ready()
    before = _workers(server)
    leaving = min(before)
    os.kill(leaving, signal.SIGTERM)
    deadline = time.monotonic() + STARTUP_S
    while (len(_workers(server)) != 2 or leaving in _workers(server)) and (
        time.monotonic() < deadline
    ):
        assert server.proc.poll() is None, server.log.read_text()
        await asyncio.sleep(0.2)
    after = _workers(server)
    assert len(after) == 2 and leaving not in after, server.log.read_text()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh:
        for _ in range(6):  # new connections: both workers answer, the new one included
            await _gql(fresh, server.url, "{ me { id } }")
        async with fresh.get(f"{server.url}/metrics") as resp:
            assert resp.status == 200
            metrics = await resp.text()
    assert (
        'notes_bff_graphql_operations_total{operation="anonymous",outcome="ok",type="query"}'
        in metrics
    )
    code, _ = server.stop()
    assert code == 0, server.log.read_text()


async def test_data_survives_a_restart_and_demo_login_works(server_factory: Any) -> None:
    first = server_factory("--demo")
    await first.wait_ready()
    login = 'mutation { logIn(input: {email: "demo@example.com", password: "demo-password"}) { accessToken } }'
    async with aiohttp.ClientSession() as session:
        token = (await _gql(session, first.url, login))["logIn"]["accessToken"]
        before = await _gql(
            session,
            first.url,
            "{ dashboard { stats { totalNotes } } notes(first: 3) { nodes { title author { name } } } }",
            token=token,
        )
    assert before["dashboard"]["stats"]["totalNotes"] > 50
    assert "demo login: demo@example.com / demo-password" in first.log.read_text()
    code, _ = first.stop()
    assert code == 0
    second = server_factory("--demo")
    await second.wait_ready()
    async with aiohttp.ClientSession() as session:
        token = (await _gql(session, second.url, login))["logIn"]["accessToken"]
        after = await _gql(
            session, second.url, "{ dashboard { stats { totalNotes } } }", token=token
        )
    assert after == {"dashboard": before["dashboard"]}  # same data, not seeded twice
    assert second.stop()[0] == 0


async def test_serve_keeps_development_emails_where_it_says(server_factory: Any) -> None:
    server = server_factory()
    await server.wait_ready()
    (line,) = [x for x in server.log.read_text().splitlines() if "embedded SMTP:" in x]
    mail_dir = Path(line.split("emails in ", 1)[1].strip())
    signup = 'mutation { signUp(input: {email: "m@example.com", password: "long enough", name: "M"}) { accessToken } }'
    async with aiohttp.ClientSession() as session:
        await _gql(session, server.url, signup)
        reset = 'mutation { requestPasswordReset(email: "m@example.com") }'
        assert await _gql(session, server.url, reset) == {"requestPasswordReset": True}
    for _ in range(200):
        stored = await asyncio.to_thread(lambda: list(mail_dir.glob("*.eml")))
        if stored:
            break
        await asyncio.sleep(0.05)
    (eml,) = stored
    assert b"Reset your Notes password" in eml.read_bytes()
    async with aiohttp.ClientSession() as session:  # the development page listing them
        async with session.get(f"{server.url}/dev/mail") as listing:
            page = await listing.text()
        assert "m@example.com" in page and "Reset your Notes password" in page
        async with session.get(f"{server.url}/dev/mail/{eml.name}") as source:
            assert (source.status, await source.read()) == (200, eml.read_bytes())
        async with session.get(f"{server.url}/dev/mail/..%2Fjwt-secret") as outside:
            assert outside.status == 404
    assert server.stop()[0] == 0


def test_production_refuses_to_start_without_real_services(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "notes_bff", "serve"],
        env=_env(tmp_path, NOTES_BFF_ENV="production"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert (
        "NOTES_BFF_MONGODB_URI" in lines[0]
        and "NOTES_BFF_REDIS_URL" in lines[0]
        and "NOTES_BFF_JWT_SECRET" in lines[0]
    )


def _one_line_error(tmp_path: Path, *args: str, **env: str) -> str:
    """The command's only line of output, which it failed with."""
    result = subprocess.run(
        [sys.executable, "-m", "notes_bff", *args],
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_version_refusals_in_production_and_unreachable_databases(tmp_path: Path) -> None:
    version = subprocess.run(
        [sys.executable, "-m", "notes_bff", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout == f"notes-bff {importlib.metadata.version('notes-bff')}\n"
    nowhere = free_port()
    production = {
        "NOTES_BFF_ENV": "production",
        "NOTES_BFF_MONGODB_URI": f"mongodb://127.0.0.1:{nowhere}/?directConnection=true",
        "NOTES_BFF_REDIS_URL": f"redis://127.0.0.1:{nowhere}/0",
        "NOTES_BFF_JWT_SECRET": "s" * 40,
        "NOTES_BFF_MONGODB_TIMEOUT_MS": "300",
    }
    assert _one_line_error(tmp_path, "serve", "--demo", **production).startswith(
        "notes-bff: --demo is refused in production"
    )
    assert _one_line_error(tmp_path, "seed", **production).startswith(
        "notes-bff: seed is refused in production"
    )
    unreachable = _one_line_error(tmp_path, "seed", "--force", **production)
    assert unreachable.startswith(f"notes-bff: MongoDB did not answer: 127.0.0.1:{nowhere}")
    listing = _one_line_error(tmp_path, "persisted-queries", "list", **production)
    assert listing.startswith("notes-bff: MongoDB did not answer")


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        (
            {"NOTES_BFF_REDIS_URL": "redis://r:6379/0", "NOTES_BFF_REDIS_CLUSTER_NODES": "a:1"},
            "set only one Redis topology, not NOTES_BFF_REDIS_URL and "
            "NOTES_BFF_REDIS_CLUSTER_NODES",
        ),
        (
            {"NOTES_BFF_REDIS_SENTINELS": "s1:26379,s2:26379"},
            "NOTES_BFF_REDIS_SENTINELS and NOTES_BFF_REDIS_SENTINEL_MASTER go together",
        ),
        ({"NOTES_BFF_REDIS_CLUSTER_NODES": "a:1, b"}, "'b' is not host:port"),
    ],
)
def test_redis_topology_settings_are_checked(
    tmp_path: Path, env: dict[str, str], reason: str
) -> None:
    error = _one_line_error(tmp_path, "serve", **env)
    assert error.startswith("notes-bff: configuration error: ") and reason in error


def test_every_command_has_help() -> None:
    for args in ([], ["serve"], ["seed"], ["schema"], ["users"], ["users", "disable"]):
        result = subprocess.run(
            [sys.executable, "-m", "notes_bff", *args, "--help"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "usage: notes-bff" in result.stdout


def test_seed_command_writes_realistic_data(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "notes_bff",
            "seed",
            "--users",
            "5",
            "--workspaces",
            "2",
            "--notes",
            "600",
        ],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "seeding notes: 500/600\nseeding notes: 600/600\n" in result.stderr  # a long run
    assert "seeded 5 users, 2 workspaces, 600 notes" in result.stderr
    assert "demo login: demo@example.com / demo-password" in result.stderr


async def test_events_cross_workers_exactly_once_in_order_and_due_soon_once(
    server_factory: Any,
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.ws import GraphQLSocket

    server = server_factory("--workers", "2", NOTES_BFF_DUE_SOON_INTERVAL_SECONDS="0.5")
    await server.wait_ready()
    events = "subscription($w: ID!) { workspaceEvents(workspaceId: $w) { eventId note { title } } }"
    async with aiohttp.ClientSession() as session:
        sign_up = 'mutation($e: String!) { signUp(input: {email: $e, password: "long enough", name: "X"}) { accessToken user { id } } }'
        owner = (await _gql(session, server.url, sign_up, {"e": "owner@example.com"}))["signUp"]
        mate = (await _gql(session, server.url, sign_up, {"e": "mate@example.com"}))["signUp"]
        token = owner["accessToken"]
        ws_id = (
            await _gql(
                session,
                server.url,
                'mutation { createWorkspace(input: {name: "X"}) { id } }',
                token=token,
            )
        )["createWorkspace"]["id"]
        await _gql(session, server.url, "mutation($w: ID!) { addMember(workspaceId: $w, email: \"mate@example.com\", role: EDITOR) { role } }",
                   {"w": ws_id}, token=token)  # fmt: skip
        # Eight connections: the kernel spreads them over both workers.
        sockets = [
            await GraphQLSocket.open(session, f"{server.url}/graphql", token=token)
            for _ in range(8)
        ]
        ops = [await s.subscribe(events, {"w": ws_id}) for s in sockets]
        await asyncio.sleep(1.0)
        titles = [f"n{i}" for i in range(10)]
        due = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        for title in titles:  # each mutation lands on either worker
            await _gql(session, server.url, "mutation($w: ID!, $t: String!, $d: DateTime, $a: [ID!]) { createNote(input: {workspaceId: $w, title: $t, dueDate: $d, assigneeIds: $a}) { id } }",
                       {"w": ws_id, "t": title, "d": due if title == "n0" else None, "a": [mate["user"]["id"]]}, token=token)  # fmt: skip
        for sock, op in zip(sockets, ops, strict=True):
            got = [
                (await sock.next(op))["data"]["workspaceEvents"]["note"]["title"] for _ in titles
            ]
            assert got == titles
            with pytest.raises(TimeoutError):
                await sock.next(op, timeout=0.5)
            await sock.close()
        await asyncio.sleep(3)  # several scheduler rounds on both workers
        mate_token = (
            await _gql(
                session,
                server.url,
                'mutation { logIn(input: {email: "mate@example.com", password: "long enough"}) { accessToken } }',
            )
        )["logIn"]["accessToken"]
        notes = await _gql(
            session,
            server.url,
            "{ notifications(first: 50) { nodes { kind message } } }",
            token=mate_token,
        )
    due_soon = [n for n in notes["notifications"]["nodes"] if n["kind"] == "DUE_SOON"]
    assert due_soon == [{"kind": "DUE_SOON", "message": "“n0” is due within 24 hours"}]
    assert server.stop()[0] == 0
