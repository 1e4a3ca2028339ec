"""Runs one operation call top to bottom.

validate -> resolve endpoint -> serialize -> retry loop (send -> classify) -> deserialize.

A :class:`Runtime` belongs to one :class:`~cognito_signout.Client` and holds what its calls
share: the HTTP client, the retry quota, the adaptive rate limiter and the connection gate.
Operations hold the runtime, never the client, so imports only run one way.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

import httpx
import sniffio

from . import _endpoints, _logscrub, _protocol, _retry, _token, _transport, errors
from ._config import Config
from ._operation import Operation

if TYPE_CHECKING:
    from ._operation import InputSource
    from ._revocations import Revocations
from ._protocol import Secrets
from ._ratelimit import ClientRateLimiter
from ._token import _HOW_TO_CONFIGURE, Scrubber, region_from_token
from ._transport import Exchange, exchange, receive
from ._version import __version__

logger = logging.getLogger("cognito_signout")

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")
RequestMutator = Callable[[httpx.Request], None]


class CallResult(NamedTuple):
    """What a successful call hands to the operation's deserializer."""

    response: httpx.Response
    body: bytes
    request_id: str | None
    attempts: int
    # What the Client's revocation store recorded of this confirmed call (Operation.revokes).
    recording: Any = None


class Runtime:
    def __init__(
        self,
        config: Config,
        http_client: httpx.AsyncClient | None,
        revocations: Revocations | None = None,
    ) -> None:
        self.config = config
        self._caller = http_client
        # Confirmed sign-outs are recorded here, so the app's own TokenVerifier refuses them.
        self.revocations = revocations
        # The owned transport is made on first use, inside the event loop, and made again if
        # the client is used from another loop (its connections belong to the first one).
        self._owned: _transport.OwnedTransport | None = None
        self._loop: object = None
        self._send: _transport.Send | None = None
        # Per-endpoint retry quotas and the adaptive limiter (_retry.RetryStrategy).
        self.retry_strategy = _retry.RetryStrategy()
        # FIFO gate in front of the transport: no transport does well with hundreds of waiters
        # inside it (performance.md), and waiting here is bounded by the operation timeout.
        import anyio  # here, not at the top: ~2 ms of import for processes that never call

        self.gate = anyio.Semaphore(config.max_connections, fast_acquire=True)
        self.user_agent = _user_agent(config.app_name)
        self.closed = False
        _logscrub.install()

    async def aclose(self) -> None:
        self.closed = True
        owned, self._owned, self._send = self._owned, None, None
        if owned is not None and self._loop is _current_loop():
            await owned.aclose()

    @property
    def transport_name(self) -> Literal["httpcore", "aiohttp", "caller"]:
        """A caller's client, or a transport a test installed (testing.install_transport)
        while it is installed, else the configured transport; known before the first call."""
        if self._caller is not None or _transport.installed_transport() is not None:
            return "caller"
        return self.config.transport

    def quota(self, endpoint: str | None = None) -> _retry.RetryQuota:
        """The retry quota of ``endpoint`` (the configured one by default)."""
        quotas = self.retry_strategy.quotas
        if endpoint is None:
            endpoint = _configured_endpoint(self.config) or next(reversed(quotas), "")
        return self.retry_strategy.quota(endpoint)

    def sender(self) -> _transport.Send:
        """How this call's requests are sent; opens the owned transport on first use."""
        if self._caller is not None:
            if self._caller.is_closed:
                raise errors.DispatchFailure("the http_client given to this Client is closed")
            return self._send or self._caller_send(self._caller)
        installed = _transport.installed_transport()
        if installed is not None:
            return installed.handle_async_request
        loop = _current_loop()
        if self._send is None or loop is not self._loop:
            if self._send is not None:
                import anyio

                # Another event loop (a second asyncio.run, a test's fresh loop): the old
                # connections, and any waiter on the gate, belong to the first one.
                self.gate = anyio.Semaphore(self.config.max_connections, fast_acquire=True)
                self.retry_strategy.rate_limiter = ClientRateLimiter()
            self._owned = _transport.OwnedTransport(
                self._transport_kind(), self.config.max_connections
            )
            self._loop = loop
            self._send = self._owned.handle_async_request
        return self._send

    def lane(self, url: httpx.URL) -> _transport.Lane | None:
        """The owned transport for ``url``, which this client's calls go straight over
        (``_Call._exchange``); None for a caller's client or a transport a test installed,
        which are handed an ``httpx.Request``. Asked after :meth:`sender`, which opens it."""
        owned = self._owned
        if owned is None or self._caller is not None or _transport.installed_transport():
            return None
        return owned.route(url)

    def _caller_send(self, http: httpx.AsyncClient) -> _transport.Send:
        async def send(request: httpx.Request) -> httpx.Response:
            # Never follow a redirect: it would carry the token to another host. auth=None drops
            # any auth a caller-supplied client carries: the operation is unsigned.
            return await http.send(request, stream=True, follow_redirects=False, auth=None)

        self._send = send
        return send

    def _transport_kind(self) -> _transport.Kind:
        if self.config.transport == "httpcore":
            return "httpcore"
        if sniffio.current_async_library() != "asyncio":
            raise errors.ConstructionFailure(
                "transport='aiohttp' needs asyncio; use transport='httpcore' under trio"
            )
        if not _transport.aiohttp_installed():
            raise errors.ConstructionFailure(
                "transport='aiohttp' needs the fast extra: pip install 'cognito-signout[fast]'"
            )
        return "aiohttp"

    async def invoke(
        self,
        operation: Operation[Any, OutputT],
        source: InputSource,
        *,
        config: Config | None = None,
        mutators: Sequence[RequestMutator] = (),
    ) -> OutputT:
        """One call of ``operation`` with the members ``source`` (a builder) collected.

        Every error leaves through here with its chain cleaned (see _clean): no frame in its
        traceback, and no exception in its chain, may hold a secret, and the frames below this
        one hold them in their locals.
        """
        try:
            return await self._invoke(operation, source, config or self.config, mutators)
        except errors.SdkError as exc:
            error = exc
        try:
            raise _clean(error)  # outside the except block: no implicit __context__
        finally:
            del error  # this frame is in the error's traceback: no cycle through it

    async def _invoke(
        self,
        operation: Operation[InputT, OutputT],
        source: InputSource,
        config: Config,
        mutators: Sequence[RequestMutator],
    ) -> OutputT:
        """validate -> endpoint -> serialize -> retry loop (send -> classify) -> deserialize."""
        operation_input = operation.build(source.member_values())
        secrets = operation.secrets(operation_input)
        if self.closed:
            raise errors.DispatchFailure("this Client is closed")
        url, endpoint = _endpoint(config, operation, operation.routing_token(operation_input))
        headers, body = _protocol.serialize(operation.name, operation.params(operation_input))
        send = self.sender()
        # A mutator is handed an httpx.Request, so a call that has one goes through httpx.
        lane = None if mutators else self.lane(url)
        call = _Call(self, operation, config, url, headers, body, secrets, mutators, send, lane)
        operation_timeout = config.timeout_config.operation_timeout
        # httpx's, httpcore's and aiohttp's own log records are scrubbed of it (_logscrub.py)
        scrubbed = _logscrub.secrets.set(secrets)
        try:  # the retry loop: send -> classify, until success or the policy gives up
            if operation_timeout is None:
                # No scope at all when there is no limit: a cancel scope costs a few
                # microseconds on every call, and most callers never set this.
                result = await _retry.run(
                    call.attempt, config.retry_config, self.retry_strategy, endpoint,
                    on_retry=call.log_retry,
                )
            else:
                import anyio

                deadline = _deadline(operation_timeout)
                with anyio.CancelScope(deadline=deadline) as scope:
                    result = await _retry.run(
                        call.attempt, config.retry_config, self.retry_strategy, endpoint,
                        deadline=deadline, on_retry=call.log_retry,
                    )
                if scope.cancelled_caught:
                    raise errors.TimeoutError(
                        f"operation timeout: {operation.name} did not finish within "
                        f"{operation_timeout} s",
                        kind="operation",
                    ) from call.last_error
        finally:
            # The error's traceback holds this call: keeping last_error would make every
            # failed call a reference cycle for the garbage collector.
            call.last_error = None
            _logscrub.secrets.reset(scrubbed)
        if self.revocations is not None and operation.revokes is not None:
            # Only here, after Cognito confirmed the call: its token is authentic, so its
            # claims may name whom to refuse (a refused token records nothing).
            recording = await operation.revokes(operation_input, result, self.revocations)
            result = result._replace(recording=recording)
        return operation.deserialize(result)


