"""The default transport: httpx's own (httpcore), as lanes of one connection each.

httpcore's connection pool costs more per request the more connections it holds and the more
requests wait inside it: behind the SDK's gate, a pool of 10 carried about a third of what the
same 10 connections carry when handed out one request at a time
(``../shared/reference/performance.md``, "Where the default path's headroom is"). So the
default transport is ``max_connections`` plain ``httpx.AsyncHTTPTransport`` objects, each
limited to one connection, kept on a free list. A request takes a free lane and gives it back
when its response is closed; httpcore never has more than one request to think about.

Everything else is httpx's, through its public API: TLS (one shared SSL context), HTTP/1.1,
keep-alive, the mapping of httpcore's exceptions to httpx's. respx's default mocker sees every
request, because each lane sends through httpcore's ``AsyncConnectionPool``.

The runtime's gate admits at most ``max_connections`` requests at a time, so a lane is always
free; a caller that sends past the gate gets an extra, short-lived lane instead of an error.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx


class LaneTransport(httpx.AsyncBaseTransport):
    """``size`` single-connection httpx transports, most recently used first."""

    def __init__(
        self,
        size: int,
        *,
        ssl_context: ssl.SSLContext,
        keepalive_expiry: float | None = 5.0,
        proxy: httpx.Proxy | None = None,
    ) -> None:
        self.size = size
        self._ssl_context = ssl_context
        self._limits = httpx.Limits(
            max_connections=1, max_keepalive_connections=1, keepalive_expiry=keepalive_expiry
        )
        self._proxy = proxy
        self._free: list[httpx.AsyncHTTPTransport] = []
        self._all: set[httpx.AsyncHTTPTransport] = set()
        self.closed = False

    @property
    def busy(self) -> int:
        """Lanes lent to a request whose response is not closed yet."""
        return len(self._all) - len(self._free)

    def _lane(self) -> httpx.AsyncHTTPTransport:
        if self._free:
            # Last in, first out: the lane used last most likely still has a live connection.
            return self._free.pop()
        lane = httpx.AsyncHTTPTransport(
            verify=self._ssl_context, limits=self._limits, proxy=self._proxy, trust_env=False
        )
        self._all.add(lane)
        return lane

    async def _give_back(self, lane: httpx.AsyncHTTPTransport) -> None:
        if len(self._free) < self.size and not self.closed:
            self._free.append(lane)
            return
        # An extra lane (sent past the gate), or the transport closed meanwhile.
        self._all.discard(lane)
        await lane.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.closed:
            raise httpx.ConnectError("the transport is closed", request=request)
        lane = self._lane()
        try:
            response = await lane.handle_async_request(request)
        except BaseException:
            await self._give_back(lane)
            raise
        # The lane is busy until the body is read or dropped: the stream gives it back.
        response.stream = _Lent(response.stream, lane, self)
        return response

    async def aclose(self) -> None:
        self.closed = True
        lanes, self._all, self._free = list(self._all), set(), []
        for lane in lanes:
            await lane.aclose()


class _Lent(httpx.AsyncByteStream):
    """A response body that returns its lane to the free list when it is closed."""

    def __init__(
        self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, lane: httpx.AsyncHTTPTransport,
        owner: LaneTransport,
    ) -> None:
        assert isinstance(stream, httpx.AsyncByteStream)
        self._stream = stream
        self._lane: httpx.AsyncHTTPTransport | None = lane
        self._owner = owner

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        lane, self._lane = self._lane, None
        try:
            await self._stream.aclose()
        finally:
            if lane is not None:
                await self._owner._give_back(lane)
