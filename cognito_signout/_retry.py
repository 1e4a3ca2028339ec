"""The retry policy: what is retried, how long to wait, the retry quota, the strategy, the loop.

Standard mode as the AWS SDKs define it (``../shared/reference/retries.md``): full-jitter
exponential backoff with separate bases for throttling and transient errors,
``x-amz-retry-after`` honoured within a clamp, and a token-bucket quota per endpoint so that a
long outage stops costing retries. What is retried is each error's own ``retry_kind``
(errors.py). :class:`RetryStrategy` decides every retry; :func:`run` is the loop that asks it.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Awaitable, Callable
from typing import NamedTuple, TypeVar

import attrs

from . import errors
from ._retry_config import RetryConfig as RetryConfig  # the value the policy applies

T = TypeVar("T")

# --- classification ---------------------------------------------------------------------------


class ErrorKind(enum.Enum):
    THROTTLING = "throttling"
    TRANSIENT = "transient"


def classify(exc: BaseException) -> ErrorKind | None:
    """THROTTLING, TRANSIENT, or None for a final error: the error's own ``retry_kind``
    (errors.py keeps each error's retry facts in one place)."""
    kind = getattr(exc, "retry_kind", None) if isinstance(exc, errors.SdkError) else None
    return None if kind is None else ErrorKind(kind)


# --- backoff ------------------------------------------------------------------------------------

_RETRY_AFTER_SLACK = 5.0


def backoff(
    kind: ErrorKind,
    failed_attempt: int,
    config: RetryConfig,
    *,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after ``failed_attempt`` (1 for the first) failed with ``kind``."""
    if _testing:
        return 0.0
    base = config.throttling_backoff if kind is ErrorKind.THROTTLING else config.initial_backoff
    delay: float = rand() * min(base * 2 ** (failed_attempt - 1), config.max_backoff)
    if retry_after is not None:
        # The server's hint is clamped to [t, t + 5 s] around the computed backoff t (botocore,
        # retries.md): it may ask for a longer wait, never a shorter one, and never hold a
        # caller more than 5 s beyond what the policy itself would wait.
        delay = max(delay, min(retry_after, delay + _RETRY_AFTER_SLACK))
    return delay


def retry_after_seconds(exc: BaseException) -> float | None:
    """The server's ``x-amz-retry-after`` hint in seconds, if the error carries one."""
    hint = getattr(exc, "retry_after", None)
    return hint if isinstance(hint, float) else None


# --- quota --------------------------------------------------------------------------------------


class RetryQuota:
    """The retry token bucket of standard mode, one per endpoint (:class:`RetryStrategy`).

    A retry is paid for before it starts (14 tokens, 5 for throttling); when the bucket cannot
    pay, the error is raised at once. Success refunds what the last retry took, or 1 token for a
    first-attempt success, never beyond the capacity.
    """

    CAPACITY = 500
    RETRY_COST = 14
    THROTTLING_RETRY_COST = 5
    NO_RETRY_REFUND = 1

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._available = capacity

    @property
    def available(self) -> int:
        return self._available

    def try_acquire(self, kind: ErrorKind) -> int | None:
        """Pay for one retry; the cost paid, or None if the quota is exhausted."""
        cost = self.THROTTLING_RETRY_COST if kind is ErrorKind.THROTTLING else self.RETRY_COST
        if cost > self._available:
            return None
        self._available -= cost
        return cost

    def release(self, last_retry_cost: int | None) -> None:
        """Record a successful call."""
        refund = self.NO_RETRY_REFUND if last_retry_cost is None else last_retry_cost
        self._available = min(self.capacity, self._available + refund)

    def __repr__(self) -> str:
        return f"RetryQuota(available={self._available}, capacity={self.capacity})"


# --- the loop -----------------------------------------------------------------------------------


@attrs.define
class RetryDetails:
    """What an instrumentation hook receives before each backoff sleep."""

    attempt: int  # the attempt that just failed, 1 for the first
    max_attempts: int
    kind: ErrorKind
    delay: float
    error: BaseException


class RetryToken(NamedTuple):
    """What the strategy hands the loop for each attempt (smithy-python's retry token)."""

    scope: str  # the endpoint: each has its own quota
    attempt: int  # the attempt this token admits, 1 for the first
    cost: int | None  # what this retry paid from the quota (None: the first attempt)
    delay: float  # seconds to wait before this attempt


class RetryStrategy:
    """The narrow interface the retry loop talks to, after smithy-python's ``RetryStrategy``:
    :meth:`acquire_initial_retry_token`, then :meth:`refresh_retry_token_for_retry` for each
    retry (which may refuse), then :meth:`record_success`.

    One per client. It owns what the client's calls share: a retry quota per endpoint (a
    client that routes to many endpoints is, for retry purposes, many clients: an outage or
    forged tokens at one cannot spend the retries of calls to another) and the adaptive rate
    limiter. The number of quotas is bounded, since forged tokens can name many regions.
    """

    MAX_SCOPES = 64

    def __init__(self) -> None:
        from ._ratelimit import ClientRateLimiter  # it imports the test switch from here

        self.quotas: dict[str, RetryQuota] = {}
        self.rate_limiter = ClientRateLimiter()

    def quota(self, scope: str) -> RetryQuota:
        quota = self.quotas.get(scope)
        if quota is None:
            if len(self.quotas) >= self.MAX_SCOPES:
                del self.quotas[next(iter(self.quotas))]  # the oldest; it starts full again
            quota = self.quotas[scope] = RetryQuota()
        return quota

    def acquire_initial_retry_token(self, scope: str) -> RetryToken:
        return RetryToken(scope, 1, None, 0.0)

    def refresh_retry_token_for_retry(
        self,
        token: RetryToken,
        error: BaseException,
        config: RetryConfig,
        *,
        deadline: float | None = None,
    ) -> RetryToken | None:
        """The token for the next attempt, or None (with a note on ``error`` saying why)."""
        kind = classify(error)
        if kind is None or token.attempt >= config.max_attempts:
            return None
        delay = backoff(kind, token.attempt, config, retry_after=retry_after_seconds(error))
        if deadline is not None and _now() + delay >= deadline:
            # Sleeping into the operation timeout would only turn this error into a timeout;
            # the caller learns more from the error itself, and learns it now.
            error.add_note(
                f"not retried: the next backoff ({delay:.3f} s) would outlast the "
                f"operation timeout"
            )
            return None
        quota = self.quota(token.scope)
        cost = quota.try_acquire(kind)
        if cost is None:
            error.add_note(
                f"not retried: the retry quota is exhausted for {token.scope} "
                f"({quota.available} of {quota.capacity} left; successes refill it)"
            )
            return None
        return RetryToken(token.scope, token.attempt + 1, cost, delay)

    def record_success(self, token: RetryToken) -> None:
        self.quota(token.scope).release(token.cost)


async def run(
    attempt: Callable[[], Awaitable[T]],
    config: RetryConfig,
    strategy: RetryStrategy,
    scope: str,
    *,
    deadline: float | None = None,
    on_retry: Callable[[RetryDetails], None] | None = None,
) -> T:
    """Run ``attempt`` until it succeeds or the strategy refuses a retry; the last error is
    raised. Cancellation (a BaseException) always passes straight through.

    A plain loop rather than tenacity's: every decision is the strategy's, so a loop engine
    would only add a layer (and ~6 ms of import) around three calls.
    """
    token = strategy.acquire_initial_retry_token(scope)
    while True:
        try:
            result = await attempt()
        except Exception as exc:
            retry = strategy.refresh_retry_token_for_retry(token, exc, config, deadline=deadline)
            if retry is None:
                raise
            if on_retry is not None:
                kind = classify(exc)
                assert kind is not None  # the strategy retries only classified errors
                on_retry(RetryDetails(token.attempt, config.max_attempts, kind, retry.delay, exc))
            token = retry
        else:
            strategy.record_success(token)
            return result
        import anyio  # a retry's first sleep; not at import (the import budget)

        await anyio.sleep(token.delay)


def _now() -> float:
    import anyio

    return anyio.current_time()


# --- the test switch ----------------------------------------------------------------------------

_testing = False


def set_testing(testing: bool) -> None:
    """Make every backoff and every adaptive-mode rate-limiter wait zero, for fast test suites.

    Attempts, the quota and timeouts are unchanged: a test still sees exactly the retries (and
    the errors) production would, only without the waiting.

    Use it in your own tests: ``cognito_signout.set_testing(True)``, or the
    ``cognito_signout_instant_retries`` pytest fixture.
    """
    global _testing
    _testing = bool(testing)


def is_testing() -> bool:
    return _testing
