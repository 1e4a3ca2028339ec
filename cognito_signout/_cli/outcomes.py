"""What a sign-out's result is called, what it exits with, and what may be said about it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .exits import (
    EXIT_NOT_AUTHORIZED,
    EXIT_SERVICE_ERROR,
    EXIT_THROTTLED,
    EXIT_TRANSPORT,
    EXIT_USAGE,
)

if TYPE_CHECKING:
    from ..errors import SdkError


def outcome(exc: SdkError) -> tuple[str, int]:
    """The ``status`` name and exit code of a failed sign-out."""
    from .. import _retry, errors

    if isinstance(exc, errors.ConstructionFailure):
        return "invalid_token", EXIT_USAGE
    if isinstance(exc, errors.NotAuthorizedException):
        return "not_authorized", EXIT_NOT_AUTHORIZED
    if isinstance(exc, errors.ServiceError):
        if _retry.classify(exc) is _retry.ErrorKind.THROTTLING:
            return "throttled", EXIT_THROTTLED
        return "service_error", EXIT_SERVICE_ERROR
    if isinstance(exc, errors.DispatchFailure | errors.TimeoutError | errors.ResponseError):
        return "transport_error", EXIT_TRANSPORT
    return "service_error", EXIT_SERVICE_ERROR


def failure_fields(exc: SdkError) -> dict[str, Any]:
    """What may be said about a failure: kind, code, request id, message. Never a token.

    The message is the SDK's, which scrubs the token out of anything Cognito echoes; the
    console scrubs again before printing. Code, request id and message are an SDK error's
    fields and text, which hold no control character (see :mod:`cognito_signout.errors`).
    """
    status, code = outcome(exc)
    return {
        "status": status,
        "error": getattr(exc, "code", None) or type(exc).__name__,
        "request_id": getattr(exc, "request_id", None),
        "exit_code": code,
        "message": str(exc),
    }


def service_text(text: str | None) -> str | None:
    """A value the service sent, as it may be printed: control characters shown as escapes.

    An error's fields are escaped when the error is built; this is for what a success carries
    (its request id header), which would otherwise reach the terminal as received.
    """
    from ..errors import _printable_or_none

    return _printable_or_none(text)
