"""Extension hooks wrapped once per extension class run as strawberry's own wrapping runs
them: the same extensions, in the same order, sync or async alike, with the same arguments."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
)
from strawberry.types import ExecutionResult

from notes_bff.execution import hooks
from notes_bff.schema import build_schema

STRAWBERRY = {
    "operation": OperationContextManager,
    "parsing": ParsingContextManager,
    "validation": ValidationContextManager,
    "executing": ExecutingContextManager,
}
OURS = {
    "operation": hooks._Operation,
    "parsing": hooks._Parsing,
    "validation": hooks._Validation,
    "executing": hooks._Executing,
}


def test_the_served_schemas_hooks_are_the_same_as_strawberrys() -> None:
    for introspection in (True, False):
        extensions = build_schema(introspection=introspection).get_extensions()
        for phase, theirs in STRAWBERRY.items():
            expected = [(h.extension, h.is_async) for h in theirs(extensions).hooks]
            for _ in range(2):  # wrapped on first use, then reused
                assert [(h.extension, h.is_async) for h in OURS[phase](extensions).hooks] == (
                    expected
                )


class _Recorder(SchemaExtension):
    calls: list[str]

    def on_operation(self) -> Iterator[None]:
        self.calls.append("operation: before")
        yield
        self.calls.append("operation: after")

    async def on_execute(self) -> AsyncIterator[None]:
        self.calls.append("execute: before")
        yield
        self.calls.append("execute: after")

    def on_validate(self) -> None:  # a plain function: strawberry's own wrapping
        self.calls.append("validate")

    def on_stream_result(self, result: ExecutionResult) -> Iterator[None]:
        self.calls.append(f"stream: {result.data}")
        yield


async def test_generators_and_plain_functions_run_with_their_instance() -> None:
    first, second = _Recorder(), _Recorder()
    first.calls, second.calls = [], []
    extensions: list[SchemaExtension] = [first, second]
    with hooks._Operation(extensions):
        pass
    async with hooks._Executing(extensions):
        pass
    async with hooks._Validation(extensions):
        pass
    async with hooks._StreamResult(extensions, ExecutionResult(data={"a": 1}, errors=None)):
        pass
    for recorder in (first, second):
        assert recorder.calls == [
            "operation: before",
            "operation: after",
            "execute: before",
            "execute: after",
            "validate",
            "stream: {'a': 1}",
        ]
    with (
        pytest.raises(RuntimeError, match="failed to complete synchronously"),
        hooks._Executing(extensions),
    ):
        pass
