"""HTTP transport: the transport a Client owns, one exchange with a capped body, error mapping.

Every lower-layer exception is mapped to the public hierarchy in :func:`_mapped`, the
single place where httpx's errors become ours. Timeouts are always ``errors.TimeoutError``;
failed connections are ``errors.DispatchFailure``.
"""

from __future__ import annotations

import builtins
import contextlib
import sys
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

import httpx
import sniffio

from . import _protocol, errors
from ._proxies import ProxySettings
from ._token import scrub

if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport
    from ._lanes import LaneTransport

# GlobalSignOut's answers are a few hundred bytes; anything near this is not Cognito.
MAX_BODY_BYTES = 1 << 20


Kind = Literal["httpcore", "aiohttp"]


class Lane(Protocol):
    """What carries an operation call's own URL, headers and body, with no ``httpx.Request``
    built (``_runtime._Call._exchange``): every transport a client owns
    (:meth:`LaneTransport.open`, ``AiohttpTransport.open``). Its errors are httpx's."""

    def open(
        self,
        url: httpx.URL,
        headers: list[tuple[str, str]],
        content: bytes,
        timeouts: dict[str, float | None],
    ) -> Awaitable[httpx.Response]: ...


class OwnedTransport(httpx.AsyncBaseTransport):
    """The transport a :class:`~cognito_signout.Client` builds for itself when the caller brings
    no ``http_client``: direct, or through the environment's proxy for the URL.

    ``kind`` is what carries the requests: ``httpcore`` (httpx's own, the default:
    :class:`~cognito_signout._lanes.LaneTransport`) or ``aiohttp``
    (:class:`~cognito_signout._aiohttp.AiohttpTransport`, asyncio only). The environment
    (proxies, ``SSL_CERT_FILE``) is read once, here, as httpx reads it when a client is made.
    It is made inside the event loop that uses it (``Runtime.sender``).
    """

    def __init__(self, kind: Kind, max_connections: int) -> None:
        self.kind = kind
        self._size = max_connections
        self._proxies = ProxySettings.from_environment()
        self._ssl_context = httpx.create_ssl_context()
        self._pool: Any = None  # the aiohttp session shared by the direct and proxy transports
        self._backend: Any = None  # httpcore's own I/O (anyio, trio) unless asyncio runs
        if kind == "httpcore" and sniffio.current_async_library() == "asyncio":
            from ._asyncio_backend import AsyncioBackend

            self._backend = AsyncioBackend()
        self._direct = self._make(None)
        self._via_proxy: dict[str, AiohttpTransport | LaneTransport] = {}
        # Most calls go to one or two endpoints: the route is decided once per origin.
        self._routes: dict[tuple[bytes, bytes, int | None], AiohttpTransport | LaneTransport] = {}

    def _make(self, proxy: httpx.Proxy | None) -> AiohttpTransport | LaneTransport:
        if self.kind == "aiohttp" and (proxy is None or proxy.url.scheme in ("http", "https")):
            from ._aiohttp import AiohttpTransport, Pool

            if self._pool is None:
                limits = httpx.Limits(
                    max_connections=self._size, max_keepalive_connections=self._size
                )
                self._pool = Pool(self._ssl_context, limits)
            return AiohttpTransport(self._pool, proxy=proxy)
        # httpcore, and the proxies aiohttp cannot speak (SOCKS). Imported here: httpcore loads
        # anyio and trio, which a process that never sends must not pay for (tests/test_imports.py).
        from ._lanes import LaneTransport

        return LaneTransport(
            self._size, ssl_context=self._ssl_context, proxy=proxy, backend=self._backend
        )

    def route(self, url: httpx.URL) -> AiohttpTransport | LaneTransport:
        """The transport that carries requests to ``url``: it is also their :class:`Lane`."""
        key = (url.raw_scheme, url.raw_host, url.port)
        route = self._routes.get(key)
        if route is None:
            proxy = self._proxies.proxy_for(str(url), url.host, url.port)
            route = self._direct
            if proxy is not None:
                if proxy not in self._via_proxy:
                    self._via_proxy[proxy] = self._make(_proxy(proxy))
                route = self._via_proxy[proxy]
            if len(self._routes) >= 64:
                self._routes.clear()
            self._routes[key] = route
        return route

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.route(request.url).handle_async_request(request)
        response.request = request  # as httpx's client would: errors keep it (scrubbed)
        return response

    async def aclose(self) -> None:
        for transport in (self._direct, *self._via_proxy.values()):
            await transport.aclose()


