"""The fast path's transport (cognito_signout._aiohttp) over real loopback sockets.

httpx.Request in, httpx.Response out, with aiohttp underneath: keep-alive, every failure as the
right httpx exception (raised from aiohttp's), timeouts, proxies from the environment, the pool
limit, cancellation without a leaked connection, and how users mock it (aioresponses).
"""

from __future__ import annotations

import asyncio
import base64
import gc
import time
from collections.abc import AsyncIterator

import aiohttp
import anyio
import httpx
import pytest
import respx

from cognito_signout import Client, Config, RetryConfig, TimeoutConfig, errors
from cognito_signout._aiohttp import AiohttpTransport
from cognito_signout._transport import OwnedTransport
from cognito_signout.testing import install_transport

from . import loopback
from .tokens import TOKEN

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiohttp runs on asyncio only



def make_http_client(size: int) -> httpx.AsyncClient:
    """The SDK's owned aiohttp transport (environment read now), under a plain httpx client."""
    return httpx.AsyncClient(transport=OwnedTransport("aiohttp", size))


def _owned(http: httpx.AsyncClient) -> OwnedTransport:
    transport = http._transport
    assert isinstance(transport, OwnedTransport)
    return transport


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with make_http_client(8) as client:
        yield client


def _request(
    url: str, *, connect: float | None = 2.0, read: float | None = 2.0, pool: float | None = None
) -> httpx.Request:
    return httpx.Request(
        "POST", url, headers={"Content-Type": loopback.JSON, "X-Amz-Target": "t"},
        content=b'{"AccessToken":"x"}',
        extensions={"timeout": {"connect": connect, "read": read, "write": read, "pool": pool}},
    )


async def _exchange(
    http: httpx.AsyncClient, request: httpx.Request
) -> tuple[httpx.Response, bytes]:
    """What the SDK does with the transport it owns: send, then read the raw body."""
    response = await _owned(http).handle_async_request(request)
    try:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    return response, body


def _busy_and_idle(http: httpx.AsyncClient) -> tuple[int, int]:
    busy = idle = 0
    owned = _owned(http)
    for transport in (owned._direct, *owned._via_proxy.values()):
        assert isinstance(transport, AiohttpTransport)
        session = transport.pool.session
        if session is not None:  # test-only: aiohttp's connector has no public counts
            connector = session.connector
            assert isinstance(connector, aiohttp.BaseConnector)
            busy += len(connector._acquired)
            idle += sum(len(c) for c in connector._conns.values())
    return busy, idle


async def _settled(http: httpx.AsyncClient, server: loopback.LoopbackServer) -> None:
    """Nothing in use, and the server sees only the pooled idle connections still open."""
    with anyio.fail_after(2):
        while True:
            busy, idle = _busy_and_idle(http)
            if busy == 0 and server.open_connections == idle:
                return
            await anyio.sleep(0.005)


# --- success ---------------------------------------------------------------------------------


async def test_success_and_keep_alive_one_connection(http: httpx.AsyncClient) -> None:
    with loopback.serve(loopback.ok) as server:
        for _ in range(30):
            response, body = await _exchange(http, _request(server.url))
            assert response.status_code == 200
            assert body == b"{}"
            assert response.headers["x-amzn-requestid"].startswith("req-")
            assert response.http_version == "HTTP/1.1"
            assert response.reason_phrase == "X"
        assert server.connections_total == 1
        assert _busy_and_idle(http) == (0, 1)


async def test_an_http_1_0_answer_says_so(http: httpx.AsyncClient) -> None:
    def old(conn: loopback.Conn, request: loopback.Request) -> bool:
        conn.send(b"HTTP/1.0 200 Fine\r\nContent-Length: 2\r\n\r\n{}")
        return False

    with loopback.serve(old) as server:
        response, body = await _exchange(http, _request(server.url))
    assert (response.http_version, response.reason_phrase, body) == ("HTTP/1.0", "Fine", b"{}")


