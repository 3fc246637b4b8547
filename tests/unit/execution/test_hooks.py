"""Extension hooks driven without context managers run as strawberry's own runner runs
them: the same hooks of the served schema, and, for hooks of every kind, the same calls in
the same order with the same arguments, the same exceptions given to each hook as the phase
is left (swallowed, replaced) and the same outcome."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

import pytest
from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import ExtensionContextManagerBase
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionResult

from notes_bff.execution.hooks import ASYNC, CachedHooksRunner, steps_of
from notes_bff.schema import build_schema

PHASES = ("operation", "parsing", "validation", "executing")
Runner = type[SchemaExtensionsRunner]
Scenario = Callable[[SchemaExtensionsRunner], Coroutine[Any, Any, None]]


def test_the_served_schemas_hooks_are_the_same_as_strawberrys() -> None:
    for introspection in (True, False):
        extensions = build_schema(introspection=introspection).get_extensions()
        theirs = SchemaExtensionsRunner(None, extensions)  # type: ignore[arg-type]
        classes = tuple(type(extension) for extension in extensions)
        for phase in PHASES:
            manager: ExtensionContextManagerBase = getattr(theirs, phase)()
            expected = [(h.extension, h.is_async) for h in manager.hooks]
            for _ in range(2):  # found on first use, then reused
                steps = steps_of(classes, manager.HOOK_NAME)
                assert [(extensions[i], kind in ASYNC) for i, _, kind in steps] == expected


class Recorder(SchemaExtension):
    """Hooks of every kind, recording what they are called with and what they are given."""

    def __init__(self, name: str, calls: list[str]) -> None:
        super().__init__()
        self.name = name
        self.calls = calls

    def __repr__(self) -> str:
        return f"Recorder({self.name})"

    def on_operation(self) -> Iterator[None]:
        self.calls.append(f"{self.name} operation: before")
        try:
            yield
        except BaseException as exc:
            self.calls.append(f"{self.name} operation: given {exc!r}")
            raise
        self.calls.append(f"{self.name} operation: after")

    async def on_execute(self) -> AsyncIterator[None]:
        self.calls.append(f"{self.name} execute: before")
        try:
            yield
        except BaseException as exc:
            self.calls.append(f"{self.name} execute: given {exc!r}")
            raise
        self.calls.append(f"{self.name} execute: after")

    def on_validate(self) -> None:  # a plain function
        self.calls.append(f"{self.name} validate")

    async def on_parse(self) -> None:  # a coroutine function
        self.calls.append(f"{self.name} parse")

    def on_stream_result(self, result: ExecutionResult) -> Iterator[None]:
        self.calls.append(f"{self.name} stream: {result.data}")
        yield


class Swallows(Recorder):
    """Swallows the ``ValueError`` the execution raised."""

    async def on_execute(self) -> AsyncIterator[None]:
        try:
            yield
        except ValueError as exc:
            self.calls.append(f"{self.name} execute: swallowed {exc!r}")


class Replaces(Recorder):
    """Raises a ``KeyError`` instead of the execution's ``ValueError``."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except ValueError as exc:
            raise KeyError("replaced") from exc


class FailsEntering(Recorder):
    """Fails before the operation."""

    def on_operation(self) -> Iterator[None]:
        raise LookupError("not entered")
        yield


async def _every_phase(runner: SchemaExtensionsRunner) -> None:
    async with runner.operation():
        async with runner.parsing():
            pass
        async with runner.validation():
            pass
        async with runner.executing():
            pass
        async with runner.on_stream_result(ExecutionResult(data={"a": 1}, errors=None)):
            pass
    with runner.operation():
        pass


async def _execution_raises(runner: SchemaExtensionsRunner) -> None:
    async with runner.operation(), runner.executing():
        raise ValueError("failed")


async def _sync_with_async_hooks(runner: SchemaExtensionsRunner) -> None:
    with runner.operation(), runner.executing():
        pass


@pytest.mark.parametrize(
    ("kinds", "scenario"),
    [
        ((Recorder, Recorder), _every_phase),
        ((Recorder, Recorder, Recorder), _execution_raises),
        ((Recorder, Swallows, Recorder), _execution_raises),
        ((Recorder, Replaces, Recorder), _execution_raises),
        ((Recorder, FailsEntering, Recorder), _execution_raises),
        ((Recorder, Recorder), _sync_with_async_hooks),
    ],
)
async def test_hooks_run_as_strawberry_runs_them(
    kinds: tuple[type[Recorder], ...], scenario: Scenario
) -> None:
    seen = []
    for runner_class in (SchemaExtensionsRunner, CachedHooksRunner):
        calls: list[str] = []
        extensions: list[SchemaExtension] = [kind(str(i), calls) for i, kind in enumerate(kinds)]
        try:
            await scenario(runner_class(None, extensions))  # type: ignore[arg-type]
            outcome = None
        except Exception as exc:
            outcome = (repr(exc), repr(exc.__cause__), repr(exc.__context__))
        seen.append((calls, outcome))
    assert seen[0] == seen[1]
    assert seen[0][0]  # the hooks ran
