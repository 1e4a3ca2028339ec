"""Cancelling a sign-out, under asyncio and trio, at every place a call can wait: inside an
attempt (before the response, mid-body), in a backoff, queued for a connection, queued for an
adaptive-mode send token. The cancellation always propagates as itself, never wrapped in an
``SdkError``; no connection is left half-used (the server sees the stalled one closed, and
httpx's pool holds only idle ones); the gate is released; and the client keeps working.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import anyio
import httpx
import pytest

from cognito_signout import Client, Config, RetryConfig, TimeoutConfig, errors

from . import loopback
from .tokens import TOKEN

pytestmark = pytest.mark.anyio



def _config(url: str, *, pool: int = 10, retry: RetryConfig | None = None) -> Config:
    return Config(
        region="us-east-1",
        endpoint_url=url,
        max_connections=pool,
        timeout_config=TimeoutConfig(connect_timeout=2, read_timeout=None),
        retry_config=retry or RetryConfig(),
    )


async def _wait(predicate: Callable[[], bool]) -> None:
    with anyio.fail_after(2):
        # Polling: the condition is set by server threads, which cannot set an anyio Event.
        while not predicate():  # noqa: ASYNC110
            await anyio.sleep(0.005)


async def _assert_nothing_leaked(client: Client, server: loopback.LoopbackServer) -> None:
    runtime = client._runtime

    def settled() -> bool:
        busy, idle = loopback.pool_connections(client)
        return busy == 0 and server.open_connections == idle

    # no connection in use or request waiting in the pool, and the server sees every
    # connection but the idle pooled ones closed
    await _wait(settled)
    assert runtime.gate.value == runtime.config.max_connections  # every slot released


async def _still_usable(client: Client, switch: loopback.Switch) -> None:
    switch.to = loopback.ok
    out = await client.global_sign_out().access_token(TOKEN).send()
    assert out.request_id is not None


async def _cancel_natively(
    anyio_backend: str, send: Callable[[], Awaitable[object]], after: Callable[[], bool]
) -> None:
    """Cancel ``send()`` the backend's own way once ``after()`` is true; assert it propagated.

    asyncio: ``Task.cancel()`` and ``CancelledError`` out of the task; trio: a cancel scope of
    its own. An SDK that swallowed or wrapped the cancellation fails both.
    """
    # An SDK that caught a one-shot asyncio cancellation and retried would never finish.
    with anyio.fail_after(3):
        if anyio_backend == "asyncio":
            task = asyncio.ensure_future(send())
            await _wait(after)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        else:
            import trio

            with trio.CancelScope() as scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(send)
                    await _wait(after)
                    scope.cancel()
            assert scope.cancelled_caught


@pytest.mark.parametrize(
    "stall",
    [loopback.stall_before_response, loopback.stall_after_headers, loopback.stall_mid_body],
    ids=["before-response", "after-headers", "mid-body"],
)
async def test_cancel_during_an_attempt(stall: loopback.Handler) -> None:
    switch = loopback.Switch(stall)
    with loopback.serve(switch) as server:
        async with Client(_config(server.url)) as client:
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(client.global_sign_out().access_token(TOKEN).send)
                    await _wait(lambda: server.request_count == 1)
                    await anyio.sleep(0.05)  # let the client read what the server sent
                    scope.cancel()
            # had the SDK turned the cancellation into an error, it would have escaped the
            # scope as an ExceptionGroup instead of being caught by it, or been retried
            assert scope.cancelled_caught
            assert server.request_count == 1
            assert client.retry_quota.available == 500  # no retry was paid for
            await _assert_nothing_leaked(client, server)
            assert server.open_connections == 0  # the stalled connection was closed
            await _still_usable(client, switch)


async def test_native_cancellation_during_an_attempt(anyio_backend: str) -> None:
    switch = loopback.Switch(loopback.stall_before_response)
    with loopback.serve(switch) as server:
        async with Client(_config(server.url)) as client:
            await _cancel_natively(
                anyio_backend,
                client.global_sign_out().access_token(TOKEN).send,
                lambda: server.request_count == 1,
            )
            assert client.retry_quota.available == 500
            await _assert_nothing_leaked(client, server)
            await _still_usable(client, switch)


async def test_cancel_during_a_backoff(anyio_backend: str) -> None:
    # The server asks for 5 s between attempts (initial_backoff=0 makes that the wait).
    switch = loopback.Switch(
        loopback.service_error(503, "InternalErrorException", retry_after_ms=5000)
    )
    with loopback.serve(switch) as server:
        async with Client(_config(server.url, retry=RetryConfig(initial_backoff=0))) as client:
            started = anyio.current_time()
            await _cancel_natively(
                anyio_backend,
                client.global_sign_out().access_token(TOKEN).send,
                lambda: server.request_count == 1,
            )
            assert anyio.current_time() - started < 1.0
            assert server.request_count == 1  # the retry never happened
            await _assert_nothing_leaked(client, server)
            assert server.open_connections <= 1  # at most the idle keep-alive connection
            await _still_usable(client, switch)


async def test_cancel_while_queued_for_a_connection(anyio_backend: str) -> None:
    switch = loopback.Switch(loopback.stall_before_response)
    with loopback.serve(switch) as server:
        async with Client(_config(server.url, pool=1)) as client:
            with anyio.CancelScope() as holder:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(client.global_sign_out().access_token(TOKEN).send)
                    await _wait(lambda: server.request_count == 1)
                    # the second call waits at the gate; cancelling it must not disturb the
                    # first, nor take the slot with it
                    gate = client._runtime.gate
                    await _cancel_natively(
                        anyio_backend,
                        client.global_sign_out().access_token(TOKEN).send,
                        lambda: gate.statistics().tasks_waiting == 1,
                    )
                    assert gate.statistics().tasks_waiting == 0
                    assert server.request_count == 1
                    holder.cancel()
            assert holder.cancelled_caught
            await _assert_nothing_leaked(client, server)
            await _still_usable(client, switch)


async def test_cancel_while_waiting_for_an_adaptive_send_token(anyio_backend: str) -> None:
    switch = loopback.Switch(loopback.ok)
    with loopback.serve(switch) as server:
        async with Client(_config(server.url, retry=RetryConfig.adaptive())) as client:
            limiter = client._runtime.retry_strategy.rate_limiter
            limiter.update(throttled=True)  # on, at about 1.4 sends per second
            await _cancel_natively(
                anyio_backend,
                client.global_sign_out().access_token(TOKEN).send,
                lambda: limiter._lock is not None and limiter._lock.locked(),
            )
            assert server.request_count == 0
            await _assert_nothing_leaked(client, server)


async def test_an_outer_deadline_is_a_cancellation_not_an_sdk_timeout() -> None:
    switch = loopback.Switch(loopback.stall_before_response)
    with loopback.serve(switch) as server:
        config = _config(server.url)
        async with Client(config) as client:
            op = client.global_sign_out().access_token(TOKEN).customize().config_override(
                timeout_config=TimeoutConfig(read_timeout=None, operation_timeout=5)
            )
            with anyio.move_on_after(0.2) as scope:
                await op.send()
            assert scope.cancelled_caught  # the caller's deadline, reported as the caller's
            # and the other way round: the SDK's own deadline is an SdkError
            op = op.config_override(
                timeout_config=TimeoutConfig(read_timeout=None, operation_timeout=0.2)
            )
            with anyio.move_on_after(5) as scope, pytest.raises(errors.TimeoutError):
                await op.send()
            assert not scope.cancelled_caught
            await _assert_nothing_leaked(client, server)


async def test_a_callers_http_client_is_left_clean_too(anyio_backend: str) -> None:
    switch = loopback.Switch(loopback.stall_before_response)
    with loopback.serve(switch) as server:
        async with httpx.AsyncClient(trust_env=False) as http:
            async with Client(_config(server.url), http_client=http) as client:
                await _cancel_natively(
                    anyio_backend,
                    client.global_sign_out().access_token(TOKEN).send,
                    lambda: server.request_count == 1,
                )
                await _assert_nothing_leaked(client, server)
                await _still_usable(client, switch)
            assert not http.is_closed  # the caller's client stays the caller's
