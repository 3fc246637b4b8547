"""Rate limits: GCRA in one Redis Lua script, shared by every worker and host.

Each subject (a user, or a client IP when anonymous) has a budget of points per period; an
operation spends its static cost. When Redis does not answer, a per-process limiter with the
same rule takes over (or every request passes, or none: ``NOTES_BFF_RATE_LIMIT_FALLBACK``).

Sign-in attempts have budgets of their own (:class:`AuthLimits`), shaped so that strangers
cannot lock an account's owner out (docs/security.md, "Sign-in throttling without lock-out").
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cachetools import TTLCache
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from notes_bff.config import RateLimitFallback as Fallback
from notes_bff.errors import AppError
from notes_bff.redis_guard import RedisGuard

# GCRA: the key holds the "theoretical arrival time" (TAT) in ms. Returns
# {allowed, remaining, retry_after_ms, reset_after_ms}. A negative cost gives points back
# (never more than the full budget).
_GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = math.max(tat + cost * interval, now)
local allow_at = new_tat - burst
if allow_at > now then
  return {0, math.floor((now + burst - tat) / interval), allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1000)
return {1, math.floor((now + burst - new_tat) / interval), 0, new_tat - now}
"""
PREFIX = "notes-bff:rate:"
KNOWN_PREFIX = "notes-bff:known-address:"


class RateLimited(AppError):
    """Over the caller's budget."""

    code = "RATE_LIMITED"
    http_status = 429


@dataclass(frozen=True)
class Decision:
    """The outcome of spending points."""

    allowed: bool
    limit: int
    cost: int
    remaining: int
    retry_after: float
    reset_at: float

    def error(self) -> RateLimited:
        """The error to answer with when not allowed."""
        seconds = max(1, math.ceil(self.retry_after))
        return RateLimited(
            f"Rate limit exceeded: this costs {self.cost} of {self.limit} points per period; "
            f"retry in {seconds} s.",
            retryAfter=seconds,
        )


