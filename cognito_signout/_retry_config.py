"""How failed attempts are retried, as a value: :class:`RetryConfig`.

Apart from the policy that applies it (``_retry.py``: classification, backoff, the quota, the
strategy, the loop), which loads with the runtime: a ``Config`` needs only this.
"""

from __future__ import annotations

from typing import Literal

import attrs

from . import errors

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
