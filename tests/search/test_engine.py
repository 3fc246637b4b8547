"""The embedded engine on the labelled corpus: relevance, typos, prefixes, filters, ranking
signals, authorization inside the query, highlights and hostile input. No servers needed."""

from __future__ import annotations

import statistics
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notes_bff.errors import BadInput
from notes_bff.search.backend import Changes, Filters, SearchRequest
from notes_bff.search.engine import TantivyBackend
from notes_bff.search.highlight import highlight
from notes_bff.search.query import MAX_QUERY_CHARS, parse
from tests.search.corpus import (
    DATA,
    MEMBER_OF,
    NOTES,
    NOW,
    PRIVATE,
    QUERIES,
    build,
    fields,
    ndcg,
    ranked,
)

# Measured 0.991 on the 59 labelled queries (docs/search.md); a drop below this fails.
NDCG_AT_10 = 0.95


@pytest.fixture(scope="module")
async def corpus(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TantivyBackend]:
    backend = await build(tmp_path_factory.mktemp("corpus") / "v1")
    yield backend
    await backend.close()


async def test_ndcg_over_the_labelled_queries(corpus: TantivyBackend) -> None:
    graded = [q for q in QUERIES if q.relevant]
    scores = {q.query: ndcg(await ranked(corpus, q.query), q.relevant) for q in graded}
    mean = statistics.mean(scores.values())
    print(f"nDCG@10 = {mean:.3f} over {len(scores)} queries")
    assert mean >= NDCG_AT_10, sorted(scores.items(), key=lambda kv: kv[1])[:5]


@pytest.mark.parametrize("kind", ["typo", "prefix", "phrase", "exclusion"])
async def test_relevant_notes_come_first(corpus: TantivyBackend, kind: str) -> None:
    for labelled in (q for q in QUERIES if q.kind == kind):
        top = await ranked(corpus, labelled.query, limit=3)
        assert top and top[0] in labelled.relevant, (labelled.query, top)
        assert any(labelled.relevant.get(key) == 2 for key in top), (labelled.query, top)


async def test_negative_queries_find_nothing(corpus: TantivyBackend) -> None:
    for labelled in (q for q in QUERIES if q.kind == "negative"):
        assert await ranked(corpus, labelled.query, limit=50) == [], labelled.query


async def test_typos_and_prefixes(corpus: TantivyBackend) -> None:
    assert "weekly-sync" in await ranked(corpus, "meetng")  # a missing letter
    assert "security-audit" in await ranked(corpus, "secuirty")  # a transposition
    assert set((await ranked(corpus, "onbo"))[:2]) == {"new-hire", "onboarding-flow"}
    assert await ranked(corpus, "onbo ") == []  # a finished word is not a prefix
    assert await ranked(corpus, "q") == []  # one letter is no prefix


async def test_private_notes_never_match_outside_their_workspace(corpus: TantivyBackend) -> None:
    private = [n for n in NOTES if n.workspace_id == PRIVATE]
    words = {w for n in private for w in (n.title + " " + n.content).split()}
    for text in sorted(words) + [q.query for q in QUERIES]:
        hits = await ranked(corpus, text.strip(".,:"), limit=100) if text.strip(".,:") else []
        assert not any(key.startswith("private-") for key in hits), text
    assert await ranked(corpus, "salary", workspace_ids=[PRIVATE]) == ["private-salary"]
    assert await ranked(corpus, "salary", workspace_ids=[]) == []


async def test_ranking_signals(corpus: TantivyBackend) -> None:
    assert (await ranked(corpus, "vacation requests"))[:2] == ["twin-pinned", "twin-plain"]
    assert (await ranked(corpus, "parking spots"))[:2] == ["twin-recent", "twin-stale"]
    assert (await ranked(corpus, "insurance broker"))[:2] == ["twin-due", "twin-undated"]
    # Title over body: the note named after the word comes first.
    assert (await ranked(corpus, "grafana"))[0] == "grafana"


async def test_filters_combine_with_words_and_phrases(corpus: TantivyBackend) -> None:
    assert await ranked(corpus, "release", filters=Filters(tags=("docs",))) == ["changelog-24"]
    assert await ranked(corpus, '"dark mode"', filters=Filters(tags=("experiment",))) == [
        "dark-mode-flag"
    ]
    assert await ranked(corpus, "insurance", filters=Filters(due_after=NOW)) == ["twin-due"]
    assert await ranked(corpus, "insurance", filters=Filters(due_before=NOW)) == []
    assert await ranked(corpus, "vacation", filters=Filters(is_pinned=True)) == ["twin-pinned"]
    assert await ranked(corpus, "vacation", filters=Filters(priority_ranks=(3,))) == []
    assert await ranked(corpus, "vacation", filters=Filters(author_id="0" * 24)) == []


