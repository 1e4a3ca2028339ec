"""A loopback HTTP/1.1 keep-alive server that answers like Cognito's GlobalSignOut.

Run it in its own process so that its CPU is never charged to the client being measured:

    python bench/server.py --port 0        # prints "READY <port>" once it listens

Every ``POST /`` gets ``200 {}`` with an ``x-amzn-requestid`` header, except when the JSON body's
``AccessToken`` starts with ``bad``: then a ``400 NotAuthorizedException`` as Cognito sends it.
``GET /__stats`` answers how many requests and connections it has served so far.

It is built on asyncio's protocol API rather than on streams: each request is parsed straight out
of ``data_received`` with no task wake-up per request, and all the answers to one read are written
with a single ``transport.write``. That keeps it well below the clients' cost (pipelined requests
are answered in order). moto's server closes every connection, which is why this exists.

It stops on SIGTERM/SIGINT, when its parent process goes away, and after ``--max-lifetime``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024

_OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n"
_ERROR_BODY = b'{"__type":"NotAuthorizedException","message":"Access Token has been revoked"}'
_ERROR_HEAD = (
    b"HTTP/1.1 400 Bad Request\r\n"
    b"Content-Type: application/x-amz-json-1.1\r\n"
    b"x-amzn-errortype: NotAuthorizedException:"
    b"http://internal.amazon.com/coral/com.amazon.coral.service/\r\n"
    b"Content-Length: " + str(len(_ERROR_BODY)).encode() + b"\r\n"
)


def _plain(status: bytes, body: bytes) -> bytes:
    """A response for requests the benchmark never sends (wrong method, path, framing)."""
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    )


class _Counter:
    """Request ids: a counter shaped like a UUID, cheaper than uuid4 and unique per server."""

    def __init__(self) -> None:
        self.value = 0
        self.connections = 0  # reported at exit: shows whether a client really keeps alive

    def next_id(self) -> bytes:
        self.value += 1
        return b"00000000-0000-4000-8000-%012d" % self.value


def _is_bad_token(body: bytes) -> bool:
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    token = doc.get("AccessToken") if isinstance(doc, dict) else None
    return isinstance(token, str) and token.startswith("bad")


class CognitoProtocol(asyncio.Protocol):
    def __init__(self, counter: _Counter) -> None:
        self._counter = counter
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._counter.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    # Flow control: a client that pipelines faster than it reads must not grow our buffers.
    def pause_writing(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None:
            self._transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        if transport is None:
            return
        buf = self._buf
        buf += data
        out: list[bytes] = []
        close = False
        # Bounded: every pass consumes one complete request from the buffer, or stops.
        while buf:
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                if len(buf) > MAX_HEAD:
                    out.append(_plain(b"431 Request Header Fields Too Large", b"") + b"\r\n")
                    close = True
                break
            response, consumed, close = self._answer(buf, head_end)
            if consumed == 0:
                break  # the body is not all here yet
            out.append(response)
            del buf[:consumed]
            if close:
                break
        if out:
            transport.write(b"".join(out))
        if close:
            buf.clear()
            transport.close()

    def _answer(self, buf: bytearray, head_end: int) -> tuple[bytes, int, bool]:
        """Returns (response bytes, bytes consumed, close after) or consumed 0 to wait for more."""
        head = bytes(buf[:head_end]).split(b"\r\n")
        request_line = head[0].split(b" ")
        if len(request_line) != 3:
            body = b"bad request line"
            return _plain(b"400 Bad Request", body) + b"\r\n" + body, len(buf), True
        method, path, version = request_line
        length = 0
        keep_alive = version == b"HTTP/1.1"
        expect_continue = False
        for line in head[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    length = -1
            elif name == b"connection":
                token = value.strip().lower()
                if token == b"close":
                    keep_alive = False
                elif token == b"keep-alive":
                    keep_alive = True
            elif name == b"transfer-encoding":
                length = -1  # chunked requests are not needed by any contender
            elif name == b"expect" and value.strip().lower() == b"100-continue":
                expect_continue = True
        if length < 0 or length > MAX_BODY:
            body = b"unsupported request framing"
            return _plain(b"411 Length Required", body) + b"\r\n" + body, len(buf), True
        total = head_end + 4 + length
        if len(buf) < total:
            if expect_continue and self._transport is not None and len(buf) == head_end + 4:
                self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return b"", 0, False
        if method == b"GET" and path == b"/__stats":
            # For the harness: did a client really keep its connections alive?
            counter = self._counter
            body = b'{"requests":%d,"connections":%d}' % (counter.value, counter.connections)
            head_bytes = _plain(b"200 OK", body)
            return self._finish(head_bytes, body, keep_alive), total, not keep_alive
        if method != b"POST" or path != b"/":
            body = b"only POST / is served"
            head_bytes = _plain(b"404 Not Found", body)
            return self._finish(head_bytes, body, keep_alive), total, not keep_alive
        body = bytes(buf[head_end + 4 : total])
        if _is_bad_token(body):
            return self._finish(_ERROR_HEAD, _ERROR_BODY, keep_alive), total, not keep_alive
        return self._finish(_OK_HEAD, b"{}", keep_alive), total, not keep_alive

    def _finish(self, head: bytes, body: bytes, keep_alive: bool) -> bytes:
        parts = [head, b"x-amzn-requestid: ", self._counter.next_id(), b"\r\n"]
        if not keep_alive:
            parts.append(b"Connection: close\r\n")
        parts += [b"\r\n", body]
        return b"".join(parts)


async def serve(host: str, port: int, max_lifetime: float, backlog: int) -> int:
    loop = asyncio.get_running_loop()
    counter = _Counter()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await loop.create_server(
        lambda: CognitoProtocol(counter), host, port, backlog=backlog, reuse_address=True
    )
    bound = server.sockets[0].getsockname()[1]
    print(f"READY {bound}", flush=True)
    parent = os.getppid()
    deadline = loop.time() + max_lifetime
    async with server:
        # Bounded by max_lifetime: wake once a second to notice an orphaned server.
        while not stop.is_set() and loop.time() < deadline:
            if os.getppid() != parent:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
        server.close()
    print(
        f"served {counter.value} requests on {counter.connections} connections",
        file=sys.stderr,
        flush=True,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="loopback only")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--max-lifetime", type=float, default=1800.0, help="seconds")
    parser.add_argument("--backlog", type=int, default=1024)
    parser.add_argument(
        "--cpu", type=int, default=None, help="pin the server to this CPU (keeps it off the client)"
    )
    args = parser.parse_args(argv)
    if not args.host.startswith("127."):
        parser.error("the benchmark server binds loopback addresses only")
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    return asyncio.run(serve(args.host, args.port, args.max_lifetime, args.backlog))


if __name__ == "__main__":
    sys.exit(main())
