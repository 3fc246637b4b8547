"""The side-by-side benchmark's workloads: each a stream of GraphQL requests, sent as full
text or as an APQ hash (the document registered once beforehand)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.apq import DASHBOARD
from bench.harness import Request
from notes_bff.persisted.store import sha256_hex

PAGE = (
    "query WorkspacePage($id: ID!, $first: Int) { workspace(id: $id) { "
    "members { role user { id name } } "
    "notes(first: $first) { nodes { id title tags priority dueDate isPinned "
    "author { id name } assignees { id name } } } } }"
)
RENAME = (
    "mutation Rename($id: ID!, $title: String!) "
    "{ updateNote(id: $id, input: {title: $title}) { id title } }"
)
DOCUMENTS = (PAGE, DASHBOARD, RENAME)
TEXTS = {sha256_hex(document): document for document in DOCUMENTS}
MODES = ("text", "apq")


@dataclass(frozen=True)
class Target:
    """The seeded data a workload reads and writes: a workspace the viewer owns, its notes."""

    workspace_id: str
    note_ids: list[str]


def payload(mode: str, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """A request body: the document's text, or only its APQ hash."""
    if mode == "text":
        return {"query": document, "variables": variables}
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}}
    return {"extensions": extensions, "variables": variables}


def registration(document: str) -> dict[str, Any]:
    """The APQ request that registers ``document`` (text and hash together)."""
    return {"query": document, **payload("apq", document, {})}


def apq_retry(sent: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any] | None:
    """What an APQ client sends after ``PersistedQueryNotFound`` (another worker, or a
    restarted one, without the hash): the same request with the document's text."""
    if answer["errors"][0].get("message") != "PersistedQueryNotFound" or "query" in sent:
        return None
    return {"query": TEXTS[sent["extensions"]["persistedQuery"]["sha256Hash"]], **sent}


@dataclass(frozen=True)
class Workload:
    """A named stream of requests: ``request(target, mode, number)``."""

    name: str
    documents: tuple[str, ...]
    make: Callable[[Target, int], tuple[str, dict[str, Any]]]

    def request(self, target: Target, mode: str, number: int) -> Request:
        """The ``number``-th request in ``mode``."""
        document, variables = self.make(target, number)
        return "POST", payload(mode, document, variables)


def _page(first: int) -> Callable[[Target, int], tuple[str, dict[str, Any]]]:
    return lambda target, _: (PAGE, {"id": target.workspace_id, "first": first})


def _mix(target: Target, number: int) -> tuple[str, dict[str, Any]]:
    """Nine pages of 20 notes, then one rename of a note on that page (90 % / 10 %)."""
    if number % 10 != 9:
        return _page(20)(target, number)
    note = target.note_ids[number // 10 % len(target.note_ids)]
    return RENAME, {"id": note, "title": f"Renamed by the benchmark ({number})"}


WORKLOADS = {
    w.name: w
    for w in (
        Workload("workspace page, 20 notes", (PAGE,), _page(20)),
        Workload("workspace page, 50 notes", (PAGE,), _page(50)),
        Workload("dashboard home", (DASHBOARD,), lambda _t, _n: (DASHBOARD, {})),
        Workload("90 % read / 10 % write", (PAGE, RENAME), _mix),
    )
}
