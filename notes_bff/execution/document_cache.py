"""The persisted document of an operation: reused parse and validation, APQ registration."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from strawberry.extensions import SchemaExtension

from notes_bff.execution.context import Context
from notes_bff.execution.rate_limits import budget_subject
from notes_bff.persisted.protocol import Resolved, current_document


class CachedDocuments(SchemaExtension):
    """A persisted document is parsed and validated once per process, then reused.

    Every transport resolves the request's document first (``persisted.protocol``) and runs
    the operation inside :func:`~notes_bff.persisted.protocol.operation_document`: a document
    already parsed skips strawberry's parser, one already validated skips validation, and an
    APQ registration is stored once it has validated.
    """

    def _resolved(self) -> Resolved | None:
        resolved = current_document()
        if resolved is None or resolved.query != self.execution_context.query:
            return None
        return resolved

    def on_parse(self) -> Iterator[None]:
        resolved = self._resolved()
        cached = resolved.cached if resolved else None
        if cached is not None and cached.document is not None:
            self.execution_context.graphql_document = cached.document
        yield
        if cached is not None and cached.document is None:
            cached.document = self.execution_context.graphql_document

    async def on_validate(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        resolved = self._resolved()
        cached = resolved.cached if resolved else None
        if cached is not None and cached.validated and ctx.pre_execution_errors is None:
            ctx.pre_execution_errors = []  # validated before; a refusal (limits) still stands
        yield
        if resolved is None or ctx.pre_execution_errors:
            return
        resolved.operation_type = ctx.operation_type.value
        if cached is not None:
            cached.validated = True
        if resolved.register_as and resolved.store and cached and isinstance(ctx.context, Context):
            await resolved.store.register(resolved.register_as, cached, budget_subject(ctx.context))
