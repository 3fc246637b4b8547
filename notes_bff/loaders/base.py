"""The base of every loader: a shared result is never cancelled by one of its awaiters."""

from __future__ import annotations

import asyncio
from typing import TypeVar

from aiodataloader import DataLoader

K = TypeVar("K")
V = TypeVar("V")


class Loader(DataLoader[K, V]):
    """A DataLoader whose ``load`` futures are shielded.

    Several resolvers await one cached future. When graphql-core cancels one of them (a
    sibling field failed), cancelling the shared future itself would raise CancelledError in
    every other resolver awaiting it, and so in the request: each awaiter gets its own shield.
    """

    def load(self, key: K) -> asyncio.Future[V]:
        """The value for ``key`` (batched with the others of this tick)."""
        return asyncio.shield(super().load(key))
