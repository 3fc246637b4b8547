"""``GET /exports/{id}``: the download of an ``exportMyData`` archive, by signed link."""

from __future__ import annotations

from aiohttp import web

from notes_bff.auth.links import link_key
from notes_bff.keys import SETTINGS
from notes_bff.models.clock import now
from notes_bff.services.privacy import EXPORT_PATH, exported_archive

PATH = EXPORT_PATH


async def download(request: web.Request) -> web.Response:
    """The archive as an attachment; 404 for a link that is forged, expired or whose
    archive is gone (a link is its own credential: nothing tells which of these it was)."""
    archive = await exported_archive(
        link_key(request.app[SETTINGS]),
        request.match_info["id"],
        request.query.get("expires", ""),
        request.query.get("signature", ""),
        now(),
    )
    if archive is None:
        raise web.HTTPNotFound(text="This download link is not valid (or no longer).")
    return web.Response(
        body=archive,
        content_type="application/zip",
        headers={
            "Content-Disposition": 'attachment; filename="notes-export.zip"',
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
