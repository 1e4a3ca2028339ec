"""Local verification of Cognito user pool tokens: :class:`TokenVerifier` (issue 11).

What is checked, in this order (the first failure is the :class:`InvalidToken` ``reason``):

1. ``malformed`` -- a ``str`` of at most 16 KiB, three base64url segments; a header that is a
   JSON object with ``alg`` exactly ``RS256`` (never ``none``, never HMAC: no algorithm
   confusion, whatever key the set holds) and a ``kid``.
2. ``unknown_key`` -- the ``kid`` is in the pool's key set (fetched, see below).
3. ``signature`` -- RSASSA-PKCS1-v1_5 with SHA-256, by that key (joserfc's RS256 model).
4. ``malformed`` -- the payload is a JSON object with integer ``exp`` and ``iat`` and a
   string ``sub``.
5. ``expired`` / ``not_yet_valid`` -- ``exp`` and ``nbf`` (when present), with ``leeway``
   seconds of allowance for clock skew (default 2 s).
6. ``issuer`` -- ``iss`` is exactly ``https://cognito-idp.{region}.{dns suffix}/{pool id}``,
   the suffix of the pool region's partition (also under an emulator: moto writes the real
   form).
7. ``token_use`` -- ``access`` or ``id``, as configured.
8. ``client`` -- ``client_id`` (access tokens) or ``aud`` (ID tokens) is one of ``client_ids``.
9. ``scope`` -- every scope of ``required_scopes`` is in the access token's ``scope``.
10. ``revoked`` -- the ``revocations`` store says the token was revoked: :class:`TokenRevoked`.
11. ``revoked`` -- with ``confirm_with_cognito=seconds``, Cognito itself refuses the token
    (asked at most once per interval per token; see ``_confirm.py`` for which tokens can be
    asked, what it costs in Cognito quota, and ``on_unavailable``).

Keys: the key set is fetched on first need (not at construction), over the SDK's own httpx
transport (never a blocking client), from ``{endpoint_url}/{pool id}/.well-known/jwks.json``
when the config names an endpoint (an emulator), else from the issuer. It is kept without a
time limit, as aws-jwt-verify does: Cognito rotates keys by adding them. A ``kid`` the set
lacks causes one refetch, shared by every verify that waits for it; when that refetch still
lacks the ``kid``, no further fetch happens for ``refetch_cooldown`` seconds (default 10), and
verifies of unknown kids fail at once with ``unknown_key``. So forged kids cost at most one
key-set request per cooldown. A failed fetch raises the SDK's errors (``DispatchFailure``,
``TimeoutError``, ``ServiceError``, ``ResponseError``); for a second after it, verifies that
need keys fail at once with a copy of that error rather than asking again. The whole fetch,
retries included, is bounded by the config's ``operation_timeout`` (5 s when it is unset), so a
server dripping its body cannot hang a verify; the body is read with a 64 KiB cap, after
decompression.

Errors leave :meth:`TokenVerifier.verify` with no traceback below it and no chained cause, and
its own frame no longer holds the token: locals-capturing error reporters never see the token.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeGuard, runtime_checkable

import anyio
import attrs
import httpx

from . import _endpoints, _protocol, _retry, _transport, errors
from ._config import Config
from ._runtime import _clean, _current_loop, _user_agent
from .errors import InvalidToken, RevocationsUnavailable, TokenRevoked
from .errors import TokenReason as Reason

if TYPE_CHECKING:
    from ._confirm import Confirmer

__all__ = [
    "DEFAULT_KEY_SET_TIMEOUT",
    "MAX_KEY_SET_BYTES",
    "MAX_TOKEN_CHARS",
    "RevocationCheck",
    "TokenVerifier",
    "VerifiedToken",
]

TokenUse = Literal["access", "id"]

MAX_KEY_SET_BYTES = 64 * 1024
"""A Cognito key set is two keys, under 1 KiB; anything near this is not one."""
MAX_TOKEN_CHARS = 16 * 1024
"""Cognito's tokens are 1-2 KiB (an ID token with many attributes a few KiB)."""
DEFAULT_KEY_SET_TIMEOUT = 5.0
"""The bound of a whole key-set fetch when the config sets no ``operation_timeout``."""
DEFAULT_REFETCH_COOLDOWN = 10.0
DEFAULT_LEEWAY = 2.0
_FAILURE_HOLD = 1.0  # seconds a failed fetch is answered from memory instead of asked again
_MIN_KEY_BITS, _MAX_KEY_BITS = 2048, 8192
_HEADER_CACHE_SIZE = 64

