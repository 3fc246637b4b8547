"""Awareness (cursors, selections, who is here): y-protocols' encoding and one document's
states, local and relayed from other workers.

An update lists ``(client id, clock, JSON state)``; a state of ``null`` means the client left.
A newer clock wins. A client id belongs to the connection that first announced it, so one
connection cannot overwrite or remove another's cursor; states relayed from other workers
have no local owner and expire when not renewed (clients renew every 15 s).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from notes_bff.collab.protocol import ProtocolError, Reader, write_bytes, write_uint

MAX_STATE_BYTES = 16 * 1024
MAX_CLIENTS_PER_UPDATE = 64
MAX_CLIENTS_PER_OWNER = 4
# Clients renew their state every 15 s: a relayed state older than this is gone.
REMOTE_EXPIRY_S = 35.0
NULL = "null"


@dataclass(frozen=True, slots=True)
class Entry:
    """One client's state as sent: ``state`` is JSON text, ``null`` when the client left."""

    client: int
    clock: int
    state: str


def decode(update: bytes) -> list[Entry]:
    """The entries of an encoded awareness update; each state must be a JSON object or null."""
    reader = Reader(update)
    count = reader.uint()
    if count > MAX_CLIENTS_PER_UPDATE:
        raise ProtocolError("too many awareness clients in one update")
    entries = []
    for _ in range(count):
        client, clock, state = reader.uint(), reader.uint(), reader.string()
        if len(state) > MAX_STATE_BYTES:
            raise ProtocolError("awareness state too large")
        try:
            value = orjson.loads(state)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError("awareness state is not JSON") from exc
        if value is not None and not isinstance(value, dict):
            raise ProtocolError("awareness state is not an object")
        entries.append(Entry(client, clock, state))
    reader.end()
    return entries


def encode(entries: Iterable[Entry]) -> bytes:
    """An awareness update of ``entries``."""
    items = list(entries)
    parts = [write_uint(len(items))]
    for entry in items:
        parts += [
            write_uint(entry.client),
            write_uint(entry.clock),
            write_bytes(entry.state.encode()),
        ]
    return b"".join(parts)


def stamp(entry: Entry, user_id: str) -> Entry:
    """``entry`` with ``userId`` set to the authenticated user, so peers can trust who it is."""
    if entry.state == NULL:
        return entry
    state = orjson.loads(entry.state)
    state["userId"] = user_id
    return Entry(entry.client, entry.clock, orjson.dumps(state).decode())


@dataclass(slots=True)
class _Client:
    entry: Entry
    owner: object | None  # the local connection that announced it; None: another worker's
    seen: float


class AwarenessStates:
    """The awareness states of one document."""

    def __init__(self) -> None:
        self._clients: dict[int, _Client] = {}

    def apply(self, entries: Iterable[Entry], owner: object | None, now: float) -> list[Entry]:
        """Take the newer of ``entries`` (from ``owner``, or another worker's when None);
        returns the ones taken. Raises :class:`ProtocolError` when a connection announces more
        than ``MAX_CLIENTS_PER_OWNER`` clients."""
        taken = []
        for entry in entries:
            current = self._clients.get(entry.client)
            if owner is not None and (current is None or current.owner is not owner):
                if current is not None and current.owner is not None:
                    continue  # another connection's client
                if self._owned(owner) >= MAX_CLIENTS_PER_OWNER:
                    raise ProtocolError("too many awareness clients on one connection")
                if current is not None and current.entry.state == NULL:
                    # A client back on a new connection: its clock may be behind the removal
                    # everyone saw, so it continues after it.
                    clock = max(entry.clock, current.entry.clock + 1)
                    entry = Entry(entry.client, clock, entry.state)
            if current is None or entry.clock > current.entry.clock:
                self._clients[entry.client] = _Client(entry, owner, now)
                taken.append(entry)
            elif entry.clock == current.entry.clock:
                current.seen = now
        return taken

    def _owned(self, owner: object) -> int:
        return sum(1 for c in self._clients.values() if c.owner is owner)

    def present(self) -> list[Entry]:
        """Every client's current state (those that left excluded)."""
        return [c.entry for c in self._clients.values() if c.entry.state != NULL]

    def users(self) -> set[str]:
        """The user ids stamped on the present states."""
        found = set()
        for entry in self.present():
            user = orjson.loads(entry.state).get("userId")
            if isinstance(user, str):
                found.add(user)
        return found

    def drop_owner(self, owner: object) -> list[Entry]:
        """Removal entries (clock + 1, null) for the clients of a connection that closed."""
        return self._remove([k for k, c in self._clients.items() if c.owner is owner], owned=True)

    def expire(self, now: float) -> list[Entry]:
        """Removal entries for other workers' clients not renewed in time; forgets clients
        that left long ago."""
        stale = [
            k
            for k, c in self._clients.items()
            if c.owner is None and now - c.seen > REMOTE_EXPIRY_S and c.entry.state != NULL
        ]
        for key in [k for k, c in self._clients.items() if now - c.seen > 2 * REMOTE_EXPIRY_S]:
            if self._clients[key].entry.state == NULL:
                del self._clients[key]
        return self._remove(stale, owned=False)

    def _remove(self, clients: list[int], *, owned: bool) -> list[Entry]:
        removals = []
        for key in clients:
            client = self._clients[key]
            if client.entry.state == NULL:
                continue
            removal = Entry(key, client.entry.clock + 1, NULL)
            self._clients[key] = _Client(removal, None if owned else client.owner, client.seen)
            removals.append(removal)
        return removals
