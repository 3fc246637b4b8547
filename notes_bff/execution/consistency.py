"""Consistency tokens after mutations (docs/scaling.md, "Reading your own writes")."""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from notes_bff.execution.context import Context
from notes_bff.models.read_routing import reading_after


class ConsistencyTokenExtension(SchemaExtension):
    """A query's list reads observe the point its caller sent; a mutation ends by giving the
    transport a token for the point its writes reached (even after an error: a mutation of
    several root fields may have written some)."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        context = ctx.context
        if not isinstance(context, Context) or context.consistency is None:
            yield
            return
        with reading_after(context.read_after):
            yield
        if ctx.operation_type is OperationType.MUTATION:
            token = await context.consistency.after_write()
            if token is not None:
                context.consistency_token_issued(token)
