"""FakeCognito: an in-memory Cognito user pool behind an httpx transport.

Why a transport and not a mock of :class:`~cognito_signout.Client`: the fake answers the real
AWS JSON 1.1 wire (``X-Amz-Target``, JSON bodies, ``x-amzn-errortype``, ``x-amzn-requestid``),
so code under test runs through the SDK's real serializer, error parser, retry loop and token
scrubbing. A test that passes against the fake fails for the same reasons it would against
Cognito, not because a mock was shaped differently.

This module is the transport and the public API; the wire is ``_wire.py``, the pool's state,
its signing key and Cognito's rules ``_pool.py``. The fake is thread-safe (a FastAPI app under
test may run on another thread's event loop) and works under asyncio and trio alike.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import anyio
import attrs
import httpx

from .._transport import install_transport
from . import _wire
from ._pool import (
    DEFAULT_CLIENT_ID,
    EXPIRED,
    INVALID,
    REVOKED,
    FakeAppClient,
    FakeSession,
    Injection,
    Pool,
    RecordedCall,
)

if TYPE_CHECKING:
    from .._client import Client
    from .._config import Config
    from .._revocations import Revocations
    from .._verify import RevocationCheck, TokenVerifier
    from ..operations.get_user import MfaOption

__all__ = [
    "EXPIRED",
    "INVALID",
    "REVOKED",
    "FakeAppClient",
    "FakeCognito",
    "FakeSession",
    "RecordedCall",
]


@attrs.frozen
class _Served:
    """One operation the fake serves: the member that carries its token (recorded, and matched
    by injected failures) and the handler, which answers a JSON document or raises a Refusal."""

    token_member: str
    handler: Callable[[Pool, Mapping[str, Any]], Mapping[str, Any]]


def _global_sign_out(pool: Pool, document: Mapping[str, Any]) -> Mapping[str, Any]:
    token = _wire.token_member(document, "AccessToken")
    pool.check_access_token(token)
    pool.global_sign_out(token)
    return {}


def _revoke_token(pool: Pool, document: Mapping[str, Any]) -> Mapping[str, Any]:
    token = _wire.token_member(document, "Token")
    client_id = _wire.string_member(document, "ClientId", _wire.WORD_PATTERN, max_len=128)
    secret = _wire.string_member(
        document, "ClientSecret", _wire.WORD_PATTERN, required=False, max_len=64
    )
    _wire.enum_member(document, "RevokeAssociatedSessions", ("NONE", "LINKED"))
    assert client_id is not None
    pool.revoke_token(token, client_id, secret)
    return {}


def _get_user(pool: Pool, document: Mapping[str, Any]) -> Mapping[str, Any]:
    token = _wire.token_member(document, "AccessToken")
    pool.check_access_token(token)
    return pool.user_document(token)


_OPERATIONS: Mapping[str, _Served] = {
    "GlobalSignOut": _Served("AccessToken", _global_sign_out),
    "RevokeToken": _Served("Token", _revoke_token),
    "GetUser": _Served("AccessToken", _get_user),
}


class FakeCognito(httpx.AsyncBaseTransport):
    """An in-memory Cognito user pool that answers GlobalSignOut, RevokeToken and GetUser like
    the real service.

    Sessions: :meth:`sign_in` opens a session (access, ID and refresh token, one
    ``origin_jti``) for a user on an app client; :meth:`issue_token` is the same, giving only
    the access token (:meth:`session_of` finds the rest). A second sign-in of the same user is
    a second session. RevokeToken with a session's refresh token ends that session: all of its
    tokens are refused from then on, the user's other sessions live on. GlobalSignOut ends
    every session of the user (on every app client) opened before it. GetUser answers the
    user of a live access token (username, ``sub`` and the attributes given to
    :meth:`sign_in` or :meth:`add_user`) and refuses an ended, expired or non-access token with
    ``NotAuthorizedException``.

    Tokens the fake did not issue: an access token is accepted once each by GlobalSignOut (its
    own session), a JWT-shaped one whose ``exp`` has passed is refused as expired; RevokeToken
    with an unknown refresh token succeeds, as RevokeToken does (RFC 7009: a revocation does
    not tell whether the token was valid), and an unknown app client is taken as a public one.
    ``accept_unknown_tokens=False`` refuses both: ``NotAuthorizedException`` for the token,
    ``UnauthorizedException`` for the client.

    App clients: :meth:`add_client` adds one, with a secret or without revocation; the default
    ``"fakeclientid"`` and any client id given to :meth:`sign_in` are public with revocation
    on. RevokeToken refuses (``UnauthorizedException``) a missing or wrong secret, a secret
    sent for a public client, and a token issued to another client;
    ``UnsupportedOperationException`` when revocation is off; ``UnsupportedTokenTypeException``
    for an access or ID token. ``RevokeAssociatedSessions`` is accepted and recorded; the fake
    has no linked sessions, so ``"LINKED"`` revokes what ``"NONE"`` does.

    Failures: :meth:`fail_next`, :meth:`throttle`, :meth:`disconnect_next` and
    :meth:`timeout_next` queue failures that the next matching requests get, in order, whatever
    the operation (unless one is named); ``token=`` matches the request's ``AccessToken`` or
    RevokeToken's ``Token``.

    A token that names this pool (its ``iss``) but that the fake did not issue is forged (a
    ``sub`` swapped into a real token, say) and refused as ``Invalid Access Token`` whatever
    ``accept_unknown_tokens`` says, as Cognito's signature check would: a sign-out confirmed
    for it would make ``Client(revocations=...)`` record a cutoff for someone else.

    Signed tokens and the key set: access and ID tokens are RS256-signed (``kid`` header) with
    Cognito's claims, so your app's :class:`~cognito_signout.TokenVerifier` accepts them;
    :meth:`verifier` gives one bound to this pool. The transport serves the public key at
    ``GET /{pool_id}/.well-known/jwks.json`` (:meth:`key_set`) on any host it is reached at:
    the issuer's (``https://cognito-idp.{region}.amazonaws.com``, what a verifier without an
    ``endpoint_url`` asks while :meth:`patch` is on) or an ``endpoint_url``'s. Another pool's
    id, or a Cognito host of another region, is a 404 ``ResourceNotFoundException`` (the
    verifier raises a ``ServiceError`` with ``status_code=404``). Key-set requests take
    ``latency`` but no queued failure, and are counted in :attr:`key_set_requests`, not in
    :attr:`calls`. One RSA-2048 key is generated per process, on the first token, and shared
    by every fake (``own_signing_key=True``: this fake gets its own, on first use).

    Without the ``cryptography`` package (it comes with ``cognito-signout[verify]``), the fake
    works for sign-out tests as before: tokens keep Cognito's claims with a random signature
    under the kid ``"cognito-signout-fake-unsigned"``, and the key set is answered with HTTP
    501 ``SigningKeyUnavailable`` (a ``ServiceError`` from a verifier), so unsigned tokens can
    never pass a verifier; :meth:`key_set` raises RuntimeError.

    Time: tokens' ``iat``/``exp``/``auth_time``, expiry checks and every answer's ``Date``
    header (where ``Client(revocations=...)`` takes a sign-out's cutoff) follow the fake's
    clock: ``clock`` (seconds since the epoch, default ``time.time``) plus what
    :meth:`advance` moved it by. ``iat`` is whole seconds and a sign-out refuses every token
    issued in its second, so a test that signs in again right after a sign-out calls
    ``fake.advance(1)`` rather than sleeping; ``advance(-7200)`` (or ``clock=``) issues tokens
    that a verifier, on the real clock, finds expired.

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
        clock: Callable[[], float] | None = None,
        own_signing_key: bool = False,
    ) -> None:
        self._pool = Pool(
            region,
            accept_unknown_tokens=accept_unknown_tokens,
            clock=time.time if clock is None else clock,
            own_key=own_signing_key,
        )
        self.latency = latency
        """Seconds each answer takes (``anyio.sleep``), to exercise concurrency and timeouts."""

    def __repr__(self) -> str:
        return (
            f"<FakeCognito region={self.region!r} calls={len(self._pool.calls)} "
            f"sign_outs={len(self.sign_outs)} revocations={len(self.revocations)}>"
        )

    @property
    def region(self) -> str:
        return self._pool.region

    @property
    def pool_id(self) -> str:
        """The fake pool's id (``<region>_<10 hex>``), in its tokens' ``iss``."""
        return self._pool.pool_id

    @property
    def issuer(self) -> str:
        """The tokens' ``iss``: ``https://cognito-idp.{region}.amazonaws.com/{pool_id}``."""
        return self._pool.issuer

    @property
    def client_ids(self) -> list[str]:
        """Every app client's id (the default ``"fakeclientid"`` first)."""
        with self._pool.lock:
            return self._pool.client_ids()

    # -- time ---------------------------------------------------------------------------------

    def now(self) -> float:
        """The fake's time (seconds since the epoch): its clock plus :meth:`advance`'s moves."""
        with self._pool.lock:
            return self._pool.now()

    def advance(self, seconds: float) -> None:
        """Move the fake's clock by ``seconds`` (negative: back) for what it does from now on.

        Tokens issued afterwards carry the moved ``iat``/``exp``, and answers a moved ``Date``.
        ``advance(1)`` after a sign-out lets the next sign-in fall in a later second than the
        sign-out's cutoff (``iat`` has one-second resolution) without a real sleep.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(
            seconds
        ):
            raise ValueError(f"seconds must be a finite number, got {seconds!r}")
        with self._pool.lock:
            self._pool.offset += seconds

    # -- keys ---------------------------------------------------------------------------------

    def key_set(self) -> dict[str, Any]:
        """The key set the fake serves: ``{"keys": [{"kty": "RSA", "kid", "alg": "RS256",
        "use": "sig", "n", "e"}]}``, the public key its tokens are signed with.

        Raises RuntimeError without the ``cryptography`` package (tokens are then unsigned).
        """
        with self._pool.lock:
            key = self._pool.signing_key()
        if key is None:
            raise RuntimeError(_UNSIGNED)
        return {"keys": [dict(key.jwk)]}

    @property
    def key_set_requests(self) -> int:
        """How many key-set requests the fake answered (200 or not)."""
        with self._pool.lock:
            return self._pool.key_set_requests

    @property
    def accept_unknown_tokens(self) -> bool:
        """Whether tokens and app clients the fake did not issue are taken (see the class)."""
        return self._pool.accept_unknown_tokens

    @accept_unknown_tokens.setter
    def accept_unknown_tokens(self, value: bool) -> None:
        with self._pool.lock:
            self._pool.accept_unknown_tokens = value

    # -- what happened ------------------------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        """Every request answered so far, in order (a copy)."""
        with self._pool.lock:
            return list(self._pool.calls)

    def _succeeded(self, operation: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.ok and not c.injected and c.operation == operation]

    @property
    def sign_outs(self) -> list[RecordedCall]:
        """The GlobalSignOut calls that really signed out, in order (no injected answer)."""
        return self._succeeded("GlobalSignOut")

    @property
    def revocations(self) -> list[RecordedCall]:
        """The RevokeToken calls that succeeded, in order (no injected answer)."""
        return self._succeeded("RevokeToken")

    @property
    def max_in_flight(self) -> int:
        """The most operation requests (key-set requests aside) the fake was answering at
        once: checks a concurrency bound."""
        return self._pool.max_in_flight

    def signed_out(self, token: str) -> bool:
        """Whether a GlobalSignOut with exactly this access token, or a RevokeToken with exactly
        this refresh token, succeeded."""
        return any(c.token == token for c in (*self.sign_outs, *self.revocations))

    def is_revoked(self, token: str) -> bool:
        """Whether the token's session has ended (RevokeToken, GlobalSignOut, :meth:`revoke`):
        for an access or ID token, whether Cognito would now refuse it as revoked; for a
        refresh token, whether it can no longer refresh."""
        with self._pool.lock:
            return self._pool.revoked(token)

    # -- users, clients and sessions ----------------------------------------------------------

    def sign_in(
        self,
        username: str | None = None,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        attributes: Mapping[str, str] | None = None,
        expires_in: float = 3600.0,
        scopes: Sequence[str] | None = None,
    ) -> FakeSession:
        """A new session for ``username`` (a random user if None), like InitiateAuth.

        The access and ID tokens are RS256-signed JWTs with Cognito's claims: ``iss`` (this
        fake's :attr:`issuer`, so a ``Client`` without a region routes by it), ``sub``,
        ``token_use``, ``client_id`` (access) or ``aud`` (ID), ``scope`` (access: ``scopes``,
        default ``aws.cognito.signin.user.admin``; ``scopes=()`` leaves it out), ``username``
        or ``cognito:username``, ``iat``/``auth_time`` (the fake's :meth:`now`), ``exp``
        (``expires_in`` seconds later; negative: already expired), ``jti`` (unique per token)
        and ``origin_jti`` (the session's); the ID token also carries the user's attributes.
        The refresh token is opaque. ``attributes`` (``{"email": ...}``) are merged into the
        user's, which GetUser answers; an unknown ``client_id`` becomes a public app client.
        """
        with self._pool.lock:
            return self._pool.sign_in(
                username, client_id=client_id, attributes=attributes, expires_in=expires_in,
                scopes=scopes,
            )

    def issue_token(
        self,
        username: str | None = None,
        *,
        expires_in: float = 3600.0,
        client_id: str = DEFAULT_CLIENT_ID,
        attributes: Mapping[str, str] | None = None,
        scopes: Sequence[str] | None = None,
    ) -> str:
        """The access token of a new session (:meth:`sign_in`); :meth:`session_of` gives the
        session's refresh and ID tokens."""
        return self.sign_in(
            username, client_id=client_id, attributes=attributes, expires_in=expires_in,
            scopes=scopes,
        ).access_token

    def session_of(self, token: str) -> FakeSession | None:
        """The session an issued token (access, ID or refresh) belongs to; None if unknown."""
        with self._pool.lock:
            return self._pool.session_of(token)

    def refresh(self, refresh_token: str, *, expires_in: float = 3600.0) -> str:
        """A new access token for the session, as a REFRESH_TOKEN_AUTH sign-in gives: a new
        ``jti`` and ``iat``, the session's ``origin_jti``, ``auth_time`` and scopes.

        Raises ValueError if the token is not one of the fake's refresh tokens, or its session
        has ended (Cognito would refuse the refresh).
        """
        with self._pool.lock:
            return self._pool.refresh(refresh_token, expires_in)

    def add_client(
        self,
        client_id: str | None = None,
        *,
        secret: bool | str = False,
        revocation_enabled: bool = True,
    ) -> FakeAppClient:
        """Add (or replace) an app client: a random Cognito-shaped id if None; ``secret=True``
        generates a client secret, a str sets it; ``revocation_enabled=False`` is a client on
        which RevokeToken is an ``UnsupportedOperationException``."""
        with self._pool.lock:
            return self._pool.add_client(client_id, secret, revocation_enabled)

    def add_user(
        self,
        username: str | None = None,
        *,
        attributes: Mapping[str, str] | None = None,
        preferred_mfa_setting: str | None = None,
        user_mfa_setting_list: Sequence[str] | None = None,
        mfa_options: Sequence[MfaOption] | None = None,
    ) -> str:
        """Create or update a user (GetUser's answer); returns the username. ``attributes`` are
        merged into the user's (``sub`` is the fake's own); the MFA fields replace what was set.
        """
        with self._pool.lock:
            return self._pool.add_user(
                username,
                attributes,
                preferred_mfa_setting=preferred_mfa_setting,
                user_mfa_setting_list=user_mfa_setting_list,
                mfa_options=mfa_options,
            ).username

    def revoke(self, *tokens: str) -> None:
        """End sessions as a GlobalSignOut elsewhere would: every session of the tokens' users."""
        with self._pool.lock:
            for token in tokens:
                self._pool.global_sign_out(token)

    def revoke_session(self, *tokens: str) -> None:
        """End sessions as a RevokeToken elsewhere would: each token's own session only."""
        with self._pool.lock:
            for token in tokens:
                self._pool.end_session(token)

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
        operation: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests (every one if None) with an error.

        By default a Cognito error: ``x-amzn-errortype: <code>`` and a ``{"__type", "message"}``
        body, with the status Cognito uses for the code (429 throttling, 500 internal error,
        403 WAF, else 400). ``body``/``headers`` replace the body and add headers, e.g. an HTML
        page from a proxy: ``fail_next(code=None, status=502, body=b"<html>...")``. With
        ``token``, only requests carrying that token (``AccessToken``, or RevokeToken's
        ``Token``) are affected; with ``operation`` (``"RevokeToken"``), only that operation.
        """
        if status is None:
            status = _wire.status_for(code)
        self._inject(
            Injection(
                "error", _count(n), token, operation, code, status, message, body,
                dict(headers or {}),
            )
        )

    def throttle(
        self,
        n: int | None = 1,
        *,
        retry_after: float | None = None,
        token: str | None = None,
        operation: str | None = None,
    ) -> None:
        """Throttle the next ``n`` requests: 429 ``TooManyRequestsException`` ("Rate exceeded").

        ``retry_after`` (seconds) adds the ``x-amz-retry-after`` hint in milliseconds.
        """
        headers = {} if retry_after is None else {"x-amz-retry-after": str(int(retry_after * 1000))}
        self.fail_next(
            n, code="TooManyRequestsException", message="Rate exceeded", headers=headers,
            token=token, operation=operation,
        )

    def disconnect_next(
        self, n: int | None = 1, *, token: str | None = None, operation: str | None = None
    ) -> None:
        """Drop the connection without an answer (the SDK sees a DispatchFailure, retries)."""
        self._inject(Injection("disconnect", _count(n), token, operation))

    def timeout_next(
        self, n: int | None = 1, *, token: str | None = None, operation: str | None = None
    ) -> None:
        """Time out at once, as a read timeout would (the SDK retries it)."""
        self._inject(Injection("timeout", _count(n), token, operation))

    def clear_failures(self) -> None:
        """Forget all queued failures, including the ``n=None`` ones."""
        with self._pool.lock:
            self._pool.injections.clear()

    def reset(self) -> None:
        """Back to a fresh pool: no calls (nor key-set requests), failures, users, added clients
        or sessions.

        The pool id, signing key and clock stay: tokens issued before are now forged ones
        (they name this pool, which no longer knows them) and refused as invalid.
        """
        with self._pool.lock:
            self._pool.reset()

    def _inject(self, injection: Injection) -> None:
        with self._pool.lock:
            self._pool.injections.append(injection)

    # -- wiring -------------------------------------------------------------------------------

    def client(
        self, config: Config | None = None, *, revocations: Revocations | None = None
    ) -> Client:
        """A :class:`~cognito_signout.Client` whose requests go to this fake.

        Without ``config``, ``Config(region=<the fake's region>)``. With ``revocations`` (a
        ``Revocations.memory()`` store, say), every sign-out the fake confirms is recorded
        there as the real client would record Cognito's, with the cutoff from the fake's
        ``Date``. Use it as an async context manager as usual.
        """
        from .._client import Client
        from .._config import Config

        return Client(
            config if config is not None else Config(region=self.region),
            http_client=httpx.AsyncClient(transport=self),
            revocations=revocations,
        )

    def verifier(
        self,
        client_ids: Iterable[str] | None = None,
        *,
        token_use: Literal["access", "id"] = "access",  # noqa: S107 (a claim, not a password)
        revocations: RevocationCheck | None = None,
        **options: Any,
    ) -> TokenVerifier:
        """A :class:`~cognito_signout.TokenVerifier` of this fake's pool that fetches the key
        set from the fake, with or without :meth:`patch`.

        ``client_ids`` defaults to every app client the fake has now (:attr:`client_ids`;
        clients added later are not included). ``options`` go to ``TokenVerifier`` as they are
        (``leeway``, ``required_scopes``, ``config``...); an ``http_client`` given there is
        used instead of one on the fake. Needs the ``verify`` extra (joserfc).
        """
        from .._verify import TokenVerifier

        if client_ids is None:
            client_ids = self.client_ids
        if options.get("http_client") is None:
            options["http_client"] = httpx.AsyncClient(transport=self)
        return TokenVerifier(
            self.pool_id, client_ids, token_use=token_use, revocations=revocations, **options
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

    # -- the transport ------------------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key_set_pool = _wire.key_set_pool(request)
        if key_set_pool is not None:
            return await self._key_set_response(request, key_set_pool)
        parsed = _wire.parse(request, await request.aread(), _OPERATIONS)
        served = _OPERATIONS.get(parsed.operation or "")
        token = _wire.carried(parsed.document, served.token_member) if served else None
        pool = self._pool
        with pool.lock:
            pool.in_flight += 1
            pool.max_in_flight = max(pool.max_in_flight, pool.in_flight)
        try:
            if self.latency > 0:
                await anyio.sleep(self.latency)
            with pool.lock:
                injection = pool.take_injection(parsed.operation, token)
                if injection is not None:
                    return self._injected(request, parsed, token, injection)
                try:
                    if parsed.refusal is not None:
                        raise parsed.refusal
                    assert served is not None
                    answer = served.handler(pool, parsed.document)
                except _wire.Refusal as refusal:
                    body, headers = _wire.error_document(refusal.code, refusal.message)
                    return self._respond(
                        request, parsed, token, refusal.status, refusal.code, body, headers
                    )
                return self._respond(
                    request, parsed, token, 200, None, _wire.success_document(answer), {}
                )
        finally:
            with pool.lock:
                pool.in_flight -= 1

    async def _key_set_response(self, request: httpx.Request, pool_id: str) -> httpx.Response:
        if self.latency > 0:
            await anyio.sleep(self.latency)
        pool = self._pool
        with pool.lock:
            pool.key_set_requests += 1
            now = pool.now()
            if pool_id != pool.pool_id or _wire.host_region(request) not in (None, pool.region):
                body, headers = _wire.error_document(
                    "ResourceNotFoundException", "User pool does not exist."
                )
                status = 404
            else:
                key = pool.signing_key()
                if key is None:
                    body, headers = _wire.error_document("SigningKeyUnavailable", _UNSIGNED)
                    status = 501
                else:
                    body = json.dumps({"keys": [dict(key.jwk)]}).encode()
                    headers, status = {}, 200
        headers["content-type"] = "application/json"
        response, _ = _wire.response(request, status, body, headers, now)
        return response

    def _injected(
        self,
        request: httpx.Request,
        parsed: _wire.Parsed,
        token: str | None,
        injection: Injection,
    ) -> httpx.Response:
        if injection.kind != "error":
            self._record(request, parsed, token, 0, None, None, injected=True)
            if injection.kind == "disconnect":
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                )
            raise httpx.ReadTimeout("The read operation timed out (injected)", request=request)
        if injection.body is not None:
            body, headers = injection.body, dict(injection.headers)
            if injection.code:
                headers["x-amzn-errortype"] = injection.code
        else:
            body, headers = _wire.error_document(
                injection.code,
                injection.message or f"{injection.code or 'Error'} (injected by FakeCognito)",
                injection.headers,
            )
        return self._respond(
            request, parsed, token, injection.status, injection.code, body, headers,
            injected=True,
        )

    def _respond(
        self,
        request: httpx.Request,
        parsed: _wire.Parsed,
        token: str | None,
        status: int,
        code: str | None,
        body: bytes,
        headers: Mapping[str, str],
        *,
        injected: bool = False,
    ) -> httpx.Response:
        response, request_id = _wire.response(request, status, body, headers, self._pool.now())
        self._record(request, parsed, token, status, code, request_id, injected=injected)
        return response

    def _record(
        self,
        request: httpx.Request,
        parsed: _wire.Parsed,
        token: str | None,
        status: int,
        code: str | None,
        request_id: str | None,
        *,
        injected: bool,
    ) -> None:
        served = _OPERATIONS.get(parsed.operation or "")
        self._pool.calls.append(
            RecordedCall(
                operation=parsed.operation,
                access_token=token if served and served.token_member == "AccessToken" else None,
                username=self._pool.username_of(token),
                status_code=status,
                error_code=code,
                request_id=request_id,
                attempt=_wire.attempt_of(request),
                invocation_id=request.headers.get("amz-sdk-invocation-id"),
                injected=injected,
                headers={k.lower(): v for k, v in request.headers.items()},
                token=token,
                client_id=_wire.carried(parsed.document, "ClientId"),
                members=dict(parsed.document),
            )
        )


_UNSIGNED = (
    "FakeCognito has no signing key: the cryptography package is not installed (it comes with "
    "'cognito-signout[verify]'), so its tokens are unsigned and no key set can verify them"
)


def _count(n: int | None) -> int | None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be an int >= 1, or None for every request, got {n!r}")
    return n
