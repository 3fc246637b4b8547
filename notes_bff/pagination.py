"""Keyset (cursor) pagination on a sort key plus ``_id``, with opaque cursors.

A cursor holds the sort values of the last row seen, so inserting or deleting rows
between pages never duplicates or skips a row that existed throughout.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, TypeVar

import orjson
from beanie import Document
from beanie.odm.utils.projection import get_projection
from bson import ObjectId
from pydantic import BaseModel

from notes_bff.errors import BadInput
from notes_bff.models.index_hints import hinted
from notes_bff.models.read_routing import list_reads
from notes_bff.validation import page_size

SortSpec = Sequence[tuple[str, int]]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"d": int(value.timestamp() * 1000)}
    if isinstance(value, ObjectId):
        return {"o": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        if "d" in value and isinstance(value["d"], int):
            return datetime.fromtimestamp(value["d"] / 1000, UTC)
        if "o" in value and ObjectId.is_valid(value["o"]):
            return ObjectId(value["o"])
    if isinstance(value, int | str | bool) or value is None:
        return value
    raise ValueError("bad cursor value")


def encode_cursor(sort_name: str, spec: SortSpec, row: dict[str, Any]) -> str:
    """The opaque cursor that points just after ``row`` in the order ``spec``."""
    payload = [sort_name, *(_encode_value(row[field]) for field, _ in spec)]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_cursor(field: str, cursor: str, sort_name: str, spec: SortSpec) -> list[Any]:
    """The sort values inside ``cursor``; ``BadInput`` if it is foreign or damaged."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = orjson.loads(raw)
        if not isinstance(payload, list) or len(payload) != len(spec) + 1:
            raise ValueError("bad cursor shape")
        if payload[0] != sort_name:
            raise BadInput(field, f"{field} was made for another sort order.")
        return [_decode_value(v) for v in payload[1:]]
    except (ValueError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise BadInput(field, f"{field} is not a valid cursor.") from exc


def after_filter(spec: SortSpec, values: Sequence[Any]) -> dict[str, Any]:
    """The filter for rows strictly after ``values`` in the order ``spec``."""
    branches: list[dict[str, Any]] = []
    for i, (field, direction) in enumerate(spec):
        branch: dict[str, Any] = {f: values[j] for j, (f, _) in enumerate(spec[:i])}
        branch[field] = {"$gt" if direction > 0 else "$lt": values[i]}
        branches.append(branch)
    return {"$or": branches}


R = TypeVar("R", bound=BaseModel)


@dataclass
class Page(Generic[R]):
    """One page of a keyset-paginated list; ``count`` runs only when called."""

    items: list[R]
    cursor_of: Callable[[R], str]
    has_next_page: bool
    count: Callable[[], Awaitable[int]]

    @property
    def cursors(self) -> list[str]:
        """Every item's cursor, encoded when asked for (most pages are read without)."""
        return [self.cursor_of(item) for item in self.items]

    @property
    def end_cursor(self) -> str | None:
        """The last item's cursor, or None for an empty page."""
        return self.cursor_of(self.items[-1]) if self.items else None


async def list_rows(
    model: type[Document],
    rows: type[R],
    flt: dict[str, Any],
    spec: SortSpec,
    limit: int,
    index: str | None = None,
) -> list[R]:
    """The first ``limit`` documents of ``flt`` in order ``spec``, read as ``rows`` (a list
    read, ``models/read_routing.py``), with ``index`` as the hint where this process sends
    hints (docs/indexes.md).

    ``rows`` is ``model`` itself (validated, as Beanie does) or a projection model, of which
    only the fields are fetched and which is built without validation (``model_construct``,
    about a third of the cost): a projection model's fields are flat and typed as PyMongo
    decodes our own rows (ObjectId, aware datetimes, a StrEnum's string).
    """
    async with list_reads() as session:
        collection = model.get_pymongo_collection()
        found = collection.find(
            flt,
            get_projection(rows),
            sort=list(spec),
            limit=limit,
            session=session,
            **hinted(index),
        )
        read = await found.to_list()
    if issubclass(rows, Document):
        return [rows.model_validate(row) for row in read]
    return [rows.model_construct(**row) for row in read]


def _sort_value(row: BaseModel, field_name: str) -> Any:
    return getattr(row, "id" if field_name == "_id" else field_name)


def _cursor_of(sort_name: str, spec: SortSpec, row: BaseModel) -> str:
    return encode_cursor(sort_name, spec, {f: _sort_value(row, f) for f, _ in spec})


async def keyset_page(
    model: type[Document],
    rows: type[R],
    flt: dict[str, Any],
    sort_name: str,
    spec: SortSpec,
    first: int,
    after: str | None,
    index: str | None = None,
) -> Page[R]:
    """The ``first`` documents of ``flt`` after the ``after`` cursor, in order ``spec``, read
    as ``rows`` (``model`` itself, or a projection model: only its fields are fetched).

    ``index`` names the index built for this query shape, sent as a hint where this process
    sends hints (docs/indexes.md). A page (and its count) is a list read
    (``models/read_routing.py``).
    """
    first = page_size("first", first)
    query = flt
    if after:
        query = {"$and": [flt, after_filter(spec, decode_cursor("after", after, sort_name, spec))]}
    read = await list_rows(model, rows, query, spec, first + 1, index)
    items = read[:first]

    async def count() -> int:
        async with list_reads() as session:
            return await model.find(flt, session=session, **hinted(index)).count()

    return Page(items, partial(_cursor_of, sort_name, spec), len(read) > first, count)
