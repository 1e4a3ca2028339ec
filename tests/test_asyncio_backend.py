"""The default transport's asyncio network backend (``cognito_signout/_asyncio_backend.py``),
through httpcore's public interface, over real loopback sockets.

What the SDK-level suites (tests/test_hostile_servers.py, tests/test_tls.py) cannot pin down
from outside: a connection the server closed while idle is never reused, flow control bounds
what a fast server can buffer, and closing after a write timeout frees the socket at once.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import ssl
import threading
import warnings

import httpcore
import pytest
import trustme

from cognito_signout import Client, Config, RetryConfig
from cognito_signout._asyncio_backend import _HIGH_WATER, AsyncioBackend

from . import loopback
from .tokens import TOKEN

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the backend is asyncio's; trio keeps httpcore's own


async def _asked(port: int) -> httpcore.AsyncNetworkStream:
    """A connection to ``port`` that has sent one bodiless POST."""
    stream = await AsyncioBackend().connect_tcp(loopback.HOST, port, timeout=2)
    await stream.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    return stream


def _closed_after_answering(conn: loopback.Conn, request: loopback.Request) -> bool:
    """Says keep-alive, answers, then closes the idle connection."""
    conn.respond()
    return False


async def test_an_idle_connection_the_server_closed_is_not_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reusing it would fail the next call (one attempt only: no retry may hide that)."""
    loopback.clear_proxy_environment(monkeypatch)
    with loopback.serve(_closed_after_answering) as server:
        config = Config(
            region="us-east-1", endpoint_url=server.url,
            retry_config=RetryConfig(max_attempts=1),
        )
        async with Client(config) as client:
            for _ in range(3):
                await client.global_sign_out().access_token(TOKEN).send()
                assert server.wait_until(lambda: server.open_connections == 0)
    assert server.connections_total == 3


async def test_is_readable_sees_a_close_before_the_loop_does() -> None:
    """httpcore asks before reusing an idle connection; the socket itself is asked, so a close
    that arrived since the loop last polled counts too."""
    with loopback.serve(_closed_after_answering) as server:
        stream = await _asked(server.port)
        assert await stream.read(65536, timeout=2)
        # no await from here on: the event loop never runs, so only the socket can tell
        assert server.wait_until(lambda: server.open_connections == 0)
        assert stream.get_extra_info("is_readable") is True
        await stream.aclose()


async def test_an_idle_open_connection_is_not_readable() -> None:
    with loopback.serve(loopback.ok) as server:
        stream = await _asked(server.port)
        await asyncio.sleep(0.1)
        first = await stream.read(65536, timeout=2)
        assert first.startswith(b"HTTP/1.1 200")
        assert stream.get_extra_info("is_readable") is False
        assert stream.get_extra_info("server_addr") == (loopback.HOST, server.port)
        await stream.aclose()


def _fire_hose(conn: loopback.Conn, request: loopback.Request) -> bool:
    """A 16 MiB body as fast as the socket takes it."""
    size = 16 << 20
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
    chunk = b"x" * (1 << 20)
    for _ in range(16):
        if not conn.send(chunk):
            return False
    return False


async def test_a_fast_server_cannot_grow_the_buffer_past_the_high_water_mark() -> None:
    with loopback.serve(_fire_hose) as server:
        stream = await _asked(server.port)
        protocol = stream._protocol  # type: ignore[attr-defined]
        received = peak = 0
        while received < 16 << 20:
            await asyncio.sleep(0.001)  # a slow reader: the server could fill any buffer
            peak = max(peak, len(protocol.buffer))
            data = await stream.read(65536, timeout=5)
            assert data
            received += len(data)
        # each socket read adds at most 256 KiB past the mark before reading pauses
        assert peak <= _HIGH_WATER + (256 << 10)
        await stream.aclose()


async def test_a_stalled_write_times_out_and_closing_frees_the_socket() -> None:
    with loopback.Silent() as silent:
        await _stall_a_write_then_close(silent.port)


async def _stall_a_write_then_close(port: int) -> None:
    stream = await AsyncioBackend().connect_tcp(loopback.HOST, port, timeout=2)
    sock = stream.get_extra_info("socket")

    async def fill() -> None:
        for _ in range(1000):  # bounded: the buffers fill long before 1000 MiB
            await stream.write(b"x" * (1 << 20), timeout=0.2)

    with pytest.raises(httpcore.WriteTimeout):
        await fill()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        await stream.aclose()
        await asyncio.sleep(0)
        # closed now, not once the unsent megabytes drain (they never would)
        assert sock.fileno() == -1
        gc.collect()


async def test_a_read_times_out_with_httpcores_error() -> None:
    with loopback.serve(loopback.stall_before_response) as server:
        stream = await _asked(server.port)
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(65536, timeout=0.1)
        await stream.aclose()


async def test_a_refused_connection_is_httpcores_connect_error() -> None:
    port = int(loopback.refused_url().rsplit(":", 1)[1].rstrip("/"))
    with pytest.raises(httpcore.ConnectError, match=r"refused|Connect call failed"):
        await AsyncioBackend().connect_tcp(loopback.HOST, port, timeout=2)


async def test_a_reset_mid_read_is_a_read_error() -> None:
    with loopback.serve(loopback.reset_before_response) as server:
        stream = await _asked(server.port)

        async def drain() -> None:
            while await stream.read(65536, timeout=2):
                pass

        with pytest.raises(httpcore.ReadError):
            await drain()
        await stream.aclose()


async def test_closing_a_tls_connection_does_not_wait_for_the_peers_close_notify() -> None:
    """A TLS peer that stops answering after the handshake: asyncio's graceful close would
    wait up to 30 s for its close_notify; the socket must go now, as with anyio's backend."""
    ca = trustme.CA()
    server_context = loopback.tls_context(ca)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    listener = socket.create_server((loopback.HOST, 0))
    held: list[ssl.SSLSocket] = []

    def handshake_then_hush() -> None:
        conn, _ = listener.accept()
        held.append(server_context.wrap_socket(conn, server_side=True))  # then silence

    thread = threading.Thread(target=handshake_then_hush, daemon=True)
    thread.start()
    try:
        plain = await AsyncioBackend().connect_tcp(
            loopback.HOST, listener.getsockname()[1], timeout=2
        )
        stream = await plain.start_tls(client_context, server_hostname=loopback.HOST, timeout=2)
        assert stream.get_extra_info("ssl_object") is not None
        sock = stream.get_extra_info("socket")
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            await stream.aclose()
            await asyncio.sleep(0)
            assert sock.fileno() == -1
    finally:
        thread.join(2)
        for conn in held:
            conn.close()
        listener.close()
