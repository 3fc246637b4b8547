"""Email templates: both parts, user text escaped in HTML, fixed sentences only."""

from __future__ import annotations

from notes_bff.email.templates import ITEMS_SHOWN, Content, Links, compose, render
from notes_bff.models import EmailTemplate

LINKS = Links("https://app.example", "https://api.example/email/unsubscribe?token=t")
HOSTILE = '<script>alert("x")</script> {kind} %s'


def test_notification_items_are_escaped_in_html_and_kept_in_text() -> None:
    content = render(EmailTemplate.NOTIFICATION, {"kind": "MENTION"}, [HOSTILE], LINKS)
    assert content.subject == "You were mentioned"
    assert HOSTILE in content.text
    assert "<script>" not in content.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; {kind} %s" in content.html


def test_coalesced_notifications_are_counted_and_long_lists_cut() -> None:
    items = [f"item {n}" for n in range(ITEMS_SHOWN + 5)]
    content = render(EmailTemplate.NOTIFICATION, {"kind": "ASSIGNED"}, items, LINKS)
    assert content.subject == f"You were assigned a note ({len(items)} new)"
    assert f"item {ITEMS_SHOWN - 1}" in content.text and f"item {ITEMS_SHOWN}" not in content.text
    assert "… and 5 more" in content.text and "… and 5 more" in content.html


def test_account_emails_carry_their_link_and_the_new_address_escaped() -> None:
    values = {"new_email": "a&b@example.com"}
    confirm = render(
        EmailTemplate.EMAIL_CHANGE_VERIFY, values, [], Links(LINKS.app), "https://x/c?token=a&b"
    )
    assert "Confirm the new email: https://x/c?token=a&b" in confirm.text
    assert 'href="https://x/c?token=a&amp;b"' in confirm.html
    assert "a&amp;b@example.com" in confirm.html
    assert "Unsubscribe" not in confirm.text
    notice = render(EmailTemplate.EMAIL_CHANGE_NOTICE, values, [], Links(LINKS.app))
    assert "a&b@example.com" in notice.text and "change your password" in notice.text


def test_the_digest_counts_the_days_notifications() -> None:
    one = render(EmailTemplate.DIGEST, {}, ["only"], LINKS)
    assert one.subject == "Your daily digest: 1 notification"
    assert render(EmailTemplate.DIGEST, {}, ["a", "b"], LINKS).subject.endswith("2 notifications")


def test_compose_has_both_parts_and_the_one_click_headers() -> None:
    message = compose(
        Content("S", "plain body\n", "<p>html body</p>"),
        sender="Notes <n@example.com>",
        to="u@example.com",
        message_id="<1@example.com>",
        unsubscribe=LINKS.unsubscribe,
    )
    assert message["List-Unsubscribe"] == f"<{LINKS.unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] == "<1@example.com>"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content() == "plain body\n"
    assert html.get_content().strip() == "<p>html body</p>"
    bare = compose(
        Content("S", "t\n", "<p>h</p>"), sender="n@e.com", to="u@e.com", message_id="<2@e>",
        unsubscribe=None,
    )  # fmt: skip
    assert "List-Unsubscribe" not in bare
