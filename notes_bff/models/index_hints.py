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

_sending = [True]


def use_hints(on: bool) -> None:
    """Send hints from now on (``on``), or leave every plan to the server's planner."""
    _sending[0] = on


def hint(index: str) -> str | None:
    """``index`` when this process sends hints, else None (Beanie then sends none)."""
    return index if _sending[0] else None
