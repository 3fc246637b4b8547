"""The one exception hierarchy whose codes reach clients as ``extensions.code``."""

from __future__ import annotations

from typing import Any, ClassVar

from beanie.exceptions import CollectionWasNotInitialized
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    ServerSelectionTimeoutError,
)

# Exceptions that mean "MongoDB did not answer" (or has not answered yet since start-up, or
# not in time: a secondary waiting for a consistency token beyond ``maxTimeMS``).
MONGO_OUTAGES = (
    ServerSelectionTimeoutError,
    ExecutionTimeout,
    AutoReconnect,
    NetworkTimeout,
    ConnectionFailure,
    CollectionWasNotInitialized,
)


class AppError(Exception):
    """An expected error: its message and code are safe to show to the client."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"
    http_status: ClassVar[int] = 200

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions

    def as_extensions(self) -> dict[str, Any]:
        """The ``extensions`` object of the GraphQL error."""
        return {"code": self.code, **self.extensions}


class Unauthenticated(AppError):
    """No valid access token where one is needed."""

    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "You must be signed in.") -> None:
        super().__init__(message)


class Forbidden(AppError):
    """Signed in, but the role is too low for the action."""

    code = "FORBIDDEN"


class NotFound(AppError):
    """The id does not exist or the viewer may not see it."""

    code = "NOT_FOUND"


class BadInput(AppError):
    """An invalid argument; ``field`` names the input field."""

    code = "BAD_USER_INPUT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)
        self.field = field


class Conflict(AppError):
    """A version mismatch or a duplicate."""

    code = "CONFLICT"


class ServiceUnavailable(AppError):
    """MongoDB (or Redis, where needed) did not answer."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503

    def __init__(self, message: str = "A backing service is unavailable; retry shortly.") -> None:
        super().__init__(message)
