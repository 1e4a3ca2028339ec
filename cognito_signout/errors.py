"""The exception hierarchy of cognito-signout.

Every error the SDK raises is an :class:`SdkError`. The five direct subclasses follow the
categories of the AWS SDK for Rust, so a caller can tell *where* a call failed:

- :class:`ConstructionFailure` -- the request could not be built (bad input or configuration).
  Nothing was sent.
- :class:`TimeoutError` -- a connect, read, attempt or operation timeout expired.
- :class:`DispatchFailure` -- the connection failed (refused, reset, DNS, TLS); no response.
- :class:`ResponseError` -- a response arrived but cannot be trusted or understood (HTML from a
  proxy on a 2xx, a truncated body, a body over the size cap).
- :class:`ServiceError` -- Cognito (or something in front of it) answered with an error status.
  One subclass per modeled error of GlobalSignOut, named as the error code.

No exception text ever contains the access token: service messages are scrubbed before they are
stored, and the kept ``httpx.Response`` has the token replaced in its body and its request.
"""

from __future__ import annotations

import builtins
from typing import Literal

import httpx

__all__ = [
    "ConstructionFailure",
    "DispatchFailure",
    "ForbiddenException",
    "InternalErrorException",
    "InvalidParameterException",
    "NotAuthorizedException",
    "OperationNotEnabledException",
    "PasswordResetRequiredException",
    "ResourceNotFoundException",
    "ResponseError",
    "SdkError",
    "ServiceError",
    "TimeoutError",
    "TimeoutKind",
    "TooManyRequestsException",
    "UserNotConfirmedException",
]

TimeoutKind = Literal["connect", "read", "write", "pool", "attempt", "operation"]


class SdkError(Exception):
    """Base class of every error raised by cognito-signout."""


# --- before anything was sent -------------------------------------------------------------


class ConstructionFailure(SdkError, ValueError):
    """The request could not be built: invalid input or configuration. Nothing was sent."""


# --- no usable response ---------------------------------------------------------------------


class TimeoutError(SdkError, builtins.TimeoutError):
    """A timeout expired. ``kind`` says which one.

    ``connect``, ``read``, ``write``, ``pool`` and ``attempt`` end one attempt and are retried;
    ``operation`` ends the whole call (all attempts and backoffs together).
    """

    def __init__(
        self,
        message: str,
        *,
        kind: TimeoutKind,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: TimeoutKind = kind
        # Set when the headers had arrived and the body stalled.
        self.status_code = status_code
        self.request_id = request_id


class DispatchFailure(SdkError):
    """The connection failed before a response arrived: refused, reset, DNS or TLS failure."""


# --- a response that cannot be trusted ------------------------------------------------------


class ResponseError(SdkError):
    """A response arrived but could not be understood, so success cannot be confirmed."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id
        self.response = response


# --- the service said no --------------------------------------------------------------------


class ServiceError(SdkError):
    """The service answered with an error status.

    ``code`` is the cleaned error code (``None`` when the response named none, as with an HTML
    page from a load balancer); ``message`` is the service's message with the token scrubbed;
    ``response`` is the ``httpx.Response`` as received, token scrubbed.
    """

    def __init__(
        self,
        *,
        code: str | None,
        message: str | None,
        status_code: int,
        request_id: str | None,
        response: httpx.Response | None,
    ) -> None:
        self.code = code
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.response = response
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"{self.code or 'UnknownError'} (HTTP {self.status_code}"
        if self.request_id:
            text += f", request id {self.request_id}"
        text += ")"
        if self.message:
            text += f": {self.message}"
        return text


class ResourceNotFoundException(ServiceError):
    """A resource the request names (the user pool, the user) does not exist."""


class InvalidParameterException(ServiceError):
    """A parameter is invalid. ``reason_code`` carries the service's ``reasonCode`` if any."""

    def __init__(
        self,
        *,
        code: str | None,
        message: str | None,
        status_code: int,
        request_id: str | None,
        response: httpx.Response | None,
        reason_code: str | None = None,
    ) -> None:
        self.reason_code = reason_code
        super().__init__(
            code=code,
            message=message,
            status_code=status_code,
            request_id=request_id,
            response=response,
        )


class NotAuthorizedException(ServiceError):
    """The access token was refused: revoked, expired, malformed or from another pool."""


class TooManyRequestsException(ServiceError):
    """Cognito throttled the request (HTTP 429). Retried with the throttling backoff."""


class PasswordResetRequiredException(ServiceError):
    """The user must reset their password first."""


class UserNotConfirmedException(ServiceError):
    """The user has not confirmed their account."""


class OperationNotEnabledException(ServiceError):
    """The operation is not enabled for this user pool."""


class InternalErrorException(ServiceError):
    """Cognito had an internal failure (a 5xx). Retried as a transient error."""


class ForbiddenException(ServiceError):
    """AWS WAF associated with the user pool blocked the request."""
