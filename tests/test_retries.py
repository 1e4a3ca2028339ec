"""Standard-mode retries: what is retried, how often, how long to wait, what it costs."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx

from cognito_signout import Client, Config, RetryConfig, RetryQuota, errors
from cognito_signout._retry import ErrorKind, backoff, classify

from .tokens import TOKEN

pytestmark = pytest.mark.anyio
URL = "https://cognito-idp.eu-west-1.amazonaws.com/"



def _error(status: int, code: str | None = None) -> httpx.Response:
    body = {"__type": code, "message": "m"} if code else {}
    return httpx.Response(status, json=body)


async def _send(config: Config | None = None) -> None:
    async with Client(config or Config(region="eu-west-1")) as client:
        await client.global_sign_out().access_token(TOKEN).send()


@pytest.mark.parametrize(
    "response",
    [
        _error(500), _error(502), _error(503), _error(504),
        _error(500, "InternalErrorException"),
        _error(429, "TooManyRequestsException"),
        _error(429),
        _error(400, "ThrottlingException"),
        _error(400, "RequestTimeoutException"),
        _error(400, "PriorRequestNotComplete"),
    ],
    ids=lambda r: f"{r.status_code}",
)
async def test_retryable_responses_use_all_attempts(
    wire: respx.MockRouter, instant_retries: None, response: httpx.Response
) -> None:
    route = wire.post(URL).mock(return_value=response)
    with pytest.raises(errors.ServiceError):
        await _send()
    assert route.call_count == 3


@pytest.mark.parametrize(
    "code",
    ["NotAuthorizedException", "InvalidParameterException", "ResourceNotFoundException",
     "ForbiddenException", "UserNotConfirmedException", "SomethingNew"],
)
async def test_final_errors_are_not_retried(
    wire: respx.MockRouter, instant_retries: None, code: str
) -> None:
    route = wire.post(URL).mock(return_value=_error(400, code))
    with pytest.raises(errors.ServiceError):
        await _send()
    assert route.call_count == 1


@pytest.mark.parametrize(
    "side_effect",
    [httpx.ConnectError("refused"), httpx.ReadError("reset"), httpx.ReadTimeout("slow"),
     httpx.RemoteProtocolError("closed")],
    ids=lambda e: type(e).__name__,
)
async def test_transport_failures_are_retried(
    wire: respx.MockRouter, instant_retries: None, side_effect: Exception
) -> None:
    ok = httpx.Response(200, json={})
    route = wire.post(URL).mock(side_effect=[side_effect, side_effect, ok])
    async with Client(Config(region="eu-west-1")) as client:
        out = await client.global_sign_out().access_token(TOKEN).send()
    assert out.attempts == 3
    assert route.call_count == 3


async def test_unconfirmable_2xx_is_retried(wire: respx.MockRouter, instant_retries: None) -> None:
    route = wire.post(URL).mock(
        side_effect=[httpx.Response(200, html="<html/>"), httpx.Response(200, json={})]
    )
    await _send()
    assert route.call_count == 2


@pytest.mark.parametrize("attempts", [1, 2, 5])
async def test_max_attempts(wire: respx.MockRouter, instant_retries: None, attempts: int) -> None:
    route = wire.post(URL).mock(return_value=_error(503))
    with pytest.raises(errors.ServiceError):
        await _send(Config(region="eu-west-1",
                           retry_config=RetryConfig().with_max_attempts(attempts)))
    assert route.call_count == attempts


async def test_disabled_is_one_attempt(wire: respx.MockRouter) -> None:
    route = wire.post(URL).mock(return_value=_error(503))
    with pytest.raises(errors.ServiceError):
        await _send(Config(region="eu-west-1", retry_config=RetryConfig.disabled()))
    assert route.call_count == 1


async def test_aws_max_attempts_from_environment(
    wire: respx.MockRouter, instant_retries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    route = wire.post(URL).mock(return_value=_error(500))
    with pytest.raises(errors.ServiceError):
        await _send(Config.from_env())
    assert route.call_count == 4


async def test_config_override_of_retries_for_one_call(
    wire: respx.MockRouter, instant_retries: None
) -> None:
    route = wire.post(URL).mock(return_value=_error(500))
    async with Client(Config(region="eu-west-1")) as client:
        op = client.global_sign_out().access_token(TOKEN).customize()
        with pytest.raises(errors.ServiceError):
            await op.config_override(retry_config=RetryConfig.disabled()).send()
    assert route.call_count == 1


async def test_success_after_retries_refunds_the_quota(
    wire: respx.MockRouter, instant_retries: None
) -> None:
    wire.post(URL).mock(side_effect=[_error(500), _error(500), httpx.Response(200, json={})])
    async with Client(Config(region="eu-west-1")) as client:
        await client.global_sign_out().access_token(TOKEN).send()
        # two retries of 14 each, the last one refunded
        assert client.retry_quota.available == 500 - 14


async def test_backoffs_logged_follow_the_config(
    wire: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    wire.post(URL).mock(return_value=_error(503))
    config = Config(region="eu-west-1",
                    retry_config=RetryConfig(initial_backoff=0.0, throttling_backoff=0.0))
    with caplog.at_level(logging.DEBUG, logger="cognito_signout"), pytest.raises(
        errors.ServiceError
    ):
        await _send(config)
    attempts = [r for r in caplog.records if "attempt=" in r.getMessage()]
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(attempts) == 3
    assert len(retries) == 2
    assert "(transient)" in retries[0].getMessage()


def test_backoff_full_jitter_bases() -> None:
    config = RetryConfig()
    top = lambda: 1.0  # noqa: E731 - the largest random draw
    assert backoff(ErrorKind.TRANSIENT, 1, config, rand=top) == pytest.approx(0.05)
    assert backoff(ErrorKind.TRANSIENT, 3, config, rand=top) == pytest.approx(0.2)
    assert backoff(ErrorKind.THROTTLING, 1, config, rand=top) == pytest.approx(1.0)
    assert backoff(ErrorKind.THROTTLING, 4, config, rand=top) == pytest.approx(8.0)
    assert backoff(ErrorKind.THROTTLING, 10, config, rand=top) == pytest.approx(20.0)
    assert backoff(ErrorKind.THROTTLING, 2, config, rand=lambda: 0.25) == pytest.approx(0.5)
    assert backoff(ErrorKind.TRANSIENT, 1, RetryConfig(initial_backoff=0), rand=top) == 0


def test_retry_after_is_clamped_around_the_backoff() -> None:
    config = RetryConfig()
    # the hint is clamped to [t, t + 5 s] around the computed backoff t
    # computed 0.05 s, server asks for 2 s: 2 s
    assert backoff(ErrorKind.TRANSIENT, 1, config, retry_after=2.0, rand=lambda: 1.0) == 2.0
    # computed 0.05 s, server asks for 60 s: at most t + 5 s
    assert backoff(ErrorKind.TRANSIENT, 1, config, retry_after=60.0,
                   rand=lambda: 1.0) == pytest.approx(5.05)
    # computed 20 s, server asks for 1 s: never shorter than t
    assert backoff(ErrorKind.THROTTLING, 9, config, retry_after=1.0, rand=lambda: 1.0) == 20.0


def test_classification() -> None:
    def service(status: int, code: str | None) -> errors.ServiceError:
        return errors.ServiceError(code=code, message=None, status_code=status, request_id=None,
                                   response=None)

    assert classify(service(429, None)) is ErrorKind.THROTTLING
    assert classify(service(400, "TooManyRequestsException")) is ErrorKind.THROTTLING
    assert classify(service(400, "SlowDown")) is ErrorKind.THROTTLING
    assert classify(service(503, None)) is ErrorKind.TRANSIENT
    assert classify(service(501, None)) is None
    assert classify(service(400, "NotAuthorizedException")) is None
    assert classify(errors.DispatchFailure("x")) is ErrorKind.TRANSIENT
    assert classify(errors.TimeoutError("x", kind="attempt")) is ErrorKind.TRANSIENT
    assert classify(errors.TimeoutError("x", kind="operation")) is None
    assert classify(errors.ConstructionFailure("x")) is None
    assert classify(ValueError()) is None


def test_quota_arithmetic() -> None:
    quota = RetryQuota()
    assert quota.try_acquire(ErrorKind.TRANSIENT) == 14
    assert quota.try_acquire(ErrorKind.THROTTLING) == 5
    assert quota.available == 481
    quota.release(5)
    assert quota.available == 486
    quota.release(None)
    assert quota.available == 487
    for _ in range(100):
        quota.release(14)
    assert quota.available == 500
    small = RetryQuota(capacity=20)
    assert small.try_acquire(ErrorKind.TRANSIENT) == 14
    assert small.try_acquire(ErrorKind.TRANSIENT) is None
    assert small.try_acquire(ErrorKind.THROTTLING) == 5


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"max_attempts": 1.5}, {"max_attempts": True},
     {"initial_backoff": -1}, {"throttling_backoff": float("nan")}, {"max_backoff": "1"},
     {"mode": "legacy"}],
)
def test_retry_config_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(errors.ConstructionFailure):
        RetryConfig(**kwargs)  # type: ignore[arg-type]


def test_retry_config_constructors() -> None:
    assert RetryConfig.standard() == RetryConfig()
    assert RetryConfig.adaptive().mode == "adaptive"
    assert RetryConfig.disabled().max_attempts == 1
    tuned = (RetryConfig().with_max_attempts(7).with_initial_backoff(0)
             .with_throttling_backoff(0.5).with_max_backoff(3))
    assert (tuned.max_attempts, tuned.initial_backoff, tuned.throttling_backoff,
            tuned.max_backoff) == (7, 0, 0.5, 3)
    with pytest.raises(AttributeError):
        tuned.max_attempts = 2  # type: ignore[misc]


async def test_on_retry_hooks_see_each_retry(wire: respx.MockRouter, instant_retries: None) -> None:
    wire.post(URL).mock(side_effect=[_error(503), _error(429), httpx.Response(200, json={})])
    seen: list[tuple[int, str]] = []

    def broken(details: object) -> None:
        raise RuntimeError("a metrics backend fell over")

    config = Config(region="eu-west-1",
                    on_retry=[lambda d: seen.append((d.attempt, d.kind.value)), broken])
    async with Client(config) as client:
        out = await client.global_sign_out().access_token(TOKEN).send()
    assert out.attempts == 3
    assert seen == [(1, "transient"), (2, "throttling")]


def test_on_retry_validation() -> None:
    assert len(Config(on_retry=print).on_retry) == 1
    with pytest.raises(errors.ConstructionFailure):
        Config(on_retry=[1])
    with pytest.raises(errors.ConstructionFailure):
        Config(on_retry=5)
