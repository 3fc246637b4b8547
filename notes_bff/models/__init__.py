"""Beanie documents, one module per aggregate."""

from beanie import Document

from notes_bff.models.collab import CollabSnapshot, CollabState
from notes_bff.models.data_export import DataExport, DataExportChunk
from notes_bff.models.note import Note, NotePriority
from notes_bff.models.notification import Notification, NotificationKind
from notes_bff.models.persisted_document import PersistedDocument
from notes_bff.models.session import RefreshSession
from notes_bff.models.user import User
from notes_bff.models.workspace import Member, Role, Workspace, member_role, require_role

DOCUMENT_MODELS: list[type[Document]] = [
    User,
    Workspace,
    Note,
    Notification,
    RefreshSession,
    PersistedDocument,
    CollabState,
    CollabSnapshot,
    DataExport,
    DataExportChunk,
]

__all__ = [
    "DOCUMENT_MODELS",
    "CollabSnapshot",
    "CollabState",
    "DataExport",
    "DataExportChunk",
    "Member",
    "Note",
    "NotePriority",
    "Notification",
    "NotificationKind",
    "PersistedDocument",
    "RefreshSession",
    "Role",
    "User",
    "Workspace",
    "member_role",
    "require_role",
]
