"""Who is acting, and what their unit of work reads and writes through: no transport."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from beanie import PydanticObjectId

from notes_bff.auth.passwords import Passwords
from notes_bff.auth.revocation import SESSION_ENDED
from notes_bff.auth.sessions import SessionService
from notes_bff.auth.tokens import TokenClaims
from notes_bff.collab.service import Collaboration
from notes_bff.config import Settings
from notes_bff.errors import AppError, Unauthenticated
from notes_bff.loaders import Loaders, build_loaders
from notes_bff.models.clock import now
from notes_bff.ratelimit import RateLimits
from notes_bff.realtime.delivery import current_delivery
from notes_bff.realtime.hub import Realtime


class ViewerReads:
    """Whether the work recorded with :func:`recording_viewer_reads` looked at the viewer."""

    seen = False


_viewer_reads: ContextVar[ViewerReads | None] = ContextVar("viewer_reads", default=None)


@contextmanager
def recording_viewer_reads() -> Iterator[ViewerReads]:
    """Note whether anything reads :attr:`Actor.viewer_id` in this block, or in the tasks
    it starts (they copy the context)."""
    reads = ViewerReads()
    token = _viewer_reads.set(reads)
    try:
        yield reads
    finally:
        _viewer_reads.reset(token)


@dataclass(kw_only=True)
class Actor:
    """One signed-in (or anonymous) user's unit of work: the process's components they act
    through, their loaders, where they act from, and the clock.

    Every transport builds one (a GraphQL request, a websocket, the collaboration socket,
    the scheduler and the CLI act without a viewer) and every service takes one.
    """

    settings: Settings
    sessions: SessionService
    realtime: Realtime
    passwords: Passwords
    rate_limits: RateLimits
    collab: Collaboration | None = None
    own_loaders: Loaders = field(default_factory=build_loaders)
    client_ip: str = ""
    claims: TokenClaims | None = None
    auth_error: AppError | None = None
    clock: Callable[[], datetime] = now

    @property
    def loaders(self) -> Loaders:
        """This unit of work's loaders, or the current subscription event's."""
        delivery = current_delivery()
        return delivery.loaders if delivery is not None else self.own_loaders

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
        if current_delivery() is None and self.sessions.revocations.ended(self.claims):
            raise Unauthenticated(SESSION_ENDED)
        return PydanticObjectId(self.claims.user_id)

    def require_viewer(self) -> PydanticObjectId:
        """The signed-in user's id, or ``UNAUTHENTICATED``."""
        viewer = self.viewer_id
        if viewer is None:
            raise Unauthenticated()
        return viewer

    def act_as(self, claims: TokenClaims) -> None:
        """From now on, act as the user these (just verified) claims name."""
        self.claims, self.auth_error = claims, None
