"""Notification preferences over HTTP: what they say is what users get, in the app and by
email (a real SMTP server), the one-click unsubscribe link, and the daily digest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from beanie import PydanticObjectId

from notes_bff.config import Settings
from notes_bff.keys import METRICS, REALTIME, REDIS
from notes_bff.models import OutboxEmail
from notes_bff.services.digest import DigestScheduler
from notes_bff.services.due_soon import DueSoonScheduler
from tests.conftest import Api
from tests.mail import Mailbox, html_of, text_of
from tests.ws import TRANSPORT_WS, GraphQLSocket

PREFERENCES = (
    "{ notificationPreferences { kinds { kind inApp email } mutedWorkspaceIds dailyDigest } }"
)
UPDATE = (
    "mutation($i: NotificationPreferencesInput!) { updateNotificationPreferences(input: $i) "
    "{ kinds { kind inApp email } mutedWorkspaceIds dailyDigest } }"
)
NOTIFICATIONS = "{ notifications(first: 20) { edges { node { kind message } } } }"
KINDS = ["MENTION", "ASSIGNED", "DUE_SOON", "MEMBER_ADDED"]


async def _kinds_in_app(api: Api, user: dict[str, Any]) -> list[str]:
    data = await api.ok(NOTIFICATIONS, token=user["token"])
    return [e["node"]["kind"] for e in data["notifications"]["edges"]]


async def _emailed_kinds(user: dict[str, Any]) -> list[str]:
    """The kinds of the notification emails queued for ``user`` (each is sent)."""
    queued = await OutboxEmail.find({"user_id": PydanticObjectId(user["id"])}).to_list()
    return sorted(m.values["kind"] for m in queued if "kind" in m.values)


async def _set(api: Api, user: dict[str, Any], **changes: Any) -> dict[str, Any]:
    data = await api.ok(UPDATE, {"i": changes}, token=user["token"])
    return dict(data["updateNotificationPreferences"])


async def test_everything_is_on_until_changed_and_changes_are_partial(mail_api: Api) -> None:
    user = await mail_api.sign_up()
    defaults = (await mail_api.ok(PREFERENCES, token=user["token"]))["notificationPreferences"]
    assert defaults == {
        "kinds": [{"kind": k, "inApp": True, "email": True} for k in KINDS],
        "mutedWorkspaceIds": [],
        "dailyDigest": False,
    }
    changed = await _set(mail_api, user, kinds=[{"kind": "MENTION", "email": False}])
    changed = await _set(mail_api, user, kinds=[{"kind": "ASSIGNED", "inApp": False}])
    assert changed["kinds"][:2] == [
        {"kind": "MENTION", "inApp": True, "email": False},
        {"kind": "ASSIGNED", "inApp": False, "email": True},
    ]
    assert (await mail_api.ok(PREFERENCES, token=user["token"]))["notificationPreferences"] == (
        changed
    )


async def test_bad_preference_changes_are_refused(mail_api: Api) -> None:
    user, stranger = await mail_api.sign_up(), await mail_api.sign_up()
    foreign = await mail_api.workspace(stranger)
    twice = [{"kind": "MENTION", "email": False}, {"kind": "MENTION", "inApp": False}]
    cases = [
        ({"kinds": twice}, "BAD_USER_INPUT"),
        ({"mutedWorkspaceIds": ["not-an-id"]}, "BAD_USER_INPUT"),
        ({"mutedWorkspaceIds": [foreign]}, "NOT_FOUND"),
    ]
    for changes, code in cases:
        reply = await mail_api.gql(UPDATE, {"i": changes}, token=user["token"])
        assert reply.codes == [code], changes
    assert (await mail_api.gql(PREFERENCES)).codes == ["UNAUTHENTICATED"]


async def test_preferences_choose_the_channels_of_each_kind(mail_api: Api) -> None:
    owner, member = await mail_api.sign_up(), await mail_api.sign_up()
    ws = await mail_api.workspace(owner)
    await _set(
        mail_api,
        member,
        kinds=[{"kind": "ASSIGNED", "inApp": False}, {"kind": "MENTION", "email": False}],
    )
    await mail_api.add(owner, ws, member, "EDITOR")
    await mail_api.note(
        owner, ws, title="Both", assigneeIds=[member["id"]], mentionIds=[member["id"]]
    )
    assert sorted(await _kinds_in_app(mail_api, member)) == ["MEMBER_ADDED", "MENTION"]
    assert await _emailed_kinds(member) == ["ASSIGNED", "MEMBER_ADDED"]


async def test_a_muted_workspace_notifies_neither_in_the_app_nor_by_email(
    mail_api: Api,
) -> None:
    owner, member = await mail_api.sign_up(), await mail_api.sign_up()
    muted, heard = await mail_api.workspace(owner, "Muted"), await mail_api.workspace(owner)
    await mail_api.add(owner, muted, member, "EDITOR")
    await mail_api.add(owner, heard, member, "EDITOR")
    assert (await _set(mail_api, member, mutedWorkspaceIds=[muted]))["mutedWorkspaceIds"] == [muted]
    await mail_api.note(owner, muted, title="Quiet", assigneeIds=[member["id"]])
    await mail_api.note(owner, heard, title="Loud", assigneeIds=[member["id"]])
    in_app = await mail_api.ok(NOTIFICATIONS, token=member["token"])
    messages = [e["node"]["message"] for e in in_app["notifications"]["edges"]]
    assert any("Loud" in m for m in messages) and not any("Quiet" in m for m in messages)
    assert (await _emailed_kinds(member)).count("ASSIGNED") == 1


async def test_a_user_online_gets_the_notification_in_the_app_and_no_email(mail_api: Api) -> None:
    owner, member = await mail_api.sign_up(), await mail_api.sign_up()
    ws = await mail_api.workspace(owner)
    await mail_api.add(owner, ws, member, "EDITOR")
    url = str(mail_api.client.make_url("/graphql"))
    live = await GraphQLSocket.open(
        mail_api.client.session, url, token=member["token"], protocol=TRANSPORT_WS
    )
    try:
        await mail_api.note(owner, ws, title="Live", assigneeIds=[member["id"]])
    finally:
        await live.close()
    assert "ASSIGNED" in await _kinds_in_app(mail_api, member)
    assert await _emailed_kinds(member) == ["MEMBER_ADDED"]  # from before they came online


async def test_the_unsubscribe_link_turns_the_kind_off_in_one_click(
    mail_api: Api, mailbox: Mailbox
) -> None:
    owner, member = await mail_api.sign_up(), await mail_api.sign_up()
    ws = await mail_api.workspace(owner, "<b>Bold</b> team")
    await mail_api.add(owner, ws, member, "VIEWER")
    (email,) = await mailbox.wait(member["email"])
    # User text is escaped in the HTML part and kept as is in the text part.
    assert "&lt;b&gt;Bold&lt;/b&gt; team" in html_of(email) and "<b>Bold" not in html_of(email)
    assert "<b>Bold</b> team" in text_of(email)
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = email["List-Unsubscribe"].strip("<>")
    path = link.removeprefix("http://127.0.0.1:8000")

    page = await mail_api.client.get(path)  # a person or a link scanner opening it
    assert page.status == 200 and "<form" in await page.text()
    kinds = (await mail_api.ok(PREFERENCES, token=member["token"]))["notificationPreferences"]
    assert {"kind": "MEMBER_ADDED", "inApp": True, "email": True} in kinds["kinds"]

    clicked = await mail_api.client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert clicked.status == 200
    kinds = (await mail_api.ok(PREFERENCES, token=member["token"]))["notificationPreferences"]
    assert {"kind": "MEMBER_ADDED", "inApp": True, "email": False} in kinds["kinds"]
    tampered = await mail_api.client.post(path[:-3] + "xyz")
    assert tampered.status == 400


async def test_the_daily_digest_replaces_emails_with_one_a_day(
    mail_api: Api, mailbox: Mailbox, settings: Settings
) -> None:
    owner, member = await mail_api.sign_up(), await mail_api.sign_up()
    ws = await mail_api.workspace(owner)
    assert (await _set(mail_api, member, dailyDigest=True))["dailyDigest"] is True
    await mail_api.add(owner, ws, member, "EDITOR")
    await mail_api.note(owner, ws, title="For the digest", assigneeIds=[member["id"]])
    assert await _emailed_kinds(member) == []  # nothing at once

    app = mail_api.client.server.app
    scheduler = DigestScheduler(app[REDIS], app[METRICS], settings)
    assert await scheduler.scan() == 0  # not before the digest hour of the member's day
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    tomorrow = hour + timedelta(days=1, hours=1)  # past the next 08:00 UTC, whenever now is
    assert await scheduler.scan(at=tomorrow) == 1
    (digest,) = await mailbox.wait(member["email"])
    assert digest["Subject"] == "Your daily digest: 2 notifications"
    assert "For the digest" in text_of(digest)
    assert "/email/unsubscribe?token=" in digest["List-Unsubscribe"]
    assert await scheduler.scan(at=tomorrow) == 0  # one a day


async def test_the_due_soon_scheduler_respects_preferences(
    mail_api: Api, settings: Settings
) -> None:
    owner, quiet, muting = [await mail_api.sign_up() for _ in range(3)]
    ws = await mail_api.workspace(owner)
    for member in (quiet, muting):
        await mail_api.add(owner, ws, member, "EDITOR")
    await _set(mail_api, quiet, kinds=[{"kind": "DUE_SOON", "inApp": False}])
    await _set(mail_api, muting, mutedWorkspaceIds=[ws])
    due = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    await mail_api.note(
        owner, ws, title="Soon", dueDate=due, assigneeIds=[quiet["id"], muting["id"]]
    )

    app = mail_api.client.server.app
    await DueSoonScheduler(app[REDIS], app[REALTIME], settings).scan()
    for _ in range(100):  # the scan (this one, or a server's own) has stored and queued
        if "DUE_SOON" in await _emailed_kinds(quiet):
            break
        await asyncio.sleep(0.05)
    assert "DUE_SOON" in await _emailed_kinds(quiet)
    assert "DUE_SOON" not in await _kinds_in_app(mail_api, quiet)
    assert "DUE_SOON" not in await _kinds_in_app(mail_api, muting)
    assert "DUE_SOON" not in await _emailed_kinds(muting)
