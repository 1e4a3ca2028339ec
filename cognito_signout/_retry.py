"""The retry policy: what is retried, how long to wait, and the per-client retry quota.

Standard mode as the AWS SDKs define it (see ``retries.md``): full-jitter exponential backoff
with separate bases for throttling and transient errors, ``x-amz-retry-after`` honoured within
a clamp, and a token-bucket quota per client so that a long outage stops costing retries.
The loop itself runs on tenacity (:func:`policy`); the pieces here are plain functions so each
can be tested alone.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal, TypeVar

import anyio
import attrs
import httpx

from . import errors

if TYPE_CHECKING:
    import tenacity

T = TypeVar("T")

RetryMode = Literal["standard", "adaptive"]


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise errors.ConstructionFailure(
            f"{attribute.name} must be a number of seconds >= 0, got {value!r}"
        )


def _attempts(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise errors.ConstructionFailure(
            f"max_attempts must be an int >= 1 (the first attempt included), got {value!r}"
        )


def _mode(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("standard", "adaptive"):
        raise errors.ConstructionFailure(
            f"retry mode must be 'standard' or 'adaptive', got {value!r}"
        )


@attrs.frozen(kw_only=True)
class RetryConfig:
    """How failed attempts are retried.

    ``max_attempts`` counts every attempt, the first included: the default 3 is two retries.
    Backoff before retry *n* is ``random() * min(base * 2 ** (n - 1), max_backoff)`` with
    ``base = throttling_backoff`` for throttling errors and ``initial_backoff`` otherwise.
    """

    mode: RetryMode = attrs.field(default="standard", validator=_mode)
    max_attempts: int = attrs.field(default=3, validator=_attempts)
    initial_backoff: float = attrs.field(default=0.05, validator=_non_negative)
    throttling_backoff: float = attrs.field(default=1.0, validator=_non_negative)
    max_backoff: float = attrs.field(default=20.0, validator=_non_negative)

    @classmethod
    def standard(cls) -> RetryConfig:
        return cls()

    @classmethod
    def adaptive(cls) -> RetryConfig:
        """Standard retries plus a client-side rate limiter that engages on throttling."""
        return cls(mode="adaptive")

    @classmethod
    def disabled(cls) -> RetryConfig:
        """One attempt, no retries."""
        return cls(max_attempts=1)

    def with_max_attempts(self, n: int) -> RetryConfig:
        return attrs.evolve(self, max_attempts=n)

    def with_initial_backoff(self, seconds: float) -> RetryConfig:
        return attrs.evolve(self, initial_backoff=seconds)

    def with_throttling_backoff(self, seconds: float) -> RetryConfig:
        return attrs.evolve(self, throttling_backoff=seconds)

    def with_max_backoff(self, seconds: float) -> RetryConfig:
        return attrs.evolve(self, max_backoff=seconds)


# --- classification ---------------------------------------------------------------------------


class ErrorKind(enum.Enum):
    THROTTLING = "throttling"
    TRANSIENT = "transient"


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


def classify(exc: BaseException) -> ErrorKind | None:
    """THROTTLING, TRANSIENT, or None for a final error."""
    if isinstance(exc, errors.ServiceError):
        if exc.code in THROTTLING_CODES:
            return ErrorKind.THROTTLING
        if exc.status_code == 429 and exc.code is None:
            return ErrorKind.THROTTLING
        if exc.code in TRANSIENT_CODES or exc.status_code in TRANSIENT_STATUSES:
            return ErrorKind.TRANSIENT
        return None
    if isinstance(exc, errors.TimeoutError):
        return None if exc.kind == "operation" else ErrorKind.TRANSIENT
    if isinstance(exc, errors.DispatchFailure | errors.ResponseError):
        return ErrorKind.TRANSIENT
    return None


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
    """The server's ``x-amz-retry-after`` hint (milliseconds on the wire), if any and sane."""
    response: httpx.Response | None = getattr(exc, "response", None)
    if response is None:
        return None
    raw = response.headers.get("x-amz-retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    # Plain ASCII digits only (int() would also take "1_000", "+5" or Arabic-Indic digits).
    # No upper bound is needed here: backoff() clamps any hint to at most t + 5 s.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        return None
    return int(raw) / 1000


# --- quota --------------------------------------------------------------------------------------


class RetryQuota:
    """The per-client retry token bucket of standard mode.

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


class _CallState:
    __slots__ = ("last_retry_cost",)

    def __init__(self) -> None:
        self.last_retry_cost: int | None = None


def policy(
    config: RetryConfig,
    quota: RetryQuota,
    *,
    deadline: float | None = None,
    on_retry: Callable[[RetryDetails], None] | None = None,
) -> tuple[tenacity.AsyncRetrying, _CallState]:
    """A tenacity loop for one call (tenacity keeps per-loop state, so never share one).

    tenacity asks ``retry`` (is the error retryable?), then ``wait`` (how long?), then ``stop``
    (may we?). The quota is charged in ``stop``, the last word, so a retry that never happens
    costs nothing.
    """
    # Imported here, not at the top: only a call that failed once needs tenacity, and importing
    # it costs ~6 ms of every process's start-up (issue 5's import budget).
    import tenacity

    state = _CallState()

    def wait(rs: tenacity.RetryCallState) -> float:
        exc = _failure(rs)
        kind = classify(exc)
        assert kind is not None  # ``retry`` let only classified errors through
        return backoff(kind, rs.attempt_number, config, retry_after=retry_after_seconds(exc))

    def stop(rs: tenacity.RetryCallState) -> bool:
        if rs.attempt_number >= config.max_attempts:
            return True
        exc = _failure(rs)
        if deadline is not None and anyio.current_time() + rs.upcoming_sleep >= deadline:
            # Sleeping into the operation timeout would only turn this error into a timeout;
            # the caller learns more from the error itself, and learns it now.
            exc.add_note(
                f"not retried: the next backoff ({rs.upcoming_sleep:.3f} s) would outlast the "
                f"operation timeout"
            )
            return True
        kind = classify(exc)
        assert kind is not None
        cost = quota.try_acquire(kind)
        if cost is None:
            exc.add_note(
                f"not retried: the client's retry quota is exhausted "
                f"({quota.available} of {quota.capacity} left; successes refill it)"
            )
            return True
        state.last_retry_cost = cost
        if on_retry is not None:
            on_retry(RetryDetails(rs.attempt_number, config.max_attempts, kind,
                                  rs.upcoming_sleep, exc))
        return False

    loop = tenacity.AsyncRetrying(
        sleep=anyio.sleep,
        retry=tenacity.retry_if_exception(lambda exc: classify(exc) is not None),
        wait=wait,
        stop=stop,
        reraise=True,
    )
    return loop, state


def _failure(rs: tenacity.RetryCallState) -> BaseException:
    assert rs.outcome is not None
    exc = rs.outcome.exception()
    assert exc is not None
    return exc


async def run(
    attempt: Callable[[], Awaitable[T]],
    config: RetryConfig,
    quota: RetryQuota,
    *,
    deadline: float | None = None,
    on_retry: Callable[[RetryDetails], None] | None = None,
) -> T:
    """Run ``attempt`` until it succeeds or the policy gives up; the last error is raised.

    The first attempt runs before any tenacity object exists: almost every call succeeds at
    once, and building and stepping a tenacity loop costs a measurable share of a call. From
    the first retryable failure on, tenacity decides every retry, wait and stop.
    Cancellation (a BaseException) always passes straight through.
    """
    try:
        first: T = await attempt()
    except Exception as exc:
        if classify(exc) is None:
            raise
        failure = exc
    else:
        quota.release(None)
        return first


    loop, state = policy(config, quota, deadline=deadline, on_retry=on_retry)
    # tenacity's loop starts from its own first attempt; that attempt replays the failure
    # already in hand, so every retry, wait and stop after it is tenacity's to decide.
    replay: BaseException | None = failure
    del failure
    async for attempt_state in loop:
        with attempt_state:
            if replay is not None:
                replayed, replay = replay, None
                raise replayed
            result = await attempt()
    quota.release(state.last_retry_cost)
    return result


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
