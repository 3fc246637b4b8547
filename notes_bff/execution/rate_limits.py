"""Spending the operation's cost from the caller's budget."""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from notes_bff.execution.context import Context
from notes_bff.persisted.protocol import current_document


def budget_subject(context: Context) -> str:
    """Whose budget an operation spends: the signed-in user's, else the client address's."""
    actor = context.actor
    return actor.claims.user_id if actor.claims else actor.client_ip


class RateLimitExtension(SchemaExtension):
    """After the operation limits (which compute the cost), spend it or refuse it (429)."""

    async def on_validate(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        context = ctx.context
        if isinstance(context, Context) and not ctx.pre_execution_errors:
            limits = context.actor.rate_limits
            limiter = limits.user if context.actor.claims else limits.anonymous
            # An APQ registration also pays for the bytes it asks the server to keep.
            resolved = current_document()
            if resolved is not None and resolved.query == ctx.query:
                context.operation_cost += resolved.registration_cost
            decision = await limiter.take(budget_subject(context), context.operation_cost)
            context.rate = decision
            context.rate_decided(decision)
            if not decision.allowed:
                error = decision.error()
                ctx.pre_execution_errors = [
                    GraphQLError(error.message, extensions=error.as_extensions())
                ]
        yield
