"""Documents sent as text are parsed and validated once per process, like persisted ones."""

from __future__ import annotations

import uuid

from notes_bff.keys import DOCUMENTS
from tests.conftest import Api


async def test_a_text_document_is_parsed_and_validated_once(api: Api) -> None:
    user = await api.sign_up()
    store = api.client.server.app[DOCUMENTS]
    query = f"query Once {{ me {{ id }} }} # {uuid.uuid4().hex}"
    assert (await api.ok(query, token=user["token"]))["me"]["id"] == user["id"]
    entry = store.text(query)
    assert entry.validated and entry.document is not None
    parsed = entry.document
    assert (await api.ok(query, token=user["token"]))["me"]["id"] == user["id"]
    assert store.text(query).document is parsed  # the same tree, not parsed again


async def test_an_invalid_text_document_is_refused_every_time(api: Api) -> None:
    query = f"query Broken {{ me {{ nope }} }} # {uuid.uuid4().hex}"
    for _ in range(2):
        assert (await api.gql(query)).codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert not api.client.server.app[DOCUMENTS].text(query).validated
