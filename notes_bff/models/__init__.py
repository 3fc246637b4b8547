"""Beanie documents, one module per aggregate."""

from beanie import Document

from notes_bff.models.account_token import AccountToken, TokenPurpose
from notes_bff.models.collab import CollabSnapshot, CollabState
from notes_bff.models.data_export import DataExport, DataExportChunk
from notes_bff.models.note import Note, NotePriority, NoteSummary
from notes_bff.models.notification import Notification, NotificationKind
from notes_bff.models.outbox import EmailStatus, EmailTemplate, OutboxEmail
from notes_bff.models.persisted_document import PersistedDocument
from notes_bff.models.preferences import Channels, NotificationPreferences
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
    OutboxEmail,
    NotificationPreferences,
    AccountToken,
    DataExport,
    DataExportChunk,
]

__all__ = [
    "DOCUMENT_MODELS",
    "AccountToken",
    "Channels",
    "CollabSnapshot",
    "CollabState",
    "DataExport",
    "DataExportChunk",
    "EmailStatus",
    "EmailTemplate",
    "Member",
    "Note",
    "NotePriority",
    "NoteSummary",
    "Notification",
    "NotificationKind",
    "NotificationPreferences",
    "OutboxEmail",
    "PersistedDocument",
    "RefreshSession",
    "Role",
    "TokenPurpose",
    "User",
    "Workspace",
    "member_role",
    "require_role",
]
