"""Scriptable raw-socket HTTP/1.1 servers on 127.0.0.1, for failure tests over real sockets.

Each server runs in background threads with plain blocking sockets, so it behaves the same
whichever async backend (asyncio or trio) the client under test runs on, and it can do what no
well-behaved server library will: stall at any byte, reset a connection, lie about a length,
send a gzip bomb. A *handler* scripts what happens to each request on a connection; the
factories below are the scripts the tests use.

The server counts what a leak test needs: connections open right now, the most ever open at
once, and every request received (with its raw bytes, to check where a token went).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import select
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs
import pytest

if TYPE_CHECKING:
    from cognito_signout import Config

HOST = "127.0.0.1"
_MAX_HEAD = 64 * 1024


@attrs.define
class Request:
    """One request as the server read it."""

    method: str
    target: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    raw: bytes  # head and body as received
    connection: int  # the server's number for the connection it came on (0, 1, ...)


class Conn:
    """The server's side of one accepted connection, handed to handlers."""

    def __init__(self, sock: socket.socket, server: LoopbackServer, number: int) -> None:
        self.sock = sock
        self.server = server
        self.number = number
        self.served = 0  # requests answered on this connection so far
        self._buffer = b""

    # --- reading ---------------------------------------------------------------------------

    def _recv(self) -> bytes:
        try:
            return self.sock.recv(65536)
        except OSError:
            return b""

    def read_request(self) -> Request | None:
        """The next request, or None when the peer closed (or the server is stopping)."""
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > _MAX_HEAD:
                return None
            chunk = self._recv()
            if not chunk:
                return None
            self._buffer += chunk
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = [*lines[0].split(" ", 2), "", ""][:3]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(rest) < length:
            chunk = self._recv()
            if not chunk:
                return None
            rest += chunk
        body, self._buffer = rest[:length], rest[length:]
        return Request(method, target, headers, body, head + b"\r\n\r\n" + body, self.number)

    def wait_closed(self, timeout: float | None = None) -> None:
        """Stall: read and drop whatever comes until the peer closes (or the server stops)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            if deadline is not None:
                self.sock.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                if not self.sock.recv(65536):
                    return
            except TimeoutError:
                return
            except OSError:
                return
        self.sock.settimeout(None)

    # --- writing ---------------------------------------------------------------------------

    def send(self, data: bytes) -> bool:
        """Send all of ``data``; False if the peer has gone."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def head(
        self,
        status: int,
        headers: list[tuple[str, str]] | None = None,
        *,
        content_length: int | None = None,
        keep_alive: bool = True,
        reason: str = "X",
    ) -> bool:
        lines = [f"HTTP/1.1 {status} {reason}"]
        for name, value in headers or []:
            lines.append(f"{name}: {value}")
        if content_length is not None:
            lines.append(f"Content-Length: {content_length}")
        if not keep_alive:
            lines.append("Connection: close")
        return self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def respond(
        self,
        status: int = 200,
        body: bytes = b"{}",
        headers: list[tuple[str, str]] | None = None,
        *,
        keep_alive: bool = True,
    ) -> bool:
        """A complete response; True (keep the connection) unless ``keep_alive`` is False."""
        headers = headers if headers is not None else [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", f"req-{self.server.request_count}"),
        ]
        self.served += 1
        ok = self.head(status, headers, content_length=len(body), keep_alive=keep_alive)
        return ok and self.send(body) and keep_alive

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0) instead of an orderly FIN."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.sock.close()


# A handler answers one request; it returns True to keep the connection for the next request.
Handler = Callable[[Conn, Request], bool]


