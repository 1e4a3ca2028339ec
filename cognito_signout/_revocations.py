"""Revocations: the tokens a sign-out ended, refused by the app's own verification (issue 11).

Two kinds of entry, following what Cognito itself revokes:

- **A per-user cutoff** (GlobalSignOut): :meth:`Revocations.record_sign_out` ``(sub, cutoff)``
  refuses every token of ``sub`` with ``iat <= cutoff``. ``iat`` has one-second resolution, so a
  token issued in the very second of the sign-out is refused too (a new sign-in in that second
  must wait for the next one). A cutoff is never lowered: recording an older one keeps the newer.
- **A session** (RevokeToken): :meth:`Revocations.revoke_session` refuses every token whose
  ``origin_jti`` is that session's (the sign-in's access and ID tokens and every token refreshed
  from it).

Every entry expires by itself ``max_token_lifetime`` seconds (default 86,400: Cognito's longest
access/ID validity) after it was recorded: by then no token it refuses can still be unexpired.

The check, :meth:`Revocations.is_revoked`, reads a local view only (two dict lookups, about a
microsecond): no I/O per check, whichever store. ``Revocations.memory()`` is that view alone (one
process). ``Revocations.redis(url)`` shares entries between replicas through Redis and keeps the
local view fed by pub/sub, with a resync on start and on every reconnect; see
:mod:`cognito_signout._revocations_redis`.
"""

from __future__ import annotations

import email.utils
import heapq
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Protocol, Self

import anyio

from .errors import ConstructionFailure

if TYPE_CHECKING:
    from ._revocations_redis import RedisBackend

__all__ = [
    "CheckedToken",
    "Recording",
    "Revocations",
    "SessionToken",
]

OnUnavailable = Literal["reject", "allow"]
Clock = Callable[[], float]

DEFAULT_MAX_TOKEN_LIFETIME = 86_400
MAX_DATE_SKEW = 300.0
"""How far a response's ``Date`` may be from the local clock and still set a sign-out's
cutoff. Ahead: a proxy's broken clock must not lock a user out of new sign-ins for a day.
Behind: a stale or forged date must not let the tokens the user got after the signed-out one
(on other devices, revoked by Cognito too) through. Outside it, the nearer bound is used."""

logger = logging.getLogger("cognito_signout.revocations")

_CUTOFF = 0
_SESSION = 1



class CheckedToken(Protocol):
    """What :meth:`Revocations.is_revoked` reads from a token (a ``VerifiedToken`` has it all).

    ``issued_at`` is the ``iat`` claim as an aware datetime (whole seconds); ``origin_jti``
    is ``None`` for a token of an app client without token revocation.
    """

    @property
    def sub(self) -> str: ...

    @property
    def issued_at(self) -> datetime: ...

    @property
    def origin_jti(self) -> str | None: ...


class SessionToken(Protocol):
    """What :meth:`Revocations.revoke_session` reads from a token: its ``origin_jti``."""

    @property
    def origin_jti(self) -> str | None: ...


class Recording:
    """The outcome of recording one revocation.

    ``recorded`` is True once the entry is in the store (at once for ``Revocations.memory()``;
    for Redis, once the write landed). A record made while the store is unreachable is retried
    in the background for up to ``record_retry_for`` seconds: ``await recording.wait()`` returns
    True when it lands and False when it was given up (``failed``). Either way this process's
    own view refuses the token from the moment the record was made.
    """

    __slots__ = ("_done", "_failed", "_recorded", "kind")

    def __init__(self, kind: Literal["sign_out", "session"]) -> None:
        self.kind = kind
        self._recorded = False
        self._failed = False
        self._done = anyio.Event()

    @property
    def recorded(self) -> bool:
        return self._recorded

    @property
    def failed(self) -> bool:
        return self._failed

    async def wait(self) -> bool:
        """Wait until the record landed (True) or was given up (False)."""
        await self._done.wait()
        return self._recorded

    def _land(self) -> None:
        self._recorded = True
        self._done.set()

    def _give_up(self) -> None:
        self._failed = True
        self._done.set()

    def __repr__(self) -> str:
        state = "recorded" if self._recorded else "failed" if self._failed else "pending"
        return f"<Recording {self.kind} {state}>"


