"""HTTPS, as Cognito speaks it, over real loopback TLS servers (a CA made by trustme).

Every owned transport is covered: httpcore under asyncio (through the SDK's own asyncio
network backend, ``_asyncio_backend.py``), httpcore under trio (httpcore's own backend), and
aiohttp. The client trusts the test CA the way a user's deployment would, through
``SSL_CERT_FILE``, which the transport reads when it is made (``_transport.OwnedTransport``).
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
import trustme

from cognito_signout import (
    Client,
    Config,
    GlobalSignOutOutput,
    RetryConfig,
    TimeoutConfig,
    errors,
)

from . import loopback
from .loopback import every_owned_transport  # noqa: F401 (the anyio_backend fixture)
from .tokens import TOKEN

pytestmark = pytest.mark.anyio

TRANSPORT = "httpcore"  # what _config gives every case; set per run by anyio_backend


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The client trusts the test CA, and no proxy from the developer's environment."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    loopback.clear_proxy_environment(monkeypatch)


def _config(url: str, **overrides: object) -> Config:
    return loopback.sdk_config(url, TRANSPORT, **overrides)


async def _sign_out(url: str, times: int = 1, **overrides: object) -> list[GlobalSignOutOutput]:
    async with Client(_config(url, **overrides)) as client:
        return [await client.global_sign_out().access_token(TOKEN).send() for _ in range(times)]


def _answer_with_id(conn: loopback.Conn, request: loopback.Request) -> bool:
    return conn.respond(200, b"{}", [("x-amzn-RequestId", f"tls-{conn.served}")])


async def test_a_sign_out_over_https_reuses_its_connection(
    ca: trustme.CA, trusted: None
) -> None:
    with loopback.serve(_answer_with_id, tls=loopback.tls_context(ca)) as server:
        outs = await _sign_out(server.url, times=3)
    assert [out.request_id for out in outs] == ["tls-0", "tls-1", "tls-2"]
    # one handshake, one connection: keep-alive works over TLS
    assert server.connections_total == 1
    assert server.handshakes == 1
    assert [TOKEN in request.body.decode() for request in server.requests] == [True] * 3


async def test_an_untrusted_certificate_is_a_dispatch_failure_and_sends_nothing(
    trusted: None,
) -> None:
    stranger = trustme.CA()  # not the CA the client trusts
    with (
        loopback.serve(loopback.ok, tls=loopback.tls_context(stranger)) as server,
        pytest.raises(errors.DispatchFailure) as info,
    ):
        await _sign_out(server.url)
    assert "certificate" in str(info.value).lower()
    assert server.request_count == 0  # the token never left the client
    assert TOKEN not in str(info.value)


async def test_a_certificate_for_another_host_is_a_dispatch_failure(
    ca: trustme.CA, trusted: None
) -> None:
    with (
        loopback.serve(loopback.ok, tls=loopback.tls_context(ca, "cognito.example.org")) as server,
        pytest.raises(errors.DispatchFailure),
    ):
        await _sign_out(server.url)
    assert server.request_count == 0


async def test_without_the_ca_the_system_store_does_not_trust_it(
    ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test CA is trusted only because SSL_CERT_FILE says so: the same server fails
    without it (so the tests above prove that the transport reads it)."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    loopback.clear_proxy_environment(monkeypatch)
    with (
        loopback.serve(loopback.ok, tls=loopback.tls_context(ca)) as server,
        pytest.raises(errors.DispatchFailure),
    ):
        await _sign_out(server.url)


async def test_a_stalled_tls_handshake_is_a_connect_timeout(trusted: None) -> None:
    with loopback.Silent() as silent, anyio.fail_after(10), pytest.raises(
        errors.TimeoutError
    ) as info:
        await _sign_out(
            f"https://{loopback.HOST}:{silent.port}/",
            timeout_config=TimeoutConfig(connect_timeout=0.3, read_timeout=2),
            retry_config=RetryConfig(max_attempts=1),
        )
    assert info.value.kind == "connect"


async def test_https_through_a_connect_proxy(
    ca: trustme.CA, trusted: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTPS_PROXY: a CONNECT tunnel, with TLS to the endpoint inside it; the proxy sees only
    the CONNECT and ciphertext, never the token."""
    proxy = loopback.Recorder(loopback.tunnel)
    with loopback.serve(proxy) as proxy_server, loopback.serve(
        _answer_with_id, tls=loopback.tls_context(ca)
    ) as server:
        monkeypatch.setenv("HTTPS_PROXY", proxy_server.url)
        outs = await _sign_out(server.url, times=2)
    assert [out.request_id for out in outs] == ["tls-0", "tls-1"]
    assert [(r.method, r.target) for r in proxy.seen] == [("CONNECT", f"127.0.0.1:{server.port}")]
    assert not proxy.received(TOKEN)
    assert server.request_count == 2


async def test_https_through_a_tls_proxy(
    ca: trustme.CA, trusted: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An https:// proxy: TLS to the proxy, then TLS to the endpoint inside that (TLS in TLS)."""
    proxy = loopback.Recorder(loopback.tunnel)
    with loopback.serve(proxy, tls=loopback.tls_context(ca)) as proxy_server, loopback.serve(
        _answer_with_id, tls=loopback.tls_context(ca)
    ) as server:
        monkeypatch.setenv("HTTPS_PROXY", proxy_server.url)
        outs = await _sign_out(server.url)
    assert [out.request_id for out in outs] == ["tls-0"]
    assert proxy_server.handshakes == 1
    assert [r.method for r in proxy.seen] == ["CONNECT"]
