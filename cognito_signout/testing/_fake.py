"""FakeCognito: an in-memory Cognito user pool behind an httpx transport.

Why a transport and not a mock of :class:`~cognito_signout.Client`: the fake answers the real
AWS JSON 1.1 wire (``X-Amz-Target``, JSON bodies, ``x-amzn-errortype``, ``x-amzn-requestid``),
so code under test runs through the SDK's real serializer, error parser, retry loop and token
scrubbing. A test that passes against the fake fails for the same reasons it would against
Cognito, not because a mock was shaped differently.

The fake is thread-safe (a FastAPI app under test may run on another thread's event loop) and
works under asyncio and trio alike.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

import anyio
import attrs
import httpx

from .._token import REDACTED
from .._transport import install_transport

if TYPE_CHECKING:
    from .._client import Client
    from .._config import Config

__all__ = ["FakeCognito", "RecordedCall"]

_TARGET_PREFIX = "AWSCognitoIdentityProviderService."
_JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
_TOKEN_RE = re.compile(r"[A-Za-z0-9\-_=.]+")
_ATTEMPT_RE = re.compile(r"attempt=(\d+)")

# Real Cognito's texts for the three ways a token is refused.
REVOKED = "Access Token has been revoked"
EXPIRED = "Access Token has expired"
INVALID = "Invalid Access Token"

# HTTP statuses by error code; everything unlisted is a client fault, 400 on AWS JSON 1.1.
_STATUS_BY_CODE = {
    "TooManyRequestsException": 429,
    "InternalErrorException": 500,
    "ForbiddenException": 403,
}


def _redacted(value: object) -> str:
    return "None" if value is None else repr(REDACTED)


@attrs.frozen(kw_only=True)
class RecordedCall:
    """One request the fake answered (or failed on purpose), in arrival order.

    ``access_token`` is kept so a test can ask *which* token was signed out, but it never shows
    in ``repr``: test failure output is logged by CI and must not carry credentials.
    """

    operation: str | None
    """The operation from ``X-Amz-Target`` (``"GlobalSignOut"``), None if it was missing."""
    access_token: str | None = attrs.field(repr=_redacted)
    username: str | None
    """The user the token belongs to, for tokens from :meth:`FakeCognito.issue_token`."""
    status_code: int
    """200 for a sign-out; 0 when the fake dropped the connection or timed out on purpose."""
    error_code: str | None
    request_id: str | None
    attempt: int | None
    """The SDK's attempt number (``amz-sdk-request``): 1 first, 2 for the first retry..."""
    invocation_id: str | None
    """Shared by all attempts of one SDK call (``amz-sdk-invocation-id``)."""
    injected: bool
    """True if this answer came from :meth:`FakeCognito.fail_next` and friends."""
    headers: Mapping[str, str] = attrs.field(repr=False, eq=False, hash=False)
    """Request headers, lower-cased names (GlobalSignOut is unsigned: no credential in them)."""

    @property
    def ok(self) -> bool:
        return self.status_code == 200


@attrs.define
class _Injection:
    kind: Literal["error", "disconnect", "timeout"]
    remaining: int | None  # None: until clear_failures()
    token: str | None = attrs.field(default=None, repr=_redacted)
    code: str | None = None
    status: int = 500
    message: str | None = None
    body: bytes | None = None
    headers: dict[str, str] = attrs.field(factory=dict)

    def matches(self, token: str | None) -> bool:
        return self.token is None or self.token == token


@attrs.define
class _Session:
    username: str | None
    generation: int
    expires_at: float | None


