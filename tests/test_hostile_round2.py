"""Issue 9, over real loopback sockets on both transports (and trio where it applies):

- what locals-capturing error reporters store holds no token (item 2);
- each endpoint has its own retry quota (item 3);
- with DEBUG on for every logger, no record holds the token (item 8);
- a property suite throws generated hostile responses at both transports.
"""

from __future__ import annotations

import gc
import io
import logging
import time
import traceback
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cognito_signout
from cognito_signout import Client, Config, RetryConfig, TimeoutConfig, errors

from . import loopback
from .tokens import TOKEN, make_token

pytestmark = pytest.mark.anyio

SEGMENTS = TOKEN.split(".")
PACKAGE = str(Path(cognito_signout.__file__).parent)
TESTS = str(Path(__file__).parent)



@pytest.fixture(params=["httpcore", "aiohttp"])
def transport(request: pytest.FixtureRequest, anyio_backend: str) -> str:
    if request.param == "aiohttp" and anyio_backend != "asyncio":
        pytest.skip("aiohttp runs on asyncio only (under trio it is a ConstructionFailure)")
    return str(request.param)


def _config(url: str, transport: str, **fields: Any) -> Config:
    return Config(
        region="us-east-1", endpoint_url=url, transport=transport,  # type: ignore[arg-type]
        retry_config=fields.pop("retry_config", RetryConfig.disabled()), **fields,
    )


