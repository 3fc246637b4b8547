"""``/email/unsubscribe``: the one-click unsubscribe link of notification emails (RFC 8058).

``POST`` (what mail providers send for ``List-Unsubscribe-Post``, and the page's button)
turns the email's kind off in the user's preferences; ``GET`` (a person opening the link,
or a link scanner) only shows a page with that button, so a scanner unsubscribes no one.
"""

from __future__ import annotations

import html

from aiohttp import web
from beanie import PydanticObjectId

from notes_bff.email import unsubscribe as tokens
from notes_bff.email.unsubscribe import DIGEST_TOPIC
from notes_bff.keys import SETTINGS
from notes_bff.services.preferences import unsubscribe

PATH = tokens.PATH
INVALID = "This unsubscribe link is not valid."


def _page(status: int, title: str, body: str) -> web.Response:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    response = web.Response(text=document, status=status, content_type="text/html")
    response.headers["Content-Security-Policy"] = "default-src 'none'; form-action 'self'"
    response.headers["Cache-Control"] = "no-store"
    return response


def _subject(request: web.Request) -> tokens.Unsubscribe | None:
    token = request.query.get("token", "")
    subject = tokens.verify(request.app[SETTINGS].jwt_key(), token)
    if subject is None or not PydanticObjectId.is_valid(subject.user_id):
        return None
    return subject


def _what(topic: str) -> str:
    if topic == DIGEST_TOPIC:
        return "the daily digest"
    return f"{topic.replace('_', ' ').lower()} emails"


async def confirm_page(request: web.Request) -> web.Response:
    """GET: what the link turns off, and the button that does it."""
    subject = _subject(request)
    if subject is None:
        return _page(400, "Unsubscribe", f"<p>{INVALID}</p>")
    action = html.escape(f"{PATH}?token={request.query['token']}")
    form = (
        f"<p>Stop receiving {html.escape(_what(subject.topic))}?</p>"
        f'<form method="post" action="{action}"><button type="submit">Unsubscribe</button></form>'
    )
    return _page(200, "Unsubscribe", form)


async def one_click(request: web.Request) -> web.Response:
    """POST: turn the kind's emails (or the digest) off."""
    subject = _subject(request)
    if subject is None or not await unsubscribe(PydanticObjectId(subject.user_id), subject.topic):
        return _page(400, "Unsubscribe", f"<p>{INVALID}</p>")
    done = f"<p>You will no longer receive {html.escape(_what(subject.topic))}.</p>"
    return _page(200, "Unsubscribed", done)
