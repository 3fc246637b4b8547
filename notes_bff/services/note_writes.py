"""Writing notes: create, update (optionally version-checked), delete, bulk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from beanie import PydanticObjectId
from pymongo import ReturnDocument

from notes_bff.errors import AppError, BadInput, Conflict, NotFound
from notes_bff.models import (
    Note,
    NotePriority,
    NotificationKind,
    Role,
    Workspace,
    member_role,
    require_role,
)
from notes_bff.services import collaboration
from notes_bff.services.access import note_for_change, workspace_for_change
from notes_bff.services.actor import Actor
from notes_bff.services.changes import KEEP, Changes, Keep
from notes_bff.services.notifications import notify
from notes_bff.validation import (
    CONTENT_MAX,
    TITLE_LENGTH,
    moment,
    multi_line,
    object_ids,
    single_line,
    tags,
)


@dataclass(frozen=True)
class NoteChanges(Changes):
    """Raw changes to a note, as a client gave them (validated by :func:`validate_changes`);
    ``due_date=None`` clears the due date, every other field refuses None."""

    title: str | Keep | None = KEEP
    content: str | Keep | None = KEEP
    tags: Sequence[str] | Keep | None = KEEP
    is_pinned: bool | Keep | None = KEEP
    priority: NotePriority | Keep | None = KEEP
    due_date: datetime | Keep | None = KEEP
    is_archived: bool | Keep | None = KEEP
    assignee_ids: Sequence[str] | Keep | None = KEEP
    mention_ids: Sequence[str] | Keep | None = KEEP


# The contract's names of the fields, for error paths; fields that may be set to null.
_FIELD_NAMES = {
    "title": "title",
    "content": "content",
    "tags": "tags",
    "is_pinned": "isPinned",
    "priority": "priority",
    "due_date": "dueDate",
    "is_archived": "isArchived",
    "assignee_ids": "assigneeIds",
    "mention_ids": "mentionIds",
}
_NULLABLE = {"due_date"}


def _people_are_members(changes: dict[str, Any], workspace: Workspace) -> None:
    """Assignees and mentions must be members of the note's workspace."""
    for name in ("assignee_ids", "mention_ids"):
        field_name = f"input.{_FIELD_NAMES[name]}"
        strangers = [str(i) for i in changes.get(name, []) if workspace.role_of(i) is None]
        if strangers:
            raise BadInput(field_name, f"{field_name}: not members of the workspace: {strangers}")


def validate_changes(raw: NoteChanges, prefix: str = "input") -> dict[str, Any]:
    """Validated ``$set`` values for the given changes (sort keys beside what they sort)."""
    changes: dict[str, Any] = {}
    for name, value in raw.given().items():
        path = f"{prefix}.{_FIELD_NAMES[name]}"
        if value is None and name not in _NULLABLE:
            raise BadInput(path, f"{path} cannot be null; leave it out to keep it unchanged.")
        if name == "title":
            changes[name] = single_line(path, value, TITLE_LENGTH)
        elif name == "content":
            changes[name] = multi_line(path, value, CONTENT_MAX)
        elif name == "tags":
            changes[name] = tags(path, value)
        elif name == "priority":
            changes.update(Note.priority_fields(NotePriority(value)))
        elif name == "due_date":
            changes.update(Note.due_fields(moment(value) if value is not None else None))
        elif name in ("assignee_ids", "mention_ids"):
            changes[name] = object_ids(path, value)
        else:
            changes[name] = bool(value)
    return changes


async def _notify_new_people(actor: Actor, note: Note, before: Note | None) -> None:
    """Notify who became an assignee or was mentioned (not the actor themself)."""
    viewer = actor.require_viewer()
    for kind, attr in (
        (NotificationKind.ASSIGNED, "assignee_ids"),
        (NotificationKind.MENTION, "mention_ids"),
    ):
        old = set(getattr(before, attr)) if before else set()
        new = [u for u in getattr(note, attr) if u not in old and u != viewer]
        await notify(actor, kind, new, subject=note.title, note=note)