def _leaks(value: object, depth: int = 0) -> bool:
    """Whether ``value`` shows the token or a segment of it, as an error reporter would store
    it: strings and bytes as they are, containers item by item, anything else by its repr."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("latin-1")
    if isinstance(value, str):
        return any(part in value for part in (TOKEN, *SEGMENTS))
    if depth < 3 and isinstance(value, dict):
        return any(_leaks(k, depth + 1) or _leaks(v, depth + 1) for k, v in value.items())
    if depth < 3 and isinstance(value, list | tuple | set | frozenset):
        return any(_leaks(item, depth + 1) for item in value)
    try:
        return _leaks(repr(value), 3)
    except Exception:
        return False


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def assert_nothing_captured_holds_the_token(exc: BaseException) -> None:
    # What a locals-capturing reporter stores: every frame's locals (as reprs), for the whole
    # chain. The test's own frames hold the token it sent, as a user's would: not ours to judge.
    captured: traceback.TracebackException | None = traceback.TracebackException.from_exception(
        exc, capture_locals=True
    )
    while captured is not None:
        for frame_summary in captured.stack:
            if not frame_summary.filename.startswith(TESTS):
                assert not _leaks(frame_summary.locals), frame_summary
        assert not _leaks("".join(captured.format_exception_only()))
        captured = captured.__cause__ or captured.__context__
    for error in _chain(exc):
        assert isinstance(error, errors.SdkError), f"a foreign exception in the chain: {error!r}"
        assert not _leaks(str(error)) and not _leaks(error.args)
        for name, value in vars(error).items():
            if name == "response" and value is not None:
                assert not _leaks(value.content) and not _leaks(dict(value.headers))
                assert not _leaks(value.request.content)
            else:
                assert not _leaks(value), name
        tb = error.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            where = frame.f_code.co_filename
            # The test's own frames hold the token it sent, as a user's would.
            if not where.startswith(TESTS):
                assert where.startswith(PACKAGE), f"a frame below the SDK: {where}"
                for name, value in frame.f_locals.items():
                    assert not _leaks(value), f"{where}:{frame.f_code.co_name} local {name!r}"
            tb = tb.tb_next


async def _send(client: Client, token: str = TOKEN) -> None:
    await client.global_sign_out().access_token(token).send()


# --- item 2: frame locals and the exception chain ----------------------------------------------


def _echo_error(conn: loopback.Conn, request: loopback.Request) -> bool:
    body = ('{"__type":"NotAuthorizedException","message":"Invalid token ' + TOKEN + '"}')
    return conn.respond(400, body.encode(), [("Content-Type", loopback.JSON),
                                            ("x-amzn-RequestId", "r-" + SEGMENTS[2])])


def _echo_html(conn: loopback.Conn, request: loopback.Request) -> bool:
    return conn.respond(200, b"<html>" + TOKEN.encode() + b"</html>",
                        [("Content-Type", "text/html")])


@pytest.mark.parametrize(
    ("handler", "expected", "timeouts"),
    [
        (_echo_error, errors.NotAuthorizedException, TimeoutConfig()),
        (_echo_html, errors.ResponseError, TimeoutConfig()),
        (loopback.stall_before_response, errors.TimeoutError, TimeoutConfig(read_timeout=0.2)),
        (loopback.stall_mid_body, errors.TimeoutError, TimeoutConfig(read_timeout=0.2)),
        (loopback.reset_mid_response, errors.ResponseError, TimeoutConfig()),
        (loopback.stall_before_response, errors.TimeoutError,
         TimeoutConfig(operation_timeout=0.3)),
    ],
    ids=["echoed-error", "html-200", "read-timeout", "stall-mid-body", "reset-mid-body",
         "operation-timeout"],
)
async def test_no_frame_or_chained_exception_holds_the_token(
    transport: str, handler: loopback.Handler, expected: type[errors.SdkError],
    timeouts: TimeoutConfig,
) -> None:
    with loopback.serve(handler) as server:
        config = _config(server.url, transport, timeout_config=timeouts,
                         retry_config=RetryConfig(max_attempts=2, initial_backoff=0))
        async with Client(config) as client:
            with pytest.raises(expected) as info:
                await _send(client)
    assert_nothing_captured_holds_the_token(info.value)


async def test_a_dispatch_failure_holds_no_token(transport: str) -> None:
    config = _config(loopback.refused_url(), transport)
    async with Client(config) as client:
        with pytest.raises(errors.DispatchFailure) as info:
            await _send(client)
    assert "ConnectError" in str(info.value)  # the cause's type is kept, as text
    assert_nothing_captured_holds_the_token(info.value)


async def test_construction_failures_hold_no_token(transport: str) -> None:
    async with Client(Config(transport=transport)) as client:  # type: ignore[arg-type]
        # a malformed token, and one whose issuer cannot route: both refused before any I/O
        for bad in (TOKEN + " ", make_token(issuer="https://evil.example/" + SEGMENTS[2])):
            with pytest.raises(errors.ConstructionFailure) as info:
                await client.global_sign_out().access_token(bad).send()
            assert_nothing_captured_holds_the_token(info.value)


def test_the_check_itself_finds_a_token_in_a_frame() -> None:
    """The assertion above can fail: an SDK frame holding the token is caught. Called below
    the invoke boundary, the routing helper raises with the token in its locals."""
    from cognito_signout._token import region_from_token

    try:
        region_from_token(make_token(issuer="https://evil.example/" + SEGMENTS[2]))
    except errors.ConstructionFailure as exc:
        error = exc
    with pytest.raises(AssertionError):
        assert_nothing_captured_holds_the_token(error)


# --- item 3: a retry quota per endpoint -------------------------------------------------------

OUTAGE = loopback.service_error(503, "InternalErrorException")


async def test_an_outage_at_one_endpoint_cannot_spend_anothers_retries(
    transport: str, instant_retries: None
) -> None:
    blip = loopback.sequence(OUTAGE, loopback.ok)
    with loopback.serve(OUTAGE) as dead, loopback.serve(blip) as alive:
        retry = RetryConfig(max_attempts=3)
        async with Client(_config(alive.url, transport, retry_config=retry)) as client:

            async def to_dead() -> None:
                # forged tokens picked the region; here the endpoint is named per call
                with pytest.raises(errors.InternalErrorException):
                    await client.global_sign_out().access_token(TOKEN).customize(
                    ).config_override(endpoint_url=dead.url).send()

            async with anyio.create_task_group() as tg:
                for _ in range(40):
                    tg.start_soon(to_dead)
            assert client.retry_quota_for(dead.url).available < 14  # drained
            assert client.retry_quota.available == 500  # the configured endpoint's: untouched
            out = await client.global_sign_out().access_token(TOKEN).send()
            assert out.attempts == 2  # the 503 was retried, paid from its own endpoint's quota
            assert client.retry_quota_for(alive.url).available == 500  # refunded on success


def test_quotas_are_bounded_in_number() -> None:
    client = Client(Config(region="eu-west-1"))
    for n in range(200):
        client.retry_quota_for(f"https://cognito-idp.us-fake-{n}.example")
    assert len(client._runtime.retry_strategy.quotas) <= 64


# --- item 8: every logger ------------------------------------------------------------------


def _echo_everywhere(conn: loopback.Conn, request: loopback.Request) -> bool:
    body = ('{"__type":"NotAuthorizedException","message":"' + TOKEN + '"}').encode()
    head = (
        f"HTTP/1.1 400 {TOKEN}\r\nContent-Type: {loopback.JSON}\r\n"
        f"x-amzn-RequestId: {TOKEN}\r\nx-echo: {SEGMENTS[2]}\r\n"
        f"x-amzn-ErrorType: NotAuthorizedException\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return conn.send(head.encode() + body)


def _echo_on_success(conn: loopback.Conn, request: loopback.Request) -> bool:
    return conn.respond(200, b"{}", [("x-amzn-RequestId", TOKEN), ("x-echo", SEGMENTS[1])])


@pytest.fixture
def every_record() -> Iterator[io.StringIO]:
    """DEBUG on for every logger, formatted by a handler on the root logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    names = ["httpx", "httpcore", "aiohttp", "cognito_signout", "asyncio", "hpack"]
    previous = {name: logging.getLogger(name).level for name in names}
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("handler", [_echo_everywhere, _echo_on_success], ids=["error", "ok"])
async def test_no_log_record_of_any_logger_holds_the_token(
    transport: str, handler: loopback.Handler, every_record: io.StringIO
) -> None:
    with loopback.serve(handler) as server:
        async with Client(_config(server.url, transport)) as client:
            try:
                await _send(client)
            except errors.SdkError as exc:
                logging.getLogger("app").warning("sign-out failed: %s", exc)
    logged = every_record.getvalue()
    assert "receive_response_headers" in logged or transport == "aiohttp"  # httpcore did log
    for part in (TOKEN, *SEGMENTS):
        assert part not in logged


