"""Documents by ``_id``: one ``find({_id: {$in: keys}})`` per batch, aligned to the keys."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, cast

from beanie import Document, PydanticObjectId

from notes_bff.loaders.base import Loader
from notes_bff.models import Note, User, Workspace
from notes_bff.response_cache import tags

D = TypeVar("D", bound=Document)
T = TypeVar("T")


class _DocumentByIdLoader(Loader[PydanticObjectId, D | None], Generic[D]):
    model: type[D]

    def __init__(self) -> None:
        super().__init__()
        # (key, view function) -> (the document, its view): kept while the document is the
        # one the cache holds (a write clears or primes the key with a new one)
        self._made: dict[tuple[PydanticObjectId, Callable[[Any], Any]], tuple[D, Any]] = {}

    async def batch_load_fn(self, keys: Sequence[PydanticObjectId]) -> list[D | None]:
        # PyMongo's find and pydantic's validation, as Beanie's ``find(...).to_list()`` does
        # them for these models (no links, inheritance or state management), without its
        # query building (about a tenth of a page's data access on the workspace page).
        collection = self.model.get_pymongo_collection()
        rows = await collection.find({"_id": {"$in": list(set(keys))}}).to_list()
        validate = self.model.model_validate
        found = {doc.id: doc for doc in (validate(row) for row in rows)}
        return [found.get(key) for key in keys]

    def prime_many(self, docs: Sequence[D]) -> None:
        """Seed the cache with documents already read by another query."""
        for doc in docs:
            if doc.id is not None:
                self.prime(doc.id, doc)

    async def load_document(self, key: PydanticObjectId) -> D | None:
        """One document, or None."""
        return await self.load(key)

    async def load_documents(self, keys: Sequence[PydanticObjectId]) -> list[D]:
        """The documents that exist among ``keys``, in key order."""
        return [doc for doc in await self.load_many(keys) if doc is not None]

    def view_then(
        self, key: PydanticObjectId, view: Callable[[D], T], missing: str
    ) -> asyncio.Future[T]:
        """The view of the document ``key`` (``view`` of it, made once per document), as a
        future (``Loader.load_then``); LookupError(``missing``) when it does not exist."""

        def found(doc: D | None) -> T:
            if doc is None:
                raise LookupError(missing)
            return self._view(key, doc, view)

        return self.load_then(key, found)

    def views_then(
        self, keys: Sequence[PydanticObjectId], view: Callable[[D], T]
    ) -> asyncio.Future[list[T]]:
        """The views of the documents that exist among ``keys``, in key order, as a future
        (``Loader.load_many_then``)."""
        keys = list(keys)

        def found(docs: list[D | None]) -> list[T]:
            pairs = zip(keys, docs, strict=True)
            return [self._view(k, d, view) for k, d in pairs if d is not None]

        return self.load_many_then(keys, found)

    def _view(self, key: PydanticObjectId, doc: D, view: Callable[[D], T]) -> T:
        """``view(doc)``, made once per document: twenty notes by one author make one author
        view, not twenty. Kept while ``doc`` is the one the cache holds for ``key`` (a
        write clears or primes the key with a new document)."""
        seen = self._made.get((key, view))
        if seen is not None and seen[0] is doc:
            return cast("T", seen[1])
        made = view(doc)
        self._made[key, view] = (doc, made)
        return made


class UserByIdLoader(_DocumentByIdLoader[User]):
    """Users by id."""

    model = User
    cache_tag_kind = tags.USER


class WorkspaceByIdLoader(_DocumentByIdLoader[Workspace]):
    """Workspaces by id."""

    model = Workspace
    cache_tag_kind = tags.WORKSPACE


class NoteByIdLoader(_DocumentByIdLoader[Note]):
    """Notes by id."""

    model = Note
    cache_tag_kind = tags.NOTE
