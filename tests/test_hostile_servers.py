"""Hostile and broken servers, each over a real loopback socket.

Every case ends in the right typed error, keeps the HTTP status and request id where a response
arrived, never reports a sign-out it cannot confirm, never follows a redirect (so the token
never reaches another host), and keeps memory bounded whatever the body.

Each case runs on every owned transport (httpcore under asyncio and trio, and aiohttp). Their
calls go straight over the transport without an httpx.Request (``LaneTransport.open``,
``AiohttpTransport.open``), so their error paths attach the request a kept response carries on
a path of their own (``_Call._kept``).
"""

from __future__ import annotations

import tracemalloc
from typing import TypeVar

import anyio
import httpx
import pytest

from cognito_signout import (
    Client,
    Config,
    GlobalSignOutOutput,
    RetryConfig,
    errors,
)
from cognito_signout._transport import MAX_BODY_BYTES

from . import loopback
from .loopback import every_owned_transport  # noqa: F401 (the anyio_backend fixture)
from .tokens import TOKEN

pytestmark = pytest.mark.anyio
E = TypeVar("E", bound=errors.SdkError)
HTML = [("Content-Type", "text/html"), ("x-amzn-RequestId", "html-page")]


@pytest.fixture(autouse=True)
def _instant(instant_retries: None) -> None:
    """Every retry here is about counting attempts, not waiting."""


TRANSPORT = "httpcore"  # what _config gives every case; set per run by anyio_backend


def _config(url: str, **overrides: object) -> Config:
    return loopback.sdk_config(url, TRANSPORT, **overrides)


async def _send(url: str, **overrides: object) -> GlobalSignOutOutput:
    async with Client(_config(url, **overrides)) as client:
        return await client.global_sign_out().access_token(TOKEN).send()


async def _failing(
    handler: loopback.Handler, error: type[E], **overrides: object
) -> tuple[E, int]:
    """One sign-out against a server running ``handler``: the error it must end in, and how
    many requests the server saw."""
    with loopback.serve(handler) as server, pytest.raises(error) as info:
        await _send(server.url, **overrides)
    return info.value, server.request_count


def _no_token_in(exc: BaseException) -> None:
    assert TOKEN not in str(exc)
    assert TOKEN not in repr(exc)
    response = getattr(exc, "response", None)
    if response is not None:
        assert TOKEN.encode() not in response.content
        kept = response.request
        assert TOKEN.encode() not in kept.content
        # the kept request is the one that was sent, but for its scrubbed body
        assert kept.method == "POST"
        assert kept.headers["content-length"] == str(len(kept.content))
        assert kept.headers["x-amz-target"].endswith(".GlobalSignOut")
        assert kept.headers["amz-sdk-request"].startswith("attempt=")


# --- no response -----------------------------------------------------------------------------


async def test_connection_refused() -> None:
    with pytest.raises(errors.DispatchFailure) as info:
        await _send(loopback.refused_url())
    exc = info.value
    assert "connect" in str(exc).lower()
    _no_token_in(exc)


async def test_reset_before_the_response_is_retried_then_reported() -> None:
    exc, requests = await _failing(loopback.reset_before_response, errors.DispatchFailure)
    assert requests == 3
    _no_token_in(exc)


async def test_reset_mid_response_keeps_status_and_request_id() -> None:
    exc, requests = await _failing(loopback.reset_mid_response, errors.ResponseError)
    assert requests == 3  # a broken body is retried like a lost connection
    assert exc.status_code == 503
    assert exc.request_id == "reset-mid"


async def test_a_body_cut_short_is_never_a_success() -> None:
    exc, _ = await _failing(
        loopback.close_mid_response, errors.ResponseError, retry_config=RetryConfig.disabled()
    )
    assert (exc.status_code, exc.request_id) == (200, "truncated")


