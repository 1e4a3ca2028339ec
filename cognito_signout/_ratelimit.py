"""Adaptive mode's client-side rate limiter: CUBIC over a token bucket.

Off until the first throttling response. From then on every attempt takes a token from a
bucket whose fill rate follows TCP CUBIC: cut by ``BETA`` on throttling, growing back along a
cubic curve on success, never above twice the measured send rate. Sends wait instead of being
throttled by the service. One limiter per client, shared by its concurrent calls.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import anyio

BETA = 0.7
SCALE_CONSTANT = 0.4
MIN_FILL_RATE = 0.5  # requests per second
SMOOTHING = 0.8
MEASUREMENT_BUCKET = 0.5  # seconds per send-rate sample


class ClientRateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.enabled = False
        # token bucket
        self.fill_rate = MIN_FILL_RATE
        self.max_capacity = 1.0
        self._capacity = 0.0
        self._last_refill: float | None = None
        # CUBIC state
        self._last_max_rate = 0.0
        self._last_throttle_time = clock()
        self._inflection = 0.0
        # measured send rate
        self.measured_rate = 0.0
        self._bucket_start = math.floor(clock() / MEASUREMENT_BUCKET) * MEASUREMENT_BUCKET
        self._bucket_count = 0
        self._lock: anyio.Lock | None = None
        self.throttle_events = 0

    async def acquire(self) -> None:
        """Wait for a send token (instant while the limiter is off)."""
        if not self.enabled:
            return
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:  # FIFO: waiters are served in arrival order
            while True:
                self._refill()
                if self._capacity >= 1.0:
                    self._capacity -= 1.0
                    return
                await anyio.sleep((1.0 - self._capacity) / self.fill_rate)

    def update(self, *, throttled: bool) -> None:
        """Feed the outcome of one attempt into the rate estimate."""
        now = self._clock()
        self._measure(now)
        if throttled:
            self.throttle_events += 1
            rate = self.measured_rate if not self.enabled else min(
                self.measured_rate, self.fill_rate
            )
            self._last_max_rate = rate
            self._inflection = (self._last_max_rate * (1 - BETA) / SCALE_CONSTANT) ** (1 / 3)
            self._last_throttle_time = now
            new_rate = rate * BETA
            self.enabled = True
        else:
            if not self.enabled:
                return
            elapsed = now - self._last_throttle_time
            new_rate = SCALE_CONSTANT * (elapsed - self._inflection) ** 3 + self._last_max_rate
        self._set_rate(min(new_rate, 2 * self.measured_rate))

    def _set_rate(self, rate: float) -> None:
        self._refill()
        self.fill_rate = max(rate, MIN_FILL_RATE)
        self.max_capacity = max(rate, 1.0)
        self._capacity = min(self._capacity, self.max_capacity)

    def _refill(self) -> None:
        now = self._clock()
        if self._last_refill is None:
            self._last_refill = now
            return
        self._capacity = min(
            self.max_capacity, self._capacity + (now - self._last_refill) * self.fill_rate
        )
        self._last_refill = now

    def _measure(self, now: float) -> None:
        bucket = math.floor(now * 2) / 2
        self._bucket_count += 1
        if bucket > self._bucket_start:
            current = self._bucket_count / (bucket - self._bucket_start)
            self.measured_rate = current * SMOOTHING + self.measured_rate * (1 - SMOOTHING)
            self._bucket_count = 0
            self._bucket_start = bucket
