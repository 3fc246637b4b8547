"""The typed ``info`` every resolver receives."""

import strawberry

from notes_bff.context import Context

Info = strawberry.Info[Context, None]