def _clean(error: errors.SdkError) -> errors.SdkError:
    """``error``, ready to leave the SDK: its traceback and its chain's start here.

    The frames below ``Runtime.invoke`` (ours, httpx's, httpcore's, aiohttp's) hold the token,
    the request body and the raw response in their locals, which locals-capturing reporters
    store; an exception from a lower layer holds the request itself. So the tracebacks of the
    SDK errors in the chain are dropped, and the chain is cut at the first exception that is
    not the SDK's: the mapped error's text already names its type and (scrubbed) message.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.with_traceback(None)
        nxt = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
        if not isinstance(nxt, errors.SdkError):
            current.__cause__ = None
            current.__context__ = None
            current.__suppress_context__ = True
            break
        current.__cause__, current.__context__ = nxt, None
        current = nxt
    return error


class _Call:
    """The state of one operation call across its attempts."""

    def __init__(
        self,
        runtime: Runtime,
        operation: Operation[Any, Any],
        config: Config,
        url: httpx.URL,
        headers: dict[str, str],
        body: bytes,
        secrets: tuple[str, ...],
        mutators: Sequence[RequestMutator],
        send: _transport.Send,
        lane: _transport.Lane | None = None,
    ) -> None:
        self.runtime = runtime
        self.send = send
        self.lane = lane
        self.operation = operation
        self.config = config
        self.url = url
        self.headers = headers
        self.body = body
        self.secrets = secrets  # every sensitive member's value: scrubbed from what is kept
        self._scrubber: Scrubber | None = None
        self.mutators = mutators
        self.invocation_id = _invocation_id()
        self.number = 0
        self.last_error: BaseException | None = None
        # The request's headers as httpx would build them from a dict (Host first,
        # Content-Length last): only amz-sdk-request changes between attempts. Encoded once,
        # for httpx (build_request): given them and a ready body stream, httpx.Request skips
        # its own header preparation, which normalised every header twice per attempt.
        agent = runtime.user_agent
        self._head = [
            *([("Host", url.netloc.decode("ascii"))] if url.host else []),
            *headers.items(),
            ("amz-sdk-invocation-id", self.invocation_id),
        ]
        self._tail = [("User-Agent", agent), ("x-amz-user-agent", agent),
                      ("Content-Length", str(len(body)))]
        self._encoded: tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]] | None = None
        timeouts = config.timeout_config
        self.timeout = dict(_timeout_extension(timeouts.connect_timeout, timeouts.read_timeout))

    def _exchange(self) -> Awaitable[Exchange]:
        lane = self.lane
        if lane is not None:
            # Straight over the owned transport from the call's own headers and body: no
            # httpx.Request to build and take apart again (docs/guide/performance.md).
            wire = [*self._head, ("amz-sdk-request", self._attempt_header()), *self._tail]
            return receive(lane.open(self.url, wire, self.body, self.timeout))
        return exchange(self.send, self.build_request())

    def _attempt_header(self) -> str:
        return f"attempt={self.number}; max={self.config.retry_config.max_attempts}"

    def _sent(self, response: httpx.Response) -> httpx.Response:
        """``response``, with the request it answered. A lane built none to send, so a
        response that is copied (``_tamed``) gets the one httpx would have sent; an error's
        kept copy gets a scrubbed one (``_kept``)."""
        if self.lane is not None:
            response.request = self.build_request()
        return response

    def _kept(self, response: httpx.Response, body: bytes, secrets: Secrets) -> httpx.Response:
        """The scrubbed copy of ``response`` an error keeps. A lane sent no httpx.Request, so
        the copy gets the one httpx would have sent, built once with its body scrubbed."""
        request = None
        if self.lane is not None:
            body_kept = Scrubber.of(secrets).raw(self.body) if secrets else self.body
            request = self.build_request(body_kept)
        return _protocol.scrubbed_response(response, body, secrets, request=request)

    def build_request(self, content: bytes | None = None) -> httpx.Request:
        """The request of this attempt, as httpx would send it; with ``content`` for the body
        (a scrubbed copy of it, ``_kept``) instead of the call's own."""
        attempt = self._attempt_header()
        encoded = self._encoded
        if encoded is None:
            encoded = self._encoded = (_encoded(self._head), _encoded(self._tail))
        head, tail = encoded
        if content is None:
            content = self.body
        else:  # Content-Length is the tail's last header
            tail = [*tail[:-1], (b"Content-Length", str(len(content)).encode("ascii"))]
        headers = httpx.Headers([*head, (b"amz-sdk-request", attempt.encode("ascii")), *tail])
        request = httpx.Request(
            "POST", self.url, headers=headers, stream=httpx.ByteStream(content),
            extensions={"timeout": self.timeout},
        )
        request.read()  # .content, as with content=: respx, fakes and aiohttp read it
        for mutate in self.mutators:
            mutate(request)
        return request

    async def attempt(self) -> CallResult:
        self.number += 1
        # Only the debug log reads the clock (three look-ups through anyio and sniffio).
        started = _now() if logger.isEnabledFor(logging.DEBUG) else None
        try:
            result = await self._attempt()
        except errors.SdkError as exc:
            self.last_error = exc
            self._log(started, exc)
            raise
        self._log(started, None, result)
        return result

    async def _attempt(self) -> CallResult:
        runtime = self.runtime
        limiter = (
            runtime.retry_strategy.rate_limiter
            if self.config.retry_config.mode == "adaptive" else None
        )
        attempt_timeout = self.config.timeout_config.operation_attempt_timeout
        # Waiting for a connection slot, then (adaptive) for a send token, is queueing, not the
        # attempt: an attempt timeout there would retry, pay the quota and lose the queue
        # place. Only the operation timeout bounds it. The slot comes first, so a send token
        # is used the moment it is granted and the limiter sees true send times.
        async with runtime.gate:
            sent_at = await limiter.acquire() if limiter is not None else 0.0
            if attempt_timeout is None:  # no scope to pay for when there is no limit
                exchanged = await self._exchange()
                timed_out = False
            else:
                import anyio

                with anyio.CancelScope(deadline=_deadline(attempt_timeout)) as scope:
                    exchanged = await self._exchange()
                timed_out = scope.cancelled_caught
        if timed_out:
            raise errors.TimeoutError(
                f"attempt timeout: attempt {self.number} took longer than {attempt_timeout} s",
                kind="attempt",
            )
        try:
            result = self._classify(exchanged)
        except errors.SdkError as exc:
            if limiter is not None:
                throttled = _retry.classify(exc) is _retry.ErrorKind.THROTTLING
                limiter.update(throttled=throttled, sent_at=sent_at)
            raise
        if limiter is not None:
            limiter.update(throttled=False, sent_at=sent_at)
        return result

    def _classify(self, exchanged: Exchange) -> CallResult:
        """A response -> the call's result, or the typed error it stands for. No I/O."""
        secrets = self.secrets
        response, body = exchanged.response, exchanged.body
        if not _tame(response.headers.raw, secrets):
            response = _tamed(self._sent(response), secrets)
        if 200 <= response.status_code < 300:
            try:
                _protocol.check_success(response, body, token=secrets)
            except errors.ResponseError as exc:
                exc.response = self._kept(response, body, secrets)
                raise
            request_id = _protocol.request_id(response.headers)  # scrubbed if JWT-shaped
            if request_id is not None:
                if any(mark in request_id for mark in _secret_marks_text(secrets)):
                    # a server echoing part of a secret there: the dear path, rarely taken
                    request_id = _protocol.request_id(response.headers, token=secrets)
                if request_id is not None and not request_id.isprintable():
                    request_id = errors._printable(request_id)  # an ESC must not reach a tty
            return CallResult(response, body, request_id, self.number)
        # One Scrubber for the whole error path: working out what to hide costs more than
        # hiding it, and the kept copy, the message and the request id all need it.
        scrubber = self._scrubber = self._scrubber or Scrubber(secrets)
        kept = self._kept(response, body, scrubber)
        raise _protocol.error_for(
            kept, body, token=scrubber, table=self.operation.errors, headers=response.headers
        )

    def log_retry(self, details: _retry.RetryDetails) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s retrying after attempt %d/%d (%s) in %.3f s",
                self.operation.name, details.attempt, details.max_attempts, details.kind.value,
                details.delay,
            )
        for hook in self.config.on_retry:
            try:
                hook(details)
            except Exception:
                # Instrumentation must never change the outcome of a sign-out.
                logger.warning("on_retry hook %r raised; ignored", hook, exc_info=True)

    def _log(
        self, started: float | None, error: BaseException | None, result: Any = None
    ) -> None:
        if started is None or not logger.isEnabledFor(logging.DEBUG):
            return
        elapsed_ms = (_now() - started) * 1000
        if error is None:
            logger.debug(
                "%s attempt=%d status=%d request_id=%s elapsed_ms=%.1f",
                self.operation.name, self.number, result.response.status_code, result.request_id,
                elapsed_ms,
            )
        else:
            logger.debug(
                "%s attempt=%d status=%s request_id=%s elapsed_ms=%.1f error=%s",
                self.operation.name, self.number, getattr(error, "status_code", None),
                getattr(error, "request_id", None), elapsed_ms, type(error).__name__,
            )


