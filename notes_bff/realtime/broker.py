"""One Redis pub/sub reader per process, fanning events out to local subscribers.

Subscribers never open Redis connections of their own: each gets a bounded queue. A
subscriber whose queue overflows is cut off (``overflowed``) rather than allowed to grow
memory or slow the others. The reader reconnects with backoff after Redis restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterator

import structlog
from redis.asyncio import Redis

from notes_bff.background import BackgroundTasks
from notes_bff.errors import ServiceUnavailable
from notes_bff.metrics import Metrics
from notes_bff.realtime.delivery import Delivery
from notes_bff.realtime.event_log import CHANNEL
from notes_bff.realtime.events import Event
from notes_bff.redis_guard import REDIS_OUTAGES

log = structlog.get_logger("notes_bff.broker")
MAX_BACKOFF_S = 5.0
READ_TIMEOUT_S = 5.0


class SlowSubscriber(Exception):
    """The subscriber's queue overflowed; its connection is closed."""


def _interrupted() -> Exception:
    return ServiceUnavailable(
        "Live updates were interrupted (Redis); subscribe again, with `after` to resume."
    )


class Subscription:
    """One local subscriber's bounded queue of deliveries.

    A deque and at most one waiting future: the broker wakes thousands of these per event,
    so waiting costs one future, not an ``asyncio.Queue`` getter plus an ``asyncio.wait``.
    """

    def __init__(self, topics: frozenset[str], queue_size: int) -> None:
        self.topics = topics
        self.queue_size = queue_size
        self.queue: deque[Delivery] = deque()
        self.reason: Callable[[], Exception] | None = None
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

    async def __aiter__(self) -> AsyncIterator[Delivery]:
        while True:
            if self.queue:
                yield self.queue.popleft()
            elif self.reason is not None:
                raise self.reason()
            else:
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None


class Broker:
    """The process's single pub/sub reader and its local fan-out."""

    def __init__(self, redis: Redis, metrics: Metrics, queue_size: int) -> None:
        """``redis`` is the broker's own client (no socket timeout: it waits for messages)."""
        self.redis = redis
        self.queue_size = queue_size
        self.metrics = metrics
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._tasks = BackgroundTasks()
        self._stopping = False
        self.down = False

    def start(self) -> None:
        """Start the reader task."""
        self._tasks.start(broker=self._run())

    async def stop(self) -> None:
        """Stop the reader task."""
        self._stopping = True
        await self._tasks.stop()

    @contextlib.contextmanager
    def subscribe(self, *topics: str) -> Iterator[Subscription]:
        """A local subscription to some topics, removed on exit.

        While the broker has lost Redis, new subscriptions are refused (SERVICE_UNAVAILABLE)
        and the ones that existed ended with that error: events of that time are not
        delivered, so clients should resubscribe (resuming with ``after``) once it is back.
        """
        if self.down:
            raise _interrupted()
        subscription = Subscription(frozenset(topics), self.queue_size)
        for topic in topics:
            self._subscribers[topic].add(subscription)
        try:
            yield subscription
        finally:
            for topic in topics:
                self._subscribers[topic].discard(subscription)
                if not self._subscribers[topic]:
                    del self._subscribers[topic]

    def dispatch(self, raw: bytes) -> None:
        """Hand one channel message to the local subscribers of its topic."""
        event_id, _, payload = raw.partition(b"|")
        event = Event.decode(payload, None if event_id == b"-" else event_id.decode())
        subscribers = self._subscribers.get(event.topic)
        if subscribers:
            delivery = Delivery(event, live=True)
            for subscription in list(subscribers):
                if not subscription.offer(delivery):
                    self.metrics.slow_subscribers.inc()

    async def _run(self) -> None:
        backoff = 0.1
        # redis-py may turn a cancellation that meets its read timeout into a TimeoutError,
        # so the loop also stops on the flag rather than relying on CancelledError alone.
        while not self._stopping:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await self.redis.ping()  # a Cluster client learns the slots' owners first
                await pubsub.subscribe(CHANNEL)
                if self.down:
                    self.down = False
                    log.info("broker_reconnected")
                backoff = 0.1
                while not self._stopping:
                    # A timeout (not a blocking listen) lets redis-py PING the connection
                    # (health_check_interval) and notice a dead one.
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=READ_TIMEOUT_S
                    )
                    if message is not None and message["type"] == "message":
                        self.dispatch(message["data"])
                    self.metrics.background_success.labels("broker").set(time.time())
            except REDIS_OUTAGES as exc:
                if self._stopping:
                    return
                self.down = True
                for subscription in {s for subs in self._subscribers.values() for s in subs}:
                    subscription.end(_interrupted)
                self.metrics.redis_errors.labels("broker").inc()
                log.warning("broker_disconnected", error=str(exc)[:200], retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
