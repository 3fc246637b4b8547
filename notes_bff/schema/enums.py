"""GraphQL enums: the models' and resolvers' own enums, registered with strawberry.

Annotations elsewhere use the plain enum classes (``Role``, ``NotePriority``…); importing
this module (``schema/__init__`` does) is what names them in the GraphQL schema.
"""

from __future__ import annotations

import strawberry

from notes_bff.models import NotePriority, NotificationKind, Role
from notes_bff.services.note_queries import NoteSort

strawberry.enum(Role, name="Role")
strawberry.enum(NotePriority, name="Priority")
strawberry.enum(NotificationKind, name="NotificationKind")
strawberry.enum(NoteSort, name="NoteSort")

__all__ = ["NotePriority", "NoteSort", "NotificationKind", "Role"]
