"""The outbox's sender: claims each due message atomically, sends it through SMTP, and
retries with exponential backoff until it is sent or dead.

Guarantee: **at least once, with a stable Message-ID.** A message is claimed (status
SENDING, a lease, one more attempt) by one sender in the deployment at a time and marked
SENT as soon as SMTP has accepted it. Only when a process dies between SMTP's acceptance and
that mark does the lease run out and the message go again, under the same ``Message-ID``
(``<outbox id@domain>``), which receiving systems use to drop the duplicate.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parseaddr

import aiosmtplib
import structlog

from notes_bff.background import BackgroundTasks
from notes_bff.config import Settings, SmtpSecurity
from notes_bff.email import templates, unsubscribe
from notes_bff.metrics import Metrics
from notes_bff.models import EmailStatus, EmailTemplate, OutboxEmail
from notes_bff.models.clock import now

log = structlog.get_logger("notes_bff.email")
MAX_BACKOFF_S = 3600.0
ERROR_CHARS = 500
RESET_PATH = "/settings/reset-password"
CONFIRM_EMAIL_PATH = "/settings/confirm-email"
_ACTION_PATHS = {
    EmailTemplate.PASSWORD_RESET: RESET_PATH,
    EmailTemplate.EMAIL_CHANGE_VERIFY: CONFIRM_EMAIL_PATH,
}


def backoff_s(attempts: int, base_s: float) -> float:
    """The wait after the ``attempts``-th failed attempt: base, then doubling, at most an hour."""
    return min(base_s * 2.0 ** (attempts - 1), MAX_BACKOFF_S)


def unsubscribe_topic(message: OutboxEmail) -> str | None:
    """What the message's one-click link turns off (account emails have none)."""
    if message.template is EmailTemplate.NOTIFICATION:
        return message.values["kind"]
    if message.template is EmailTemplate.DIGEST:
        return unsubscribe.DIGEST_TOPIC
    return None


class EmailSender:
    """One per process; every process's sender drains the same outbox."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self._tasks = BackgroundTasks()
        self._lease = timedelta(seconds=settings.smtp_timeout_seconds * 2 + 30)
        self._domain = parseaddr(settings.email_from)[1].rpartition("@")[2] or "notes-bff"

    def start(self) -> None:
        """Start sending."""
        self._tasks.start(email_sender=self._run())

    async def stop(self) -> None:
        """Stop sending (a message being sent is sent again after its lease)."""
        await self._tasks.stop()

    async def _run(self) -> None:
        while True:
            try:
                while (message := await self.claim()) is not None:
                    await self.deliver(message)
            except Exception:
                log.exception("email_round_failed")
            else:
                self.metrics.background_success.labels("email_sender").set(time.time())
            await asyncio.sleep(self.settings.email_poll_seconds)

    async def claim(self) -> OutboxEmail | None:
        """Take the next due message (or one whose sender's lease ran out) for this sender."""
        moment = now()
        raw = await OutboxEmail.get_pymongo_collection().find_one_and_update(
            {
                "$or": [
                    {"status": EmailStatus.PENDING, "next_attempt_at": {"$lte": moment}},
                    {"status": EmailStatus.SENDING, "claimed_until": {"$lt": moment}},
                ]
            },
            {
                "$set": {"status": EmailStatus.SENDING, "claimed_until": moment + self._lease},
                "$inc": {"attempts": 1},
            },
            sort=[("next_attempt_at", 1)],
            return_document=True,
        )
        return None if raw is None else OutboxEmail.model_validate(raw)

    def message_of(self, message: OutboxEmail) -> EmailMessage:
        """The MIME message of an outbox document."""
        settings = self.settings
        topic = unsubscribe_topic(message)
        unsubscribe_url = None
        if topic is not None and message.user_id is not None:
            token = unsubscribe.sign(
                settings.jwt_key(), unsubscribe.Unsubscribe(str(message.user_id), topic)
            )
            unsubscribe_url = f"{settings.public_base_url}{unsubscribe.PATH}?token={token}"
        path = _ACTION_PATHS.get(message.template)
        action = f"{settings.app_base_url}{path}?token={message.secret}" if path else None
        content = templates.render(
            message.template,
            message.values,
            message.items,
            templates.Links(settings.app_base_url, unsubscribe_url),
            action,
        )
        return templates.compose(
            content,
            sender=settings.email_from,
            to=message.to,
            message_id=f"<{message.id}@{self._domain}>",
            unsubscribe=unsubscribe_url,
        )

    async def deliver(self, message: OutboxEmail) -> None:
        """One attempt: SENT, or back to PENDING after a backoff, or DEAD after the last."""
        settings = self.settings
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        try:
            await aiosmtplib.send(
                self.message_of(message),
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=password,
                use_tls=settings.smtp_security is SmtpSecurity.TLS,
                start_tls=settings.smtp_security is SmtpSecurity.STARTTLS,
                timeout=settings.smtp_timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError, KeyError, ValueError) as exc:
            # SMTP refused or did not answer, or (KeyError, ValueError) the message cannot be
            # rendered: it is retried, then dead, never stuck.
            await self._failed(message, exc)
            return
        await self._finish(message, {"status": EmailStatus.SENT, "sent_at": now(), "secret": None})
        self.metrics.emails.labels("sent").inc()

    async def _finish(self, message: OutboxEmail, changes: dict[str, object]) -> None:
        """Record the attempt's outcome, unless another sender has claimed it since."""
        await OutboxEmail.get_pymongo_collection().update_one(
            {"_id": message.id, "status": EmailStatus.SENDING, "attempts": message.attempts},
            {"$set": changes, "$unset": {"claimed_until": ""}},
        )

    async def _failed(self, message: OutboxEmail, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
        if message.attempts >= self.settings.email_max_attempts:
            await self._finish(
                message, {"status": EmailStatus.DEAD, "last_error": error, "secret": None}
            )
            self.metrics.emails.labels("dead").inc()
            log.warning(
                "email_dead", email_id=str(message.id), attempts=message.attempts, error=error
            )
            return
        delay = backoff_s(message.attempts, self.settings.email_retry_base_seconds)
        await self._finish(
            message,
            {
                "status": EmailStatus.PENDING,
                "last_error": error,
                "next_attempt_at": now() + timedelta(seconds=delay),
            },
        )
        self.metrics.emails.labels("retry").inc()
        log.info("email_retry", email_id=str(message.id), attempts=message.attempts, error=error)
