"""Real Redis deployments for the tests, from the embedded valkey binary: a 3-master Redis
Cluster and a Sentinel-managed primary/replica pair (docs/operations.md, "Redis topologies")."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from notes_bff.embedded import EmbeddedProcess, free_port, valkey

T = TypeVar("T")

CLUSTER_SLOTS = 16384
SENTINEL_MASTER = "notes"
# The Cluster's and Sentinel's data servers require it (NOTES_BFF_REDIS_PASSWORD).
PASSWORD = "topology-tests-password"
AUTH = ["--requirepass", PASSWORD, "--masterauth", PASSWORD]
READY_TIMEOUT_S = 60.0


def _wait(what: str, ready: Any) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} was not ready in {READY_TIMEOUT_S} s")
        time.sleep(0.1)


def _client(server: EmbeddedProcess, password: str | None = PASSWORD) -> Redis:
    return Redis(port=server.port, password=password, socket_timeout=5)


@dataclass
class Deployment:
    """The processes of one Redis topology and the settings that point the server at it.

    ``stop()`` and ``start()`` take the data servers down and up (not the Sentinels), so
    that "Redis is down" means the same for every topology.
    """

    name: str
    settings: dict[str, Any]
    servers: list[EmbeddedProcess]
    watchers: list[EmbeddedProcess] = field(default_factory=list)

    def stop(self) -> None:
        """Stop every data server."""
        for server in self.servers:
            server.stop()

    def start(self) -> None:
        """Start the data servers again and wait until they serve."""
        for server in self.servers:
            server.start()
        self.wait_ready()

    def wait_ready(self) -> None:
        """Wait until the deployment serves writes."""
        if self.name == "cluster":
            for server in self.servers:
                with _client(server) as client:
                    _wait("the cluster", lambda c=client: _cluster_formed(c, len(self.servers)))
        elif self.name == "sentinel":
            # Roles may have swapped (a failover while a server was down): whichever server
            # the Sentinels name primary, the other must be its replica, in sync.
            with _client(self.watchers[0], None) as sentinel:
                _wait("the sentinels", lambda: self._replica_in_sync(sentinel))

    def _replica_in_sync(self, sentinel: Redis) -> bool:
        """The Sentinels name a primary, see a replica up, and that replica is in sync."""
        try:
            address: Any = sentinel.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
            if not address or not _sentinel_sees_replica(sentinel):
                return False
            replicas = [server for server in self.servers if server.port != int(address[1])]
            for server in replicas:
                with _client(server) as replica:
                    if not _in_sync(replica):
                        return False
        except (RedisConnectionError, RedisTimeoutError):
            return False  # a server still starting
        return len(replicas) == len(self.servers) - 1


def _cluster_formed(client: Any, size: int) -> bool:
    """Every slot served, and this node linked to every other over the cluster bus (until
    then a PUBLISH on one node may not reach the subscribers of another)."""
    info = client.cluster("INFO")
    links = str(client.execute_command("CLUSTER", "NODES")).splitlines()
    return (
        info.get("cluster_state") == "ok"
        and int(info.get("cluster_known_nodes", 0)) == size
        and all(" connected" in line for line in links if line.strip())
    )


async def each_node(
    server: EmbeddedProcess | Deployment, command: Callable[[AsyncRedis], Awaitable[T]]
) -> list[T]:
    """``command``'s answer from every data server of ``server``."""
    answers: list[T] = []
    password = PASSWORD if isinstance(server, Deployment) else None
    for node in server.servers if isinstance(server, Deployment) else [server]:
        client = AsyncRedis(port=node.port, password=password, socket_timeout=5)
        try:
            answers.append(await command(client))
        finally:
            await client.aclose()
    return answers


async def channel_subscribers(server: EmbeddedProcess | Deployment, channel: str) -> int:
    """Connections subscribed to ``channel`` on any data server of ``server``."""

    async def subscribed(client: AsyncRedis) -> int:
        return int(dict(await client.pubsub_numsub(channel)).get(channel.encode(), 0))

    return sum(await each_node(server, subscribed))


async def client_names(server: EmbeddedProcess | Deployment) -> list[str]:
    """The names of the connections to every data server of ``server``."""

    async def names(client: AsyncRedis) -> list[str]:
        return [str(c.get("name", "")) for c in await client.client_list()]

    return [name for node in await each_node(server, names) for name in node]


def _in_sync(server: Redis) -> bool:
    return server.info("replication").get("master_link_status") == "up"


def _sentinel_sees_replica(sentinel: Redis) -> bool:
    replicas = sentinel.sentinel_slaves(SENTINEL_MASTER)
    return any(not replica["is_sdown"] for replica in replicas)


