"""Reuse the parse and validation of persisted documents (one LRU entry per hash)."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from notes_bff.persisted.store import CachedDocument


class CachedDocuments(SchemaExtension):
    """A persisted document is parsed and validated once per process, then reused.

    The view puts the request's :class:`CachedDocument` on the context (by text); a document
    already parsed skips strawberry's parser, one already validated skips validation.
    """

    def _cached(self) -> CachedDocument | None:
        documents = getattr(self.execution_context.context, "documents", {})
        return documents.get(self.execution_context.query or "")

    def on_parse(self) -> Iterator[None]:
        cached = self._cached()
        if cached is not None and cached.document is not None:
            self.execution_context.graphql_document = cached.document
        yield
        if cached is not None and cached.document is None:
            cached.document = self.execution_context.graphql_document

    def on_validate(self) -> Iterator[None]:
        cached = self._cached()
        if cached is not None and cached.validated:
            self.execution_context.pre_execution_errors = []
        yield
        if cached is not None and not self.execution_context.pre_execution_errors:
            cached.validated = True
