"""Consistency tokens: after a mutation, the point in MongoDB's history its writes reached,
for the client to send back so that its next requests' list reads observe them.

A token is the BSON of an operation time and its cluster time (base64url), a dot, and an
HMAC-SHA256 of those bytes under a key derived from the JWT key: every worker verifies what
any of them issued, and a client cannot make one up (docs/scaling.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

import bson
from bson import Timestamp
from bson.errors import BSONError
from pymongo import AsyncMongoClient

from notes_bff.config import Settings
from notes_bff.db import last_write
from notes_bff.errors import BadInput
from notes_bff.models.read_routing import ReadAfter

_PURPOSE = b"notes-bff consistency tokens\x00"
MAX_TOKEN_CHARS = 512
_SIGNATURE_BYTES = 16


def token_key(settings: Settings) -> bytes:
    """The deployment's key for consistency tokens, derived from (never equal to) the JWT key."""
    return hashlib.sha256(_PURPOSE + settings.jwt_key().encode()).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def encode_token(key: bytes, after: ReadAfter) -> str:
    """``after`` as a signed token."""
    payload = bson.encode({"o": after.operation_time, "c": dict(after.cluster_time)})
    return f"{_b64(payload)}.{_b64(_signature(key, payload))}"


def decode_token(key: bytes, field: str, token: str) -> ReadAfter:
    """The point a token names; ``BadInput`` (naming ``field``) if it is too long, damaged,
    or not signed by this deployment."""
    invalid = BadInput(field, f"{field} is not a consistency token this server issued.")
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise invalid
    encoded, signature = token.split(".")
    try:
        payload = _unb64(encoded)
        valid = hmac.compare_digest(_unb64(signature), _signature(key, payload))
        fields: dict[str, Any] = bson.decode(payload) if valid else {}
    except (ValueError, binascii.Error, BSONError) as exc:
        raise invalid from exc
    operation_time, cluster_time = fields.get("o"), fields.get("c")
    if not isinstance(operation_time, Timestamp) or not isinstance(cluster_time, dict):
        raise invalid
    return ReadAfter(operation_time, cluster_time)


class ConsistencyTokens:
    """Issues tokens after mutations and reads them back (only while list reads may be routed
    away from the primary: otherwise every read already sees every acknowledged write)."""

    def __init__(self, key: bytes, client: AsyncMongoClient[Any], database: str) -> None:
        self._key = key
        self._client = client
        self._database = database

    async def after_write(self) -> str | None:
        """A token at or after every write acknowledged so far (None: the server keeps no
        cluster time)."""
        after = await last_write(self._client, self._database)
        return None if after is None else encode_token(self._key, after)

    def read(self, field: str, token: str) -> ReadAfter:
        """The point ``token`` names (see :func:`decode_token`)."""
        return decode_token(self._key, field, token)