def _proxy(url: str) -> httpx.Proxy:
    try:
        return httpx.Proxy(url)
    except ValueError:
        # httpx names the URL; only its scheme is said here (the URL may hold a password)
        scheme = url.split("://", 1)[0][:20]
        raise errors.ConstructionFailure(
            f"the environment's proxy URL has the scheme {scheme!r}: use http, https, socks5 "
            "or socks5h"
        ) from None


_installed: list[httpx.AsyncBaseTransport] = []


@contextlib.contextmanager
def install_transport(transport: httpx.AsyncBaseTransport) -> Iterator[None]:
    """Make every Client created in the block, without an ``http_client`` of its own, send
    through ``transport`` (public as ``cognito_signout.testing.install_transport``)."""
    if not isinstance(transport, httpx.AsyncBaseTransport):
        raise errors.ConstructionFailure("install_transport needs an httpx.AsyncBaseTransport")
    _installed.append(transport)
    try:
        yield
    finally:
        _installed.remove(transport)


def installed_transport() -> httpx.AsyncBaseTransport | None:
    return _installed[-1] if _installed else None


def aiohttp_installed() -> bool:
    """Whether the ``fast`` extra (aiohttp) is importable."""
    import importlib.util  # only a client configured for aiohttp asks

    return importlib.util.find_spec("aiohttp") is not None


class Exchange(NamedTuple):
    """A response whose body has been read (and decoded) within the cap."""

    response: httpx.Response
    body: bytes


Send = Callable[[httpx.Request], Awaitable[httpx.Response]]


async def exchange(
    send: Send, request: httpx.Request, *, limit: int = MAX_BODY_BYTES
) -> Exchange:
    """Send ``request`` and read the whole response body, never more than ``limit`` bytes
    (decoded; MAX_BODY_BYTES for an operation, less for a key set, see _verify.py).

    ``send`` is the owned transport's ``handle_async_request``, or a caller's client's ``send``
    (``Runtime`` picks it once).
    """
    return await receive(send(request), limit=limit)


async def receive(
    sending: Awaitable[httpx.Response], *, limit: int = MAX_BODY_BYTES
) -> Exchange:
    """Await the response ``sending`` stands for and read its whole body within ``limit``:
    the one reader of every transport's answers (``exchange``, and a :class:`Lane`'s
    ``open``, which sends without an ``httpx.Request``).

    Errors are mapped to the public hierarchy and raised outside the ``except`` block, with no
    chained cause: the lower layers' exceptions hold the request (the token in its body) and
    their frames hold it in their locals, which locals-capturing error reporters store. The
    cause's type and message, scrubbed, are in the error's text.
    """
    # try/except rather than a mapping context manager: two context managers per call cost
    # more than the rest of this function.
    mapped: errors.SdkError | None = None
    try:
        response = await sending
    except Exception as exc:
        mapped = _mapped(exc)
        if mapped is None:
            raise
    if mapped is not None:
        raise mapped
    try:
        body = await _read_capped(response, limit)
    except Exception as exc:
        mapped = _mapped(exc, response)
        if mapped is None:
            raise
    finally:
        await response.aclose()
    if mapped is not None:
        raise mapped
    return Exchange(response, body)


async def _read_capped(response: httpx.Response, limit: int = MAX_BODY_BYTES) -> bytes:
    if response.is_stream_consumed:  # the common streamed case skips a ResponseNotRead
        try:
            # Already read and decoded by httpx (a mock transport or a caller's event hook did
            # it).
            body = response.content
        except httpx.ResponseNotRead:
            pass
        else:
            if len(body) > limit:
                raise _response_error(
                    response, f"response body is larger than {limit} bytes"
                )
            return body
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "", "gzip", "deflate", "x-gzip"):
        # Only a short prefix is echoed: the header is the server's to fill, with anything.
        raise _response_error(response, f"unsupported content-encoding {encoding[:40]!r}")
    # Decompress ourselves with an output bound: a 1 KiB gzip bomb must not become gigabytes.
    decoder = (
        None
        if encoding in ("identity", "")
        else zlib.decompressobj(zlib.MAX_WBITS | 32 if encoding != "deflate" else zlib.MAX_WBITS)
    )
    parts: list[bytes] = []
    size = 0
    compressed = False
    async for raw in _raw_chunks(response):
        if decoder is not None:
            compressed = compressed or bool(raw)
            try:
                raw = decoder.decompress(raw, limit + 1 - size)
            except zlib.error:
                raise _response_error(
                    response, "response body is not valid compressed data"
                ) from None
        size += len(raw)
        if size > limit:
            raise _response_error(response, f"response body is larger than {limit} bytes")
        parts.append(raw)
    if decoder is not None and compressed and not decoder.eof:
        # A compressed stream cut short can still decode to "{}"; that confirms nothing.
        raise _response_error(response, "compressed response body is truncated")
    return b"".join(parts)