@contextmanager
def cluster(data_dir: Path, masters: int = 3, replicas: int = 0) -> Iterator[Deployment]:
    """A Redis Cluster of ``masters`` primaries, slots split evenly, each with ``replicas``
    replicas (which take over when their primary fails). ``servers`` lists the primaries
    first, then the replicas."""
    with ExitStack() as stack:
        nodes, buses = [], []
        for i in range(masters * (1 + replicas)):
            # The bus port: not the default (port + 10000), which may be out of range.
            buses.append(free_port())
            options = [*AUTH, "--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]
            node = valkey(
                data_dir, name=f"cluster-{i}", args=[*options, "--cluster-port", str(buses[i])]
            )
            node.start()
            stack.callback(node.stop)
            nodes.append(node)
        step = CLUSTER_SLOTS // masters
        for i, node in enumerate(nodes):
            with _client(node) as client:
                if i < masters:
                    last = CLUSTER_SLOTS - 1 if i == masters - 1 else (i + 1) * step - 1
                    client.execute_command("CLUSTER", "ADDSLOTSRANGE", i * step, last)
                for other, bus in zip(nodes[:i], buses, strict=False):
                    client.execute_command("CLUSTER", "MEET", "127.0.0.1", other.port, bus)
        for i, node in enumerate(nodes[masters:]):
            with _client(nodes[i % masters]) as primary, _client(node) as client:
                primary_id = primary.execute_command("CLUSTER", "MYID")
                _wait("the replica", lambda c=client, p=primary_id: _knows(c, p))
                client.execute_command("CLUSTER", "REPLICATE", primary_id)
        deployment = Deployment(
            "cluster",
            {
                "redis_url": None,
                "redis_cluster_nodes": [f"127.0.0.1:{n.port}" for n in nodes[:masters]],
                "redis_password": PASSWORD,
            },
            nodes,
        )
        deployment.wait_ready()
        yield deployment


def _knows(client: Any, node_id: bytes | str) -> bool:
    """Whether ``client``'s node has heard of the node ``node_id`` (it can replicate it)."""
    text = node_id.decode() if isinstance(node_id, bytes) else node_id
    return text in str(client.execute_command("CLUSTER", "NODES"))


@contextmanager
def sentinel(data_dir: Path, sentinels: int = 3) -> Iterator[Deployment]:
    """A primary and its replica, watched by ``sentinels`` Sentinels (quorum: a majority)."""
    with ExitStack() as stack:
        # Either sends its data to a new replica at once (not after the default 5 s).
        at_once = [*AUTH, "--repl-diskless-sync-delay", "0"]
        primary = valkey(data_dir, name="sentinel-primary", args=at_once)
        primary.start()
        stack.callback(primary.stop)
        replica = valkey(
            data_dir,
            name="sentinel-replica",
            args=[*at_once, "--replicaof", "127.0.0.1", str(primary.port)],
        )
        replica.start()
        stack.callback(replica.stop)
        watchers = []
        for i in range(sentinels):
            config = [
                f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {primary.port} {sentinels // 2 + 1}",
                f"sentinel down-after-milliseconds {SENTINEL_MASTER} 2000",
                f"sentinel failover-timeout {SENTINEL_MASTER} 10000",
                f"sentinel auth-pass {SENTINEL_MASTER} {PASSWORD}",
            ]
            watcher = valkey(data_dir, name=f"sentinel-{i}", sentinel_config=config)
            watcher.start()
            stack.callback(watcher.stop)
            watchers.append(watcher)
        deployment = Deployment(
            "sentinel",
            {
                "redis_url": None,
                "redis_sentinels": [f"127.0.0.1:{w.port}" for w in watchers],
                "redis_sentinel_master": SENTINEL_MASTER,
                "redis_password": PASSWORD,
            },
            [primary, replica],
            watchers,
        )
        deployment.wait_ready()
        yield deployment


@dataclass
class SlotMove:
    """Moving one hash slot of a Cluster to another primary, step by step, as an operator
    resharding does (``CLUSTER SETSLOT`` and ``MIGRATE``)."""

    deployment: Deployment
    slot: int
    source: EmbeddedProcess = field(init=False)
    target: EmbeddedProcess = field(init=False)
    ids: dict[int, str] = field(init=False)

    async def _run(self, server: EmbeddedProcess, *command: Any) -> Any:
        client = AsyncRedis(port=server.port, password=PASSWORD, socket_timeout=10)
        try:
            return await client.execute_command(*command)  # type: ignore[no-untyped-call]
        finally:
            await client.aclose()

    async def begin(self) -> None:
        """Mark the slot migrating on its owner (the primary holding its keys: it must have
        some) and importing on another primary."""
        nodes = self.deployment.servers
        self.ids = {n.port: (await self._run(n, "CLUSTER", "MYID")).decode() for n in nodes}
        holding = [n for n in nodes if await self._run(n, "CLUSTER", "COUNTKEYSINSLOT", self.slot)]
        [self.source] = holding
        self.target = next(n for n in nodes if n is not self.source)
        source, target = self.ids[self.source.port], self.ids[self.target.port]
        await self._run(self.target, "CLUSTER", "SETSLOT", self.slot, "IMPORTING", source)
        await self._run(self.source, "CLUSTER", "SETSLOT", self.slot, "MIGRATING", target)

    async def move_keys(self) -> int:
        """Move the slot's keys to the target; how many."""
        keys = await self._run(self.source, "CLUSTER", "GETKEYSINSLOT", self.slot, 1000)
        if keys:
            await self._run(self.source, "MIGRATE", "127.0.0.1", self.target.port, "", 0, 5000,
                            "AUTH", PASSWORD, "KEYS", *keys)  # fmt: skip
        return len(keys)

    async def finish(self) -> None:
        """Give the slot to the target, on every primary."""
        for node in (self.target, self.source, *self.deployment.servers):
            await self._run(node, "CLUSTER", "SETSLOT", self.slot, "NODE",
                            self.ids[self.target.port])  # fmt: skip
