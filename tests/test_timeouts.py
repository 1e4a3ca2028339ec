"""Connect, read, attempt and operation timeouts, each against a loopback server that stalls at
the moment that timeout guards: before accept completes, before the response, after the
headers, mid-body, or slowly all along. Each ends in ``errors.TimeoutError`` with its ``kind``."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from cognito_signout import Client, Config, GlobalSignOutOutput, RetryConfig, TimeoutConfig, errors
from cognito_signout._runtime import _timeout_extension

from . import loopback
from .tokens import TOKEN

pytestmark = pytest.mark.anyio



def _config(
    url: str,
    *,
    connect: float | None = None,
    read: float | None = None,
    attempt: float | None = None,
    operation: float | None = None,
    attempts: int = 1,
    **retry: Any,
) -> Config:
    return Config(
        region="us-east-1",
        endpoint_url=url,
        timeout_config=TimeoutConfig(
            connect_timeout=connect,
            read_timeout=read,
            operation_attempt_timeout=attempt,
            operation_timeout=operation,
        ),
        retry_config=RetryConfig(max_attempts=attempts, **retry),
    )


async def _send(config: Config) -> GlobalSignOutOutput:
    async with Client(config) as client:
        return await client.global_sign_out().access_token(TOKEN).send()


async def _timeout(config: Config) -> tuple[errors.TimeoutError, float]:
    started = anyio.current_time()
    with pytest.raises(errors.TimeoutError) as info:
        await _send(config)
    return info.value, anyio.current_time() - started


# --- connect ---------------------------------------------------------------------------------


async def test_connect_timeout_when_accept_never_completes() -> None:
    with loopback.NeverAccepting() as server:
        exc, elapsed = await _timeout(_config(server.url, connect=0.2, read=5))
    assert exc.kind == "connect"
    assert 0.15 < elapsed < 1.0
    assert TOKEN not in str(exc)


async def test_connect_timeout_is_retried(instant_retries: None) -> None:
    with loopback.NeverAccepting() as server:
        exc, elapsed = await _timeout(_config(server.url, connect=0.15, attempts=3))
    assert exc.kind == "connect"
    assert elapsed > 0.4  # three attempts of 0.15 s


# --- read ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stall",
    [loopback.stall_before_response, loopback.stall_after_headers, loopback.stall_mid_body],
    ids=["before-response", "after-headers", "mid-body"],
)
async def test_read_timeout_wherever_the_server_stalls(stall: loopback.Handler) -> None:
    with loopback.serve(stall) as server:
        exc, elapsed = await _timeout(_config(server.url, connect=1, read=0.2))
        assert server.request_count == 1
    assert exc.kind == "read"
    assert 0.15 < elapsed < 1.0


async def test_a_slow_but_steady_body_is_not_a_read_timeout() -> None:
    # 20 bytes, one every 20 ms: 0.4 s in all, never 0.2 s idle.
    with loopback.serve(loopback.drip(0.02, chunks=20)) as server:
        out = await _send(_config(server.url, read=0.2))
    assert out.request_id == "drip"


# --- attempt ---------------------------------------------------------------------------------


async def test_attempt_timeout_bounds_a_dripping_response(instant_retries: None) -> None:
    # Each byte arrives well within the read timeout; only the attempt timeout can end this.
    with loopback.serve(loopback.drip(0.02, chunks=200)) as server:
        exc, elapsed = await _timeout(_config(server.url, read=1, attempt=0.2, attempts=2))
        assert server.request_count == 2  # an expired attempt is retried
    assert exc.kind == "attempt"
    assert 0.35 < elapsed < 1.5


async def test_attempt_timeout_then_success(instant_retries: None) -> None:
    handler = loopback.sequence(loopback.stall_before_response, loopback.ok)
    with loopback.serve(handler) as server:
        out = await _send(_config(server.url, attempt=0.2, attempts=2))
        assert server.request_count == 2
    assert out.attempts == 2


# --- operation -------------------------------------------------------------------------------


async def test_operation_timeout_ends_a_stalled_call() -> None:
    with loopback.serve(loopback.stall_before_response) as server:
        exc, elapsed = await _timeout(_config(server.url, operation=0.3, attempts=3))
        assert server.request_count == 1
    assert exc.kind == "operation"
    assert 0.25 < elapsed < 1.0


async def test_operation_timeout_bounds_all_attempts(instant_retries: None) -> None:
    # Ten attempts of 0.15 s would take 1.5 s; the operation timeout ends it at 0.4 s.
    with loopback.serve(loopback.stall_before_response) as server:
        exc, elapsed = await _timeout(
            _config(server.url, attempt=0.15, operation=0.4, attempts=10)
        )
        assert 2 <= server.request_count <= 3
    assert exc.kind == "operation"
    assert elapsed < 0.8
    assert isinstance(exc.__cause__, errors.TimeoutError)  # the last attempt's timeout
    assert exc.__cause__.kind == "attempt"


async def test_operation_timeout_bounds_backoffs() -> None:
    # Backoffs of up to 10 s (full jitter), 20 attempts: the operation timeout still wins.
    handler = loopback.service_error(503, "InternalErrorException")
    with loopback.serve(handler) as server:
        started = anyio.current_time()
        with pytest.raises(errors.SdkError):
            await _send(_config(server.url, operation=0.5, attempts=20, initial_backoff=5))
        elapsed = anyio.current_time() - started
    assert elapsed < 0.9


async def test_no_retry_starts_whose_backoff_would_outlast_the_operation_timeout() -> None:
    # The server asks for 2 s between attempts; with 0.5 s left, waiting is pointless: the
    # service's own error is raised at once, with a note saying why it was not retried.
    handler = loopback.service_error(503, "InternalErrorException", retry_after_ms=2000)
    with loopback.serve(handler) as server:
        started = anyio.current_time()
        with pytest.raises(errors.InternalErrorException) as info:
            await _send(_config(server.url, operation=0.5, attempts=3, initial_backoff=0))
        elapsed = anyio.current_time() - started
        assert server.request_count == 1
    assert elapsed < 0.3
    assert info.value.status_code == 503
    assert info.value.request_id == "err-InternalErrorException"
    assert any("operation timeout" in note for note in info.value.__notes__)


async def test_operation_timeout_bounds_the_wait_for_a_connection() -> None:
    # Pool of one, held by a stalled call: the next call waits at the gate, and its operation
    # timeout, not some pool timeout of httpx, ends the wait.
    with loopback.serve(loopback.stall_before_response) as server:
        config = Config(
            region="us-east-1", endpoint_url=server.url, max_connections=1,
            timeout_config=TimeoutConfig(connect_timeout=1, read_timeout=None),
            retry_config=RetryConfig.disabled(),
        )
        async with Client(config) as client, anyio.create_task_group() as tg:
            tg.start_soon(client.global_sign_out().access_token(TOKEN).send)
            assert await anyio.to_thread.run_sync(
                lambda: server.wait_until(lambda: server.request_count == 1)
            )
            started = anyio.current_time()
            with pytest.raises(errors.TimeoutError) as info:
                await (
                    client.global_sign_out().access_token(TOKEN).customize()
                    .config_override(
                        timeout_config=TimeoutConfig(read_timeout=None, operation_timeout=0.3)
                    )
                    .send()
                )
            elapsed = anyio.current_time() - started
            assert server.request_count == 1  # the second call never got a connection
            tg.cancel_scope.cancel()
    assert info.value.kind == "operation"
    assert 0.25 < elapsed < 0.8


async def test_defaults() -> None:
    timeouts = TimeoutConfig()
    assert (timeouts.connect_timeout, timeouts.read_timeout) == (3.1, 5.0)
    assert timeouts.operation_attempt_timeout is None
    assert timeouts.operation_timeout is None
    # httpx's own pool timeout is off on every request: the gate bounds that wait.
    assert _timeout_extension(3.1, 5.0) == {"connect": 3.1, "read": 5.0, "write": 5.0, "pool": None}


@pytest.mark.parametrize(
    ("stall", "request_id"),
    [(loopback.stall_after_headers, "stalled-head"), (loopback.stall_mid_body, "stalled-body")],
    ids=["after-headers", "mid-body"],
)
async def test_a_body_stall_keeps_status_and_request_id(
    stall: loopback.Handler, request_id: str
) -> None:
    with loopback.serve(stall) as server:
        exc, _ = await _timeout(_config(server.url, connect=1, read=0.2))
    assert exc.kind == "read"
    assert exc.status_code == 200
    assert exc.request_id == request_id


async def test_a_stall_before_any_response_has_no_status() -> None:
    with loopback.serve(loopback.stall_before_response) as server:
        exc, _ = await _timeout(_config(server.url, connect=1, read=0.2))
    assert exc.status_code is None
    assert exc.request_id is None