# <region>_<id>: Cognito's ids are 9 characters, moto's 32 hex digits.
_POOL_ID = re.compile(r"(?P<region>[a-z]{2,5}(?:-[a-z]{2,12}){1,3}-[0-9]{1,2})_[0-9A-Za-z]{1,55}")
_CLIENT_ID = re.compile(r"[\w+]{1,128}", re.ASCII)
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,256}")  # RFC 6749 scope-token
# Three base64url segments (the signature may not be empty: "alg: none" has no signature).
_JWS = re.compile(r"[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}")
_KID_CHARS = 256


# --- the result ----------------------------------------------------------------------------


def _mapping_repr(value: Mapping[str, Any]) -> str:
    return f"<{len(value)} claims>"


@attrs.frozen(kw_only=True, slots=True, eq=False)
class VerifiedToken:
    """A token that passed every check. ``claims`` is the whole payload, read-only.

    ``username`` is ``username`` (access tokens) or ``cognito:username`` (ID tokens);
    ``client_id`` is ``client_id`` or the matching ``aud``; ``scopes`` is the access token's
    ``scope``, split (empty for ID tokens); ``jti`` and ``origin_jti`` are ``None`` when the
    app client has token revocation off. ``issued_at``/``expires_at`` are ``iat``/``exp`` as
    UTC datetimes (``claims["iat"]`` is the integer: one-second resolution). The repr shows
    no claim values but ``sub`` and ``username`` (not the app client id, which the service
    model marks sensitive); never the token itself, which is not kept.
    """

    sub: str
    username: str | None
    client_id: str = attrs.field(repr=False)  # an app client id is sensitive (the model says so)
    token_use: TokenUse
    scopes: frozenset[str]
    jti: str | None
    origin_jti: str | None
    issued_at: datetime
    expires_at: datetime
    claims: Mapping[str, Any] = attrs.field(repr=_mapping_repr)


@runtime_checkable
class RevocationCheck(Protocol):
    """What :class:`TokenVerifier` asks after every other check passed.

    ``True`` refuses the token (:class:`TokenRevoked`). A store that cannot answer raises
    :class:`RevocationsUnavailable` (or returns ``False`` to fail open, and logs it); any other
    exception from it is turned into :class:`RevocationsUnavailable` (fail closed).
    """

    async def is_revoked(self, token: VerifiedToken) -> bool: ...


# --- the verifier --------------------------------------------------------------------------


