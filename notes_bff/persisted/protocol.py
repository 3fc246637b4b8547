"""Apollo's persisted-query protocol: turn a request's hash and/or text into a document."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from notes_bff.config import PersistedQueriesMode
from notes_bff.persisted.store import CachedDocument, DocumentStore, sha256_hex

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# An APQ registration costs one rate-limit point per this many bytes, on top of its cost.
REGISTRATION_BYTES_PER_POINT = 100


class PersistedQueryError(Exception):
    """A refusal of the protocol, with its ``extensions.code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Resolved:
    """The document to execute: its text, and the cached parse when it is persisted.

    ``register_as`` is set for an APQ registration: once the document has parsed and
    validated (``cached.validated``), it is stored under that hash, as Apollo Server does.
    ``operation_type`` is filled in once the document is known (``query``, ``mutation``…).
    ``digest`` is the SHA-256 of a persisted document (for logs).
    """

    query: str | None
    cached: CachedDocument | None = None
    register_as: str | None = None
    store: DocumentStore | None = None
    operation_type: str | None = None
    digest: str | None = None

    @property
    def registration_cost(self) -> int:
        """Rate-limit points a registration adds: proportional to the document's size."""
        if self.register_as is None or self.query is None:
            return 0
        return math.ceil(len(self.query.encode()) / REGISTRATION_BYTES_PER_POINT)


_current: ContextVar[Resolved | None] = ContextVar("persisted_resolution", default=None)


@contextmanager
def operation_document(resolved: Resolved) -> Iterator[Resolved]:
    """Make ``resolved`` the document of the operation run in this block (and the tasks it
    starts): the schema's extensions read it with :func:`current_document`."""
    token = _current.set(resolved)
    try:
        yield resolved
    finally:
        _current.reset(token)


def current_document() -> Resolved | None:
    """What the transport resolved for the operation being run, if it went through it."""
    return _current.get()


def _requested_hash(extensions: dict[str, Any] | None) -> str | None:
    if not extensions or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryError(
            "BAD_USER_INPUT", "Unsupported persisted query version: only version 1 is supported."
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise PersistedQueryError(
            "BAD_USER_INPUT", "persistedQuery.sha256Hash must be 64 lowercase hex characters."
        )
    return digest


def check_size(query: str | None, max_bytes: int) -> None:
    """Refuse a document over ``max_bytes`` before it is hashed or parsed."""
    if query is not None and len(query) > max_bytes // 4 and len(query.encode()) > max_bytes:
        raise PersistedQueryError(
            "QUERY_TOO_COMPLEX",
            f"The document is {len(query.encode())} bytes, over the limit of {max_bytes}.",
        )


async def resolve(
    mode: PersistedQueriesMode,
    store: DocumentStore,
    query: str | None,
    extensions: dict[str, Any] | None,
    max_bytes: int,
) -> Resolved:
    """The document a request asks to run, by the rules of CONTRACT.md "Persisted queries"."""
    check_size(query, max_bytes)
    digest = _requested_hash(extensions)
    if digest is not None and mode is PersistedQueriesMode.OFF:
        raise PersistedQueryError("PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported")
    if digest is not None and query is not None and sha256_hex(query) != digest:
        raise PersistedQueryError("BAD_USER_INPUT", "provided sha does not match query")
    if mode is PersistedQueriesMode.TRUSTED:
        digest = digest or sha256_hex(query or "")
        cached = await store.trusted(digest)
        if cached is not None:
            return Resolved(cached.text, cached, digest=digest)
        if query is None:
            raise PersistedQueryError("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        raise PersistedQueryError(
            "PERSISTED_QUERY_REQUIRED",
            "Only registered operations run on this server; register it with "
            "`notes-bff persisted-queries push`.",
        )
    if digest is None:
        return Resolved(query, store.text(query) if query is not None else None)
    if query is None:
        cached = await store.automatic(digest)
        if cached is None:
            raise PersistedQueryError("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        return Resolved(cached.text, cached, digest=digest)
    cached = CachedDocument(text=query, trusted=False)
    return Resolved(query, cached, register_as=digest, store=store, digest=digest)
