"""Sign-up, log-in, refresh rotation and log-out; tokens go in the payload and in cookies."""

from __future__ import annotations

import contextlib

import structlog
from pymongo.errors import DuplicateKeyError

from notes_bff.auth.sessions import IssuedTokens
from notes_bff.context import Context
from notes_bff.errors import Conflict, Unauthenticated
from notes_bff.http.cookies import REFRESH_COOKIE, clear_auth_cookies, set_auth_cookies
from notes_bff.models import User
from notes_bff.validation import NAME_LENGTH, email, password, single_line

log = structlog.get_logger("notes_bff.auth")


def _signed_in(ctx: Context, issued: IssuedTokens) -> None:
    """Set the cookies, and make the new user this request's viewer (for the payload)."""
    ctx.claims = ctx.sessions.tokens.verify(issued.access_token, "access")
    ctx.auth_error = None
    set_auth_cookies(
        ctx.response,
        access=issued.access_token,
        access_expires=issued.access_expires_at,
        refresh=issued.refresh_token,
        refresh_max_age=ctx.settings.refresh_token_ttl_seconds,
        secure=ctx.settings.is_production,
    )


async def sign_up(ctx: Context, raw_email: str, raw_password: str, name: str) -> IssuedTokens:
    """Register a user and sign them in.

    A taken email is a ``CONFLICT`` (as most products answer), but every sign-up spends the
    address's sign-in budget, so probing which emails are registered is throttled.
    """
    address = email("input.email", raw_email)
    attempt = await ctx.limit_auth(ctx.rate_limits.auth.sign_up(address, ctx.client_ip))
    user = User(
        email=address,
        name=single_line("input.name", name, NAME_LENGTH),
        password_hash=await ctx.passwords.hash(password("input.password", raw_password)),
    )
    try:
        await user.insert()
    except DuplicateKeyError:
        raise Conflict("That email is already registered.", field="input.email") from None
    assert user.id is not None
    issued = await ctx.sessions.start(user.id)
    await attempt.succeeded()
    _signed_in(ctx, issued)
    return issued


async def log_in(ctx: Context, raw_email: str, raw_password: str) -> IssuedTokens:
    """Sign in with email and password; only failed attempts count against the budgets."""
    address = email("input.email", raw_email)
    attempt = await ctx.limit_auth(ctx.rate_limits.auth.log_in(address, ctx.client_ip))
    user = await User.find_one({"email": address})
    if not await ctx.passwords.verify(user.password_hash if user else None, raw_password):
        log.info("log_in_refused", reason="credentials", client_ip=ctx.client_ip)
        raise Unauthenticated("Wrong email or password.")
    assert user is not None
    assert user.id is not None
    if user.disabled:
        log.info("log_in_refused", reason="disabled", user_id=str(user.id))
        raise Unauthenticated("This account is disabled.")
    issued = await ctx.sessions.start(user.id)
    await attempt.succeeded()
    _signed_in(ctx, issued)
    return issued


async def refresh_session(ctx: Context, refresh_token: str | None) -> IssuedTokens:
    """Rotate a refresh token (argument, else the ``nb_refresh`` cookie)."""
    token = refresh_token or ctx.request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise Unauthenticated("No refresh token was sent.")
    attempt = await ctx.limit_auth(ctx.rate_limits.auth.refresh(ctx.client_ip))
    issued = await ctx.sessions.rotate(token)
    await attempt.succeeded()
    _signed_in(ctx, issued)
    return issued


async def log_out(ctx: Context) -> bool:
    """End the current login (from the access or refresh token): its refresh tokens now,
    its access tokens and websockets on every worker at once."""
    families: set[str] = set()
    if ctx.claims is not None:
        families.add(ctx.claims.family_id)
    cookie = ctx.request.cookies.get(REFRESH_COOKIE)
    if cookie:
        with contextlib.suppress(Unauthenticated):
            families.add(ctx.sessions.tokens.verify(cookie, "refresh").family_id)
    for family in families:
        await ctx.sessions.revocations.end_family(family)
    clear_auth_cookies(ctx.response, secure=ctx.settings.is_production)
    return True