def _current_loop() -> object:
    """The running event loop (asyncio), or the run's token (trio)."""
    # Imported here: both are loaded already when a loop runs, and asyncio costs ~25 ms of
    # a process's start-up when imported at the top (the import budget, bench/).
    if sniffio.current_async_library() == "trio":
        import trio

        return trio.lowlevel.current_trio_token()
    import asyncio

    return asyncio.get_running_loop()


def _configured_endpoint(config: Config) -> str | None:
    """The endpoint a config names without a token, if it names one."""
    if config.region is None and config.endpoint_url is None:
        return None
    try:
        return _endpoint(config, None, None)[1]
    except errors.SdkError:
        return None


@functools.lru_cache(maxsize=256)
def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


def _endpoint(
    config: Config, operation: Operation[Any, Any] | None, routing_token: str | None
) -> tuple[httpx.URL, str]:
    """The URL a call goes to, and its origin (the retry quota's key)."""
    region = config.region
    if region is None and config.endpoint_url is None:
        if routing_token is None:
            name = operation.name if operation is not None else "this call"
            raise errors.ConstructionFailure(
                f"{name} needs a region: nothing in its input names one (a refresh token is "
                f"opaque); {_HOW_TO_CONFIGURE}"
            )
        region = region_from_token(routing_token)
    return _parsed(
        _endpoints.resolve_endpoint(
            region,
            use_fips=config.use_fips,
            use_dualstack=config.use_dualstack,
            endpoint_url=config.endpoint_url,
        )
    )


