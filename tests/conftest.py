"""Test fixtures: one pair of real embedded servers (SecantusDB, valkey) for the session.

A module marked ``redis_topologies`` runs three times: on the single valkey, on a 3-master
Redis Cluster and on a Sentinel-managed primary/replica pair (tests/redis_topologies.py),
each started once, when first needed. ``-m redis_cluster`` or ``-m redis_sentinel`` selects
the runs of one topology.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer
from beanie import init_beanie
from pymongo import monitoring

from notes_bff.config import Settings
from notes_bff.db import sends_hints
from notes_bff.embedded import EmbeddedProcess, embedded_servers
from notes_bff.keys import MONGO
from notes_bff.models import DOCUMENT_MODELS
from notes_bff.models.index_hints import use_hints
from notes_bff.server import create_app
from tests import redis_topologies
from tests.js_packages import JS_DIR, installed_node
from tests.mail import Mailbox

JWT_SECRET = "test-secret-" + "x" * 40
_counter = itertools.count()


class CommandCounter(monitoring.CommandListener):
    """Counts the MongoDB commands a client sends (round trips), by name."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.targets: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append(event.command_name)
        self.targets.append(f"{event.command_name}:{event.command.get(event.command_name)}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def reset(self) -> None:
        self.commands.clear()
        self.targets.clear()

    def data_commands(self) -> list[str]:
        """Commands other than the driver's own monitoring (hello, ping…)."""
        return [
            c
            for c in self.commands
            if c.lower() not in {"hello", "ismaster", "ping", "endsessions"}
        ]


class ReadLog(monitoring.CommandListener):
    """The reads (``find``, ``aggregate``, ``count``) a client sends, as sent."""

    def __init__(self) -> None:
        self.reads: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in {"find", "aggregate", "count"}:
            self.reads.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def of(self, collection: str) -> list[dict[str, Any]]:
        """The reads of ``collection``."""
        return [r for r in self.reads if collection in (r.get("find"), r.get("aggregate"))]


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, EmbeddedProcess]]:
    data_dir = tmp_path_factory.mktemp("embedded")
    with embedded_servers(data_dir, mongodb=True, redis=True, test_commands=True) as started:
        yield started


