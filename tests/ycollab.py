"""A y-websocket client on pycrdt for the in-process collaboration tests (the Node tests use
the real `y-websocket` provider)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import aiohttp
from pycrdt import Doc, Text

from notes_bff.collab import awareness
from notes_bff.collab.protocol import (
    MESSAGE_AUTH,
    MESSAGE_AWARENESS,
    MESSAGE_SYNC,
    SYNC_STEP1,
    SYNC_STEP2,
    SYNC_UPDATE,
    Reader,
    awareness_message,
    sync_message,
)


class YClient:
    """One editor: a document kept in sync over a ``/collab/<noteId>`` websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.doc: Doc[Text] = Doc()
        self.text: Text = self.doc.get("content", type=Text)
        self.synced = asyncio.Event()
        self.denied: list[str] = []
        self.awareness: dict[int, str] = {}
        self.close_code: int | None = None
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, client: Any, path: str, **kw: Any) -> YClient:
        """Open ``path`` with an aiohttp (test) client and send sync step 1."""
        ws = await client.ws_connect(path, **kw)
        yclient = cls(ws)
        await ws.send_bytes(sync_message(SYNC_STEP1, yclient.doc.get_state()))
        return yclient

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.BINARY:
                break
            reader = Reader(message.data)
            kind = reader.uint()
            if kind == MESSAGE_SYNC:
                step, payload = reader.uint(), reader.bytes()
                if step == SYNC_STEP1:
                    await self.ws.send_bytes(sync_message(SYNC_STEP2, self.doc.get_update(payload)))
                else:
                    self.doc.apply_update(payload)
                    if step == SYNC_STEP2:
                        self.synced.set()
            elif kind == MESSAGE_AWARENESS:
                for entry in awareness.decode(reader.bytes()):
                    self.awareness[entry.client] = entry.state
            elif kind == MESSAGE_AUTH:
                reader.uint()
                self.denied.append(reader.string())
        self.close_code = self.ws.close_code

    def __str__(self) -> str:
        return str(self.text)

    async def edit(self, change: Callable[[Text], None]) -> None:
        """Change the text locally and send the update."""
        before = self.doc.get_state()
        change(self.text)
        await self.ws.send_bytes(sync_message(SYNC_UPDATE, self.doc.get_update(before)))

    async def type(self, at: int, chunk: str) -> None:
        """Insert ``chunk`` at character ``at`` (ASCII text in these tests)."""
        await self.edit(lambda text: text.insert(at, chunk))

    async def announce(self, state: str, clock: int = 1) -> None:
        """Send this client's awareness state (JSON text)."""
        entry = awareness.Entry(self.doc.client_id, clock, state)
        await self.ws.send_bytes(awareness_message(awareness.encode([entry])))

    async def closed(self, timeout: float = 5.0) -> int | None:
        """Wait for the server to close the connection; its close code."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code

    async def close(self) -> None:
        """Leave."""
        await self.ws.close()
        await self._reader


async def until(predicate: Callable[[], object], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` until it holds (or ``timeout`` passes); its last answer."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True