class TokenVerifier:
    """Verifies Cognito user pool tokens locally: ``token = await verifier.verify(raw)``.

    ``TokenVerifier(user_pool_id, client_ids, *, token_use="access", revocations=None,
    config=None, http_client=None, confirm_with_cognito=None, managed_login_domain=None,
    on_unavailable="reject", leeway=2.0, required_scopes=(), refetch_cooldown=10.0)``.

    ``confirm_with_cognito`` (seconds) also asks Cognito whether the token still works, which
    catches sign-outs made outside this SDK; ``managed_login_domain`` lets it ask userInfo
    about managed-login tokens; ``on_unavailable`` says what to do when Cognito cannot
    answer (see ``_confirm.py``). An async context manager; :meth:`aclose`
    closes the connections it owns (a caller's ``http_client`` stays open). Safe to share
    between tasks; construction does no I/O.
    """

    def __init__(
        self,
        user_pool_id: str,
        client_ids: Iterable[str],
        *,
        token_use: TokenUse = "access",  # noqa: S107 (a claim value, not a password)
        revocations: RevocationCheck | None = None,
        config: Config | None = None,
        http_client: httpx.AsyncClient | None = None,
        confirm_with_cognito: float | None = None,
        managed_login_domain: str | None = None,
        on_unavailable: Literal["reject", "allow"] = "reject",
        leeway: float = DEFAULT_LEEWAY,
        required_scopes: Iterable[str] = (),
        refetch_cooldown: float = DEFAULT_REFETCH_COOLDOWN,
    ) -> None:
        if not isinstance(user_pool_id, str):
            raise errors.ConstructionFailure(
                f"user_pool_id must be a str, not {type(user_pool_id).__name__}"
            )
        match = _POOL_ID.fullmatch(user_pool_id)
        partition = None if match is None else _endpoints.partition_by_pattern(match["region"])
        if match is None or partition is None:
            raise errors.ConstructionFailure(
                f"user_pool_id {user_pool_id[:80]!r} is not a user pool id: "
                "<region>_<id>, for example 'eu-west-1_AbC123xYz'"
            )
        region = match["region"]
        self.user_pool_id = user_pool_id
        self.region = region
        self.issuer = f"https://cognito-idp.{region}.{partition.dns_suffix}/{user_pool_id}"
        self.client_ids = _client_ids(client_ids)
        if token_use not in ("access", "id"):
            raise errors.ConstructionFailure(
                f"token_use must be 'access' or 'id', got {token_use!r}"
            )
        self.token_use: TokenUse = token_use
        self.required_scopes = _scopes(required_scopes)
        if self.required_scopes and token_use == "id":
            raise errors.ConstructionFailure(
                "required_scopes needs token_use='access': ID tokens carry no scope"
            )
        if confirm_with_cognito is not None:
            if token_use == "id":
                raise errors.ConstructionFailure(
                    "confirm_with_cognito needs token_use='access': Cognito has no call that "
                    "confirms an ID token"
                )
            confirm_with_cognito = _seconds(
                "confirm_with_cognito", confirm_with_cognito, allow_zero=True
            )
        if on_unavailable not in ("reject", "allow"):
            raise errors.ConstructionFailure('on_unavailable must be "reject" or "allow"')
        if on_unavailable != "reject" and confirm_with_cognito is None:
            raise errors.ConstructionFailure(
                "on_unavailable here is for confirm_with_cognito; a revocation store's is set "
                "on the store: Revocations.redis(url, on_unavailable=...)"
            )
        userinfo_url = None
        if managed_login_domain is not None:
            if confirm_with_cognito is None:
                raise errors.ConstructionFailure(
                    "managed_login_domain is only used by confirm_with_cognito (userInfo)"
                )
            from ._logout import _origin

            origin = _origin(managed_login_domain, "managed_login_domain")
            userinfo_url = httpx.URL(origin + "/oauth2/userInfo")
        if revocations is not None and not callable(getattr(revocations, "is_revoked", None)):
            raise errors.ConstructionFailure(
                "revocations must have an async is_revoked(token) method (a Revocations store)"
            )
        self.revocations = revocations
        self.leeway = _seconds("leeway", leeway, allow_zero=True)
        self.refetch_cooldown = _seconds("refetch_cooldown", refetch_cooldown, allow_zero=True)
        if config is None:
            config = Config(region=region)
        elif not isinstance(config, Config):
            raise errors.ConstructionFailure(
                f"config must be a cognito_signout.Config, not {type(config).__name__}"
            )
        if config.endpoint_url is None and config.region not in (None, region):
            raise errors.ConstructionFailure(
                f"config.region {config.region!r} is not the user pool's region {region!r}"
            )
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise errors.ConstructionFailure("http_client must be an httpx.AsyncClient")
        self.config = config
        self.jwks_url = _jwks_url(config, region, partition.dns_suffix, user_pool_id)
        self._fetcher = _KeySetFetcher(self.jwks_url, config, http_client)
        self._keys = _KeyCache(self._fetcher.fetch, self.refetch_cooldown)
        # header segment -> kid, for the headers already seen with a known kid (Cognito's
        # headers are the same for every token of a key, so this skips a decode and a parse).
        self._kids: dict[str, str] = {}
        self._rs256 = _rs256()
        self._confirmer: Confirmer | None = None
        if confirm_with_cognito is not None:
            from ._client import Client
            from ._confirm import Confirmer

            self._confirmer = Confirmer(
                confirm_with_cognito,
                client=Client(config, http_client=http_client),
                on_unavailable=on_unavailable,
                userinfo_url=userinfo_url,
                timeout=config.timeout_config.operation_timeout or DEFAULT_KEY_SET_TIMEOUT,
            )
        self._client_claim = "client_id" if token_use == "access" else "aud"
        self._username_claim = "username" if token_use == "access" else "cognito:username"
        self.closed = False

    # --- public -----------------------------------------------------------------------------

    async def verify(self, token: str) -> VerifiedToken:
        """The verified token, or :class:`InvalidToken` (``reason`` says why), or an error
        fetching keys, or :class:`RevocationsUnavailable`. Never an untyped exception."""
        try:
            return await self._verify(token)
        except errors.SdkError as exc:
            error = exc
        del token  # this frame is in the error's traceback: no local of it may hold the token
        try:
            raise _clean(error)  # outside the except block: no implicit __context__
        finally:
            del error

    async def aclose(self) -> None:
        self.closed = True
        await self._fetcher.aclose()
        if self._confirmer is not None:
            await self._confirmer.aclose()

    async def __aenter__(self) -> TokenVerifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def key_set_fetches(self) -> int:
        """How many key-set fetches were started (for metrics and tests)."""
        return self._fetcher.fetches

    @property
    def confirmations(self) -> int:
        """How many times Cognito was asked about a token (``confirm_with_cognito``)."""
        return 0 if self._confirmer is None else self._confirmer.probes

    def confirms(self, token: VerifiedToken) -> bool:
        """Whether ``confirm_with_cognito`` can ask Cognito about ``token``: GetUser needs the
        ``aws.cognito.signin.user.admin`` scope, userInfo a ``managed_login_domain`` and the
        ``openid`` scope. A token it cannot cover is never refused for that reason."""
        return self._confirmer is not None and self._confirmer.covers(token)

    def __repr__(self) -> str:
        return (
            f"<cognito_signout.TokenVerifier {self.user_pool_id} token_use={self.token_use} "
            f"clients={len(self.client_ids)}>"
        )

    # --- the checks -------------------------------------------------------------------------

    async def _verify(self, token: object) -> VerifiedToken:
        if self.closed:
            raise errors.DispatchFailure("this TokenVerifier is closed")
        if type(token) is not str:
            raise _invalid("malformed", f"a token is a str, not {type(token).__name__}")
        if len(token) > MAX_TOKEN_CHARS or _JWS.fullmatch(token) is None:
            raise _invalid("malformed", "not a JWT (three base64url segments)")
        header, payload, signature = token.split(".")
        kid = self._kids.get(header)
        if kid is None:
            kid = _kid_of(header)
        key = self._keys.keys.get(kid)
        if key is None:
            key = await self._keys.get(kid)
            if len(self._kids) >= _HEADER_CACHE_SIZE:
                self._kids.clear()
            self._kids[header] = kid
        elif len(self._kids) < _HEADER_CACHE_SIZE:
            self._kids[header] = kid
        signing_input = token[: len(header) + len(payload) + 1].encode("ascii")
        if not self._rs256.verify(signing_input, _b64decode(signature), key):
            raise _invalid("signature", "the signature does not verify with the pool's key")
        claims = _json_object(payload)
        if claims is None:
            raise _invalid("malformed", "the payload is not a JSON object")
        verified = await self._check(claims)
        if self._confirmer is not None:
            await self._confirmer.confirm(token, verified)
        return verified

    async def _check(self, claims: dict[str, Any]) -> VerifiedToken:
        exp, iat, sub = claims.get("exp"), claims.get("iat"), claims.get("sub")
        if not (_is_int(exp) and _is_int(iat) and type(sub) is str and sub):
            raise _invalid("malformed", "a token needs integer exp and iat, and a sub")
        now = time.time()
        if now - self.leeway >= exp:
            raise _invalid("expired", "the token has expired")
        nbf = claims.get("nbf")
        if nbf is not None:
            if not _is_number(nbf):
                raise _invalid("malformed", "nbf is not a number")
            if now + self.leeway < nbf:
                raise _invalid("not_yet_valid", "the token is not valid yet (nbf)")
        if claims.get("iss") != self.issuer:
            raise _invalid("issuer", "the token was not issued by this user pool")
        token_use = claims.get("token_use")
        if token_use != self.token_use:
            raise _invalid("token_use", f"the token is not an {self.token_use} token")
        client_id = _client_of(claims.get(self._client_claim), self.client_ids)
        if client_id is None:
            raise _invalid("client", "the token was issued to another app client")
        scopes: frozenset[str] = frozenset()
        if self.token_use == "access":
            scope = claims.get("scope")
            scopes = frozenset(scope.split()) if type(scope) is str else frozenset()
            if self.required_scopes and not self.required_scopes <= scopes:
                raise _invalid("scope", "the token lacks a required scope")
        username = claims.get(self._username_claim)
        jti, origin_jti = claims.get("jti"), claims.get("origin_jti")
        verified = VerifiedToken(
            sub=sub,
            username=username if type(username) is str else None,
            client_id=client_id,
            token_use=self.token_use,
            scopes=scopes,
            jti=jti if type(jti) is str else None,
            origin_jti=origin_jti if type(origin_jti) is str else None,
            issued_at=datetime.fromtimestamp(iat, UTC),
            expires_at=datetime.fromtimestamp(exp, UTC),
            claims=MappingProxyType(claims),
        )
        if self.revocations is not None and await _is_revoked(self.revocations, verified):
            raise TokenRevoked()
        return verified


