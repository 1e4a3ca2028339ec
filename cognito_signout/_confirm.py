"""Confirming a verified token with Cognito: ``TokenVerifier(confirm_with_cognito=seconds)``.

Sign-outs made outside this SDK (the console, AdminUserGlobalSignOut from another service, a
token revoked by another app) never reach the revocation store. Cognito itself knows: it
refuses a revoked access token. So, after every local check passed, the verifier asks Cognito
about the token at most once per ``interval`` seconds and caches the answer:

- **GetUser** for a token with the ``aws.cognito.signin.user.admin`` scope (every token of
  the SDK-based sign-in flows). ``NotAuthorizedException`` or ``UserNotFoundException``
  means revoked (or the user is gone).
- **The managed-login ``/oauth2/userInfo`` endpoint** for a token without that scope (GetUser
  would refuse it for the missing scope alone, so it would refuse live users): only when
  ``managed_login_domain`` is configured and the token has the ``openid`` scope, which
  userInfo needs. A 401 means revoked.
- Any other token is **not confirmed**, and never refused for that reason. The verifier says
  so once, at construction (a warning naming what it cannot cover); ``covers(token)`` tells
  per token.

Answers are cached per token (its ``jti``, else a SHA-256 of it): "live" for ``interval``
seconds, "revoked" until the token expires. Concurrent verifies of one token share one probe.
What it costs in Cognito quota: at most one GetUser (or userInfo) request per distinct live
token per ``interval``, i.e. about ``active tokens / interval`` requests per second at steady
load (10,000 active users at ``interval=60`` is about 167 requests/s), counted against your
account's request rate quota for GetUser's category (see Service Quotas), and spent by every
replica on its own (each replica keeps its own cache).

When Cognito cannot answer (throttling, a timeout, an outage, an answer that makes no sense),
``on_unavailable`` decides, as for the revocation store: ``"reject"`` (the default)
raises :class:`~cognito_signout.errors.RevocationsUnavailable`, a 503; ``"allow"``
accepts the token and logs a warning (once per outage). Neither answer is cached.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from typing import TYPE_CHECKING, Literal

import anyio
import httpx

from . import _logscrub, _transport, errors

if TYPE_CHECKING:
    from ._client import Client
    from ._verify import VerifiedToken

__all__ = ["ADMIN_SCOPE", "Confirmer"]

logger = logging.getLogger("cognito_signout.verify")

ADMIN_SCOPE = "aws.cognito.signin.user.admin"
OnUnavailable = Literal["reject", "allow"]
MAX_CACHED = 100_000
"""Answers kept at most; past it the oldest are dropped (each costs at most one more probe)."""
MAX_USERINFO_BYTES = 64 * 1024

_LIVE, _REVOKED = True, False
# Cognito's answers that mean "this token no longer works", as opposed to "cannot answer".
_REVOKED_CODES = frozenset({"NotAuthorizedException", "UserNotFoundException"})
# Answers about the user, not the token: the token is not revoked (the user must act).
_LIVE_CODES = frozenset({"PasswordResetRequiredException", "UserNotConfirmedException"})


class _Probe:
    __slots__ = ("answer", "done", "finished")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.answer: bool | None = None  # None: Cognito could not answer
        self.finished = False  # False once done: the asking task was cancelled, ask again


class Confirmer:
    """Asks Cognito whether verified tokens are still live, with a per-token cache."""

    def __init__(
        self,
        interval: float,
        *,
        client: Client,
        on_unavailable: OnUnavailable,
        userinfo_url: httpx.URL | None,
        timeout: float,
    ) -> None:
        self.interval = interval
        self._client = client
        # userInfo goes through the Client's connections (config.max_connections), never the
        # key set's two: probes must not queue behind, or ahead of, a key-set refetch.
        self._send = client._runtime.sender
        self._user_agent = client._runtime.user_agent
        self.on_unavailable: OnUnavailable = on_unavailable
        self.userinfo_url = userinfo_url
        self._timeout = timeout
        # jti -> (answer, valid until: time.monotonic()); dicts keep insertion order, so the
        # first entries are the oldest.
        self._cache: dict[str, tuple[bool, float]] = {}
        self._inflight: dict[str, _Probe] = {}
        self._warned = False
        self.probes = 0
        logger.warning(
            "confirm_with_cognito: %s",
            "access tokens without the aws.cognito.signin.user.admin scope are confirmed "
            "through userInfo only when they have the openid scope; others are not confirmed"
            if userinfo_url is not None
            else "access tokens without the aws.cognito.signin.user.admin scope (most "
            "managed-login tokens) are not confirmed; set managed_login_domain to confirm "
            "those with the openid scope through userInfo",
        )

    def covers(self, token: VerifiedToken) -> bool:
        """Whether Cognito can be asked about ``token`` (see the module docstring)."""
        if ADMIN_SCOPE in token.scopes:
            return True
        return self.userinfo_url is not None and "openid" in token.scopes

    async def aclose(self) -> None:
        await self._client.aclose()

    async def confirm(self, raw: str, token: VerifiedToken) -> None:
        """Returns if the token is live (or cannot be asked about); raises TokenRevoked, or
        RevocationsUnavailable when Cognito cannot answer and on_unavailable="reject"."""
        if not self.covers(token):
            return
        # Cognito's tokens carry a jti; without one, a digest (the cache never holds a token).
        key = token.jti or hashlib.sha256(raw.encode()).hexdigest()
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now < cached[1]:
            answer: bool | None = cached[0]
        else:
            answer = await self._ask(key, raw, token)
        if answer is _REVOKED:
            raise errors.TokenRevoked("Cognito says the token has been revoked")
        if answer is None:
            self._unavailable()

    async def _ask(self, key: str, raw: str, token: VerifiedToken) -> bool | None:
        while True:
            probe = self._inflight.get(key)
            if probe is None:
                break
            await probe.done.wait()  # another verify of this token is asking: share its answer
            if probe.finished:
                return probe.answer
        probe = self._inflight[key] = _Probe()
        try:
            self.probes += 1
            with anyio.move_on_after(self._timeout):  # a whole probe, retries included
                probe.answer = await self._probe(raw, token)
            probe.finished = True
        finally:
            del self._inflight[key]
            probe.done.set()
        answer = probe.answer
        if answer is not None:
            self._warned = False
            until = (
                time.monotonic() + self.interval
                if answer is _LIVE
                else time.monotonic() + max(0.0, token.expires_at.timestamp() - time.time())
            )
            if len(self._cache) >= MAX_CACHED:
                self._evict()
            self._cache[key] = (answer, until)
        return answer

    def _evict(self) -> None:
        """Down to 90% in one pass (expired answers first, then the oldest), so a full cache
        costs one scan per 10,000 new tokens, not one per token."""
        now = time.monotonic()
        for key in [k for k, (_, until) in self._cache.items() if until <= now]:
            del self._cache[key]
        excess = len(self._cache) - MAX_CACHED * 9 // 10
        if excess > 0:
            for key in list(itertools.islice(self._cache, excess)):
                del self._cache[key]

    def _unavailable(self) -> None:
        if self.on_unavailable == "reject":
            raise errors.RevocationsUnavailable(
                "Cognito could not confirm the token (throttled or unreachable); "
                "on_unavailable='reject' refuses"
            )
        if not self._warned:
            self._warned = True
            logger.warning(
                "confirm_with_cognito: Cognito cannot answer; on_unavailable='allow' accepts "
                "tokens it cannot confirm until Cognito answers again"
            )

    async def _probe(self, raw: str, token: VerifiedToken) -> bool | None:
        if ADMIN_SCOPE in token.scopes:
            return await self._get_user(raw)
        return await self._userinfo(raw)

    async def _get_user(self, raw: str) -> bool | None:
        try:
            await self._client.get_user().access_token(raw).send()
        except errors.ServiceError as exc:
            if exc.code in _REVOKED_CODES:
                return _REVOKED
            return _LIVE if exc.code in _LIVE_CODES else None
        except errors.ConstructionFailure:
            raise
        except errors.SdkError:
            return None
        return _LIVE

    async def _userinfo(self, raw: str) -> bool | None:
        assert self.userinfo_url is not None
        request = httpx.Request(
            "GET",
            self.userinfo_url,
            headers=[
                (b"Host", self.userinfo_url.netloc),
                (b"Authorization", b"Bearer " + raw.encode("ascii")),
                (b"Accept", b"application/json"),
                (b"User-Agent", self._user_agent.encode("ascii")),
            ],
            extensions={"timeout": {"connect": self._timeout, "read": self._timeout,
                                    "write": self._timeout, "pool": None}},
        )
        scrubbed = _logscrub.secrets.set((raw,))  # httpx's and httpcore's log records
        try:
            response, _ = await _transport.exchange(
                self._send(), request, limit=MAX_USERINFO_BYTES
            )
        except errors.SdkError:
            return None
        finally:
            _logscrub.secrets.reset(scrubbed)
            del request  # it holds the token in its headers
        if 200 <= response.status_code < 300:
            return _LIVE
        if response.status_code == 401:
            return _REVOKED
        return None
