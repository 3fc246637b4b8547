"""The sender's pure rules: backoff and what each email unsubscribes from."""

from __future__ import annotations

from notes_bff.email.sender import MAX_BACKOFF_S, backoff_s, unsubscribe_topic
from notes_bff.models import EmailTemplate, OutboxEmail


def test_backoff_doubles_from_the_base_up_to_an_hour() -> None:
    assert [backoff_s(n, 30) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff_s(40, 30) == MAX_BACKOFF_S


def test_only_notification_emails_and_digests_can_be_unsubscribed_from() -> None:
    def topic(template: EmailTemplate, **values: str) -> str | None:
        message = OutboxEmail.model_construct(to="u@example.com", template=template, values=values)
        return unsubscribe_topic(message)

    assert topic(EmailTemplate.NOTIFICATION, kind="DUE_SOON") == "DUE_SOON"
    assert topic(EmailTemplate.DIGEST) == "DIGEST"
    assert topic(EmailTemplate.PASSWORD_RESET) is None
    assert topic(EmailTemplate.EMAIL_CHANGE_NOTICE) is None
