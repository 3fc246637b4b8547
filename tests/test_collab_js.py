"""Collaborative editing with real Yjs clients: three Node `yjs` + `y-websocket` editors on
``notes-bff serve --workers 2`` and on a second server process (one MongoDB, one Redis) make
1,000 seeded concurrent edits; one goes offline and comes back, a worker is killed
with SIGKILL, an ``updateNote`` arrives, a viewer types, a member is removed (tests/js/collab.mjs).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import graphql
from notes_bff.embedded import EmbeddedProcess
from tests.serve import ServeProcess, children

# Quick checkpoints and compaction, so that both happen (and trim the log) during the run.
COLLAB_ENV = {
    "NOTES_BFF_COLLAB_CHECKPOINT_SECONDS": "0.3",
    "NOTES_BFF_COLLAB_COMPACT_INTERVAL_SECONDS": "1",
    "NOTES_BFF_COLLAB_LOG_MIN_AGE_SECONDS": "2",
}


NODE_TIMEOUT_S = 240


def _workers(serve: ServeProcess) -> list[int]:
    """The gunicorn workers: the serve process's children."""
    assert serve.proc is not None
    return children(serve.proc.pid)


@pytest.fixture(scope="module")
def hosts(
    servers: dict[str, EmbeddedProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    data_dir = tmp_path_factory.mktemp("collab-js")
    shared = {**COLLAB_ENV, "NOTES_BFF_MONGODB_DB": f"collab_{uuid.uuid4().hex[:8]}"}
    first = ServeProcess(servers, data_dir, **shared)
    second = ServeProcess(servers, data_dir, **shared)
    try:
        first.start("--workers", "2")
        second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()


def _diagnosis(err: Path, *hosts: ServeProcess) -> str:
    """What a failed run leaves to read: the script's stages and errors, and the servers'
    warnings and errors."""
    lines = [err.read_text()[-3000:]]
    for host in hosts:
        logged = host.log.read_text(errors="replace").splitlines()
        lines += [f"--- {host.url}", *[x for x in logged if "[info " not in x][-40:]]
    return "\n".join(lines)


async def _user(url: str, name: str) -> dict[str, str]:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    data = await graphql(
        url,
        "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } } }",
        {"i": {"email": email, "password": "correct horse battery", "name": name}},
    )
    return {
        "token": data["signUp"]["accessToken"],
        "id": data["signUp"]["user"]["id"],
        "email": email,
    }


async def test_yjs_clients_on_two_servers_converge_through_a_worker_kill(
    js_dir: Path, hosts: tuple[ServeProcess, ServeProcess], tmp_path: Path
) -> None:
    a, b = hosts
    owner = await _user(a.url, "Owner")
    editors = [await _user(a.url, f"Editor{i}") for i in range(3)]
    viewer, leaver = await _user(a.url, "Viewer"), await _user(a.url, "Leaver")
    ws = await graphql(
        a.url, 'mutation { createWorkspace(input: {name: "Co"}) { id } }', {}, owner["token"]
    )
    ws_id = ws["createWorkspace"]["id"]
    for user, role in [*((e, "EDITOR") for e in editors), (viewer, "VIEWER"), (leaver, "EDITOR")]:
        await graphql(
            a.url,
            "mutation($w: ID!, $e: String!, $r: Role!) { addMember(workspaceId: $w, email: $e, role: $r) { role } }",
            {"w": ws_id, "e": user["email"], "r": role},
            owner["token"],
        )
    created = await graphql(
        a.url,
        'mutation($w: ID!) { createNote(input: {workspaceId: $w, title: "Shared", content: "# Shared\\n"}) { id } }',
        {"w": ws_id},
        owner["token"],
    )
    note = created["createNote"]["id"]
    config = {
        "a": a.url,
        "b": b.url,
        "workers": _workers(a),
        "note": note,
        "workspace": ws_id,
        "owner": owner,
        "editors": editors,
        "viewer": viewer,
        "leaver": leaver,
        "edits": 1000,
        "seed": 16,
    }
    versions: list[int] = []
    done = asyncio.Event()

    async def watch_versions() -> None:
        while not done.is_set():
            data = await graphql(
                b.url, "query($n: ID!) { note(id: $n) { version } }", {"n": note}, owner["token"]
            )
            versions.append(data["note"]["version"])
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch_versions())
    # Output to files, so that what a killed run printed (its stages, on stderr) is kept.
    out, err = tmp_path / "collab.out", tmp_path / "collab.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        node = await asyncio.create_subprocess_exec(
            "node", "collab.mjs", json.dumps(config), cwd=js_dir, stdout=stdout, stderr=stderr
        )
        try:
            await asyncio.wait_for(node.wait(), NODE_TIMEOUT_S)
        except TimeoutError:
            node.kill()
            await node.wait()
    done.set()
    await watcher
    assert node.returncode == 0, _diagnosis(err, a, b)
    report = json.loads(out.read_text().strip().splitlines()[-1])

    assert report["killed"] in config["workers"] and 1006 in report["e0Closes"]
    assert report["converged"] and report["stored"] and report["fresh"], json.dumps(report)
    assert report["duplicated"] == [], report
    assert report["tokens"] > 100 and report["offlineTokens"] > 5, report
    assert report["apiMarkers"] == 1, report
    assert not report["viewerLeak"] and report["viewerKept"]
    # Closed by the removal (4403), not by anything else, while it was connected.
    assert report["leaverSynced"] and report["removed"]["code"] == 4403, report["removed"]
    assert versions == sorted(versions) and versions[-1] > versions[0]
