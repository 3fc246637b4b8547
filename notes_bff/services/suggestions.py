"""Suggestions from a note's text (due dates, tasks, priorities, assignees, tags), and
accepting one."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from notes_bff.errors import BadInput, Conflict, NotFound
from notes_bff.models import Note
from notes_bff.response_cache.reads import not_cacheable
from notes_bff.search import service as search_service
from notes_bff.search.extract import Member, NoteText, Suggestion, SuggestionKind, suggestions
from notes_bff.services import note_writes
from notes_bff.services.access import visible_note
from notes_bff.services.actor import Actor
from notes_bff.services.digest import zone_of_user
from notes_bff.services.note_writes import NoteChanges
from notes_bff.validation import TITLE_LENGTH


def zone_of(name: str | None) -> ZoneInfo:
    """An IANA time zone (``BAD_USER_INPUT`` on ``timeZone`` when unknown)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadInput("timeZone", "timeZone is not an IANA time zone name.") from exc


async def zone_for(actor: Actor, name: str | None) -> ZoneInfo:
    """The zone a client names, or (``timeZone: null``) the viewer's profile time zone."""
    if name is not None:
        return zone_of(name)
    viewer = actor.viewer_id
    user = await actor.loaders.user_by_id.load_document(viewer) if viewer else None
    return zone_of_user(user)


async def suggestions_of(actor: Actor, note: Note, zone: ZoneInfo) -> list[Suggestion]:
    """The suggestions of a stored note, for a user in ``zone``."""
    not_cacheable()  # similar tags come from the search index, which lags writes
    loaders = actor.loaders
    workspace = await loaders.workspace_by_id.load_document(note.workspace_id)
    members = await loaders.user_by_id.load_documents(
        [m.user_id for m in workspace.members] if workspace else []
    )
    tag_counts = await loaders.tag_counts_by_workspace.load(note.workspace_id)
    service = search_service.active()
    similar = (
        await service.backend.similar_tags(
            str(note.workspace_id), str(note.id), note.title, note.content
        )
        if service is not None
        else {}
    )
    text = NoteText(
        title=note.title,
        content=note.content,
        written_at=note.updated_at,
        zone=zone,
        due_date=note.due_date,
        priority=note.priority,
        tags=note.tags,
        assignee_ids=[str(i) for i in note.assignee_ids],
        members=[Member(str(u.id), u.name, u.email) for u in members],
        workspace_tags=[tag for tag, _ in tag_counts],
        similar_tags=similar,
    )
    return await asyncio.to_thread(suggestions, text)


def _changes(note: Note, found: Suggestion) -> NoteChanges:
    """What accepting a (non-TASK) suggestion changes in its note."""
    if found.kind is SuggestionKind.DUE_DATE:
        return NoteChanges(due_date=found.due_date)
    if found.kind is SuggestionKind.PRIORITY:
        return NoteChanges(priority=found.priority)
    if found.kind is SuggestionKind.TAG:
        return NoteChanges(tags=[*note.tags, str(found.tag)])
    return NoteChanges(assignee_ids=[*(str(i) for i in note.assignee_ids), str(found.assignee_id)])


async def accept_suggestion(
    actor: Actor,
    note_id: str,
    suggestion_id: str,
    zone: ZoneInfo,
    expected_version: int | None,
) -> tuple[Note, Note | None]:
    """Apply one suggestion, read again from the note as it is now: the note after the
    change, and the note a TASK suggestion created. CONFLICT when the note changed since
    ``expected_version`` or the suggestion no longer applies; needs the EDITOR role."""
    note = await visible_note(actor, note_id)
    if note is None:
        raise NotFound("No such note.")
    if expected_version is not None and expected_version != note.version:
        raise Conflict(
            f"The note changed since version {expected_version}; reload and retry.",
            field="expectedVersion",
        )
    found = {s.id: s for s in await suggestions_of(actor, note, zone)}.get(suggestion_id)
    if found is None:
        raise Conflict(
            "That suggestion no longer applies to the note; reload its suggestions.",
            field="suggestionId",
        )
    if found.kind is SuggestionKind.TASK:
        assert found.task is not None
        created = await note_writes.create_note(
            actor,
            str(note.workspace_id),
            NoteChanges(title=found.task[: TITLE_LENGTH[1]], due_date=found.due_date),
        )
        return note, created
    updated = await note_writes.update_note(
        actor, str(note.id), _changes(note, found), note.version
    )
    return updated, None
