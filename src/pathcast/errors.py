"""Domain errors that services raise; the API turns them into RFC 9457 problems.

Each carries a message key and parameters so the answer can be given in the caller's
language, plus the field or row it concerns.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class FieldError:
    """One problem with one input field (and, for imports, one row)."""

    field: str
    code: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    row: int | None = None


class PathcastError(Exception):
    """Base of the errors a service raises on purpose."""

    status = 400
    code = "error"

    def __init__(self, code: str | None = None, **params: Any) -> None:
        self.code = code or self.code
        self.params = params
        super().__init__(f"{self.code} {params}")


class NotFound(PathcastError):
    """The record does not exist, or the caller may not know that it does."""

    status = 404
    code = "not_found"


class PermissionDenied(PathcastError):
    """The caller may see the record but not do this to it."""

    status = 403
    code = "forbidden"


class Conflict(PathcastError):
    status = 409
    code = "conflict"


class TooManyRequests(PathcastError):
    """Over a rate limit; ``retry_after`` seconds tells when to try again."""

    status = 429
    code = "rate_limited"

    def __init__(self, code: str | None = None, *, retry_after: int = 60, **params: Any) -> None:
        self.retry_after = retry_after
        super().__init__(code, retry_after=retry_after, **params)


class PayloadTooLarge(PathcastError):
    status = 413
    code = "payload_too_large"


class Unauthenticated(PathcastError):
    status = 401
    code = "unauthenticated"


class InvalidInput(PathcastError):
    """Input that parsed but breaks a business rule; names each offending field."""

    status = 422
    code = "invalid_input"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__(self.code, fields=[error.field for error in errors])

    @classmethod
    def single(cls, field_name: str, code: str, **params: Any) -> InvalidInput:
        return cls([FieldError(field_name, code, params)])
