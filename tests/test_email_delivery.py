"""The outbox delivers through SMTP outages (each email once), gives up visibly after the
allowed attempts, and coalesces notification emails."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from beanie import PydanticObjectId

from notes_bff.config import Environment, Settings
from notes_bff.embedded import free_port
from notes_bff.models import EmailStatus, OutboxEmail
from notes_bff.server import create_app
from tests.conftest import Api
from tests.mail import FAST_SENDER, Mailbox, text_of

REQUEST = "mutation($e: String!) { requestPasswordReset(email: $e) }"
MANY_RESETS = {"password_reset_requests_per_ip": 10_000}


async def _outbox_of(address: str, until: Callable[[OutboxEmail], bool]) -> OutboxEmail:
    """The one outbox message to ``address``, once ``until`` holds for it (within 20 s)."""
    for _ in range(400):
        (found,) = await OutboxEmail.find({"to": address}).to_list()
        if until(found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{address}: {found.status} after {found.attempts} attempts")


def _retrying(message: OutboxEmail) -> bool:
    return message.status is EmailStatus.PENDING and message.attempts >= 1


async def test_smtp_down_then_up_delivers_every_queued_email_exactly_once(
    api: Api, other_app: Any, tmp_path: Path
) -> None:
    mailbox = Mailbox.create(tmp_path)  # not listening yet
    users = [await api.sign_up() for _ in range(3)]
    async with other_app(**mailbox.settings, **MANY_RESETS, email_max_attempts=30) as mail_api:
        for user in users:
            assert await mail_api.ok(REQUEST, {"e": user["email"]})
        for user in users:  # each failed at least once, and waits for its retry
            queued = await _outbox_of(user["email"], _retrying)
            assert queued.last_error
        mailbox.server.start()
        try:
            for user in users:
                sent = await _outbox_of(user["email"], lambda m: m.status is EmailStatus.SENT)
                (received,) = mailbox.messages(user["email"])
                assert received["Message-ID"] == f"<{sent.id}@localhost>"
                assert sent.secret is None  # the link's token is not kept once sent
        finally:
            mailbox.server.stop()


async def test_an_email_is_dead_after_the_allowed_attempts_and_operators_see_it(
    api: Api, other_app: Any, settings: Settings
) -> None:
    user = await api.sign_up()
    closed_port = free_port()
    async with other_app(
        **FAST_SENDER, **MANY_RESETS, smtp_port=closed_port, email_max_attempts=2
    ) as mail_api:
        assert await mail_api.ok(REQUEST, {"e": user["email"]})
        dead = await _outbox_of(user["email"], lambda m: m.status is EmailStatus.DEAD)
        assert dead.attempts == 2 and dead.secret is None
        assert "connect" in (dead.last_error or "").lower()
        metrics = await (await mail_api.client.get("/metrics")).text()
        dead_line = next(
            line
            for line in metrics.splitlines()
            if line.startswith("notes_bff_emails_total") and 'outcome="dead"' in line
        )
        assert float(dead_line.split()[-1]) >= 1
    env = {
        **os.environ,
        "NOTES_BFF_MONGODB_URI": settings.mongodb_uri or "",
        "NOTES_BFF_REDIS_URL": settings.redis_url or "",
        "NOTES_BFF_MONGODB_DB": settings.mongodb_db,
    }
    listing = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "notes_bff", "email", "list-dead",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(listing.communicate(), 120)
    assert listing.returncode == 0, stderr.decode()
    (line,) = [row for row in stdout.decode().splitlines() if user["email"] in row]
    assert str(dead.id) in line and "PASSWORD_RESET" in line and "attempts=2" in line


async def test_notification_emails_to_one_person_coalesce_within_the_window(
    api: Api, other_app: Any, tmp_path: Path
) -> None:
    owner, member = await api.sign_up(), await api.sign_up()
    ws = await api.workspace(owner)
    await api.add(owner, ws, member, "EDITOR")
    titles = [f"Coalesced {n}" for n in range(3)]
    for title in titles:
        await api.note(owner, ws, title=title, assigneeIds=[member["id"]])
    # Three notifications in the app, one email waiting with all three.
    notifications = await api.ok(
        "{ notifications(first: 10) { edges { node { kind } } } }", token=member["token"]
    )
    kinds = [e["node"]["kind"] for e in notifications["notifications"]["edges"]]
    assert kinds.count("ASSIGNED") == 3
    assigned = await OutboxEmail.find(
        {"user_id": PydanticObjectId(member["id"]), "values.kind": "ASSIGNED"}
    ).to_list()
    assert len(assigned) == 1
    mailbox = Mailbox.create(tmp_path)
    mailbox.server.start()
    try:
        async with other_app(**mailbox.settings):
            found = await mailbox.wait(member["email"], match=lambda m: "assigned" in m["Subject"])
            (email,) = found
            assert email["Subject"] == "You were assigned a note (3 new)"
            assert all(title in text_of(email) for title in titles)
    finally:
        mailbox.server.stop()


@pytest.mark.parametrize("module", ["notes_bff.email.dev_smtp"])
def test_the_development_smtp_server_has_help(module: str) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=True
    )
    assert ".eml" in shown.stdout


def test_the_development_mail_page_exists_only_in_development(settings: Settings) -> None:
    def routes(env: str) -> set[str]:
        app = create_app(settings.model_copy(update={"env": Environment(env)}))
        return {resource.canonical for resource in app.router.resources()}

    assert "/dev/mail" in routes("development")
    assert "/dev/mail" not in routes("production")
