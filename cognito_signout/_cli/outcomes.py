"""What a sign-out's result is called, what it exits with, and what may be said about it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .exits import (
    EXIT_CLIENT_REFUSED,
    EXIT_NOT_AUTHORIZED,
    EXIT_SERVICE_ERROR,
    EXIT_THROTTLED,
    EXIT_TRANSPORT,
    EXIT_USAGE,
)

if TYPE_CHECKING:
    from .._config import Config
    from ..errors import SdkError

# RevokeToken's errors (--revoke-refresh-token), by code so this works with any SDK version:
# the app client was refused (a wrong client id or secret, or revocation not enabled for it),
# or the token is not a refresh token (a line to fix, like a malformed one).


class Success(Protocol):
    """What the command reports of a successful call, GlobalSignOut's or RevokeToken's."""

    @property
    def request_id(self) -> str | None: ...

    @property
    def attempts(self) -> int: ...


def outcome(exc: SdkError) -> tuple[str, int]:
    """The ``status`` name and exit code of a failed sign-out."""
    from .. import errors

    if isinstance(exc, errors.ConstructionFailure):
        return "invalid_token", EXIT_USAGE
    if isinstance(exc, errors.NotAuthorizedException):
        return "not_authorized", EXIT_NOT_AUTHORIZED
    if isinstance(exc, errors.ServiceError):
        if isinstance(exc, errors.UnauthorizedException | errors.UnsupportedOperationException):
            return "client_refused", EXIT_CLIENT_REFUSED
        if isinstance(exc, errors.UnsupportedTokenTypeException):
            return "invalid_token", EXIT_USAGE
        if exc.retry_kind == "throttling":
            return "throttled", EXIT_THROTTLED
        return "service_error", EXIT_SERVICE_ERROR
    if isinstance(exc, errors.DispatchFailure | errors.TimeoutError | errors.ResponseError):
        return "transport_error", EXIT_TRANSPORT
    return "service_error", EXIT_SERVICE_ERROR


def failure_fields(
    exc: SdkError, *, config: Config | None = None, token: str = ""
) -> dict[str, Any]:
    """What may be said about a failure: kind, code, request id, message. Never a token.

    The message is the SDK's, which scrubs the token out of anything Cognito echoes; the
    console scrubs again before printing. Code, request id and message are an SDK error's
    fields and text, which hold no control character (see :mod:`cognito_signout.errors`).
    A failed connection is said in the command's own words instead, naming the URL the call
    for ``token`` went to under ``config``: see :func:`connection_failure`.
    """
    from .. import errors

    status, code = outcome(exc)
    message = str(exc)
    if isinstance(exc, errors.DispatchFailure):
        endpoint = endpoint_for(config, token) if config is not None else None
        message = connection_failure(message, endpoint) or message
    return {
        "status": status,
        "error": getattr(exc, "code", None) or type(exc).__name__,
        "request_id": getattr(exc, "request_id", None),
        "exit_code": code,
        "message": message,
    }


def endpoint_for(config: Config, token: str) -> str | None:
    """The URL a call for ``token`` went to, as it may be named to the user; None if unknown."""
    from .. import errors
    from .._endpoints import resolve_endpoint
    from .._token import region_from_token

    try:
        region = config.region
        if region is None and config.endpoint_url is None:
            region = region_from_token(token)  # how the SDK routes a token without a region
        url = resolve_endpoint(
            region,
            use_fips=config.use_fips,
            use_dualstack=config.use_dualstack,
            endpoint_url=config.endpoint_url,
        )
    except errors.SdkError:
        return None
    return url[:-1] if url.endswith("/") else url


# The SDK's text for a request that could not be sent, and the lower-layer exceptions among
# those that mean no connection was made. The SDK keeps no chained cause (it would hold the
# request), so the text is all there is to go on.
_NOT_SENT = "the request could not be sent: "
_NO_CONNECTION = frozenset({
    "ConnectError", "ProxyError", "OSError", "ConnectionRefusedError", "ConnectionResetError",
    "gaierror", "ClientConnectorError", "ClientConnectorDNSError", "ClientConnectorSSLError",
    "ClientConnectorCertificateError", "ClientProxyConnectionError", "ClientOSError",
})
# aiohttp's ClientConnectorError: "Cannot connect to host H:P ssl:<setting> [<os error>]".
# The ssl part is aiohttp's TLS setting for the connection ("default" for http:// too), not
# a TLS failure; the bracketed part is what happened.
_AIOHTTP_CONNECT = r"Cannot connect to host \S+ ssl:(?:<[^>]*>|\S+) \[(?P<why>.*)\]"
_REASONS = (  # (words in the lower-layer text, what it means), first match wins
    (("refused",), "connection refused"),
    # anyio (httpcore) and asyncio (aiohttp) say no more than that connecting failed: on a
    # reachable host that is a refusal, else an unreachable host or network
    (("all connection attempts failed", "connect call failed"),
     "connection refused or host unreachable"),
    (("name or service not known", "nodename nor servname", "no address associated",
      "name resolution", "getaddrinfo"), "host name not found"),
    (("unreachable",), "network unreachable"),
    (("reset by peer", "connection reset"), "connection reset"),
)
_TLS_WORDS = ("ssl", "tls", "certificate", "handshake")


def connection_failure(message: str, endpoint: str | None) -> str | None:
    """``could not connect to <endpoint> (<why>)`` for an SDK message saying no connection was
    made, the same whichever transport made the attempt; None for any other message.

    TLS is named only when the endpoint is https and TLS is what failed: a plain http
    endpoint's failure never mentions it (aiohttp's text names its TLS setting even there).
    """
    import re

    if not message.startswith(_NOT_SENT):
        return None
    kind, _, detail = message[len(_NOT_SENT):].partition(": ")
    if kind not in _NO_CONNECTION:
        return None
    aiohttp_text = re.fullmatch(_AIOHTTP_CONNECT, detail, re.DOTALL)
    if aiohttp_text is not None:
        detail = aiohttp_text.group("why")
    tls = endpoint is None or endpoint.startswith("https:")
    lowered = detail.lower()
    why = next((text for words, text in _REASONS if any(w in lowered for w in words)), None)
    if why is None and tls and any(word in lowered for word in _TLS_WORDS):
        why = f"TLS failed: {detail}"
    if why is None:
        # Whatever else it is, it is not TLS on an http endpoint: drop aiohttp's setting.
        why = detail if tls else re.sub(r"\s*\bssl:(?:<[^>]*>|\S+)", "", detail, flags=re.I)
        why = why.strip() or kind
    where = endpoint or "Cognito"
    if kind in ("ProxyError", "ClientProxyConnectionError"):
        return f"could not connect to {where} through the proxy ({why})"
    return f"could not connect to {where} ({why})"


def service_text(text: str | None) -> str | None:
    """A value the service sent, as it may be printed: control characters shown as escapes.

    An error's fields are escaped when the error is built; this is for what a success carries
    (its request id header), which would otherwise reach the terminal as received.
    """
    from ..errors import _printable_or_none

    return _printable_or_none(text)