class LoopbackServer:
    """A thread-per-connection HTTP/1.1 server on 127.0.0.1 driven by a :data:`Handler`."""

    def __init__(
        self, handler: Handler, *, backlog: int = 1024, tls: ssl.SSLContext | None = None
    ) -> None:
        self.handler = handler
        self._tls = tls  # a server-side context: every connection speaks TLS first
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(backlog)
        self._listener.settimeout(0.02)  # the accept loop polls the stop flag
        self.port: int = self._listener.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://{HOST}:{self.port}/"
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: set[socket.socket] = set()
        self.requests: list[Request] = []
        self.connections_total = 0
        self.open_connections = 0
        self.max_open_connections = 0
        self.handshakes = 0  # TLS handshakes begun (a connection each)
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def __enter__(self) -> LoopbackServer:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        self._acceptor.join(2)
        self._listener.close()
        with self._lock:
            socks = list(self._socks)
            threads = list(self._threads)
        for sock in socks:  # unblocks every recv/sendall in the connection threads
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(2)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
        """Poll ``predicate`` (e.g. ``lambda: server.open_connections == 0``) for a while."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.005)
        return predicate()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                number = self.connections_total
                self.connections_total += 1
                self.open_connections += 1
                self.max_open_connections = max(self.max_open_connections, self.open_connections)
                self._socks.add(sock)
                thread = threading.Thread(target=self._serve, args=(sock, number), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        try:
            if self._tls is not None:
                self.handshakes += 1
                sock = self._tls.wrap_socket(sock, server_side=True)
            conn = Conn(sock, self, number)
            while not self._stopping.is_set():
                request = conn.read_request()
                if request is None:
                    break
                with self._lock:
                    self.requests.append(request)
                if not self.handler(conn, request):
                    break
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self.open_connections -= 1
                self._socks.discard(sock)


@contextlib.contextmanager
def serve(handler: Handler, *, tls: ssl.SSLContext | None = None) -> Iterator[LoopbackServer]:
    with LoopbackServer(handler, tls=tls) as server:
        yield server


def tls_context(ca: Any, *names: str) -> ssl.SSLContext:
    """A server-side TLS context with a certificate from ``ca`` (a ``trustme.CA``) for
    ``names``, 127.0.0.1 and localhost by default: ``serve(..., tls=)``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or (HOST, "localhost"))).configure_cert(context)
    return context


def refused_url() -> str:
    """A loopback URL where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    return f"http://{HOST}:{port}/"


class NeverAccepting:
    """A listening socket whose accept queue is full, so a new connect never completes.

    Linux drops the SYN of a connection to a listener whose accept queue is full, so the
    client's connect() just waits (SYN retransmits at 1 s, 3 s, ...): a server that stalls
    before the handshake completes. ``listen(0)`` admits one queued connection; the fillers
    take it, and a probe checks that the next connect really hangs.
    """

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind((HOST, 0))
        self._listener.listen(0)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}/"
        self._fillers: list[socket.socket] = []

    def __enter__(self) -> NeverAccepting:
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((HOST, self.port))
            self._fillers.append(filler)
        probe = socket.socket()
        probe.settimeout(0.05)
        try:
            probe.connect((HOST, self.port))
        except TimeoutError:
            pass
        else:  # pragma: no cover - the kernel accepted past a full queue
            raise RuntimeError("the accept queue did not fill; cannot simulate a stalled accept")
        finally:
            probe.close()
        return self

    def __exit__(self, *exc: object) -> None:
        for sock in self._fillers:
            sock.close()
        self._listener.close()


class Silent:
    """Accepts every connection and then neither reads nor writes: a TLS handshake that never
    ends, or a peer whose receive buffer fills so that writes stall."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind((HOST, 0))
        self._listener.listen(8)
        self._listener.settimeout(0.05)  # the accept loop polls the stop flag
        self.port: int = self._listener.getsockname()[1]
        self._accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self._accepted.append(self._listener.accept()[0])

    def __enter__(self) -> Silent:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        for sock in self._accepted:
            sock.close()
        self._listener.close()


# --- scripts: handlers for the failure modes ------------------------------------------------

JSON = "application/x-amz-json-1.1"


def ok(conn: Conn, request: Request) -> bool:
    """200 ``{}`` with a request id, keep-alive."""
    return conn.respond()


def answer(
    status: int,
    body: bytes = b"{}",
    headers: list[tuple[str, str]] | None = None,
    *,
    keep_alive: bool = True,
) -> Handler:
    def handler(conn: Conn, request: Request) -> bool:
        return conn.respond(status, body, headers, keep_alive=keep_alive)

    return handler


def sequence(*handlers: Handler) -> Handler:
    """The n-th request gets the n-th handler; the last one repeats."""
    count = [0]
    lock = threading.Lock()

    def handler(conn: Conn, request: Request) -> bool:
        with lock:
            index = min(count[0], len(handlers) - 1)
            count[0] += 1
        return handlers[index](conn, request)

    return handler


def delayed(seconds: float, then: Handler = ok) -> Handler:
    def handler(conn: Conn, request: Request) -> bool:
        time.sleep(seconds)
        return then(conn, request)

    return handler


def stall_before_response(conn: Conn, request: Request) -> bool:
    """Read the request, then say nothing until the client gives up."""
    conn.wait_closed()
    return False


def stall_after_headers(conn: Conn, request: Request) -> bool:
    """Send a 200's headers announcing a body, then stall."""
    conn.head(200, [("Content-Type", JSON), ("x-amzn-RequestId", "stalled-head")],
              content_length=100)
    conn.wait_closed()
    return False


def stall_mid_body(conn: Conn, request: Request) -> bool:
    """Send the headers and half the body, then stall."""
    conn.head(200, [("Content-Type", JSON), ("x-amzn-RequestId", "stalled-body")],
              content_length=10)
    conn.send(b'{"a":')
    conn.wait_closed()
    return False