async def create_note(actor: Actor, workspace_id: str, raw: NoteChanges) -> Note:
    """A new note in a workspace where the viewer is at least an editor."""
    viewer = actor.require_viewer()
    workspace = await workspace_for_change(actor, workspace_id, Role.EDITOR, "input.workspaceId")
    # On creation, null means "the default" (for dueDate, the default is none).
    sent = {k: v for k, v in raw.given().items() if v is not None or k == "due_date"}
    changes = validate_changes(NoteChanges(**sent))
    _people_are_members(changes, workspace)
    note = Note(workspace_id=workspace.id, author_id=viewer, last_edited_by_id=viewer, **changes)
    await note.insert()
    await actor.realtime.note_changed("CREATED", str(workspace.id), str(note.id), str(viewer))
    await _notify_new_people(actor, note, None)
    return note


def targeted(notes: Sequence[Note]) -> dict[str, Any]:
    """The filter for exactly ``notes``, with the shard key's prefix (``workspace_id``) so
    that a sharded cluster sends it to the shards holding them (docs/scaling.md)."""
    if len(notes) == 1:
        return {"workspace_id": notes[0].workspace_id, "_id": notes[0].id}
    return {
        "workspace_id": {"$in": list({n.workspace_id for n in notes})},
        "_id": {"$in": [n.id for n in notes]},
    }


async def update_note(
    actor: Actor, note_id: str, raw: NoteChanges, expected_version: int | None
) -> Note:
    """Apply the given changes atomically; with ``expected_version``, only to that version."""
    viewer = actor.require_viewer()
    before, workspace = await note_for_change(actor, note_id)
    changes = validate_changes(raw)
    _people_are_members(changes, workspace)
    flt = targeted([before])
    if "content" in changes:
        if before.collab_mark is not None:  # under collaborative editing: merged, not replaced
            await collaboration.running(actor).merge_content(
                before, changes.pop("content"), viewer, expected_version
            )
            if not changes:
                return await _reloaded(before)
            expected_version = None
        else:  # a note opened for collaboration meanwhile is retried (CONFLICT), not replaced
            flt["collab_mark"] = None
    if expected_version is not None:
        flt["version"] = expected_version
    raw_after = await Note.get_pymongo_collection().find_one_and_update(
        flt,
        {
            "$set": {**changes, "updated_at": actor.clock(), "last_edited_by_id": viewer},
            "$inc": {"version": 1},
        },
        return_document=ReturnDocument.AFTER,
    )
    if raw_after is None:
        if await Note.find_one(targeted([before])) is not None:
            raise Conflict(
                f"The note changed since version {expected_version or before.version}; "
                "reload and retry.",
                field="expectedVersion",
            )
        raise NotFound("No such note.")
    after: Note = Note.model_validate(raw_after)
    await actor.realtime.note_changed(
        "UPDATED", str(after.workspace_id), str(after.id), str(viewer)
    )
    await _notify_new_people(actor, after, before)
    return after


async def _reloaded(note: Note) -> Note:
    """The note as stored now."""
    found = await Note.find_one(targeted([note]))
    if found is None:
        raise NotFound("No such note.")
    return found


async def delete_note(actor: Actor, note_id: str) -> PydanticObjectId:
    """Delete a note the viewer may edit."""
    note, _ = await note_for_change(actor, note_id)
    result = await Note.get_pymongo_collection().delete_one(targeted([note]))
    if result.deleted_count != 1:
        raise NotFound("No such note.")
    assert note.id is not None
    await actor.realtime.note_changed(
        "DELETED", str(note.workspace_id), str(note.id), str(actor.require_viewer())
    )
    if note.collab_mark is not None:
        await collaboration.purge(actor, [note.id])
    return note.id


