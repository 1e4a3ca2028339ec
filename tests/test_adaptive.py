"""Adaptive retry mode: the client-side CUBIC rate limiter of ``retries.md``.

The limiter's arithmetic is checked on a fake clock; its effect is measured against a loopback
service that throttles above a fixed rate: a burst of concurrent sign-outs on one client makes
that service answer far fewer ``ThrottlingException``s under adaptive mode than under standard
mode, and every adaptive call completes.
"""

from __future__ import annotations

import anyio
import pytest

from cognito_signout import Client, Config, RetryConfig, errors, set_testing
from cognito_signout._ratelimit import BETA, MIN_FILL_RATE, ClientRateLimiter

from . import loopback
from .tokens import TOKEN

pytestmark = pytest.mark.anyio



class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- the limiter alone -----------------------------------------------------------------------


async def test_off_until_the_first_throttle() -> None:
    clock = FakeClock()
    limiter = ClientRateLimiter(clock)
    for _ in range(50):
        await limiter.acquire()  # never waits: the fake clock does not move
        limiter.update(throttled=False)
    assert not limiter.enabled
    limiter.update(throttled=True)
    assert limiter.enabled


def test_first_throttle_in_the_first_half_second_keeps_the_burst_rate() -> None:
    # botocore knows no send rate before a 0.5 s bucket closes and so starts at the 0.5/s
    # floor; here the open bucket's count is a floor for the estimate.
    clock = FakeClock(1000.0)
    limiter = ClientRateLimiter(clock)
    for _ in range(9):
        clock.now += 0.005
        limiter.update(throttled=False)
    clock.now += 0.005
    limiter.update(throttled=True)
    # 10 responses seen in the open bucket: at least 20/s, cut by BETA
    assert limiter.fill_rate == pytest.approx(10 / 0.5 * BETA)
    assert limiter.fill_rate > 10 * MIN_FILL_RATE


def test_one_cut_per_congestion_event() -> None:
    clock = FakeClock()
    limiter = ClientRateLimiter(clock)
    in_flight = [clock.now] * 10  # ten requests sent at once, before any answer
    for _ in range(20):
        clock.now += 0.01
        limiter.update(throttled=False)
    clock.now += 0.01
    limiter.update(throttled=True, sent_at=in_flight[0])
    after_first = limiter.fill_rate
    for sent in in_flight[1:]:  # their throttles answer the rate already cut
        limiter.update(throttled=True, sent_at=sent)
    assert limiter.fill_rate == pytest.approx(after_first, rel=0.2)
    assert limiter.throttle_events == 10
    # a request sent under the cut rate and throttled again: a new event, a new cut
    clock.now += 0.01
    sent = clock.now
    clock.now += 0.01
    limiter.update(throttled=True, sent_at=sent)
    assert limiter.fill_rate < after_first * 0.8


def test_cubic_recovery_and_the_caps() -> None:
    clock = FakeClock(1000.0)
    limiter = ClientRateLimiter(clock)
    # a steady 40 responses/s for 2 s, so the smoothed send rate is known
    for _ in range(80):
        clock.now += 0.025
        limiter.update(throttled=False)
    limiter.update(throttled=True)
    cut = limiter.fill_rate
    peak = cut / BETA
    assert 30 < peak < 50
    # recovery follows 0.4 * (t - K)**3 + W_max: back at W_max after K seconds
    k = (peak * (1 - BETA) / 0.4) ** (1 / 3)
    rates = []
    start = clock.now
    while clock.now - start < k + 2:
        clock.now += 1 / 40
        limiter.update(throttled=False)
        rates.append((clock.now - start, limiter.fill_rate))
    early = [rate for t, rate in rates if t < k / 2]
    assert all(cut * 0.99 <= rate <= peak for rate in early)
    near_k = min(rates, key=lambda item: abs(item[0] - k))[1]
    assert near_k == pytest.approx(peak, rel=0.1)
    # never above twice the measured send rate (40/s here), however long the success
    clock.now += 60
    limiter.update(throttled=False)
    assert limiter.fill_rate <= 2 * max(limiter.measured_rate, 2.0) + 1e-9


def test_never_below_the_minimum_fill_rate() -> None:
    clock = FakeClock()
    limiter = ClientRateLimiter(clock)
    for _ in range(30):
        clock.now += 3  # slow and always throttled
        limiter.update(throttled=True, sent_at=clock.now - 0.001)
    assert limiter.fill_rate == MIN_FILL_RATE


