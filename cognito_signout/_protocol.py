"""AWS JSON 1.1: build a request's headers and body, read a success, parse an error.

Pure functions over bytes and headers; no I/O. Nothing here may raise anything but an
:class:`~cognito_signout.errors.SdkError`, whatever the server sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import httpx

from . import errors
from ._token import Scrubber, scrub

# One call's sensitive values (a token, a client secret...), or the Scrubber made of them once.
Secrets = str | Sequence[str] | Scrubber | None

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "AWSCognitoIdentityProviderService"
_MAX_CODE_CHARS = 256
_MAX_MESSAGE_CHARS = 4096
_MAX_CONTENT_TYPE_CHARS = 100
# How much of a body is parsed, scrubbed and kept. Cognito's answers are a few hundred bytes;
# the transport admits up to 1 MiB, and all of it is the server's to fill. Parsing 1 MiB of
# JSON took 40-60 ms (a list of small numbers, an object of many keys), scrubbing it 20-35 ms,
# all on the event loop; 64 KiB bounds each to a few milliseconds. A longer error body is kept
# as a scrubbed prefix with a marker; a longer 2xx body is no confirmation of anything.
MAX_PARSED_BYTES = 64 * 1024


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


def request_id(headers: httpx.Headers, *, token: Secrets = None) -> str | None:
    """The response's request id, scrubbed of ``token`` (a server may echo part of it there)
    and of anything JWT-shaped."""
    found: str | None = headers.get("x-amzn-requestid") or headers.get("x-amz-request-id")
    if not found:
        return None
    if token is None and "." not in found:
        return found  # a request id as Cognito sends it: nothing to scrub, on every success
    return scrub(found, token)


def check_success(response: httpx.Response, body: bytes, *, token: Secrets = None) -> None:
    """A 2xx is a confirmed success only if its body is empty or a JSON object.

    A captive portal or proxy can answer 200 with an HTML page; that must never be taken for a
    completed sign-out. ``token`` is scrubbed from the header value the error quotes.
    """
    if body == b"{}" or not body.strip():  # Cognito's success answer, without a JSON parse
        return
    if len(body) > MAX_PARSED_BYTES:
        problem = f"body of {len(body)} bytes is too large to be a sign-out confirmation"
    elif isinstance(_json_or_none(body), dict):
        return
    else:
        problem = "is not a JSON object"
    content_type = response.headers.get("content-type", "missing")
    described = repr(scrub(content_type, token)[:_MAX_CONTENT_TYPE_CHARS])
    raise errors.ResponseError(
        f"HTTP {response.status_code} response {problem} "
        f"(content-type {described}); the operation cannot be confirmed",
        status_code=response.status_code,
        request_id=request_id(response.headers, token=token),
        response=response,
    )


class ErrorFields(NamedTuple):
    code: str | None
    message: str | None
    reason_code: str | None


def parse_error(headers: httpx.Headers, body: bytes, *, token: Secrets) -> ErrorFields:
    """Code, message and reason code of an error response, by the union of the SDKs' rules.

    The code comes from ``x-amzn-errortype``, else the body's ``code``, else ``__type``; it is cut
    at the first ``:`` and after the last ``#``. Every field is scrubbed of the token (its
    decoded value: JSON escapes cannot hide it) before it is cut to length, so a cut cannot
    leave part of a token behind. A body over :data:`MAX_PARSED_BYTES` is not parsed.
    """
    document = _json_or_none(body)
    fields: dict[str, Any] = document if isinstance(document, dict) else {}
    clean = Scrubber.of(token)

    raw_code = headers.get("x-amzn-errortype") or _str(fields.get("code")) or _str(
        fields.get("__type")
    )
    code = _clean_code(clean.text(raw_code)) if raw_code else None

    message = None
    for key in ("message", "Message", "errorMessage"):
        value = _str(fields.get(key))
        if value is not None:
            message = clean.text(value)[:_MAX_MESSAGE_CHARS]
            break
    reason = _str(fields.get("reasonCode"))
    return ErrorFields(
        code=code, message=message, reason_code=reason and clean.text(reason)[:256]
    )


def error_for(
    response: httpx.Response,
    body: bytes,
    *,
    token: Secrets,
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
        "request_id": request_id(headers, token=token),
        "response": response,
    }
    if issubclass(cls, errors.InvalidParameterException):
        return cls(**common, reason_code=parsed.reason_code)
    return cls(**common)


def scrubbed_response(
    response: httpx.Response,
    body: bytes,
    token: Secrets,
    *,
    request: httpx.Request | None = None,
) -> httpx.Response:
    """A copy of ``response`` (and its request) that holds no trace of the token.

    Errors keep the response for debugging; without this, ``exc.response.request.content`` and
    an emulator's echo in ``exc.response.text`` would both carry the credential. ``request``,
    when given, is one already built with a scrubbed body (``_runtime._Call._kept``): it is
    kept as it is, instead of a scrubbed copy of ``response.request``.
    """
    # Public httpx API only. Built from ready streams and read, the copies are what content=
    # would make, without httpx preparing and normalising every header again (content= cost
    # about 10 us more per error). The request keeps its headers, with the length of its
    # scrubbed body; the response gets a Content-Length for its new body.
    clean = Scrubber.of(token)
    redacted_request = request or _scrubbed_request(response.request, clean, bool(token))
    content = clean.body(body, limit=MAX_PARSED_BYTES)
    headers = []
    for name, value in response.headers.raw:
        key = name.lower()  # lower-case names, as multi_items() gave them
        if key not in (b"content-encoding", b"content-length", b"transfer-encoding"):
            headers.append((key, clean.raw(value)))
    if content:
        headers.append((b"Content-Length", str(len(content)).encode("ascii")))
    copy = httpx.Response(
        response.status_code,
        headers=headers,
        stream=httpx.ByteStream(content),
        request=redacted_request,
        extensions={k: v for k, v in response.extensions.items() if k == "http_version"},
    )
    copy.read()  # the public way to a response whose .content, .text and .json() work
    return copy


def _scrubbed_request(request: httpx.Request, clean: Scrubber, scrub_body: bool) -> httpx.Request:
    sent = request.content
    kept = clean.raw(sent) if scrub_body else sent
    copy = httpx.Request(
        request.method, request.url, headers=request.headers, stream=httpx.ByteStream(kept)
    )
    if len(kept) != len(sent) and "content-length" in copy.headers:
        copy.headers["Content-Length"] = str(len(kept))
    copy.read()
    return copy


def _clean_code(raw: str) -> str | None:
    code = raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()
    return code[:_MAX_CODE_CHARS] or None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _json_or_none(body: bytes) -> object:
    if not body or len(body) > MAX_PARSED_BYTES:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None
