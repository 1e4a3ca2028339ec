"""Which transport carries the requests, and that both map failures the same way."""

from __future__ import annotations

import socket

import httpx
import pytest

from cognito_signout import Client, Config, RetryConfig, TimeoutConfig, errors
from cognito_signout.emulator import MotoCognito

pytestmark = pytest.mark.anyio


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_auto_picks_aiohttp_on_asyncio_and_httpcore_on_trio(
    moto: MotoCognito, anyio_backend: str
) -> None:
    user = moto.create_user()
    async with Client(Config(region="us-east-1", endpoint_url=moto.endpoint_url)) as client:
        assert client.transport == "unopened"
        await client.global_sign_out().access_token(user.access_token).send()
        expected = "aiohttp" if anyio_backend == "asyncio" else "httpcore"
        assert client.transport == expected
    assert not moto.access_token_accepted(user.access_token)


async def test_httpcore_can_be_forced(moto: MotoCognito) -> None:
    user = moto.create_user()
    config = Config(region="us-east-1", endpoint_url=moto.endpoint_url, transport="httpcore")
    async with Client(config) as client:
        await client.global_sign_out().access_token(user.access_token).send()
        assert client.transport == "httpcore"


async def test_forced_aiohttp_under_trio_is_a_construction_failure(anyio_backend: str) -> None:
    config = Config(region="us-east-1", endpoint_url="http://127.0.0.1:1", transport="aiohttp")
    async with Client(config) as client:
        if anyio_backend == "trio":
            with pytest.raises(errors.ConstructionFailure, match="needs asyncio"):
                await client.global_sign_out().access_token("t").send()
        else:
            with pytest.raises(errors.DispatchFailure):
                await client.global_sign_out().access_token("t").send()
            assert client.transport == "aiohttp"


async def test_caller_client_is_reported_and_used(moto: MotoCognito) -> None:
    user = moto.create_user()
    async with httpx.AsyncClient() as http:
        config = Config(region="us-east-1", endpoint_url=moto.endpoint_url)
        async with Client(config, http_client=http) as client:
            assert client.transport == "caller"
            await client.global_sign_out().access_token(user.access_token).send()


@pytest.mark.parametrize("transport", ["auto", "httpcore"])
async def test_refused_connection_is_a_dispatch_failure_on_every_transport(
    transport: str,
) -> None:
    config = Config(
        region="us-east-1",
        endpoint_url=f"http://127.0.0.1:{_closed_port()}",
        transport=transport,  # type: ignore[arg-type]
        retry_config=RetryConfig.disabled(),
        timeout_config=TimeoutConfig(connect_timeout=2.0),
    )
    async with Client(config) as client:
        with pytest.raises(errors.DispatchFailure) as info:
            await client.global_sign_out().access_token("t").send()
    assert not isinstance(info.value, errors.TimeoutError)


def test_transport_is_validated() -> None:
    with pytest.raises(errors.ConstructionFailure, match="transport"):
        Config(transport="curl")  # type: ignore[arg-type]


def test_transport_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COGNITO_SIGNOUT_TRANSPORT", "httpcore")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert Config.from_env().transport == "httpcore"


async def test_transport_cannot_be_overridden_per_call() -> None:
    async with Client(Config(region="us-east-1")) as client:
        with pytest.raises(errors.ConstructionFailure, match="unknown field"):
            client.global_sign_out().customize().config_override(transport="httpcore")


async def test_a_callers_httpx_aiohttp_client_reports_refused_as_dispatch_failure(
    anyio_backend: str,
) -> None:
    if anyio_backend != "asyncio":
        pytest.skip("aiohttp runs on asyncio only")
    from httpx_aiohttp import HttpxAiohttpClient

    config = Config(region="us-east-1", endpoint_url=f"http://127.0.0.1:{_closed_port()}",
                    retry_config=RetryConfig.disabled())
    async with HttpxAiohttpClient() as http, Client(config, http_client=http) as client:
        with pytest.raises(errors.DispatchFailure):
            await client.global_sign_out().access_token("t").send()
