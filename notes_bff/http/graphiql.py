"""The GraphiQL explorer: its page, Content-Security-Policy and static files.

GraphiQL, React and the explorer plugin are served from the package's own files
(``notes_bff/static/graphiql``, fetched and verified by ``scripts/fetch_graphiql.py``), so the
explorer works without internet access; ``NOTES_BFF_GRAPHIQL_ASSETS_URL`` loads the npm files
from a CDN or a mirror instead. Every script and stylesheet carries its Subresource Integrity.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from notes_bff.config import Settings

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "graphiql"
STATIC_PATH = "/graphql/static/"
# Our own files beside the npm ones, cache-busted with ``?v=<hash>``.
OWN_FILES = ("page.css", "page.js")
SCRIPTS = (
    "react@18.3.1/umd/react.production.min.js",
    "react-dom@18.3.1/umd/react-dom.production.min.js",
    "graphiql@3.9.0/graphiql.min.js",
    "@graphiql/plugin-explorer@3.2.6/dist/index.umd.js",
)
STYLES = ("graphiql@3.9.0/graphiql.min.css", "@graphiql/plugin-explorer@3.2.6/dist/style.css")
IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}

DEFAULT_QUERY = """\
# notes-bff. Run LogIn first (▶, then LogIn): it sets
# the nb_access cookie, which this page then sends with
# every request and on the websocket. For a bearer token
# instead, use the Headers tab:
#   {{"Authorization": "Bearer <accessToken>"}}

mutation LogIn {{
  logIn(input: {{
    email: "{email}"
    password: "{password}"
  }}) {{
    user {{ id name }}
    accessTokenExpiresAt
  }}
}}

query Dashboard {{
  me {{ name email }}
  dashboard {{
    stats {{
      totalNotes pinnedNotes overdueNotes dueThisWeek
    }}
    pinned(first: 3) {{ title priority workspace {{ name }} }}
    dueSoon(first: 3) {{ title dueDate }}
  }}
  workspaces {{ id name viewerRole noteCount }}
}}

# Live note events: put {{"workspaceId": "<id>"}} in
# Variables (ids: run Dashboard), run this, then change a
# note of that workspace from anywhere.
subscription WorkspaceEvents($workspaceId: ID!) {{
  workspaceEvents(workspaceId: $workspaceId) {{
    eventId
    kind
    note {{ title updatedAt }}
    actor {{ name }}
  }}
}}
"""


@dataclass(frozen=True)
class Assets:
    """Where the page loads its files from, with their integrity values."""

    base_url: str  # npm files, as ``<base_url>/<package>@<version>/<path>``
    integrity: dict[str, str]  # path under STATIC_DIR -> sha384-…
    versions: dict[str, str]  # own file -> content hash for ``?v=``
    origin: str | None  # the CDN's origin, for the CSP; None when served locally

    def url(self, path: str) -> str:
        """The URL of a file of the page."""
        if path in self.versions:
            return f"{STATIC_PATH}{path}?v={self.versions[path]}"
        return f"{self.base_url}/{path}"


@functools.cache
def assets(assets_url: str | None) -> Assets:
    """The page's assets, served locally or from ``assets_url``."""
    manifest = json.loads((STATIC_DIR / "manifest.json").read_text())
    integrity: dict[str, str] = dict(manifest["files"])
    versions = {}
    for name in OWN_FILES:
        digest = hashlib.sha384((STATIC_DIR / name).read_bytes()).digest()
        integrity[name] = "sha384-" + base64.b64encode(digest).decode()
        versions[name] = hashlib.sha256(digest).hexdigest()[:12]
    if assets_url is None:
        return Assets(STATIC_PATH.rstrip("/"), integrity, versions, None)
    parts = urlsplit(assets_url)
    return Assets(assets_url, integrity, versions, f"{parts.scheme}://{parts.netloc}")


def content_security_policy(assets: Assets, nonce: str) -> str:
    """Exactly what the page loads: its scripts and styles (from the CDN too when one is
    set), GraphiQL's inline fonts, the page's empty icon, requests and websockets to this
    origin. GraphiQL's
    dialogs add ``<style>`` elements: they carry the nonce."""
    cdn = f" {assets.origin}" if assets.origin else ""
    return (
        f"default-src 'none'; script-src 'self'{cdn}; style-src 'self'{cdn} 'nonce-{nonce}'; "
        "font-src data:; img-src data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def _tag(kind: str, url: str, integrity: str) -> str:
    if kind == "script":
        return f'<script src="{url}" integrity="{integrity}" crossorigin="anonymous"></script>'
    return f'<link rel="stylesheet" href="{url}" integrity="{integrity}" crossorigin="anonymous">'


def page(settings: Settings) -> web.Response:
    """The GraphiQL page, with its Content-Security-Policy."""
    from notes_bff.seed import DEMO_EMAIL, DEMO_PASSWORD  # not at import: it loads Faker

    found = assets(settings.graphiql_assets_url)
    nonce = secrets.token_urlsafe(18)
    demo = not settings.is_production
    email = DEMO_EMAIL if demo else "you@example.com"
    password = DEMO_PASSWORD if demo else "your password"
    config = {
        "endpoint": "/graphql",
        "defaultQuery": DEFAULT_QUERY.format(email=email, password=password),
    }
    # A JSON data block is never executed; "<" is escaped so it cannot close the element.
    config_json = json.dumps(config).replace("<", "\\u003c")
    styles = "\n".join(
        _tag("style", found.url(p), found.integrity[p]) for p in (*STYLES, "page.css")
    )
    scripts = "\n".join(_tag("script", found.url(p), found.integrity[p]) for p in SCRIPTS)
    page_js = found.url("page.js")
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>notes-bff GraphiQL</title>
<link rel="icon" href="data:,">
{styles}
</head>
<body>
<div id="graphiql">Loading…</div>
<script id="graphiql-config" type="application/json">{config_json}</script>
{scripts}
<script src="{page_js}" integrity="{found.integrity["page.js"]}" nonce="{nonce}"></script>
</body>
</html>
"""
    response = web.Response(text=html, content_type="text/html")
    response.headers["Content-Security-Policy"] = content_security_policy(found, nonce)
    response.headers["Cache-Control"] = "no-store"
    return response


def _file(path: str) -> bytes | None:
    """A servable file's content: one of the manifest's or our own, nothing else."""
    return _read(path) if path in assets(None).integrity else None


@functools.cache
def _read(path: str) -> bytes:
    return (STATIC_DIR / path).read_bytes()


async def static_file(request: web.Request) -> web.Response:
    """``GET /graphql/static/{path}``: immutable, versioned files (404 for anything else)."""
    path = request.match_info["path"]
    content = _file(path)
    if content is None:
        raise web.HTTPNotFound()
    suffix = Path(path).suffix
    response = web.Response(
        body=content, content_type=CONTENT_TYPES.get(suffix, "text/plain"), charset="utf-8"
    )
    versioned = path not in OWN_FILES or request.query.get("v") == assets(None).versions[path]
    response.headers["Cache-Control"] = IMMUTABLE if versioned else "no-cache"
    return response