def drip(interval: float, chunks: int = 100) -> Handler:
    """Answer 200 one byte every ``interval`` s: never idle long, but slow as a whole."""

    def handler(conn: Conn, request: Request) -> bool:
        body = b" " * (chunks - 2) + b"{}"
        conn.head(200, [("Content-Type", JSON), ("x-amzn-RequestId", "drip")],
                  content_length=len(body))
        for byte in body:
            if not conn.send(bytes([byte])):
                return False
            time.sleep(interval)
        return True

    return handler


def reset_before_response(conn: Conn, request: Request) -> bool:
    conn.reset()
    return False


def reset_mid_response(conn: Conn, request: Request) -> bool:
    """Headers and part of the body, a pause (so the client has read them), then a RST."""
    conn.head(503, [("Content-Type", JSON), ("x-amzn-RequestId", "reset-mid")],
              content_length=100)
    conn.send(b'{"__type":"Intern')
    time.sleep(0.05)
    conn.reset()
    return False


def close_mid_response(conn: Conn, request: Request) -> bool:
    """Headers announcing 100 bytes, 10 bytes, then an orderly close: a truncated message."""
    conn.head(200, [("Content-Type", JSON), ("x-amzn-RequestId", "truncated")],
              content_length=100)
    conn.send(b'{"a":"bcd"')
    time.sleep(0.02)
    return False


def answer_once_per_connection(conn: Conn, request: Request) -> bool:
    """Keep-alive in words, but a connection's second request is met with a silent close."""
    if conn.served >= 1:
        return False
    return conn.respond()


def enormous_body(total: int, *, status: int = 200, chunked: bool = False) -> Handler:
    """A body of ``total`` bytes (or endless with ``chunked``), streamed in 64 KiB pieces."""
    piece = b"x" * 65536

    def handler(conn: Conn, request: Request) -> bool:
        headers = [("Content-Type", JSON), ("x-amzn-RequestId", "enormous")]
        if chunked:
            conn.head(status, [*headers, ("Transfer-Encoding", "chunked")])
            frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            while conn.send(frame):
                pass
            return False
        conn.head(status, headers, content_length=total)
        sent = 0
        while sent < total:
            if not conn.send(piece[: total - sent]):
                return False
            sent += len(piece)
        return True

    return handler


