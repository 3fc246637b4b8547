"""The strawberry schema: the contract's Query, Mutation and Subscription roots."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import strawberry
from graphql.error import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from notes_bff.execution.document_cache import CachedDocuments
from notes_bff.execution.errors import ErrorCodes
from notes_bff.execution.event_execution import SharedEventExecutor
from notes_bff.execution.limits import Limits, OperationLimits
from notes_bff.execution.operations import OperationObserver
from notes_bff.execution.rate_limits import RateLimitExtension
from notes_bff.schema import enums  # noqa: F401 - registers the enums' GraphQL names
from notes_bff.schema.root import Mutation, Query
from notes_bff.schema.scalars import DATETIME_SCALAR
from notes_bff.schema.subscriptions import Subscription


class NotesSchema(strawberry.Schema):
    """A schema whose errors are logged by :class:`ErrorCodes`, each once, with its id."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logged (and masked) by ``ErrorCodes``; strawberry's own logging would repeat it."""


def build_schema(*, introspection: bool = True, limits: Limits | None = None) -> NotesSchema:
    """The schema; ``introspection=False`` refuses ``__schema``/``__type`` queries."""
    operation_limits = limits or Limits()
    # OperationObserver first: it wraps the others and sees the errors once ErrorCodes coded them.
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        OperationObserver,
        ErrorCodes,
        lambda: OperationLimits(operation_limits),
        RateLimitExtension,
        CachedDocuments,
    ]
    if not introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return NotesSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(scalar_map={datetime: DATETIME_SCALAR}),
        execution_context_class=SharedEventExecutor,
    )
