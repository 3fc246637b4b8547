"""Password reset and email change over HTTP, with the emails read from a real SMTP server
(the embedded development one)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from beanie import PydanticObjectId

from notes_bff.models import AccountToken, TokenPurpose
from notes_bff.models.clock import now
from notes_bff.services.account_tokens import INVALID_LINK
from tests.conftest import Api
from tests.mail import Mailbox, link_token, text_of
from tests.ws import TRANSPORT_WS, Closed, GraphQLSocket

REQUEST = "mutation($e: String!) { requestPasswordReset(email: $e) }"
RESET = (
    "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) "
    "{ accessToken refreshToken user { email } } }"
)
LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }"
REFRESH = "mutation($t: String) { refreshSession(refreshToken: $t) { accessToken } }"
CHANGE = "mutation($e: String!, $p: String!) { changeEmail(newEmail: $e, password: $p) }"
CONFIRM = "mutation($t: String!) { confirmEmailChange(token: $t) { id email } }"
ME = "{ me { id email } }"
PASSWORD = "correct horse"
RESET_PATH = "/settings/reset-password"
CONFIRM_PATH = "/settings/confirm-email"


async def _close_code(live: GraphQLSocket, op: str) -> int | None:
    """Listen, as a client does, until the server closes the socket (within 5 s)."""
    with pytest.raises(Closed) as closed:
        await live.next(op, timeout=5)
    return closed.value.code


async def _reset_link(api: Api, mailbox: Mailbox, address: str) -> str:
    assert await api.ok(REQUEST, {"e": address}) == {"requestPasswordReset": True}
    (message,) = await mailbox.wait(address)
    assert message["Subject"] == "Reset your Notes password"
    assert "List-Unsubscribe" not in message  # an account email, not a newsletter
    return link_token(message, RESET_PATH)


async def test_a_reset_link_sets_the_password_and_ends_every_session(
    api: Api, mail_api: Api, mailbox: Mailbox
) -> None:
    user = await mail_api.sign_up()
    # A live websocket on another worker (the session's application).
    url = str(api.client.make_url("/graphql"))
    live = await GraphQLSocket.open(
        api.client.session, url, token=user["token"], protocol=TRANSPORT_WS
    )
    op = await live.subscribe("subscription { notifications { id } }")
    token = await _reset_link(mail_api, mailbox, user["email"])
    closing = asyncio.create_task(_close_code(live, op))

    reset = (await mail_api.ok(RESET, {"t": token, "p": "a new password"}))["resetPassword"]
    assert reset["user"]["email"] == user["email"]
    assert await closing == 4403  # the old session's websocket, on the other worker
    assert (await mail_api.gql(ME, token=user["token"])).codes == ["UNAUTHENTICATED"]
    assert (await mail_api.gql(REFRESH, {"t": user["refresh"]})).codes == ["UNAUTHENTICATED"]
    assert (await mail_api.ok(ME, token=reset["accessToken"]))["me"]["id"] == user["id"]
    old = {"i": {"email": user["email"], "password": PASSWORD}}
    assert (await mail_api.gql(LOG_IN, old)).codes == ["UNAUTHENTICATED"]
    new = {"i": {"email": user["email"], "password": "a new password"}}
    assert await mail_api.ok(LOG_IN, new)
    # Single use.
    again = await mail_api.gql(RESET, {"t": token, "p": "another password"})
    assert again.codes == ["BAD_USER_INPUT"]
    assert again.errors[0]["message"] == INVALID_LINK


async def test_a_weak_password_leaves_the_link_usable(mail_api: Api, mailbox: Mailbox) -> None:
    user = await mail_api.sign_up()
    token = await _reset_link(mail_api, mailbox, user["email"])
    weak = await mail_api.gql(RESET, {"t": token, "p": "short"})
    assert weak.codes == ["BAD_USER_INPUT"]
    assert weak.errors[0]["extensions"]["field"] == "newPassword"
    assert await mail_api.ok(RESET, {"t": token, "p": "long enough now"})


async def test_an_expired_or_superseded_reset_link_is_refused(
    mail_api: Api, mailbox: Mailbox
) -> None:
    user = await mail_api.sign_up()
    first = await _reset_link(mail_api, mailbox, user["email"])
    assert await mail_api.ok(REQUEST, {"e": user["email"]})
    second = link_token((await mailbox.wait(user["email"], 2))[-1], RESET_PATH)
    # A newer link replaces the older one.
    assert (await mail_api.gql(RESET, {"t": first, "p": "a new password"})).codes == [
        "BAD_USER_INPUT"
    ]
    # The clock moves past the link's expiry.
    await AccountToken.find(
        {"user_id": PydanticObjectId(user["id"]), "purpose": TokenPurpose.PASSWORD_RESET}
    ).update({"$set": {"expires_at": now() - timedelta(seconds=1)}})
    assert (await mail_api.gql(RESET, {"t": second, "p": "a new password"})).codes == [
        "BAD_USER_INPUT"
    ]


async def test_unknown_addresses_get_the_same_answer_and_no_email(
    mail_api: Api, mailbox: Mailbox
) -> None:
    user = await mail_api.sign_up()
    unknown = "nobody-" + user["email"]
    for address in (unknown, user["email"]):
        reply = await mail_api.gql(REQUEST, {"e": address})
        assert (reply.status, reply.body) == (200, {"data": {"requestPasswordReset": True}})
    await mailbox.wait(user["email"])  # queued after the unknown one's would have been
    assert mailbox.messages(unknown) == []


async def test_reset_requests_are_limited_per_address_and_per_client(
    mail_api: Api, other_app: Any, mailbox: Mailbox
) -> None:
    user = await mail_api.sign_up()
    for _ in range(3):  # NOTES_BFF_PASSWORD_RESET_REQUESTS
        assert await mail_api.ok(REQUEST, {"e": user["email"]})
    refused = await mail_api.gql(REQUEST, {"e": user["email"]})
    assert refused.codes == ["RATE_LIMITED"]
    # The same for an address without an account: the limit reveals nothing.
    for _ in range(3):
        assert await mail_api.ok(REQUEST, {"e": "nobody-" + user["email"]})
    assert (await mail_api.gql(REQUEST, {"e": "nobody-" + user["email"]})).codes == ["RATE_LIMITED"]
    assert len(await mailbox.wait(user["email"], 3)) == 3
    # Per client IP, over any addresses.
    async with other_app(
        password_reset_requests_per_ip=2, password_reset_period_seconds=3599
    ) as limited:
        for n in range(2):
            assert await limited.ok(REQUEST, {"e": f"ip-{n}-{user['email']}"})
        assert (await limited.gql(REQUEST, {"e": "ip-3-" + user["email"]})).codes == [
            "RATE_LIMITED"
        ]


async def test_changing_the_email_needs_the_password_and_the_new_address(
    mail_api: Api, mailbox: Mailbox
) -> None:
    user = await mail_api.sign_up()
    new_address = "new-" + user["email"]
    wrong = await mail_api.gql(
        CHANGE, {"e": new_address, "p": "wrong password"}, token=user["token"]
    )
    assert wrong.codes == ["BAD_USER_INPUT"]
    assert wrong.errors[0]["extensions"]["field"] == "password"
    anonymous = await mail_api.gql(CHANGE, {"e": new_address, "p": PASSWORD})
    assert anonymous.codes == ["UNAUTHENTICATED"]

    assert await mail_api.ok(CHANGE, {"e": new_address, "p": PASSWORD}, token=user["token"])
    (notice,) = await mailbox.wait(user["email"])
    assert new_address in text_of(notice)
    (confirmation,) = await mailbox.wait(new_address)
    token = link_token(confirmation, CONFIRM_PATH)
    # Nothing changes before the new address confirms.
    assert (await mail_api.ok(ME, token=user["token"]))["me"]["email"] == user["email"]

    confirmed = await mail_api.ok(CONFIRM, {"t": token}, token=user["token"])
    assert confirmed["confirmEmailChange"] == {"id": user["id"], "email": new_address}
    assert await mail_api.ok(LOG_IN, {"i": {"email": new_address, "password": PASSWORD}})
    old = {"i": {"email": user["email"], "password": PASSWORD}}
    assert (await mail_api.gql(LOG_IN, old)).codes == ["UNAUTHENTICATED"]
    assert (await mail_api.gql(CONFIRM, {"t": token})).codes == ["BAD_USER_INPUT"]


async def test_an_email_change_to_a_taken_address_or_with_an_expired_link_is_refused(
    mail_api: Api, mailbox: Mailbox
) -> None:
    user, other = await mail_api.sign_up(), await mail_api.sign_up()
    taken = await mail_api.gql(CHANGE, {"e": other["email"], "p": PASSWORD}, token=user["token"])
    assert taken.codes == ["CONFLICT"]
    same = await mail_api.gql(CHANGE, {"e": user["email"], "p": PASSWORD}, token=user["token"])
    assert same.codes == ["BAD_USER_INPUT"]
    bad = await mail_api.gql(CHANGE, {"e": "not an email", "p": PASSWORD}, token=user["token"])
    assert bad.codes == ["BAD_USER_INPUT"]

    new_address = "later-" + user["email"]
    assert await mail_api.ok(CHANGE, {"e": new_address, "p": PASSWORD}, token=user["token"])
    token = link_token((await mailbox.wait(new_address))[0], CONFIRM_PATH)
    await AccountToken.find({"new_email": new_address}).update(
        {"$set": {"expires_at": now() - timedelta(seconds=1)}}
    )
    assert (await mail_api.gql(CONFIRM, {"t": token})).codes == ["BAD_USER_INPUT"]
    assert (await mail_api.ok(ME, token=user["token"]))["me"]["email"] == user["email"]


async def test_a_scheduled_deletion_is_announced_by_email(mail_api: Api, mailbox: Mailbox) -> None:
    user = await mail_api.sign_up("Leaving")
    await mail_api.ok(
        "mutation($p: String!) { deleteMyAccount(password: $p) { scheduledFor } }",
        {"p": PASSWORD},
        token=user["token"],
    )
    (message,) = await mailbox.wait(user["email"])
    assert message["Subject"] == "Your Notes account will be erased"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "will be erased on " in text and "cancel the deletion" in text
    assert await mail_api.ok("mutation { cancelAccountDeletion }", token=user["token"])