class _Refusal(Exception):
    """Internal: the request is answered with a Cognito error."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status


class FakeCognito(httpx.AsyncBaseTransport):
    """An in-memory Cognito user pool that answers GlobalSignOut like the real service.

    Tokens: :meth:`issue_token` mints JWT-shaped access tokens for named users. Signing out
    one of them revokes every token of that user issued before (real Cognito revokes all the
    user's sessions); later calls with any of them get ``NotAuthorizedException``. Tokens the
    fake did not issue are accepted once each (their own session) unless
    ``accept_unknown_tokens`` is False; a JWT-shaped one whose ``exp`` has passed is refused as
    expired.

    Failures: :meth:`fail_next`, :meth:`throttle`, :meth:`disconnect_next` and
    :meth:`timeout_next` queue failures that the next matching requests get, in order.

    Wiring: :meth:`client` returns a :class:`~cognito_signout.Client` on the fake;
    :meth:`patch` makes every ``Client`` created meanwhile (without its own ``http_client``)
    use it, which is how the ``cognito_fake`` pytest fixture reaches code under test.
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        latency: float = 0.0,
        accept_unknown_tokens: bool = True,
    ) -> None:
        self.region = region
        self.pool_id = f"{region}_{secrets.token_hex(5).upper()}"
        self.latency = latency
        """Seconds each answer takes (``anyio.sleep``), to exercise concurrency and timeouts."""
        self.accept_unknown_tokens = accept_unknown_tokens
        self._lock = threading.Lock()
        self._calls: list[RecordedCall] = []
        self._injections: list[_Injection] = []
        self._issued: dict[str, _Session] = {}  # token -> session
        self._generation: dict[str, int] = {}  # username -> sign-out count
        self._revoked_unknown: set[str] = set()
        self._in_flight = 0
        self._max_in_flight = 0

    def __repr__(self) -> str:
        return (
            f"<FakeCognito region={self.region!r} calls={len(self._calls)} "
            f"sign_outs={len(self.sign_outs)}>"
        )

    # -- what happened ------------------------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        """Every request answered so far, in order (a copy)."""
        with self._lock:
            return list(self._calls)

    @property
    def sign_outs(self) -> list[RecordedCall]:
        """The GlobalSignOut calls that really signed out, in order (no injected answer)."""
        return [c for c in self.calls if c.ok and not c.injected and c.operation == "GlobalSignOut"]

    @property
    def max_in_flight(self) -> int:
        """The most requests the fake was answering at once: checks a concurrency bound."""
        return self._max_in_flight

    def signed_out(self, token: str) -> bool:
        """Whether a GlobalSignOut with exactly this token succeeded."""
        return any(c.access_token == token for c in self.sign_outs)

    def is_revoked(self, token: str) -> bool:
        """Whether Cognito would now refuse this token as revoked."""
        with self._lock:
            return self._revoked(token)

    # -- tokens and users ---------------------------------------------------------------------

    def issue_token(
        self,
        username: str | None = None,
        *,
        expires_in: float = 3600.0,
        client_id: str = "fakeclientid",
    ) -> str:
        """A new access token for ``username`` (a random user if None), like InitiateAuth.

        The token is JWT-shaped with Cognito's claims (``iss`` names this fake's region and
        pool, so a ``Client`` without a region routes by it). It is not really signed. A
        negative ``expires_in`` gives an already expired token.
        """
        username = username or f"user-{uuid.uuid4().hex[:12]}"
        now = time.time()
        claims = {
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.pool_id}/{username}")),
            "iss": f"https://cognito-idp.{self.region}.{_dns_suffix(self.region)}/{self.pool_id}",
            "client_id": client_id,
            "origin_jti": str(uuid.uuid4()),
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "auth_time": int(now),
            "exp": int(now + expires_in),
            "iat": int(now),
            "jti": str(uuid.uuid4()),
            "username": username,
        }
        token = ".".join(
            (
                _b64({"kid": "cognito-signout-fake", "alg": "RS256"}),
                _b64(claims),
                base64.urlsafe_b64encode(secrets.token_bytes(64)).rstrip(b"=").decode(),
            )
        )
        with self._lock:
            self._issued[token] = _Session(
                username, self._generation.get(username, 0), now + expires_in
            )
        return token

    def revoke(self, *tokens: str) -> None:
        """Revoke tokens as a sign-out elsewhere would (all sessions of their users)."""
        with self._lock:
            for token in tokens:
                self._sign_out(token)

    # -- failure injection --------------------------------------------------------------------

    def fail_next(
        self,
        n: int | None = 1,
        *,
        code: str | None = "InternalErrorException",
        status: int | None = None,
        message: str | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        token: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests (every one if None) with an error.

        By default a Cognito error: ``x-amzn-errortype: <code>`` and a ``{"__type", "message"}``
        body, with the status Cognito uses for the code (429 throttling, 500 internal error,
        403 WAF, else 400). ``body``/``headers`` replace the body and add headers, e.g. an HTML
        page from a proxy: ``fail_next(code=None, status=502, body=b"<html>...")``. With
        ``token``, only requests carrying that token are affected.
        """
        if status is None:
            status = _STATUS_BY_CODE.get(code or "", 400 if code else 500)
        self._inject(
            _Injection(
                "error", _count(n), token, code, status, message, body, dict(headers or {})
            )
        )

    def throttle(
        self, n: int | None = 1, *, retry_after: float | None = None, token: str | None = None
    ) -> None:
        """Throttle the next ``n`` requests: 429 ``TooManyRequestsException`` ("Rate exceeded").

        ``retry_after`` (seconds) adds the ``x-amz-retry-after`` hint in milliseconds.
        """
        headers = {} if retry_after is None else {"x-amz-retry-after": str(int(retry_after * 1000))}
        self.fail_next(
            n, code="TooManyRequestsException", message="Rate exceeded", headers=headers,
            token=token,
        )

    def disconnect_next(self, n: int | None = 1, *, token: str | None = None) -> None:
        """Drop the connection without an answer (the SDK sees a DispatchFailure, retries)."""
        self._inject(_Injection("disconnect", _count(n), token))

    def timeout_next(self, n: int | None = 1, *, token: str | None = None) -> None:
        """Time out at once, as a read timeout would (the SDK retries it)."""
        self._inject(_Injection("timeout", _count(n), token))

    def clear_failures(self) -> None:
        """Forget all queued failures, including the ``n=None`` ones."""
        with self._lock:
            self._injections.clear()

    def reset(self) -> None:
        """Back to a fresh pool: no calls, failures, issued or revoked tokens."""
        with self._lock:
            self._calls.clear()
            self._injections.clear()
            self._issued.clear()
            self._generation.clear()
            self._revoked_unknown.clear()
            self._max_in_flight = self._in_flight

    def _inject(self, injection: _Injection) -> None:
        with self._lock:
            self._injections.append(injection)

    # -- wiring -------------------------------------------------------------------------------

    def client(self, config: Config | None = None) -> Client:
        """A :class:`~cognito_signout.Client` whose requests go to this fake.

        Without ``config``, ``Config(region=<the fake's region>)``. Use it as an async context
        manager as usual.
        """
        from .._client import Client
        from .._config import Config

        return Client(
            config if config is not None else Config(region=self.region),
            http_client=httpx.AsyncClient(transport=self),
        )

    @contextlib.contextmanager
    def patch(self) -> Iterator[FakeCognito]:
        """Route every ``Client`` without its own ``http_client`` here, inside the block.

        This reaches code that builds its own client, such as ``CognitoSignOut``'s lifespan or
        the CLI, whichever transport (httpcore or aiohttp) it is configured with: it is
        :func:`cognito_signout.testing.install_transport` with the fake, which every client
        reads on each call. Clients given an ``http_client`` are left as they are.
        """
        with install_transport(self):
            yield self

    # -- the wire -----------------------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        operation, token, refusal = _parse(request, body)
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            if self.latency > 0:
                await anyio.sleep(self.latency)
            with self._lock:
                injection = self._take_injection(token)
                if injection is not None:
                    return self._injected(request, operation, token, injection)
                if refusal is None:
                    refusal = self._check_and_sign_out(token)
                if refusal is not None:
                    return self._error(
                        request, operation, token, refusal.code, refusal.status, refusal.message
                    )
                return self._answer(request, operation, token, 200, None, b"{}", {})
        finally:
            with self._lock:
                self._in_flight -= 1

    def _take_injection(self, token: str | None) -> _Injection | None:
        for injection in self._injections:
            if injection.matches(token):
                if injection.remaining is not None:
                    injection.remaining -= 1
                    if injection.remaining <= 0:
                        self._injections.remove(injection)
                return injection
        return None

    def _injected(
        self,
        request: httpx.Request,
        operation: str | None,
        token: str | None,
        injection: _Injection,
    ) -> httpx.Response:
        if injection.kind != "error":
            self._record(request, operation, token, 0, None, None, injected=True)
            if injection.kind == "disconnect":
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                )
            raise httpx.ReadTimeout("The read operation timed out (injected)", request=request)
        if injection.body is not None:
            headers = dict(injection.headers)
            if injection.code:
                headers["x-amzn-errortype"] = injection.code
            return self._answer(
                request, operation, token, injection.status, injection.code, injection.body,
                headers, injected=True,
            )
        return self._error(
            request, operation, token, injection.code, injection.status,
            injection.message or f"{injection.code or 'Error'} (injected by FakeCognito)",
            extra=injection.headers, injected=True,
        )

    def _check_and_sign_out(self, token: str | None) -> _Refusal | None:
        """Cognito's verdict on a well-formed token; signs it out when accepted."""
        assert token is not None
        session = self._issued.get(token)
        claims = _claims(token)
        if session is None and not self.accept_unknown_tokens:
            return _Refusal("NotAuthorizedException", INVALID)
        if claims.get("token_use") == "id":
            return _Refusal("NotAuthorizedException", INVALID)
        if self._revoked(token):
            return _Refusal("NotAuthorizedException", REVOKED)
        expires_at = session.expires_at if session else _number(claims.get("exp"))
        if expires_at is not None and expires_at <= time.time():
            return _Refusal("NotAuthorizedException", EXPIRED)
        self._sign_out(token)
        return None

    def _revoked(self, token: str) -> bool:
        session = self._issued.get(token)
        if session is None:
            return token in self._revoked_unknown
        if session.username is None:
            return False
        return session.generation < self._generation.get(session.username, 0)

    def _sign_out(self, token: str) -> None:
        session = self._issued.get(token)
        if session is None or session.username is None:
            self._revoked_unknown.add(token)
            return
        self._generation[session.username] = self._generation.get(session.username, 0) + 1

    def _error(
        self,
        request: httpx.Request,
        operation: str | None,
        token: str | None,
        code: str | None,
        status: int,
        message: str,
        *,
        extra: Mapping[str, str] | None = None,
        injected: bool = False,
    ) -> httpx.Response:
        headers = dict(extra or {})
        document: dict[str, str] = {"message": message}
        if code:
            headers["x-amzn-errortype"] = code
            document = {"__type": code, "message": message}
        return self._answer(
            request, operation, token, status, code, json.dumps(document).encode(), headers,
            injected=injected,
        )

    def _answer(
        self,
        request: httpx.Request,
        operation: str | None,
        token: str | None,
        status: int,
        code: str | None,
        body: bytes,
        headers: Mapping[str, str],
        *,
        injected: bool = False,
    ) -> httpx.Response:
        request_id = str(uuid.uuid4())
        self._record(request, operation, token, status, code, request_id, injected=injected)
        all_headers = {
            "content-type": _JSON_CONTENT_TYPE,
            "x-amzn-requestid": request_id,
            "date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
            **{k.lower(): v for k, v in headers.items()},
        }
        return httpx.Response(status, headers=all_headers, content=body, request=request)

    def _record(
        self,
        request: httpx.Request,
        operation: str | None,
        token: str | None,
        status: int,
        code: str | None,
        request_id: str | None,
        *,
        injected: bool,
    ) -> None:
        attempt = _ATTEMPT_RE.search(request.headers.get("amz-sdk-request", ""))
        session = self._issued.get(token) if token else None
        self._calls.append(
            RecordedCall(
                operation=operation,
                access_token=token,
                username=session.username if session else None,
                status_code=status,
                error_code=code,
                request_id=request_id,
                attempt=int(attempt.group(1)) if attempt else None,
                invocation_id=request.headers.get("amz-sdk-invocation-id"),
                injected=injected,
                headers={k.lower(): v for k, v in request.headers.items()},
            )
        )


def _parse(request: httpx.Request, body: bytes) -> tuple[str | None, str | None, _Refusal | None]:
    """Operation and token of a request, or the refusal Cognito gives a malformed one."""
    target = request.headers.get("x-amz-target", "")
    operation = target.removeprefix(_TARGET_PREFIX) if target.startswith(_TARGET_PREFIX) else None
    if request.method != "POST" or request.url.path != "/":
        return operation, None, _Refusal("UnknownOperationException", "Unknown operation")
    if operation != "GlobalSignOut":
        return operation, None, _Refusal(
            "UnknownOperationException",
            "Unknown operation" if operation is None else f"{operation} is not faked",
        )
    if request.headers.get("content-type", "").split(";")[0].strip() != _JSON_CONTENT_TYPE:
        return operation, None, _Refusal("SerializationException", "Unsupported content type")
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return operation, None, _Refusal("SerializationException", "Malformed request body")
    token = document.get("AccessToken")
    if not isinstance(token, str) or not token:
        return operation, None, _Refusal(
            "InvalidParameterException",
            "1 validation error detected: Value null at 'accessToken' failed to satisfy "
            "constraint: Member must not be null",
        )
    if _TOKEN_RE.fullmatch(token) is None:
        return operation, token, _Refusal(
            "InvalidParameterException",
            "1 validation error detected: Value at 'accessToken' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [A-Za-z0-9-_=.]+",
        )
    return operation, token, None


def _claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, RecursionError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _b64(document: Mapping[str, Any]) -> str:
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _dns_suffix(region: str) -> str:
    from .._endpoints import partition_by_pattern

    partition = partition_by_pattern(region)
    return partition.dns_suffix if partition is not None else "amazonaws.com"


def _count(n: int | None) -> int | None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be an int >= 1, or None for every request, got {n!r}")
    return n
