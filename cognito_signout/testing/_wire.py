"""The fake's wire: reading a request and writing answers the way Cognito does (AWS JSON 1.1).

A request is read in two steps. :func:`parse` checks what every operation shares (``POST /``,
``X-Amz-Target``, the content type, a JSON object body) and gives the operation and the body;
the operation's handler then takes its members with :func:`token_member`,
:func:`string_member` and :func:`enum_member`, which refuse a bad value with Cognito's
``InvalidParameterException`` text (the value itself is never echoed: most are credentials).

Answers: :func:`response` writes the headers Cognito sends (content type, request id, and a
``Date`` from the fake's clock: the SDK takes a sign-out's revocation cutoff from it);
:func:`error_document` gives an error's ``x-amzn-errortype`` header and ``{"__type",
"message"}`` body; :func:`status_for` gives the status Cognito uses for an error code.

The key set (``GET /{pool id}/.well-known/jwks.json``) is not an AWS JSON 1.1 operation:
:func:`key_set_pool` recognises its request before :func:`parse` would refuse it.
"""

from __future__ import annotations

import email.utils
import json
import re
import uuid
from collections.abc import Collection, Mapping
from typing import Any

import attrs
import httpx

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"

# The service model's patterns. In ``[A-Za-z0-9-_=.]+`` the '-' after 9 is a literal.
TOKEN_PATTERN = (re.compile(r"[A-Za-z0-9\-_=.]+"), "[A-Za-z0-9-_=.]+")
WORD_PATTERN = (re.compile(r"[\w+]+", re.ASCII), "[\\w+]+")

_ATTEMPT_RE = re.compile(r"attempt=(\d+)")
_KEY_SET_PATH = re.compile(r"/(?P<pool>[^/]{1,128})/\.well-known/jwks\.json")
# Cognito's own hosts name their region (cognito-idp[-fips].<region>.amazonaws.com[.cn],
# cognito-idp.<region>.api.aws): a key set asked of another region's host is not this pool's.
_COGNITO_HOST = re.compile(r"cognito-idp(?:-fips)?\.(?P<region>[a-z0-9-]+)\.")

# HTTP statuses by error code; everything unlisted is a client fault, 400 on AWS JSON 1.1.
_STATUS_BY_CODE = {
    "TooManyRequestsException": 429,
    "InternalErrorException": 500,
    "ForbiddenException": 403,
}


