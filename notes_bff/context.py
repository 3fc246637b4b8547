"""The per-request GraphQL context."""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from aiohttp import web
from beanie import PydanticObjectId

from notes_bff.auth.passwords import Passwords
from notes_bff.auth.revocation import SESSION_ENDED
from notes_bff.auth.sessions import SessionService
from notes_bff.auth.tokens import TokenClaims
from notes_bff.config import Settings
from notes_bff.errors import AppError, Unauthenticated
from notes_bff.loaders import Loaders
from notes_bff.ratelimit import Attempt, Decision, RateLimited, RateLimits
from notes_bff.realtime.delivery import Delivery
from notes_bff.realtime.hub import Realtime

# Subscriptions resolve each event with that event's delivery (fresh loaders per event,
# shared by the process's subscribers of it); set in the subscription's task, so concurrent
# subscriptions of one connection never see each other's.
_delivery: ContextVar[Delivery | None] = ContextVar("delivery", default=None)


def use_delivery(delivery: Delivery) -> None:
    """Resolve what follows in this task as part of ``delivery``."""
    _delivery.set(delivery)


def current_delivery() -> Delivery | None:
    """The subscription event this task is resolving, if any."""
    return _delivery.get()


class ViewerReads:
    """Whether the work recorded with :func:`recording_viewer_reads` looked at the viewer."""

    seen = False


_viewer_reads: ContextVar[ViewerReads | None] = ContextVar("viewer_reads", default=None)


@contextmanager
def recording_viewer_reads() -> Iterator[ViewerReads]:
    """Note whether anything reads :attr:`Context.viewer_id` in this block, or in the tasks
    it starts (they copy the context)."""
    reads = ViewerReads()
    token = _viewer_reads.set(reads)
    try:
        yield reads
    finally:
        _viewer_reads.reset(token)


@dataclass
class Context:
    """What every resolver may use: the request, the viewer and this request's loaders."""

    request: web.Request
    response: web.StreamResponse
    settings: Settings
    request_loaders: Loaders
    sessions: SessionService
    realtime: Realtime
    passwords: Passwords
    rate_limits: RateLimits
    claims: TokenClaims | None = None
    auth_error: AppError | None = None
    request_id: str = ""
    connection_params: dict[str, object] | None = None
    client_ip: str = ""
    # Set while the operation is checked: its static cost, then what spending it decided.
    operation_cost: int = 1
    rate: Decision | None = None

    @property
    def loaders(self) -> Loaders:
        """This request's loaders, or the current subscription event's."""
        delivery = _delivery.get()
        return delivery.loaders if delivery is not None else self.request_loaders

    @property
    def viewer_id(self) -> PydanticObjectId | None:
        """The signed-in user's id; raises if a token was sent but is not valid, or its
        session has ended since (a websocket's next operation, a later alias)."""
        reads = _viewer_reads.get()
        if reads is not None:
            reads.seen = True
        if self.auth_error is not None:
            raise self.auth_error
        if self.claims is None:
            return None
        # Not inside an event's rendering: one viewer's renderings may be shared by their
        # other sessions. An ended session's websocket is closed instead.
        if _delivery.get() is None and self.sessions.revocations.ended(self.claims):
            raise Unauthenticated(SESSION_ENDED)
        return PydanticObjectId(self.claims.user_id)

    async def close_connection(self, code: int, reason: str) -> None:
        """Close this context's websocket (subscriptions) with ``code``."""
        if isinstance(self.response, web.WebSocketResponse) and not self.response.closed:
            await self.response.close(code=code, message=reason.encode())

    async def limit_auth(self, attempt: Awaitable[Attempt]) -> Attempt:
        """Spend a sign-in attempt (``rate_limits.auth``); when refused, the HTTP response
        carries ``Retry-After`` like every other ``RATE_LIMITED``."""
        try:
            return await attempt
        except RateLimited as refused:
            if not self.response.prepared:
                self.response.headers["Retry-After"] = str(refused.extensions["retryAfter"])
            raise

    def require_viewer(self) -> PydanticObjectId:
        """The signed-in user's id, or ``UNAUTHENTICATED``."""
        viewer = self.viewer_id
        if viewer is None:
            raise Unauthenticated()
        return viewer
