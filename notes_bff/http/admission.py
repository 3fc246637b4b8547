"""Admission: the one gate every operation passes before the schema, on every transport."""

from __future__ import annotations

from notes_bff.http.context import HttpContext
from notes_bff.keys import DOCUMENTS
from notes_bff.persisted.protocol import PersistedQueryError, Resolved, resolve


async def admit(context: HttpContext, query: object, extensions: object) -> Resolved:
    """The document an operation may run: its size checked and persisted or trusted
    documents resolved by the rules of ``NOTES_BFF_PERSISTED_QUERIES``.

    Raises :class:`PersistedQueryError` (with its ``extensions.code``) to refuse it.
    """
    if query is not None and not isinstance(query, str):
        raise PersistedQueryError("BAD_USER_INPUT", "The query must be a string.")
    if extensions is not None and not isinstance(extensions, dict):
        raise PersistedQueryError("BAD_USER_INPUT", "The extensions must be an object.")
    settings = context.settings
    return await resolve(
        settings.persisted_queries,
        context.request.app[DOCUMENTS],
        query,
        extensions,
        settings.max_document_bytes,
    )
