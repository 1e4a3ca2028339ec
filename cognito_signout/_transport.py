"""HTTP transport: the owned httpx client, one exchange with a capped body, error mapping.

Every lower-layer exception is mapped to the public hierarchy in :func:`map_exceptions`, the
single place where httpx's errors become ours. Timeouts are always ``errors.TimeoutError``;
failed connections are ``errors.DispatchFailure``.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator

import attrs
import httpx

from . import errors

# GlobalSignOut's answers are a few hundred bytes; anything near this is not Cognito.
MAX_BODY_BYTES = 1 << 20


def make_http_client(max_connections: int) -> httpx.AsyncClient:
    """The client a :class:`Client` owns when the caller brings none."""
    return httpx.AsyncClient(
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        follow_redirects=False,
        # The SDK's gate bounds the wait for a connection (by the operation timeout); httpx's
        # own pool timeout would fail a burst after 5 s instead of letting it queue.
        timeout=httpx.Timeout(None),
    )


@attrs.frozen
class Exchange:
    """A response whose body has been read (and decoded) within the cap."""

    response: httpx.Response
    body: bytes


async def exchange(http: httpx.AsyncClient, request: httpx.Request) -> Exchange:
    """Send ``request`` and read the whole response body, never more than MAX_BODY_BYTES."""
    with map_exceptions():
        # Never follow a redirect: it would carry the token to another host. auth=None drops any
        # auth a caller-supplied client carries: GlobalSignOut is unsigned.
        response = await http.send(request, stream=True, follow_redirects=False, auth=None)
    try:
        with map_exceptions(response):
            body = await _read_capped(response)
    finally:
        await response.aclose()
    return Exchange(response, body)


async def _read_capped(response: httpx.Response) -> bytes:
    try:
        # Already read and decoded by httpx (a mock transport or a caller's event hook did it).
        body = response.content
    except httpx.ResponseNotRead:
        pass
    else:
        if len(body) > MAX_BODY_BYTES:
            raise _response_error(response, f"response body is larger than {MAX_BODY_BYTES} bytes")
        return body
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "", "gzip", "deflate", "x-gzip"):
        raise _response_error(response, f"unsupported content-encoding {encoding!r}")
    # Decompress ourselves with an output bound: a 1 KiB gzip bomb must not become gigabytes.
    decoder = (
        None
        if encoding in ("identity", "")
        else zlib.decompressobj(zlib.MAX_WBITS | 32 if encoding != "deflate" else zlib.MAX_WBITS)
    )
    chunks: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        if decoder is not None:
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
    return b"".join(chunks)


def _response_error(response: httpx.Response, message: str) -> errors.ResponseError:
    return errors.ResponseError(
        f"HTTP {response.status_code}: {message}",
        status_code=response.status_code,
        request_id=response.headers.get("x-amzn-requestid"),
        response=None,  # the body could not be read; the status and request id are kept
    )


@contextlib.contextmanager
def map_exceptions(response: httpx.Response | None = None) -> Iterator[None]:
    """httpx exceptions -> the public hierarchy. Cancellation passes through untouched."""
    try:
        yield
    except httpx.ConnectTimeout as exc:
        raise errors.TimeoutError("connect timeout: no connection in time", kind="connect") from exc
    except httpx.ReadTimeout as exc:
        raise errors.TimeoutError("read timeout: the server stopped sending", kind="read") from exc
    except httpx.WriteTimeout as exc:
        raise errors.TimeoutError(
            "write timeout: the server stopped reading", kind="write"
        ) from exc
    except httpx.PoolTimeout as exc:
        raise errors.TimeoutError("pool timeout: no free connection", kind="pool") from exc
    except (httpx.TransportError, OSError) as exc:
        if response is not None:
            raise errors.ResponseError(
                f"HTTP {response.status_code}: the connection failed while reading the body "
                f"({type(exc).__name__})",
                status_code=response.status_code,
                request_id=response.headers.get("x-amzn-requestid"),
            ) from exc
        raise errors.DispatchFailure(
            f"the request could not be sent: {type(exc).__name__}: {_safe(exc)}"
        ) from exc
    except RuntimeError as exc:
        if "client has been closed" in str(exc):
            raise errors.DispatchFailure("the HTTP client is closed") from exc
        raise


def _safe(exc: BaseException) -> str:
    # httpx's messages name hosts and errno texts, never request bodies; keep them short anyway.
    return str(exc)[:200]
