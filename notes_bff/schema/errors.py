"""Every GraphQL error gets an ``extensions.code``; unexpected ones are masked and logged."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import structlog
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.execution import ExecutionResult as StrawberryExecutionResult

from notes_bff.errors import MONGO_OUTAGES, AppError, ServiceUnavailable
from notes_bff.redis_guard import REDIS_OUTAGES

log = structlog.get_logger("notes_bff.errors")

MASKED_MESSAGE = "Unexpected error."
COERCION_ERRORS = (GraphQLError, ValueError, TypeError)
# The request names no runnable operation, or one of a type this transport does not run
# (a query over the legacy graphql-ws protocol, which runs subscriptions only).
OPERATION_CHOICE_ERRORS = (InvalidOperationTypeError, CannotGetOperationTypeError)
# graphql-core's hint at names that exist, which tells a prober what the schema holds.
_SUGGESTION = re.compile(r" Did you mean .*\?$")


def _with(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def classify(
    error: GraphQLError, phase: str, request_id: str, *, force_mask: bool = False
) -> GraphQLError:
    """The client-safe version of ``error`` with its ``extensions.code``.

    ``force_mask`` masks whatever is not an expected error (for errors that escaped the
    phase they were raised in, so their origin is unknown).
    """
    original = error.original_error
    if isinstance(original, (*MONGO_OUTAGES, *REDIS_OUTAGES)):
        log.warning("backing_service_unavailable", request_id=request_id, error=str(original))
        original = ServiceUnavailable()
    if isinstance(original, AppError):
        return _with(error, original.message, original.as_extensions())
    if isinstance(original, OPERATION_CHOICE_ERRORS):
        return _with(error, error.message, {"code": "BAD_USER_INPUT"})
    if force_mask:
        return _masked(error, original, request_id)
    if original is None and (error.extensions or {}).get("code"):
        return error  # already coded (operation limits)
    if original is None and phase == "parse" and "Parsing aborted" in error.message:
        message = error.message.replace("Parsing aborted.", "").strip()
        return _with(
            error, f"The operation is too complex: {message}", {"code": "QUERY_TOO_COMPLEX"}
        )
    if original is None and phase in ("parse", "validate"):
        code = "GRAPHQL_PARSE_FAILED" if phase == "parse" else "GRAPHQL_VALIDATION_FAILED"
        return _with(error, error.message, {**(error.extensions or {}), "code": code})
    if error.path is None and (original is None or isinstance(original, COERCION_ERRORS)):
        # graphql-core's errors before execution: variable values that do not coerce.
        return _with(error, error.message, {"code": "BAD_USER_INPUT"})
    return _masked(error, original, request_id)


def _masked(error: GraphQLError, original: BaseException | None, request_id: str) -> GraphQLError:
    """INTERNAL_SERVER_ERROR with the request id; the traceback goes to the log only."""
    log.error(
        "unexpected_error", request_id=request_id, path=error.path, exc_info=original or error
    )
    return _with(error, MASKED_MESSAGE, {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id})


class ErrorCodes(SchemaExtension):
    """Rewrites each operation's errors through :func:`classify`."""

    def _rewrite(self, result: object) -> None:
        if not isinstance(result, GraphQLExecutionResult | StrawberryExecutionResult):
            return
        if not result.errors:
            return
        ctx = self.execution_context
        if ctx.graphql_document is None:
            phase = "parse"
        elif ctx.pre_execution_errors:
            phase = "validate"
        else:
            phase = "execute"
        request_id = getattr(ctx.context, "request_id", "")
        errors = [classify(e, phase, request_id) for e in result.errors]
        settings = getattr(ctx.context, "settings", None)
        if phase == "validate" and settings is not None and not settings.suggestions_enabled:
            errors = [_with(e, _SUGGESTION.sub("", e.message), e.extensions or {}) for e in errors]
        result.errors = errors

    def on_operation(self) -> Iterator[None]:
        yield
        self._rewrite(self.execution_context.result)

    def on_stream_result(self, result: object) -> Iterator[None]:
        """Subscription events: the same codes and masking as queries."""
        self._rewrite(result)
        yield