async def _is_revoked(store: RevocationCheck, token: VerifiedToken) -> bool:
    failed = False
    try:
        revoked = await store.is_revoked(token)
    except errors.SdkError:
        raise
    except Exception:
        failed = True
    if failed or type(revoked) is not bool:
        raise RevocationsUnavailable(
            "the revocation store failed: whether the token was revoked is unknown"
        )
    return revoked


# --- the checks' helpers --------------------------------------------------------------------


def _invalid(reason: Reason, message: str) -> InvalidToken:
    return InvalidToken(message, reason=reason)


def _is_int(value: object) -> TypeGuard[int]:
    # A time in seconds that a datetime can hold (fromtimestamp overflows past year 9999).
    return type(value) is int and 0 <= value <= _MAX_TIME


_MAX_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z


def _is_number(value: object) -> bool:
    return (type(value) is int or type(value) is float) and math.isfinite(value)


def _b64decode(segment: str) -> bytes:
    # The segment already matched [A-Za-z0-9_-]+; a length of 1 mod 4 is not base64.
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return b""


def _json_object(segment: str) -> dict[str, Any] | None:
    raw = _b64decode(segment)
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value if type(value) is dict else None


def _kid_of(header_segment: str) -> str:
    header = _json_object(header_segment)
    if header is None:
        raise _invalid("malformed", "the header is not a JSON object")
    if header.get("alg") != "RS256":
        # Checked before any key is looked at: "none" and HS256 (signed with the public key,
        # the classic confusion) never reach a verification routine.
        raise _invalid("malformed", "the token is not signed with RS256")
    if "crit" in header:
        raise _invalid("malformed", "the header has critical extensions")
    kid = header.get("kid")
    if type(kid) is not str or not kid or len(kid) > _KID_CHARS:
        raise _invalid("malformed", "the header has no kid")
    return kid


