"""Password hashing with Argon2id (argon2-cffi)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    """Hashes and verifies passwords off the event loop."""

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        # Verifying against this keeps unknown-email log-ins as slow as wrong passwords.
        self._dummy = self._hasher.hash("not a real password")

    async def hash(self, password: str) -> str:
        """The Argon2id hash of ``password``."""
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; with no hash, spends the same time and says no."""
        try:
            await asyncio.to_thread(self._hasher.verify, password_hash or self._dummy, password)
        except (VerificationError, InvalidHashError):
            return False
        return password_hash is not None
