"""Every GraphQL error gets an ``extensions.code``; unexpected ones are masked and logged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import structlog
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import get_operation_ast, get_variable_values
from graphql.error import GraphQLError
from graphql.validation import ValidationContext, ValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionContext
from strawberry.types.execution import ExecutionResult as StrawberryExecutionResult

from notes_bff.errors import MONGO_OUTAGES, AppError, ServiceUnavailable
from notes_bff.redis_guard import REDIS_OUTAGES

log = structlog.get_logger("notes_bff.errors")

MASKED_MESSAGE = "Unexpected error."
COERCION_ERRORS = (GraphQLError, ValueError, TypeError)
# The request names no runnable operation, or one of a type this transport does not run
# (a query over the legacy graphql-ws protocol, which runs subscriptions only).
OPERATION_CHOICE_ERRORS = (InvalidOperationTypeError, CannotGetOperationTypeError)
# graphql-core's limit on the errors of one coercion of the variables (``Executor.build``).
MAX_COERCION_ERRORS = 50


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


class HideSuggestions(ValidationRule):
    """Turns on graphql-core's ``hide_suggestions`` for the validation it takes part in.

    strawberry calls ``validate`` without that argument; the rules read the flag from their
    shared context while they visit the document, after every rule has been constructed.
    """

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        context._hide_suggestions = True


def _variable_errors(ctx: ExecutionContext) -> list[GraphQLError] | None:
    """The errors of coercing the operation's variables, by graphql-core without suggestions.

    graphql-core stops before execution when the variables do not coerce; this gives the
    same errors again, with ``hide_suggestions``. ``None`` when the variables coerce.
    """
    document = ctx.graphql_document
    operation = get_operation_ast(document, ctx.operation_name) if document else None
    if operation is None:
        return None
    coerced = get_variable_values(
        ctx.schema._schema,
        operation.variable_definitions or (),
        ctx.variables or {},
        max_errors=MAX_COERCION_ERRORS,
        hide_suggestions=True,
    )
    return coerced if isinstance(coerced, list) else None


class ErrorCodes(SchemaExtension):
    """Rewrites each operation's errors through :func:`classify`.

    Without suggestions (``NOTES_BFF_FIELD_SUGGESTIONS``, off in production), no error names a
    field, argument, type or enum value the client did not write ("Did you mean …?"): the
    validation runs with :class:`HideSuggestions`, and the errors of variables that do not
    coerce are made again by graphql-core with ``hide_suggestions``.
    """

    executing = False

    def _hides_suggestions(self) -> bool:
        settings = getattr(self.execution_context.context, "settings", None)
        return settings is not None and not settings.suggestions_enabled

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
        errors = result.errors
        if self.executing and result.data is None and self._hides_suggestions():
            errors = _variable_errors(ctx) or errors
        request_id = getattr(ctx.context, "request_id", "")
        result.errors = [classify(e, phase, request_id) for e in errors]

    def on_operation(self) -> Iterator[None]:
        yield
        self._rewrite(self.execution_context.result)

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if self._hides_suggestions():
            ctx.validation_rules = (HideSuggestions, *ctx.validation_rules)
        yield

    def on_execute(self) -> Iterator[None]:
        """Reached once the operation validated: what fails now, before any field, is the
        coercion of its variables."""
        self.executing = True
        yield

    def on_stream_result(self, result: object) -> Iterator[None]:
        """Subscription events: the same codes and masking as queries."""
        self._rewrite(result)
        yield
