"""FastAPI integration: one shared Client per app, a ready ``POST /sign-out``, HTTP error mapping.

    cognito = CognitoSignOut(Config(region="eu-west-1"))   # or CognitoSignOut(): Config.from_env()
    app = FastAPI(lifespan=cognito.lifespan)
    app.include_router(cognito.router)

    @app.post("/my-logout")
    async def my_logout(client: Client = Depends(cognito.client)): ...

Why one client per app: a :class:`~cognito_signout.Client` holds the connection pool, the retry
quota and the adaptive rate limiter. A client per request would throw all three away each time
(a new TLS handshake per logout, no shared throttling memory). The client lives on the
``CognitoSignOut`` object: the lifespan opens it with the app and closes it on shutdown, so no
connection outlives the server. Without a lifespan (``Mangum(app, lifespan="off")``, a test's
``httpx.ASGITransport``) the first request opens it, and it stays open for the process.

AWS Lambda (Mangum): one client per warm container. With ``lifespan="off"`` the first
invocation opens it. With ``lifespan="auto"`` Mangum runs a whole lifespan, startup and
shutdown, around every invocation; under Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set) that
shutdown is not the end of the app, so the client is kept and the next invocation's startup
reuses it (``close_on_shutdown`` overrides the detection). A kept client is closed when the
process exits, if its event loop is still there to close it in (Lambda usually just freezes
and then kills the sandbox, which ends its sockets too), or by ``await cognito.aclose()``.

HTTP mapping of ``POST /sign-out`` (and of :func:`error_response` for your own endpoints):

- 204: signed out (``X-Cognito-Request-Id`` carries Cognito's request id).
- 401 + ``WWW-Authenticate: Bearer``: no ``Authorization: Bearer <token>`` header, or a
  malformed one (another scheme, two headers, characters outside RFC 6750's b64token).
- 401 + ``WWW-Authenticate: Bearer error="invalid_token"``: ``NotAuthorizedException`` (the
  token is revoked, expired, or not from this pool).
- 400: ``ConstructionFailure`` (a token Cognito's pattern rejects, or one that cannot be routed
  to a region), ``InvalidParameterException``.
- 403: ``PasswordResetRequiredException``, ``UserNotConfirmedException``: the user must act.
- 429 + ``Retry-After``: still throttled after the SDK's retries (Cognito's hint, rounded up,
  else ``retry_after``). Every ``Retry-After`` sent is whole seconds within [1, 60], whatever
  the upstream hint says.
- 502: Cognito answered, but not with a sign-out: a 5xx, WAF's ``ForbiddenException``,
  ``ResourceNotFoundException``, an unknown error, or an answer that cannot be understood
  (``ResponseError``).
- 503 + ``Retry-After``: Cognito could not be reached: ``DispatchFailure`` (refused, reset, DNS,
  TLS) or ``TimeoutError`` (including the app's own operation timeout).

Error bodies are ``{"error": ..., "message": ..., "request_id": ...}`` (``request_id`` only
when Cognito sent one). They never hold the token, nor Cognito's own message text.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import math
import os
import re
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Unpack

import attrs
from fastapi import APIRouter, Depends, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from starlette.requests import HTTPConnection, Request

from . import _endpoints, errors
from ._client import Client
from ._config import Config, ConfigOverrides, validate_overrides

__all__ = ["CognitoSignOut", "error_response"]

logger = logging.getLogger("cognito_signout.fastapi")

# RFC 6750 b64token (RFC 7235 token68): what may follow "Bearer " at all. Anything else is a
# malformed header (401), not a malformed token (400).
_BEARER_RE = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*)")
_NO_STORE = {"Cache-Control": "no-store"}


@attrs.frozen
class _Mapped:
    status: int
    error: str
    message: str
    headers: Mapping[str, str] = attrs.field(factory=dict)


# Bounds of every Retry-After sent: at least 1 s (0 invites an instant retry storm), at most
# 60 s (an upstream hint of 999999999999 ms would otherwise tell clients to wait 31 years).
_RETRY_AFTER_MIN = 1
_RETRY_AFTER_MAX = 60


def _retry_after_value(seconds: float) -> str:
    """``seconds`` rounded up to a whole number, within [1, 60] (NaN or not a number: 1)."""
    try:
        whole = math.ceil(seconds)
    except (TypeError, ValueError, OverflowError):  # not a number, NaN, infinity
        whole = _RETRY_AFTER_MAX if seconds == math.inf else _RETRY_AFTER_MIN
    return str(min(_RETRY_AFTER_MAX, max(_RETRY_AFTER_MIN, whole)))


def _retry_after_header(exc: BaseException, default: int) -> dict[str, str]:
    """Whole seconds, from Cognito's ``x-amz-retry-after`` (milliseconds) when it sent one."""
    hint = getattr(exc, "retry_after", None)  # the server's hint, carried by the error
    return {"Retry-After": _retry_after_value(default if hint is None else hint)}