async def test_the_whole_httpx_client_works_too(http: httpx.AsyncClient) -> None:
    with loopback.serve(loopback.ok) as server:
        response = await http.post(server.url, content=b"{}")
        assert response.status_code == 200
        assert response.json() == {}
        assert response.request.url == server.url


async def test_only_the_requests_headers_go_out_and_the_body_stays_raw(
    http: httpx.AsyncClient,
) -> None:
    gzipped = loopback.gzip_of(b'{"a": 1}')
    recorder = loopback.Recorder(loopback.compressed(200, gzipped))
    with loopback.serve(recorder) as server:
        request = _request(server.url)
        request.headers["User-Agent"] = "sdk/1"  # the SDK always sends one
        response, body = await _exchange(http, request)
        bare = _request(server.url)
        await _exchange(http, bare)
    assert body == gzipped  # not decompressed: the SDK does that with a bound
    assert response.headers["content-encoding"] == "gzip"
    sent = recorder.seen[0].headers
    # aiohttp would add Accept and Accept-Encoding; httpx's transport sends the request's
    # headers and nothing else
    assert set(sent) == {name.lower() for name in request.headers}
    assert sent["content-length"] == str(len(request.content))
    assert sent["user-agent"] == "sdk/1"
    # without a User-Agent aiohttp adds its own, and still no Accept-Encoding
    assert "accept-encoding" not in recorder.seen[1].headers
    assert "accept" not in recorder.seen[1].headers


async def test_a_redirect_is_returned_not_followed(http: httpx.AsyncClient) -> None:
    target = loopback.Recorder()
    with loopback.serve(target) as elsewhere, loopback.serve(
        loopback.redirect(elsewhere.url)
    ) as server:
        response, _ = await _exchange(http, _request(server.url))
    assert response.status_code == 307
    assert not target.seen


async def test_a_streamed_request_body_is_sent_chunked(http: httpx.AsyncClient) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b'{"Access'
        yield b'Token":"x"}'

    recorder = loopback.Recorder()
    with loopback.serve(recorder) as server:
        request = httpx.Request("POST", server.url, content=parts())
        response, _ = await _exchange(http, request)
    assert response.status_code == 200
    assert recorder.seen[0].headers.get("transfer-encoding") == "chunked"


# --- failures: each as httpx's exception, raised from aiohttp's -------------------------------


async def test_refused_is_a_connect_error_not_a_timeout(http: httpx.AsyncClient) -> None:
    url = loopback.refused_url()
    with pytest.raises(httpx.ConnectError) as info:
        await _exchange(http, _request(url))
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)
    assert info.value.request.url == url


async def test_unresolvable_host_is_a_connect_error(http: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.ConnectError) as info:
        await _exchange(http, _request("http://no-such-host.invalid/"))
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)


async def test_reset_before_the_response(http: httpx.AsyncClient) -> None:
    with loopback.serve(loopback.reset_before_response) as server:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)) as info:
            await _exchange(http, _request(server.url))
        assert isinstance(info.value.__cause__, aiohttp.ClientError)
        await _settled(http, server)


async def test_closed_before_the_response(http: httpx.AsyncClient) -> None:
    def close(conn: loopback.Conn, request: loopback.Request) -> bool:
        return False

    with loopback.serve(close) as server:
        with pytest.raises(httpx.RemoteProtocolError) as info:
            await _exchange(http, _request(server.url))
        assert isinstance(info.value.__cause__, aiohttp.ServerDisconnectedError)


@pytest.mark.parametrize(
    "handler", [loopback.close_mid_response, loopback.reset_mid_response], ids=["close", "reset"]
)
async def test_cut_mid_body_is_a_read_error(
    http: httpx.AsyncClient, handler: loopback.Handler
) -> None:
    with loopback.serve(handler) as server:
        with pytest.raises(httpx.ReadError) as info:
            await _exchange(http, _request(server.url))
        assert isinstance(info.value.__cause__, aiohttp.ClientPayloadError | aiohttp.ClientOSError)
        await _settled(http, server)
        assert _busy_and_idle(http) == (0, 0)  # the cut connection never went back to the pool