def _raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The response's raw (undecoded) body, straight from its stream.

    ``response.aiter_raw()`` wraps the stream in an async generator, a chunker and a context
    manager (a tenth of the SDK's own time per call) and marks the response consumed; the SDK
    reads each response exactly once and closes it in exchange(), so it iterates the stream.
    """
    stream = response.stream
    if isinstance(stream, httpx.AsyncByteStream):
        return stream.__aiter__()
    return response.aiter_raw()  # raises what httpx raises for a sync stream


def _response_error(response: httpx.Response, message: str) -> errors.ResponseError:
    return errors.ResponseError(
        f"HTTP {response.status_code}: {message}",
        status_code=response.status_code,
        request_id=_request_id(response),
        response=None,  # the body could not be read; the status and request id are kept
    )


def _request_id(response: httpx.Response) -> str | None:
    # The token is not known at this layer, so anything token-shaped is scrubbed by shape.
    found = _protocol.request_id(response.headers)
    return scrub(found[:200], None) if found else None


def _mapped(exc: Exception, response: httpx.Response | None = None) -> errors.SdkError | None:
    """The public error ``exc`` stands for, or None if it passes through as it is."""
    if isinstance(exc, httpx.TransportError | OSError):
        timeout = _timeout_kind(exc)
        if timeout is not None:
            if response is None:
                return errors.TimeoutError(_TIMEOUT_TEXT[timeout], kind=timeout)
            return errors.TimeoutError(
                f"{_TIMEOUT_TEXT[timeout]} (HTTP {response.status_code} headers had arrived)",
                kind=timeout,
                status_code=response.status_code,
                request_id=_request_id(response),
            )
        if response is not None:
            return errors.ResponseError(
                f"HTTP {response.status_code}: the connection failed while reading the body "
                f"({type(exc).__name__})",
                status_code=response.status_code,
                request_id=_request_id(response),
            )
        return errors.DispatchFailure(
            f"the request could not be sent: {type(exc).__name__}: {_safe(exc)}"
        )
    if _is_aiohttp_error(exc):  # a caller's httpx-aiohttp client can let these through
        return errors.DispatchFailure(
            f"the request could not be sent: {type(exc).__name__}: {_safe(exc)}"
        )
    return None


def _is_aiohttp_error(exc: BaseException | None) -> bool:
    # Only a process that imported aiohttp can have raised its errors; never import it here.
    aiohttp = sys.modules.get("aiohttp")
    return aiohttp is not None and isinstance(exc, aiohttp.ClientError)


_TIMEOUT_TEXT: dict[errors.TimeoutKind, str] = {
    "connect": "connect timeout: no connection in time",
    "read": "read timeout: the server stopped sending",
    "write": "write timeout: the server stopped reading",
    "pool": "pool timeout: no free connection",
}


def _timeout_kind(exc: BaseException) -> errors.TimeoutKind | None:
    """Which timeout ``exc`` stands for. Our aiohttp transport maps aiohttp's failures to the
    right httpx exceptions (a refused connection is a ConnectError, not a ConnectTimeout)."""
    if isinstance(exc, httpx.ConnectTimeout):
        cause = exc.__cause__
        if _is_aiohttp_error(cause) and not isinstance(cause, builtins.TimeoutError):
            # A caller's httpx-aiohttp client calls every aiohttp connection error (refused,
            # reset) a ConnectTimeout; the chained aiohttp exception says what happened.
            return None
        return "connect"
    if isinstance(exc, httpx.ReadTimeout):
        return "read"
    if isinstance(exc, httpx.WriteTimeout):
        return "write"
    if isinstance(exc, httpx.PoolTimeout):
        return "pool"
    if isinstance(exc, httpx.TimeoutException | builtins.TimeoutError):
        return "read"
    return None


def _safe(exc: BaseException) -> str:
    """``exc``'s message, short and scrubbed; when it has none (httpcore's trio backend raises
    an empty ConnectError for a certificate it refused), the first cause in its chain that
    says what happened."""
    # httpx's messages name hosts and errno texts, never request bodies; keep them short, and
    # scrub anything token-shaped in case a lower layer quoted what it was sending.
    text = str(exc)
    cause: BaseException | None = exc
    for _ in range(4):  # a few links: the chain is the lower layers', of any length
        if text or cause is None:
            break
        cause = cause.__cause__ or cause.__context__
        if cause is not None and str(cause):
            text = f"{type(cause).__name__}: {cause}"
    return scrub(text[:200], None)
