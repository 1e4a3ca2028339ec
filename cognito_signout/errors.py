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
  One subclass per modeled error of the operations (GlobalSignOut, RevokeToken, GetUser), named
  as the error code; an unknown code is a plain ServiceError.

Local token verification (:class:`~cognito_signout.TokenVerifier`) adds two more:

- :class:`InvalidToken` -- the token was refused; ``reason`` says why (:data:`TOKEN_REASONS`).
  :class:`TokenRevoked` is the one for ``revoked``: authentic and unexpired, but signed out.
- :class:`RevocationsUnavailable` -- the revocation store (or Cognito, when confirming) cannot
  answer, so whether the token was revoked is unknown: a 503, not a 401.

Every error carries its own retry facts, read by the retry policy, the FastAPI mapping and the
CLI alike: ``retry_kind`` (``"throttling"``, ``"transient"`` or ``None`` for final) and, on a
service error, ``retry_after`` (the server's ``x-amz-retry-after`` hint in seconds, if sane).

No exception text ever contains the access token: service messages are scrubbed before they are
stored, and the kept ``httpx.Response`` has the token replaced in its body and its request.

No exception text acts on a terminal or a log either: the message of every error, and the
``code``, ``message``, ``request_id`` and ``reason_code`` a service error keeps, are passed
through :func:`_printable` when the error is built, so control characters (escape sequences, a
forged second log line) show as visible escapes and lone surrogates cannot break a UTF-8 log
handler. The kept ``response`` is left as received (token scrubbed).

Every error survives pickling (a ``ProcessPoolExecutor`` job, a multiprocessing queue) and
``copy.copy``/``copy.deepcopy`` with its type, text and fields; a pickled or deep-copied error
drops the kept ``response`` (``None``), a shallow copy shares it.
"""

from __future__ import annotations

import builtins
from typing import Any, Literal, TypeVar, get_args

import httpx

__all__ = [
    "TOKEN_REASONS",
    "ConstructionFailure",
    "DispatchFailure",
    "ForbiddenException",
    "InternalErrorException",
    "InvalidParameterException",
    "InvalidToken",
    "NotAuthorizedException",
    "OperationNotEnabledException",
    "PasswordResetRequiredException",
    "ResourceNotFoundException",
    "ResponseError",
    "RevocationsUnavailable",
    "SdkError",
    "ServiceError",
    "TimeoutError",
    "TimeoutKind",
    "TokenReason",
    "TokenRevoked",
    "TooManyRequestsException",
    "UnauthorizedException",
    "UnsupportedOperationException",
    "UnsupportedTokenTypeException",
    "UserNotConfirmedException",
    "UserNotFoundException",
]

TimeoutKind = Literal["connect", "read", "write", "pool", "attempt", "operation"]
RetryKind = Literal["throttling", "transient"]

# The AWS SDKs' throttling and transient error codes (../shared/reference/retries.md): whatever
# operation answered, and whatever proxy or load balancer in front of it, these mean the same.
THROTTLING_CODES = frozenset(
    {
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException",
        "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
        "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})

_E = TypeVar("_E", bound="SdkError")


# --- text that is safe to print ------------------------------------------------------------

# Printable characters that stand in for backslashes while repr() escapes the rest: any one
# absent from the text will do. A text holding all of them takes the (slower) table path.
_PLACEHOLDERS = ("\u2603", "\u2604", "\u2625", "\u262b", "\u2638", "\u2e19", "\ua4ff",
                 "\U0001f9ff")


class _Escapes(dict[int, str]):
    """``str.translate`` table: each character to itself if printable, else to its escape."""

    def __missing__(self, codepoint: int) -> str:
        char = chr(codepoint)
        value = char if char.isprintable() else repr(char)[1:-1]
        if len(self) < 4096:  # a cache, not a record of every character ever seen
            self[codepoint] = value
        return value


_ESCAPES = _Escapes()


def _printable(text: str) -> str:
    """``text`` with every character Python deems unprintable shown as its escape, in linear time.

    That is every control character (C0 with tab, CR and LF, DEL, C1), lone surrogates, line
    and paragraph separators, format characters such as bidi overrides, and unassigned code
    points; each becomes the escape ``repr`` writes (``\\x1b``, ``\\n``, ``\\ud800``,
    ``\\u2028``). Other characters, backslashes and quotes included, stay as they are. The
    result holds no character a terminal or a log handler acts on, and always encodes as UTF-8.
    Applying it twice changes nothing.
    """
    if type(text) is not str:  # a subclass may override what is used below
        text = str.__str__(text)
    if text.isprintable():  # the usual case: a C-speed scan, nothing copied
        return text
    # repr() does the escaping at C speed, but it also doubles backslashes and may escape the
    # quote it wraps the text in: hide the backslashes behind a character the text lacks, so
    # that afterwards every backslash starts an escape repr wrote, and undo those two changes.
    for placeholder in _PLACEHOLDERS:
        if placeholder not in text:
            escaped = repr(text.replace("\\", placeholder))[1:-1]
            return escaped.replace("\\'", "'").replace(placeholder, "\\")
    return text.translate(_ESCAPES)


def _printable_or_none(text: str | None) -> str | None:
    return None if text is None else _printable(text)


def _rebuild(cls: type[_E], args: tuple[Any, ...], state: dict[str, Any]) -> _E:
    """Unpickle an error without calling its constructor (whose arguments are keyword-only)."""
    error = cls.__new__(cls, *args)
    error.args = args  # OSError's __new__ (TimeoutError) leaves args to __init__
    error.__dict__.update(state)
    return error


class SdkError(Exception):
    """Base class of every error raised by cognito-signout.

    ``retry_kind`` says whether the SDK retries it: ``"throttling"``, ``"transient"``, or
    ``None`` (final: retrying would get the same answer).
    """

    retry_kind: RetryKind | None = None

    def __init__(self, *args: object) -> None:
        super().__init__(*(_printable(arg) if isinstance(arg, str) else arg for arg in args))

    def __str__(self) -> str:
        return _printable(super().__str__())

    # Exceptions pickle as ``type(*args)`` plus their __dict__, which the keyword-only
    # constructors below refuse. Rebuild from args and __dict__ (fields, __notes__) instead.

    def __reduce__(self) -> tuple[Any, ...]:
        state = dict(self.__dict__)
        if "response" in state:
            state["response"] = None  # an httpx.Response need not pickle, nor be worth sending
        return _rebuild, (type(self), self.args, state)

    def __copy__(self: _E) -> _E:
        return _rebuild(type(self), self.args, dict(self.__dict__))


# --- before anything was sent -------------------------------------------------------------


class ConstructionFailure(SdkError, ValueError):
    """The request could not be built: invalid input or configuration. Nothing was sent."""


# --- no usable response ---------------------------------------------------------------------


class TimeoutError(SdkError, builtins.TimeoutError):
    """A timeout expired. ``kind`` says which one.

    ``connect``, ``read``, ``write``, ``pool`` and ``attempt`` end one attempt and are retried;
    ``operation`` ends the whole call (all attempts and backoffs together).
    """

    @property
    def retry_kind(self) -> RetryKind | None:  # type: ignore[override]
        return None if self.kind == "operation" else "transient"

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
        self.request_id = _printable_or_none(request_id)


class DispatchFailure(SdkError):
    """The connection failed before a response arrived: refused, reset, DNS or TLS failure."""

    retry_kind: RetryKind | None = "transient"


# --- a response that cannot be trusted ------------------------------------------------------


class ResponseError(SdkError):
    """A response arrived but could not be understood, so success cannot be confirmed."""

    retry_kind: RetryKind | None = "transient"

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
        self.request_id = _printable_or_none(request_id)
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
        self.code = _printable_or_none(code)
        self.message = _printable_or_none(message)
        self.status_code = status_code
        self.request_id = _printable_or_none(request_id)
        self.response = response
        self.retry_kind = _retry_kind(self.code, status_code)
        self.retry_after: float | None = _retry_after(response)
        """The server's ``x-amz-retry-after`` hint, in seconds; the SDK clamps its own wait."""
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"{self.code or 'UnknownError'} (HTTP {self.status_code}"
        if self.request_id:
            text += f", request id {self.request_id}"
        text += ")"
        if self.message:
            text += f": {self.message}"
        return text


def _retry_kind(code: str | None, status: int) -> RetryKind | None:
    if code in THROTTLING_CODES or (status == 429 and code is None):
        return "throttling"
    if code in TRANSIENT_CODES or status in TRANSIENT_STATUSES:
        return "transient"
    return None


def _retry_after(response: httpx.Response | None) -> float | None:
    """``x-amz-retry-after`` (milliseconds on the wire) as seconds, if present and sane."""
    if response is None:
        return None
    raw = response.headers.get("x-amz-retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    # Plain ASCII digits only (int() would also take "1_000", "+5" or Arabic-Indic digits).
    # No upper bound is needed here: the backoff clamps any hint to at most t + 5 s.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        return None
    return int(raw) / 1000


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
        self.reason_code = _printable_or_none(reason_code)
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


class UnauthorizedException(ServiceError):
    """RevokeToken: the request is not authorized (a wrong client id or client secret)."""


class UnsupportedOperationException(ServiceError):
    """RevokeToken: token revocation is not enabled for the app client."""


class UnsupportedTokenTypeException(ServiceError):
    """RevokeToken: the token is not a refresh token."""


class UserNotFoundException(ServiceError):
    """GetUser: the user the token names does not exist (any more)."""


# --- local token verification (TokenVerifier, Revocations) ----------------------------------

TokenReason = Literal[
    "malformed",
    "unknown_key",
    "signature",
    "expired",
    "not_yet_valid",
    "issuer",
    "token_use",
    "client",
    "scope",
    "revoked",
]
TOKEN_REASONS: frozenset[str] = frozenset(get_args(TokenReason))


class InvalidToken(SdkError):
    """The token was refused; ``reason`` (one of :data:`TOKEN_REASONS`) says why.

    ``malformed`` (not a JWT, not RS256, no ``kid``, a required claim missing or of the wrong
    type), ``unknown_key`` (no key of the pool's key set has its ``kid``), ``signature``,
    ``expired``, ``not_yet_valid``, ``issuer`` (another pool, region or partition),
    ``token_use`` (an ID token where an access token was expected, or the reverse),
    ``client`` (an app client not in ``client_ids``), ``scope`` (a required scope missing),
    ``revoked`` (:class:`TokenRevoked`). Final: the same token gets the same answer. The text
    names the rule that failed, never the token or a claim an attacker chose.
    """

    def __init__(self, message: str, *, reason: TokenReason) -> None:
        if reason not in TOKEN_REASONS:
            raise ValueError(f"unknown InvalidToken reason {reason!r}")
        super().__init__(message)
        self.reason: TokenReason = reason


class TokenRevoked(InvalidToken):
    """The token is authentic and unexpired, but it was revoked: its user signed out
    everywhere (GlobalSignOut), its session was ended (RevokeToken), or Cognito itself
    refused it when asked (``confirm_with_cognito``)."""

    def __init__(self, message: str = "the token has been revoked") -> None:
        super().__init__(message, reason="revoked")


class RevocationsUnavailable(SdkError):
    """Whether the token was revoked is unknown, and ``on_unavailable="reject"`` (the
    default: fail closed) says to refuse rather than guess: the revocation store is
    unreachable or not yet synchronized, or Cognito could not answer a confirmation. A 503,
    not a 401: the token may well be valid. Worth retrying later."""

    retry_kind: RetryKind | None = "transient"