class RateLimiter:
    """A GCRA budget of ``limit`` points per ``period_s`` per subject."""

    def __init__(
        self,
        redis: Redis,
        guard: RedisGuard,
        name: str,
        limit: int,
        period_s: float,
        fallback: Fallback,
    ) -> None:
        self.redis = redis
        self.guard = guard
        self.name = name
        self.limit = limit
        self.period_ms = period_s * 1000
        self.fallback = fallback
        self._script = redis.register_script(_GCRA)
        self._local: TTLCache[str, float] = TTLCache(maxsize=100_000, ttl=period_s)

    @property
    def _interval(self) -> float:
        return self.period_ms / self.limit

    async def take(self, subject: str, cost: int) -> Decision:
        """Spend ``cost`` points of ``subject``'s budget (nothing is spent when refused); a
        negative ``cost`` gives points back. Refusals are counted by budget."""
        decision = await self._take(subject, cost)
        if not decision.allowed:
            self.guard.metrics.rate_limit_rejections.labels(self.name).inc()
        return decision

    async def _take(self, subject: str, cost: int) -> Decision:
        now = time.time() * 1000
        # The budget's size is part of the key: a new configuration starts fresh budgets
        # instead of reinterpreting state kept under another rate.
        key = f"{PREFIX}{self.name}:{self.limit}/{self.period_ms:g}:{subject}"
        args = [now, self._interval, self.period_ms, cost]
        answer = await self.guard.call(lambda: self._run(key, args))
        if answer is None:
            return self._without_redis(key, now, cost)
        allowed, remaining, retry_ms, reset_ms = (float(x) for x in answer)
        return Decision(
            bool(allowed),
            self.limit,
            cost,
            int(remaining),
            retry_ms / 1000,
            (now + reset_ms) / 1000,
        )

    async def _run(self, key: str, args: list[float]) -> Any:
        """The script by its hash, as one command (redis-py's script object adds an argument
        check and an import per call); by the script object, which loads it, when Redis does
        not know it (after a restart or a failover)."""
        try:
            return await self.redis.execute_command("EVALSHA", self._script.sha, 1, key, *args)  # type: ignore[no-untyped-call]
        except NoScriptError:
            return await self._script(keys=[key], args=args)

    def _without_redis(self, key: str, now: float, cost: int) -> Decision:
        if self.fallback is not Fallback.LOCAL:
            allowed = self.fallback is Fallback.OPEN
            return Decision(
                allowed,
                self.limit,
                cost,
                self.limit if allowed else 0,
                0 if allowed else 60,
                now / 1000,
            )
        tat = max(self._local.get(key, now), now)
        new_tat = max(tat + cost * self._interval, now)
        allow_at = new_tat - self.period_ms
        if allow_at > now:
            remaining = int((now + self.period_ms - tat) // self._interval)
            return Decision(False, self.limit, cost, remaining, (allow_at - now) / 1000, tat / 1000)
        self._local[key] = new_tat
        remaining = int((now + self.period_ms - new_tat) // self._interval)
        return Decision(True, self.limit, cost, remaining, 0, new_tat / 1000)


Budget = tuple[RateLimiter, str]


async def refund(budgets: Sequence[Budget]) -> None:
    """Give one point back to each budget."""
    for limiter, subject in budgets:
        await limiter.take(subject, -1)


async def spend_all(budgets: Sequence[Budget]) -> list[Budget]:
    """One point of every budget, or none: ``RateLimited`` when one is exhausted."""
    spent: list[Budget] = []
    for limiter, subject in budgets:
        decision = await limiter.take(subject, 1)
        if not decision.allowed:
            await refund(spent)
            raise decision.error()
        spent.append((limiter, subject))
    return spent


@dataclass
class Attempt:
    """Sign-in attempts spent before the credentials are checked (see :class:`AuthLimits`)."""

    limits: AuthLimits
    refundable: list[Budget] = field(default_factory=list)
    # The account and address of a log-in or sign-up: known-good once it succeeds.
    account: str | None = None
    address: str = ""

    async def succeeded(self) -> None:
        """The credentials were right: only failures count, so give the attempts back."""
        await refund(self.refundable)
        if self.account is not None:
            await self.limits.remember(self.account, self.address)


class AuthLimits:
    """Budgets of sign-in attempts that strangers cannot use to lock an owner out.

    Like mature identity providers: failed log-ins are limited strictly per (account,
    address) and per address, and per account only with a larger, slower budget that does
    not apply from an address where the account signed in recently (known-good). Failed
    refreshes have their own per-address budget, so bogus ones cannot stop log-ins. Every
    attempt is spent *before* the credentials are checked (so concurrent guesses cannot
    overdraw) and given back when they were right; sign-ups always spend the address's.
    """

    def __init__(
        self,
        redis: Redis,
        guard: RedisGuard,
        *,
        per_pair: RateLimiter,
        per_account: RateLimiter,
        per_address: RateLimiter,
        refreshes_per_address: RateLimiter,
        known_ttl_s: int,
    ) -> None:
        self.redis = redis
        self.guard = guard
        self.per_pair = per_pair
        self.per_account = per_account
        self.per_address = per_address
        self.refreshes_per_address = refreshes_per_address
        self.known_ttl_s = known_ttl_s

    def _known_key(self, account: str, address: str) -> str:
        return f"{KNOWN_PREFIX}{account} {address}"

    async def remember(self, account: str, address: str) -> None:
        """Note a successful sign-in of ``account`` from ``address`` (for ``known_ttl_s``)."""
        key = self._known_key(account, address)
        await self.guard.call(lambda: self.redis.set(key, 1, ex=self.known_ttl_s))

    async def log_in(self, account: str, address: str) -> Attempt:
        """Spend a log-in attempt; ``RateLimited`` when a budget is exhausted."""
        budgets = [(self.per_address, address), (self.per_pair, f"{account} {address}")]
        key = self._known_key(account, address)
        if not await self.guard.call(lambda: self.redis.exists(key)):
            budgets.append((self.per_account, account))
        return Attempt(self, await spend_all(budgets), account, address)

    async def sign_up(self, account: str, address: str) -> Attempt:
        """Spend a sign-up of this address (kept even when it succeeds)."""
        await spend_all([(self.per_address, address)])
        return Attempt(self, [], account, address)

    async def refresh(self, address: str) -> Attempt:
        """Spend a refresh attempt of this address."""
        return Attempt(self, await spend_all([(self.refreshes_per_address, address)]))


@dataclass(frozen=True)
class RateLimits:
    """The limiters of one application."""

    user: RateLimiter
    anonymous: RateLimiter
    auth: AuthLimits
    # addMember lookups of addresses without an account, per user and per client IP.
    member_lookup: RateLimiter
    member_lookup_ip: RateLimiter
    # requestPasswordReset, per address asked for and per client IP.
    password_reset: RateLimiter
    password_reset_ip: RateLimiter


@functools.cache
def _networks(
    trusted_proxies: tuple[str, ...],
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The configured proxies' networks, parsed once per configuration."""
    return [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]


def client_ip(request: web.Request, trusted_proxies: list[str]) -> str:
    """The client's address: ``X-Forwarded-For``'s last untrusted hop, behind trusted proxies."""
    remote = request.remote or "unknown"
    if not trusted_proxies:
        return remote
    networks = _networks(tuple(trusted_proxies))

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in networks)

    if not trusted(remote):
        return remote
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted(hop):
            return hop
    return hops[0] if hops else remote
