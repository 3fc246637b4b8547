"""The dashboard across the viewer's workspaces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import Api


def _at(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def test_dashboard_sections_and_stats(api: Api) -> None:
    me, mate, stranger = (
        await api.sign_up("Me"),
        await api.sign_up("Mate"),
        await api.sign_up("Stranger"),
    )
    ws1, ws2 = await api.workspace(me, "One"), await api.workspace(mate, "Two")
    await api.add(mate, ws2, me, "VIEWER")
    elsewhere = await api.workspace(stranger, "Theirs")
    await api.note(stranger, elsewhere, title="invisible", isPinned=True, dueDate=_at(1))
    await api.note(me, ws1, title="overdue", dueDate=_at(-2), tags=["x"], priority="URGENT")
    await api.note(mate, ws2, title="soon", dueDate=_at(2), assigneeIds=[me["id"]], tags=["x", "y"])
    await api.note(me, ws1, title="later", dueDate=_at(20), isPinned=True, priority="LOW")
    await api.note(me, ws1, title="undated", assigneeIds=[me["id"]])
    archived = await api.note(me, ws1, title="archived", isPinned=True, dueDate=_at(-1))
    await api.ok(
        "mutation($n: ID!) { updateNote(id: $n, input: {isArchived: true}) { id } }",
        {"n": archived["id"]},
        token=me["token"],
    )
    data = (await api.ok(
        "{ dashboard { pinned { title } dueSoon(days: 7) { title } overdue { title } recent(first: 2) { title } "
        "assignedToMe { title } stats { totalNotes pinnedNotes overdueNotes dueThisWeek "
        "byPriority { priority count } byWorkspace { workspace { name } count } topTags(first: 1) { tag count } } } }",
        token=me["token"],
    ))["dashboard"]  # fmt: skip
    assert [n["title"] for n in data["pinned"]] == ["later"]
    assert [n["title"] for n in data["dueSoon"]] == ["soon"]
    assert [n["title"] for n in data["overdue"]] == ["overdue"]
    assert [n["title"] for n in data["recent"]] == ["undated", "later"]
    assert [n["title"] for n in data["assignedToMe"]] == ["soon", "undated"]
    stats = data["stats"]
    assert (
        stats["totalNotes"],
        stats["pinnedNotes"],
        stats["overdueNotes"],
        stats["dueThisWeek"],
    ) == (4, 1, 1, 1)
    assert stats["byPriority"] == [
        {"priority": "URGENT", "count": 1}, {"priority": "HIGH", "count": 0},
        {"priority": "MEDIUM", "count": 2}, {"priority": "LOW", "count": 1},
    ]  # fmt: skip
    assert stats["byWorkspace"] == [
        {"workspace": {"name": "One"}, "count": 3},
        {"workspace": {"name": "Two"}, "count": 1},
    ]
    assert stats["topTags"] == [{"tag": "x", "count": 2}]
    bad = await api.gql("{ dashboard { dueSoon(days: 0) { id } } }", token=me["token"])
    assert bad.codes == ["BAD_USER_INPUT"] and bad.errors[0]["extensions"]["field"] == "days"


async def test_empty_dashboard(api: Api) -> None:
    loner = await api.sign_up()
    data = await api.ok(
        "{ dashboard { recent { id } stats { totalNotes byPriority { count } topTags { tag } } } }",
        token=loner["token"],
    )
    zeros = [{"count": 0}] * 4
    assert data == {
        "dashboard": {"recent": [], "stats": {"totalNotes": 0, "byPriority": zeros, "topTags": []}}
    }
