"""The two auth cookies of CONTRACT.md."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

ACCESS_COOKIE = "nb_access"
REFRESH_COOKIE = "nb_refresh"
REFRESH_COOKIE_PATH = "/graphql"


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, else None."""
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def set_auth_cookies(
    response: web.StreamResponse,
    *,
    access: str,
    access_expires: datetime,
    refresh: str,
    refresh_max_age: int,
    secure: bool,
) -> None:
    """Set ``nb_access`` (Lax, Path=/) and ``nb_refresh`` (Strict, Path=/graphql)."""
    response.set_cookie(
        ACCESS_COOKIE,
        access,
        httponly=True,
        samesite="Lax",
        path="/",
        secure=secure,
        expires=access_expires.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    )
    response.set_cookie(
        REFRESH_COOKIE,
        refresh,
        httponly=True,
        samesite="Strict",
        path=REFRESH_COOKIE_PATH,
        secure=secure,
        max_age=refresh_max_age,
    )


def clear_auth_cookies(response: web.StreamResponse, *, secure: bool) -> None:
    """Expire both cookies."""
    response.del_cookie(ACCESS_COOKIE, path="/", secure=secure, httponly=True, samesite="Lax")
    response.del_cookie(
        REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, secure=secure, httponly=True, samesite="Strict"
    )
