"""The typed ``info`` every resolver receives."""

import strawberry

from notes_bff.execution.context import Context

Info = strawberry.Info[Context, None]
