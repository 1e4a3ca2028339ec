"""Adaptive mode's client-side rate limiter: CUBIC over a token bucket (``retries.md``).

Off until the first throttling response. From then on every attempt takes a token from a
bucket whose fill rate follows TCP CUBIC: cut by ``BETA`` on throttling, growing back along a
cubic curve on success, never above twice the measured send rate and never below
``MIN_FILL_RATE``. Sends wait instead of being throttled by the service. One limiter per
client, shared by its concurrent calls.

Where this goes past botocore's limiter (same constants, same curve):

- The send rate at the first throttle is never taken as 0. botocore only knows a rate once a
  0.5 s measurement bucket has closed, so a burst throttled within its first half second
  starts the limiter at the 0.5 requests/s floor. Here the rate is at least what the current,
  still open bucket has already seen.
- One cut per congestion event, as in TCP: throttles of requests that were sent before the
  last cut answer the old rate, which has already been cut. botocore cuts again for each of
  them, so a burst of N throttles in flight drops the rate by 0.7**N, to the floor.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._retry import is_testing

if TYPE_CHECKING:
    import anyio

BETA = 0.7
SCALE_CONSTANT = 0.4
MIN_FILL_RATE = 0.5  # requests per second
MAX_RATE_OVER_MEASURED = 2.0  # the rate never exceeds twice the measured send rate
SMOOTHING = 0.8
MEASUREMENT_BUCKET = 0.5  # seconds per send-rate sample


class ClientRateLimiter:
    """The per-client CUBIC limiter. ``clock`` (seconds, monotonic) is injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._enabled = False
        # token bucket
        self._fill_rate = MIN_FILL_RATE
        self._max_capacity = 1.0
        self._capacity = 0.0
        self._last_refill: float | None = None
        # CUBIC state: the rate at the last throttle (W_max), the time it takes the curve to
        # climb back to it (K), and when that throttle came.
        self._last_max_rate = 0.0
        self._inflection = 0.0
        self._last_throttle_time = -math.inf
        # measured send rate: an exponentially smoothed rate per closed bucket, plus the count
        # of the bucket still open
        self._measured_rate = 0.0
        self._bucket_start: float | None = None
        self._bucket_count = 0
        self._lock: anyio.Lock | None = None  # made in the loop, on first use
        self._throttles = 0

    # --- what callers and tests may read -----------------------------------------------------

    @property
    def enabled(self) -> bool:
        """True from the first throttling response on."""
        return self._enabled

    @property
    def fill_rate(self) -> float:
        """The allowed send rate, requests per second (meaningful once enabled)."""
        return self._fill_rate

    @property
    def measured_rate(self) -> float:
        """The smoothed rate of responses over closed measurement buckets."""
        return self._measured_rate

    @property
    def throttle_events(self) -> int:
        """How many throttling responses were reported (cut or not)."""
        return self._throttles

    # --- the two hooks of an attempt ---------------------------------------------------------

    async def acquire(self) -> float:
        """Wait for a send token (at once while off, or in testing mode); the send time.

        Waiters are served in arrival order (the lock is FIFO on both backends). Cancelling a
        waiter gives up its place and takes no token.
        """
        if self._enabled and not is_testing():
            import anyio  # only adaptive mode after a throttle gets here (the import budget)

            if self._lock is None:
                self._lock = anyio.Lock()
            async with self._lock:
                while True:
                    self._refill()
                    if self._capacity >= 1.0:
                        self._capacity -= 1.0
                        break
                    await anyio.sleep((1.0 - self._capacity) / self._fill_rate)
        return self._clock()

    def update(self, *, throttled: bool, sent_at: float | None = None) -> None:
        """Feed in the outcome of an attempt that got a response; ``sent_at`` from acquire()."""
        now = self._clock()
        send_rate = self._record(now)
        if throttled:
            self._throttles += 1
            if self._enabled and sent_at is not None and sent_at < self._last_throttle_time:
                return  # sent before the last cut: that cut already answered this congestion
            rate = send_rate if not self._enabled else min(send_rate, self._fill_rate)
            self._last_max_rate = rate
            self._inflection = (rate * (1 - BETA) / SCALE_CONSTANT) ** (1 / 3)
            self._last_throttle_time = now
            new_rate = rate * BETA
            self._enabled = True
        else:
            if not self._enabled:
                return
            elapsed = now - self._last_throttle_time
            new_rate = SCALE_CONSTANT * (elapsed - self._inflection) ** 3 + self._last_max_rate
        self._set_rate(min(new_rate, MAX_RATE_OVER_MEASURED * send_rate))

    # --- internals -------------------------------------------------------------------------

    def _set_rate(self, rate: float) -> None:
        self._refill()  # tokens earned so far were earned at the old rate
        self._fill_rate = max(rate, MIN_FILL_RATE)
        self._max_capacity = max(rate, 1.0)
        self._capacity = min(self._capacity, self._max_capacity)

    def _refill(self) -> None:
        now = self._clock()
        if self._last_refill is not None:
            self._capacity = min(
                self._max_capacity, self._capacity + (now - self._last_refill) * self._fill_rate
            )
        self._last_refill = now

    def _record(self, now: float) -> float:
        """Count one response; the send rate to act on, never 0."""
        bucket = math.floor(now / MEASUREMENT_BUCKET) * MEASUREMENT_BUCKET
        if self._bucket_start is None:
            self._bucket_start = bucket
        elif bucket > self._bucket_start:
            # Close the bucket(s) since the last response, before counting this one into the
            # bucket it belongs to.
            current = self._bucket_count / (bucket - self._bucket_start)
            self._measured_rate = current * SMOOTHING + self._measured_rate * (1 - SMOOTHING)
            self._bucket_count = 0
            self._bucket_start = bucket
        self._bucket_count += 1
        # The open bucket will end with at least this rate: a floor for the smoothed figure,
        # which lags a burst and is 0 until the first bucket closes.
        return max(self._measured_rate, self._bucket_count / MEASUREMENT_BUCKET)
