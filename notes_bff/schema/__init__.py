"""The strawberry schema: ``Query``, ``Mutation`` and ``Subscription`` composed from each
domain's root fields, run through the execution pipeline (``notes_bff.execution``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import strawberry
from graphql.error import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from notes_bff.execution.consistency import ConsistencyTokenExtension
from notes_bff.execution.document_cache import CachedDocuments
from notes_bff.execution.errors import ErrorCodes
from notes_bff.execution.event_execution import SharedEventExecutor
from notes_bff.execution.hooks import CachedHooksRunner
from notes_bff.execution.limits import Limits, OperationLimits
from notes_bff.execution.operations import OperationObserver
from notes_bff.execution.rate_limits import RateLimitExtension
from notes_bff.execution.response_cache import ResponseCacheExtension
from notes_bff.schema import enums  # noqa: F401 - registers the enums' GraphQL names
from notes_bff.schema.account import AccountMutation, AccountQuery
from notes_bff.schema.auth import AuthMutation
from notes_bff.schema.collab import CollabMutation, CollabQuery
from notes_bff.schema.dashboard import DashboardQuery
from notes_bff.schema.notes import NotesMutation, NotesQuery
from notes_bff.schema.notifications import NotificationsMutation, NotificationsQuery
from notes_bff.schema.preferences import PreferencesMutation, PreferencesQuery
from notes_bff.schema.privacy import PrivacyMutation
from notes_bff.schema.rate_limit import RateLimitQuery
from notes_bff.schema.recovery import RecoveryMutation
from notes_bff.schema.scalars import DATETIME_SCALAR
from notes_bff.schema.search import SearchQuery, SuggestionMutation
from notes_bff.schema.subscriptions import Subscription
from notes_bff.schema.users import UsersQuery
from notes_bff.schema.workspaces import WorkspacesMutation, WorkspacesQuery


@strawberry.type
class Query(
    UsersQuery,
    WorkspacesQuery,
    NotesQuery,
    RateLimitQuery,
    DashboardQuery,
    NotificationsQuery,
    SearchQuery,
    CollabQuery,
    PreferencesQuery,
    AccountQuery,
):
    """Reads."""


@strawberry.type
class Mutation(
    AuthMutation,
    WorkspacesMutation,
    NotesMutation,
    NotificationsMutation,
    CollabMutation,
    SuggestionMutation,
    PreferencesMutation,
    RecoveryMutation,
    AccountMutation,
    PrivacyMutation,
):
    """Writes."""


class NotesSchema(strawberry.Schema):
    """A schema whose errors are logged by :class:`ErrorCodes`, each once, with its id."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logged (and masked) by ``ErrorCodes``; strawberry's own logging would repeat it."""

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        """strawberry's runner with the hooks wrapped once per extension class
        (``execution/hooks.py``)."""
        return CachedHooksRunner(execution_context=execution_context, extensions=extensions)


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
        ConsistencyTokenExtension,
        ResponseCacheExtension,
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
