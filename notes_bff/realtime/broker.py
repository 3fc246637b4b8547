"""The process's pub/sub link to Redis, fanning events out to local subscribers.

Workspace and user topics travel on sharded channels (``SSUBSCRIBE``), one per topic, in the
slot of the workspace's log (``events.shard_channel``). The process subscribes to a channel
while it has a local subscriber of its topic: the first one subscribes, the last one leaving
unsubscribes. Topics every process follows (revocations) stay on the classic global channel.
One connection reads everything on a single server or Sentinel's primary; on a Cluster,
redis-py's ``ClusterPubSub`` keeps one per primary that owns a subscribed channel, plus one
for the global channel.

Subscribers never open Redis connections of their own: each gets a bounded queue. A
subscriber whose queue overflows is cut off (``overflowed``) rather than allowed to grow
memory or slow the others.

**Gaps.** The process remembers the last event id it delivered from each workspace's log.
When a channel's subscription is interrupted (its slot moved to another shard: the server
sends ``sunsubscribe``; or the connection dropped: a restart, a failover), the broker
subscribes again and reads the log after that id, delivering what was missed in order; live
events are deduplicated by id (the channel and the log share them). Subscribers that asked
for this (``resumable``: they want the logged events only) go on without a gap; the others
end with ``SERVICE_UNAVAILABLE`` (unlogged events cannot be replayed), and so do all of them
when the log no longer reaches back (trimmed, or lost by a failover) or when Redis stays away
longer than ``RESUME_WINDOW_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, ClusterPubSub
from redis.exceptions import ResponseError

from notes_bff.background import BackgroundTasks
from notes_bff.errors import ServiceUnavailable
from notes_bff.metrics import Metrics
from notes_bff.realtime.delivery import Delivery
from notes_bff.realtime.event_log import CHANNEL, EventLog, id_after
from notes_bff.realtime.events import Event, shard_channel
from notes_bff.redis_client import refresh_topology
from notes_bff.redis_guard import REDIS_OUTAGES

T = TypeVar("T")
log = structlog.get_logger("notes_bff.broker")
MAX_BACKOFF_S = 5.0
READ_TIMEOUT_S = 5.0
IDLE_POLL_S = 0.2
# How long a channel's subscription may wait for the server's confirmation.
CONFIRM_TIMEOUT_S = 5.0
# How long resumable subscriptions wait for Redis to come back (a failover) before ending.
RESUME_WINDOW_S = 5.0
# How long a new subscription waits for a lost link to come back before it is refused.
REACH_WAIT_S = 5.0
# A server-sent SSUBSCRIBE error (MOVED) counts as an interruption, like a lost connection.
LINK_FAILURES = (*REDIS_OUTAGES, ResponseError, TimeoutError)


class SlowSubscriber(Exception):
    """The subscriber's queue overflowed; its connection is closed."""


def _interrupted() -> Exception:
    return ServiceUnavailable(
        "Live updates were interrupted (Redis); subscribe again, with `after` to resume."
    )


class _Channel:
    """The shard channel of one topic: its subscription on the current link and, for a
    workspace's log, the last event id delivered (the point a gap is read from)."""

    def __init__(self, topic: str, name: str) -> None:
        self.topic = topic
        self.name = name
        kind, _, subject = topic.partition(":")
        self.workspace_id = subject if kind == "ws" else None
        self.last_id: str | None = None
        self.subscribed = False  # SSUBSCRIBE sent on the current link
        self.node: str | None = None  # the Cluster primary whose connection confirmed it
        self.confirmed = asyncio.Event()
        self.ready = asyncio.Event()  # confirmed, and the log read up to the subscription
        self.held: list[Event] | None = None  # live events held while the log is read

    def reset(self) -> None:
        """Not subscribed (a new link, or the server dropped the subscription)."""
        self.subscribed = False
        self.confirmed.clear()
        self.ready.clear()


