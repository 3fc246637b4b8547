"""The GraphQL context over HTTP and websockets: what sign-ins, budgets and slow
subscribers mean on the wire."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from notes_bff.auth.sessions import IssuedTokens
from notes_bff.execution.context import Context
from notes_bff.http.cookies import REFRESH_COOKIE, clear_auth_cookies, set_auth_cookies
from notes_bff.ratelimit import Decision

CLOSE_SLOW = 4508
# The consistency token: sent after a mutation, sent back by the client (docs/scaling.md).
CONSISTENCY_HEADER = "X-Notes-Consistency"


@dataclass(kw_only=True)
class HttpContext(Context):
    """A context with the aiohttp request and its response (a websocket for subscriptions)."""

    request: web.Request
    response: web.StreamResponse

    def user_agent(self) -> str:
        """The request's (a websocket's upgrade request's) ``User-Agent`` header."""
        return self.request.headers.get("User-Agent", "")

    def refresh_token_sent(self) -> str | None:
        """The ``nb_refresh`` cookie."""
        return self.request.cookies.get(REFRESH_COOKIE)

    def signed_in(self, issued: IssuedTokens) -> None:
        """Set both auth cookies."""
        settings = self.settings
        set_auth_cookies(
            self.response,
            access=issued.access_token,
            access_expires=issued.access_expires_at,
            refresh=issued.refresh_token,
            refresh_max_age=settings.refresh_token_ttl_seconds,
            secure=settings.is_production,
        )

    def signed_out(self) -> None:
        """Expire both auth cookies."""
        clear_auth_cookies(self.response, secure=self.settings.is_production)

    def consistency_token_issued(self, token: str) -> None:
        """The ``X-Notes-Consistency`` response header (not on a websocket)."""
        if not self.response.prepared:
            self.response.headers[CONSISTENCY_HEADER] = token

    def rate_decided(self, decision: Decision) -> None:
        """``X-RateLimit-*`` headers, and ``Retry-After`` when refused (not on a websocket,
        whose handshake is long gone)."""
        response = self.response
        if response.prepared:
            return
        response.headers["X-RateLimit-Limit"] = str(decision.limit)
        response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
        response.headers["X-RateLimit-Reset"] = str(int(decision.reset_at))
        if not decision.allowed:
            response.headers["Retry-After"] = str(max(1, int(decision.retry_after + 0.999)))

    async def end_slow_subscriber(self) -> None:
        """Close the websocket with 4508; the client reconnects and resumes with ``after``."""
        await self.close_connection(
            CLOSE_SLOW, "Subscriber too slow; reconnect (with `after` to resume)"
        )

    async def close_connection(self, code: int, reason: str) -> None:
        """Close this context's websocket with ``code`` (nothing for plain HTTP)."""
        if isinstance(self.response, web.WebSocketResponse) and not self.response.closed:
            await self.response.close(code=code, message=reason.encode())