def _map(exc: errors.SdkError, retry_after: int) -> _Mapped:
    if isinstance(exc, errors.NotAuthorizedException):
        return _Mapped(
            401, "invalid_token", "The access token is invalid, expired or revoked.",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if isinstance(exc, errors.ConstructionFailure | errors.InvalidParameterException):
        return _Mapped(400, "invalid_request", "The access token is malformed.")
    if isinstance(exc, errors.ServiceError) and exc.retry_kind == "throttling":
        return _Mapped(
            429, "throttled", "Too many sign-outs right now; retry later.",
            _retry_after_header(exc, retry_after),
        )
    if isinstance(exc, errors.PasswordResetRequiredException):
        return _Mapped(403, "forbidden", "The user must reset their password first.")
    if isinstance(exc, errors.UserNotConfirmedException):
        return _Mapped(403, "forbidden", "The user must confirm their account first.")
    if isinstance(exc, errors.DispatchFailure | errors.TimeoutError):
        return _Mapped(
            503, "unavailable", "The identity provider could not be reached; retry later.",
            {"Retry-After": _retry_after_value(retry_after)},
        )
    return _Mapped(
        502, "bad_gateway", "The identity provider could not confirm the sign-out."
    )


def error_response(exc: errors.SdkError, *, retry_after: int = 1) -> JSONResponse:
    """The HTTP answer for an SDK error, as ``POST /sign-out`` gives it (see the module doc).

    Use it in your own endpoints, or for all of them at once:
    ``app.add_exception_handler(SdkError, lambda request, exc: error_response(exc))``.
    ``retry_after`` (seconds) is sent with 429 and 503 when Cognito gave no hint of its own;
    either is sent as whole seconds within [1, 60].
    """
    mapped = _map(exc, retry_after)
    request_id = getattr(exc, "request_id", None)
    body: dict[str, str] = {"error": mapped.error, "message": mapped.message}
    headers = {**_NO_STORE, **mapped.headers}
    if request_id:
        body["request_id"] = request_id
        headers["X-Cognito-Request-Id"] = request_id
    log = logger.info if mapped.status < 500 and mapped.status != 429 else logger.warning
    log(
        "sign-out failed: status=%d error=%s cause=%s code=%s request_id=%s",
        mapped.status, mapped.error, type(exc).__name__, getattr(exc, "code", None), request_id,
    )
    return JSONResponse(body, status_code=mapped.status, headers=headers)


def _missing_bearer() -> JSONResponse:
    return JSONResponse(
        {
            "error": "invalid_request",
            "message": "An 'Authorization: Bearer <access token>' header is required.",
        },
        status_code=401,
        headers={**_NO_STORE, "WWW-Authenticate": "Bearer"},
    )


def _bearer_token(request: Request) -> str | None:
    """The token of exactly one well-formed ``Authorization: Bearer`` header, else None."""
    values = request.headers.getlist("authorization")
    if len(values) != 1:
        return None
    match = _BEARER_RE.fullmatch(values[0].strip())
    return match.group(1) if match else None


_RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "Signed out: every token of the user is revoked."},
    400: {"description": "The access token is malformed."},
    401: {"description": "No bearer token, or Cognito refused it (invalid, expired, revoked)."},
    403: {"description": "The user must reset their password or confirm their account."},
    429: {"description": "Throttled by Cognito; see Retry-After."},
    502: {"description": "Cognito answered with an error, or an answer we cannot read."},
    503: {"description": "Cognito could not be reached (connection failure or timeout)."},
}


