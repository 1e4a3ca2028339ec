"""The per-client retry quota, visible as ``client.retry_quota``, over a real loopback socket.

A long outage drains it, after which errors are raised at once (one request, no retry); every
success refills it; throttling retries cost less than others. ``x-amz-retry-after`` is
honoured within the clamp [t, t + 5 s] around the computed backoff t. And the test switch for
users' suites (``set_testing`` / the ``cognito_signout_instant_retries`` fixture) makes every
wait instant while leaving attempts and quota as they are.
"""

from __future__ import annotations

import anyio
import httpx
import pytest

import cognito_signout
from cognito_signout import Client, Config, RetryConfig, RetryQuota, errors
from cognito_signout._retry import ErrorKind, backoff, retry_after_seconds

from . import loopback
from .tokens import TOKEN

pytestmark = pytest.mark.anyio

OUTAGE = loopback.service_error(503, "InternalErrorException")



def _config(url: str, **retry: object) -> Config:
    return Config(region="us-east-1", endpoint_url=url,
                  retry_config=RetryConfig(**retry))  # type: ignore[arg-type]


async def _send(client: Client) -> None:
    await client.global_sign_out().access_token(TOKEN).send()


async def test_a_long_outage_drains_the_quota_then_errors_come_at_once(
    instant_retries: None,
) -> None:
    switch = loopback.Switch(OUTAGE)
    with loopback.serve(switch) as server:
        async with Client(_config(server.url)) as client:
            quota = client.retry_quota
            assert (quota.available, quota.capacity) == (500, 500)
            requests_per_call = []
            for _ in range(20):
                before = server.request_count
                with pytest.raises(errors.InternalErrorException):
                    await _send(client)
                requests_per_call.append(server.request_count - before)
            # 17 calls of 3 attempts pay 2 x 14 each (476); the 18th can pay one retry more
            assert requests_per_call[:17] == [3] * 17
            assert requests_per_call[17] == 2
            assert requests_per_call[18:] == [1, 1]
            assert quota.available == 500 - 18 * 28 + 14
            # drained: raised after one request, and the error says why it was not retried
            with pytest.raises(errors.InternalErrorException) as info:
                await _send(client)
            assert any("retry quota is exhausted" in note for note in info.value.__notes__)
            assert info.value.status_code == 503
            assert info.value.request_id == "err-InternalErrorException"

            # the service is back: each first-attempt success refunds one token
            switch.to = loopback.ok
            drained = quota.available
            for _ in range(6):
                await _send(client)
            assert quota.available == drained + 6
            # enough for one retry again: a call that needs one pays 14 and, succeeding,
            # gets those 14 back
            switch.to = loopback.sequence(OUTAGE, loopback.ok)
            before = quota.available
            assert before >= 14
            out = await client.global_sign_out().access_token(TOKEN).send()
            assert out.attempts == 2
            assert quota.available == before


async def test_throttling_retries_cost_five(instant_retries: None) -> None:
    with loopback.serve(loopback.service_error(400, "ThrottlingException")) as server:
        async with Client(_config(server.url)) as client:
            with pytest.raises(errors.ServiceError):
                await _send(client)
            assert server.request_count == 3
            assert client.retry_quota.available == 500 - 2 * 5


async def test_the_quota_is_per_client_and_consistent_under_concurrency(
    instant_retries: None,
) -> None:
    with loopback.serve(OUTAGE) as server:
        async with Client(_config(server.url)) as drained, Client(_config(server.url)) as other:

            async def fail() -> None:
                with pytest.raises(errors.InternalErrorException):
                    await _send(drained)

            async with anyio.create_task_group() as tg:
                for _ in range(40):
                    tg.start_soon(fail)
            retries = server.request_count - 40
            assert drained.retry_quota.available == 500 - 14 * retries >= 0
            assert drained.retry_quota.available < 14
            assert other.retry_quota.available == 500


async def test_retry_after_is_honoured_on_the_wire() -> None:
    # computed backoff 0 (initial_backoff=0): the server's 300 ms is the wait
    handler = loopback.sequence(
        loopback.service_error(503, "InternalErrorException", retry_after_ms=300), loopback.ok
    )
    with loopback.serve(handler) as server:
        async with Client(_config(server.url, initial_backoff=0)) as client:
            started = anyio.current_time()
            out = await client.global_sign_out().access_token(TOKEN).send()
            elapsed = anyio.current_time() - started
    assert out.attempts == 2
    assert 0.28 < elapsed < 1.0