async def test_a_silent_close_of_a_kept_alive_connection_is_retried_on_a_new_one() -> None:
    # The server promises keep-alive, then closes when the connection's second request comes.
    with loopback.serve(loopback.answer_once_per_connection) as server:
        async with Client(_config(server.url)) as client:
            first = await client.global_sign_out().access_token(TOKEN).send()
            second = await client.global_sign_out().access_token(TOKEN).send()
        assert server.connections_total == 2
    assert (first.attempts, second.attempts) == (1, 2)


async def test_a_silent_close_without_retries_is_a_dispatch_failure() -> None:
    with loopback.serve(loopback.answer_once_per_connection) as server:
        async with Client(_config(server.url, retry_config=RetryConfig.disabled())) as client:
            await client.global_sign_out().access_token(TOKEN).send()
            with pytest.raises(errors.DispatchFailure):
                await client.global_sign_out().access_token(TOKEN).send()


async def test_a_close_right_after_a_keep_alive_response() -> None:
    def answer_then_close(conn: loopback.Conn, request: loopback.Request) -> bool:
        conn.respond()
        return False

    with loopback.serve(answer_then_close) as server:
        async with Client(_config(server.url)) as client:
            for _ in range(5):
                await client.global_sign_out().access_token(TOKEN).send()
        assert server.connections_total == 5


async def test_enormous_headers_are_refused() -> None:
    huge = [("x-amzn-RequestId", "r"), ("X-Padding", "a" * (2 << 20))]
    # h11 refuses a response head beyond its limit rather than buffering it
    await _failing(
        loopback.answer(200, b"{}", huge), errors.DispatchFailure,
        retry_config=RetryConfig.disabled(),
    )


# --- a response that cannot be trusted -------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_5xx_html_page(status: int) -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    exc, requests = await _failing(loopback.answer(status, page, HTML), errors.ServiceError)
    assert requests == 3  # a transient 5xx is retried
    assert type(exc) is errors.ServiceError
    assert (exc.code, exc.status_code, exc.request_id) == (None, status, "html-page")
    assert exc.response is not None and exc.response.content == page


async def test_truncated_json_on_an_error_status_uses_the_error_type_header() -> None:
    headers = [("x-amzn-ErrorType", "NotAuthorizedException:http://internal"),
               ("x-amzn-RequestId", "cut")]
    exc, requests = await _failing(
        loopback.answer(400, b'{"__type":"NotAutho', headers), errors.NotAuthorizedException
    )
    assert requests == 1  # final: not retried
    assert (exc.status_code, exc.request_id) == (400, "cut")


async def test_truncated_json_on_an_error_status_without_a_code() -> None:
    headers = [("x-amzn-RequestId", "cut")]
    exc, _ = await _failing(
        loopback.answer(400, b'{"__type":"NotAutho', headers), errors.ServiceError
    )
    assert (exc.code, exc.status_code, exc.request_id) == (None, 400, "cut")


@pytest.mark.parametrize(
    "body",
    [b'{"a":', b"<html>Welcome to the hotel wifi</html>", b"[]", b"null", b'"ok"', b"true",
     b"\xff\xfe\x00garbage"],
    ids=["truncated-json", "captive-portal", "array", "null", "string", "true", "binary"],
)
async def test_a_2xx_that_is_not_a_json_object_is_never_a_success(body: bytes) -> None:
    exc, requests = await _failing(loopback.answer(200, body, HTML), errors.ResponseError)
    assert requests == 3  # retried: sign-out is idempotent
    assert (exc.status_code, exc.request_id) == (200, "html-page")
    _no_token_in(exc)


# --- headers are the server's to fill --------------------------------------------------------


async def test_a_token_echoed_in_the_error_headers_reaches_no_error_field() -> None:
    """A server (or a proxy) echoing the token, or one of its segments, in the headers that
    name the error and the request: the code, the request id, the text and the kept copy are
    all scrubbed of it (_runtime._tame)."""
    segment = max(TOKEN.split("."), key=len)
    headers = [("Content-Type", "application/x-amz-json-1.1"),
               ("x-amzn-ErrorType", f"NotAuthorizedException:{TOKEN}"),
               ("x-amzn-RequestId", f"id-{segment}"), ("x-echo", TOKEN)]
    exc, _ = await _failing(
        loopback.answer(400, b'{"message":"no"}', headers), errors.NotAuthorizedException
    )
    assert exc.code == "NotAuthorizedException"
    assert exc.request_id is not None and segment not in exc.request_id
    _no_token_in(exc)
    assert exc.response is not None
    kept = str(exc.response.headers.raw)
    assert TOKEN not in kept and segment not in kept


