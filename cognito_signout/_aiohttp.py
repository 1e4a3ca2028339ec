"""An httpx transport over aiohttp: ``Config(transport="aiohttp")`` (the ``fast`` extra, asyncio
only).

:class:`AiohttpTransport` is a plain ``httpx.AsyncBaseTransport``: requests and responses stay
httpx's, and only the I/O is aiohttp's. An operation call with no request mutator skips the
request: :meth:`AiohttpTransport.open` sends the call's own headers and body, with the same
timeouts, proxies and error mapping, and the response is read as every other transport's is.
The direct transport and each proxy's share one aiohttp session (:class:`Pool`), so
``Limits.max_connections`` bounds the client as a whole. respx's default mocker patches httpcore
and cannot see this path; the README's "Testing your code" says how to mock it.

What carries over from httpx, and how:
- timeouts (``request.extensions["timeout"]``): connect -> ``sock_connect``, read ->
  ``sock_read``, pool -> ``connect`` (aiohttp's wait for a free connection *and* the connect;
  its expiry is a ``ConnectTimeout``). aiohttp has no write timeout.
- limits: ``max_connections`` -> the connector's ``limit``, ``keepalive_expiry`` -> its
  ``keepalive_timeout``, ``max_keepalive_connections=0`` -> no keep-alive.
- proxies: ``_transport.open_transport`` chooses (the environment, ``NO_PROXY``) and gives
  each proxy its own transport, which passes aiohttp ``proxy=``. aiohttp's own environment
  look-up (a thread hop per request) is off.
- the body is the raw one: no ``Accept``/``Accept-Encoding`` is added (``skip_auto_headers``)
  and nothing is decompressed here.
- errors are httpx's, raised ``from`` aiohttp's. Cancellation passes through untouched, and an
  unfinished response closes its connection rather than returning it to the pool.
"""

from __future__ import annotations

import asyncio
import base64
import math
import re
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from yarl import URL


class Pool:
    """The aiohttp session of one client, opened inside the running loop on first use."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        self.ssl_context = ssl_context
        self.limits = limits
        self.session: aiohttp.ClientSession | None = None
        self.closed = False

    def open(self) -> aiohttp.ClientSession:
        limits = self.limits
        no_keepalive = limits.max_keepalive_connections == 0
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections or 0,  # 0: unlimited
            force_close=no_keepalive,
            keepalive_timeout=None if no_keepalive else limits.keepalive_expiry,
            ssl=self.ssl_context,
            timeout_ceil_threshold=math.inf,  # exact timeouts, as httpx's
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            # An httpx transport sends the headers the httpx.Request carries, and the SDK must
            # not be offered a compression it cannot bound.
            skip_auto_headers=("Accept", "Accept-Encoding"),
            auto_decompress=False,
            trust_env=False,
            timeout=_NO_TIMEOUT,
        )
        return self.session

    async def aclose(self) -> None:
        self.closed = True
        session, self.session = self.session, None
        if session is not None:
            await session.close()


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, pool: Pool, *, proxy: httpx.Proxy | None = None) -> None:
        self.pool = pool
        self._proxy: URL | None = None
        self._proxy_headers: list[tuple[str, str]] | None = None
        if proxy is not None:
            self._proxy = URL(str(proxy.url))
            self._proxy_headers = _str_items(proxy.headers.raw)
            if proxy.auth is not None:
                credentials = base64.b64encode(":".join(proxy.auth).encode()).decode("ascii")
                self._proxy_headers.append(("Proxy-Authorization", f"Basic {credentials}"))
        # httpx's URL text -> yarl.URL: aiohttp would parse (and re-quote) it on every request.
        self._urls: dict[str, URL] = {}
        self._last_url: httpx.URL | None = None
        self._last_parsed = URL()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.pool.closed:
            raise httpx.ConnectError(_CLOSED, request=request)
        headers = _str_items(request.headers.raw)
        try:
            data: Any = request.content or None
        except httpx.RequestNotRead:  # a streamed body: aiohttp chunks it itself
            data = request.stream
            headers = [h for h in headers if h[0].lower() != "transfer-encoding"]
        extensions = request.extensions
        try:
            reply = await self._send(
                request.method, request.url, headers, data, extensions.get("timeout"),
                extensions.get("sni_hostname"),
            )
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise _mapped(exc, request) from exc
        return _response(reply, request)

    async def open(
        self,
        url: httpx.URL,
        headers: list[tuple[str, str]],
        content: bytes,
        timeouts: dict[str, float | None],
    ) -> httpx.Response:
        """One POST of an operation call straight over aiohttp: what
        :meth:`handle_async_request` does, without an ``httpx.Request`` to build and adapt
        (with the response read through ``_transport.receive``; together about a third of the
        CPU per call on this path: docs/guide/performance.md).

        ``headers`` are the SDK's own (``_runtime._Call``), ASCII with no control character;
        ``timeouts`` is httpx's timeout extension, as the call would have given httpx. The
        response carries no request: the call attaches the one it would have sent, only to a
        response it keeps (``_Call._kept``). Errors are httpx's, as from handle_async_request.
        """
        if self.pool.closed:
            raise httpx.ConnectError(_CLOSED)
        try:
            reply = await self._send("POST", url, headers, content, timeouts, None)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise _mapped(exc, None) from exc
        return _response(reply, None)

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        headers: list[tuple[str, str]],
        data: Any,
        timeouts: dict[str, float | None] | None,
        sni_hostname: str | None,
    ) -> aiohttp.ClientResponse:
        session = self.pool.session or self.pool.open()
        if self._proxy_headers and url.scheme == "http":
            # Forwarded in absolute form, not tunnelled: aiohttp sends proxy_headers only on a
            # CONNECT, so the proxy's headers (its credentials) travel with the request itself.
            headers = headers + self._proxy_headers
        return await session.request(
            method,
            self._url(url),
            headers=headers,
            data=data,
            allow_redirects=False,
            timeout=_timeout(timeouts),
            proxy=self._proxy,
            proxy_headers=self._proxy_headers,
            server_hostname=sni_hostname,
        )

    def _url(self, url: httpx.URL) -> URL:
        if url is self._last_url:  # the runtime hands the same parsed URL to every call
            return self._last_parsed
        text = str(url)
        parsed = self._urls.get(text)
        if parsed is None:
            if len(self._urls) >= 64:
                self._urls.clear()
            parsed = self._urls[text] = URL(text, encoded=True)  # httpx has quoted it
        self._last_url, self._last_parsed = url, parsed
        return parsed

    async def aclose(self) -> None:
        await self.pool.aclose()


_CLOSED = "the transport is closed"


def _response(reply: aiohttp.ClientResponse, request: httpx.Request | None) -> httpx.Response:
    return httpx.Response(  # given its stream, httpx reads nothing here
        reply.status,
        headers=reply.raw_headers,
        stream=_Body(reply, request),
        request=request,
        extensions=_extensions(reply.reason, reply.version),
    )


class _Body(httpx.AsyncByteStream):
    """The raw body, in the chunks aiohttp has buffered (usually one for a small answer)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request | None) -> None:
        self._response = response
        self._request = request
        self._done = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        content = self._response.content
        try:
            chunk = await content.readany()
        except (aiohttp.ClientError, OSError) as exc:
            self._response.close()
            raise _mapped(exc, self._request) from exc
        except BaseException:  # cancelled mid-body: the connection is unusable
            self._response.close()
            raise
        if content.at_eof():  # the whole body is in: no second read just to learn that
            self._done = True
        if not chunk:
            self._done = True
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        # A finished body has already returned its connection to the pool (aiohttp does that
        # at the end of the payload); an unfinished one must not go back, half-read, for the
        # next request to trip over.
        response = self._response
        if not self._done:
            response.close()
        elif not response.closed:
            response.release()