async def test_a_malformed_response_is_a_protocol_error(http: httpx.AsyncClient) -> None:
    def garbage(conn: loopback.Conn, request: loopback.Request) -> bool:
        conn.send(b"NOT HTTP AT ALL\r\n\r\n")
        return False

    with loopback.serve(garbage) as server, pytest.raises(httpx.RemoteProtocolError) as info:
        await _exchange(http, _request(server.url))
    assert isinstance(info.value.__cause__, aiohttp.ClientResponseError)


async def test_read_timeout_before_the_response_is_honoured(http: httpx.AsyncClient) -> None:
    with loopback.serve(loopback.stall_before_response) as server:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout) as info:
            await _exchange(http, _request(server.url, read=0.2))
        elapsed = time.monotonic() - started
        assert isinstance(info.value.__cause__, aiohttp.ServerTimeoutError)
        assert 0.18 <= elapsed < 1.0
        await _settled(http, server)


async def test_read_timeout_mid_body_is_honoured(http: httpx.AsyncClient) -> None:
    with loopback.serve(loopback.stall_mid_body) as server:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await _exchange(http, _request(server.url, read=0.2))
        assert 0.18 <= time.monotonic() - started < 1.0
        await _settled(http, server)


async def test_a_slow_but_steady_body_is_not_a_read_timeout(http: httpx.AsyncClient) -> None:
    # the read timeout bounds each wait for data, not the whole body (as in httpx)
    with loopback.serve(loopback.drip(0.02, chunks=15)) as server:
        response, body = await _exchange(http, _request(server.url, read=0.15))
    assert response.status_code == 200
    assert body.endswith(b"{}")


async def test_connect_timeout_is_honoured(http: httpx.AsyncClient) -> None:
    with loopback.NeverAccepting() as stalled:
        started = time.monotonic()
        with pytest.raises(httpx.ConnectTimeout) as info:
            await _exchange(http, _request(stalled.url, connect=0.2))
        elapsed = time.monotonic() - started
    assert isinstance(info.value.__cause__, aiohttp.ConnectionTimeoutError)
    assert 0.18 <= elapsed < 1.0
    assert _busy_and_idle(http) == (0, 0)


async def test_no_timeout_extension_means_no_timeout(http: httpx.AsyncClient) -> None:
    with loopback.serve(loopback.delayed(0.3)) as server:
        request = httpx.Request("POST", server.url, content=b"{}")
        response, _ = await _exchange(http, request)
    assert response.status_code == 200


async def test_a_header_aiohttp_refuses_is_a_local_protocol_error(
    http: httpx.AsyncClient,
) -> None:
    with loopback.serve(loopback.ok) as server:
        request = _request(server.url)
        request.headers["x-bad"] = "a\x01b"
        with pytest.raises(httpx.LocalProtocolError):
            await _exchange(http, request)


async def test_a_header_that_is_not_utf8_is_a_local_protocol_error(
    http: httpx.AsyncClient,
) -> None:
    with loopback.serve(loopback.ok) as server:
        request = httpx.Request("POST", server.url, headers=[(b"x-bad", b"\xff\xfe")])
        with pytest.raises(httpx.LocalProtocolError):
            await _exchange(http, request)
        assert server.request_count == 0


async def test_the_pool_timeout_bounds_the_wait_for_a_connection() -> None:
    # aiohttp's "connect" timeout covers the wait for a free connection and the connect, so
    # its expiry is a ConnectTimeout (httpx would say PoolTimeout; the SDK never sets one)
    async with make_http_client(1) as http:
        with loopback.serve(loopback.stall_before_response) as server:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_exchange, http, _request(server.url, read=None))
                with anyio.fail_after(2):
                    while server.request_count < 1:  # noqa: ASYNC110 - a server thread sets it
                        await anyio.sleep(0.005)
                started = time.monotonic()
                with pytest.raises(httpx.ConnectTimeout):
                    await _exchange(http, _request(server.url, pool=0.2))
                assert 0.18 <= time.monotonic() - started < 1.0
                tg.cancel_scope.cancel()