async def test_a_callers_httpx_client_logs_no_token(every_record: io.StringIO) -> None:
    with loopback.serve(_echo_everywhere) as server:
        async with httpx.AsyncClient() as http, Client(
            _config(server.url, "httpcore"), http_client=http
        ) as client:
            with pytest.raises(errors.NotAuthorizedException):
                await _send(client)
    logged = every_record.getvalue()
    assert "HTTP Request: POST" in logged  # httpx's own INFO line, reason phrase included
    for part in (TOKEN, *SEGMENTS):
        assert part not in logged


# --- the property suite: generated hostile responses, both transports -------------------------

_ECHOES = st.sampled_from(
    [TOKEN, *SEGMENTS, TOKEN.replace(".", "\\u002e"), "x" * 50, "", "\x1b]0;t\x07", "\ud800"]
)
_TEXT = st.text(st.characters(codec="latin-1"), max_size=40)
_BODIES = st.one_of(
    st.binary(max_size=2048),
    st.builds(lambda e, m: ('{"__type":"' + m + '","message":"' + e + '"}').encode(
        "utf-8", "surrogatepass"), _ECHOES, _TEXT),
    st.builds(lambda n: b"[" * n + b"]" * n, st.integers(0, 5000)),
    st.builds(lambda n: b'{"message":' + b"9" * n + b"}", st.integers(0, 20000)),
    st.builds(lambda e, n: (e * n).encode("utf-8", "surrogatepass"), _ECHOES,
              st.integers(0, 300)),
)


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    status = draw(st.integers(100, 599).filter(lambda s: s not in (101, 204, 304) and s >= 200))
    reason = draw(st.one_of(_ECHOES, _TEXT)).encode("latin-1", "replace")
    reason = reason.replace(b"\r", b"").replace(b"\n", b"")
    body = draw(_BODIES)
    headers = [(b"Content-Length", str(len(body)).encode())]
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from([b"x-amzn-RequestId", b"x-amzn-ErrorType", b"x-echo",
                                     b"x-amz-retry-after", b"Content-Type"]))
        value = draw(st.one_of(_ECHOES, _TEXT)).encode("latin-1", "replace")
        headers.append((name, value.replace(b"\r", b"").replace(b"\n", b"")))
    head = b"HTTP/1.1 %d %s\r\n" % (status, reason)
    return head + b"".join(n + b": " + v + b"\r\n" for n, v in headers) + b"\r\n" + body


class _Slot:
    raw = b""

    def __call__(self, conn: loopback.Conn, request: loopback.Request) -> bool:
        conn.send(self.raw)
        return False  # close: no keep-alive state carries over between examples


@pytest.fixture(scope="module")
def hostile_server() -> Iterator[tuple[loopback.LoopbackServer, _Slot]]:
    slot = _Slot()
    with loopback.serve(slot) as server:
        yield server, slot


async def _one_hostile_call(url: str, transport: str) -> tuple[object, float]:
    """The outcome and the longest stall of a ticker running beside the call."""
    longest = 0.0
    done = False

    async def ticker() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done:
            await anyio.sleep(0.001)
            now = time.perf_counter()
            longest, last = max(longest, now - last), now

    config = _config(url, transport, timeout_config=TimeoutConfig(operation_timeout=2.0))
    outcome: object
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        async with Client(config) as client:
            try:
                outcome = await client.global_sign_out().access_token(TOKEN).send()
            except errors.SdkError as exc:
                outcome = exc
        done = True
    return outcome, longest


@pytest.mark.parametrize("kind", ["httpcore", "aiohttp"])
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=responses())
def test_any_hostile_response_is_typed_clean_and_bounded(
    hostile_server: tuple[loopback.LoopbackServer, _Slot], kind: str, raw: bytes
) -> None:
    server, slot = hostile_server
    slot.raw = raw
    gc.collect()
    tracemalloc.start()
    try:
        outcome, stall = anyio.run(_one_hostile_call, server.url, kind)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, errors.SdkError)
        assert_nothing_captured_holds_the_token(outcome)
        str(outcome).encode("utf-8")  # always encodes
    else:
        assert isinstance(outcome, cognito_signout.GlobalSignOutOutput)
        assert not _leaks(outcome.request_id)
    assert stall < 0.25, f"the event loop stalled {stall * 1000:.0f} ms"
    assert peak < 16 * 1024 * 1024, f"peak traced memory {peak} bytes"