def bomb(uncompressed: int, encoding: str = "gzip") -> bytes:
    """``uncompressed`` bytes of JSON-ish whitespace, compressed (about 1000:1)."""
    compressor = (
        zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        if encoding == "gzip"
        else zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS)
    )
    block = b" " * (1 << 20)
    out = [compressor.compress(b"{")]
    for _ in range(uncompressed // len(block)):
        out.append(compressor.compress(block))
    out.append(compressor.compress(b"}"))
    out.append(compressor.flush())
    return b"".join(out)


def compressed(status: int, payload: bytes, encoding: str = "gzip") -> Handler:
    headers = [("Content-Type", JSON), ("Content-Encoding", encoding),
               ("x-amzn-RequestId", "compressed")]
    return answer(status, payload, headers)


def gzip_of(data: bytes) -> bytes:
    return gzip.compress(data)


def tunnel(conn: Conn, request: Request) -> bool:
    """An HTTP proxy's CONNECT: answers 200, then relays bytes both ways (TLS, untouched) until
    either side closes. Anything but a CONNECT to 127.0.0.1 is refused."""
    host, _, port = request.target.rpartition(":")
    if request.method != "CONNECT" or host != HOST:
        conn.respond(405, b"", [])
        return False
    with socket.create_connection((HOST, int(port)), timeout=5) as upstream:
        conn.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if conn._buffer:  # bytes the client sent after the CONNECT, already read
            upstream.sendall(conn._buffer)
        ends: list[socket.socket] = [conn.sock, upstream]
        deadline = time.monotonic() + 10  # bounded: a test's tunnel never outlives it
        while time.monotonic() < deadline:
            # a TLS proxy's socket can hold decrypted bytes that select() cannot see
            ready: list[socket.socket] = [
                e for e in ends if isinstance(e, ssl.SSLSocket) and e.pending()
            ]
            if not ready:
                ready, _, _ = select.select(ends, [], [], 0.05)
            for end in ready:
                data = end.recv(65536)
                if not data:
                    return False
                (upstream if end is conn.sock else conn.sock).sendall(data)
    return False


def redirect(location: str, status: int = 307) -> Handler:
    return answer(status, b"", [("Location", location), ("x-amzn-RequestId", "redirect")])


def service_error(
    status: int, code: str, *, retry_after_ms: int | None = None, message: str = "m"
) -> Handler:
    headers = [("Content-Type", JSON), ("x-amzn-ErrorType", code),
               ("x-amzn-RequestId", f"err-{code}")]
    if retry_after_ms is not None:
        headers.append(("x-amz-retry-after", str(retry_after_ms)))
    body = json.dumps({"__type": code, "message": message}).encode()
    return answer(status, body, headers)


class Throttler:
    """A service that allows ``rate`` requests/s (token bucket of ``burst``) and answers the
    rest 400 ``ThrottlingException`` (or ``TooManyRequestsException``), as Cognito does."""

    def __init__(self, rate: float, burst: float, code: str = "ThrottlingException") -> None:
        self.rate = rate
        self.burst = burst
        self.code = code
        self._tokens = burst
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self.accepted = 0
        self.throttled = 0

    def __call__(self, conn: Conn, request: Request) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            allowed = self._tokens >= 1
            if allowed:
                self._tokens -= 1
                self.accepted += 1
            else:
                self.throttled += 1
        if allowed:
            return conn.respond()
        return service_error(400, self.code)(conn, request)


class Switch:
    """A handler whose behaviour a test changes mid-way: ``switch.to = loopback.ok``."""

    def __init__(self, to: Handler) -> None:
        self.to = to

    def __call__(self, conn: Conn, request: Request) -> bool:
        return self.to(conn, request)


class Recorder:
    """A handler that remembers what reached it (a redirect target, a fake proxy)."""

    def __init__(self, then: Handler = ok) -> None:
        self.then = then
        self.seen: list[Request] = []

    def __call__(self, conn: Conn, request: Request) -> bool:
        self.seen.append(request)
        return self.then(conn, request)

    def received(self, secret: str) -> bool:
        return any(secret.encode() in r.raw for r in self.seen)


# --- the client side ------------------------------------------------------------------------

# Each case of a module that imports this fixture runs on every transport a Client owns:
# httpcore under asyncio (the SDK's asyncio network backend) and under trio (httpcore's own),
# and aiohttp (asyncio only). The module's TRANSPORT says which, for sdk_config().
@pytest.fixture(
    name="anyio_backend",
    params=[("asyncio", "httpcore"), ("trio", "httpcore"), ("asyncio", "aiohttp")],
    ids=["asyncio-httpcore", "trio-httpcore", "asyncio-aiohttp"],
)
def every_owned_transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    backend, transport = request.param
    monkeypatch.setattr(request.module, "TRANSPORT", transport)
    return str(backend)


def sdk_config(url: str, transport: str, **overrides: object) -> Config:
    """A Config for ``url`` on ``transport``, with short timeouts: a failure test waits for
    nothing longer than it must."""
    from cognito_signout import Config, TimeoutConfig

    values: dict[str, object] = {
        "region": "us-east-1",
        "endpoint_url": url,
        "timeout_config": TimeoutConfig(connect_timeout=1, read_timeout=2),
        "transport": transport,
    }
    values.update(overrides)
    return Config(**values)  # type: ignore[arg-type]


PROXY_VARIABLES = (
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
    "http_proxy", "https_proxy", "all_proxy", "no_proxy",
)


def clear_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The owned client honours proxy variables (``trust_env``); a developer's or CI's proxy
    must not see (or break) tests that talk to loopback servers."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def pool_connections(client: Any) -> tuple[int, int]:
    """(busy, idle) connections of a Client's transport, whichever it is: the httpcore lanes,
    aiohttp's connector, or a caller's httpx client. Busy counts requests waiting inside a pool
    too: after a cancellation both must drain. Test-only: it reads private state."""
    from cognito_signout._aiohttp import AiohttpTransport
    from cognito_signout._lanes import LaneTransport

    runtime = client._runtime
    if runtime._caller is not None:
        return _httpcore_pool(runtime._caller._transport._pool)
    owned = runtime._owned
    if owned is None:
        return 0, 0  # nothing was ever sent
    busy = idle = 0
    for transport in (owned._direct, *owned._via_proxy.values()):
        if isinstance(transport, LaneTransport):
            for lane in transport._all:
                b, i = _httpcore_pool(lane)
                busy, idle = busy + b, idle + i
        elif isinstance(transport, AiohttpTransport) and transport.pool.session is not None:
            connector: Any = transport.pool.session.connector
            busy += len(connector._acquired)
            idle += sum(len(c) for c in connector._conns.values())
    return busy, idle


def _httpcore_pool(pool: Any) -> tuple[int, int]:
    idle = sum(1 for c in pool.connections if c.is_idle())
    busy = sum(1 for c in pool.connections if not (c.is_idle() or c.is_closed()))
    return busy + len(pool._requests), idle
