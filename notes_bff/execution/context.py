"""The per-operation GraphQL context: the actor, and what the transport must do for it."""

from __future__ import annotations

from dataclasses import dataclass

from beanie import PydanticObjectId

from notes_bff.auth.consistency import ConsistencyTokens
from notes_bff.auth.sessions import IssuedTokens
from notes_bff.config import Settings
from notes_bff.loaders import Loaders
from notes_bff.metrics import Metrics
from notes_bff.models.read_routing import ReadAfter
from notes_bff.ratelimit import Decision
from notes_bff.response_cache.store import ResponseCache
from notes_bff.services.actor import Actor


@dataclass(kw_only=True)
class Context:
    """What every resolver may use: the actor, and hooks the transport implements.

    The transport (``http.context``) decides what a sign-in, a sign-out, a spent budget or a
    subscriber too slow to keep means on the wire (cookies, headers, close codes).
    """

    actor: Actor
    metrics: Metrics
    request_id: str = ""
    connection_params: dict[str, object] | None = None
    # Set while the operation is checked: its static cost, then what spending it decided.
    operation_cost: int = 1
    rate: Decision | None = None
    # The response cache (None: off), and whether this operation's answer came from it.
    response_cache: ResponseCache | None = None
    cache_status: str | None = None
    # Consistency tokens (None: every read is on the primary), and the point the operation's
    # list reads must observe (the caller's last write, from a token it sent).
    consistency: ConsistencyTokens | None = None
    read_after: ReadAfter | None = None

    @property
    def settings(self) -> Settings:
        """The process's settings."""
        return self.actor.settings

    @property
    def loaders(self) -> Loaders:
        """The actor's loaders (the current subscription event's while one is rendered)."""
        return self.actor.loaders

    @property
    def viewer_id(self) -> PydanticObjectId | None:
        """See :attr:`Actor.viewer_id`."""
        return self.actor.viewer_id

    def require_viewer(self) -> PydanticObjectId:
        """See :meth:`Actor.require_viewer`."""
        return self.actor.require_viewer()

    def user_agent(self) -> str:
        """The client software as the transport saw it (an HTTP ``User-Agent``), if any."""
        return ""

    def refresh_token_sent(self) -> str | None:
        """A refresh token the transport carries beside the operation (a cookie)."""
        return None

    def signed_in(self, issued: IssuedTokens) -> None:
        """The operation signed the actor in with ``issued``."""

    def signed_out(self) -> None:
        """The operation ended the current session."""

    def consistency_token_issued(self, token: str) -> None:
        """The operation wrote: ``token`` lets the caller's next operations read its writes."""

    def rate_decided(self, decision: Decision) -> None:
        """The operation spent (or was refused) its rate-limit points."""

    async def end_slow_subscriber(self) -> None:
        """A subscription's queue overflowed: end the connection so the client resumes."""
