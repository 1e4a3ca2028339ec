"""Load: many concurrent sign-outs on one client against a loopback keep-alive server.

The pool limit is a hard ceiling on open connections, and calls beyond it queue (FIFO, at the
runtime's gate) instead of failing on a short pool-wait timeout: only the operation timeout
bounds the wait. A queued call is not yet an attempt, so attempt, connect and read timeouts
do not run while it waits.
"""

from __future__ import annotations

import anyio
import pytest

from cognito_signout import Client, Config, RetryConfig, TimeoutConfig

from . import loopback
from .tokens import TOKEN

pytestmark = pytest.mark.anyio



async def _burst(client: Client, calls: int) -> list[str | None]:
    request_ids: list[str | None] = []

    async def one() -> None:
        out = await client.global_sign_out().access_token(TOKEN).send()
        request_ids.append(out.request_id)

    async with anyio.create_task_group() as tg:
        for _ in range(calls):
            tg.start_soon(one)
    return request_ids


@pytest.mark.parametrize("pool", [4, 10])
async def test_500_concurrent_sign_outs_within_the_pool_limit(
    pool: int, anyio_backend: str
) -> None:
    with loopback.serve(loopback.ok) as server:
        config = Config(region="us-east-1", endpoint_url=server.url, max_connections=pool)
        async with Client(config) as client:
            started = anyio.current_time()
            request_ids = await _burst(client, 500)
            elapsed = anyio.current_time() - started
            # every call was answered on its own request: no success without a response
            assert len(set(request_ids)) == 500
            assert server.request_count == 500
            assert server.max_open_connections <= pool
            assert client.retry_quota.available == client.retry_quota.capacity
    print(f"\nload: 500 calls, pool {pool}, {anyio_backend}: {elapsed:.2f} s "
          f"({500 / elapsed:.0f} calls/s), max open connections {server.max_open_connections}")


async def test_a_queued_call_is_bounded_by_the_operation_timeout_only() -> None:
    # Pool of one, a server taking 0.1 s per answer, 8 calls: the last one waits about 0.7 s
    # for the connection, longer than its connect, read and attempt timeouts (0.3 s each) and
    # longer than any sane pool timeout of that size. None of those may end the wait.
    with loopback.serve(loopback.delayed(0.1)) as server:
        config = Config(
            region="us-east-1",
            endpoint_url=server.url,
            max_connections=1,
            timeout_config=TimeoutConfig(
                connect_timeout=0.3, read_timeout=0.3, operation_attempt_timeout=0.3,
                operation_timeout=5,
            ),
            retry_config=RetryConfig.disabled(),
        )
        async with Client(config) as client:
            started = anyio.current_time()
            request_ids = await _burst(client, 8)
            elapsed = anyio.current_time() - started
        assert len(request_ids) == 8
        assert server.request_count == 8  # one attempt each: nothing timed out and retried
        assert server.max_open_connections == 1
    assert elapsed > 0.7


async def test_the_pool_limit_is_configurable() -> None:
    with loopback.serve(loopback.delayed(0.05)) as server:
        config = Config(region="us-east-1", endpoint_url=server.url, max_connections=3)
        async with Client(config) as client:
            await _burst(client, 30)
            busy, idle = loopback.pool_connections(client)
            assert (busy, idle) == (0, 3)
        assert server.max_open_connections == 3
