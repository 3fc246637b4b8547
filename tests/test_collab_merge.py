"""Property test of the merge and compaction path, on the real Redis log and MongoDB state:
whatever the interleaving of edits, appends, reads, compactions (which trim what they merged)
and worker restarts, every reader ends with the document that applying each update once gives.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import pytest
from aiohttp.test_utils import TestClient, TestServer
from beanie import PydanticObjectId, init_beanie
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from notes_bff.collab.document import build, text_of
from notes_bff.collab.room import Limits, Room
from notes_bff.collab.service import Collaboration
from notes_bff.collab.store import load
from notes_bff.collab.textmerge import Edit, apply
from notes_bff.config import Settings
from notes_bff.keys import COLLAB, MONGO
from notes_bff.models import DOCUMENT_MODELS, CollabState, Note
from notes_bff.server import create_app

T = TypeVar("T")
CLIENTS = 3
ALPHABET = "ab \né😀"
# Edits and appends are drawn more often than the rest, so logs have something to merge.
KINDS = ["edit"] * 3 + ["send"] * 2 + ["pull", "read", "compact", "compact", "restart"]
STEPS = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, CLIENTS - 1), st.integers(0, 2**32)),
    min_size=1,
    max_size=40,
)


@pytest.fixture(scope="module")
async def collab(app_client: TestClient, settings: Settings) -> AsyncIterator[Collaboration]:  # type: ignore[type-arg]
    """A process whose compactor trims whatever it merged (no minimum age)."""
    values = {**settings.model_dump(), "collab_log_min_age_seconds": 0}
    app = create_app(Settings(_env_file=None, **values))  # type: ignore[call-arg]
    try:
        async with TestClient(TestServer(app)):
            yield app[COLLAB]
    finally:
        main = app_client.server.app
        await init_beanie(
            database=main[MONGO][settings.mongodb_db], document_models=DOCUMENT_MODELS
        )


class Client:
    """An editor: a local document and the updates it has not sent yet."""

    def __init__(self, number: int) -> None:
        self.origin = f"client-{number}"
        self.doc: Doc[Text] = Doc(client_id=1000 + number)
        self.text = text_of(self.doc)
        self.outbox: list[bytes] = []

    def edit(self, seed: int) -> None:
        rng = random.Random(seed)
        live = str(self.text)
        at = rng.randint(0, len(live))
        if live and rng.random() < 0.4:
            edit = Edit(at if at < len(live) else at - 1, min(len(live), at + rng.randint(1, 4)))
        else:
            edit = Edit(at, at, "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 5))))
        before = self.doc.get_state()
        apply(self.text, live, [edit])
        self.outbox.append(self.doc.get_update(before))


async def _scenario(collab: Collaboration, steps: list[tuple[str, int, int]]) -> None:
    author = PydanticObjectId()
    note = Note(workspace_id=PydanticObjectId(), author_id=author, title="p", content="seed\n")
    await note.insert()
    assert note.id is not None
    note_id, actor = str(note.id), str(author)
    clients = [Client(n) for n in range(CLIENTS)]
    first = await load(collab.log, note.id)
    for client in clients:
        client.doc.apply_update(first.update)
    appended: list[bytes] = [first.update]

    async def open_room() -> Room:
        return Room(note_id, "", await load(collab.log, note.id), collab.log, Limits(10**9), id)

    async def read(room: Room) -> None:
        """What the reader does: catch up from the persisted state, then read the log."""
        state = await CollabState.get(note.id)
        assert state is not None
        room.absorb(state.state, state.log_id)
        room.apply_entries(await collab.log.after(note_id, room.last_id))

    async def send(client: Client) -> None:
        if client.outbox:
            await collab.log.append(note_id, client.origin, [(actor, u) for u in client.outbox])
            appended.extend(client.outbox)
            client.outbox.clear()

    room = await open_room()
    for kind, who, seed in steps:
        client = clients[who]
        if kind == "edit":
            client.edit(seed)
        elif kind == "send":
            await send(client)
        elif kind == "pull":
            client.doc.apply_update((await load(collab.log, note.id)).update)
        elif kind == "read":
            await read(room)
        elif kind == "compact":
            await collab.compact(note_id)
        else:
            room = await open_room()
    for client in clients:
        await send(client)
    expected = str(text_of(build(b"\x00\x00", appended)))
    await read(room)
    assert str(room.text) == expected
    assert (await load(collab.log, note.id)).text == expected
    await collab.compact(note_id)
    state = await CollabState.get(note.id)
    assert state is not None
    assert str(text_of(build(state.state))) == expected
    stored = await Note.get(note.id)
    assert stored is not None
    assert stored.content == expected
    for client in clients:
        client.doc.apply_update((await load(collab.log, note.id)).update)
        assert str(client.text) == expected


async def test_any_interleaving_gives_the_document_of_all_updates(collab: Collaboration) -> None:
    loop = asyncio.get_running_loop()

    def run(work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, loop).result(60)

    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(steps=STEPS)
    def check(steps: list[tuple[str, int, int]]) -> None:
        run(_scenario(collab, steps))

    await asyncio.to_thread(check)