_extension_cache: dict[tuple[str | None, Any], dict[str, bytes]] = {}


def _extensions(reason: str | None, version: Any) -> dict[str, bytes]:
    # httpx.Response copies the dict it is given, so one per (reason, version) serves all.
    key = (reason, version)
    extensions = _extension_cache.get(key)
    if extensions is None:
        if len(_extension_cache) >= 64:
            _extension_cache.clear()
        extensions = {"http_version": f"HTTP/{version.major}.{version.minor}".encode()}
        if reason:
            extensions["reason_phrase"] = reason.encode("ascii", "replace")
        _extension_cache[key] = extensions
    return extensions


_NO_TIMEOUT = aiohttp.ClientTimeout(ceil_threshold=math.inf)
_timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}


def _timeout(spec: dict[str, float | None] | None) -> aiohttp.ClientTimeout:
    if not spec:
        return _NO_TIMEOUT
    key = (spec.get("connect"), spec.get("read"), spec.get("pool"))
    timeout = _timeouts.get(key)
    if timeout is None:
        if len(_timeouts) >= 256:
            _timeouts.clear()
        timeout = _timeouts[key] = aiohttp.ClientTimeout(
            sock_connect=key[0], sock_read=key[1], connect=key[2], ceil_threshold=math.inf
        )
    return timeout


def _str_items(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    try:
        items = [(name.decode(), value.decode()) for name, value in raw]
    except UnicodeDecodeError:
        raise httpx.LocalProtocolError("a header is not valid UTF-8") from None
    for name, value in items:
        # A control character would split or corrupt the header (CR/LF injection). Newer
        # aiohttp refuses them itself; 3.10, which we admit, sends some through.
        if _CONTROL.search(value) is not None or _CONTROL.search(name) is not None:
            raise httpx.LocalProtocolError("a header holds a control character")
    return items


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _mapped(exc: BaseException, request: httpx.Request | None) -> httpx.TransportError:
    """aiohttp's exception -> httpx's. Order matters: aiohttp's classes overlap."""
    kind: type[httpx.TransportError]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        kind = httpx.ConnectTimeout
    elif isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        kind = httpx.ProxyError
    elif isinstance(exc, aiohttp.ClientConnectorError):  # refused, DNS, TLS
        kind = httpx.ConnectError
    elif isinstance(exc, asyncio.TimeoutError):  # SocketTimeoutError, ServerTimeoutError
        kind = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        kind = httpx.RemoteProtocolError  # closed before answering, or a malformed answer
    elif isinstance(exc, aiohttp.ClientConnectionResetError):
        kind = httpx.WriteError
    elif isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientConnectionError | OSError):
        kind = httpx.ReadError  # reset, or cut mid-body
    elif isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        kind = httpx.UnsupportedProtocol
    elif isinstance(exc, ValueError):  # aiohttp refusing to send it (a control char...)
        kind = httpx.LocalProtocolError
    else:
        kind = httpx.TransportError
    return kind(str(exc) or type(exc).__name__, request=request)