def pytest_configure(config: pytest.Config) -> None:
    for marker in (
        "redis_topologies: run the module on a single Redis, a Redis Cluster and Sentinel",
        "redis_cluster: the run of a redis_topologies module on the Redis Cluster",
        "redis_sentinel: the run of a redis_topologies module on Sentinel",
    ):
        config.addinivalue_line("markers", marker)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "redis_topology" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "redis_topologies"
    ):
        # The single server's run is the unparametrized one (param None): it shares the
        # session's application with every other module. pytest groups the Cluster's runs of
        # all such modules, then Sentinel's, each group with an application of its own.
        runs = [
            pytest.param(None, id="single"),
            pytest.param("cluster", id="cluster", marks=pytest.mark.redis_cluster),
            pytest.param("sentinel", id="sentinel", marks=pytest.mark.redis_sentinel),
        ]
        metafunc.parametrize("redis_topology", runs, indirect=True, scope="session")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup`` (``make test``), every test of one Redis Cluster or Sentinel
    runs on one xdist worker, so each deployment starts once per run, not once per worker."""
    for item in items:
        for topology in ("redis_cluster", "redis_sentinel"):
            if item.get_closest_marker(topology):
                item.add_marker(pytest.mark.xdist_group(topology))


@pytest.fixture(scope="session")
def redis_topology(request: pytest.FixtureRequest) -> str | None:
    """The Redis topology of this run: None for the single server, else its name."""
    return getattr(request, "param", None)


@pytest.fixture(scope="session")
def redis_cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[redis_topologies.Deployment]:
    with redis_topologies.cluster(tmp_path_factory.mktemp("cluster")) as deployment:
        yield deployment


@pytest.fixture(scope="session")
def redis_cluster_replicas(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[redis_topologies.Deployment]:
    """A 3-master Cluster whose primaries have a replica each (for the failover test only:
    the other Cluster runs need no replicas, and start faster without)."""
    data_dir = tmp_path_factory.mktemp("cluster-replicas")
    with redis_topologies.cluster(data_dir, replicas=1) as deployment:
        yield deployment


@pytest.fixture(scope="session")
def redis_sentinel(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[redis_topologies.Deployment]:
    with redis_topologies.sentinel(tmp_path_factory.mktemp("sentinel")) as deployment:
        yield deployment


@pytest.fixture(scope="session")
def redis_server(
    request: pytest.FixtureRequest,
    redis_topology: str | None,
    servers: dict[str, EmbeddedProcess],
) -> EmbeddedProcess | redis_topologies.Deployment:
    """The Redis of this run; ``stop()`` and ``start()`` take all of it down and up."""
    if redis_topology is None:
        return servers["redis"]
    deployment: redis_topologies.Deployment = request.getfixturevalue(f"redis_{redis_topology}")
    return deployment


def make_settings(
    servers: dict[str, EmbeddedProcess], data_dir: Path, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "mongodb_uri": servers["mongodb"].url,
        "redis_url": servers["redis"].url,
        "mongodb_db": f"test_{uuid.uuid4().hex[:8]}",
        "jwt_secret": JWT_SECRET,
        "data_dir": data_dir,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "mongodb_timeout_ms": 3000,
        # The suite signs up hundreds of users and sends thousands of anonymous operations
        # from one address; test_rate_limits.py sets its own, low limits.
        "auth_attempts_per_ip": 100_000,
        "rate_limit_anonymous_points": 10_000_000,
        # Search reads its writes: on a loaded CI machine the index may take over the
        # default 1 s to catch up (the wait ends as soon as it has).
        "search_freshness_wait_seconds": 15,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def settings(
    servers: dict[str, EmbeddedProcess],
    redis_server: EmbeddedProcess | redis_topologies.Deployment,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    topology = (
        redis_server.settings if isinstance(redis_server, redis_topologies.Deployment) else {}
    )
    return make_settings(servers, tmp_path_factory.mktemp("data"), **topology)


def redis_env(settings: Settings) -> dict[str, str]:
    """The ``NOTES_BFF_*`` variables that name the Redis of ``settings`` (for subprocesses)."""
    return {
        name: value
        for name, value in (
            ("NOTES_BFF_REDIS_URL", settings.redis_url or ""),
            ("NOTES_BFF_REDIS_CLUSTER_NODES", ",".join(settings.redis_cluster_nodes)),
            ("NOTES_BFF_REDIS_SENTINELS", ",".join(settings.redis_sentinels)),
            ("NOTES_BFF_REDIS_SENTINEL_MASTER", settings.redis_sentinel_master or ""),
            (
                "NOTES_BFF_REDIS_PASSWORD",
                settings.redis_password.get_secret_value() if settings.redis_password else "",
            ),
        )
        if value
    }


@pytest.fixture(scope="session")
def js_dir() -> Path:
    """tests/js with its locked npm packages installed; skipped (visibly) without Node.js."""
    if installed_node() is None:
        pytest.skip("node and npm are not installed: the JavaScript client tests need them")
    return JS_DIR


@pytest.fixture(scope="session")
def command_counter() -> CommandCounter:
    return CommandCounter()


@dataclass
class Reply:
    """A GraphQL HTTP response."""

    status: int
    body: dict[str, Any]
    headers: Any = None

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.body.get("errors") or []

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]


@dataclass
class Api:
    """A GraphQL client over the aiohttp test client."""

    client: TestClient  # type: ignore[type-arg]
    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        all_headers = {"Authorization": f"Bearer {token}"} if token else {}
        all_headers.update(headers or {})
        resp = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        )
        return Reply(resp.status, await resp.json(), resp.headers)

    async def ok(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        reply = await self.gql(query, variables, **kw)
        assert not reply.errors, reply.errors
        return reply.data

    async def sign_up(self, name: str = "Test User") -> dict[str, Any]:
        """A new user: {id, email, token, refresh, name}."""
        email = f"user{next(_counter)}-{secrets.token_hex(3)}@example.com"
        data = await self.ok(
            "mutation($i: SignUpInput!) { signUp(input: $i) "
            "{ accessToken refreshToken user { id name email } } }",
            {"i": {"email": email, "password": "correct horse", "name": name}},
        )
        payload = data["signUp"]
        return {
            "id": payload["user"]["id"],
            "email": email,
            "name": name,
            "token": payload["accessToken"],
            "refresh": payload["refreshToken"],
        }

    async def workspace(self, owner: dict[str, Any], name: str = "Team") -> str:
        data = await self.ok(
            "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { id } }",
            {"i": {"name": name}},
            token=owner["token"],
        )
        return str(data["createWorkspace"]["id"])

    async def add(self, owner: dict[str, Any], ws: str, user: dict[str, Any], role: str) -> None:
        await self.ok(
            "mutation($w: ID!, $e: String!, $r: Role!) "
            "{ addMember(workspaceId: $w, email: $e, role: $r) { role } }",
            {"w": ws, "e": user["email"], "r": role},
            token=owner["token"],
        )

    async def note(self, user: dict[str, Any], ws: str, **fields: Any) -> dict[str, Any]:
        data = await self.ok(
            "mutation($i: CreateNoteInput!) { createNote(input: $i) { id title version } }",
            {"i": {"workspaceId": ws, "title": fields.pop("title", "A note"), **fields}},
            token=user["token"],
        )
        return dict(data["createNote"])


@pytest.fixture(scope="session")
async def app_client(
    settings: Settings, command_counter: CommandCounter
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(settings, mongo_listeners=[command_counter])
    # No cookie jar: each test sends the cookies it means to send.
    async with TestClient(TestServer(app), cookie_jar=DummyCookieJar()) as client:
        yield client


@pytest.fixture
def api(app_client: TestClient) -> Api:  # type: ignore[type-arg]
    return Api(app_client)


@asynccontextmanager
async def another_app(
    app_client: TestClient,  # type: ignore[type-arg]
    settings: Settings,
    mongo_listeners: Sequence[monitoring.CommandListener] = (),
    **overrides: Any,
) -> AsyncIterator[Api]:
    """Another application (other settings) on the same servers and database.

    Beanie binds its documents to one client per process: they are bound back to the session
    application's client *before* the other one closes, so no background task of either
    (compactor, indexer, scheduler) ever meets a closed client.
    """
    app = create_app(
        Settings(_env_file=None, **{**settings.model_dump(), **overrides}),  # type: ignore[call-arg]
        mongo_listeners=mongo_listeners,
    )
    async with TestClient(TestServer(app), cookie_jar=DummyCookieJar()) as client:
        try:
            yield Api(client)
        finally:
            main = app_client.server.app
            await init_beanie(
                database=main[MONGO][settings.mongodb_db], document_models=DOCUMENT_MODELS
            )
            use_hints(await sends_hints(main[MONGO], settings.mongodb_index_hints))


@pytest.fixture
def other_app(
    app_client: TestClient, settings: Settings
) -> Callable[..., AbstractAsyncContextManager[Api]]:  # type: ignore[type-arg]
    """Another application (other settings) on the same servers and database, for one test."""

    def make(
        mongo_listeners: Sequence[monitoring.CommandListener] = (), **overrides: Any
    ) -> AbstractAsyncContextManager[Api]:
        return another_app(app_client, settings, mongo_listeners, **overrides)

    return make


@pytest.fixture(scope="module")
def api_module(app_client: TestClient) -> Api:  # type: ignore[type-arg]
    """The same client, for module-scoped data fixtures."""
    return Api(app_client)


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailbox]:
    """An SMTP server (the embedded aiosmtpd) whose messages a test can read."""
    box = Mailbox.create(tmp_path_factory.mktemp("mail"))
    box.server.start()
    yield box
    box.server.stop()


@pytest.fixture(scope="module")
async def mail_api(
    app_client: TestClient,  # type: ignore[type-arg]
    settings: Settings,
    mailbox: Mailbox,
) -> AsyncIterator[Api]:
    """An application that sends its emails to ``mailbox``."""
    async with another_app(
        app_client, settings, **mailbox.settings, password_reset_requests_per_ip=10_000
    ) as api:
        yield api
