"""One note's live document in one worker, and the local connections editing it.

A room exists while the worker has connections to the note. Every frame is handled at once
(no await), in arrival order: a client's update is checked (rights, size), applied, relayed to
the other local connections and queued for the note's Redis log, which one task appends in
order; the other workers apply it from the log. Awareness is relayed the same way through a
short, capped stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog
from pycrdt import Doc, Text, get_update

from notes_bff.collab import awareness
from notes_bff.collab.document import EMPTY_UPDATE, build, text_of
from notes_bff.collab.protocol import (
    MESSAGE_AWARENESS,
    MESSAGE_SYNC,
    SYNC_STEP1,
    SYNC_STEP2,
    SYNC_UPDATE,
    ProtocolError,
    adds_content,
    awareness_message,
    parse,
    permission_denied,
    sync_message,
)
from notes_bff.collab.store import Loaded, LogEntry, UpdateLog, id_parts
from notes_bff.redis_guard import REDIS_OUTAGES
from notes_bff.validation import CONTENT_MAX

log = structlog.get_logger("notes_bff.collab")

# Close codes (4400-4499: y-websocket's provider does not reconnect by itself).
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_LARGE = 4413
CLOSE_TOO_MANY = 4429
CLOSE_UNAVAILABLE = 4503
CLOSE_SLOW = 4508
OUTBOX_FRAMES = 1024
OUTBOX_BYTES = 16 * 1024 * 1024
# Messages a connection may send: a bucket of BURST refilled at RATE per second.
MESSAGE_RATE = 100.0
MESSAGE_BURST = 500.0
APPEND_BATCH = 256
RETRY_S = 0.5


class DocumentTooLarge(Exception):
    """The document is over its size limit and the update would add to it."""


class Peer:
    """One local connection: its user, whether it may write, and a bounded outbox.

    ``send`` and ``close`` are the transport's; a connection that falls ``OUTBOX_FRAMES``
    frames or ``OUTBOX_BYTES`` behind is closed (4508) rather than allowed to grow the
    worker's memory, and one that sends more than ``MESSAGE_RATE`` messages a second (beyond
    a burst) is closed (4429).
    """

    def __init__(
        self,
        user_id: str,
        writable: bool,
        send: Callable[[bytes], Awaitable[None]],
        close: Callable[[int, str], Awaitable[object]],
    ) -> None:
        self.user_id = user_id
        self.writable = writable
        self.id = uuid.uuid4().hex
        self.told_read_only = False
        self._send, self._close = send, close
        self._outbox: deque[bytes] = deque()
        self._queued = 0  # bytes in the outbox
        self._budget, self._refilled = MESSAGE_BURST, asyncio.get_running_loop().time()
        self._ready = asyncio.Event()
        self._closing = False
        self._close_with = (CLOSE_GOING_AWAY, "")
        self._writer = asyncio.create_task(self._write())

    def push(self, frame: bytes) -> None:
        """Queue a frame for the client."""
        if self._closing:
            return
        if len(self._outbox) >= OUTBOX_FRAMES or self._queued + len(frame) > OUTBOX_BYTES:
            self.close(CLOSE_SLOW, "Connection too slow; reconnect")
            return
        self._outbox.append(frame)
        self._queued += len(frame)
        self._ready.set()

    def spend(self) -> bool:
        """Count one received message; False when the connection sends too many."""
        now = asyncio.get_running_loop().time()
        self._budget = min(MESSAGE_BURST, self._budget + (now - self._refilled) * MESSAGE_RATE)
        self._refilled = now
        self._budget -= 1
        return self._budget >= 0

    def close(self, code: int, reason: str) -> None:
        """Close the connection once its queued frames are sent."""
        if not self._closing:
            self._closing = True
            self._outbox.append(b"")  # the end marker
            self._close_with = (code, reason)
            self._ready.set()

    async def finish(self, grace_s: float) -> None:
        """Let a requested close go out (within ``grace_s`` seconds), then stop writing."""
        if self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._writer), grace_s)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer

    async def _write(self) -> None:
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while self._outbox:
                    frame = self._outbox.popleft()
                    self._queued -= len(frame)
                    if not frame:
                        await self._close(*self._close_with)
                        return
                    await self._send(frame)
        except (ConnectionError, RuntimeError):
            self._closing = True  # the connection dropped; its handler ends


@dataclass(frozen=True)
class Limits:
    """How large a document may grow."""

    max_document_bytes: int
    max_text_chars: int = CONTENT_MAX


class Room:
    """A note's document in this worker, with its local connections."""

    def __init__(
        self,
        note_id: str,
        workspace_id: str,
        loaded: Loaded,
        log_: UpdateLog,
        limits: Limits,
        on_change: Callable[[Room], None],
    ) -> None:
        self.note_id = note_id
        self.workspace_id = workspace_id
        self.doc: Doc[Text] = build(loaded.update)
        self.text = text_of(self.doc)
        self.last_id = loaded.last_id  # every log entry up to here is in `doc`
        self.awareness_id = "0-0"
        self.last_actor = loaded.actor
        self.peers: set[Peer] = set()
        self.awareness = awareness.AwarenessStates()
        self.origin = uuid.uuid4().hex  # marks this room's own log entries
        self.closing: asyncio.Task[None] | None = None
        self.deleted = False  # the note was: nothing more goes to its log
        # Checkpoints: whether the text changed since the last one, and the next one's timer.
        self.dirty = False
        self.timer: asyncio.TimerHandle | None = None
        self._size = len(loaded.update)
        self._pending: list[bytes] = []  # this room's clients' updates still waiting
        self._log, self._limits, self._on_change = log_, limits, on_change
        self._appends: list[tuple[str, bytes]] = []
        self._relays: list[bytes] = []
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, object]) -> None:
        """Run ``work`` as a task kept alive until it ends."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Local connections

    def join(self, peer: Peer) -> None:
        """Add a connection: it gets the server's state vector and everyone's awareness."""
        self.peers.add(peer)
        peer.push(sync_message(SYNC_STEP1, self.doc.get_state()))
        present = self.awareness.present()
        if present:
            peer.push(awareness_message(awareness.encode(present)))

    def leave(self, peer: Peer) -> None:
        """Remove a connection and its awareness clients (for everyone)."""
        self.peers.discard(peer)
        self._share_awareness(self.awareness.drop_owner(peer), relay=True)

    def receive(self, peer: Peer, frame: bytes) -> None:
        """Handle one frame; raises :class:`ProtocolError` or :class:`DocumentTooLarge`."""
        message = parse(frame)
        if message.kind == MESSAGE_SYNC and message.step == SYNC_STEP1:
            try:
                reply = self.doc.get_update(message.payload)
            except ValueError as exc:
                raise ProtocolError("invalid state vector") from exc
            peer.push(sync_message(SYNC_STEP2, reply))
        elif message.kind == MESSAGE_SYNC:
            self._update(peer, message.payload)
        elif message.kind == MESSAGE_AWARENESS:
            entries = [awareness.stamp(e, peer.user_id) for e in awareness.decode(message.payload)]
            now = asyncio.get_running_loop().time()
            self._share_awareness(self.awareness.apply(entries, peer, now), relay=True)
        else:  # query awareness
            peer.push(awareness_message(awareness.encode(self.awareness.present())))

    def _update(self, peer: Peer, update: bytes) -> None:
        if not peer.writable:
            if not peer.told_read_only:
                peer.told_read_only = True
                peer.push(permission_denied("read-only: your changes are not saved"))
            return
        if update == EMPTY_UPDATE:
            return
        if adds_content(update) and self._too_large(len(update)):
            raise DocumentTooLarge
        try:
            self.doc.apply_update(update)
            if self._waiting(update):
                self._pending.append(update)
        except ValueError as exc:
            raise ProtocolError("invalid update") from exc
        self._size += len(update)
        frame = sync_message(SYNC_UPDATE, update)
        for other in self.peers:
            if other is not peer:
                other.push(frame)
        self.last_actor = peer.user_id
        self._appends.append((peer.user_id, update))
        self._flush()
        self._on_change(self)

    def _waiting(self, update: bytes) -> bool:
        """Whether some of an applied update waits for changes this room has not seen yet
        (another worker's, not read yet): the document keeps it aside until they come."""
        return adds_content(get_update(update, self.doc.get_state()))

    def _too_large(self, extra: int) -> bool:
        """Whether ``extra`` bytes would take the document over its limits (the estimate is
        the bytes applied since loading; it is measured exactly when it says so: the encoded
        document, plus the updates still waiting, which it leaves out and which are stored)."""
        if self._size + extra > self._limits.max_document_bytes:
            self._pending = [u for u in self._pending if self._waiting(u)]
            self._size = len(self.doc.get_update()) + sum(map(len, self._pending))
            if self._size + extra > self._limits.max_document_bytes:
                return True
        # pycrdt's length is in UTF-8 bytes, never fewer than characters.
        limit = self._limits.max_text_chars
        return len(self.text) > limit and len(str(self.text)) > limit

    def _share_awareness(self, entries: list[awareness.Entry], *, relay: bool) -> None:
        if not entries:
            return
        update = awareness.encode(entries)
        frame = awareness_message(update)
        for peer in self.peers:
            peer.push(frame)
        if relay:
            self._relays.append(update)
            self._flush()

    # The log: this room's appends, and other workers' entries

    def _flush(self) -> None:
        if self.deleted:
            self._appends.clear()
            self._relays.clear()
            return
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._append_all())

    async def _append_all(self) -> None:
        """Append queued updates in order (retrying while Redis is down) and relay awareness."""
        while self._appends or self._relays:
            relays, self._relays = self._relays, []
            batch = self._appends[:APPEND_BATCH]
            try:
                for update in relays:
                    await self._log.relay_awareness(self.note_id, self.origin, update)
                if batch:
                    await self._log.append(self.note_id, self.origin, batch)
                    del self._appends[: len(batch)]
            except REDIS_OUTAGES as exc:
                log.warning("collab_append_failed", note=self.note_id, error=str(exc)[:200])
                await asyncio.sleep(RETRY_S)

    async def flushed(self) -> None:
        """Wait until every queued update is in the log."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    def apply_entries(self, entries: list[LogEntry]) -> None:
        """Apply log entries past ``last_id`` (other rooms' updates), relaying them locally."""
        for entry in entries:
            if id_parts(entry.id) <= id_parts(self.last_id):
                continue
            self.last_id = entry.id
            if entry.origin == self.origin:
                continue  # applied and relayed when it came in
            try:
                self.doc.apply_update(entry.update)
            except ValueError:
                log.error("collab_bad_log_entry", note=self.note_id, entry=entry.id)
                continue
            self._size += len(entry.update)
            self.last_actor = entry.actor
            frame = sync_message(SYNC_UPDATE, entry.update)
            for peer in self.peers:
                peer.push(frame)
        if entries:
            self._on_change(self)

    def absorb(self, state: bytes, log_id: str) -> None:
        """Catch up from a persisted state (entries this room missed were trimmed)."""
        if id_parts(log_id) > id_parts(self.last_id):
            self.doc.apply_update(state)
            self.last_id = log_id
            frame = sync_message(SYNC_UPDATE, state)
            for peer in self.peers:
                peer.push(frame)
            self._on_change(self)

    def apply_awareness(self, entry_id: str, update: bytes, origin: str) -> None:
        """Apply another worker's relayed awareness update."""
        self.awareness_id = entry_id
        if origin == self.origin:
            return
        try:
            entries = awareness.decode(update)
        except ProtocolError:
            return
        now = asyncio.get_running_loop().time()
        self._share_awareness(self.awareness.apply(entries, None, now), relay=False)

    def expire_awareness(self) -> None:
        """Drop other workers' clients that stopped renewing (their worker died)."""
        self._share_awareness(self.awareness.expire(asyncio.get_running_loop().time()), relay=False)
