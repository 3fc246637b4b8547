"""The viewer's own account: profile settings, password, and re-authentication."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from beanie import PydanticObjectId
from pymongo import ReturnDocument

from notes_bff import profile_fields
from notes_bff.auth.sessions import IssuedTokens
from notes_bff.errors import BadInput, Unauthenticated
from notes_bff.models import User
from notes_bff.response_cache import tags
from notes_bff.services.actor import Actor
from notes_bff.services.auth import signed_in
from notes_bff.services.changes import KEEP, Changes, Keep
from notes_bff.services.sessions import device_of, end_other_sessions
from notes_bff.validation import NAME_LENGTH, password, single_line


@dataclass(frozen=True)
class ProfileChanges(Changes):
    """Changes to the viewer's profile; None clears a setting (not the name)."""

    name: str | Keep | None = KEEP
    avatar_url: str | Keep | None = KEEP
    time_zone: str | Keep | None = KEEP
    locale: str | Keep | None = KEEP


def profile_update(changes: ProfileChanges) -> dict[str, Any]:
    """The validated fields to store (``BAD_USER_INPUT`` naming the first bad one)."""
    validators = {
        "avatar_url": ("input.avatarUrl", profile_fields.avatar_url),
        "time_zone": ("input.timeZone", profile_fields.time_zone),
        "locale": ("input.locale", profile_fields.locale),
    }
    stored: dict[str, Any] = {}
    for name, value in changes.given().items():
        if name == "name":
            if value is None:
                raise BadInput("input.name", "input.name cannot be null.")
            stored[name] = single_line("input.name", value, NAME_LENGTH)
        else:
            field, validate = validators[name]
            stored[name] = None if value is None or not value.strip() else validate(field, value)
    return stored


async def _viewer_document(actor: Actor) -> User:
    user = await User.get(actor.require_viewer())
    if user is None or user.erased_at is not None:
        raise Unauthenticated()
    return user


def is_self(actor: Actor, user_id: PydanticObjectId | None) -> bool:
    """Whether ``user_id`` is the viewer (who alone sees their own settings)."""
    return user_id is not None and actor.viewer_id == user_id


async def update_profile(actor: Actor, changes: ProfileChanges) -> User:
    """Change the viewer's name, avatar, time zone or locale."""
    viewer = actor.require_viewer()
    stored = profile_update(changes)
    if not stored:
        return await _viewer_document(actor)
    raw = await User.get_pymongo_collection().find_one_and_update(
        {"_id": viewer, "erased_at": None},
        {"$set": stored},
        return_document=ReturnDocument.AFTER,
    )
    if raw is None:
        raise Unauthenticated()
    user: User = User.model_validate(raw)
    actor.loaders.user_by_id.clear(viewer).prime(viewer, user)
    await actor.realtime.invalidate(tags.user(viewer))
    return user


async def confirm_password(actor: Actor, user: User, raw_password: str, field: str) -> None:
    """Re-authentication: ``raw_password`` must be the user's (``BAD_USER_INPUT`` on
    ``field`` if not); attempts spend the sign-in budgets of the account and address."""
    attempt = await actor.rate_limits.auth.log_in(user.email, actor.client_ip)
    if not await actor.passwords.verify(user.password_hash, raw_password):
        raise BadInput(field, "The password is wrong.")
    await attempt.succeeded()


async def change_password(
    actor: Actor, current_password: str, new_password: str, user_agent: str
) -> IssuedTokens:
    """Set a new password; every other login ends at once (their websockets too, on every
    worker) and the current one continues with a fresh token pair."""
    user = await _viewer_document(actor)
    await confirm_password(actor, user, current_password, "currentPassword")
    chosen = password("newPassword", new_password)
    if chosen == current_password:
        raise BadInput("newPassword", "The new password must differ from the current one.")
    await User.get_pymongo_collection().update_one(
        {"_id": user.id}, {"$set": {"password_hash": await actor.passwords.hash(chosen)}}
    )
    assert user.id is not None
    assert actor.claims is not None
    await end_other_sessions(actor, user.id)
    issued = await actor.sessions.reissue(actor.claims, device_of(actor, user_agent))
    return signed_in(actor, issued)
