"""Read routing per operation (a query's list reads observe the token its caller sent, a
mutation reads on the primary) and consistency tokens after mutations (docs/scaling.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from notes_bff.errors import MONGO_OUTAGES
from notes_bff.execution.context import Context
from notes_bff.models.read_routing import on_primary, reading_after

log = structlog.get_logger("notes_bff.consistency")


class ConsistencyTokenExtension(SchemaExtension):
    """A query's list reads observe the point its caller sent; a mutation reads on the
    primary (its answer follows its writes) and ends by giving the transport a token for
    the point its writes reached (even after an error: a mutation of
    several root fields may have written some). Without MongoDB's answer, the mutation still
    answers, with no token (its author's next lists may then lag behind their writes)."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        context = ctx.context
        if not isinstance(context, Context) or context.consistency is None:
            yield
            return
        if ctx.operation_type is not OperationType.MUTATION:
            with reading_after(context.read_after):
                yield
            return
        with on_primary():
            yield
        try:
            token = await context.consistency.after_write()
        except MONGO_OUTAGES as exc:
            log.warning("consistency_token_not_issued", error=str(exc)[:200])
            return
        if token is not None:
            context.consistency_token_issued(token)
