"""GraphiQL in headless Chromium, as a frontend engineer opens it, with no internet access.

``tests/js/graphiql-browser.mjs`` drives Debian's ``chromium`` with playwright-core against
``notes-bff serve --workers 2 --demo``, every request to a non-loopback address blocked. The
screenshots are kept in ``test-artifacts/browser`` (``NOTES_BFF_TEST_ARTIFACTS`` overrides).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from notes_bff.embedded import EmbeddedProcess
from tests.serve import ServeProcess, serving

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("NOTES_BFF_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts")
)


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's chromium: installed with apt-get where missing (as root), else skipped."""
    if CHROMIUM.exists():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        pytest.skip(f"{CHROMIUM} is missing and apt-get as root is not available to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # With its recommends: the set the test was proven with on this machine kind.
    for args in (["update", "-qq"], ["install", "-y", "-qq", "chromium", "fonts-liberation"]):
        subprocess.run([apt, *args], env=env, check=True, capture_output=True, timeout=900)
    return CHROMIUM


@pytest.fixture(scope="module")
def demo_server(
    servers: dict[str, EmbeddedProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    with serving(servers, tmp_path_factory.mktemp("browser"), "--workers", "2", "--demo") as server:
        yield server


def _bearer_dashboard(url: str) -> dict[str, Any]:
    """The demo user's dashboard, read by another client (bearer token)."""

    def post(query: str, token: str | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(  # noqa: S310
            f"{url}/graphql", json.dumps({"query": query}).encode(), headers
        )
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            body: dict[str, Any] = json.loads(resp.read())
        return body["data"]

    login = 'mutation { logIn(input: {email: "demo@example.com", password: "demo-password"}) { accessToken } }'
    token = post(login)["logIn"]["accessToken"]
    return post(
        "{ dashboard { stats { totalNotes pinnedNotes overdueNotes dueThisWeek } } }", token
    )


@pytest.mark.timeout(900)  # a first run may install chromium and the npm packages
def test_graphiql_offline_login_dashboard_and_live_event(
    chromium: Path, js_dir: Path, demo_server: ServeProcess
) -> None:
    artifacts = ARTIFACTS / "browser"
    artifacts.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["node", "graphiql-browser.mjs", demo_server.url, str(artifacts)],
        cwd=js_dir,
        env={**os.environ, "CHROMIUM": str(chromium)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)

    # Nothing but the server itself: no request left the machine, the CSP refused nothing.
    assert report["blocked"] == [] and report["cspViolations"] == [] and report["pageErrors"] == []
    assert all(p == "/graphql" or p.startswith("/graphql/static/") for p in report["requests"])
    assert "/graphql/static/graphiql@3.9.0/graphiql.min.js" in report["requests"]
    assert report["title"] == "notes-bff GraphiQL"

    # LogIn in GraphiQL set the HttpOnly cookies, which then authenticated Dashboard.
    assert report["logIn"]["data"]["logIn"]["user"]["name"] == "Demo User"
    cookies = {c.pop("name"): c for c in report["cookies"]}
    assert cookies == {
        "nb_access": {"httpOnly": True, "sameSite": "Lax", "path": "/"},
        "nb_refresh": {"httpOnly": True, "sameSite": "Strict", "path": "/graphql"},
    }
    assert report["cookieVisibleToScripts"] is False
    shown = report["dashboard"]["data"]
    assert shown["me"] == {"name": "Demo User", "email": "demo@example.com"}
    # What GraphiQL showed is the demo user's data, as another client reads it (plus the
    # notes created since).
    stats = shown["dashboard"]["stats"]
    created = len(report["createdTitles"])
    now = _bearer_dashboard(demo_server.url)["dashboard"]["stats"]
    assert now == {**stats, "totalNotes": stats["totalNotes"] + created}
    assert len(shown["workspaces"]) == 4 and shown["dashboard"]["pinned"]

    # The subscription ran over graphql-transport-ws (cookie on the upgrade) and showed the
    # note another client created.
    assert report["wsFramesSent"][:2] == ["connection_init", "subscribe"]
    event = report["event"]["data"]["workspaceEvents"]
    assert event["kind"] == "CREATED" and event["note"]["title"] == report["createdTitles"][-1]
    assert event["actor"] == {"name": "Demo User"} and re.fullmatch(r"\d+-\d+", event["eventId"])

    # A dialog's <style> carried the nonce; headers are never kept in localStorage, and a
    # bearer token in the Headers tab authenticates instead of the cookie.
    assert report["settingsDialog"]["title"] == "Settings"
    assert report["settingsDialog"]["stylesWithNonce"] >= 1
    assert report["settingsDialog"]["offersPersistHeaders"] is False
    assert report["withBearerHeader"]["data"]["me"]["name"] == "Header User"
    assert report["storedBearer"] == []

    for path in report["screenshots"]:
        content = Path(path).read_bytes()
        assert content.startswith(b"\x89PNG") and len(content) > 20_000, path
    assert Path(report["screenshots"][-1]).name == "3-live-event.png"
