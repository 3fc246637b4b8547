"""Real JavaScript clients, current versions, against ``notes-bff serve --workers 2``.

Apollo Client 4 (cookies, the CSRF header, CORS, normalized cache, pagination, optimistic
updates, refresh), urql (bearer tokens, document cache, authExchange), graphql-ws (reconnect
and resume with ``after``, 4403, ``FORBIDDEN``) and graphql-codegen's client preset with
trusted documents. The scripts are in tests/js; the client code they run is the code
docs/frontend.md shows, which the last test checks.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from notes_bff.embedded import EmbeddedProcess
from tests.serve import ServeProcess, serving

APP_ORIGIN = "http://localhost:5173"
# Short-lived access tokens, so that refreshes and 4403 closes happen within the tests.
ACCESS_TTL_S = 6
DOCS = Path(__file__).parent.parent / "docs" / "frontend.md"


@pytest.fixture(scope="module")
def server(
    servers: dict[str, EmbeddedProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    with serving(
        servers,
        tmp_path_factory.mktemp("js-clients"),
        "--workers",
        "2",
        NOTES_BFF_ACCESS_TOKEN_TTL_SECONDS=str(ACCESS_TTL_S),
        NOTES_BFF_CORS_ORIGINS=APP_ORIGIN,
    ) as running:
        yield running


def _run(js_dir: Path, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, cwd=js_dir, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{argv}: {result.stdout}{result.stderr}"
    return result


def _node(js_dir: Path, *args: str) -> Any:
    """Run a tests/js script; its JSON report."""
    return json.loads(_run(js_dir, "node", *args).stdout.strip().splitlines()[-1])


def test_apollo_client(js_dir: Path, server: ServeProcess) -> None:
    report = _node(js_dir, "apollo.mjs", server.url, APP_ORIGIN)
    user = report["user"]
    assert report["me"] == user and user["name"] == "Apollo User"
    assert sorted(report["cookies"]) == ["nb_access;/;lax;true", "nb_refresh;/graphql;strict;true"]
    stats = report["dashboard"]["stats"]
    assert stats["totalNotes"] == 7
    assert {p["priority"]: p["count"] for p in stats["byPriority"]} == {
        "URGENT": 0, "HIGH": 2, "MEDIUM": 0, "LOW": 5,
    }  # fmt: skip
    assert [n["title"] for n in report["dashboard"]["recent"]] == ["Note 7", "Note 6", "Note 5"]

    # Three pages over NoteConnection cursors, merged into one list.
    pagination = report["pagination"]
    assert pagination["titles"] == [f"Note {i}" for i in range(1, 8)]
    assert pagination["pageSizes"] == [3, 3, 1] and pagination["requests"] == 3
    assert pagination["distinctCursors"] == 7

    # The optimistic title at once, the server's (whitespace collapsed) after; a conflicting
    # update is shown, refused with CONFLICT, and rolled back.
    optimistic = report["optimistic"]
    assert optimistic["shown"]["title"] == optimistic["listShown"] == "  Renamed   by Apollo "
    assert optimistic["confirmed"] == {
        "__typename": "Note",
        "title": "Renamed by Apollo",
        "version": 2,
    }
    assert optimistic["listConfirmed"] == "Renamed by Apollo"
    assert optimistic["staleShown"] == "Stale rename" and optimistic["staleError"] == ["CONFLICT"]
    assert optimistic["afterRollback"] == optimistic["confirmed"]

    # The expired cookie is gone; the error link refreshed once and retried.
    assert report["expiredCookieDropped"] is True
    assert report["refreshLog"] == ["Dashboard:UNAUTHENTICATED", "RefreshSession:", "Dashboard:"]
    assert report["afterExpiry"]["dashboard"]["stats"]["totalNotes"] == 7
    assert report["newAccessToken"] is True

    # Normalized by id and __typename alone (InMemoryCache has no configuration).
    normalized = report["normalized"]
    note_ids = {f"Note:{n['id']}" for n in report["dashboard"]["recent"]}
    assert note_ids <= set(normalized["entities"])
    assert sorted(k.split(":")[0] for k in normalized["entities"]) == ["Note"] * 7 + [
        "User",
        "Workspace",
    ]
    assert normalized["me"] == {"__ref": f"User:{user['id']}"}
    assert normalized["recentWorkspace"] == {"__ref": f"Workspace:{report['workspace']['id']}"}
    assert report["warnings"] == []

    assert report["csrf"] == {"withoutHeader": [403, "FORBIDDEN"], "withHeader": [200, user["id"]]}
    cors = report["cors"]
    assert cors["preflight"]["status"] == 204
    assert (
        cors["preflight"]["allowOrigin"] == APP_ORIGIN
        and cors["preflight"]["allowCredentials"] == "true"
    )
    assert "Apollo-Require-Preflight" in cors["preflight"]["allowHeaders"]
    assert cors["otherOrigin"]["allowOrigin"] is None
    assert cors["everyResponse"] == [f"{APP_ORIGIN} true"]
    assert cors["exposed"] == [
        "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, "
        "X-Request-Id, Idempotent-Replayed, ETag, X-Cache, X-Notes-Consistency"
    ]
    # Every answer tells the budget it spent from: the client IP's before signing in, the
    # user's after.
    budgets = {op: (limit, remaining) for op, limit, remaining, _ in report["rateLimits"]}
    assert budgets["SignUp"][0] == 20_000 and budgets["Me"][0] == 200_000
    assert all(
        0 < remaining < limit and reset > 1e9 for _, limit, remaining, reset in report["rateLimits"]
    )


def test_urql(js_dir: Path, server: ServeProcess) -> None:
    report = _node(js_dir, "urql.mjs", server.url)
    live = report["liveQuery"]
    # The document cache ran the query again when CreateNote returned a Note.
    assert live["shown"][:2] == [["First", "Second"], ["First", "Second", "Third"]]
    assert len(live["requests"]) >= 2 and set(live["requests"]) == {"GET"}
    assert report["event"]["kind"] == "CREATED" and report["event"]["note"]["title"].startswith(
        "Live "
    )
    assert report["event"]["actor"] == {"name": "Urql User"}
    assert report["refreshLog"] == ["Me:UNAUTHENTICATED", "RefreshSession:", "Me:"]
    assert report["meAfterExpiry"]["id"] == report["user"]["id"]
    assert report["refreshes"] == 1 and report["tokenRotated"] is True
    assert report["signedOut"] is False


def test_graphql_ws_reconnects_and_resumes(js_dir: Path, server: ServeProcess) -> None:
    report = _node(js_dir, "live.mjs", server.url)
    # Every note once, in order: n4-n6 were created while the socket was down, n8 while the
    # member refreshed after 4403; all arrived through `after`.
    assert report["titles"] == [f"prime {report['primed']}", *(f"n{i}" for i in range(1, 10))]
    ids = [tuple(map(int, i.split("-"))) for i in report["eventIds"]]
    assert ids == sorted(set(ids))
    assert report["kinds"] == ["CREATED"]
    assert report["closes"][:2] == [1006, 4403]
    assert report["waits"] == [0] and report["refreshes"] == 1
    assert report["connections"] == 3
    assert report["outcome"] == {"reason": "FORBIDDEN"}
    # The owner's follower, through its own 4403, until its AbortSignal stopped it.
    owner = report["owner"]
    assert owner["titles"][owner["titles"].index("n1") :] == [f"n{i}" for i in range(1, 10)]
    assert len(owner["titles"]) == len(set(owner["titles"]))
    assert owner["outcome"] == {"reason": "STOPPED"}


def test_codegen_trusted_documents(
    js_dir: Path, servers: dict[str, EmbeddedProcess], tmp_path: Path
) -> None:
    bin_dir = js_dir / "node_modules" / ".bin"
    _run(js_dir, str(bin_dir / "graphql-codegen"), "--config", "codegen.ts")
    documents = json.loads((js_dir / "gql" / "persisted-documents.json").read_text())
    assert len(documents) == 6 and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in documents)
    # The generated types are real: the @ts-expect-error lines of trusted.ts must all fail.
    _run(js_dir, str(bin_dir / "tsc"), "--noEmit", "-p", "tsconfig.json")

    with serving(
        servers, tmp_path, "--workers", "2", NOTES_BFF_PERSISTED_QUERIES="trusted"
    ) as trusted:
        push = subprocess.run(
            [
                sys.executable,
                "-m",
                "notes_bff",
                "persisted-queries",
                "push",
                "gql/persisted-documents.json",
            ],
            cwd=js_dir,
            env=trusted.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert push.returncode == 0, push.stderr
        assert "registered 6 operations" in push.stderr
        _run(js_dir, str(bin_dir / "tsc"), "-p", "tsconfig.json", "--noEmit", "false")
        report = _node(js_dir, "build/trusted.js", trusted.url)

    assert report["me"]["id"] == report["user"]["id"] and report["me"]["name"] == "Typed User"
    stats = report["dashboard"]["stats"]
    assert stats["totalNotes"] == 3
    assert {p["priority"]: p["count"] for p in stats["byPriority"]} == {
        "URGENT": 1, "HIGH": 1, "MEDIUM": 0, "LOW": 1,
    }  # fmt: skip
    assert [n["title"] for n in report["notes"]] == ["Typed 1", "Typed 2", "Typed 3"]
    assert all(n["__typename"] == "Note" and n["tags"] == ["typed"] for n in report["notes"])
    assert report["refused"] == {
        "unregisteredText": [400, "PERSISTED_QUERY_REQUIRED", None],
        "introspection": [400, "PERSISTED_QUERY_REQUIRED", None],
        "unknownHash": "PERSISTED_QUERY_NOT_FOUND",
    }
    status, code, data = report["registeredText"]
    assert (status, code) == (200, None) and data["me"]["id"] == report["user"]["id"]


def _regions(path: Path) -> dict[str, str]:
    """The ``#region NAME`` … ``#endregion NAME`` blocks of a source file."""
    found = re.findall(
        r"^// #region ([\w-]+)\n(.*?)^// #endregion \1$", path.read_text(), re.M | re.S
    )
    return {name: body.rstrip("\n") for name, body in found}


def test_docs_snippets_are_the_tested_code(js_dir: Path) -> None:
    """Every code block of docs/frontend.md marked ``<!-- tests/js/FILE#REGION -->`` is that
    region verbatim, and every region of the client files is shown."""
    shown = re.findall(
        r"<!-- (tests/js/[\w./-]+)#([\w-]+) -->\n```\w+\n(.*?)\n```", DOCS.read_text(), re.S
    )
    root = js_dir.parent.parent
    for file, region, code in shown:
        assert _regions(root / file)[region] == code, f"{file}#{region} differs in docs/frontend.md"
    sources = [
        *sorted((js_dir / "clients").iterdir()),
        js_dir / "codegen.ts",
        js_dir / "apollo.mjs",
    ]
    regions = {(str(p.relative_to(root)), name) for p in sources for name in _regions(p)}
    assert regions == {(file, region) for file, region, _ in shown}
