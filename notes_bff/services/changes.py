"""Typed partial updates: which fields a client sent, and which it left out."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import Any


class Keep(Enum):
    """A field a client left out of a change: it stays as it is."""

    KEEP = "KEEP"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class Changes:
    """Base of the typed changes: a field set to :data:`KEEP` was not sent (unlike None,
    which clears a field where that is allowed)."""

    def given(self) -> dict[str, Any]:
        """The fields that were sent, by name."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not KEEP}


@dataclass(frozen=True)
class WorkspaceChanges(Changes):
    """Changes to a workspace; ``description=None`` clears it."""

    name: str | Keep | None = KEEP
    description: str | Keep | None = KEEP
