"""The per-request GraphQL context."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web
from beanie import PydanticObjectId

from notes_bff.auth.passwords import Passwords
from notes_bff.auth.sessions import SessionService
from notes_bff.auth.tokens import TokenClaims
from notes_bff.config import Settings
from notes_bff.errors import AppError, Unauthenticated
from notes_bff.loaders import Loaders
from notes_bff.persisted.store import CachedDocument


@dataclass
class Context:
    """What every resolver may use: the request, the viewer and this request's loaders."""

    request: web.Request
    response: web.StreamResponse
    settings: Settings
    loaders: Loaders
    sessions: SessionService
    passwords: Passwords
    claims: TokenClaims | None = None
    auth_error: AppError | None = None
    request_id: str = ""
    # Persisted documents of this request by query text (a batch may carry several).
    documents: dict[str, CachedDocument] = field(default_factory=dict)

    @property
    def viewer_id(self) -> PydanticObjectId | None:
        """The signed-in user's id; raises if a token was sent but is not valid."""
        if self.auth_error is not None:
            raise self.auth_error
        return PydanticObjectId(self.claims.user_id) if self.claims else None

    def require_viewer(self) -> PydanticObjectId:
        """The signed-in user's id, or ``UNAUTHENTICATED``."""
        viewer = self.viewer_id
        if viewer is None:
            raise Unauthenticated()
        return viewer
