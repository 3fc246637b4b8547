"""An executor that counts the selection sets it completes, per object type."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLObjectType
from graphql.pyutils import AwaitableOrValue, Path

from notes_bff.execution.plain_fields import PlainFieldsExecutor


class Counted:
    """Selection sets executed per object type (one per completed object), by graphql-core's
    path (``execute_fields``) or a plan's (``fill_object``)."""

    def __init__(self) -> None:
        self.types: dict[str, int] = {}

    def of(self, type_name: str) -> int:
        """How many objects of ``type_name`` were completed."""
        return self.types.get(type_name, 0)

    def executor(self, base: type[PlainFieldsExecutor]) -> type[PlainFieldsExecutor]:
        """``base``, counting into this."""
        counts = self.types

        class Counting(base):  # type: ignore[valid-type,misc]
            def execute_fields(
                self,
                parent_type: GraphQLObjectType,
                source_value: Any,
                path: Path | None,
                grouped_field_set: Any,
                position_context: Any,
            ) -> AwaitableOrValue[dict[str, Any]]:
                counts[parent_type.name] = counts.get(parent_type.name, 0) + 1
                return super().execute_fields(  # type: ignore[no-any-return]
                    parent_type, source_value, path, grouped_field_set, position_context
                )

            def fill_object(self, plan: Any, source: Any, path: Any, result: Any) -> None:
                counts[plan.type.name] = counts.get(plan.type.name, 0) + 1
                super().fill_object(plan, source, path, result)

        return Counting
