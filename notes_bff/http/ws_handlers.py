"""Both websocket subprotocols, held to the same rules as HTTP.

An operation sent over ``graphql-transport-ws`` or ``graphql-ws`` goes through
:func:`~notes_bff.http.admission.admit` (document size, persisted and trusted documents),
then through the same schema extensions as an HTTP request (limits, cost, rate-limit points,
introspection switch, masking). A refusal is an ``error`` message for that operation, with
its ``extensions.code``; the connection stays open. Whatever else reaches the client carries
a code too: an error without one is masked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import structlog
from graphql import GraphQLFormattedError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage,
    Message,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage as LegacyError
from strawberry.subscriptions.protocols.graphql_ws.types import (
    OperationMessage,
    StartMessage,
)

from notes_bff.errors import AppError
from notes_bff.execution.errors import MASKED_MESSAGE
from notes_bff.http.admission import admit
from notes_bff.http.context import HttpContext
from notes_bff.http.sockets import CLOSE_FORBIDDEN
from notes_bff.persisted.protocol import PersistedQueryError, Resolved, operation_document

log = structlog.get_logger("notes_bff.websocket")


def _error(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extensions}}


def _coded(error: object, context: HttpContext) -> object:
    """``error`` if it carries an ``extensions.code``, else the masked error."""
    if isinstance(error, dict) and (error.get("extensions") or {}).get("code"):
        return error
    log.error("uncoded_websocket_error", request_id=context.request_id, error=repr(error)[:500])
    return _error(MASKED_MESSAGE, "INTERNAL_SERVER_ERROR", requestId=context.request_id)


def _masked(message: dict[str, Any], context: HttpContext) -> dict[str, Any]:
    """The message with every error in its payload coded (``error``, ``next``, ``data``)."""
    payload = message.get("payload")
    if message.get("type") == "error":
        if isinstance(payload, list):
            return {**message, "payload": [_coded(e, context) for e in payload]}
        return {**message, "payload": _coded(payload, context)}
    if isinstance(payload, dict) and payload.get("errors"):
        errors = [_coded(e, context) for e in payload["errors"]]
        return {**message, "payload": {**payload, "errors": errors}}
    return message


async def _session_alive(context: HttpContext) -> bool:
    """Whether the connection's session still stands (asked of Redis at most once a second
    per login, ``auth/revocation.py``); an ended one closes the connection with 4403."""
    if context.actor.claims is None:
        return True
    try:
        await context.actor.sessions.revocations.check(context.actor.claims)
    except AppError:
        await context.close_connection(CLOSE_FORBIDDEN, "Session ended")
        return False
    return True


async def _admitted(
    context: HttpContext, payload: object, running: int, limit: int | None
) -> Resolved | dict[str, Any]:
    """The operation's document, or the error that refuses it."""
    if not isinstance(payload, dict):
        return _error("The message's payload must be an object.", "BAD_USER_INPUT")
    if limit is not None and running >= limit:
        return _error(
            f"Subscription limit reached: at most {limit} operations at once on one "
            "connection; complete one first.",
            "RATE_LIMITED",
            retryAfter=1,
        )
    try:
        return await admit(context, payload.get("query"), payload.get("extensions"))
    except PersistedQueryError as refusal:
        return _error(refusal.message, refusal.code)


async def _admit_then_run(
    context: HttpContext,
    message: Any,
    running: int,
    limit: int | None,
    refuse: Callable[[dict[str, Any]], Awaitable[None]],
    run: Callable[[Any], Awaitable[None]],
) -> None:
    """Check the session, admit the operation's document, then ``run`` the message with the
    admitted text (inside :func:`operation_document`), or ``refuse`` it with a coded error."""
    if not await _session_alive(context):
        return
    outcome = await _admitted(context, message.get("payload"), running, limit)
    if isinstance(outcome, dict):
        await refuse(outcome)
        return
    with operation_document(outcome):
        await run({**message, "payload": {**message["payload"], "query": outcome.query}})


class TransportWSHandler(BaseGraphQLTransportWSHandler[HttpContext, None]):
    """``graphql-transport-ws`` with admission, coded limits and masking."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        """Admit the document, then run it as strawberry does."""
        if not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)  # strawberry closes the connection
            return

        async def refuse(error: dict[str, Any]) -> None:
            payload = [cast("GraphQLFormattedError", error)]
            await self.send_message(ErrorMessage(id=message["id"], type="error", payload=payload))

        limit = self.max_subscriptions_per_connection
        running = len(self.operations)
        await _admit_then_run(
            self.context, message, running, limit, refuse, super().handle_subscribe
        )

    async def send_message(self, message: Message) -> None:
        """Every error that leaves carries a code."""
        await super().send_message(_masked(message, self.context))  # type: ignore[arg-type]


class LegacyWSHandler(BaseGraphQLWSHandler[HttpContext, None]):
    """Legacy ``graphql-ws`` (subscriptions-transport-ws) with the same rules."""

    async def handle_start(self, message: StartMessage) -> None:
        """Admit the document, then run it as strawberry does."""
        if not self.connection_acknowledged:
            await super().handle_start(message)  # strawberry closes the connection
            return

        async def refuse(error: dict[str, Any]) -> None:
            payload = cast("GraphQLFormattedError", error)
            await self.send_message(LegacyError(id=message["id"], type="error", payload=payload))

        limit = self.max_subscriptions_per_connection
        running = len(self.tasks) - (message["id"] in self.tasks)
        await _admit_then_run(self.context, message, running, limit, refuse, super().handle_start)

    async def send_message(self, message: OperationMessage) -> None:
        """Every error that leaves carries a code."""
        await super().send_message(_masked(message, self.context))  # type: ignore[arg-type]
