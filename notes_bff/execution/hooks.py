"""Strawberry's schema-extension hooks, wrapped once per extension class instead of per
operation.

For every operation strawberry builds a context manager per phase (operation, parsing,
validation, execution) and asks each extension for that phase's hook: it inspects the hook
function and wraps it with ``contextlib.contextmanager`` (a new decorated function, with
``functools.wraps``' copying) bound to the extension, four phases times seven extensions per
request. Here the inspection and the decorated function are made once per (extension class,
phase), and an operation only binds them to its extension instances: the same generator
functions run in the same order with the same arguments. Hooks that are plain functions (not
generators) keep strawberry's own wrapping.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    StreamResultContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import StreamExecutionResult

# (extension class, hook name) -> the decorated hook and whether it is async; None: the class
# does not override the hook; ``_OWN``: a plain function, wrapped by strawberry as before.
_OWN = object()
_factories: dict[tuple[type[SchemaExtension], str], tuple[Callable[..., Any], bool] | object] = {}


def _factory(cls: type[SchemaExtension], name: str) -> tuple[Callable[..., Any], bool] | object:
    hook = getattr(cls, name)
    if hook is getattr(SchemaExtension, name):
        return None
    if inspect.isgeneratorfunction(hook):
        return contextlib.contextmanager(hook), False
    if inspect.isasyncgenfunction(hook):
        return contextlib.asynccontextmanager(hook), True
    return _OWN


def _get_hook(self: ExtensionContextManagerBase, extension: SchemaExtension) -> WrappedHook | None:
    key = (type(extension), self.HOOK_NAME)
    try:
        known = _factories[key]
    except KeyError:
        known = _factories[key] = _factory(type(extension), self.HOOK_NAME)
    if known is None:
        return None
    if known is _OWN or not isinstance(known, tuple):
        return ExtensionContextManagerBase.get_hook(self, extension)
    decorated, is_async = known
    return WrappedHook(extension, functools.partial(decorated, extension), is_async)


class _Operation(OperationContextManager):
    get_hook = _get_hook


class _Parsing(ParsingContextManager):
    get_hook = _get_hook


class _Validation(ValidationContextManager):
    get_hook = _get_hook


class _Executing(ExecutingContextManager):
    get_hook = _get_hook


class _StreamResult(StreamResultContextManager):
    get_hook = _get_hook


class CachedHooksRunner(SchemaExtensionsRunner):
    """strawberry's runner, with each phase's hooks wrapped once per extension class."""

    def operation(self) -> OperationContextManager:
        """The operation's hooks."""
        return _Operation(self.extensions)

    def validation(self) -> ValidationContextManager:
        """The validation's hooks."""
        return _Validation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        """The parsing's hooks."""
        return _Parsing(self.extensions)

    def executing(self) -> ExecutingContextManager:
        """The execution's hooks."""
        return _Executing(self.extensions)

    def on_stream_result(self, result: StreamExecutionResult) -> StreamResultContextManager:
        """The hooks run on each result of a subscription or incremental delivery."""
        return _StreamResult(self.extensions, result)