async def test_a_token_echoed_in_a_success_request_id_is_scrubbed() -> None:
    segment = max(TOKEN.split("."), key=len)
    with loopback.serve(loopback.answer(200, b"{}", [("x-amzn-RequestId", segment)])) as server:
        out = await _send(server.url)
    assert out.request_id is not None and segment not in out.request_id


async def test_a_non_ascii_header_byte_is_a_typed_error_not_a_crash() -> None:
    headers = [("Content-Type", "application/x-amz-json-1.1"),
               ("x-amzn-ErrorType", "NotAuthorizedException"),
               ("x-amzn-RequestId", "caf\xe9"), ("x-note", "\xff\xfe")]
    exc, _ = await _failing(
        loopback.answer(400, b'{"message":"no"}', headers), errors.NotAuthorizedException
    )
    assert exc.status_code == 400
    assert exc.request_id is not None and exc.request_id.isascii()
    assert exc.response is not None and exc.response.headers.raw


async def test_an_empty_2xx_is_a_success() -> None:
    with loopback.serve(loopback.answer(204, b"", [("x-amzn-RequestId", "empty")])) as server:
        out = await _send(server.url)
    assert out.request_id == "empty"


# --- bounded memory --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "status"),
    [
        (loopback.enormous_body(200 << 20), 200),
        (loopback.enormous_body(0, chunked=True), 200),
        (loopback.enormous_body(200 << 20, status=500), 500),
    ],
    ids=["200MiB-content-length", "endless-chunked", "200MiB-error-page"],
)
async def test_an_enormous_body_is_capped(
    handler: loopback.Handler, status: int, anyio_backend: str, request: pytest.FixtureRequest
) -> None:
    with loopback.serve(handler) as server:
        tracemalloc.start()
        try:
            with pytest.raises(errors.ResponseError) as info:
                await _send(server.url, retry_config=RetryConfig.disabled())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    exc = info.value
    assert "larger than" in str(exc)
    assert (exc.status_code, exc.request_id) == (status, "enormous")
    print(f"\n{request.node.name}: peak traced memory {peak / 2**20:.2f} MiB "
          f"(cap {MAX_BODY_BYTES / 2**20:.0f} MiB)")
    assert peak < 4 * MAX_BODY_BYTES


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    return loopback.bomb(256 << 20)  # 256 MiB of whitespace in about 250 KiB


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compression_bomb_is_bounded(
    encoding: str, anyio_backend: str, gzip_bomb: bytes, request: pytest.FixtureRequest
) -> None:
    payload = gzip_bomb if encoding == "gzip" else loopback.bomb(64 << 20, "deflate")
    with loopback.serve(loopback.compressed(200, payload, encoding)) as server:
        tracemalloc.start()
        try:
            with pytest.raises(errors.ResponseError) as info:
                await _send(server.url, retry_config=RetryConfig.disabled())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    exc = info.value
    assert "larger than" in str(exc)
    assert (exc.status_code, exc.request_id) == (200, "compressed")
    print(f"\n{request.node.name}: {len(payload) / 2**10:.0f} KiB on the wire, "
          f"peak traced memory {peak / 2**20:.2f} MiB")
    assert peak < 4 * MAX_BODY_BYTES


async def test_a_small_gzip_body_is_decoded() -> None:
    with loopback.serve(loopback.compressed(200, loopback.gzip_of(b"{}"))) as server:
        out = await _send(server.url)
    assert out.request_id == "compressed"


