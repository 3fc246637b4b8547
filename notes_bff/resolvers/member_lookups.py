"""addMember's budgets of lookups that find no account, per user and per client IP.

addMember tells an owner that an address has no account (NOT_FOUND), and anyone signed in
can own a workspace: these budgets bound how fast anyone can learn which addresses are
unregistered. A lookup that finds an account costs nothing (it adds that user to the
workspace and notifies them, which is no quiet probe).
"""

from __future__ import annotations

from beanie import PydanticObjectId

from notes_bff.context import Context
from notes_bff.ratelimit import RateLimiter

Budget = tuple[RateLimiter, str]


async def _give_back(budgets: list[Budget]) -> None:
    for limiter, subject in budgets:
        await limiter.take(subject, -1)


class MemberLookup:
    """One lookup, spent before the account is looked up (so concurrent ones cannot
    overdraw); :meth:`found` gives it back."""

    def __init__(self, spent: list[Budget]) -> None:
        self.spent = spent

    @classmethod
    async def spend(cls, ctx: Context, viewer: PydanticObjectId) -> MemberLookup:
        """Spend one lookup of the viewer's and the client IP's budgets, or
        ``RATE_LIMITED`` (then neither is spent)."""
        if ctx.rate_limits is None:
            return cls([])
        per_user, per_ip = ctx.rate_limits.member_lookup, ctx.rate_limits.member_lookup_ip
        spent: list[Budget] = []
        for limiter, subject in ((per_user, str(viewer)), (per_ip, ctx.client_ip)):
            decision = await limiter.take(subject, 1)
            if not decision.allowed:
                await _give_back(spent)
                raise decision.error()
            spent.append((limiter, subject))
        return cls(spent)

    async def found(self) -> None:
        """The address has an account: only lookups that miss count."""
        await _give_back(self.spent)
