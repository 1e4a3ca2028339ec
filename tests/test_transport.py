"""Which transport carries the requests, and that both map failures the same way."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import subprocess
import sys
from typing import Any

import httpx
import pytest
import respx

from cognito_signout import Client, Config, RetryConfig, TimeoutConfig, errors
from cognito_signout.emulator import MotoCognito

from .tokens import make_token

pytestmark = pytest.mark.anyio


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_default_is_httpcore_although_aiohttp_is_installed(
    moto: MotoCognito,
) -> None:
    assert importlib.util.find_spec("aiohttp") is not None  # the situation of issue 8
    user = moto.create_user()
    async with Client(Config(region="us-east-1", endpoint_url=moto.endpoint_url)) as client:
        assert client.transport == "httpcore"  # before the first call too
        await client.global_sign_out().access_token(user.access_token).send()
        assert client.transport == "httpcore"
    assert not moto.access_token_accepted(user.access_token)


async def test_respx_default_mocker_sees_every_request_of_a_default_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With aiohttp installed, a plain ``respx.mock`` intercepts the default client: nothing
    reaches the network (a miss is respx's error, not a DNS look-up of a real endpoint)."""
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    for var in ("AWS_ENDPOINT_URL", "COGNITO_SIGNOUT_TRANSPORT", "AWS_REGION"):
        monkeypatch.delenv(var, raising=False)
    with respx.mock() as router:
        route = router.post("https://cognito-idp.eu-west-1.amazonaws.com/").respond(
            200, json={}, headers={"x-amzn-requestid": "mocked"}
        )
        async with Client() as client:  # the environment's config, as a user's app has it
            out = await client.global_sign_out().access_token(make_token("eu-west-1")).send()
        assert out.request_id == "mocked"
        assert route.call_count == 1
        # and a request nobody mocked is refused by respx, before any I/O
        async with Client(Config(retry_config=RetryConfig.disabled())) as client:
            with pytest.raises(respx.models.AllMockedAssertionError):
                await client.global_sign_out().access_token(make_token("eu-west-2")).send()


async def test_respx_default_mocker_leaves_asgi_apps_alone() -> None:
    """The README's old advice, ``using="httpx"``, also caught FastAPI's ASGITransport."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        # a logout endpoint that signs out through the SDK (mocked below)
        async with Client(Config(region="eu-west-1")) as client:
            await client.global_sign_out().access_token(make_token("eu-west-1")).send()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with respx.mock() as router:
        route = router.post("https://cognito-idp.eu-west-1.amazonaws.com/").respond(200, json={})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            assert (await http.post("/logout")).status_code == 204
        assert route.call_count == 1


def test_import_does_not_import_aiohttp() -> None:
    code = "import sys, cognito_signout; print('aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("transport", ["httpcore", "aiohttp"])
def test_one_client_serves_two_event_loops(moto: MotoCognito, transport: str) -> None:
    """A client used across two ``asyncio.run`` calls (or a test's fresh loop per test) opens
    a new transport in the second loop instead of failing on the first one's connections."""
    config = Config(region="us-east-1", endpoint_url=moto.endpoint_url,
                    transport=transport)  # type: ignore[arg-type]
    client = Client(config)
    users = [moto.create_user(), moto.create_user()]

    async def sign_out(token: str) -> str | None:
        return (await client.global_sign_out().access_token(token).send()).request_id

    for user in users:
        assert asyncio.run(sign_out(user.access_token))
        assert not moto.access_token_accepted(user.access_token)
    asyncio.run(client.aclose())


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


@pytest.mark.parametrize("transport", ["httpcore", "aiohttp"])
async def test_refused_connection_is_a_dispatch_failure_on_every_transport(
    transport: str, anyio_backend: str
) -> None:
    if transport == "aiohttp" and anyio_backend != "asyncio":
        pytest.skip("aiohttp runs on asyncio only; under trio it is a ConstructionFailure (above)")
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
    with pytest.raises(errors.ConstructionFailure, match="'auto' is gone"):
        Config(transport="auto")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["httpcore", "aiohttp", " AIOHTTP "])
def test_transport_from_environment(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("COGNITO_SIGNOUT_TRANSPORT", value)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert Config.from_env().transport == value.strip().lower()
    assert Client().transport == value.strip().lower()


async def test_transport_cannot_be_overridden_per_call() -> None:
    async with Client(Config(region="us-east-1")) as client:
        with pytest.raises(errors.ConstructionFailure, match="unknown field"):
            client.global_sign_out().customize().config_override(transport="httpcore")  # type: ignore[call-arg]


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


@pytest.mark.parametrize("transport", ["httpcore", "aiohttp"])
async def test_an_unusable_proxy_scheme_is_a_construction_failure(
    transport: str, anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx refuses the URL with a ValueError that names it (password masked); the SDK says
    which scheme, and never the URL."""
    if transport == "aiohttp" and anyio_backend == "trio":
        pytest.skip("aiohttp runs on asyncio only (a ConstructionFailure of its own under trio)")
    monkeypatch.setenv("HTTPS_PROXY", "ftp://me:s3cret@127.0.0.1:9")
    async with Client(Config(region="us-east-1", transport=transport)) as client:  # type: ignore[arg-type]
        with pytest.raises(errors.ConstructionFailure, match="'ftp'") as info:
            await client.global_sign_out().access_token(make_token("us-east-1")).send()
    assert "s3cret" not in str(info.value) and "me:" not in str(info.value)


@pytest.mark.skipif(
    importlib.util.find_spec("socksio") is not None,
    reason="checks the error for a missing socksio; socksio is installed here",
)
@pytest.mark.parametrize("transport", ["httpcore", "aiohttp"])
async def test_a_socks_proxy_without_socksio_says_what_to_install(
    transport: str, anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if transport == "aiohttp" and anyio_backend == "trio":
        pytest.skip("aiohttp runs on asyncio only (a ConstructionFailure of its own under trio)")
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:9")
    async with Client(Config(region="us-east-1", transport=transport)) as client:  # type: ignore[arg-type]
        with pytest.raises(errors.ConstructionFailure, match="pip install socksio"):
            await client.global_sign_out().access_token(make_token("us-east-1")).send()
