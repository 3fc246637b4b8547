"""Whether queries name their index (``hint``): on real MongoDB, off on SecantusDB.

Real MongoDB's planner chooses among the candidate indexes by a trial run and caches the
winner per query shape; naming the index keeps the notes' list shapes on the plan
``tests/test_indexes.py`` checks, whatever workspace filled the plan cache. SecantusDB, the
embedded development server, walks the whole hinted index instead of looking the filter up
in it, about twice the work on a workspace page (``bench/hints.py``; docs/indexes.md). The
process sends hints unless :func:`use_hints` was told otherwise (``db.py`` decides it from
``NOTES_BFF_MONGODB_INDEX_HINTS`` and the server it reaches).
"""

from __future__ import annotations

from typing import TypedDict

_sending = [True]


class Hint(TypedDict, total=False):
    """The ``hint`` keyword argument, when one is sent."""

    hint: str


def use_hints(on: bool) -> None:
    """Send hints from now on (``on``), or leave every plan to the server's planner."""
    _sending[0] = on


def hinted(index: str | None) -> Hint:
    """The keyword arguments of Beanie's ``find``/``aggregate`` that name ``index`` when this
    process sends hints; none otherwise (PyMongo's count refuses ``hint=None``)."""
    return Hint(hint=index) if index is not None and _sending[0] else Hint()
