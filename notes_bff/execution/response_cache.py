"""Answers to queries from the response cache, and executions recorded into it.

A hit needs every tag the entry read to still have the version it read (one Redis round
trip from the worker's own tier, two from Redis's). A miss runs with its reads recorded;
an answer without errors is kept under the caller's scope, or shared by everyone when the
execution never looked at who was asking. Concurrent identical misses of one caller in a
worker run once. See docs/response-cache.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from notes_bff.errors import AppError
from notes_bff.execution.context import Context
from notes_bff.response_cache.reads import recording
from notes_bff.response_cache.store import ANONYMOUS, EVERYONE, operation_key
from notes_bff.services.actor import recording_viewer_reads


class ResponseCacheExtension(SchemaExtension):
    """Serves and stores query answers (innermost extension: it wraps execution only)."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        context = ctx.context
        cache = context.response_cache if isinstance(context, Context) else None
        scope = _caller_scope(context) if cache is not None else None
        # A caller that sent a consistency token reads past the cache: an answer kept since
        # its write may have been computed on a secondary that had not applied it yet.
        if (
            cache is None
            or scope is None
            or ctx.operation_type is not OperationType.QUERY
            or context.read_after is not None
        ):
            yield
            return
        key = operation_key(ctx.query or "", ctx.operation_name, ctx.variables)
        data = await cache.lookup(key, [EVERYONE, scope])
        if data is None and (flight := cache.flight(key, scope)) is not None:
            data = await asyncio.shield(flight)
        if data is not None:
            context.cache_status = "HIT"
            ctx.result = GraphQLExecutionResult(data=data)
            yield
            return
        context.cache_status = "MISS"
        cache.take_off(key, scope)
        stored: dict[str, Any] | None = None
        try:
            reads = cache.reads()
            with recording(reads), recording_viewer_reads() as viewer:
                yield
            result = ctx.result
            if reads.cacheable and result is not None and not result.errors and result.data:
                stored = result.data
                await cache.store(key, scope if viewer.seen else EVERYONE, reads, stored)
        finally:
            cache.land(key, scope, stored)


def _caller_scope(context: Context) -> str | None:
    """Whose answers a caller may be given (besides everyone's); None: do not cache (a
    token that was refused, or a session that has ended, answers with its error)."""
    try:
        viewer = context.actor.viewer_id  # the actor's own rule: refused token, ended session
    except AppError:
        return None
    return str(viewer) if viewer is not None else ANONYMOUS
