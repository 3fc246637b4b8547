"""``/dev/mail``: the emails the development SMTP server stored, newest first (development
only; the files are in ``DATA_DIR/mail``, see notes_bff/email/dev_smtp.py)."""

from __future__ import annotations

import asyncio
import html
import re
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path

from aiohttp import web

from notes_bff.keys import SETTINGS

PATH = "/dev/mail"
SHOWN = 200
_NAME = re.compile(r"^\d+-[0-9a-f]{8}\.eml$")


def _mail_dir(request: web.Request) -> Path:
    return request.app[SETTINGS].data_dir / "mail"


def _rows(directory: Path) -> list[str]:
    """One table row per stored message (newest first): date, recipient, subject, link."""
    names = sorted((p.name for p in directory.glob("*.eml")), reverse=True)[:SHOWN]
    rows = []
    for name in names:
        with (directory / name).open("rb") as file:
            headers = BytesHeaderParser(policy=default).parse(file)
        cells = [headers.get(h, "") for h in ("Date", "To", "Subject")]
        rows.append(
            "<tr>"
            + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
            + f'<td><a href="{PATH}/{name}">source</a></td></tr>'
        )
    return rows


async def mail_list(request: web.Request) -> web.Response:
    """The newest stored emails, as a table."""
    directory = _mail_dir(request)
    rows = await asyncio.to_thread(_rows, directory) if directory.is_dir() else []
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Emails</title>'
        f"</head><body><h1>Emails sent in development</h1><p>Files in {html.escape(str(directory))}"
        "</p><table><tr><th>Date</th><th>To</th><th>Subject</th><th></th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
    response = web.Response(text=body, content_type="text/html")
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


async def mail_source(request: web.Request) -> web.Response:
    """One stored email's source, as plain text."""
    name = request.match_info["name"]
    path = _mail_dir(request) / name
    if not _NAME.match(name) or not path.is_file():
        raise web.HTTPNotFound()
    return web.Response(body=await asyncio.to_thread(path.read_bytes), content_type="text/plain")