async def test_a_closed_client_refuses_to_send(http: httpx.AsyncClient) -> None:
    with loopback.serve(loopback.ok) as server:
        await _exchange(http, _request(server.url))
        await _owned(http).aclose()
        with pytest.raises(httpx.ConnectError, match="closed"):
            await _exchange(http, _request(server.url))
        assert server.wait_until(lambda: server.open_connections == 0)


# --- cancellation and the pool ---------------------------------------------------------------


@pytest.mark.parametrize(
    "stall",
    [loopback.stall_before_response, loopback.stall_after_headers, loopback.stall_mid_body],
    ids=["before-response", "after-headers", "mid-body"],
)
async def test_cancellation_propagates_and_leaves_no_connection_in_use(
    http: httpx.AsyncClient, stall: loopback.Handler
) -> None:
    switch = loopback.Switch(stall)
    with loopback.serve(switch) as server:
        task = asyncio.ensure_future(_exchange(http, _request(server.url, read=None)))
        with anyio.fail_after(2):
            while server.request_count < 1:  # noqa: ASYNC110 - set by a server thread
                await anyio.sleep(0.005)
        await anyio.sleep(0.05)  # let the client read what the server sent
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _settled(http, server)
        assert server.open_connections == 0  # the stalled connection was closed
        switch.to = loopback.ok
        response, _ = await _exchange(http, _request(server.url))
        assert response.status_code == 200


