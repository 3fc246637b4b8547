"""Notification messages: fixed sentences per kind, with user text only as bounded values.

User text (names, titles, workspace names) is never a template: it is clipped and placed
into a fixed sentence by concatenation, so ``{actor:>100000000}`` in a title stays those
characters, and no message is longer than :data:`MESSAGE_MAX`.
"""

from __future__ import annotations

from notes_bff.models import NotificationKind

# The longest quoted title or workspace name, and actor name, kept in a message.
QUOTED_MAX = 80
ACTOR_MAX = 60
# The fixed words of the longest sentence are well under 60 characters.
MESSAGE_MAX = QUOTED_MAX + ACTOR_MAX + 60


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending with … when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def notification_message(
    kind: NotificationKind, *, subject: str, actor: str = "Someone", role: str = ""
) -> str:
    """The message of a notification of ``kind`` about ``subject`` (a title or a name)."""
    who = clip(actor, ACTOR_MAX)
    quoted = "“" + clip(subject, QUOTED_MAX) + "”"
    if kind is NotificationKind.ASSIGNED:
        return who + " assigned you to " + quoted
    if kind is NotificationKind.MENTION:
        return who + " mentioned you in " + quoted
    if kind is NotificationKind.MEMBER_ADDED:
        return who + " added you to " + quoted + " as " + role.lower()
    return quoted + " is due within 24 hours"