class CognitoSignOut:
    """A FastAPI integration bound to one :class:`~cognito_signout.Config`.

    - ``lifespan``: pass to ``FastAPI(lifespan=...)`` or enter it from your own lifespan; it
      opens the shared client on startup and closes it on shutdown.
    - ``client``: a dependency giving that client, ``Depends(cognito.client)``; with no
      lifespan running, the first request opens the client.
    - ``router``: ``POST {path}``, signing out the caller's bearer token.

    ``config=None`` reads :meth:`Config.from_env` when the app starts or serves its first
    request (not at import), so tests can set the environment first. Keyword arguments named
    after Config fields override it, e.g. ``CognitoSignOut(region="eu-west-1",
    timeout_config=TimeoutConfig(operation_timeout=2.0))``: applied over
    ``Config.from_env()`` at that same moment, or over ``config`` when one is given. Their
    names and values are checked at once (a :class:`~cognito_signout.errors.ConstructionFailure`),
    still without any I/O. ``client_factory(config)`` builds the client instead of
    ``Client(config)``, e.g. ``FakeCognito().client`` in tests. ``retry_after`` is the
    ``Retry-After`` (seconds) of 429 and 503 answers when Cognito gives no hint (sent within
    [1, 60], as Cognito's own hint is).

    ``close_on_shutdown``: whether the end of the lifespan closes the client. ``None`` (the
    default) means yes, except under AWS Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set), where
    Mangum's ``lifespan="auto"`` ends a lifespan after every invocation: the client is then
    kept for the next invocation, until the process exits or :meth:`aclose`.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        client_factory: Callable[[Config], Client] | None = None,
        path: str = "/sign-out",
        tags: Sequence[str] = ("auth",),
        retry_after: int = 1,
        close_on_shutdown: bool | None = None,
        **overrides: Unpack[ConfigOverrides],
    ) -> None:
        if config is not None and not isinstance(config, Config):
            raise errors.ConstructionFailure(
                f"config must be a cognito_signout.Config, got {type(config).__name__}"
            )
        if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0:
            raise errors.ConstructionFailure(
                f"retry_after must be an int >= 0, got {retry_after!r}"
            )
        if close_on_shutdown is not None and not isinstance(close_on_shutdown, bool):
            raise errors.ConstructionFailure(
                f"close_on_shutdown must be True, False or None, got {close_on_shutdown!r}"
            )
        if overrides:
            validate_overrides(overrides, per_call=False)
            if config is None:
                Config(**overrides)  # each value checked now; from_env runs at startup
            else:
                config = attrs.evolve(config, **overrides)
        self._config = config
        self._overrides: ConfigOverrides = overrides if config is None else {}
        self._client_factory = client_factory
        self._retry_after = retry_after
        self._close_on_shutdown = close_on_shutdown
        # One key per instance: two integrations (say, two user pools) can share an app.
        self._state_key = f"cognito_signout.client.{uuid.uuid4().hex}"
        self._client: Client | None = None  # the shared client, made on first need
        self._lifespans = 0  # lifespans running now (an app can be served twice)
        # The asyncio loop the client was last opened in, to close it there at exit.
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self.router = self._build_router(path, list(tags))

    def __repr__(self) -> str:
        open_clients = 0 if self._client is None or self._client.is_closed else 1
        return f"<CognitoSignOut config={self._config!r} open_clients={open_clients}>"

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object) -> AsyncIterator[dict[str, Any]]:
        """Open the shared client for the app's lifetime; yields the lifespan state.

        The configuration is read, and checked, here: a setting that cannot work fails the
        startup. A client already open (a request came first, or Mangum's previous
        invocation under Lambda) is reused. To combine with your own lifespan, enter it and
        pass its state on::

            @asynccontextmanager
            async def lifespan(app):
                async with cognito.lifespan(app) as state:
                    ...                      # your own startup
                    yield {**state, "db": db}
        """
        client = self._shared_client()
        self._remember_loop()
        self._lifespans += 1
        try:
            yield {self._state_key: client}
        finally:
            self._lifespans -= 1
            if self._lifespans == 0 and self._closes_on_shutdown():
                await self.aclose()

    async def client(self, connection: HTTPConnection) -> Client:
        """Dependency: the shared client (``Depends(cognito.client)``).

        The one the lifespan opened; with no lifespan (``Mangum(app, lifespan="off")``), the
        first request opens it. A configuration that cannot work raises
        :class:`~cognito_signout.errors.ConstructionFailure` (a 500: the server is at fault).
        """
        state: Mapping[str, Any] = connection.scope.get("state") or {}
        client = state.get(self._state_key)
        if isinstance(client, Client) and not client.is_closed:
            return client
        # No state (no lifespan, a composed lifespan that yields None, a mounted sub-app):
        # the integration's own client, opened now if need be.
        return self._shared_client()

    async def aclose(self) -> None:
        """Close the shared client now; the next lifespan or request opens a new one."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
            logger.debug("closed the shared client")

    def _closes_on_shutdown(self) -> bool:
        if self._close_on_shutdown is not None:
            return self._close_on_shutdown
        # Under Lambda each invocation is a lifespan of its own (Mangum, lifespan="auto"):
        # its end is not the end of the app. Read now, not at import.
        return not os.environ.get("AWS_LAMBDA_FUNCTION_NAME")

    def _shared_client(self) -> Client:
        """The open shared client; made (config read and checked) if there is none."""
        client = self._client
        if client is not None and not client.is_closed:
            return client
        config = (
            self._config if self._config is not None else Config.from_env(**self._overrides)
        )
        _check_endpoint(config)
        client = self._client_factory(config) if self._client_factory else Client(config)
        if not isinstance(client, Client):
            raise errors.ConstructionFailure(
                f"client_factory must return a cognito_signout.Client, got "
                f"{type(client).__name__}"
            )
        self._client = client
        self._remember_loop()
        _close_at_exit(self)
        logger.debug("opened the shared client")
        return client

    def _remember_loop(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # trio, or no loop at all
            return
        if self._loop is None or self._loop() is not loop:
            self._loop = weakref.ref(loop)

    def _close_now(self) -> None:
        """At interpreter exit: close the client in its loop, if that loop is idle and open."""
        client, self._client = self._client, None
        loop = self._loop() if self._loop is not None else None
        if client is None or client.is_closed or loop is None:
            return
        if loop.is_closed() or loop.is_running():
            return  # nothing can run there: the process's end closes the sockets
        try:
            loop.run_until_complete(client.aclose())
        except Exception:  # at exit, a failure to close is no reason to fail
            logger.debug("could not close the shared client at exit", exc_info=True)

    def _build_router(self, path: str, tags: list[str]) -> APIRouter:
        router = APIRouter(tags=list(tags))
        retry_after = self._retry_after
        shared_client = Depends(self.client)

        async def sign_out(request: Request, client: Client = shared_client) -> Response:
            """Sign the caller out everywhere: Cognito revokes all of the user's tokens."""
            token = _bearer_token(request)
            if token is None:
                return _missing_bearer()
            try:
                output = await client.global_sign_out().access_token(token).send()
            except errors.SdkError as exc:
                return error_response(exc, retry_after=retry_after)
            headers = dict(_NO_STORE)
            if output.request_id:
                headers["X-Cognito-Request-Id"] = output.request_id
            logger.debug("signed out: request_id=%s attempts=%d", output.request_id,
                         output.attempts)
            return Response(status_code=204, headers=headers)

        router.add_api_route(
            path,
            sign_out,
            methods=["POST"],
            status_code=204,
            response_class=Response,
            responses=_RESPONSES,
            summary="Sign out everywhere (Cognito GlobalSignOut)",
            # Declared for the OpenAPI document (Swagger's "Authorize"); parsing is ours.
            dependencies=[Security(HTTPBearer(auto_error=False))],
        )
        return router


# Integrations whose client may outlive their lifespan, closed at interpreter exit.
_KEPT: weakref.WeakSet[CognitoSignOut] = weakref.WeakSet()


def _close_at_exit(integration: CognitoSignOut) -> None:
    if not _KEPT:
        atexit.unregister(_close_kept)  # registered once, however many integrations
        atexit.register(_close_kept)
    _KEPT.add(integration)


def _close_kept() -> None:
    for integration in list(_KEPT):
        integration._close_now()


def _check_endpoint(config: Config) -> None:
    """Fail at startup, not on the first logout, when the endpoint settings cannot work."""
    if config.region is None and config.endpoint_url is None:
        return  # routed per call by each token's issuer
    _endpoints.resolve_endpoint(
        config.region,
        use_fips=config.use_fips,
        use_dualstack=config.use_dualstack,
        endpoint_url=config.endpoint_url,
    )
