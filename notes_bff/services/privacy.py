"""The right of access: an archive of everything stored about the viewer, downloaded through
a signed link that expires with it (docs/privacy.md)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from beanie import PydanticObjectId

from notes_bff.auth.links import link_key, link_valid, signed_path
from notes_bff.errors import Unauthenticated
from notes_bff.models import (
    DataExport,
    DataExportChunk,
    Note,
    Notification,
    NotificationPreferences,
    User,
    Workspace,
)
from notes_bff.models.data_export import CHUNK_BYTES
from notes_bff.services.actor import Actor
from notes_bff.services.export_archive import zip_archive
from notes_bff.services.sessions import live_sessions

EXPORT_PATH = "/exports/{id}"
# Stored fields that only serve the server (sort keys, secrets, bookkeeping).
_INTERNAL = {
    "users": {"password_hash", "email_skeleton", "tokens_valid_after", "erased_at"},
    "notes": {"priority_rank", "due_sort", "due_soon_sent_for", "collab_mark"},
}


@dataclass(frozen=True)
class ExportLink:
    """Where to download an archive, until when, and its size."""

    url: str
    expires_at: datetime
    size_bytes: int


def _records(docs: list[Any], kind: str) -> list[dict[str, Any]]:
    hidden = _INTERNAL.get(kind, set())
    return [doc.model_dump(mode="json", exclude=hidden) for doc in docs]


async def _note_ids(where: dict[str, Any]) -> list[str]:
    """The ids of the notes matching ``where`` (not their content: others' data)."""
    found = await Note.get_pymongo_collection().find(where, {"_id": 1}).to_list()
    return [str(doc["_id"]) for doc in found]


async def _files(user: User, moment: datetime) -> dict[str, object]:
    """Every record about ``user``, by file name (other users' records stay out)."""
    assert user.id is not None
    viewer = user.id
    workspaces = await Workspace.find({"members.user_id": viewer}).to_list()
    return {
        "profile": _records([user], "users")[0],
        "memberships": [
            {
                "workspace_id": str(ws.id),
                "workspace_name": ws.name,
                "role": ws.role_of(viewer),
                "joined_at": next(m.joined_at for m in ws.members if m.user_id == viewer),
            }
            for ws in workspaces
        ],
        "notes": _records(await Note.find({"author_id": viewer}).to_list(), "notes"),
        "assigned_note_ids": await _note_ids({"assignee_ids": viewer}),
        "mentioned_in_note_ids": await _note_ids({"mention_ids": viewer}),
        "notifications": _records(await Notification.find({"user_id": viewer}).to_list(), ""),
        "sessions": [
            {k: v for k, v in asdict(s).items() if k != "current"}
            for s in await live_sessions(viewer, moment)
        ],
        "notification_preferences": _records(
            await NotificationPreferences.find({"user_id": viewer}).to_list(), ""
        ),
    }


async def export_my_data(actor: Actor) -> ExportLink:
    """Build the viewer's archive, store it until it expires (in place of their previous
    one, whose link stops working), and sign its download link."""
    user = await User.get(actor.require_viewer())
    if user is None or user.erased_at is not None:
        raise Unauthenticated()
    moment = actor.clock()
    # Compressing is CPU-bound: off the event loop.
    archive = await asyncio.to_thread(zip_archive, await _files(user, moment), moment)
    expires_at = moment + timedelta(seconds=actor.settings.data_export_ttl_seconds)
    pieces = [archive[i : i + CHUNK_BYTES] for i in range(0, len(archive), CHUNK_BYTES)]
    assert user.id is not None
    export = DataExport(
        user_id=user.id, size=len(archive), chunks=len(pieces), expires_at=expires_at
    )
    await export.insert()
    assert export.id is not None
    await DataExportChunk.insert_many(
        [
            DataExportChunk(export_id=export.id, n=n, data=piece, expires_at=expires_at)
            for n, piece in enumerate(pieces)
        ]
    )
    await delete_exports(user.id, keep=export.id)
    path = EXPORT_PATH.format(id=export.id)
    url = signed_path(link_key(actor.settings), path, expires_at)
    return ExportLink(url, expires_at, len(archive))


async def delete_exports(user_id: PydanticObjectId, keep: PydanticObjectId | None = None) -> None:
    """Delete the user's archives (but ``keep``): a new export replaces the previous one, so
    a user holds at most one archive."""
    exports = await DataExport.find({"user_id": user_id, "_id": {"$ne": keep}}).to_list()
    ids = [e.id for e in exports]
    await DataExportChunk.get_pymongo_collection().delete_many({"export_id": {"$in": ids}})
    await DataExport.get_pymongo_collection().delete_many({"_id": {"$in": ids}})


async def exported_archive(
    key: bytes, raw_id: str, expires: str, signature: str, moment: datetime
) -> bytes | None:
    """The archive a signed link names, while the link and the archive live; else None."""
    if not PydanticObjectId.is_valid(raw_id):
        return None
    if not link_valid(key, EXPORT_PATH.format(id=raw_id), expires, signature, moment):
        return None
    export = await DataExport.get(PydanticObjectId(raw_id))
    if export is None or export.expires_at <= moment:
        return None
    chunks = await DataExportChunk.find({"export_id": export.id}).sort("n").to_list()
    if len(chunks) != export.chunks:
        return None
    return b"".join(chunk.data for chunk in chunks)
