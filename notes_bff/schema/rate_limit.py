"""``Query.rateLimit``: the caller's budget after this operation."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from notes_bff.ratelimit import Decision
from notes_bff.response_cache.reads import not_cacheable
from notes_bff.schema.info import Info


@strawberry.type
class RateLimit:
    """The caller's budget after this operation, like GitHub's ``rateLimit``."""

    limit: int
    cost: int
    remaining: int
    reset_at: datetime

    @classmethod
    def of(cls, decision: Decision) -> RateLimit:
        """From the decision made for this operation."""
        return cls(
            limit=decision.limit,
            cost=decision.cost,
            remaining=decision.remaining,
            reset_at=datetime.fromtimestamp(decision.reset_at, UTC),
        )


@strawberry.type
class RateLimitQuery:
    """The rate-limit root field (a part of ``Query``)."""

    @strawberry.field(
        description=(
            "The caller's rate-limit budget after this operation (null when rate limiting "
            "did not run)."
        )
    )
    def rate_limit(self, info: Info) -> RateLimit | None:
        not_cacheable()  # the budget changes with every request
        rate = info.context.rate
        return RateLimit.of(rate) if rate else None
