"""The error taxonomy of the library, the ``reds`` command and the service (reds/status.h), as exceptions."""

from __future__ import annotations

from typing import Any


class Error(Exception):
    """An error of REDS: ``code`` names its kind, ``message`` says what is wrong, ``path`` is the JSON
    Pointer of the offending value in the request (``"/network/layers/2/units"``), or None.

    ``str(error)`` reads like the ``reds`` command's error line; ``error.to_dict()`` is the contract's JSON
    error object, as the service answers it.
    """

    code: str = "internal"

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message, path)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.code}{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.path:
            error["path"] = self.path
        return {"error": error}


class InvalidArgumentError(Error, ValueError):
    """The input breaks a rule: of the plan contract (malformed JSON, a wrong type, a bad value,
    inconsistent levels) or of the knapsack problem (a negative capacity, a non-finite profit)."""

    code = "invalid_argument"


class ResourceExhaustedError(Error):
    """The input is valid but too large to handle (nesting depth, memory)."""

    code = "resource_exhausted"


class DeadlineExceededError(Error):
    """The time limit passed before any plan was found (with a plan, the answer is a ``feasible`` one)."""

    code = "deadline_exceeded"


class InternalError(Error, RuntimeError):
    """A bug of REDS: one of its invariants failed. Never the caller's fault; please report it."""

    code = "internal"


_ERRORS_BY_CODE = {
    error.code: error
    for error in (InvalidArgumentError, ResourceExhaustedError, DeadlineExceededError, InternalError)
}


def error_from_code(code: str, message: str, path: str | None) -> Error:
    """The exception of a code as the C++ side names it (reds::to_string(ErrorCode))."""
    return _ERRORS_BY_CODE.get(code, InternalError)(message, path)
