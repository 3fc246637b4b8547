"""Changing a user's email: re-authenticate, prove the new address, tell the old one.

The request checks the password (spending a sign-in attempt, given back when it is right),
emails a single-use, expiring link to the new address, and tells the old address at once,
so its owner can react before the change is confirmed. Confirming the link switches the
email (still refused if the address was taken meanwhile).
"""

from __future__ import annotations

from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from notes_bff.confusables import email_skeleton
from notes_bff.email.outbox import enqueue
from notes_bff.errors import BadInput, Conflict, NotFound
from notes_bff.models import EmailTemplate, TokenPurpose, User
from notes_bff.response_cache import tags
from notes_bff.services import account_tokens
from notes_bff.services.actor import Actor
from notes_bff.validation import email

TAKEN = "That email is already registered."


async def _taken(address: str) -> bool:
    """Whether an account has this address or one that looks like it."""
    look_alike = {"$or": [{"email": address}, {"email_skeleton": email_skeleton(address)}]}
    return await User.find_one(look_alike) is not None


async def request_email_change(actor: Actor, raw_email: str, raw_password: str) -> None:
    """Send the confirmation link to ``raw_email`` and the notice to the current address."""
    viewer = actor.require_viewer()
    user = await User.get(viewer)
    if user is None:
        raise NotFound("Your account no longer exists.")
    new_email = email("newEmail", raw_email)
    attempt = await actor.rate_limits.auth.log_in(user.email, actor.client_ip)
    if not await actor.passwords.verify(user.password_hash, raw_password):
        raise BadInput("password", "The password is wrong.")
    await attempt.succeeded()
    if new_email == user.email:
        raise BadInput("newEmail", "That is already your email.")
    if await _taken(new_email):
        raise Conflict(TAKEN, field="newEmail")
    ttl = timedelta(seconds=actor.settings.email_change_ttl_seconds)
    token = await account_tokens.issue(TokenPurpose.EMAIL_CHANGE, viewer, ttl, new_email=new_email)
    values = {"new_email": new_email}
    await enqueue(
        new_email, EmailTemplate.EMAIL_CHANGE_VERIFY, user_id=viewer, values=values, secret=token
    )
    await enqueue(user.email, EmailTemplate.EMAIL_CHANGE_NOTICE, user_id=viewer, values=values)


async def confirm_email_change(actor: Actor, token: str) -> User:
    """Switch to the address a link's token proved; the user, changed."""
    record = await account_tokens.spend(TokenPurpose.EMAIL_CHANGE, token)
    assert record.new_email is not None
    new = {"email": record.new_email, "email_skeleton": email_skeleton(record.new_email)}
    try:
        changed = await User.get_pymongo_collection().update_one(
            {"_id": record.user_id}, {"$set": new}
        )
    except DuplicateKeyError:
        raise Conflict(TAKEN, field="token") from None
    user = await User.get(record.user_id) if changed.matched_count else None
    if user is None:
        raise BadInput("token", account_tokens.INVALID_LINK)
    await actor.realtime.invalidate(tags.user(record.user_id))
    return user