class View:
    """The local view: per-sub cutoffs and revoked sessions, each with its expiry (clock time).

    Expired entries are never consulted and are dropped by :meth:`sweep` (a heap of expiries,
    so a sweep costs only what it drops).
    """

    __slots__ = ("_heap", "clock", "cutoffs", "sessions")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.cutoffs: dict[str, tuple[int, float]] = {}
        self.sessions: dict[str, float] = {}
        self._heap: list[tuple[float, int, str]] = []

    def __len__(self) -> int:
        return len(self.cutoffs) + len(self.sessions)

    def add_cutoff(self, sub: str, cutoff: int, expires: float) -> int:
        """Merge a cutoff: the higher cutoff wins, and the later expiry. Returns the cutoff kept."""
        current = self.cutoffs.get(sub)
        if current is not None:
            cutoff = max(cutoff, current[0])
            if current[1] >= expires and current[0] == cutoff:
                return cutoff
            expires = max(expires, current[1])
        self.cutoffs[sub] = (cutoff, expires)
        heapq.heappush(self._heap, (expires, _CUTOFF, sub))
        return cutoff

    def add_session(self, origin_jti: str, expires: float) -> None:
        current = self.sessions.get(origin_jti)
        if current is not None and current >= expires:
            return
        self.sessions[origin_jti] = expires
        heapq.heappush(self._heap, (expires, _SESSION, origin_jti))

    def is_revoked(self, sub: str, issued_at: int, origin_jti: str | None) -> bool:
        now = self.clock()
        heap = self._heap
        if heap and heap[0][0] <= now:
            self.sweep(now)
        entry = self.cutoffs.get(sub)
        if entry is not None and issued_at <= entry[0] and entry[1] > now:
            return True
        if origin_jti is not None:
            expires = self.sessions.get(origin_jti)
            if expires is not None and expires > now:
                return True
        return False

    def sweep(self, now: float | None = None) -> int:
        """Drop every expired entry; returns how many were dropped."""
        if now is None:
            now = self.clock()
        heap, dropped = self._heap, 0
        while heap and heap[0][0] <= now:
            _, kind, key = heapq.heappop(heap)
            if kind == _CUTOFF:
                entry = self.cutoffs.get(key)
                if entry is not None and entry[1] <= now:
                    del self.cutoffs[key]
                    dropped += 1
            else:
                current = self.sessions.get(key)
                if current is not None and current <= now:
                    del self.sessions[key]
                    dropped += 1
        return dropped


def _check_lifetime(max_token_lifetime: float) -> float:
    if (
        isinstance(max_token_lifetime, bool)
        or not isinstance(max_token_lifetime, int | float)
        or not math.isfinite(max_token_lifetime)
        or max_token_lifetime <= 0
    ):
        raise ConstructionFailure("max_token_lifetime must be a positive number of seconds")
    return float(max_token_lifetime)


def _check_sub(sub: object) -> str:
    if not isinstance(sub, str) or not sub:
        raise ConstructionFailure("sub must be a non-empty string")
    return sub


def _check_cutoff(cutoff: object) -> int:
    if isinstance(cutoff, bool) or not isinstance(cutoff, int | float) or not math.isfinite(cutoff):
        raise ConstructionFailure("cutoff must be a number of seconds since the epoch")
    # iat is whole seconds: a fractional cutoff refuses the whole second it falls in.
    return int(cutoff)


