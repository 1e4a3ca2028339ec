"""The default transport: httpx's own stack (httpcore), as lanes of one connection each.

httpcore's connection pool costs more per request the more connections it holds and the more
requests wait inside it: behind the SDK's gate, a pool of 10 carried about a third of what the
same 10 connections carry when handed out one request at a time
(``../shared/reference/performance.md``, "Where the default path's headroom is"). So the
default transport is ``max_connections`` httpcore pools, each limited to one connection, kept on
a free list. A request takes a free lane and gives it back when its response is closed;
httpcore never has more than one request to think about.

The lanes are httpcore's public pools (``AsyncConnectionPool``, and ``AsyncHTTPProxy`` or
``AsyncSOCKSProxy`` for a proxy), built as ``httpx.AsyncHTTPTransport`` builds them, with two
differences, which make the default path cheaper (docs/guide/performance.md):

- an operation call hands a lane its own URL, headers and body (:meth:`LaneTransport.open`),
  with no ``httpx.Request`` to build and then take apart again;
- under asyncio, the lanes do their I/O through :class:`~._asyncio_backend.AsyncioBackend`
  rather than through anyio.

Everything else is httpcore's: HTTP/1.1, keep-alive, TLS through one shared SSL context. Its
exceptions become httpx's here (:func:`_httpx_error`), so ``_transport._mapped`` stays the one
place where errors become the SDK's. respx's default mocker sees every request, because it
patches the pools' ``handle_async_request``.

The runtime's gate admits at most ``max_connections`` requests at a time, so a lane is always
free; a caller that sends past the gate gets an extra, short-lived lane instead of an error.
"""

from __future__ import annotations

import importlib.util
import ssl
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

import httpcore
import httpx

from . import errors

_Lane = httpcore.AsyncConnectionPool | httpcore.AsyncHTTPProxy | httpcore.AsyncSOCKSProxy
Headers = Sequence[tuple[Any, Any]]  # str or bytes pairs, as httpcore.Request takes them


class LaneTransport(httpx.AsyncBaseTransport):
    """``size`` single-connection httpcore pools, most recently used first."""

    def __init__(
        self,
        size: int,
        *,
        ssl_context: ssl.SSLContext,
        keepalive_expiry: float | None = 5.0,
        proxy: httpx.Proxy | None = None,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.size = size
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._proxy = proxy
        self._proxy_url = None if proxy is None else _core_url(proxy.url)
        socks = proxy is not None and proxy.url.scheme.startswith("socks")
        if socks and importlib.util.find_spec("socksio") is None:
            raise errors.ConstructionFailure(
                "the environment names a SOCKS proxy, which needs socksio: pip install socksio"
            )
        self._backend = backend  # None: httpcore's own (anyio or trio)
        self._free: list[_Lane] = []
        self._all: set[_Lane] = set()
        # Most calls go to one endpoint: its httpcore.URL is made once (httpx.URLs are cached
        # by _runtime._parsed, so the same URL is the same object).
        self._last: tuple[httpx.URL, httpcore.URL] | None = None
        self.closed = False

    @property
    def busy(self) -> int:
        """Lanes lent to a request whose response is not closed yet."""
        return len(self._all) - len(self._free)

    def _lane(self) -> _Lane:
        if self._free:
            # Last in, first out: the lane used last most likely still has a live connection.
            return self._free.pop()
        lane = self._new_lane()
        self._all.add(lane)
        return lane

    def _new_lane(self) -> _Lane:
        # The keywords httpx.AsyncHTTPTransport gives httpcore, with a pool of one.
        common: dict[str, Any] = {
            "ssl_context": self._ssl_context,
            "max_connections": 1,
            "max_keepalive_connections": 1,
            "keepalive_expiry": self._keepalive_expiry,
            "http1": True,
            "http2": False,
            "network_backend": self._backend,
        }
        proxy, proxy_url = self._proxy, self._proxy_url
        if proxy is None or proxy_url is None:
            return httpcore.AsyncConnectionPool(**common)
        if proxy.url.scheme in ("http", "https"):
            return httpcore.AsyncHTTPProxy(
                proxy_url=proxy_url, proxy_auth=proxy.raw_auth,
                proxy_headers=proxy.headers.raw, proxy_ssl_context=proxy.ssl_context, **common,
            )
        return httpcore.AsyncSOCKSProxy(
            proxy_url=proxy_url, proxy_auth=proxy.raw_auth, **common
        )

    async def _give_back(self, lane: _Lane) -> None:
        if len(self._free) < self.size and not self.closed:
            self._free.append(lane)
            return
        # An extra lane (sent past the gate), or the transport closed meanwhile.
        self._all.discard(lane)
        await lane.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._send(
            request.method, request.url, request.headers.raw, request.stream,
            request.extensions, request,
        )

    def open(
        self,
        url: httpx.URL,
        headers: Headers,
        content: bytes,
        timeouts: dict[str, float | None],
    ) -> Awaitable[httpx.Response]:
        """One POST of an operation call: what :meth:`handle_async_request` does, from the
        call's own headers and body (``_runtime._Call._exchange``). The response carries no
        request; the call attaches the one it would have sent to a response it keeps."""
        return self._send("POST", url, headers, content, {"timeout": timeouts}, None)

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        headers: Headers,
        content: Any,
        extensions: dict[str, Any],
        request: httpx.Request | None,
    ) -> httpx.Response:
        if self.closed:
            raise httpx.ConnectError("the transport is closed", request=request)
        last = self._last
        if last is not None and last[0] is url:
            target = last[1]
        else:
            target = _core_url(url)
            self._last = (url, target)
        sending = httpcore.Request(
            method, target, headers=headers, content=content, extensions=extensions
        )
        lane = self._lane()
        try:
            response = await lane.handle_async_request(sending)
        except BaseException as exc:
            await self._give_back(lane)
            mapped = _httpx_error(exc, request)
            if mapped is None:
                raise
            raise mapped from exc
        # The lane is busy until the body is read or dropped: the stream gives it back.
        return httpx.Response(
            response.status, headers=response.headers,
            stream=_Lent(response.stream, lane, self, request),
            extensions=response.extensions, request=request,
        )

    async def aclose(self) -> None:
        self.closed = True
        lanes, self._all, self._free = list(self._all), set(), []
        for lane in lanes:
            await lane.aclose()


def _core_url(url: httpx.URL) -> httpcore.URL:
    return httpcore.URL(
        scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
    )


class _Lent(httpx.AsyncByteStream):
    """A response body that maps httpcore's errors to httpx's and returns its lane to the free
    list when it is closed."""

    def __init__(
        self, stream: Any, lane: _Lane, owner: LaneTransport, request: httpx.Request | None
    ) -> None:
        self._stream = stream
        self._lane: _Lane | None = lane
        self._owner = owner
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except Exception as exc:
            mapped = _httpx_error(exc, self._request)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        lane, self._lane = self._lane, None
        try:
            await self._stream.aclose()
        finally:
            if lane is not None:
                await self._owner._give_back(lane)


# httpcore's exceptions and the httpx ones they stand for (the same names), most specific first.
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _httpx_error(exc: BaseException, request: httpx.Request | None) -> Exception | None:
    for core, mapped in _HTTPX_ERRORS:
        if isinstance(exc, core):
            return mapped(str(exc), request=request)
    return None
