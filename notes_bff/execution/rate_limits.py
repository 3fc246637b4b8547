"""Spending the operation's cost from the caller's budget; the ``rateLimit`` field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import strawberry
from aiohttp import web
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from notes_bff.context import Context
from notes_bff.persisted.protocol import current_document
from notes_bff.ratelimit import Decision


def _headers(response: web.StreamResponse, decision: Decision) -> None:
    if response.prepared:  # a websocket: its handshake is long gone
        return
    response.headers["X-RateLimit-Limit"] = str(decision.limit)
    response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
    response.headers["X-RateLimit-Reset"] = str(int(decision.reset_at))
    if not decision.allowed:
        response.headers["Retry-After"] = str(max(1, int(decision.retry_after + 0.999)))


def budget_subject(context: Context) -> str:
    """Whose budget an operation spends: the signed-in user's, else the client address's."""
    return context.claims.user_id if context.claims else context.client_ip


class RateLimitExtension(SchemaExtension):
    """After the operation limits (which compute the cost), spend it or refuse it (429)."""

    async def on_validate(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        context = ctx.context
        if isinstance(context, Context) and context.rate_limits and not ctx.pre_execution_errors:
            limits = context.rate_limits
            limiter = limits.user if context.claims else limits.anonymous
            # An APQ registration also pays for the bytes it asks the server to keep.
            resolved = current_document()
            if resolved is not None and resolved.query == ctx.query:
                context.operation_cost += resolved.registration_cost
            decision = await limiter.take(budget_subject(context), context.operation_cost)
            context.rate = decision
            _headers(context.response, decision)
            if not decision.allowed:
                error = decision.error()
                ctx.pre_execution_errors = [
                    GraphQLError(error.message, extensions=error.as_extensions())
                ]
        yield


@strawberry.type
class RateLimit:
    """The caller's budget after this operation, like GitHub's ``rateLimit``."""

    limit: int
    cost: int
    remaining: int
    reset_at: datetime

    @classmethod
    def of(cls, decision: Decision) -> RateLimit:
        """From the decision made for this operation."""
        return cls(
            limit=decision.limit,
            cost=decision.cost,
            remaining=decision.remaining,
            reset_at=datetime.fromtimestamp(decision.reset_at, UTC),
        )