@dataclass
class BulkOutcome:
    """Per-id results of a bulk mutation."""

    succeeded: list[PydanticObjectId] = field(default_factory=list)
    failures: list[tuple[str, AppError]] = field(default_factory=list)


async def _editable(actor: Actor, raw_ids: Sequence[str], outcome: BulkOutcome) -> list[Note]:
    """The notes among ``raw_ids`` the viewer may edit; the others become failures."""
    viewer = actor.require_viewer()
    ids = object_ids("ids", list(raw_ids))
    notes = await actor.loaders.note_by_id.load_many(ids)
    workspaces = await actor.loaders.workspace_by_id.load_documents(
        [n.workspace_id for n in notes if n is not None]
    )
    by_id = {ws.id: ws for ws in workspaces}
    allowed: list[Note] = []
    for note_id, note in zip(ids, notes, strict=True):
        workspace = by_id.get(note.workspace_id) if note else None
        try:
            require_role(member_role(workspace, viewer), Role.EDITOR, "No such note.")
            assert note is not None
            allowed.append(note)
        except AppError as exc:
            outcome.failures.append((str(note_id), exc))
    return allowed


async def bulk_update_notes(actor: Actor, raw_ids: Sequence[str], raw: NoteChanges) -> BulkOutcome:
    """Apply one change to many notes; notes the viewer may not edit are reported, untouched."""
    viewer = actor.require_viewer()
    changes = validate_changes(raw)
    outcome = BulkOutcome()
    targets: list[Note] = []
    for note in await _editable(actor, raw_ids, outcome):
        workspace = await actor.loaders.workspace_by_id.load_document(note.workspace_id)
        assert workspace is not None
        try:
            _people_are_members(changes, workspace)
            if "content" in changes and note.collab_mark is not None:
                raise Conflict(
                    "This note is edited collaboratively: change its content with updateNote, "
                    "which merges it into the shared document.",
                    field="input.content",
                )
            targets.append(note)
        except AppError as exc:
            outcome.failures.append((str(note.id), exc))
    if targets:
        await Note.get_pymongo_collection().update_many(
            targeted(targets),
            {
                "$set": {**changes, "updated_at": actor.clock(), "last_edited_by_id": viewer},
                "$inc": {"version": 1},
            },
        )
        outcome.succeeded = await _still_there(targets, outcome)
        for note in targets:
            if note.id in outcome.succeeded:
                await actor.realtime.note_changed(
                    "UPDATED", str(note.workspace_id), str(note.id), str(viewer)
                )
                await _notify_new_people(actor, note.model_copy(update=changes), note)
    return outcome


async def bulk_delete_notes(actor: Actor, raw_ids: Sequence[str]) -> BulkOutcome:
    """Delete many notes; notes the viewer may not edit are reported, untouched."""
    outcome = BulkOutcome()
    notes = {n.id: n for n in await _editable(actor, raw_ids, outcome) if n.id is not None}
    if notes:
        existing = await _still_there(list(notes.values()), outcome)
        await Note.get_pymongo_collection().delete_many(targeted([notes[i] for i in existing]))
        outcome.succeeded = existing
        by = str(actor.require_viewer())
        for note_id in existing:
            workspace_id = str(notes[note_id].workspace_id)
            await actor.realtime.note_changed("DELETED", workspace_id, str(note_id), by)
        collaborative = [i for i in existing if notes[i].collab_mark is not None]
        await collaboration.purge(actor, collaborative)
    return outcome


async def _still_there(notes: list[Note], outcome: BulkOutcome) -> list[PydanticObjectId]:
    """The ids of ``notes`` that still exist; the vanished ones are recorded as NOT_FOUND."""
    ids = [n.id for n in notes if n.id is not None]
    found = {
        doc["_id"]
        for doc in await Note.get_pymongo_collection()
        .find(targeted(notes), projection={"_id": 1})
        .to_list()
    }
    for vanished in (i for i in ids if i not in found):
        outcome.failures.append((str(vanished), NotFound("No such note.")))
    return [i for i in ids if i in found]
