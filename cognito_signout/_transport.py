"""HTTP transport: the owned httpx client, one exchange with a capped body, error mapping.

Every lower-layer exception is mapped to the public hierarchy in :func:`_mapped`, the
single place where httpx's errors become ours. Timeouts are always ``errors.TimeoutError``;
failed connections are ``errors.DispatchFailure``.
"""

from __future__ import annotations

import builtins
import functools
import importlib.util
import zlib
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import httpx

from . import _protocol, errors
from ._token import scrub

# GlobalSignOut's answers are a few hundred bytes; anything near this is not Cognito.
MAX_BODY_BYTES = 1 << 20


def make_http_client(max_connections: int, *, fast: bool = False) -> httpx.AsyncClient:
    """The client a :class:`Client` owns when the caller brings none.

    ``fast`` puts httpx's interface over aiohttp (the ``fast`` extra, asyncio only): the
    request and response objects, timeouts, proxy mounts and pool limit stay httpx's, while the
    I/O costs about a third of httpcore's (performance.md).
    """
    options: dict[str, Any] = {
        "limits": httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        "follow_redirects": False,
        # The SDK's gate bounds the wait for a connection (by the operation timeout); httpx's
        # own pool timeout would fail a burst after 5 s instead of letting it queue.
        "timeout": httpx.Timeout(None),
    }
    if fast:
        from ._aiohttp import AiohttpClient

        return AiohttpClient(**options)
    return httpx.AsyncClient(**options)


@functools.cache
def fast_path_installed() -> bool:
    """Whether the ``fast`` extra (aiohttp) is importable."""
    return importlib.util.find_spec("aiohttp") is not None


class Exchange(NamedTuple):
    """A response whose body has been read (and decoded) within the cap."""

    response: httpx.Response
    body: bytes


async def exchange(http: httpx.AsyncClient, request: httpx.Request, *, owned: bool) -> Exchange:
    """Send ``request`` and read the whole response body, never more than MAX_BODY_BYTES.

    On a client we own, the request goes straight to the transport httpx would pick for the URL
    (proxy mounts included): the client layer's auth, redirect, cookie and event-hook machinery
    has nothing to do for us and costs about a tenth of a call. A caller's client is used as
    given, through ``send``.
    """
    # try/except rather than a mapping context manager: two context managers per call cost
    # more than the rest of this function.
    try:
        if owned:
            response = await http._transport_for_url(request.url).handle_async_request(request)
            response.request = request
        else:
            # Never follow a redirect: it would carry the token to another host. auth=None drops
            # any auth a caller-supplied client carries: GlobalSignOut is unsigned.
            response = await http.send(request, stream=True, follow_redirects=False, auth=None)
    except Exception as exc:
        mapped = _mapped(exc)
        if mapped is None:
            raise
        raise mapped from exc
    try:
        body = await _read_capped(response)
    except Exception as exc:
        if isinstance(exc, httpx.RequestError):
            exc.request = request  # as aiter_raw() would have (see _raw_chunks)
        mapped = _mapped(exc, response)
        if mapped is None:
            raise
        raise mapped from exc
    finally:
        await response.aclose()
    return Exchange(response, body)


async def _read_capped(response: httpx.Response) -> bytes:
    if response.is_stream_consumed:  # the common streamed case skips a ResponseNotRead
        try:
            # Already read and decoded by httpx (a mock transport or a caller's event hook did
            # it).
            body = response.content
        except httpx.ResponseNotRead:
            pass
        else:
            if len(body) > MAX_BODY_BYTES:
                raise _response_error(
                    response, f"response body is larger than {MAX_BODY_BYTES} bytes"
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
    chunks: list[bytes] = []
    size = 0
    compressed = False
    async for raw in _raw_chunks(response):
        if decoder is not None:
            compressed = compressed or bool(raw)
            try:
                raw = decoder.decompress(raw, MAX_BODY_BYTES + 1 - size)
            except zlib.error:
                raise _response_error(
                    response, "response body is not valid compressed data"
                ) from None
        size += len(raw)
        if size > MAX_BODY_BYTES:
            raise _response_error(response, f"response body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(raw)
    if decoder is not None and compressed and not decoder.eof:
        # A compressed stream cut short can still decode to "{}"; that confirms nothing.
        raise _response_error(response, "compressed response body is truncated")
    return b"".join(chunks)


def _raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """``response.aiter_raw()`` for the usual unread stream, without the per-call async
    generator, chunker and context manager it wraps around the transport's stream (a tenth of
    the SDK's own time per call). exchange() closes the response; the transports we use raise
    httpx's exceptions with the request attached."""
    stream = response.stream
    if response.is_stream_consumed or response.is_closed or not isinstance(
        stream, httpx.AsyncByteStream
    ):
        return response.aiter_raw()  # raises what httpx raises for these
    response.is_stream_consumed = True
    return stream.__aiter__()


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
    if type(exc).__module__.startswith("aiohttp"):
        return errors.DispatchFailure(
            f"the request could not be sent: {type(exc).__name__}: {_safe(exc)}"
        )
    if isinstance(exc, RuntimeError) and "client has been closed" in str(exc):
        return errors.DispatchFailure("the HTTP client is closed")
    return None


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
        if (
            cause is not None
            and type(cause).__module__.startswith("aiohttp")
            and not isinstance(cause, builtins.TimeoutError)
        ):
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
    # httpx's messages name hosts and errno texts, never request bodies; keep them short anyway.
    return str(exc)[:200]

