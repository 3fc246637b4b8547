"""Password reset by email: asking for a link, and spending it.

Asking always answers the same (no account enumeration): the address's and the client IP's
budgets are spent whether or not an account has the address, and only an enabled account
gets an email. Spending the link sets the new password, ends every session of the user at
once (refresh tokens, access tokens and live websockets, on every worker) and signs in.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from notes_bff.auth.sessions import IssuedTokens
from notes_bff.email.outbox import enqueue
from notes_bff.errors import BadInput
from notes_bff.models import EmailTemplate, RefreshSession, TokenPurpose, User
from notes_bff.ratelimit import spend_all
from notes_bff.services import account_tokens
from notes_bff.services.actor import Actor
from notes_bff.services.auth import start_session
from notes_bff.validation import email, password

log = structlog.get_logger("notes_bff.auth")


async def request_password_reset(actor: Actor, raw_email: str) -> None:
    """Email a reset link to the account with this address, if there is one."""
    address = email("email", raw_email)
    limits = actor.rate_limits
    await spend_all([(limits.password_reset, address), (limits.password_reset_ip, actor.client_ip)])
    user = await User.find_one({"email": address, "disabled": {"$ne": True}})
    if user is None or user.id is None:
        log.info("password_reset_unknown", client_ip=actor.client_ip)
        return
    ttl = timedelta(seconds=actor.settings.password_reset_ttl_seconds)
    token = await account_tokens.issue(TokenPurpose.PASSWORD_RESET, user.id, ttl)
    await enqueue(user.email, EmailTemplate.PASSWORD_RESET, user_id=user.id, secret=token)
    log.info("password_reset_sent", user_id=str(user.id))


async def reset_password(
    actor: Actor, token: str, raw_password: str, user_agent: str = ""
) -> IssuedTokens:
    """Set a new password with a reset link's token, end every session, and sign in."""
    new_password = password("newPassword", raw_password)
    record = await account_tokens.spend(TokenPurpose.PASSWORD_RESET, token)
    password_hash = await actor.passwords.hash(new_password)
    changed = await User.get_pymongo_collection().update_one(
        {"_id": record.user_id, "disabled": {"$ne": True}},
        {"$set": {"password_hash": password_hash}},
    )
    if changed.matched_count != 1:
        raise BadInput("token", account_tokens.INVALID_LINK)
    families = await RefreshSession.get_pymongo_collection().distinct(
        "family_id", {"user_id": record.user_id, "revoked": False}
    )
    for family in families:
        await actor.sessions.revocations.end_family(family)
    log.info("password_reset", user_id=str(record.user_id), sessions_ended=len(families))
    return await start_session(actor, record.user_id, user_agent)