@functools.lru_cache(maxsize=256)
def _parsed(url: str) -> tuple[httpx.URL, str]:
    # httpx.URL is immutable, so one parse serves every request to the same endpoint.
    parsed = httpx.URL(url)
    return parsed, _origin(parsed)


def _encoded(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("ascii"), value.encode("ascii")) for name, value in headers]


def _tame(raw: list[tuple[bytes, bytes]], secrets: tuple[str, ...]) -> bool:
    """Whether every header value is ASCII and free of the call's secrets (_tamed otherwise).

    Headers are the server's to fill. A value with a non-ASCII byte made the copy kept on an
    error fail to build (UnicodeEncodeError instead of a typed error), and a token (or a part
    of it) echoed in ``x-amzn-errortype`` or ``x-amzn-requestid`` ended up in the error's code,
    request id and text. This runs on every call: one join and a few byte searches. A mark
    found in a value is found in the join; one straddling two values (it would need a newline,
    which no header value holds) only costs a needless copy.
    """
    values = b"\n".join([value for _, value in raw])
    if not values.isascii():
        return False
    for mark in _secret_marks(secrets):  # noqa: SIM110 - all(<generator>) costs more, per call
        if mark in values:
            return False
    return True


def _tamed(response: httpx.Response, secrets: tuple[str, ...]) -> httpx.Response:
    """A copy of ``response`` whose header values are ASCII and scrubbed of ``secrets``."""
    scrubber = Scrubber(secrets)
    tamed = [
        (name, scrubber.raw(value).decode("latin-1").encode("ascii", "backslashreplace"))
        for name, value in response.headers.raw
    ]
    return httpx.Response(
        response.status_code, headers=tamed, request=response.request,
        extensions=response.extensions,
    )