async def test_pages_are_exact_slices_of_the_ranking(corpus: TantivyBackend) -> None:
    query = parse("query", "notes team")
    every = await corpus.search(
        SearchRequest(query, viewer_id=None, workspace_ids=MEMBER_OF, limit=200, now=NOW)
    )
    assert every.total > 40
    paged = []
    for offset in range(0, every.total, 7):
        page = await corpus.search(
            SearchRequest(
                query, viewer_id=None, workspace_ids=MEMBER_OF, offset=offset, limit=7, now=NOW
            )
        )
        assert page.total == every.total
        paged += page.hits
    assert [h.note_id for h in paged] == [h.note_id for h in every.hits]


async def test_changes_are_atomic_with_their_checkpoint(tmp_path: Path) -> None:
    backend = await build(tmp_path / "v1")
    try:
        twin = fields(len(NOTES), {**DATA["notes"][0], "title": "Zanzibar retreat"})
        await backend.apply(Changes(upserts=[twin], checkpoints={twin.workspace_id: "5-0"}))
        request = SearchRequest(
            parse("q", "zanzibar"), viewer_id=None, workspace_ids=MEMBER_OF, now=NOW
        )
        assert [h.note_id for h in (await backend.search(request)).hits] == [twin.id]
        assert (await backend.checkpoints([twin.workspace_id])) == {twin.workspace_id: "5-0"}
        await backend.apply(Changes(dropped_workspaces=[twin.workspace_id]))
        assert (await backend.search(request)).hits == []
        assert await backend.checkpoints([twin.workspace_id]) == {}
    finally:
        await backend.close()


def test_highlights_are_utf16_offsets_of_words_and_phrases() -> None:
    text = "😀 Weekly meeting notes: meetings, weekly plans"
    assert highlight(parse("q", "meetng"), text) == [(10, 17), (25, 33)]
    assert text.encode("utf-16-le")[20:34].decode("utf-16-le") == "meeting"
    assert highlight(parse("q", '"weekly meeting"'), text) == [(3, 17)]
    assert highlight(parse("q", "plan"), text) == [(42, 47)]
    assert highlight(parse("q", "the weekly"), "the weekly") == [(4, 10)]  # stop words: no


@pytest.mark.parametrize(
    "text",
    [
        'title:secret workspace_id:"x"',
        "salary OR kubernetes",
        "kind:checkpoint",
        "*",
        "[* TO *]",
        "a AND NOT b",
        "\\",
        '"',
        '""',
        "-",
        "--",
        "(((",
        "^2 ~1 +foo",
        "\u0000\u202e",
        "\uff53\uff41\uff4c\uff41\uff52\uff59",  # full-width "salary"
    ],
)
async def test_query_syntax_is_just_text(corpus: TantivyBackend, text: str) -> None:
    hits = await ranked(corpus, text, limit=100)
    assert not any(key.startswith("private-") for key in hits)


def test_query_bounds() -> None:
    with pytest.raises(BadInput):
        parse("query", "x" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(BadInput):
        parse("query", "x" * 10_000_000)
    with pytest.raises(BadInput):
        parse("query", " ".join(["word"] * 40))
    assert parse("query", "   ").is_empty


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=300))
async def test_any_input_is_refused_or_searched(corpus: TantivyBackend, text: str) -> None:
    try:
        query = parse("query", text)
    except BadInput:
        return
    request = SearchRequest(query, viewer_id=None, workspace_ids=MEMBER_OF, now=NOW)
    results = await corpus.search(request)
    assert all(h.workspace_id in MEMBER_OF for h in results.hits)
    for note in NOTES[:3]:
        for start, end in highlight(query, note.content):
            assert 0 <= start < end <= len(note.content.encode("utf-16-le")) // 2


async def test_due_dates_are_compared_to_the_millisecond(corpus: TantivyBackend) -> None:
    due = next(n for n in NOTES if n.due_date is not None).due_date
    assert due is not None
    exact = Filters(due_before=due, due_after=due - timedelta(milliseconds=1))
    assert await ranked(corpus, "insurance", filters=exact) == []
    around = Filters(due_before=due + timedelta(milliseconds=1))
    assert await ranked(corpus, "insurance", filters=around) == ["twin-due"]
