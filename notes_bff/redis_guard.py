"""Redis calls that degrade instead of failing: the caller falls back to local state."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from redis.exceptions import ClusterDownError, RedisClusterException, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from notes_bff.metrics import Metrics

T = TypeVar("T")
log = structlog.get_logger("notes_bff.redis")
# A Cluster adds its own: no reachable node or slot owner (RedisClusterException), a failover
# in progress (CLUSTERDOWN), a multi-key command during a slot migration (TRYAGAIN).
REDIS_OUTAGES = (
    RedisConnectionError,
    RedisTimeoutError,
    ClusterDownError,
    TryAgainError,
    RedisClusterException,
)
# After a failure, Redis is not asked again for this long (no 2 s timeout on every request).
BACKOFF_S = 2.0


class RedisGuard:
    """Runs Redis calls for one component; while Redis is down, answers None at once.

    The first failure of an outage is logged as a warning, every failure is counted in
    ``notes_bff_redis_errors_total{component}``, and the first success after it is logged.
    """

    def __init__(self, component: str, metrics: Metrics, *, probe: bool = False) -> None:
        """Guard the calls of ``component``, counting failures in ``metrics``.

        ``probe``: for calls whose skipping loses data (the event log's appends): while
        backing off, a call still tries Redis if no other call is trying it (the others
        answer None at once), so the first call after Redis is back succeeds and ends the
        backoff, instead of calls being skipped for up to ``BACKOFF_S`` after Redis (a
        promoted replica) serves again.
        """
        self.component = component
        self.metrics = metrics
        self._probe = probe
        self._probing = False
        self._down_until = 0.0
        self._down = False

    @property
    def available(self) -> bool:
        """False while backing off after a failure."""
        return time.monotonic() >= self._down_until

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T | None:
        """The result of ``operation()``, or None when Redis is (or just was) unreachable."""
        probing = False
        if not self.available:
            if not self._probe or self._probing:
                return None
            probing = self._probing = True
        try:
            result = await operation()
        except REDIS_OUTAGES as exc:
            self.metrics.redis_errors.labels(self.component).inc()
            self._down_until = time.monotonic() + BACKOFF_S
            if not self._down:
                self._down = True
                log.warning("redis_unavailable", component=self.component, error=str(exc)[:200])
            return None
        finally:
            if probing:
                self._probing = False
        if probing:
            self._down_until = 0.0  # Redis is back: the other calls try it again too
        if self._down:
            self._down = False
            log.info("redis_recovered", component=self.component)
        return result
