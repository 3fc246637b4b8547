"""Emails as plain text and HTML, from fixed sentences.

The rule of notes_bff/notification_text.py holds here: user text (names, titles, an email
address) is only ever a value placed into a fixed sentence, never a template, and in the
HTML part every value is escaped. Notification messages arrive already clipped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from notes_bff.models.notification import NotificationKind
from notes_bff.models.outbox import EmailTemplate
from notes_bff.notification_text import clip

# The most items one email lists; the rest are counted.
ITEMS_SHOWN = 20
EMAIL_SHOWN = 254

_KIND_SUBJECTS = {
    NotificationKind.MENTION: "You were mentioned",
    NotificationKind.ASSIGNED: "You were assigned a note",
    NotificationKind.DUE_SOON: "A note is due soon",
    NotificationKind.MEMBER_ADDED: "You were added to a workspace",
}


@dataclass(frozen=True)
class Links:
    """Where an email's links point: the app's pages and the server's unsubscribe URL."""

    app: str
    unsubscribe: str | None = None


@dataclass(frozen=True)
class Content:
    """An email's subject and its two bodies."""

    subject: str
    text: str
    html: str


def _page(
    paragraphs: list[str],
    items: list[str],
    links: Links,
    action: tuple[str, str] | None = None,
) -> tuple[str, str]:
    """Text and HTML bodies: paragraphs, a button-like ``(label, url)`` action, a bullet
    list of items, and the footer; every value is escaped in the HTML."""
    shown = items[:ITEMS_SHOWN]
    more = len(items) - len(shown)
    text_lines = [*paragraphs, *("- " + item for item in shown)]
    html_parts = [f"<p>{html.escape(p)}</p>" for p in paragraphs]
    if action is not None:
        label, url = action
        text_lines.insert(1, f"{label}: {url}")
        html_parts.insert(1, f'<p><a href="{html.escape(url)}">{html.escape(label)}</a></p>')
    if shown:
        html_parts.append(
            "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in shown) + "</ul>"
        )
    if more:
        text_lines.append(f"… and {more} more")
        html_parts.append(f"<p>… and {more} more</p>")
    text_lines.append(f"Open Notes: {links.app}")
    html_parts.append(f'<p><a href="{html.escape(links.app)}">Open Notes</a></p>')
    if links.unsubscribe:
        text_lines.append(f"Unsubscribe: {links.unsubscribe}")
        html_parts.append(
            f'<p><small><a href="{html.escape(links.unsubscribe)}">Unsubscribe</a></small></p>'
        )
    return "\n\n".join(text_lines) + "\n", "<html><body>" + "".join(html_parts) + "</body></html>"


def render(
    template: EmailTemplate,
    values: dict[str, str],
    items: list[str],
    links: Links,
    action_url: str | None = None,
) -> Content:
    """The content of an email; ``action_url`` is its link's target (reset, confirm)."""
    if template is EmailTemplate.NOTIFICATION:
        subject = _KIND_SUBJECTS.get(NotificationKind(values["kind"]), "New notification")
        if len(items) > 1:
            subject += f" ({len(items)} new)"
        return Content(subject, *_page([], items, links))
    if template is EmailTemplate.DIGEST:
        count = f"{len(items)} notification" + ("" if len(items) == 1 else "s")
        return Content(f"Your daily digest: {count}", *_page([f"Today: {count}."], items, links))
    new_email = clip(values.get("new_email", ""), EMAIL_SHOWN)
    if template is EmailTemplate.EMAIL_CHANGE_NOTICE:
        sentences = [
            "Someone asked to change the email of your Notes account to " + new_email + ".",
            "If it was not you, change your password now: the change only happens once the "
            "new address confirms it.",
        ]
        return Content("Your Notes email is being changed", *_page(sentences, [], links))
    if template is EmailTemplate.DELETION_SCHEDULED:
        sentences = [
            "Your Notes account will be erased on " + clip(values.get("when", ""), 40) + ".",
            "To keep it, sign in and cancel the deletion in your settings before then.",
        ]
        return Content("Your Notes account will be erased", *_page(sentences, [], links))
    assert action_url is not None
    if template is EmailTemplate.PASSWORD_RESET:
        sentences = [
            "Someone asked to reset the password of your Notes account.",
            "If it was not you, ignore this email; your password stays as it is.",
        ]
        action = ("Choose a new password", action_url)
        return Content("Reset your Notes password", *_page(sentences, [], links, action))
    sentences = [
        "Confirm " + new_email + " as the email of your Notes account.",
        "If you did not ask for this, ignore this email.",
    ]
    action = ("Confirm the new email", action_url)
    return Content("Confirm your new Notes email", *_page(sentences, [], links, action))


def compose(
    content: Content, *, sender: str, to: str, message_id: str, unsubscribe: str | None
) -> EmailMessage:
    """The MIME message (text, with the HTML alternative), with RFC 8058 headers when it
    has an unsubscribe URL."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = content.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    if unsubscribe:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    return message
