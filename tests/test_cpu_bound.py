"""CPU-bound work never holds the event loop: pathological Markdown, and /healthz meanwhile."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from notes_bff.keys import SETTINGS
from notes_bff.markdown import render, renderer_for, unrendered
from tests.conftest import Api
from tests.loop_lag import LoopLag

PAGE = (
    "query($w: ID!) { notes(workspaceId: $w, first: 20, sort: CREATED_AT_ASC) "
    "{ nodes { content contentHtml excerpt short: excerpt(length: 20) } } }"
)


async def _health_answers(api: Api, done: asyncio.Event) -> int:
    answers = 0
    while not done.is_set():
        async with api.client.get("/healthz") as resp:
            assert resp.status == 200
        answers += 1
    return answers


async def test_a_page_of_pathological_notes_keeps_health_answering(
    other_app: Callable[..., AbstractAsyncContextManager[Api]],
) -> None:
    # Each note takes over a second of CPU to render (bench/cpu_bound.py); on the loop the
    # page held the worker for several seconds, past the operation deadline.
    async with other_app(markdown_timeout_seconds=0.5) as api:
        owner = await api.sign_up()
        ws = await api.workspace(owner)
        contents = [f"note {i} {secrets.token_hex(4)} " + "![" * 49_990 for i in range(6)]
        for content in contents:
            await api.note(owner, ws, content=content)
        done = asyncio.Event()
        async with LoopLag() as lag:
            health = asyncio.create_task(_health_answers(api, done))
            reply = await api.gql(PAGE, {"w": ws}, token=owner["token"])
            done.set()
            answers = await health
    assert not reply.errors, reply.errors
    nodes = reply.data["notes"]["nodes"]
    assert [n["content"] for n in nodes] == contents
    for node in nodes:
        # Each note either rendered in time or answers its escaped source in <pre>.
        fallback = unrendered(node["content"])
        if node["contentHtml"] == fallback.html:
            assert node["excerpt"] == fallback.excerpt(160)
            assert node["short"] == fallback.excerpt(20)
        else:
            assert node["contentHtml"] == render(node["content"]).html
    # Counted, not timed: on the loop, the page let /healthz answer twice (bench/cpu_bound.py);
    # off it, the loop keeps turning and health keeps answering the whole time.
    assert answers >= 10, answers
    assert lag.ticks >= 20, lag.ticks


async def test_a_list_renders_each_distinct_content_once(api: Api) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    token = secrets.token_hex(4)
    first = f"## Plan {token}\n\n- **ship** [docs](https://example.com)\n- <b>bold</b>"
    second = f"*Another* {token} [x](javascript:alert(1))"
    for content in [first] * 3 + [second] * 2:
        await api.note(owner, ws, content=content)
    renderer = renderer_for(api.client.app[SETTINGS])
    renders, hits = renderer.renders, renderer.hits
    replies: list[Any] = []
    # The same page twice, in two spellings: the second is not a response-cache hit.
    for query in (PAGE, PAGE + "\n# again\n"):
        replies.append(await api.ok(query, {"w": ws}, token=owner["token"]))
    # 5 notes, 3 fields each, twice: two renders, then the second request from the cache.
    assert renderer.renders == renders + 2
    assert renderer.hits == hits + 15
    assert replies[0] == replies[1]
    by_content = {n["content"]: n for n in replies[0]["notes"]["nodes"]}
    assert by_content[first]["contentHtml"] == (
        f"<h2>Plan {token}</h2>\n<ul>\n<li><strong>ship</strong> "
        '<a href="https://example.com" rel="noopener noreferrer nofollow">docs</a></li>\n'
        "<li>&lt;b&gt;bold&lt;/b&gt;</li>\n</ul>\n"
    )
    assert by_content[first]["short"] == f"Plan {token} ship…"
    assert by_content[second]["contentHtml"] == (
        f"<p><em>Another</em> {token} [x](javascript:alert(1))</p>\n"
    )
