"""The tags an execution reads and a write bumps: one per thing whose change must drop
the cached answers that read it."""

from __future__ import annotations

# Bumped when Redis could have lost bumps (it was unreachable): drops every entry.
GENERATION = "gen"
NOTE = "n"
WORKSPACE_NOTES = "wn"
WORKSPACE = "w"
MEMBERSHIPS = "m"
USER = "u"
NOTIFICATIONS = "nt"


def tag(kind: str, subject: object) -> str:
    """The tag of one ``kind`` of thing about ``subject`` (an id)."""
    return f"{kind}:{subject}"


def note(note_id: object) -> str:
    """One note's document (read by id)."""
    return tag(NOTE, note_id)


def workspace_notes(workspace_id: object) -> str:
    """Every list, count and aggregate over the notes of a workspace."""
    return tag(WORKSPACE_NOTES, workspace_id)


def workspace(workspace_id: object) -> str:
    """A workspace's document: its name, description and member list."""
    return tag(WORKSPACE, workspace_id)


def memberships(user_id: object) -> str:
    """The workspaces a user belongs to, as listed (names and members included)."""
    return tag(MEMBERSHIPS, user_id)


def user(user_id: object) -> str:
    """A user's document (name, avatar, email)."""
    return tag(USER, user_id)


def notifications(user_id: object) -> str:
    """A user's notifications (lists and unread counts)."""
    return tag(NOTIFICATIONS, user_id)