async def test_acquire_paces_sends_at_the_fill_rate() -> None:
    limiter = ClientRateLimiter()
    for _ in range(25):
        limiter.update(throttled=False)
    limiter.update(throttled=True)  # about 50/s seen, so about 36/s allowed
    rate = limiter.fill_rate
    started = anyio.current_time()
    for _ in range(8):
        await limiter.acquire()
    elapsed = anyio.current_time() - started
    assert 0.8 * 8 / rate <= elapsed <= 1.6 * 8 / rate


async def test_testing_mode_makes_the_limiter_instant() -> None:
    limiter = ClientRateLimiter()
    limiter.update(throttled=True)
    set_testing(True)
    try:
        with anyio.fail_after(0.5):
            for _ in range(20):
                await limiter.acquire()  # 20 tokens at a few per second would take seconds
    finally:
        set_testing(False)


async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    limiter = ClientRateLimiter()
    limiter.update(throttled=True)  # ~1.4/s: a waiter sleeps ~0.7 s
    with anyio.move_on_after(0.05) as scope:
        await limiter.acquire()
    assert scope.cancelled_caught
    # the lock is free again: another waiter gets in (and is cancelled the same way)
    with anyio.move_on_after(0.05) as scope:
        await limiter.acquire()
    assert scope.cancelled_caught


# --- on the wire -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["ThrottlingException", "TooManyRequestsException"])
async def test_the_first_throttle_switches_the_client_limiter_on(
    code: str, instant_retries: None
) -> None:
    handler = loopback.sequence(loopback.service_error(400, code), loopback.ok)
    with loopback.serve(handler) as server:
        async with Client(Config(region="us-east-1", endpoint_url=server.url,
                                 retry_config=RetryConfig.adaptive())) as client:
            limiter = client._runtime.retry_strategy.rate_limiter
            assert not limiter.enabled
            out = await client.global_sign_out().access_token(TOKEN).send()
            assert out.attempts == 2
            assert limiter.enabled
            assert limiter.throttle_events == 1


async def test_standard_mode_leaves_the_limiter_off(instant_retries: None) -> None:
    handler = loopback.sequence(loopback.service_error(400, "ThrottlingException"), loopback.ok)
    with loopback.serve(handler) as server:
        async with Client(Config(region="us-east-1", endpoint_url=server.url)) as client:
            await client.global_sign_out().access_token(TOKEN).send()
            assert not client._runtime.retry_strategy.rate_limiter.enabled


async def _burst(mode: str, calls: int) -> tuple[loopback.Throttler, int, float]:
    """``calls`` concurrent sign-outs on one client against a service allowing 20/s."""
    throttler = loopback.Throttler(rate=20, burst=5)
    failures = 0
    with loopback.serve(throttler) as server:
        config = Config(
            region="us-east-1",
            endpoint_url=server.url,
            retry_config=RetryConfig(mode=mode),  # type: ignore[arg-type]
        )
        async with Client(config) as client:

            async def one() -> None:
                nonlocal failures
                try:
                    await client.global_sign_out().access_token(TOKEN).send()
                except errors.ServiceError as exc:
                    if exc.code != "ThrottlingException":
                        raise
                    failures += 1  # still throttled after every attempt

            started = anyio.current_time()
            async with anyio.create_task_group() as tg:
                for _ in range(calls):
                    tg.start_soon(one)
            elapsed = anyio.current_time() - started
    return throttler, failures, elapsed


async def test_adaptive_mode_sends_far_fewer_throttled_requests(anyio_backend: str) -> None:
    calls = 40
    standard, standard_failed, standard_s = await _burst("standard", calls)
    adaptive, adaptive_failed, adaptive_s = await _burst("adaptive", calls)
    print(
        f"\nthrottling service 20/s (burst 5), {calls} concurrent calls, {anyio_backend}:\n"
        f"  standard: {standard.throttled} throttled requests, {standard.accepted} accepted, "
        f"{standard_failed} calls failed, {standard_s:.2f} s\n"
        f"  adaptive: {adaptive.throttled} throttled requests, {adaptive.accepted} accepted, "
        f"{adaptive_failed} calls failed, {adaptive_s:.2f} s"
    )
    assert adaptive_failed == 0
    assert adaptive.accepted == calls
    # 35 calls beyond the burst at 20/s need 1.75 s; a limiter stuck near its 0.5/s floor
    # would need a minute
    assert adaptive_s < 8
    assert adaptive.throttled * 3 <= standard.throttled
