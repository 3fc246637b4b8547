"""The Redis client of the configured topology: one server, a Redis Cluster, or the primary
that Sentinel names (docs/operations.md, "Redis topologies").

Every caller gets a ``redis.asyncio.Redis``-typed client. For a Cluster it is a
``RedisCluster``: redis-py gives both the same command methods (``get``, ``set``,
``register_script``, ``pipeline``, ``pubsub``…), so the call sites are written once; what a
Cluster refuses (a script or transaction whose keys span slots) is ruled out by the key
layout and checked by ``tests/unit/test_redis_keys.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import Connection, SSLConnection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import AskError, ClusterError, MovedError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.typing import EncodableT, ScriptTextT

from notes_bff.config import Settings
from notes_bff.metrics import Metrics
from notes_bff.observability.services import ObservedRedis, ObservedRedisCluster

# Connections one client may hold (per node of a Cluster): the count never grows with
# requests or subscribers. A full pool makes a command wait up to POOL_TIMEOUT_S; a Cluster
# node's pool cannot wait, so it gets more room.
POOL_SIZE = 16
CLUSTER_POOL_SIZE = 64
POOL_TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 2.0


class Topology(StrEnum):
    """Which Redis deployment the settings name."""

    SINGLE = "single"
    CLUSTER = "cluster"
    SENTINEL = "sentinel"


def topology(settings: Settings) -> Topology:
    """The configured topology (the settings allow at most one)."""
    if settings.redis_cluster_nodes:
        return Topology.CLUSTER
    if settings.redis_sentinels:
        return Topology.SENTINEL
    if settings.redis_url:
        return Topology.SINGLE
    raise RuntimeError(
        "no Redis is configured: set NOTES_BFF_REDIS_URL, NOTES_BFF_REDIS_CLUSTER_NODES or "
        "NOTES_BFF_REDIS_SENTINELS (the CLI starts an embedded server when none is set)"
    )


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's discovery of the primary, with a pool that waits for a free connection."""

    async def disconnect(self, inuse_connections: bool = True) -> None:
        """Close the connections; on closing the client (all of them), the Sentinels' too."""
        await super().disconnect(inuse_connections)
        if inuse_connections:
            for sentinel in self.sentinel_manager.sentinels:
                await sentinel.aclose()


class _OwnedConnectionMixin(Connection):
    """A Cluster node's connection that another task's ``disconnect()`` cannot pull away.

    redis-py's ``ClusterNode.disconnect_free_connections`` (run after any command on the node
    fails with a ConnectionError or TimeoutError) snapshots the node's free connections and
    closes them in tasks of their own; meanwhile another request takes one of them from the
    free list and connects or sends on it. Its transport is closed under it (uvloop:
    ``RuntimeError: ... the handler is closed``) or its writer set to None mid-command
    (``AttributeError: 'NoneType' object has no attribute 'writelines'``): neither is a
    ConnectionError, so nothing retries and the request fails (docs/operations.md,
    "Connection bursts on a Cluster").

    Here a ``disconnect()`` from a task that is not using the connection only marks it for
    reconnect while another task is using it (the node disconnects it when that task
    releases it), and a request that finds the connection being closed waits for the close
    before it reconnects. A write to a transport closed anyway is a lost connection.
    """

    _users: dict[asyncio.Task[Any] | None, int]
    _closing: asyncio.Event | None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._users = {}
        self._closing = None

    async def _enter(self) -> asyncio.Task[Any] | None:
        task = asyncio.current_task()
        if task not in self._users:
            while self._closing is not None:
                await self._closing.wait()
        self._users[task] = self._users.get(task, 0) + 1
        return task

    def _leave(self, task: asyncio.Task[Any] | None) -> None:
        depth = self._users[task] - 1
        if depth:
            self._users[task] = depth
        else:
            del self._users[task]

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        task = await self._enter()
        try:
            await super().connect_check_health(check_health, retry_socket_connect)
        finally:
            self._leave(task)

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        task = await self._enter()
        try:
            await super().send_packed_command(command, check_health)
        finally:
            self._leave(task)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        task = await self._enter()
        try:
            return await super().read_response(*args, **kwargs)
        finally:
            self._leave(task)

    async def _send_packed_command(self, command: Any) -> None:
        try:
            await super()._send_packed_command(command)
        except RuntimeError as exc:  # uvloop's write to a closed transport
            if self._writer is not None and not self._writer.is_closing():
                raise
            raise ConnectionResetError(str(exc)) from exc
        except AttributeError as exc:  # the writer went away: a lost connection
            if self._writer is not None:
                raise
            raise ConnectionResetError("connection closed while writing") from exc

    async def disconnect(self, *args: Any, **kwargs: Any) -> None:
        task = asyncio.current_task()
        if task in self._users:  # the user's own disconnect (an error, a retry)
            await super().disconnect(*args, **kwargs)
            return
        if self._users:  # in use by another task: it is closed when released
            self.mark_for_reconnect()  # type: ignore[no-untyped-call]
            return
        while self._closing is not None:
            await self._closing.wait()
        self._closing = closing = asyncio.Event()
        try:
            await super().disconnect(*args, **kwargs)
        finally:
            self._closing = None
            closing.set()


class _OwnedConnection(_OwnedConnectionMixin):
    """``_OwnedConnectionMixin`` over TCP."""


class _OwnedSSLConnection(_OwnedConnectionMixin, SSLConnection):
    """``_OwnedConnectionMixin`` over TLS."""


