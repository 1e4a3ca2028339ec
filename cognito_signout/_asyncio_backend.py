"""httpcore's network I/O on asyncio's own transports: the default transport's backend under
asyncio (``_lanes.py``; under trio the lanes keep httpcore's own).

httpcore reaches asyncio through anyio: every read and every write enters an
``anyio.fail_after`` cancel scope and a checkpoint that yields to the event loop, whether or
not data is waiting. On a sign-out that was about a third of the default path's CPU per call
(docs/guide/performance.md, "The default path's backend"). Here a read takes what an
``asyncio.Protocol`` has buffered and only waits, with one loop timer as its timeout, when
nothing is; a write hands the bytes to the transport and only waits when its buffer is full.

What it keeps from anyio's backend: TLS is asyncio's (``loop.start_tls``, which also wraps a
TLS proxy's tunnel), connections try every address with happy eyeballs (RFC 8305, 250 ms), and
every failure is one of httpcore's exceptions, so httpcore's and httpx's error handling apply
as they do to anyio's.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

# Unread bytes past this stop the transport reading: a server that sends faster than the body
# is read (a huge or endless body, tests/test_hostile_servers.py) cannot grow the buffer.
_HIGH_WATER = 1 << 18


class _Protocol(asyncio.Protocol):
    """Buffers what arrives and wakes the one reader (or writer) waiting for it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.at_eof = False  # the peer closed its side, or the connection is gone
        self.error: BaseException | None = None  # why the connection was lost, if it broke
        self.reader: asyncio.Future[None] | None = None
        self.writer: asyncio.Future[None] | None = None
        self.write_paused = False
        self.read_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and not self.read_paused and self.transport:
            self.read_paused = True
            self.transport.pause_reading()
        _wake(self.reader)

    def eof_received(self) -> bool:
        self.at_eof = True
        _wake(self.reader)
        return False  # the transport closes itself: HTTP/1.1 never half-closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.at_eof = True
        self.error = exc
        _wake(self.reader)
        _wake(self.writer)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        _wake(self.writer)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _expire(waiter: asyncio.Future[None], error: Exception) -> None:
    if not waiter.done():
        waiter.set_exception(error)


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.at_eof:
            await self._wait("reader", timeout, httpcore.ReadTimeout, "read")
        buffer = protocol.buffer
        if buffer:
            data = bytes(buffer[:max_bytes])
            del buffer[:max_bytes]
            if protocol.read_paused and len(buffer) <= _HIGH_WATER // 4:
                protocol.read_paused = False
                self._transport.resume_reading()
            return data
        if protocol.error is not None:
            raise httpcore.ReadError(_describe(protocol.error))
        return b""  # end of stream: h11 decides whether that was a complete response

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if protocol.error is not None or self._transport.is_closing():
            raise httpcore.WriteError(
                _describe(protocol.error) if protocol.error else "the connection is closed"
            )
        self._transport.write(buffer)
        if protocol.write_paused:
            await self._wait("writer", timeout, httpcore.WriteTimeout, "write")
            if protocol.error is not None:
                raise httpcore.WriteError(_describe(protocol.error))

    async def _wait(
        self,
        slot: str,
        timeout: float | None,
        timeout_error: type[httpcore.TimeoutException],
        what: str,
    ) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        setattr(self._protocol, slot, waiter)
        timer = (
            None
            if timeout is None
            else loop.call_later(
                timeout, _expire, waiter, timeout_error(f"no {what} within {timeout} s")
            )
        )
        try:
            await waiter
        finally:
            setattr(self._protocol, slot, None)
            if timer is not None:
                timer.cancel()

    async def aclose(self) -> None:
        # As anyio's backend closes: no TLS close_notify to wait for (asyncio would wait for the
        # peer's for up to 30 s) and no unsent bytes to flush (after a write timeout, a server
        # that stopped reading would keep the socket open for ever). One turn of the loop lets
        # close() send what it can, then the socket is gone.
        transport = self._transport
        if not transport.is_closing():
            transport.close()
            await asyncio.sleep(0)
        transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, self._protocol, ssl_context,
                    server_hostname=server_hostname,
                    # this function's own timeout is the one that counts (ConnectTimeout)
                    ssl_handshake_timeout=None if timeout is None else timeout + 1,
                )
        except TimeoutError:
            self._transport.abort()
            raise httpcore.ConnectTimeout(f"no TLS handshake within {timeout} s") from None
        except (OSError, ssl.SSLError, RuntimeError, TypeError) as exc:
            # RuntimeError: asyncio's own, when the transport cannot be wrapped (closed
            # meanwhile); TypeError: an event loop (uvloop) that cannot wrap this transport
            self._transport.abort()
            raise httpcore.ConnectError(_describe(exc)) from exc
        if transport is None:  # the connection was closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        assert isinstance(transport, asyncio.Transport)
        self._protocol.transport = transport
        return _Stream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        transport = self._transport
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info in ("client_addr", "server_addr"):
            # (host, port), as anyio gives it, also for IPv6's four-tuple
            found = transport.get_extra_info("sockname" if info == "client_addr" else "peername")
            return tuple(found[:2]) if isinstance(found, tuple) else found
        if info == "socket":
            return transport.get_extra_info("socket")
        if info == "is_readable":
            # httpcore asks before reusing an idle connection: anything to read means the server
            # closed it (or sent what nobody asked for). The socket is asked too, for a close
            # that arrived since the loop last polled.
            protocol = self._protocol
            return protocol.at_eof or bool(protocol.buffer) or _socket_readable(
                transport.get_extra_info("socket")
            )
        return None


def _socket_readable(sock: Any) -> bool:
    if sock is None:
        return False
    try:
        fileno = sock.fileno()
        if fileno < 0:
            return True
        if not hasattr(select, "poll"):  # Windows, and green-thread patched processes
            return bool(select.select([fileno], [], [], 0)[0])
        poller = select.poll()
        poller.register(fileno, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True  # a socket that cannot be asked is not one to reuse


def _describe(exc: BaseException) -> str:
    # What went wrong, never what was being sent: asyncio's and ssl's texts name errno values,
    # hosts and certificate problems.
    return f"{type(exc).__name__}: {exc}"


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """``httpcore.AsyncNetworkBackend`` for asyncio, without anyio in between."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol, host, port,
                    local_addr=None if local_address is None else (local_address, 0),
                    happy_eyeballs_delay=0.25,
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection within {timeout} s") from None
        except OSError as exc:  # refused, unreachable, a name that does not resolve
            raise httpcore.ConnectError(_describe(exc)) from exc
        assert isinstance(transport, asyncio.Transport)
        if socket_options:
            sock: socket.socket = transport.get_extra_info("socket")
            for option in socket_options:
                sock.setsockopt(*option)
        return _Stream(transport, protocol)

    # connect_unix_socket stays httpcore's (NotImplementedError): the lanes never set uds=.

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