async def test_the_test_switch_overrides_retry_after(instant_retries: None) -> None:
    handler = loopback.sequence(
        loopback.service_error(503, "InternalErrorException", retry_after_ms=3000), loopback.ok
    )
    with loopback.serve(handler) as server, anyio.fail_after(1):
        async with Client(_config(server.url)) as client:
            out = await client.global_sign_out().access_token(TOKEN).send()
    assert out.attempts == 2


@pytest.mark.parametrize(
    ("computed", "hint", "expected"),
    [
        (0.05, 2.0, 2.0),  # a longer wait asked for: granted
        (0.05, 60.0, 5.05),  # far longer: at most t + 5 s
        (20.0, 1.0, 20.0),  # shorter than the policy's own backoff: never
        (0.0, 0.0, 0.0),
    ],
)
def test_retry_after_clamp(computed: float, hint: float, expected: float) -> None:
    config = RetryConfig(initial_backoff=computed, max_backoff=20)
    assert backoff(ErrorKind.TRANSIENT, 1, config, retry_after=hint, rand=lambda: 1.0) == (
        pytest.approx(expected)
    )


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("300", 0.3), (" 1500 ", 1.5), ("0", 0.0), ("-5", None), ("1_000", None), ("+5", None),
     ("1.5", None), ("abc", None), ("\u0661\u0662", None), ("9" * 40, None), ("", None)],
)
def test_retry_after_header_parsing(raw: str, seconds: float | None) -> None:
    exc = errors.ServiceError(
        code="X", message=None, status_code=503, request_id=None,
        response=httpx.Response(503, headers=[(b"x-amz-retry-after", raw.encode())]),
    )
    assert retry_after_seconds(exc) == seconds


async def test_quota_is_the_public_type() -> None:
    async with Client(Config(region="us-east-1")) as client:
        assert isinstance(client.retry_quota, RetryQuota)


# --- the test switch for users' own suites ----------------------------------------------------


async def test_set_testing_makes_backoffs_instant_but_keeps_attempts_and_quota() -> None:
    handler = loopback.sequence(OUTAGE, OUTAGE, loopback.ok)
    with loopback.serve(handler) as server:
        # backoffs of up to 10 s and 20 s: without the switch this call takes seconds
        config = _config(server.url, initial_backoff=10, max_backoff=20)
        assert not cognito_signout.is_testing()
        cognito_signout.set_testing(True)
        try:
            assert cognito_signout.is_testing()
            async with Client(config) as client:
                with anyio.fail_after(1):
                    out = await client.global_sign_out().access_token(TOKEN).send()
                assert out.attempts == 3  # still retried, as often as configured
                assert client.retry_quota.available == 500 - 14  # and still paid for
        finally:
            cognito_signout.set_testing(False)
        assert not cognito_signout.is_testing()


async def test_the_pytest_fixture_is_the_switch(cognito_signout_instant_retries: None) -> None:
    assert cognito_signout.is_testing()
    handler = loopback.sequence(loopback.service_error(400, "ThrottlingException"), loopback.ok)
    with loopback.serve(handler) as server, anyio.fail_after(1):
        # a throttling backoff of up to 30 s, and adaptive mode's limiter switched on
        config = _config(server.url, mode="adaptive", throttling_backoff=30)
        async with Client(config) as client:
            for _ in range(5):
                await client.global_sign_out().access_token(TOKEN).send()
            assert client._runtime.retry_strategy.rate_limiter.enabled


async def test_without_the_switch_backoffs_are_real() -> None:
    # The control for the two tests above: a 3 s wait asked for by the server really happens.
    handler = loopback.sequence(
        loopback.service_error(503, "InternalErrorException", retry_after_ms=3000), loopback.ok
    )
    with loopback.serve(handler) as server:
        async with Client(_config(server.url, initial_backoff=0)) as client:
            with anyio.move_on_after(0.3) as scope:
                await client.global_sign_out().access_token(TOKEN).send()
            assert scope.cancelled_caught
            assert server.request_count == 1
