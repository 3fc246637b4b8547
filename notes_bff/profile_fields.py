"""Validation of the profile's settings: avatar URL, IANA time zone, BCP 47 locale.

Each returns the normalized value or raises ``BadInput`` naming its field.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from notes_bff.errors import BadInput

AVATAR_URL_MAX = 2048
LOCALE_MAX = 35  # RFC 5646 §4.4.1: 35 characters hold every tag a product needs
# RFC 5646 langtag (without grandfathered tags): language[-extlang], script, region,
# variants, extensions, private use. Matched case-insensitively, then cased canonically.
# Languages of 4 to 8 letters are reserved or registrable but none is registered: refused.
_LANGTAG = re.compile(
    r"(?P<language>[a-z]{2,3}(?:-[a-z]{3}){0,3})"
    r"(?:-(?P<script>[a-z]{4}))?"
    r"(?:-(?P<region>[a-z]{2}|[0-9]{3}))?"
    r"(?P<rest>(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"
    r"(?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*"
    r"(?:-x(?:-[a-z0-9]{1,8})+)?)",
    re.IGNORECASE,
)
_URL_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f\\<>\"']")


def avatar_url(field: str, value: str) -> str:
    """An ``https`` image address a browser may load: at most 2048 characters, a host name
    (no IP literal, no ``localhost``), no credentials, no whitespace, quotes or backslashes;
    so ``javascript:``, ``data:`` and ``http:`` URLs are refused."""
    text = value.strip()
    if len(text) > AVATAR_URL_MAX:
        raise BadInput(field, f"{field} must be at most {AVATAR_URL_MAX} characters long.")
    if _URL_FORBIDDEN.search(text):
        raise BadInput(field, f"{field} may not hold spaces, quotes or control characters.")
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise BadInput(field, f"{field} is not a valid URL.") from exc
    if parts.scheme.lower() != "https":
        raise BadInput(field, f"{field} must be an https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise BadInput(field, f"{field} may not hold a user name or password.")
    if not _is_public_host_name(host):
        raise BadInput(field, f"{field} must name a public host.")
    return text


def _is_public_host_name(host: str) -> bool:
    """A dotted DNS name that is not an IP literal nor a local name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return False
    labels = host.rstrip(".").split(".")
    return len(labels) >= 2 and all(labels) and labels[-1] not in {"localhost", "local", "internal"}


@cache
def _zones() -> dict[str, str]:
    """Every IANA zone name the host knows (tzdata), by its lower-cased form."""
    return {name.lower(): name for name in available_timezones()}


def time_zone(field: str, value: str) -> str:
    """An IANA time zone name (``Europe/Paris``), in its canonical spelling."""
    name = _zones().get(value.strip().lower())
    if name is None:
        raise BadInput(field, f"{field} is not an IANA time zone name (such as Europe/Paris).")
    return name


def locale(field: str, value: str) -> str:
    """A well-formed BCP 47 language tag, cased canonically (``en-US``, ``zh-Hant-TW``)."""
    text = value.strip().replace("_", "-")
    found = _LANGTAG.fullmatch(text) if len(text) <= LOCALE_MAX else None
    if found is None:
        raise BadInput(field, f"{field} is not a BCP 47 language tag (such as en-US).")
    parts = [found["language"].lower()]
    if found["script"]:
        parts.append(found["script"].title())
    if found["region"]:
        parts.append(found["region"].upper())
    return "-".join(parts) + found["rest"].lower()