def _client_of(value: object, allowed: frozenset[str]) -> str | None:
    if type(value) is str:
        return value if value in allowed else None
    if type(value) is list:  # aud may be a list in JWT; Cognito writes a string
        for item in value:
            if type(item) is str and item in allowed:
                return item
    return None


def _client_ids(value: object) -> frozenset[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise errors.ConstructionFailure(
            "client_ids must be a list of app client ids, e.g. ['1h57kf5cpq17m0eml12EXAMPLE']"
        )
    ids = list(value)
    for item in ids:
        if not isinstance(item, str) or _CLIENT_ID.fullmatch(item) is None:
            raise errors.ConstructionFailure(
                "each client id must be 1-128 letters, digits, '_' or '+'"
            )
    if not ids:
        raise errors.ConstructionFailure("client_ids must name at least one app client")
    return frozenset(ids)


def _scopes(value: object) -> frozenset[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise errors.ConstructionFailure("required_scopes must be a list of scope names")
    scopes = list(value)
    for item in scopes:
        if not isinstance(item, str) or _SCOPE.fullmatch(item) is None:
            raise errors.ConstructionFailure(
                "each required scope must be 1-256 printable ASCII characters without "
                "spaces, quotes or backslashes"
            )
    return frozenset(scopes)


def _seconds(name: str, value: object, *, allow_zero: bool) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
        or value > 86_400
    ):
        raise errors.ConstructionFailure(
            f"{name} must be a number of seconds from 0 to 86400, got {value!r}"
        )
    return float(value)


def _jwks_url(config: Config, region: str, dns_suffix: str, pool_id: str) -> httpx.URL:
    if config.endpoint_url is not None:
        # The endpoint API calls use (validated the same way), with the pool's path under it.
        base = _endpoints.resolve_endpoint(
            region, use_fips=config.use_fips, use_dualstack=config.use_dualstack,
            endpoint_url=config.endpoint_url,
        )
        return httpx.URL(base.rstrip("/") + f"/{pool_id}/.well-known/jwks.json")
    # The key set lives under the issuer, whatever FIPS or dual-stack say for API calls.
    return httpx.URL(f"https://cognito-idp.{region}.{dns_suffix}/{pool_id}/.well-known/jwks.json")


@functools.cache
def _rs256() -> Any:
    """joserfc's RS256 model (PKCS#1 v1.5 with SHA-256): the only algorithm ever run here.

    Imported when the first verifier is made, not with the package: joserfc and cryptography
    cost tens of milliseconds of import time that sign-out-only users never need.
    """
    try:
        from joserfc.jwa import RSAAlgorithm
    except ImportError:
        raise errors.ConstructionFailure(
            "TokenVerifier needs the verify extra: pip install 'cognito-signout[verify]'"
        ) from None
    return RSAAlgorithm(256)


# --- keys ----------------------------------------------------------------------------------


class _Fetch:
    """One key-set fetch that others may wait for."""

    __slots__ = ("done", "error", "finished_at", "ok")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.ok = False
        self.error: errors.SdkError | None = None
        self.finished_at = 0.0


class _KeyCache:
    """kid -> key, with the single-flight refetch and the unknown-kid cooldown.

    Times are ``time.monotonic()``: the cache may be used from several event loops in turn,
    and trio's clock is not asyncio's.
    """

    def __init__(
        self, fetch: Callable[[], Awaitable[dict[str, Any]]], cooldown: float
    ) -> None:
        self._fetch = fetch
        self._cooldown = cooldown
        self.keys: dict[str, Any] = {}
        self._inflight: _Fetch | None = None
        self._blocked_until = -math.inf  # no fetch for an unknown kid before this
        self._failure: _Fetch | None = None  # the last fetch, if it failed

    async def get(self, kid: str) -> Any:
        while True:
            fetch = self._inflight
            if fetch is None:
                key = self.keys.get(kid)
                if key is not None:
                    return key
                now = time.monotonic()
                if now < self._blocked_until:
                    raise _unknown_key()
                failure = self._failure
                if failure is not None and now < failure.finished_at + _FAILURE_HOLD:
                    assert failure.error is not None
                    raise _copy(failure.error)
                fetch = self._inflight = _Fetch()
                try:
                    keys = await self._fetch()
                except errors.SdkError as exc:
                    fetch.error = exc
                    self._failure = fetch
                    raise
                else:
                    self.keys = keys
                    self._failure = None
                    fetch.ok = True
                finally:  # a cancelled fetch ends with neither: a waiter starts another
                    fetch.finished_at = time.monotonic()
                    self._inflight = None
                    fetch.done.set()
            else:
                await fetch.done.wait()
                if fetch.error is not None:
                    raise _copy(fetch.error)
                if not fetch.ok:
                    continue
            key = self.keys.get(kid)
            if key is not None:
                return key
            # A fresh key set without this kid: no other fetch for a while, whatever kid.
            self._blocked_until = max(self._blocked_until, fetch.finished_at + self._cooldown)
            raise _unknown_key()


def _unknown_key() -> InvalidToken:
    return _invalid("unknown_key", "no key of the user pool's key set has the token's kid")


def _copy(error: errors.SdkError) -> errors.SdkError:
    # Each waiter raises its own copy: one exception object raised in many tasks would gather
    # all their tracebacks.
    duplicate = copy.copy(error)
    duplicate.__traceback__ = None
    duplicate.__cause__ = duplicate.__context__ = None
    return duplicate


class _KeySetFetcher:
    """GET the key set over the SDK's transport, with the config's retries and timeouts."""

    def __init__(
        self, url: httpx.URL, config: Config, http_client: httpx.AsyncClient | None
    ) -> None:
        self.url = url
        self.config = config
        self._caller = http_client
        self._owned: _transport.OwnedTransport | None = None
        self._loop: object = None
        self._strategy = _retry.RetryStrategy()
        self._scope = f"{url.scheme}://{url.netloc.decode('ascii')}"
        timeouts = config.timeout_config
        self._timeout = httpx.Timeout(
            connect=timeouts.connect_timeout, read=timeouts.read_timeout,
            write=timeouts.read_timeout, pool=None,
        ).as_dict()
        self._headers = [
            (b"Host", url.netloc),
            (b"Accept", b"application/json"),
            (b"Accept-Encoding", b"gzip, deflate"),
            (b"User-Agent", _user_agent(config.app_name).encode("ascii")),
        ]
        self.fetches = 0

    async def aclose(self) -> None:
        owned, self._owned = self._owned, None
        if owned is not None and self._loop is _current_loop():
            await owned.aclose()

    def _send(self) -> _transport.Send:
        if self._caller is not None:
            caller = self._caller

            async def send(request: httpx.Request) -> httpx.Response:
                return await caller.send(request, stream=True, follow_redirects=False, auth=None)

            return send
        installed = _transport.installed_transport()
        if installed is not None:
            return installed.handle_async_request
        loop = _current_loop()
        if self._owned is None or self._loop is not loop:
            self._owned = _transport.OwnedTransport("httpcore", 2)
            self._loop = loop
        return self._owned.handle_async_request

    async def fetch(self) -> dict[str, Any]:
        self.fetches += 1
        limit = self.config.timeout_config.operation_timeout or DEFAULT_KEY_SET_TIMEOUT
        deadline = anyio.current_time() + limit
        with anyio.CancelScope(deadline=deadline) as scope:
            keys = await _retry.run(
                self._attempt, self.config.retry_config, self._strategy, self._scope,
                deadline=deadline,
            )
        if scope.cancelled_caught:
            raise errors.TimeoutError(
                f"operation timeout: the user pool's key set did not arrive within {limit} s",
                kind="operation",
            )
        return keys

    async def _attempt(self) -> dict[str, Any]:
        if self._caller is not None and self._caller.is_closed:
            raise errors.DispatchFailure("the http_client given to this TokenVerifier is closed")
        request = httpx.Request(
            "GET", self.url, headers=self._headers, extensions={"timeout": self._timeout}
        )
        # The SDK's own exchange: the same error mapping, raised with no chained cause, and a
        # capped, bomb-safe body read, with the key set's smaller cap.
        response, body = await _transport.exchange(
            self._send(), request, limit=MAX_KEY_SET_BYTES
        )
        if not 200 <= response.status_code < 300:
            kept = httpx.Response(
                response.status_code, headers=response.headers, content=body, request=request
            )
            raise _protocol.error_for(kept, body, token=None, table={})
        return _parse_key_set(response, body)


def _bad_key_set(response: httpx.Response, message: str) -> errors.ResponseError:
    return errors.ResponseError(
        f"HTTP {response.status_code}: {message}",
        status_code=response.status_code,
        request_id=_transport._request_id(response),
    )


def _parse_key_set(response: httpx.Response, body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        document = None
    keys = document.get("keys") if type(document) is dict else None
    if type(keys) is not list:
        raise _bad_key_set(response, "the body is not a JSON Web Key Set ({\"keys\": [...]})")
    usable: dict[str, Any] = {}
    for jwk in keys:
        kid = jwk.get("kid") if type(jwk) is dict else None
        if type(kid) is not str or not kid or len(kid) > _KID_CHARS or kid in usable:
            continue
        key = _rsa_key(jwk)
        if key is not None:
            usable[kid] = key
    if not usable:
        raise _bad_key_set(response, "the key set holds no usable RS256 signing key")
    return usable


def _rsa_key(jwk: dict[str, Any]) -> Any:
    """A joserfc RSA public key from a JWK meant for RS256 signatures, else None."""
    if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
        return None
    if jwk.get("alg", "RS256") != "RS256":
        return None
    ops = jwk.get("key_ops")
    if ops is not None and (type(ops) is not list or "verify" not in ops):
        return None
    n, e = jwk.get("n"), jwk.get("e")
    if type(n) is not str or type(e) is not str or len(n) > 2048 or len(e) > 16:
        return None
    from joserfc.jwk import RSAKey

    try:
        # The public members only: a key set that (wrongly) publishes "d" does not make us
        # hold a private key.
        key = RSAKey.import_key({"kty": "RSA", "n": n, "e": e})
        bits = key.raw_value.key_size
    except Exception:  # joserfc and cryptography raise several types for bad numbers
        return None
    if not _MIN_KEY_BITS <= bits <= _MAX_KEY_BITS:
        return None
    return key
