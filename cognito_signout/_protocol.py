"""AWS JSON 1.1: build a request's headers and body, read a success, parse an error.

Pure functions over bytes and headers; no I/O. Nothing here may raise anything but an
:class:`~cognito_signout.errors.SdkError`, whatever the server sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

import httpx

from . import errors
from ._token import scrub, scrub_bytes

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "AWSCognitoIdentityProviderService"
_MAX_CODE_CHARS = 256
_MAX_MESSAGE_CHARS = 4096


def serialize(operation: str, params: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
    """The protocol's headers and the JSON body of one operation call."""
    body = _ENCODER.encode(params).encode()
    headers = {
        "Content-Type": CONTENT_TYPE,
        "X-Amz-Target": f"{TARGET_PREFIX}.{operation}",
    }
    return headers, body


# json.dumps builds a new encoder on every call when given separators.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def request_id(headers: httpx.Headers) -> str | None:
    return headers.get("x-amzn-requestid") or headers.get("x-amz-request-id") or None


def check_success(response: httpx.Response, body: bytes) -> None:
    """A 2xx is a confirmed success only if its body is empty or a JSON object.

    A captive portal or proxy can answer 200 with an HTML page; that must never be taken for a
    completed sign-out.
    """
    if body == b"{}" or not body.strip():  # Cognito's success answer, without a JSON parse
        return
    parsed = _json_or_none(body)
    if not isinstance(parsed, dict):
        raise errors.ResponseError(
            f"HTTP {response.status_code} response is not a JSON object "
            f"(content-type {response.headers.get('content-type', 'missing')!r}); "
            f"the operation cannot be confirmed",
            status_code=response.status_code,
            request_id=request_id(response.headers),
            response=response,
        )


class ErrorFields(NamedTuple):
    code: str | None
    message: str | None
    reason_code: str | None


def parse_error(headers: httpx.Headers, body: bytes, *, token: str | None) -> ErrorFields:
    """Code, message and reason code of an error response, by the union of the SDKs' rules.

    The code comes from ``x-amzn-errortype``, else the body's ``code``, else ``__type``; it is cut
    at the first ``:`` and after the last ``#``. Messages are scrubbed of the token.
    """
    document = _json_or_none(body)
    fields: dict[str, Any] = document if isinstance(document, dict) else {}

    raw_code = headers.get("x-amzn-errortype") or _str(fields.get("code")) or _str(
        fields.get("__type")
    )
    code = _clean_code(raw_code) if raw_code else None

    message = None
    for key in ("message", "Message", "errorMessage"):
        value = _str(fields.get(key))
        if value is not None:
            message = scrub(value[:_MAX_MESSAGE_CHARS], token)
            break
    reason = _str(fields.get("reasonCode"))
    return ErrorFields(code=code, message=message, reason_code=reason and reason[:256])


def error_for(
    response: httpx.Response,
    body: bytes,
    *,
    token: str | None,
    table: Mapping[str, type[errors.ServiceError]],
    headers: httpx.Headers | None = None,
) -> errors.ServiceError:
    """The typed error for a non-2xx response: the modeled class for its code, else ServiceError.

    ``headers`` are read instead of ``response.headers`` when given: the runtime passes the
    received (tamed) headers, already looked up once, and keeps the fresh scrubbed copy in the
    error; the names read here are the same in both.
    """
    if headers is None:
        headers = response.headers
    parsed = parse_error(headers, body, token=token)
    cls = table.get(parsed.code, errors.ServiceError) if parsed.code else errors.ServiceError
    message = parsed.message
    if message is None and 300 <= response.status_code < 400:
        message = "unexpected redirect; redirects are never followed"
    common: dict[str, Any] = {
        "code": parsed.code,
        "message": message,
        "status_code": response.status_code,
        "request_id": request_id(headers),
        "response": response,
    }
    if issubclass(cls, errors.InvalidParameterException):
        return cls(**common, reason_code=parsed.reason_code)
    return cls(**common)


def scrubbed_response(response: httpx.Response, body: bytes, token: str | None) -> httpx.Response:
    """A copy of ``response`` (and its request) that holds no trace of the token.

    Errors keep the response for debugging; without this, ``exc.response.request.content`` and
    an emulator's echo in ``exc.response.text`` would both carry the credential.
    """
    # Built from ready streams and header lists, the copies are what ``content=`` would make
    # (the request keeps its headers, the response gets a Content-Length for its new body)
    # without httpx preparing and re-normalising every header: on the error path this copy
    # was the dearest step of a call.
    request = response.request
    redacted_request = httpx.Request(
        request.method,
        request.url,
        headers=request.headers,
        stream=httpx.ByteStream(
            scrub_bytes(request.content, token) if token else request.content
        ),
    )
    redacted_request.read()
    content = scrub_bytes(body, token)
    headers = []
    for name, value in response.headers.raw:
        key = name.lower()  # lower-case names, as multi_items() gave them
        if key not in (b"content-encoding", b"content-length", b"transfer-encoding"):
            headers.append((key, value))
    if content:
        headers.append((b"Content-Length", str(len(content)).encode("ascii")))
    copy = httpx.Response(
        response.status_code,
        headers=headers,
        stream=httpx.ByteStream(content),
        request=redacted_request,
        extensions={k: v for k, v in response.extensions.items() if k == "http_version"},
    )
    # What copy.read() leaves behind, set directly: its run through httpx's decoder and
    # chunker machinery for a body already in hand cost 10 us, twice the rest of the copy.
    # tests/test_redaction.py and test_errors read the kept response's content and text.
    copy._content = content
    copy.is_stream_consumed = True
    copy.is_closed = True
    return copy


def _clean_code(raw: str) -> str | None:
    code = raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()
    return code[:_MAX_CODE_CHARS] or None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _json_or_none(body: bytes) -> object:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None