class Subscription:
    """One local subscriber's bounded queue of deliveries.

    A deque and at most one waiting future: the broker wakes thousands of these per event,
    so waiting costs one future, not an ``asyncio.Queue`` getter plus an ``asyncio.wait``.
    """

    def __init__(
        self,
        topics: frozenset[str],
        queue_size: int,
        *,
        resumable: bool = False,
        channels: Iterable[_Channel] = (),
    ) -> None:
        self.topics = topics
        self.queue_size = queue_size
        self.resumable = resumable
        self.queue: deque[Delivery] = deque()
        self.reason: Callable[[], Exception] | None = None
        self._channels = list(channels)
        self._waiter: asyncio.Future[None] | None = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def offer(self, delivery: Delivery) -> bool:
        """Queue a delivery; on overflow end the subscription as too slow (False when this
        delivery is the one that cut it off)."""
        if len(self.queue) >= self.queue_size:
            cut_off = self.reason is None
            self.end(SlowSubscriber)
            return not cut_off
        if self.reason is None:
            self.queue.append(delivery)
            self._wake()
        return True

    def end(self, reason: Callable[[], Exception]) -> None:
        """Stop delivering: the iteration raises ``reason()`` (once its queue is drained)."""
        if self.reason is None:
            self.reason = reason
            self._wake()

    async def _wait(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def ready(self) -> None:
        """Wait until Redis delivers every event of the topics published from now on: their
        channels are subscribed (a round trip for the first local subscriber of a topic)."""
        while not all(channel.ready.is_set() for channel in self._channels):
            if self.reason is not None:
                raise self.reason()
            await self._wait()

    async def __aiter__(self) -> AsyncIterator[Delivery]:
        while True:
            if self.queue:
                yield self.queue.popleft()
            elif self.reason is not None:
                raise self.reason()
            else:
                await self._wait()


class Broker:
    """The process's pub/sub link and its local fan-out."""

    def __init__(self, redis: Redis, log: EventLog, metrics: Metrics, queue_size: int) -> None:
        """``redis`` is the broker's own client (no socket timeout: it waits for messages,
        and no retries: a lost connection is a gap the broker closes itself); ``log`` reads
        the workspaces' logs to close gaps."""
        self.redis = redis
        self.log = log
        self.queue_size = queue_size
        self.metrics = metrics
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._channels: dict[str, _Channel] = {}
        self._by_name: dict[bytes, _Channel] = {}
        self._changed = asyncio.Event()
        self._readers: dict[str | None, asyncio.Task[None]] = {}
        self._failed: asyncio.Future[None] | None = None
        self._refresh = False
        self._tasks = BackgroundTasks()
        self._stopping = False
        self.down = False
        self._up = asyncio.Event()  # set while the link is connected
        self._wake = asyncio.Event()  # a subscriber waits: retry now, not after the backoff

    def start(self) -> None:
        """Start the link's task."""
        self._tasks.start(broker=self._run())

    async def stop(self) -> None:
        """Stop the link's task."""
        self._stopping = True
        await self._tasks.stop()

    async def reachable(self) -> None:
        """While the link is down, have it retry at once (rather than at the end of its
        backoff, which grows to ``MAX_BACKOFF_S``) and wait up to ``REACH_WAIT_S`` for it:
        a subscriber arriving just after Redis came back is then served, not refused."""
        if self.down:
            self._wake.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._up.wait(), REACH_WAIT_S)

    @contextlib.contextmanager
    def subscribe(self, *topics: str, resumable: bool = False) -> Iterator[Subscription]:
        """A local subscription to some topics, removed on exit.

        ``resumable``: the subscriber wants the logged events only, so an interruption of
        the channel is closed from the log instead of ending the subscription. While the
        broker has lost Redis, new subscriptions are refused (SERVICE_UNAVAILABLE): await
        :meth:`reachable` first.
        """
        if self.down:
            raise _interrupted()
        channels = [self._channel(topic) for topic in topics if shard_channel(topic)]
        subscription = Subscription(
            frozenset(topics), self.queue_size, resumable=resumable, channels=channels
        )
        for topic in topics:
            self._subscribers[topic].add(subscription)
        try:
            yield subscription
        finally:
            for topic in topics:
                self._subscribers[topic].discard(subscription)
                if not self._subscribers[topic]:
                    del self._subscribers[topic]
                    if topic in self._channels:
                        self._changed.set()  # the last one left: unsubscribe

    def _channel(self, topic: str) -> _Channel:
        channel = self._channels.get(topic)
        if channel is None:
            name = shard_channel(topic)
            assert name is not None
            channel = self._channels[topic] = _Channel(topic, name)
            self._by_name[name.encode()] = channel
            self._changed.set()  # the first one: subscribe
        return channel

    def dispatch(self, raw: bytes) -> None:
        """Hand one channel message to the local subscribers of its topic."""
        event_id, _, payload = raw.partition(b"|")
        event = Event.decode(payload, None if event_id == b"-" else event_id.decode())
        channel = self._channels.get(event.topic)
        if channel is not None and event.event_id is not None:
            if channel.held is not None:
                channel.held.append(event)  # after what the log holds
                return
            if channel.last_id is not None and not id_after(event.event_id, channel.last_id):
                return  # already delivered from the log
            channel.last_id = event.event_id
        self._deliver(event, live=True)

    def _deliver(self, event: Event, *, live: bool) -> None:
        subscribers = self._subscribers.get(event.topic)
        if subscribers:
            delivery = Delivery(event, live=live)
            for subscription in list(subscribers):
                if not subscription.offer(delivery):
                    self.metrics.slow_subscribers.inc()

    def _end(self, topics: Iterable[str], *, resumable_too: bool) -> None:
        """End the local subscriptions of ``topics`` that cannot go on after a gap."""
        for topic in topics:
            for subscription in list(self._subscribers.get(topic, ())):
                if resumable_too or not subscription.resumable:
                    subscription.end(_interrupted)

    # The link

    async def _run(self) -> None:
        backoff = 0.1
        lost_at: float | None = None
        # redis-py may turn a cancellation that meets its read timeout into a TimeoutError,
        # so the loop also stops on the flag rather than relying on CancelledError alone.
        while not self._stopping:
            pubsub = self.redis.pubsub()
            self._failed = asyncio.get_running_loop().create_future()
            try:
                await refresh_topology(self.redis)  # a Cluster learns the slots' owners
                await pubsub.subscribe(CHANNEL)
                self._read(pubsub, None)
                for channel in self._channels.values():
                    channel.reset()
                await self._sync(pubsub)
                self._up.set()
                if self.down:
                    self.down = False
                    log.info("broker_reconnected")
                backoff, lost_at = 0.1, None
                await self._follow(pubsub)
            except Exception as exc:  # the link must outlive any failure
                self._up.clear()
                if self._stopping:
                    return
                if not isinstance(exc, LINK_FAILURES):
                    log.exception("broker_failed")
                if lost_at is None:
                    lost_at = time.monotonic()
                    self.down = True
                    self._end(self._subscribers, resumable_too=False)
                    self.metrics.redis_errors.labels("broker").inc()
                    log.warning("broker_disconnected", error=str(exc)[:200])
                if time.monotonic() - lost_at > RESUME_WINDOW_S:
                    self._end(self._subscribers, resumable_too=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), backoff)
                self._wake.clear()
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            finally:
                for reader in self._readers.values():
                    reader.cancel()
                self._readers.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _follow(self, pubsub: PubSub) -> None:
        """Subscribe and unsubscribe channels as local subscribers come and go, until a
        reader fails."""
        while True:
            await self._unless_failed(self._changed.wait())
            self._changed.clear()
            await self._sync(pubsub)

    async def _unless_failed(self, work: Awaitable[T]) -> T:
        """``work``'s outcome, or the failure of a reader if that comes first."""
        assert self._failed is not None
        task = asyncio.ensure_future(work)
        waited: set[asyncio.Future[Any]] = {task, self._failed}
        try:
            await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
        if self._failed.done():
            self._failed.result()
        return task.result()

    async def _sync(self, pubsub: PubSub) -> None:
        """Unsubscribe channels without local subscribers; subscribe the new ones (and those
        the server dropped), reading their logs up to the subscription."""
        for channel in [c for t, c in self._channels.items() if t not in self._subscribers]:
            del self._channels[channel.topic]
            del self._by_name[channel.name.encode()]
            if channel.subscribed:
                await pubsub.sunsubscribe(channel.name)
        joining = [c for c in self._channels.values() if not c.subscribed]
        if not joining:
            return
        if self._refresh:
            self._refresh = False
            await refresh_topology(self.redis)
        fresh = [c for c in joining if c.workspace_id is not None and c.last_id is None]
        for channel, head in zip(
            fresh, await self.log.heads([c.workspace_id or "" for c in fresh]), strict=True
        ):
            channel.last_id = head  # delivered from here on: nothing before subscribing
        for channel in joining:
            channel.subscribed = True
            channel.held = [] if channel.workspace_id is not None else None
            await pubsub.ssubscribe(channel.name)
        self._read_nodes(pubsub)
        await self._unless_failed(
            asyncio.wait_for(
                asyncio.gather(*(c.confirmed.wait() for c in joining)), CONFIRM_TIMEOUT_S
            )
        )
        await self._catch_up([c for c in joining if c.workspace_id is not None])
        for channel in joining:
            channel.ready.set()
            for subscription in self._subscribers.get(channel.topic, ()):
                subscription._wake()

    async def _catch_up(self, channels: list[_Channel]) -> None:
        """Deliver what each log holds after its channel's last delivered event, then the
        live events held meanwhile; end the subscriptions whose gap the log cannot close."""
        positions = [(c.workspace_id or "", c.last_id or "") for c in channels]
        for channel, missed in zip(channels, await self.log.since(positions), strict=True):
            held, channel.held = channel.held or [], None
            if missed is None:
                log.warning("broker_gap_not_closed", topic=channel.topic, after=channel.last_id)
                self._end([channel.topic], resumable_too=True)
                channel.last_id = None  # a new subscriber starts from the log's head
                continue
            for event in [*missed, *held]:
                assert event.event_id is not None
                if channel.last_id is None or id_after(event.event_id, channel.last_id):
                    channel.last_id = event.event_id
                    self._deliver(event, live=False)

    # Readers: one task per connection of the link

    def _read(self, pubsub: PubSub, node: ClusterNode | None) -> None:
        """Start reading one connection: the link's own, or a Cluster primary's."""
        name = None if node is None else node.name
        if name not in self._readers:
            reader = asyncio.create_task(self._reader(pubsub, node), name="notes-bff-broker-read")
            reader.add_done_callback(self._reader_done)
            self._readers[name] = reader

    def _read_nodes(self, pubsub: PubSub) -> None:
        """On a Cluster, read each primary that holds some of the process's channels."""
        if isinstance(pubsub, ClusterPubSub):
            for name, node_pubsub in list(pubsub.node_pubsub_mapping.items()):
                node = pubsub.cluster.get_node(node_name=name)
                if node is not None and node_pubsub.connection is not None:
                    self._read(pubsub, node)

    def _reader_done(self, reader: asyncio.Task[None]) -> None:
        for name, task in list(self._readers.items()):
            if task is reader:
                del self._readers[name]
        if reader.cancelled() or self._failed is None or self._failed.done():
            return
        failure = reader.exception()
        if failure is not None:
            self._failed.set_exception(failure)

    async def _reader(self, pubsub: PubSub, node: ClusterNode | None) -> None:
        while not self._stopping:
            # A timeout (not a blocking listen) lets redis-py PING the connection
            # (health_check_interval) and notice a dead one.
            if node is None:
                message = await pubsub.get_message(timeout=READ_TIMEOUT_S)
            else:
                assert isinstance(pubsub, ClusterPubSub)
                node_pubsub = pubsub.node_pubsub_mapping.get(node.name)
                if node_pubsub is None or node_pubsub.connection is None:
                    # None now (its channels left, or ClusterPubSub is making it again after
                    # a topology change): keep watching for it while the link lives.
                    await asyncio.sleep(IDLE_POLL_S)
                    continue
                message = await pubsub.get_sharded_message(target_node=node, timeout=READ_TIMEOUT_S)
            if message is not None:
                self._receive(message, None if node is None else node.name)
            self.metrics.background_success.labels("broker").set(time.time())

    def _receive(self, message: dict[str, Any], node: str | None) -> None:
        """Handle one message read from the connection to ``node`` (None: the link's own)."""
        kind = message["type"]
        if kind in ("message", "smessage"):
            self.dispatch(message["data"])
            return
        channel = self._by_name.get(message["channel"])
        if channel is None:
            return
        if kind == "ssubscribe" and channel.subscribed:
            channel.node = node
            channel.confirmed.set()
        elif kind == "sunsubscribe" and channel.confirmed.is_set() and channel.node == node:
            # Not asked for (our own SUNSUBSCRIBEs are answered before the channel is
            # subscribed again, or by the primary it moved away from): its slot moved to
            # another shard. Subscribe again there.
            log.info("broker_channel_moved", channel=channel.name)
            channel.reset()
            self._end([channel.topic], resumable_too=False)
            self._refresh = True
            self._changed.set()
