"""Strawberry's schema-extension hooks, run without a context manager per hook.

For every operation strawberry builds a context manager per phase (operation, parsing,
validation, execution): it asks each extension for that phase's hook, wraps each hook with
``contextlib.contextmanager`` and enters them on a ``contextlib.AsyncExitStack`` (30 us of
every request for the served schema's fourteen hooks). Here which extensions have a hook,
and of what kind, is found once per list of extension classes and phase, and a phase
drives the hooks' generators itself (8 us). The same hooks run in the same order with the
same arguments and are left in reverse order, as strawberry's exit stack leaves them: each
is given the exception the block raised, or the one a hook left before it raised instead,
or none after a hook that swallowed it (the block's exception then still leaves the phase);
a hook that fails while the phase is entered leaves those entered before it as they are.
"""

from __future__ import annotations

import inspect
from asyncio import iscoroutinefunction
from collections.abc import AsyncGenerator, Callable, Generator
from types import TracebackType
from typing import Any, NoReturn, TypeVar

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    StreamResultContextManager,
    ValidationContextManager,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext, StreamExecutionResult

# What a hook is: a generator function (it yields once: before, the phase, after), or a
# plain function called before the phase; the asynchronous ones need ``async with``.
GENERATOR, ASYNC_GENERATOR, FUNCTION, ASYNC_FUNCTION = range(4)
ASYNC = (ASYNC_GENERATOR, ASYNC_FUNCTION)
# One hook of a phase: the index of its extension, the function, what it is.
Step = tuple[int, Callable[..., Any], int]
_steps: dict[tuple[tuple[type[SchemaExtension], ...], str], tuple[Step, ...]] = {}
P = TypeVar("P", bound="_Phase")


def _kind(hook: Callable[..., Any]) -> int:
    if inspect.isgeneratorfunction(hook):
        return GENERATOR
    if inspect.isasyncgenfunction(hook):
        return ASYNC_GENERATOR
    return ASYNC_FUNCTION if iscoroutinefunction(hook) else FUNCTION


def steps_of(classes: tuple[type[SchemaExtension], ...], name: str) -> tuple[Step, ...]:
    """The hooks called ``name`` of extensions of ``classes``, in order (found once)."""
    try:
        return _steps[classes, name]
    except KeyError:
        default = getattr(SchemaExtension, name)
        hooks = [(i, getattr(cls, name)) for i, cls in enumerate(classes)]
        found = _steps[classes, name] = tuple(
            (i, hook, _kind(hook)) for i, hook in hooks if hook is not default
        )
        return found


def _settled(raised: BaseException, value: BaseException, tb: TracebackType | None) -> bool | None:
    """What a hook's generator raised when ``value`` was thrown into it, read as contextlib
    reads it: False, ``value`` goes on (its traceback as it was); True, the generator
    returned (``value`` is suppressed); None, what it raised goes on instead."""
    if raised is value or (
        isinstance(raised, RuntimeError)
        and isinstance(value, StopIteration | StopAsyncIteration)
        and raised.__cause__ is value
    ):
        value.__traceback__ = tb
        return False
    if isinstance(raised, StopIteration | StopAsyncIteration):
        return True
    return None


def _raise(exc: BaseException) -> NoReturn:
    """Raise what a hook raised, its ``__context__`` as the hook left it (as ExitStack)."""
    context = exc.__context__
    try:
        raise exc
    finally:
        exc.__context__ = context


class _Unwinding:
    """The exception passed down the hooks as a phase leaves them (as ExitStack does): the
    block's, none once a hook swallowed it, or the one a hook raised instead."""

    __slots__ = ("raising", "tb", "value")

    def __init__(self, value: BaseException | None, tb: TracebackType | None) -> None:
        self.value, self.tb, self.raising = value, tb, False

    def left(self, swallowed: bool) -> None:
        if swallowed:
            self.value, self.tb, self.raising = None, None, False

    def failed(self, raised: BaseException) -> None:
        self.value, self.tb, self.raising = raised, raised.__traceback__, True

    def finish(self) -> None:
        """Raise what a hook raised instead (the block's own exception leaves the phase
        by itself)."""
        if self.raising and self.value is not None:
            _raise(self.value)


def _leave(
    gen: Generator[None, None, None], value: BaseException | None, tb: TracebackType | None
) -> bool:
    """Resume a generator hook after the phase; True if it suppressed ``value``."""
    if value is None:
        try:
            next(gen)
        except StopIteration:
            return False
        raise RuntimeError("generator didn't stop")
    try:
        gen.throw(value)
    except BaseException as raised:
        settled = _settled(raised, value, tb)
        if settled is None:
            raise
        return settled
    raise RuntimeError("generator didn't stop after throw()")


