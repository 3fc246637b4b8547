"""The embedded development SMTP server as the tests' mailbox, and an app that sends to it."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from notes_bff.embedded import EmbeddedProcess, smtp

# Settings of an application whose sender polls and retries quickly.
FAST_SENDER: dict[str, Any] = {
    "smtp_host": "127.0.0.1",
    "smtp_security": "none",
    "email_poll_seconds": 0.05,
    "email_retry_base_seconds": 0.05,
    "smtp_timeout_seconds": 5,
}


class Mailbox:
    """The messages an embedded SMTP server stored (``.eml`` files)."""

    def __init__(self, server: EmbeddedProcess) -> None:
        self.server = server

    @classmethod
    def create(cls, directory: Path) -> Mailbox:
        """A mailbox whose server is not started yet (its port is chosen)."""
        return cls(smtp(directory))

    @property
    def settings(self) -> dict[str, Any]:
        """The overrides of an application sending here."""
        return {**FAST_SENDER, "smtp_port": self.server.port}

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        """Every stored message (to ``to``), oldest first."""
        if not self.server.data_dir.exists():
            return []
        found = []
        for path in sorted(self.server.data_dir.glob("*.eml")):
            parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            if to is None or parsed["To"] == to:
                found.append(parsed)
        return found

    async def wait(
        self, to: str, count: int = 1, match: Callable[[EmailMessage], bool] = lambda _: True
    ) -> list[EmailMessage]:
        """The messages to ``to`` that ``match``, once there are ``count`` (within 15 s)."""
        for _ in range(300):
            found = [m for m in self.messages(to) if match(m)]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"{count} emails to {to} did not arrive: {len(found)} did")


def text_of(message: EmailMessage) -> str:
    """The plain-text part."""
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    """The HTML part."""
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def link_token(message: EmailMessage, path: str) -> str:
    """The ``token`` of the link to ``path`` in the plain-text part."""
    text = text_of(message)
    start = text.index(path + "?token=") + len(path + "?token=")
    return text[start:].split()[0]
