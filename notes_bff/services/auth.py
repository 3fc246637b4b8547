"""Sign-up, log-in, refresh rotation and log-out: each signs the actor in or out."""

from __future__ import annotations

import contextlib

import structlog
from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from notes_bff.auth.sessions import IssuedTokens
from notes_bff.errors import Conflict, Unauthenticated
from notes_bff.models import User
from notes_bff.services.actor import Actor
from notes_bff.services.sessions import device_of
from notes_bff.validation import NAME_LENGTH, email, password, single_line

log = structlog.get_logger("notes_bff.auth")


def signed_in(actor: Actor, issued: IssuedTokens) -> IssuedTokens:
    """The actor now acts as the user ``issued`` names (for the rest of the operation)."""
    actor.act_as(actor.sessions.tokens.verify(issued.access_token, "access"))
    return issued


async def sign_up(
    actor: Actor, raw_email: str, raw_password: str, name: str, user_agent: str = ""
) -> IssuedTokens:
    """Register a user and sign them in.

    A taken email is a ``CONFLICT`` (as most products answer), but every sign-up spends the
    address's sign-in budget, so probing which emails are registered is throttled.
    """
    address = email("input.email", raw_email)
    attempt = await actor.rate_limits.auth.sign_up(address, actor.client_ip)
    user = User(
        email=address,
        name=single_line("input.name", name, NAME_LENGTH),
        password_hash=await actor.passwords.hash(password("input.password", raw_password)),
    )
    try:
        await user.insert()
    except DuplicateKeyError:
        raise Conflict("That email is already registered.", field="input.email") from None
    assert user.id is not None
    issued = await actor.sessions.start(user.id, device_of(actor, user_agent))
    await attempt.succeeded()
    return signed_in(actor, issued)


async def log_in(
    actor: Actor, raw_email: str, raw_password: str, user_agent: str = ""
) -> IssuedTokens:
    """Sign in with email and password; only failed attempts count against the budgets."""
    address = email("input.email", raw_email)
    attempt = await actor.rate_limits.auth.log_in(address, actor.client_ip)
    user = await User.find_one({"email": address})
    if not await actor.passwords.verify(user.password_hash if user else None, raw_password):
        log.info("log_in_refused", reason="credentials", client_ip=actor.client_ip)
        raise Unauthenticated("Wrong email or password.")
    assert user is not None
    assert user.id is not None
    if user.disabled:
        log.info("log_in_refused", reason="disabled", user_id=str(user.id))
        raise Unauthenticated("This account is disabled.")
    issued = await actor.sessions.start(user.id, device_of(actor, user_agent))
    await attempt.succeeded()
    return signed_in(actor, issued)


async def refresh_session(actor: Actor, token: str | None, user_agent: str = "") -> IssuedTokens:
    """Rotate a refresh token."""
    if not token:
        raise Unauthenticated("No refresh token was sent.")
    attempt = await actor.rate_limits.auth.refresh(actor.client_ip)
    issued = await actor.sessions.rotate(token, device_of(actor, user_agent))
    await attempt.succeeded()
    return signed_in(actor, issued)


async def log_out(actor: Actor, refresh_token: str | None) -> None:
    """End the current login (from the actor's access token or ``refresh_token``): its
    refresh tokens now, its access tokens and websockets on every worker at once."""
    families: set[str] = set()
    if actor.claims is not None:
        families.add(actor.claims.family_id)
    if refresh_token:
        with contextlib.suppress(Unauthenticated):
            families.add(actor.sessions.tokens.verify(refresh_token, "refresh").family_id)
    for family in families:
        await actor.sessions.revocations.end_family(family)


async def start_session(
    actor: Actor, user_id: PydanticObjectId, user_agent: str = ""
) -> IssuedTokens:
    """A new login of ``user_id`` (after a password reset, say); the actor acts as them."""
    return signed_in(actor, await actor.sessions.start(user_id, device_of(actor, user_agent)))