class Refusal(Exception):
    """The request is answered with a Cognito error (``code``, ``message``, HTTP ``status``)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status if status is not None else status_for(code)


def status_for(code: str | None) -> int:
    """The status Cognito answers an error code with: 429, 500, 403, else 400 (500 if none)."""
    return _STATUS_BY_CODE.get(code or "", 400 if code else 500)


@attrs.frozen
class Parsed:
    """What :func:`parse` made of a request. ``refusal`` is set when it is malformed; the
    operation (None without a Cognito target) and the body (empty if unreadable) are kept
    either way, so a failure injected for the request still applies."""

    operation: str | None
    document: Mapping[str, Any]
    refusal: Refusal | None


def parse(request: httpx.Request, body: bytes, operations: Collection[str]) -> Parsed:
    """The operation and JSON body of a request, or the refusal Cognito gives a malformed one.

    ``operations`` are the ones served; any other target is an ``UnknownOperationException``.
    """
    target = request.headers.get("x-amz-target", "")
    operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else None
    if request.method != "POST" or request.url.path != "/":
        return Parsed(operation, {}, Refusal("UnknownOperationException", "Unknown operation"))
    if operation not in operations:
        message = "Unknown operation" if operation is None else f"{operation} is not faked"
        return Parsed(operation, {}, Refusal("UnknownOperationException", message))
    if request.headers.get("content-type", "").split(";")[0].strip() != JSON_CONTENT_TYPE:
        return Parsed(
            operation, {}, Refusal("SerializationException", "Unsupported content type")
        )
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        return Parsed(operation, {}, Refusal("SerializationException", "Malformed request body"))
    return Parsed(operation, document, None)


def key_set_pool(request: httpx.Request) -> str | None:
    """The pool id of a key-set request (``GET /{pool id}/.well-known/jwks.json``), else None."""
    if request.method != "GET":
        return None
    found = _KEY_SET_PATH.fullmatch(request.url.path)
    return found["pool"] if found else None


def host_region(request: httpx.Request) -> str | None:
    """The region a Cognito host names (``cognito-idp.eu-west-1.amazonaws.com``); None for any
    other host (an emulator's, a test's ``http://fake``)."""
    found = _COGNITO_HOST.match(request.url.host)
    return found["region"] if found else None


def attempt_of(request: httpx.Request) -> int | None:
    """The SDK's attempt number, from ``amz-sdk-request: attempt=N; max=M``."""
    found = _ATTEMPT_RE.search(request.headers.get("amz-sdk-request", ""))
    return int(found.group(1)) if found else None


# -- members ------------------------------------------------------------------------------------


def _field(name: str) -> str:
    """The member as Cognito's validation messages name it: ``AccessToken`` -> ``accessToken``."""
    return name[:1].lower() + name[1:]


def string_member(
    document: Mapping[str, Any],
    name: str,
    pattern: tuple[re.Pattern[str], str],
    *,
    required: bool = True,
    max_len: int | None = None,
) -> str | None:
    """A string member, checked like Cognito's request validation (presence, length, pattern).

    An absent optional member is None. The refusals name the member, never its value.
    """
    value = document.get(name)
    if value is None or (required and not isinstance(value, str)):
        if required:
            raise _invalid(f"Value null at '{_field(name)}' failed to satisfy constraint: "
                           "Member must not be null")
        return None
    if not isinstance(value, str):
        raise _invalid(f"Value at '{_field(name)}' failed to satisfy constraint: Member must "
                       "be a string")
    if not value or (max_len is not None and len(value) > max_len):
        span = "greater than or equal to 1" if max_len is None else f"between 1 and {max_len}"
        raise _invalid(f"Value at '{_field(name)}' failed to satisfy constraint: Member must "
                       f"have length {span}")
    regex, shown = pattern
    if regex.fullmatch(value) is None:
        raise _invalid(f"Value at '{_field(name)}' failed to satisfy constraint: Member must "
                       f"satisfy regular expression pattern: {shown}")
    return value


def token_member(document: Mapping[str, Any], name: str) -> str:
    """A required token member (``AccessToken``, ``Token``)."""
    value = string_member(document, name, TOKEN_PATTERN)
    assert value is not None
    return value


def enum_member(document: Mapping[str, Any], name: str, choices: Collection[str]) -> str | None:
    """An optional enum member (``RevokeAssociatedSessions``)."""
    value = document.get(name)
    if value is None:
        return None
    if value not in choices:
        raise _invalid(f"Value at '{_field(name)}' failed to satisfy constraint: Member must "
                       f"satisfy enum value set: [{', '.join(choices)}]")
    return str(value)


def carried(document: Mapping[str, Any], name: str) -> str | None:
    """A member's value if it is a string, unchecked: the token a request carries, for the
    record and for matching injected failures, even when it is malformed."""
    value = document.get(name)
    return value if isinstance(value, str) else None


def _invalid(detail: str) -> Refusal:
    return Refusal("InvalidParameterException", f"1 validation error detected: {detail}")


# -- answers ------------------------------------------------------------------------------------


def error_document(
    code: str | None, message: str, headers: Mapping[str, str] | None = None
) -> tuple[bytes, dict[str, str]]:
    """An error's body and headers: ``x-amzn-errortype`` and ``{"__type", "message"}``, or only
    ``{"message"}`` for an error without a code (a proxy's, say)."""
    all_headers = dict(headers or {})
    document: dict[str, str] = {"message": message}
    if code:
        all_headers["x-amzn-errortype"] = code
        document = {"__type": code, "message": message}
    return json.dumps(document).encode(), all_headers


def success_document(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def response(
    request: httpx.Request, status: int, body: bytes, headers: Mapping[str, str], now: float
) -> tuple[httpx.Response, str]:
    """The answer with Cognito's headers, and its new request id. ``headers`` win.

    ``now`` (the fake's clock) is the ``Date``, in RFC 7231's IMF-fixdate form: formatdate is
    locale-independent, unlike strftime's ``%a``/``%b``.
    """
    request_id = str(uuid.uuid4())
    all_headers = {
        "content-type": JSON_CONTENT_TYPE,
        "x-amzn-requestid": request_id,
        "date": email.utils.formatdate(now, usegmt=True),
        **{k.lower(): v for k, v in headers.items()},
    }
    return httpx.Response(status, headers=all_headers, content=body, request=request), request_id
