"""Signed one-click unsubscribe tokens (RFC 8058): who, and from what.

A token is ``<base64url(user_id:topic)>.<base64url(HMAC-SHA256)>`` under a key derived from
the server's signing key; it does not expire (an old email's link keeps working), and using
it twice does the same thing twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

DIGEST_TOPIC = "DIGEST"
PATH = "/email/unsubscribe"  # served by notes_bff/http/unsubscribe.py


@dataclass(frozen=True)
class Unsubscribe:
    """The user and the topic (a notification kind, or ``DIGEST``) of a token."""

    user_id: str
    topic: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: str, payload: str) -> str:
    derived = hmac.new(key.encode(), b"notes-bff unsubscribe", hashlib.sha256).digest()
    return _b64(hmac.new(derived, payload.encode(), hashlib.sha256).digest())


def sign(key: str, subject: Unsubscribe) -> str:
    """The token unsubscribing ``subject.user_id`` from ``subject.topic``."""
    payload = _b64(f"{subject.user_id}:{subject.topic}".encode())
    return f"{payload}.{_signature(key, payload)}"


def verify(key: str, token: str) -> Unsubscribe | None:
    """What a valid token unsubscribes from; None for anything else."""
    payload, _, signature = token.partition(".")
    if not hmac.compare_digest(signature.encode(), _signature(key, payload).encode()):
        return None
    try:
        user_id, _, topic = _unb64(payload).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return Unsubscribe(user_id, topic) if user_id and topic else None