def _own_connections(cluster: RedisCluster) -> None:
    """Make the Cluster client's node connections ``_OwnedConnectionMixin``s (RedisCluster
    takes no connection class: it picks Connection or SSLConnection itself)."""
    manager = cluster.nodes_manager
    chosen = manager.connection_kwargs.get("connection_class", Connection)
    owned = _OwnedSSLConnection if issubclass(chosen, SSLConnection) else _OwnedConnection
    manager.connection_kwargs["connection_class"] = owned
    for node in [*manager.startup_nodes.values(), *manager.nodes_cache.values()]:
        node.connection_class = owned


def connect(
    settings: Settings,
    *,
    name: str,
    socket_timeout: float | None = 2.0,
    health_check_interval: int = 30,
    retries: int = 2,
    metrics: Metrics | None = None,
) -> Redis:
    """A client of the configured topology, named ``name`` in ``CLIENT LIST``.

    ``socket_timeout=None`` is for pub/sub listeners, which wait for messages (and PING every
    ``health_check_interval`` seconds instead). With ``metrics``, commands are timed. A
    command that meets a closed connection (a restart, a failover) is retried ``retries``
    times on a fresh one (0 for the broker, which must see every lost connection);
    Sentinel's client then asks the Sentinels for the current primary, and a Cluster client
    follows ``MOVED`` answers and refreshes its slot map.
    """
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "health_check_interval": health_check_interval,
        "client_name": name,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries),
        "retry_on_error": [RedisConnectionError],
    }
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    match topology(settings):
        case Topology.CLUSTER:
            nodes = [ClusterNode(*_address(a)) for a in settings.redis_cluster_nodes]
            options.update(startup_nodes=nodes, max_connections=CLUSTER_POOL_SIZE)
            cluster = (
                RedisCluster(password=password, **options)
                if metrics is None
                else ObservedRedisCluster(metrics, password=password, **options)
            )
            if socket_timeout is not None:  # not a pub/sub listener's (its reads block)
                _own_connections(cluster)
            return cast("Redis", cluster)  # the same command methods (module docstring)
        case Topology.SENTINEL:
            sentinel = Sentinel(  # type: ignore[no-untyped-call]
                [_address(a) for a in settings.redis_sentinels],
                sentinel_kwargs={
                    "socket_timeout": CONNECT_TIMEOUT_S,
                    "socket_connect_timeout": CONNECT_TIMEOUT_S,
                },
            )
            pool: BlockingConnectionPool = _BlockingSentinelPool(  # type: ignore[no-untyped-call]
                settings.redis_sentinel_master,
                sentinel,
                max_connections=POOL_SIZE,
                timeout=POOL_TIMEOUT_S,
                password=password,
                **options,
            )
        case Topology.SINGLE:
            assert settings.redis_url is not None
            pool = BlockingConnectionPool.from_url(
                settings.redis_url, max_connections=POOL_SIZE, timeout=POOL_TIMEOUT_S, **options
            )
    client = (
        Redis(connection_pool=pool)
        if metrics is None
        else ObservedRedis(metrics, connection_pool=pool)
    )
    client.auto_close_connection_pool = True  # the pool is this client's alone
    return client


async def refresh_topology(client: Redis) -> None:
    """Have a Cluster client learn the current owner of every slot (after a slot moved or a
    replica took over); nothing to learn for the other topologies."""
    if isinstance(client, RedisCluster):
        await client.nodes_manager.initialize()


async def get_many(redis: Redis, keys: Sequence[str]) -> list[bytes | None]:
    """The values of ``keys`` in one round trip: a pipeline of GETs, not an ``MGET``, since a
    Cluster refuses an ``MGET`` over several slots (its pipelines split by node instead)."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.get(key)
        return cast("list[bytes | None]", await pipe.execute())


async def run_script(
    client: Redis, script: AsyncScript, *, keys: Sequence[str], args: Sequence[EncodableT]
) -> Any:
    """``script(keys, args)``, also where its slot is being migrated (a Cluster).

    redis-py 8.1 follows an ``ASK`` answer by sending ``ASKING`` and the command as two
    pooled commands: when the target node has more than one free connection they go out on
    two of them, the target answers ``MOVED`` (back to the source, which answers ``ASK``
    again…) and the client gives up with ``ClusterError("TTL exhausted.")``: the script ran
    nowhere. Then it runs here with the target's ``ASKING`` and the script on one connection
    (docs/operations.md, "redis-py 8.1 and `ASK`").
    """
    try:
        return await script(keys=keys, args=args)
    except ClusterError as exc:
        if "TTL exhausted" not in str(exc):
            raise
        return await _eval_while_migrating(client, script.script, keys, args)


async def _eval_while_migrating(
    client: Redis, script: ScriptTextT, keys: Sequence[str], args: Sequence[EncodableT]
) -> Any:
    """``EVAL`` on the slot's owner; on ``ASK``, ``ASKING`` and ``EVAL`` pipelined on one
    connection of the target."""
    assert isinstance(client, RedisCluster)
    command = ("EVAL", script, len(keys), *keys, *args)
    source = client.get_node_from_key(keys[0])
    if source is None:
        return await client.execute_command(*command)
    try:
        return await source.execute_command(*command)
    except MovedError:  # no longer migrating: the client follows the MOVED
        return await client.execute_command(*command)
    except AskError as ask:  # (MovedError is an AskError: caught above)
        target = client.get_node(host=ask.host, port=ask.port)
        if target is None:
            raise
    connection = target.acquire_connection()
    try:
        await target.disconnect_if_needed(connection)  # as redis-py does before a command
        await connection.send_packed_command(connection.pack_commands([("ASKING",), command]))
        await connection.read_response()
        return await connection.read_response()
    except BaseException:
        await connection.disconnect()  # an answer may be left unread
        raise
    finally:
        target.release(connection)