async def _aleave(
    gen: AsyncGenerator[None, None], value: BaseException | None, tb: TracebackType | None
) -> bool:
    """:func:`_leave` for an asynchronous generator hook."""
    if value is None:
        try:
            await anext(gen)
        except StopAsyncIteration:
            return False
        raise RuntimeError("generator didn't stop")
    try:
        await gen.athrow(value)
    except BaseException as raised:
        settled = _settled(raised, value, tb)
        if settled is None:
            raise
        return settled
    raise RuntimeError("generator didn't stop after athrow()")


class _Phase(ExtensionContextManagerBase):
    """One phase's hooks (see the module's docstring); ``args`` follow the extension in
    every call (the result, for ``on_stream_result``)."""

    def __init__(self, extensions: list[SchemaExtension], steps: tuple[Step, ...], *args: Any):
        self.extensions = extensions
        self.steps = steps
        self.args = args
        # The generators entered, each with whether it is asynchronous.
        self.entered: list[tuple[Any, bool]] = []

    def _enter(self, index: int, hook: Callable[..., Any], kind: int) -> Any:
        """Call one hook; a generator hook runs to its ``yield`` (the caller awaits an
        asynchronous one's first step)."""
        called = hook(self.extensions[index], *self.args)
        if kind == GENERATOR:
            try:
                next(called)
            except StopIteration:
                raise RuntimeError("generator didn't yield") from None
            self.entered.append((called, False))
        elif kind == ASYNC_GENERATOR:
            self.entered.append((called, True))
            return anext(called)
        return called

    def __enter__(self) -> None:
        for index, hook, kind in self.steps:
            if kind in ASYNC:
                raise RuntimeError(
                    f"SchemaExtension hook {self.extensions[index]}.{self.HOOK_NAME} "
                    "failed to complete synchronously."
                )
            self._enter(index, hook, kind)

    async def __aenter__(self) -> None:
        for step in self.steps:
            called = self._enter(*step)
            if step[2] == ASYNC_GENERATOR:
                try:
                    await called
                except StopAsyncIteration:
                    raise RuntimeError("generator didn't yield") from None
            elif step[2] == ASYNC_FUNCTION:
                await called

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        unwinding = _Unwinding(exc_val, exc_tb)
        for gen, _ in reversed(self.entered):
            try:
                unwinding.left(_leave(gen, unwinding.value, unwinding.tb))
            except BaseException as raised:
                unwinding.failed(raised)
        unwinding.finish()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        unwinding = _Unwinding(exc_val, exc_tb)
        for gen, is_async in reversed(self.entered):
            value, tb = unwinding.value, unwinding.tb
            try:
                unwinding.left(
                    await _aleave(gen, value, tb) if is_async else _leave(gen, value, tb)
                )
            except BaseException as raised:
                unwinding.failed(raised)
        unwinding.finish()


class _Operation(_Phase, OperationContextManager):
    pass


class _Parsing(_Phase, ParsingContextManager):
    pass


class _Validation(_Phase, ValidationContextManager):
    pass


class _Executing(_Phase, ExecutingContextManager):
    pass


class _StreamResult(_Phase, StreamResultContextManager):
    pass


class CachedHooksRunner(SchemaExtensionsRunner):
    """strawberry's runner, with each phase's hooks found once per list of extension
    classes and driven without context managers (see the module's docstring)."""

    def __init__(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension] | None = None
    ) -> None:
        super().__init__(execution_context, extensions)
        self.classes = tuple(type(extension) for extension in self.extensions)

    def _phase(self, phase: type[P], *args: Any) -> P:
        return phase(self.extensions, steps_of(self.classes, phase.HOOK_NAME), *args)

    def operation(self) -> OperationContextManager:
        """The operation's hooks."""
        return self._phase(_Operation)

    def validation(self) -> ValidationContextManager:
        """The validation's hooks."""
        return self._phase(_Validation)

    def parsing(self) -> ParsingContextManager:
        """The parsing's hooks."""
        return self._phase(_Parsing)

    def executing(self) -> ExecutingContextManager:
        """The execution's hooks."""
        return self._phase(_Executing)

    def on_stream_result(self, result: StreamExecutionResult) -> StreamResultContextManager:
        """The hooks run on each result of a subscription or incremental delivery."""
        return self._phase(_StreamResult, result)
