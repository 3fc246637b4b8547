"""Keyset pagination: stable under concurrent inserts and deletes, for every sort order."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.conftest import Api, CommandCounter

PAGE = (
    "query($w: ID!, $s: NoteSort, $f: Int, $a: String) { notes(workspaceId: $w, sort: $s, first: $f, after: $a) "
    "{ edges { cursor node { id title } } pageInfo { hasNextPage endCursor } } }"
)
SORTS = ["CREATED_AT_DESC", "CREATED_AT_ASC", "UPDATED_AT_DESC", "DUE_DATE_ASC", "PRIORITY_DESC"]
PRIORITIES = ["LOW", "MEDIUM", "HIGH", "URGENT"]


@pytest.mark.parametrize("sort", SORTS)
async def test_no_duplicates_and_no_gaps_under_concurrent_writes(api: Api, sort: str) -> None:
    rng = random.Random(sort)
    owner = await api.sign_up()
    ws = await api.workspace(owner)

    async def make(title: str) -> str:
        due = (
            f"2031-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T00:00:00Z"
            if rng.random() < 0.6
            else None
        )
        note = await api.note(owner, ws, title=title, priority=rng.choice(PRIORITIES), dueDate=due)
        return str(note["id"])

    originals = [await make(f"orig{i}") for i in range(23)]
    seen: list[str] = []
    deleted: set[str] = set()
    deleted_unseen: set[str] = set()
    after = None
    while True:
        data = await api.ok(PAGE, {"w": ws, "s": sort, "f": 5, "a": after}, token=owner["token"])
        page = data["notes"]
        seen += [e["node"]["id"] for e in page["edges"]]
        assert page["pageInfo"]["endCursor"] == (
            page["edges"][-1]["cursor"] if page["edges"] else None
        )
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        # Between pages: others insert notes and delete one seen and one unseen note.
        await make("inserted")
        unseen = [i for i in originals if i not in seen and i not in deleted]
        for victim in [rng.choice(seen), *(rng.sample(unseen, 1) if len(unseen) > 3 else [])]:
            if victim not in deleted:
                if victim not in seen:
                    deleted_unseen.add(victim)
                await api.ok(
                    "mutation($n: ID!) { deleteNote(id: $n) }", {"n": victim}, token=owner["token"]
                )
                deleted.add(victim)
    assert len(seen) == len(set(seen)), "a note was returned twice"
    survivors = set(originals) - deleted
    assert survivors <= set(seen), "a note that existed throughout was skipped"
    assert deleted_unseen and not deleted_unseen & set(seen), (
        "a note deleted before its page appeared"
    )


async def test_sort_orders_are_correct(api: Api) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    specs = [
        ("LOW", None),
        ("URGENT", "2030-01-01T00:00:00Z"),
        ("HIGH", "2029-01-01T00:00:00Z"),
        ("URGENT", None),
    ]
    ids = [
        (await api.note(owner, ws, title=f"n{i}", priority=p, dueDate=d))["id"]
        for i, (p, d) in enumerate(specs)
    ]
    query = "query($w: ID!, $s: NoteSort) { notes(workspaceId: $w, sort: $s) { nodes { id } } }"

    async def order(sort: str) -> list[str]:
        data = await api.ok(query, {"w": ws, "s": sort}, token=owner["token"])
        return [n["id"] for n in data["notes"]["nodes"]]

    assert await order("CREATED_AT_ASC") == ids
    assert await order("CREATED_AT_DESC") == ids[::-1]
    assert await order("DUE_DATE_ASC") == [ids[2], ids[1], ids[0], ids[3]]  # undated last, by id
    assert await order("PRIORITY_DESC") == [
        ids[3],
        ids[1],
        ids[2],
        ids[0],
    ]  # newest first within a priority
    await api.ok(
        'mutation($n: ID!) { updateNote(id: $n, input: {title: "touched"}) { id } }',
        {"n": ids[0]},
        token=owner["token"],
    )
    assert (await order("UPDATED_AT_DESC"))[0] == ids[0]


async def test_bad_page_arguments(api: Api) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    await api.note(owner, ws)
    for first in (0, 101, -1):
        reply = await api.gql(PAGE, {"w": ws, "f": first}, token=owner["token"])
        assert (
            reply.codes == ["BAD_USER_INPUT"] and reply.errors[0]["extensions"]["field"] == "first"
        )
    cursor = (await api.ok(PAGE, {"w": ws, "f": 1}, token=owner["token"]))["notes"]["edges"][0][
        "cursor"
    ]
    for after, sort in (
        ("garbage!!", "CREATED_AT_DESC"),
        (cursor, "DUE_DATE_ASC"),
        ("W10", "CREATED_AT_DESC"),
    ):
        reply = await api.gql(PAGE, {"w": ws, "a": after, "s": sort}, token=owner["token"])
        assert (
            reply.codes == ["BAD_USER_INPUT"] and reply.errors[0]["extensions"]["field"] == "after"
        )


async def test_total_count_is_computed_only_when_asked(
    api: Api, command_counter: CommandCounter
) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    for _ in range(3):
        await api.note(owner, ws)
    variables: dict[str, Any] = {"w": ws}
    command_counter.reset()
    await api.ok(
        "query($w: ID!) { notes(workspaceId: $w) { nodes { id } } }",
        variables,
        token=owner["token"],
    )
    without = command_counter.data_commands()
    command_counter.reset()
    data = await api.ok(
        "query($w: ID!) { notes(workspaceId: $w) { nodes { id } totalCount } }",
        variables,
        token=owner["token"],
    )
    with_count = command_counter.data_commands()
    assert data["notes"]["totalCount"] == 3
    assert "aggregate" not in without
    assert len(with_count) == len(without) + 1 and with_count.count("aggregate") == 1
