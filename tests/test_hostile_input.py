"""Hostile input, as hypothesis property tests (modest example counts: the suite stays fast).

- Token validation and routing get arbitrary text, bytes and objects: they return or raise
  ``ConstructionFailure``, and never quote the token back.
- The error parser gets arbitrary bytes, headers and JSON: it never raises and never keeps the
  token.
- Response handling (``_Call._classify``, the seam between a response and a result) gets any
  status, headers and body: it returns a result only for a confirmable 2xx, otherwise raises a
  typed ``SdkError``, and the token appears nowhere in what it raises.
- The capped body reader gets any content-encoding and any bytes: bytes or ``ResponseError``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cognito_signout import Config, errors
from cognito_signout._protocol import check_success, error_for, parse_error
from cognito_signout._runtime import CallResult, Runtime, _Call
from cognito_signout._token import region_from_token, validate_access_token
from cognito_signout._transport import MAX_BODY_BYTES, Exchange, _read_capped
from cognito_signout.operations.global_sign_out import OPERATION

from .tokens import TOKEN

ERRORS = OPERATION.errors

T = TypeVar("T")
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# A marker no SDK message contains, so "the message quotes the input" is unambiguous.
MARK = "Qz7uXk2Wv9Lm"

# --- strategies -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# Header values as bytes a server could send on HTTP/1.1 (no CR, LF or NUL), sometimes carrying
# the token, as an echoing server would.
header_bytes = st.one_of(
    st.binary(max_size=40).map(lambda b: bytes(c for c in b if c not in b"\r\n\x00")),
    st.sampled_from([TOKEN.encode(), b"NotAuthorizedException", b"x#" + TOKEN.encode(),
                     b"application/json; " + TOKEN.encode()]),
)
header_names = st.sampled_from(
    [b"x-amzn-errortype", b"x-amzn-requestid", b"x-amz-request-id", b"content-type",
     b"content-encoding", b"x-amz-retry-after", b"location", b"x-other"]
)
headers = st.lists(st.tuples(header_names, header_bytes), max_size=6)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Raw bytes, or JSON documents that may carry the token in any string."""
    kind = draw(st.sampled_from(["bytes", "json", "error", "echo"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    fields: dict[str, Any] = {
        draw(st.sampled_from(["__type", "code"])): draw(
            st.sampled_from(["NotAuthorizedException", "com.amazon#ThrottlingException:x",
                             "", TOKEN, "x" * 300])
        ),
        draw(st.sampled_from(["message", "Message", "errorMessage"])): draw(
            st.sampled_from([f"Invalid token {TOKEN}", TOKEN, "", "revoked"]) | st.text()
        ),
        "reasonCode": draw(st.text(max_size=20) | st.integers()),
    }
    document = json.dumps(fields).encode()
    if kind == "echo":  # truncated or padded, as a broken proxy might send
        cut = draw(st.integers(0, len(document)))
        return document[:cut] + draw(st.binary(max_size=20))
    return document


def _outcome(fn: Callable[[], T]) -> T | errors.SdkError:
    """What ``fn()`` returned, or the SdkError it raised; anything else propagates and fails."""
    try:
        return fn()
    except errors.SdkError as exc:
        return exc


def _leaks(exc: BaseException) -> list[str]:
    """Every place the token shows up in what a caller can see of ``exc``."""
    found = []
    for name, text in (("str", str(exc)), ("repr", repr(exc)),
                       ("notes", " ".join(getattr(exc, "__notes__", [])))):
        if TOKEN in text:
            found.append(name)
    for attr in ("code", "message", "request_id", "reason_code"):
        value = getattr(exc, attr, None)
        if isinstance(value, str) and TOKEN in value:
            found.append(attr)
    response = getattr(exc, "response", None)
    if response is not None:
        if TOKEN.encode() in response.content:
            found.append("response.content")
        if TOKEN.encode() in response.request.content:
            found.append("response.request.content")
        if any(TOKEN.encode() in value for _, value in response.headers.raw):
            found.append("response.headers")
    return found


# --- the token --------------------------------------------------------------------------------


@FAST
@given(st.text())
def test_token_validation_on_any_text(text: str) -> None:
    value = MARK + text
    outcome = _outcome(lambda: validate_access_token(value))
    if isinstance(outcome, errors.SdkError):
        assert isinstance(outcome, errors.ConstructionFailure)
        assert MARK not in str(outcome)
    else:
        assert outcome == value


@FAST
@given(st.one_of(st.binary(), st.none(), st.integers(), st.lists(st.text()), st.floats()))
def test_token_validation_on_anything_but_text(value: object) -> None:
    with pytest.raises(errors.ConstructionFailure) as info:
        validate_access_token(value)
    if isinstance(value, bytes) and len(value) > 8:
        assert repr(value) not in str(info.value)


@FAST
@given(st.text(), st.text(), st.text())
def test_routing_by_token_on_any_text(head: str, payload: str, signature: str) -> None:
    token = f"{head}.{MARK}{payload}.{signature}"
    outcome = _outcome(lambda: region_from_token(token))
    # arbitrary text is never a readable claims document, so never routed
    assert isinstance(outcome, errors.ConstructionFailure)
    assert MARK not in str(outcome)


@FAST
@given(claims=st.dictionaries(st.sampled_from(["iss", "token_use", "sub"]), json_values))
def test_routing_by_token_on_any_claims(claims: dict[str, Any]) -> None:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    claims["marker"] = MARK
    token = ".".join([b64(b'{"alg":"RS256"}'), b64(json.dumps(claims).encode()), MARK])
    outcome = _outcome(lambda: region_from_token(token))
    if isinstance(outcome, errors.SdkError):
        assert isinstance(outcome, errors.ConstructionFailure)
        assert MARK not in str(outcome)
    else:
        # only a well-formed Cognito issuer routes, and only to the region it names
        assert claims["iss"].startswith(f"https://cognito-idp.{outcome}.")


# --- the error parser -------------------------------------------------------------------------


@FAST
@given(headers, bodies())
def test_error_parser_never_raises_and_never_keeps_the_token(
    raw_headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    fields = parse_error(httpx.Headers(raw_headers), body, token=TOKEN)
    for value in (fields.code, fields.message, fields.reason_code):
        assert value is None or TOKEN not in value


def decoded_response(
    status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes
) -> httpx.Response:
    """The response as the SDK holds it after the transport read it: ``body`` is already
    decoded, so a generated Content-Encoding must not make httpx decode it again here."""
    kept = [(k, v) for k, v in raw_headers if k.lower() != b"content-encoding"]
    return httpx.Response(status, headers=kept, content=body)


@FAST
@given(st.integers(300, 599), headers, bodies())
def test_error_for_any_error_response_is_a_typed_service_error(
    status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    response = decoded_response(status, raw_headers, body)
    error = error_for(response, body, token=TOKEN, table=ERRORS)
    assert isinstance(error, errors.ServiceError)
    assert error.status_code == status
    if error.code is not None and error.code in ERRORS:
        assert type(error) is ERRORS[error.code]


@FAST
@given(st.integers(200, 299), headers, bodies())
def test_check_success_accepts_only_a_json_object_or_nothing(
    status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    response = decoded_response(status, raw_headers, body)
    outcome = _outcome(lambda: check_success(response, body))
    if isinstance(outcome, errors.SdkError):
        assert isinstance(outcome, errors.ResponseError)
    else:
        stripped = body.strip()
        assert not stripped or isinstance(json.loads(stripped), dict)


# --- response handling, end to end of the classify seam ---------------------------------------


@pytest.fixture(scope="module")
def call() -> _Call:
    config = Config(region="eu-west-1")
    runtime = Runtime(config, None)  # its HTTP client is only made on first use: never here
    headers, body = {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(
        {"AccessToken": TOKEN}
    ).encode()
    return _Call(runtime, OPERATION, config, httpx.URL("https://cognito-idp.eu-west-1.amazonaws.com/"),
                 headers, body, (TOKEN,), (), _never_sends)


async def _never_sends(request: httpx.Request) -> httpx.Response:
    raise AssertionError("the classify seam sends nothing")


@FAST
@given(status=st.integers(100, 599), raw_headers=headers, body=bodies())
def test_any_response_is_a_result_or_a_typed_error_without_the_token(
    call: _Call, status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    request = call.build_request()
    response = httpx.Response(status, headers=raw_headers, content=body, request=request)
    result = _outcome(lambda: call._classify(Exchange(response, body)))
    if isinstance(result, errors.SdkError):
        assert isinstance(result, errors.ResponseError | errors.ServiceError)
        assert result.status_code == status
        assert not _leaks(result), _leaks(result)
        if 200 <= status < 300:
            assert isinstance(result, errors.ResponseError)  # never a ServiceError for a 2xx
    else:
        assert isinstance(result, CallResult)
        assert 200 <= status < 300
        assert not body.strip() or isinstance(json.loads(body), dict)
        assert result.request_id is None or TOKEN not in result.request_id


# --- the capped body reader -------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    encoding=st.sampled_from(["gzip", "deflate", "identity", "br", "x-gzip", "", "GZIP "])
    | st.text(max_size=60).filter(lambda s: "\r" not in s and "\n" not in s),
    body=st.binary(max_size=2000),
)
def test_the_body_reader_returns_bytes_or_a_response_error(encoding: str, body: bytes) -> None:
    async def read() -> bytes:
        response = httpx.Response(
            200, headers=[(b"content-encoding", encoding.encode("utf-8"))],
            stream=httpx.ByteStream(body),
        )
        return await _read_capped(response)

    data = _outcome(lambda: anyio.run(read))
    if isinstance(data, errors.SdkError):
        assert isinstance(data, errors.ResponseError)
        assert data.status_code == 200
    else:
        assert len(data) <= MAX_BODY_BYTES
