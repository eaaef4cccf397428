"""One error type for the whole platform.

A bad request becomes a 4xx with ``{"error": {"code", "message"}}``: ``code`` in English
for programs, ``message`` in Chinese for people.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """A business-rule or request error that is the caller's to fix."""

    status_code = 400

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).default_code
        if status is not None:
            self.status_code = status
        self.extra = extra

    default_code = "bad_request"

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        error.update(self.extra)
        return {"error": error}


class ValidationFailed(AppError):
    status_code = 422
    default_code = "validation_failed"


class NotFound(AppError):
    status_code = 404
    default_code = "not_found"


class Conflict(AppError):
    status_code = 409
    default_code = "conflict"


class Unauthorized(AppError):
    status_code = 401
    default_code = "unauthorized"


class Forbidden(AppError):
    status_code = 403
    default_code = "forbidden"


class TooLarge(AppError):
    status_code = 413
    default_code = "payload_too_large"


class RateLimited(AppError):
    status_code = 429
    default_code = "rate_limited"