async def test_pool_limit_holds_under_200_concurrent_calls(http: httpx.AsyncClient) -> None:
    with loopback.serve(loopback.delayed(0.002)) as server:
        statuses: list[int] = []

        async def one() -> None:
            response, _ = await _exchange(http, _request(server.url, read=10.0))
            statuses.append(response.status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(200):
                tg.start_soon(one)
        assert statuses == [200] * 200
        assert server.max_open_connections <= 8
        assert server.connections_total <= 8
        assert _busy_and_idle(http)[0] == 0


async def test_the_direct_and_proxied_transports_share_one_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    async with make_http_client(4) as client:
        owned = _owned(client)
        owned.route(httpx.URL("https://cognito-idp.eu-west-1.amazonaws.com/"))
        transports = [owned._direct, *owned._via_proxy.values()]
        assert len(transports) == 2
        assert all(isinstance(t, AiohttpTransport) for t in transports)
        pools = {id(t.pool) for t in transports if isinstance(t, AiohttpTransport)}
        assert len(pools) == 1


# --- proxies ---------------------------------------------------------------------------------


def _via_proxy(conn: loopback.Conn, request: loopback.Request) -> bool:
    return conn.respond(200, b"{}", [("x-amzn-RequestId", "via-proxy")])


async def test_http_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = loopback.Recorder(_via_proxy)
    with loopback.serve(proxy) as proxy_server, loopback.serve(loopback.ok) as server:
        user_proxy = proxy_server.url.replace("http://", "http://me:s3cret@")
        monkeypatch.setenv("HTTP_PROXY", user_proxy)
        async with make_http_client(4) as http:
            response, _ = await _exchange(http, _request(server.url))
    assert response.headers["x-amzn-requestid"] == "via-proxy"
    # forwarded in absolute form, naming the real endpoint, with the proxy's credentials
    assert [r.target for r in proxy.seen] == [server.url]
    expected = "Basic " + base64.b64encode(b"me:s3cret").decode()
    assert proxy.seen[0].headers["proxy-authorization"] == expected


async def test_no_proxy_bypasses_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = loopback.Recorder(_via_proxy)
    with loopback.serve(proxy) as proxy_server, loopback.serve(loopback.ok) as server:
        monkeypatch.setenv("HTTP_PROXY", proxy_server.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with make_http_client(4) as http:
            response, _ = await _exchange(http, _request(server.url))
    assert response.headers["x-amzn-requestid"] != "via-proxy"
    assert not proxy.seen


async def test_an_unreachable_proxy_is_a_proxy_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", loopback.refused_url())
    with loopback.serve(loopback.ok) as server:
        async with make_http_client(4) as http:
            with pytest.raises(httpx.ProxyError) as info:
                await _exchange(http, _request(server.url))
    assert isinstance(info.value.__cause__, aiohttp.ClientProxyConnectionError)


# --- mocking and the SDK on top ----------------------------------------------------------------


async def test_a_respx_router_installed_as_the_transport_mocks_the_aiohttp_path() -> None:
    """respx's default mocker patches httpcore and cannot see this path. The README's "Testing
    your code" way: a respx router as the transport every client sends through."""
    url = "https://cognito-idp.eu-west-1.amazonaws.com/"
    with respx.mock() as router, install_transport(httpx.MockTransport(router.async_handler)):
        route = router.post(url).respond(200, json={}, headers={"x-amzn-requestid": "mocked"})
        config = Config(region="eu-west-1", transport="aiohttp")
        async with Client(config) as client:
            out = await client.global_sign_out().access_token(TOKEN).send()
    assert out.request_id == "mocked"
    assert route.call_count == 1
    assert route.calls.last.request.content == b'{"AccessToken":"' + TOKEN.encode() + b'"}'


async def test_respx_sees_nothing_of_the_aiohttp_transport() -> None:
    # the documented limit: a plain respx.mock does not intercept transport="aiohttp"
    with respx.mock(assert_all_called=False) as router, loopback.serve(loopback.ok) as server:
        router.post(server.url).respond(500)
        config = Config(region="us-east-1", endpoint_url=server.url, transport="aiohttp")
        async with Client(config) as client:
            await client.global_sign_out().access_token(TOKEN).send()
        assert server.request_count == 1


async def test_the_sdk_maps_the_transports_failures() -> None:
    retry = RetryConfig.disabled()
    config = Config(
        region="us-east-1", endpoint_url=loopback.refused_url(), transport="aiohttp",
        retry_config=retry,
    )
    async with Client(config) as client:
        with pytest.raises(errors.DispatchFailure) as refused:
            await client.global_sign_out().access_token("t").send()
    assert not isinstance(refused.value, errors.TimeoutError)
    assert "ConnectError" in str(refused.value)
    assert refused.value.__cause__ is None  # the lower layer's exception holds the request

    with loopback.serve(loopback.stall_before_response) as server:
        timeouts = TimeoutConfig(connect_timeout=2, read_timeout=0.2)
        config = Config(
            region="us-east-1", endpoint_url=server.url, transport="aiohttp",
            retry_config=retry, timeout_config=timeouts,
        )
        async with Client(config) as client:
            with pytest.raises(errors.TimeoutError) as slow:
                await client.global_sign_out().access_token("t").send()
    assert slow.value.kind == "read"


@pytest.mark.parametrize("transport", ["aiohttp", "httpcore"])
async def test_calls_leave_no_reference_cycles(transport: str) -> None:
    """A failed call once left its error, traceback and call state in a cycle: garbage for the
    collector on every NotAuthorized, which made the error path measurably dearer."""
    handler = loopback.sequence(loopback.ok, loopback.service_error(400, "NotAuthorizedException"))
    with loopback.serve(handler) as server:
        config = Config(
            region="us-east-1", endpoint_url=server.url, transport=transport,  # type: ignore[arg-type]
            retry_config=RetryConfig.disabled(),
        )
        async with Client(config) as client:
            await client.global_sign_out().access_token(TOKEN).send()  # warm: the pool, caches
            with pytest.raises(errors.NotAuthorizedException):
                await client.global_sign_out().access_token(TOKEN).send()
            gc.collect()
            gc.disable()
            try:
                for _ in range(20):
                    with pytest.raises(errors.NotAuthorizedException):
                        await client.global_sign_out().access_token(TOKEN).send()
                assert gc.collect() == 0
            finally:
                gc.enable()