@pytest.mark.parametrize(
    "payload",
    [b"not gzip at all", loopback.gzip_of(b"{}")[:-6]],
    ids=["garbage", "truncated-stream"],
)
async def test_a_broken_gzip_body_is_never_a_success(payload: bytes) -> None:
    exc, _ = await _failing(
        loopback.compressed(200, payload), errors.ResponseError,
        retry_config=RetryConfig.disabled(),
    )
    assert (exc.status_code, exc.request_id) == (200, "compressed")


async def test_an_unknown_content_encoding() -> None:
    exc, _ = await _failing(
        loopback.compressed(200, b"{}", "br"), errors.ResponseError,
        retry_config=RetryConfig.disabled(),
    )
    assert "content-encoding 'br'" in str(exc)


# --- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("own_client", [False, True], ids=["owned", "caller-follows-redirects"])
async def test_a_redirect_is_never_followed(status: int, own_client: bool) -> None:
    target = loopback.Recorder()
    with loopback.serve(target) as elsewhere, loopback.serve(
        loopback.redirect(elsewhere.url, status)
    ) as server:
        config = _config(server.url)
        if own_client:
            # even a caller's client that follows redirects must not carry the token onward
            async with (
                httpx.AsyncClient(follow_redirects=True, trust_env=False) as http,
                Client(config, http_client=http) as client,
            ):
                with pytest.raises(errors.ServiceError) as info:
                    await client.global_sign_out().access_token(TOKEN).send()
        else:
            async with Client(config) as client:
                with pytest.raises(errors.ServiceError) as info:
                    await client.global_sign_out().access_token(TOKEN).send()
        assert server.request_count == 1  # a redirect is final: not retried either
        await anyio.sleep(0.05)
        assert elsewhere.request_count == 0
        assert not target.received(TOKEN)
    exc = info.value
    assert (exc.status_code, exc.request_id, exc.code) == (status, "redirect", None)
    assert exc.message is not None and "redirect" in exc.message
    _no_token_in(exc)


# --- proxies ---------------------------------------------------------------------------------


def _via_proxy(conn: loopback.Conn, request: loopback.Request) -> bool:
    return conn.respond(200, b"{}", [("x-amzn-RequestId", "via-proxy")])


async def test_http_proxy_from_the_environment_is_honoured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = loopback.Recorder(_via_proxy)
    with loopback.serve(proxy) as proxy_server, loopback.serve(loopback.ok) as server:
        monkeypatch.setenv("HTTP_PROXY", proxy_server.url)
        out = await _send(server.url)
        # the request went to the proxy, in absolute form, naming the real endpoint
        assert out.request_id == "via-proxy"
        assert [r.target for r in proxy.seen] == [server.url]
        assert server.request_count == 0


@pytest.mark.parametrize("variable", ["NO_PROXY", "no_proxy"])
async def test_no_proxy_bypasses_the_proxy(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = loopback.Recorder(_via_proxy)
    with loopback.serve(proxy) as proxy_server, loopback.serve(loopback.ok) as server:
        monkeypatch.setenv("HTTP_PROXY", proxy_server.url)
        monkeypatch.setenv(variable, "127.0.0.1")
        out = await _send(server.url)
        assert out.request_id != "via-proxy"
        assert not proxy.seen
        assert server.request_count == 1


async def test_a_callers_client_with_trust_env_off_ignores_the_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = loopback.Recorder(_via_proxy)
    with loopback.serve(proxy) as proxy_server, loopback.serve(loopback.ok) as server:
        monkeypatch.setenv("HTTP_PROXY", proxy_server.url)
        async with (
            httpx.AsyncClient(trust_env=False) as http,
            Client(_config(server.url), http_client=http) as client,
        ):
            await client.global_sign_out().access_token(TOKEN).send()
        assert not proxy.seen
        assert server.request_count == 1


async def test_an_unreachable_proxy_is_a_dispatch_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with loopback.serve(loopback.ok) as server:
        monkeypatch.setenv("HTTP_PROXY", loopback.refused_url())
        with pytest.raises(errors.DispatchFailure) as info:
            await _send(server.url)
        assert server.request_count == 0
    _no_token_in(info.value)
