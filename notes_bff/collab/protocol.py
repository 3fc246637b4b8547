"""The y-websocket protocol (y-protocols' sync, awareness and auth messages), strictly parsed.

A frame is one message: a lib0 var-uint message type, then for SYNC a var-uint sync step and
a length-prefixed payload, for AWARENESS a length-prefixed awareness update. Anything else,
truncated, oversized or followed by stray bytes is a :class:`ProtocolError`.
"""

from __future__ import annotations

from dataclasses import dataclass

MESSAGE_SYNC = 0
MESSAGE_AWARENESS = 1
MESSAGE_AUTH = 2
MESSAGE_QUERY_AWARENESS = 3
SYNC_STEP1 = 0
SYNC_STEP2 = 1
SYNC_UPDATE = 2
# lib0 reads var-uints into JavaScript numbers: 2**53 at most, 8 bytes of 7 bits.
_MAX_UINT_BYTES = 8


class ProtocolError(ValueError):
    """A message that is not valid y-websocket."""


class Reader:
    """Reads lib0-encoded values from one buffer."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def uint(self) -> int:
        """A var-uint (7 bits per byte, least significant first)."""
        value, shift = 0, 0
        for _ in range(_MAX_UINT_BYTES):
            if self.pos >= len(self.data):
                raise ProtocolError("truncated number")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
        raise ProtocolError("number too long")

    def bytes(self) -> bytes:
        """A length-prefixed byte string."""
        length = self.uint()
        end = self.pos + length
        if end > len(self.data):
            raise ProtocolError("truncated payload")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def string(self) -> str:
        """A length-prefixed UTF-8 string."""
        try:
            return self.bytes().decode()
        except UnicodeDecodeError as exc:
            raise ProtocolError("invalid UTF-8") from exc

    def end(self) -> None:
        """Refuse stray bytes after the last value."""
        if self.pos != len(self.data):
            raise ProtocolError("unexpected bytes after the message")


def write_uint(value: int) -> bytes:
    """``value`` as a var-uint."""
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def write_bytes(payload: bytes) -> bytes:
    """``payload`` with its length in front."""
    return write_uint(len(payload)) + payload


@dataclass(frozen=True, slots=True)
class Message:
    """One parsed frame: ``kind`` (MESSAGE_*), ``step`` (SYNC_* for sync messages)."""

    kind: int
    step: int | None
    payload: bytes


def parse(frame: bytes) -> Message:
    """The message of one frame sent by a client."""
    reader = Reader(frame)
    kind = reader.uint()
    step: int | None = None
    if kind == MESSAGE_SYNC:
        step = reader.uint()
        if step not in (SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE):
            raise ProtocolError(f"unknown sync step {step}")
        payload = reader.bytes()
    elif kind == MESSAGE_AWARENESS:
        payload = reader.bytes()
    elif kind == MESSAGE_QUERY_AWARENESS:
        payload = b""
    else:
        raise ProtocolError(f"unknown message type {kind}")
    reader.end()
    return Message(kind, step, payload)


def sync_message(step: int, payload: bytes) -> bytes:
    """A SYNC message: step 1 (a state vector), step 2 or an update (a Yjs update)."""
    return bytes((MESSAGE_SYNC, step)) + write_bytes(payload)


def awareness_message(update: bytes) -> bytes:
    """An AWARENESS message carrying an encoded awareness update."""
    return bytes((MESSAGE_AWARENESS,)) + write_bytes(update)


def permission_denied(reason: str) -> bytes:
    """y-protocols' auth message "permission denied" (the provider logs ``reason``)."""
    return bytes((MESSAGE_AUTH, 0)) + write_bytes(reason.encode())


def adds_content(update: bytes) -> bool:
    """Whether a Yjs update (v1) inserts anything: it starts with its number of clients with
    new structs, 0 for an update that only deletes."""
    return Reader(update).uint() != 0
