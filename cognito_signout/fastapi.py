"""FastAPI integration: one shared Client per app, ready sign-out routes, bearer verification.

    cognito = CognitoSignOut(Config(region="eu-west-1"))   # or CognitoSignOut(): Config.from_env()
    app = FastAPI(lifespan=cognito.lifespan)
    app.include_router(cognito.router)

    @app.post("/my-logout")
    async def my_logout(client: Client = Depends(cognito.client)): ...

With a user pool and a revocation store, signed out means signed out in your own API too
(issue 11): every sign-out through the router is recorded in the store, and the
``authenticated`` dependency verifies the bearer token locally and refuses a signed-out one, on
every replica that shares the store::

    cognito = CognitoSignOut(Config(region="eu-west-1"), user_pool_id="eu-west-1_AbC123xYz",
                             client_ids=["1h57kf5cpq17m0eml12EXAMPLE"],
                             revocations=Revocations.redis("redis://redis:6379/0"))
    app = FastAPI(lifespan=cognito.lifespan)
    app.include_router(cognito.router)

    @app.get("/me")
    async def me(token: VerifiedToken = Depends(cognito.authenticated)): ...

Why one client per app: a :class:`~cognito_signout.Client` holds the connection pool, the retry
quota and the adaptive rate limiter. A client per request would throw all three away each time
(a new TLS handshake per logout, no shared throttling memory). The client lives on the
``CognitoSignOut`` object: the lifespan opens it with the app and closes it on shutdown, so no
connection outlives the server. Without a lifespan (``Mangum(app, lifespan="off")``, a test's
``httpx.ASGITransport``) the first request opens it, and it stays open for the process. The
:class:`~cognito_signout.TokenVerifier` behind ``authenticated`` is shared the same way (one
key-set cache per app), made with the client's config and closed with it.

AWS Lambda (Mangum): one client per warm container. With ``lifespan="off"`` the first
invocation opens it. With ``lifespan="auto"`` Mangum runs a whole lifespan, startup and
shutdown, around every invocation; under Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set) that
shutdown is not the end of the app, so the client is kept and the next invocation's startup
reuses it (``close_on_shutdown`` overrides the detection). A kept client is closed when the
process exits, if its event loop is still there to close it in (Lambda usually just freezes
and then kills the sandbox, which ends its sockets too), or by ``await cognito.aclose()``.

The revocation store: the lifespan starts it (``await store.start()``: a Redis store connects
and syncs in the background, and the app starts without waiting for it). The integration did
not create the store, but the store's background work runs in the server's event loop, which
ends with the lifespan: so the end of the lifespan stops the store too, when it closes the
client (the same ``close_on_shutdown`` rule), rather than leave it to be torn down mid-write by
the loop's end. A stopped store keeps its local view and starts again on its next use, so code
of yours that shares the store (or a second lifespan) keeps working.

HTTP mapping of ``POST /sign-out`` (and of :func:`error_response` for your own endpoints):

- 204: signed out (``X-Cognito-Request-Id`` carries Cognito's request id). With a revocation
  store, the user's cutoff is recorded before the answer (a store that cannot be written is
  retried in the background, and logged).
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

HTTP mapping of ``Depends(cognito.authenticated)`` (needs ``user_pool_id``; verifies access
tokens of ``client_ids`` locally, no call to Cognito per request):

- the :class:`~cognito_signout.VerifiedToken`.
- 401 + ``WWW-Authenticate: Bearer``: no bearer header, or a malformed one (as above).
- 401 + ``WWW-Authenticate: Bearer error="invalid_token"``: the token was refused
  (:class:`~cognito_signout.errors.InvalidToken`, whatever its ``reason``: not a JWT, a bad
  signature or an unknown key, expired, another pool, another app client, an ID token, or
  revoked: signed out, or its session ended).
- 503 + ``Retry-After``: whether the token is good cannot be known right now:
  ``RevocationsUnavailable`` (the store cannot answer and ``on_unavailable="reject"``), or the
  pool's key set could not be fetched (``DispatchFailure``, ``TimeoutError``, ``ServiceError``,
  ``ResponseError``). Not a 401: the token may well be valid.

  A dependency cannot choose its body, so these are FastAPI's ``HTTPException`` bodies:
  ``{"detail": {"error": ..., "message": ...}}``.

``POST /sign-out/device`` (``device_path``; offered with ``user_pool_id``): sign out one device.
The bearer access token is verified as ``authenticated`` does (same 401 and 503); the JSON body
``{"refresh_token": "..."}`` names the refresh token, revoked with RevokeToken for the access
token's app client (with that client's secret from ``client_secrets``); then the access
token's session (``origin_jti``) is recorded in the revocation store. A refresh token is
opaque: only the verified access token can name the session, so send the pair of one sign-in.
Cognito answers RevokeToken with success for a refresh token it does not know (revocation is
idempotent), so a refresh token of another session goes unnoticed: the access token's session
is still recorded, and this API refuses it and every token refreshed from it, but Cognito keeps
that session's refresh token alive.

- 204: that session is ended; the user's other sessions live on.
- 400 ``invalid_request``: the body is not a JSON object with a non-empty string
  ``refresh_token``, or the refresh token is malformed (``ConstructionFailure``,
  ``InvalidParameterException``). No 422 with the input echoed: the body is never quoted.
- 400 ``unsupported_token_type``: ``UnsupportedTokenTypeException`` (an access or ID token was
  sent as the refresh token).
- 400 ``invalid_grant``: ``UnauthorizedException``: the refresh token was issued to another app
  client (or the secret configured for this one is wrong: logged as a warning).
- 413: the body is over 16 KiB.
- otherwise as ``POST /sign-out`` (429, 502 for ``UnsupportedOperationException``: token
  revocation is off for that app client, 503).

``GET /logout`` (``logout_path``; offered when ``managed_login_domain`` and ``logout_uri`` are
configured): sign out everywhere with the bearer token (as ``POST /sign-out``, cutoff recorded),
then 303 to :func:`~cognito_signout.logout_url`, which ends the managed-login session cookie.
It redirects when the tokens are known to be dead: signed out now, or Cognito refused the token
(``NotAuthorizedException``: already revoked or expired), or it is no token Cognito could
accept (400 class), or there is no bearer header at all (nothing to revoke; the cookie must
still go). When the sign-out could not be confirmed (403, 429, 502, 503 as above) it answers
that error and does not redirect: the tokens may still work, and a "signed out" page would lie.
A GET that revokes is safe here only because it needs the ``Authorization`` header: no link,
prefetch or cross-site form sends one, and without it the route only redirects.

Error bodies are ``{"error": ..., "message": ..., "request_id": ...}`` (``request_id`` only
when Cognito sent one), but for ``authenticated`` (see above). No response, header or log line
holds a token (access or refresh), a client secret, nor Cognito's own message text.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import math
import os
import re
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Unpack

import attrs
from fastapi import APIRouter, Depends, HTTPException, Security
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import ClientDisconnect, HTTPConnection, Request

from . import _endpoints, _validate, errors
from ._client import Client
from ._config import Config, ConfigOverrides, validate_overrides

if TYPE_CHECKING:
    from ._revocations import Revocations
    from ._verify import TokenVerifier, VerifiedToken

__all__ = ["CognitoSignOut", "error_response"]

logger = logging.getLogger("cognito_signout.fastapi")

# RFC 6750 b64token (RFC 7235 token68): what may follow "Bearer " at all. Anything else is a
# malformed header (401), not a malformed token (400).
_BEARER_RE = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*)")
_NO_STORE = {"Cache-Control": "no-store"}
# A Cognito refresh token is a JWE of about 1.8 KB; a body many times that is no device
# sign-out, and is refused before it is buffered.
_MAX_DEVICE_BODY = 16 * 1024


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


_INVALID_TOKEN = _Mapped(
    401, "invalid_token", "The access token is invalid, expired or revoked.",
    {"WWW-Authenticate": 'Bearer error="invalid_token"'},
)


def _map(exc: errors.SdkError, retry_after: int) -> _Mapped:
    if isinstance(exc, errors.NotAuthorizedException):
        return _INVALID_TOKEN
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


def _respond(mapped: _Mapped, request_id: str | None = None) -> JSONResponse:
    body: dict[str, str] = {"error": mapped.error, "message": mapped.message}
    headers = {**_NO_STORE, **mapped.headers}
    if request_id:
        body["request_id"] = request_id
        headers["X-Cognito-Request-Id"] = request_id
    return JSONResponse(body, status_code=mapped.status, headers=headers)


def _log_failure(what: str, mapped: _Mapped, exc: errors.SdkError) -> None:
    log = logger.info if mapped.status < 500 and mapped.status != 429 else logger.warning
    log(
        "%s failed: status=%d error=%s cause=%s code=%s request_id=%s",
        what, mapped.status, mapped.error, type(exc).__name__, getattr(exc, "code", None),
        getattr(exc, "request_id", None),
    )


def error_response(exc: errors.SdkError, *, retry_after: int = 1) -> JSONResponse:
    """The HTTP answer for an SDK error, as ``POST /sign-out`` gives it (see the module doc).

    Use it in your own endpoints, or for all of them at once:
    ``app.add_exception_handler(SdkError, lambda request, exc: error_response(exc))``.
    ``retry_after`` (seconds) is sent with 429 and 503 when Cognito gave no hint of its own;
    either is sent as whole seconds within [1, 60].
    """
    mapped = _map(exc, retry_after)
    _log_failure("sign-out", mapped, exc)
    return _respond(mapped, getattr(exc, "request_id", None))


_MISSING_BEARER = _Mapped(
    401, "invalid_request", "An 'Authorization: Bearer <access token>' header is required.",
    {"WWW-Authenticate": "Bearer"},
)


def _missing_bearer() -> JSONResponse:
    return _respond(_MISSING_BEARER)


def _bearer_token(request: HTTPConnection) -> str | None:
    """The token of exactly one well-formed ``Authorization: Bearer`` header, else None."""
    values = request.headers.getlist("authorization")
    if len(values) != 1:
        return None
    match = _BEARER_RE.fullmatch(values[0].strip())
    return match.group(1) if match else None


def _refusal(exc: errors.SdkError, retry_after: int) -> _Mapped | None:
    """The answer to a failed verification; None for an error that is the server's own fault
    (a store that cannot work at all, say), which is left to raise: a 500."""
    if isinstance(exc, errors.InvalidToken):
        return _INVALID_TOKEN
    if isinstance(exc, errors.RevocationsUnavailable):
        return _Mapped(
            503, "unavailable",
            "Whether the token was revoked cannot be checked right now; retry later.",
            {"Retry-After": _retry_after_value(retry_after)},
        )
    if isinstance(
        exc, errors.DispatchFailure | errors.TimeoutError | errors.ServiceError
        | errors.ResponseError
    ):
        return _Mapped(
            503, "unavailable", "The user pool's signing keys are unavailable; retry later.",
            _retry_after_header(exc, retry_after),
        )
    return None


def _device_map(exc: errors.SdkError, retry_after: int) -> _Mapped:
    """RevokeToken's errors: its own where the refresh token is at fault, else the sign-out
    mapping (throttling, reachability, Cognito's failures)."""
    if isinstance(exc, errors.ConstructionFailure | errors.InvalidParameterException):
        return _Mapped(400, "invalid_request", "The refresh token is malformed.")
    if isinstance(exc, errors.UnsupportedTokenTypeException):
        return _Mapped(400, "unsupported_token_type", "refresh_token is not a refresh token.")
    if isinstance(exc, errors.UnauthorizedException):
        logger.warning(
            "device sign-out: Cognito refused the app client (a refresh token of another app "
            "client, or a wrong client secret configured for this one)"
        )
        return _Mapped(
            400, "invalid_grant", "The refresh token was not issued to this app client."
        )
    return _map(exc, retry_after)


_BAD_DEVICE_BODY = _Mapped(
    400, "invalid_request", 'The body must be a JSON object: {"refresh_token": "<token>"}.'
)
_DEVICE_BODY_TOO_LARGE = _Mapped(413, "invalid_request", "The body is too large.")


async def _refresh_token_of(request: Request) -> str | _Mapped:
    """The body's ``refresh_token``, read by hand: FastAPI's 422 for a body model quotes the
    input it refused, and this input is a credential."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _MAX_DEVICE_BODY:
        return _DEVICE_BODY_TOO_LARGE
    body = bytearray()
    document: object = None
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MAX_DEVICE_BODY:
                return _DEVICE_BODY_TOO_LARGE
        document = json.loads(body)
    except ClientDisconnect:
        return _BAD_DEVICE_BODY  # no one is left to read it; nothing is sent to Cognito
    except (ValueError, RecursionError):
        document = None
    finally:
        # The body holds (part of) the refresh token: no frame an error reporter captures
        # may keep it.
        body.clear()
    token = document.get("refresh_token") if type(document) is dict else None
    del document
    if type(token) is not str or not token:
        return _BAD_DEVICE_BODY
    return token


_BEARER_SCHEME = Security(HTTPBearer(auto_error=False))


async def _documents_bearer(
    _credentials: HTTPAuthorizationCredentials | None = _BEARER_SCHEME,
) -> None:
    """Declares the bearer scheme for the OpenAPI document (Swagger's "Authorize"); the
    header is parsed by :func:`_bearer_token`. A dependency of its own, so that the frames of
    our dependencies never hold the parsed credentials."""


_BEARER_DOC = Depends(_documents_bearer)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "The access token is malformed."},
    401: {"description": "No bearer token, or Cognito refused it (invalid, expired, revoked)."},
    403: {"description": "The user must reset their password or confirm their account."},
    429: {"description": "Throttled by Cognito; see Retry-After."},
    502: {"description": "Cognito answered with an error, or an answer we cannot read."},
    503: {"description": "Cognito could not be reached (connection failure or timeout)."},
}
_VERIFY_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No bearer token, or the access token is invalid, expired or "
                         "revoked (verified locally)."},
    503: {"description": "The revocation store or the user pool's signing keys are "
                         "unavailable, or Cognito could not be reached; see Retry-After."},
}


@attrs.frozen
class _Pool:
    user_pool_id: str
    client_ids: frozenset[str]
    region: str


class _ClientSecrets:
    """App client secrets by client id, for RevokeToken. Nothing of them in any repr."""

    __slots__ = ("_by_client",)

    def __init__(self, by_client: dict[str, str]) -> None:
        self._by_client = by_client

    def get(self, client_id: str) -> str | None:
        return self._by_client.get(client_id)

    def __len__(self) -> int:
        return len(self._by_client)

    def __repr__(self) -> str:
        return f"<{len(self._by_client)} client secrets>"

    def __reduce__(self) -> Any:
        raise TypeError("client secrets are not picklable")


class CognitoSignOut:
    """A FastAPI integration bound to one :class:`~cognito_signout.Config`.

    - ``lifespan``: pass to ``FastAPI(lifespan=...)`` or enter it from your own lifespan; it
      opens the shared client (and the token verifier, and starts the revocation store) on
      startup and closes them on shutdown.
    - ``client``: a dependency giving that client, ``Depends(cognito.client)``; with no
      lifespan running, the first request opens the client.
    - ``authenticated``: a dependency giving the caller's verified access token,
      ``Depends(cognito.authenticated)`` (needs ``user_pool_id``).
    - ``router``: ``POST {path}``, signing out the caller's bearer token; with
      ``user_pool_id``, ``POST {device_path}`` (one device); with ``managed_login_domain`` and
      ``logout_uri``, ``GET {logout_path}`` (sign out, then managed login's logout page).

    ``config=None`` reads :meth:`Config.from_env` when the app starts or serves its first
    request (not at import), so tests can set the environment first. Keyword arguments named
    after Config fields override it, e.g. ``CognitoSignOut(region="eu-west-1",
    timeout_config=TimeoutConfig(operation_timeout=2.0))``: applied over
    ``Config.from_env()`` at that same moment, or over ``config`` when one is given. Their
    names and values are checked at once (a :class:`~cognito_signout.errors.ConstructionFailure`),
    still without any I/O. ``client_factory(config)`` builds the client instead of
    ``Client(config, revocations=revocations)``, e.g. ``FakeCognito().client`` in tests; with
    ``revocations``, the factory must pass that same store on
    (``lambda config: fake.client(config, revocations=cognito.revocations)``): a client that
    records sign-outs elsewhere, or nowhere, is refused at startup, as sign-outs through it
    would leave their tokens accepted here. ``retry_after`` is the ``Retry-After`` (seconds) of
    429 and 503 answers when Cognito gives no hint (sent within [1, 60], as Cognito's own
    hint is).

    Verification (issue 11), all optional; without them the integration only signs out:

    - ``user_pool_id`` and ``client_ids``: the pool and app clients whose access tokens
      ``authenticated`` accepts. With them and no region or endpoint configured, the region is
      the pool's (RevokeToken needs one: a refresh token names none).
    - ``revocations``: a :class:`~cognito_signout.Revocations` store. Every sign-out the
      router's client makes is recorded there, and ``authenticated`` refuses what it holds.
      Share one store (``Revocations.redis(url)``) between replicas.
    - ``client_secrets``: ``{client_id: secret}`` for the app clients of ``client_ids`` that
      have a secret (the device sign-out's RevokeToken needs it). Kept out of every repr, log
      line and error.
    - ``device_path`` (default ``{path}/device``), ``logout_path`` (default ``/logout``):
      where the device sign-out and the managed-login logout routes are served.
    - ``managed_login_domain``, ``logout_uri`` and ``logout_client_id`` (default: the only
      entry of ``client_ids``): the managed-login logout link, checked now by
      :func:`~cognito_signout.logout_url`. Both or neither of the first two.

    ``close_on_shutdown``: whether the end of the lifespan closes the client (and the
    verifier, and stops the store). ``None`` (the default) means yes, except under AWS Lambda
    (``AWS_LAMBDA_FUNCTION_NAME`` set), where Mangum's ``lifespan="auto"`` ends a lifespan
    after every invocation: they are then kept for the next invocation, until the process
    exits or :meth:`aclose`.
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
        user_pool_id: str | None = None,
        client_ids: Iterable[str] | None = None,
        revocations: Revocations | None = None,
        client_secrets: Mapping[str, str] | None = None,
        device_path: str | None = None,
        logout_path: str = "/logout",
        managed_login_domain: str | None = None,
        logout_uri: str | None = None,
        logout_client_id: str | None = None,
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
        for name, value in (("path", path), ("device_path", device_path),
                            ("logout_path", logout_path)):
            if value is not None and (not isinstance(value, str) or not value.startswith("/")):
                raise errors.ConstructionFailure(f"{name} must be a str starting with '/'")
        self._config = config
        self._overrides: ConfigOverrides = overrides if config is None else {}
        self._client_factory = client_factory
        self._retry_after = retry_after
        self._close_on_shutdown = close_on_shutdown
        self._pool = _pool(user_pool_id, client_ids)
        from ._revocations import checked_store

        self._revocations = checked_store(revocations)
        self._secrets = _client_secrets(client_secrets, self._pool)
        self._logout_location = _logout_location(
            managed_login_domain, logout_uri, logout_client_id, self._pool
        )
        # One key per instance: two integrations (say, two user pools) can share an app.
        self._state_key = f"cognito_signout.client.{uuid.uuid4().hex}"
        self._client: Client | None = None  # the shared client, made on first need
        self._verifier: TokenVerifier | None = None  # the shared verifier, made on first need
        self._lifespans = 0  # lifespans running now (an app can be served twice)
        # The asyncio loop the client was last opened in, to close it there at exit.
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self.router = self._build_router(
            path, path.rstrip("/") + "/device" if device_path is None else device_path,
            logout_path, list(tags),
        )

    def __repr__(self) -> str:
        open_clients = 0 if self._client is None or self._client.is_closed else 1
        pool = "" if self._pool is None else f" user_pool_id={self._pool.user_pool_id}"
        store = "" if self._revocations is None else " revocations=yes"
        return f"<CognitoSignOut config={self._config!r}{pool}{store} open_clients={open_clients}>"

    @property
    def revocations(self) -> Revocations | None:
        """The revocation store sign-outs are recorded in (for a ``client_factory``)."""
        return self._revocations

    @property
    def authenticated(self) -> Callable[..., Coroutine[Any, Any, VerifiedToken]]:
        """Dependency: the caller's verified access token,
        ``token: VerifiedToken = Depends(cognito.authenticated)``.

        Verified locally by the shared :class:`~cognito_signout.TokenVerifier` (the pool's
        ``client_ids``, access tokens only, the revocation store's sign-outs and ended
        sessions); 401 or 503 otherwise (see the module doc). Without ``user_pool_id`` there
        is nothing to verify against: reading this attribute raises
        :class:`~cognito_signout.errors.ConstructionFailure`, so the app fails where it
        declares the dependency (at import), not on its first request.
        """
        if self._pool is None:
            raise errors.ConstructionFailure(
                "cognito.authenticated needs CognitoSignOut(user_pool_id=..., client_ids=[...])"
            )
        return self._authenticate

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object) -> AsyncIterator[dict[str, Any]]:
        """Open the shared client for the app's lifetime; yields the lifespan state.

        The configuration is read, and checked, here: a setting that cannot work fails the
        startup (so does a verifier that cannot work with it, or a store that cannot start).
        A client already open (a request came first, or Mangum's previous invocation under
        Lambda) is reused. To combine with your own lifespan, enter it and pass its state on::

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
            if self._pool is not None:
                self._shared_verifier()
            if self._revocations is not None:
                await self._revocations.start()
        except BaseException:
            self._lifespans -= 1
            if self._lifespans == 0:
                await self.aclose()
            raise
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
        """Close the shared client and verifier, and stop the revocation store, now; the next
        lifespan or request opens new ones (and starts the store again)."""
        client, self._client = self._client, None
        verifier, self._verifier = self._verifier, None
        try:
            if verifier is not None:
                await verifier.aclose()
            if self._revocations is not None:
                await self._revocations.aclose()
        finally:
            if client is not None:
                await client.aclose()
                logger.debug("closed the shared client")

    # --- verification -------------------------------------------------------------------

    async def _authenticate(self, request: Request, _bearer: None = _BEARER_DOC) -> VerifiedToken:
        outcome = await self._verified(request)
        if isinstance(outcome, _Mapped):
            raise HTTPException(
                outcome.status,
                detail={"error": outcome.error, "message": outcome.message},
                headers={**_NO_STORE, **outcome.headers},
            )
        return outcome

    async def _verified(self, connection: HTTPConnection) -> VerifiedToken | _Mapped:
        """The bearer token, verified; or the answer that refuses it."""
        verifier = self._shared_verifier()  # before the token is read: it may raise
        token = _bearer_token(connection)
        if token is None:
            return _MISSING_BEARER
        failure: errors.SdkError
        try:
            return await verifier.verify(token)
        except errors.SdkError as exc:
            failure = exc
        finally:
            # This frame is in the traceback of whatever leaves it (an HTTPException that an
            # error reporter captures with its locals): no local may hold the token then.
            del token
        mapped = _refusal(failure, self._retry_after)
        if mapped is None:
            raise failure
        # A 401 is routine (a client learns its token expired and refreshes it): not worth a
        # line per request at INFO. A 503 means the store or the keys are down.
        log = logger.debug if mapped.status < 500 else logger.warning
        log(
            "authentication refused: status=%d reason=%s cause=%s",
            mapped.status, getattr(failure, "reason", None), type(failure).__name__,
        )
        return mapped

    def _shared_verifier(self) -> TokenVerifier:
        verifier = self._verifier
        if verifier is not None and not verifier.closed:
            return verifier
        pool = self._pool
        if pool is None:  # the routes and the property only get here with a pool
            raise errors.ConstructionFailure("verification needs user_pool_id and client_ids")
        from ._verify import TokenVerifier

        # The client's own config: the same endpoint (an emulator serves the key set there),
        # timeouts and retries as the sign-outs.
        verifier = TokenVerifier(
            pool.user_pool_id, pool.client_ids, config=self._shared_client().config,
            revocations=self._revocations,
        )
        self._verifier = verifier
        return verifier

    # --- the shared client ----------------------------------------------------------------

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
        if self._pool is not None and config.region is None and config.endpoint_url is None:
            config = attrs.evolve(config, region=self._pool.region)
        _check_endpoint(config)
        if self._client_factory is None:
            client = Client(config, revocations=self._revocations)
        else:
            client = self._client_factory(config)
        if not isinstance(client, Client):
            raise errors.ConstructionFailure(
                f"client_factory must return a cognito_signout.Client, got "
                f"{type(client).__name__}"
            )
        if self._revocations is not None and client.revocations is not self._revocations:
            raise errors.ConstructionFailure(
                "client_factory must build its client with revocations=cognito.revocations: "
                "sign-outs through it would not be recorded in the store authenticated reads"
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
        """At interpreter exit: close what is open in its loop, if that loop is idle and open."""
        client, verifier = self._client, self._verifier
        if (client is None or client.is_closed) and (verifier is None or verifier.closed):
            return
        loop = self._loop() if self._loop is not None else None
        if loop is None or loop.is_closed() or loop.is_running():
            # Nothing can run there: the process's end closes the sockets.
            self._client = self._verifier = None
            return
        try:
            loop.run_until_complete(self.aclose())
        except Exception:  # at exit, a failure to close is no reason to fail
            logger.debug("could not close the shared client at exit", exc_info=True)

    # --- the routes -------------------------------------------------------------------------

    def _build_router(
        self, path: str, device_path: str, logout_path: str, tags: list[str]
    ) -> APIRouter:
        router = APIRouter(tags=list(tags))
        retry_after = self._retry_after
        shared_client = Depends(self.client)
        recorded = self._revocations is not None

        async def sign_out(request: Request, client: Client = shared_client) -> Response:
            token = _bearer_token(request)
            if token is None:
                return _missing_bearer()
            try:
                output = await client.global_sign_out().access_token(token).send()
            except errors.SdkError as exc:
                return error_response(exc, retry_after=retry_after)
            finally:
                # This frame may reach an error reporter (a bug below, a cancellation): it
                # must not hold the token.
                del token
            headers = dict(_NO_STORE)
            if output.request_id:
                headers["X-Cognito-Request-Id"] = output.request_id
            logger.debug("signed out: request_id=%s attempts=%d", output.request_id,
                         output.attempts)
            _log_unrecorded(output.revocation)
            return Response(status_code=204, headers=headers)

        if recorded:
            description = (
                "Signs the caller out everywhere (Cognito GlobalSignOut) and records the "
                "sign-out in the revocation store: every token of the user issued until now "
                "is refused, by Cognito and by every verifier sharing the store (this API's, "
                "on every replica)."
            )
            signed_out = (
                "Signed out: every token of the user is now refused, by Cognito and by every "
                "verifier sharing the revocation store."
            )
        else:
            description = (
                "Signs the caller out everywhere (Cognito GlobalSignOut): the user's refresh "
                "tokens stop working and Cognito refuses the access tokens. No revocation store "
                "is configured, so an API that verifies tokens locally still accepts the "
                "user's unexpired access and ID tokens until they expire."
            )
            signed_out = (
                "Signed out at Cognito: the refresh tokens are revoked and Cognito refuses the "
                "access tokens (tokens verified locally stay valid until they expire)."
            )
        router.add_api_route(
            path,
            sign_out,
            methods=["POST"],
            status_code=204,
            response_class=Response,
            responses={204: {"description": signed_out}, **_RESPONSES},
            summary="Sign out everywhere (Cognito GlobalSignOut)",
            description=description,
            # Declared for the OpenAPI document (Swagger's "Authorize"); parsing is ours.
            dependencies=[_BEARER_DOC],
        )
        if self._pool is not None:
            self._add_device_route(router, device_path, shared_client)
        if self._logout_location is not None:
            self._add_logout_route(router, logout_path, shared_client)
        return router

    def _add_device_route(self, router: APIRouter, path: str, shared_client: Any) -> None:
        retry_after = self._retry_after
        secrets = self._secrets
        store = self._revocations

        async def sign_out_device(request: Request, client: Client = shared_client) -> Response:
            verified = await self._verified(request)
            if isinstance(verified, _Mapped):
                return _respond(verified)
            refresh = await _refresh_token_of(request)
            if isinstance(refresh, _Mapped):
                return _respond(refresh)
            builder = client.revoke_token().token(refresh).client_id(verified.client_id)
            del refresh
            secret = secrets.get(verified.client_id)
            if secret is not None:
                builder = builder.client_secret(secret)
            del secret
            try:
                output = await builder.send()
            except errors.SdkError as exc:
                mapped = _device_map(exc, retry_after)
                _log_failure("device sign-out", mapped, exc)
                return _respond(mapped, getattr(exc, "request_id", None))
            finally:
                del builder
            if store is not None:
                if verified.origin_jti is None:
                    # Cognito revoked it, so the client has token revocation on and its tokens
                    # carry origin_jti; a token without one names no session to record.
                    logger.warning("device sign-out: the access token has no origin_jti; "
                                   "no session recorded")
                else:
                    _log_unrecorded(await store.revoke_session(verified))
            headers = dict(_NO_STORE)
            if output.request_id:
                headers["X-Cognito-Request-Id"] = output.request_id
            logger.debug("signed out one device: request_id=%s", output.request_id)
            return Response(status_code=204, headers=headers)

        if store is not None:
            description = (
                "Signs the caller out of this device (Cognito RevokeToken): the refresh token, "
                "and the tokens issued from it, stop working at Cognito, and the session is "
                "recorded in the revocation store, so this API refuses its access tokens too, "
                "on every replica. The user's other sessions live on. The bearer token is the "
                "session's access token; the body holds the same sign-in's refresh token."
            )
            ended = "Signed out of this device: the session's tokens are refused everywhere."
        else:
            description = (
                "Signs the caller out of this device (Cognito RevokeToken): the refresh token, "
                "and the tokens issued from it, stop working at Cognito. No revocation store is "
                "configured, so this API accepts the session's access tokens until they "
                "expire. The user's other sessions live on."
            )
            ended = "Signed out of this device at Cognito."
        router.add_api_route(
            path,
            sign_out_device,
            methods=["POST"],
            status_code=204,
            response_class=Response,
            responses={
                204: {"description": ended},
                400: {"description": "The body is not {\"refresh_token\": \"...\"}, the "
                                     "refresh token is malformed, not a refresh token, or of "
                                     "another app client."},
                413: {"description": "The body is too large."},
                **{code: _RESPONSES[code] for code in (429, 502)},
                **_VERIFY_RESPONSES,
            },
            summary="Sign out this device (Cognito RevokeToken)",
            description=description,
            dependencies=[_BEARER_DOC],
            # The body is read by hand (see _refresh_token_of); documented here.
            openapi_extra={"requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["refresh_token"],
                    "properties": {"refresh_token": {"type": "string"}},
                }}},
            }},
        )

    def _add_logout_route(self, router: APIRouter, path: str, shared_client: Any) -> None:
        retry_after = self._retry_after
        location = self._logout_location
        assert location is not None

        async def logout(request: Request, client: Client = shared_client) -> Response:
            token = _bearer_token(request)
            if token is None:
                logger.info("logout: no bearer token; redirecting to managed login's logout")
            else:
                try:
                    output = await client.global_sign_out().access_token(token).send()
                except (
                    errors.NotAuthorizedException, errors.ConstructionFailure,
                    errors.InvalidParameterException,
                ) as exc:
                    # Already revoked or expired, or no token Cognito could accept: nothing
                    # is left to revoke, and the managed-login cookie must still go.
                    logger.info("logout: the token was already unusable (%s); redirecting",
                                type(exc).__name__)
                except errors.SdkError as exc:
                    return error_response(exc, retry_after=retry_after)
                else:
                    _log_unrecorded(output.revocation)
                finally:
                    del token
            return RedirectResponse(location, status_code=303, headers=_NO_STORE)

        router.add_api_route(
            path,
            logout,
            methods=["GET"],
            status_code=303,
            response_class=RedirectResponse,
            responses={
                303: {"description": "Signed out (or nothing left to revoke): on to managed "
                                     "login's /logout, which ends the hosted-UI session."},
                **{code: _RESPONSES[code] for code in (403, 429, 502, 503)},
            },
            summary="Sign out everywhere, then managed login's logout page",
            description=(
                "Signs the caller's bearer token out everywhere (as the POST sign-out route), "
                "then redirects to the managed-login logout endpoint. Also redirects without a "
                "bearer token or when Cognito says the token is already invalid; when the "
                "sign-out cannot be confirmed (throttled, unreachable, failing) it answers "
                "that error instead, since the tokens may still work."
            ),
            dependencies=[_BEARER_DOC],
        )


def _log_unrecorded(recording: Any) -> None:
    if recording is not None and not recording.recorded:
        logger.warning(
            "revocations: the store has not confirmed the record yet; retrying in the "
            "background (other replicas accept the tokens until it lands)"
        )


def _pool(user_pool_id: str | None, client_ids: Iterable[str] | None) -> _Pool | None:
    if user_pool_id is None:
        if client_ids is not None:
            raise errors.ConstructionFailure("client_ids needs user_pool_id")
        return None
    if client_ids is None:
        raise errors.ConstructionFailure(
            "user_pool_id needs client_ids: the app clients whose tokens are accepted"
        )
    from ._verify import TokenVerifier

    # A verifier made only to check the arguments now (it does no I/O); the shared one is
    # made with the client's config at startup.
    probe = TokenVerifier(user_pool_id, client_ids)
    return _Pool(probe.user_pool_id, probe.client_ids, probe.region)


def _client_secrets(secrets: object, pool: _Pool | None) -> _ClientSecrets:
    if secrets is None:
        return _ClientSecrets({})
    if pool is None:
        raise errors.ConstructionFailure("client_secrets needs user_pool_id and client_ids")
    if not isinstance(secrets, Mapping):
        raise errors.ConstructionFailure("client_secrets must be a mapping {client_id: secret}")
    checked: dict[str, str] = {}
    for client_id, secret in secrets.items():
        # Neither is quoted: the CLI and logout_url never print a client id either.
        if client_id not in pool.client_ids:
            raise errors.ConstructionFailure("client_secrets names a client not in client_ids")
        checked[client_id] = _validate.client_secret("a client secret", secret)
    return _ClientSecrets(checked)


def _logout_location(
    domain: str | None, logout_uri: str | None, client_id: str | None, pool: _Pool | None
) -> str | None:
    if domain is None and logout_uri is None:
        if client_id is not None:
            raise errors.ConstructionFailure(
                "logout_client_id needs managed_login_domain and logout_uri"
            )
        return None
    if domain is None or logout_uri is None:
        raise errors.ConstructionFailure(
            "the logout route needs both managed_login_domain and logout_uri"
        )
    if client_id is None:
        if pool is None or len(pool.client_ids) != 1:
            raise errors.ConstructionFailure(
                "the logout route needs logout_client_id (or exactly one of client_ids)"
            )
        [client_id] = pool.client_ids
    from ._logout import logout_url

    return logout_url(domain, client_id=client_id, logout_uri=logout_uri)


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
