"""What one user may see of another."""

from __future__ import annotations

from notes_bff.models import User
from notes_bff.services.access import viewer_workspaces
from notes_bff.services.actor import Actor


async def visible_email(actor: Actor, user: User) -> str | None:
    """The user's email, for themself and for members of a workspace they share; else None."""
    viewer = actor.viewer_id
    if viewer is None or user.id is None:
        return None
    if viewer == user.id:
        return user.email
    shared = any(ws.role_of(user.id) for ws in await viewer_workspaces(actor))
    return user.email if shared else None