class Revocations:
    """Sign-outs and revoked sessions, checked locally on every verify.

    Build one with :meth:`memory` (one process) or :meth:`redis` (shared by replicas). Use it as
    an async context manager, or call :meth:`aclose` when done; a Redis store also starts by
    itself on first use (it does no I/O before).
    """

    def __init__(
        self,
        *,
        max_token_lifetime: float = DEFAULT_MAX_TOKEN_LIFETIME,
        clock: Clock = time.time,
        _backend: RedisBackend | None = None,
    ) -> None:
        self.max_token_lifetime = _check_lifetime(max_token_lifetime)
        self._view = View(clock)
        self._backend = _backend

    # --- construction --------------------------------------------------------------------

    @classmethod
    def memory(
        cls, *, max_token_lifetime: float = DEFAULT_MAX_TOKEN_LIFETIME, clock: Clock = time.time
    ) -> Revocations:
        """A store in this process only: dicts, no I/O, nothing to start or stop.

        ``clock`` (seconds since the epoch) is injectable for tests of expiry.
        """
        return cls(max_token_lifetime=max_token_lifetime, clock=clock)

    @classmethod
    def redis(
        cls,
        url: str,
        *,
        on_unavailable: OnUnavailable = "reject",
        max_token_lifetime: float = DEFAULT_MAX_TOKEN_LIFETIME,
        key_prefix: str = "cognito-signout:revocations:",
        check_timeout: float = 2.0,
        health_interval: float = 1.0,
        record_retry_for: float = 300.0,
        clock: Clock = time.time,
    ) -> Revocations:
        """A store shared by every replica through Redis (6.2 or later) at ``url``.

        Needs the ``redis`` extra (``cognito-signout[redis]``, which brings ``coredis``).
        Creating it does no I/O: it connects on first use or on ``async with``.

        - ``on_unavailable``: when the store cannot answer at check time, ``"reject"`` (the
          default) raises :class:`RevocationsUnavailable`; ``"allow"`` still refuses what the
          local view knows is revoked, accepts the rest and logs one warning per outage.
        - ``check_timeout``: at start, how long a check waits for the first sync before it
          counts the store as unavailable. Once started, a check never waits.
        - ``health_interval``: how often the connection is pinged; a lost store is noticed
          within about twice this (the ping's own timeout), and at once when the connection
          drops.
        - ``record_retry_for``: how long a record that could not be written is retried in the
          background before it is given up (``Recording.failed``).
        - ``key_prefix``: the Redis keys (``<prefix>sub:<sub>``, ``<prefix>sid:<origin_jti>``,
          each with a TTL) and the pub/sub channel (``<prefix>events``). It must not contain
          glob characters (``*?[]\\``).
        """
        if on_unavailable not in ("reject", "allow"):
            raise ConstructionFailure('on_unavailable must be "reject" or "allow"')
        for name, value in (
            ("check_timeout", check_timeout),
            ("health_interval", health_interval),
            ("record_retry_for", record_retry_for),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ConstructionFailure(f"{name} must be a positive number of seconds")
        if (
            not isinstance(key_prefix, str)
            or not key_prefix
            or any(c in key_prefix for c in "*?[]\\")
        ):
            raise ConstructionFailure(
                "key_prefix must be a non-empty string without glob characters"
            )
        try:
            import coredis  # noqa: F401
        except ImportError:
            raise ConstructionFailure(
                "Revocations.redis needs the redis extra: pip install 'cognito-signout[redis]'"
            ) from None
        from ._revocations_redis import RedisBackend

        lifetime = _check_lifetime(max_token_lifetime)
        self = cls(max_token_lifetime=lifetime, clock=clock)
        self._backend = RedisBackend(
            url,
            view=self._view,
            on_unavailable=on_unavailable,
            max_token_lifetime=lifetime,
            key_prefix=key_prefix,
            check_timeout=float(check_timeout),
            health_interval=float(health_interval),
            record_retry_for=float(record_retry_for),
        )
        return self

    # --- records ---------------------------------------------------------------------------

    async def record_sign_out(self, sub: str, cutoff: float) -> Recording:
        """Refuse every token of ``sub`` issued at or before ``cutoff`` (``iat <= cutoff``,
        whole seconds; a fractional cutoff counts its whole second). Never lowers a cutoff
        already recorded for ``sub``.

        Record only sign-outs Cognito confirmed: a forged token naming someone else's ``sub``
        must never sign that person out.
        """
        sub = _check_sub(sub)
        whole = _check_cutoff(cutoff)
        expires = self._view.clock() + self.max_token_lifetime
        self._view.add_cutoff(sub, whole, expires)
        recording = Recording("sign_out")
        if self._backend is None:
            recording._land()
        else:
            await self._backend.record(recording, _CUTOFF, sub, whole)
        return recording

    async def revoke_session(self, token: SessionToken | str) -> Recording:
        """Refuse every token of one session (after RevokeToken): its ``origin_jti``.

        ``token`` is a verified token (anything with ``.origin_jti``, such as ``VerifiedToken``)
        or the ``origin_jti`` itself. The entry lives ``max_token_lifetime`` from now, not until
        the given token's ``exp``: a token refreshed later in the same session expires later.
        A token without ``origin_jti`` (an app client without token revocation) names no
        session: ``ConstructionFailure``.
        """
        origin_jti = token if isinstance(token, str) else token.origin_jti
        if not isinstance(origin_jti, str) or not origin_jti:
            raise ConstructionFailure(
                "the token has no origin_jti: its app client has token revocation disabled"
            )
        expires = self._view.clock() + self.max_token_lifetime
        self._view.add_session(origin_jti, expires)
        recording = Recording("session")
        if self._backend is None:
            recording._land()
        else:
            await self._backend.record(recording, _SESSION, origin_jti, 0)
        return recording

    # --- check -----------------------------------------------------------------------------

    async def is_revoked(self, token: CheckedToken) -> bool:
        """Whether a sign-out or a session revocation refuses ``token``. Local: no I/O.

        What this process's view knows to be revoked is refused even while a Redis store cannot
        answer; anything else then raises :class:`RevocationsUnavailable` when
        ``on_unavailable="reject"``.
        """
        # iat is whole seconds, so the datetime is exact and truncating it is too.
        issued_at = int(token.issued_at.timestamp())
        if self._view.is_revoked(token.sub, issued_at, token.origin_jti):
            return True  # known revoked: a 401, whether or not the store can answer now
        backend = self._backend
        if backend is not None and not backend.ready:
            await backend.not_ready()  # raises, or returns when allowed (or now ready)
            return self._view.is_revoked(token.sub, issued_at, token.origin_jti)
        return False

    # --- lifetime ----------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True when checks are answered from an up-to-date view (always, for memory)."""
        return self._backend is None or self._backend.ready

    def __len__(self) -> int:
        """Active (unexpired or not yet swept) entries in the local view."""
        return len(self._view)

    async def start(self) -> None:
        """Connect (Redis) now rather than on first use. Returns without waiting for the sync."""
        if self._backend is not None:
            self._backend.ensure_started()

    async def aclose(self) -> None:
        """Stop the background work (Redis). Records still being retried are given up. The
        local view is kept; using the store again starts it anew."""
        if self._backend is not None:
            await self._backend.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def checked_store(revocations: object) -> Revocations | None:
    """``revocations`` if it is a store (or None), else a ConstructionFailure: what the
    Client and the FastAPI integration accept as ``revocations=``."""
    if revocations is None or isinstance(revocations, Revocations):
        return revocations
    raise ConstructionFailure(
        "revocations must be a cognito_signout.Revocations store "
        "(Revocations.memory() or Revocations.redis(url))"
    )


# --- what a confirmed sign-out records (Client(revocations=...), Operation.revokes) ----------


def sign_out_cutoff(iat: int, date_header: str | None, now: float) -> int:
    """The cutoff of a GlobalSignOut Cognito confirmed: its response's ``Date`` (Cognito's
    clock, which stamped ``iat``: local skew cannot let an older token through), else the
    local clock; within :data:`MAX_DATE_SKEW` of the local clock, and never below the
    signed-out token's own ``iat``."""
    cutoff = now
    date = _http_date(date_header)
    if date is not None:
        cutoff = min(max(date, now - MAX_DATE_SKEW), now + MAX_DATE_SKEW)
    return max(iat, int(cutoff))


def _http_date(value: str | None) -> float | None:
    if not value or len(value) > 64:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed.tzinfo is None:  # "-0000": RFC 5322's "UTC, origin unknown"
            parsed = parsed.replace(tzinfo=UTC)
        stamp = parsed.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return stamp if math.isfinite(stamp) else None


async def record_confirmed_sign_out(
    revocations: Revocations, access_token: str, date_header: str | None
) -> Recording:
    """Record the cutoff of a sign-out Cognito confirmed for ``access_token``.

    Never raises: the sign-out itself succeeded, and saying otherwise would make the caller
    retry it. A token whose ``sub`` or ``iat`` cannot be read (only a test double accepts
    such a token) gives a failed :class:`Recording` and a warning.
    """
    from ._token import unverified_claims

    claims = unverified_claims(access_token) or {}
    del access_token  # a frame an error reporter may capture holds no token
    sub, iat = claims.get("sub"), claims.get("iat")
    if not (isinstance(sub, str) and sub and type(iat) is int):
        logger.warning(
            "revocations: the signed-out access token has no readable sub and iat; "
            "nothing recorded"
        )
        return _failed()
    failure: str | None = None
    try:
        cutoff = sign_out_cutoff(iat, date_header, revocations._view.clock())
        return await revocations.record_sign_out(sub, cutoff)
    except Exception as exc:  # the sign-out happened: never report it as failed
        failure = type(exc).__name__
    logger.error("revocations: recording a confirmed sign-out failed (%s)", failure)
    return _failed()


def _failed() -> Recording:
    recording = Recording("sign_out")
    recording._give_up()
    return recording