@functools.lru_cache(maxsize=64)
def _secret_marks_text(secrets: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(mark.decode("ascii", "replace") for mark in _secret_marks(secrets))


@functools.lru_cache(maxsize=64)
def _secret_marks(secrets: tuple[str, ...]) -> tuple[bytes, ...]:
    """What gives a secret away in a header, by the scrubber's own rules (_token.Scrubber):
    each value long enough to scrub, and each long dot-separated part of it."""
    marks = {
        piece.encode("ascii", "replace")
        for value in secrets
        if len(value) >= _token.MIN_VALUE_CHARS
        for piece in (value, *value.split("."))
        if piece == value or len(piece) >= _token.MIN_SECRET_CHARS
    }
    return tuple(marks)


@functools.lru_cache(maxsize=64)
def _timeout_extension(connect: float | None, read: float | None) -> dict[str, float | None]:
    # httpx's "timeout" request extension; the caller copies it (a mutator may change it).
    return httpx.Timeout(connect=connect, read=read, write=read, pool=None).as_dict()


def _invocation_id() -> str:
    """``str(uuid.uuid4())``, without building the UUID object: 16 random bytes with the
    version (4) and variant (RFC 4122) bits set, as 8-4-4-4-12 hex digits."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _deadline(seconds: float) -> float:
    # Both callers skip the cancel scope entirely when their limit is None.
    return _now() + seconds


def _now() -> float:
    import anyio

    return anyio.current_time()


# The AWS SDKs' os/ names; sys.platform avoids importing platform (start-up budget).
_OS_NAMES = {"linux": "linux", "darwin": "macos", "win32": "windows", "cygwin": "windows"}


def _user_agent(app_name: str | None) -> str:
    agent = (
        f"cognito-signout/{__version__} ua/2.1 api/cognitoidentityprovider "
        f"os/{_OS_NAMES.get(sys.platform, 'other')} "
        f"lang/python/{'.'.join(map(str, sys.version_info[:3]))} md/httpx/{httpx.__version__}"
    )
    return f"{agent} app/{app_name}" if app_name else agent
