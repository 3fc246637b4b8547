"""Signed, expiring links: a path that works until its expiry for whoever holds it.

The signature is an HMAC-SHA256 of the path and the expiry under a key derived from the
JWT key (so every worker and host of a deployment verifies what any of them signed).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import urlencode

from notes_bff.config import Settings

_PURPOSE = b"notes-bff signed links\x00"


def link_key(settings: Settings) -> bytes:
    """The deployment's key for links, derived from (never equal to) the JWT key."""
    return hashlib.sha256(_PURPOSE + settings.jwt_key().encode()).digest()


def _signature(key: bytes, path: str, expires: int) -> str:
    return hmac.new(key, f"{path}\x00{expires}".encode(), hashlib.sha256).hexdigest()


def signed_path(key: bytes, path: str, expires_at: datetime) -> str:
    """``path`` with its ``expires`` (Unix seconds) and ``signature`` query parameters."""
    expires = int(expires_at.timestamp())
    query = urlencode({"expires": expires, "signature": _signature(key, path, expires)})
    return f"{path}?{query}"


def link_valid(key: bytes, path: str, expires: str, signature: str, moment: datetime) -> bool:
    """Whether ``signature`` signs ``path`` until ``expires``, and that is after ``moment``."""
    if not expires.isdigit():
        return False
    expected = _signature(key, path, int(expires))
    return hmac.compare_digest(expected, signature) and int(expires) > moment.timestamp()
