"""The GraphiQL page and its own static files: CSP, Subresource Integrity, caching, settings.

The page working in a real browser without internet access is tests/test_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from notes_bff.http.graphiql import STATIC_DIR
from tests.conftest import Api

HTML = {"Accept": "text/html"}


def _sri(content: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


def _config(html: str) -> dict[str, Any]:
    """The page's settings (its JSON data block)."""
    found = re.search(r'type="application/json">(.*?)</script>', html, re.S)
    assert found is not None
    config: dict[str, Any] = json.loads(found[1])
    return config


def _references(html: str) -> list[tuple[str, str]]:
    """(URL, integrity) of every script and stylesheet of the page."""
    return re.findall(r'(?:src|href)="([^"]+)" integrity="([^"]+)"', html)


async def test_page_loads_only_its_own_files_with_integrity(api: Api) -> None:
    page = await api.client.get("/graphql", headers=HTML)
    assert page.status == 200 and page.headers["Cache-Control"] == "no-store"
    html = await page.text()
    references = _references(html)
    assert [url.split("?")[0] for url, _ in references] == [
        "/graphql/static/graphiql@3.9.0/graphiql.min.css",
        "/graphql/static/@graphiql/plugin-explorer@3.2.6/dist/style.css",
        "/graphql/static/page.css",
        "/graphql/static/react@18.3.1/umd/react.production.min.js",
        "/graphql/static/react-dom@18.3.1/umd/react-dom.production.min.js",
        "/graphql/static/graphiql@3.9.0/graphiql.min.js",
        "/graphql/static/@graphiql/plugin-explorer@3.2.6/dist/index.umd.js",
        "/graphql/static/page.js",
    ]
    for url, integrity in references:
        resp = await api.client.get(url)
        assert resp.status == 200, url
        assert _sri(await resp.read()) == integrity, url
        assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        kind = "text/javascript" if url.split("?")[0].endswith(".js") else "text/css"
        assert resp.headers["Content-Type"] == f"{kind}; charset=utf-8"
    # No inline script: the page's settings are a JSON data block, its code page.js.
    assert re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html) == [
        ' id="graphiql-config" type="application/json"'
    ]
    config = _config(html)
    assert config["endpoint"] == "/graphql"
    for operation in ("mutation LogIn", "query Dashboard", "subscription WorkspaceEvents"):
        assert operation in config["defaultQuery"]
    assert 'email: "demo@example.com"\n    password: "demo-password"' in config["defaultQuery"]


async def test_content_security_policy_allows_exactly_what_the_page_loads(api: Api) -> None:
    page = await api.client.get("/graphql", headers=HTML)
    csp = dict(d.strip().split(" ", 1) for d in page.headers["Content-Security-Policy"].split(";"))
    nonce = re.search(
        r'<script src="/graphql/static/page.js[^>]* nonce="([^"]+)"', await page.text()
    )
    assert nonce is not None
    assert csp == {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": f"'self' 'nonce-{nonce[1]}'",
        "font-src": "data:",
        "img-src": "data:",
        "connect-src": "'self'",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
        "form-action": "'none'",
    }
    again = await api.client.get("/graphql", headers=HTML)
    assert nonce[1] not in again.headers["Content-Security-Policy"]  # a nonce per response


async def test_static_files_are_only_the_shipped_ones(api: Api) -> None:
    for path in ("manifest.json", "../config.py", "graphiql@3.9.0/graphiql.js", "nope.js"):
        assert (await api.client.get(f"/graphql/static/{path}")).status == 404, path
    licence = await api.client.get("/graphql/static/graphiql@3.9.0/LICENSE")
    assert licence.status == 200 and "MIT License" in await licence.text()
    # Our own files are immutable only under their current version.
    stale = await api.client.get("/graphql/static/page.js?v=0")
    assert stale.status == 200 and stale.headers["Cache-Control"] == "no-cache"


async def test_large_files_are_compressed(api: Api) -> None:
    resp = await api.client.get(
        "/graphql/static/graphiql@3.9.0/graphiql.min.js", headers={"Accept-Encoding": "br"}
    )
    assert resp.headers["Content-Encoding"] == "br"
    assert len(await resp.read()) == (STATIC_DIR / "graphiql@3.9.0/graphiql.min.js").stat().st_size


def test_shipped_files_match_the_manifest() -> None:
    """What scripts/fetch_graphiql.py verified and recorded is what is committed."""
    manifest = json.loads((STATIC_DIR / "manifest.json").read_text())
    for path, integrity in manifest["files"].items():
        assert _sri((STATIC_DIR / path).read_bytes()) == integrity, path
    for package in manifest["packages"]:
        assert package["license"] == "MIT"
        assert (STATIC_DIR / f"{package['name']}@{package['version']}" / "LICENSE").is_file()
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", package["integrity"])
    shipped = {str(p.relative_to(STATIC_DIR)) for p in STATIC_DIR.rglob("*") if p.is_file()}
    assert shipped == {*manifest["files"], "manifest.json", "page.js", "page.css"}


async def test_assets_from_a_cdn_or_mirror(other_app: Any) -> None:
    async with other_app(graphiql_assets_url="https://cdn.jsdelivr.net/npm/") as api:
        page = await api.client.get("/graphql", headers=HTML)
        urls = [url.split("?")[0] for url, _ in _references(await page.text())]
        assert "https://cdn.jsdelivr.net/npm/graphiql@3.9.0/graphiql.min.js" in urls
        assert "https://cdn.jsdelivr.net/npm/react@18.3.1/umd/react.production.min.js" in urls
        assert "/graphql/static/page.js" in urls  # our own code is always served here
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self' https://cdn.jsdelivr.net;" in csp
        assert "style-src 'self' https://cdn.jsdelivr.net 'nonce-" in csp


async def test_off_serves_neither_page_nor_files(other_app: Any) -> None:
    async with other_app(graphiql=False) as api:
        page = await api.client.get("/graphql", headers=HTML)
        assert page.status != 200 or "graphiql" not in (await page.text()).lower()
        static = await api.client.get("/graphql/static/graphiql@3.9.0/graphiql.min.js")
        assert static.status == 404


async def test_enabled_in_production_without_the_demo_login(other_app: Any) -> None:
    async with other_app(env="production", graphiql=True) as api:
        query = _config(await (await api.client.get("/graphql", headers=HTML)).text())[
            "defaultQuery"
        ]
        assert 'email: "you@example.com"\n    password: "your password"' in query
        assert "demo" not in query
