"""Index hints follow ``NOTES_BFF_MONGODB_INDEX_HINTS``: by default sent to real MongoDB and
not to SecantusDB, which does about twice the work for a hinted page (docs/indexes.md)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from tests.conftest import Api, ReadLog

PAGE = "query($id: ID!) { workspace(id: $id) { notes(first: 5) { nodes { title } } } }"


async def _note_page_reads(
    api: Api, other_app: Callable[..., AbstractAsyncContextManager[Api]], setting: str
) -> list[dict[str, Any]]:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    await api.note(owner, ws, title="one")
    log = ReadLog()
    async with other_app(mongo_listeners=[log], mongodb_index_hints=setting) as other:
        await other.ok(PAGE, {"id": ws}, token=owner["token"])
    return log.of("notes")


@pytest.mark.parametrize(("setting", "sent"), [("auto", None), ("off", None), ("on", "ws_created")])
async def test_a_note_page_names_its_index_as_set(
    api: Api,
    other_app: Callable[..., AbstractAsyncContextManager[Api]],
    setting: str,
    sent: str | None,
) -> None:
    reads = await _note_page_reads(api, other_app, setting)
    assert [r.get("hint") for r in reads] == [sent]  # auto: the embedded server is SecantusDB
