"""Every response becomes a typed result: success, a ServiceError subclass, or a ResponseError."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from cognito_signout import Client, Config, RetryConfig, errors
from cognito_signout.operations.global_sign_out import OPERATION

from .tokens import TOKEN

ERRORS = OPERATION.errors

pytestmark = [pytest.mark.anyio, pytest.mark.respx(assert_all_called=False)]
URL = "https://cognito-idp.eu-west-1.amazonaws.com/"
MODELED = [
    "ResourceNotFoundException", "InvalidParameterException", "NotAuthorizedException",
    "TooManyRequestsException", "PasswordResetRequiredException", "UserNotConfirmedException",
    "OperationNotEnabledException", "InternalErrorException", "ForbiddenException",
]



async def _send(**config: object) -> None:
    cfg = Config(region="eu-west-1", retry_config=RetryConfig.disabled(), **config)  # type: ignore[arg-type]
    async with Client(cfg) as client:
        await client.global_sign_out().access_token(TOKEN).send()


def test_hierarchy() -> None:
    assert issubclass(errors.ConstructionFailure, ValueError)
    assert issubclass(errors.TimeoutError, TimeoutError)
    for cls in (errors.ConstructionFailure, errors.TimeoutError, errors.DispatchFailure,
                errors.ResponseError, errors.ServiceError):
        assert issubclass(cls, errors.SdkError)
    assert set(ERRORS) == set(MODELED)
    for code in MODELED:
        cls = getattr(errors, code)
        assert cls.__name__ == code and issubclass(cls, errors.ServiceError)


@pytest.mark.parametrize("code", MODELED)
async def test_each_modeled_error_by_header(wire: respx.MockRouter, code: str) -> None:
    status = 429 if code == "TooManyRequestsException" else 500 if "Internal" in code else 400
    wire.post(URL).respond(
        status,
        headers={"x-amzn-errortype": f"{code}:http://internal.amazon.com/coral/",
                 "x-amzn-requestid": "rid-7"},
        json={"__type": f"com.amazonaws.cognito#{code}", "message": "nope"},
    )
    with pytest.raises(getattr(errors, code)) as info:
        await _send()
    exc = info.value
    assert exc.code == code
    assert exc.message == "nope"
    assert exc.request_id == "rid-7"
    assert exc.status_code == status
    assert isinstance(exc.response, httpx.Response) and exc.response.status_code == status
    assert code in str(exc) and "rid-7" in str(exc)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"__type": "NotAuthorizedException", "message": "m"}, "NotAuthorizedException"),
        ({"__type": "com.amazonaws.cognito.idp#NotAuthorizedException"}, "NotAuthorizedException"),
        ({"code": "NotAuthorizedException", "__type": "Other"}, "NotAuthorizedException"),
        ({"__type": "NotAuthorizedException:http://x/y#z"}, "NotAuthorizedException"),
    ],
)
async def test_code_from_body(wire: respx.MockRouter, body: dict[str, str], code: str) -> None:
    wire.post(URL).respond(400, json=body)
    with pytest.raises(errors.NotAuthorizedException) as info:
        await _send()
    assert info.value.code == code


@pytest.mark.parametrize("key", ["message", "Message", "errorMessage"])
async def test_message_keys(wire: respx.MockRouter, key: str) -> None:
    wire.post(URL).respond(400, json={"__type": "UserNotConfirmedException", key: "confirm"})
    with pytest.raises(errors.UserNotConfirmedException) as info:
        await _send()
    assert info.value.message == "confirm"


async def test_invalid_parameter_reason_code(wire: respx.MockRouter) -> None:
    wire.post(URL).respond(
        400, json={"__type": "InvalidParameterException", "message": "m", "reasonCode": "X_Y"}
    )
    with pytest.raises(errors.InvalidParameterException) as info:
        await _send()
    assert info.value.reason_code == "X_Y"


async def test_unknown_code_is_plain_service_error(wire: respx.MockRouter) -> None:
    wire.post(URL).respond(400, json={"__type": "CodeFromTheFuture", "message": "m"})
    with pytest.raises(errors.ServiceError) as info:
        await _send()
    assert type(info.value) is errors.ServiceError
    assert info.value.code == "CodeFromTheFuture"


@pytest.mark.parametrize(
    ("status", "content", "content_type"),
    [
        (502, b"<html><body>Bad Gateway</body></html>", "text/html"),
        (500, b"", "application/json"),
        (503, b"{truncated", "application/json"),
        (400, b"[1, 2, 3]", "application/json"),
        (400, b"\xff\xfe\x00garbage", "application/octet-stream"),
        (418, b'{"message": "teapot"}', "application/json"),
    ],
)
async def test_no_code_gives_code_none(
    wire: respx.MockRouter, status: int, content: bytes, content_type: str
) -> None:
    wire.post(URL).respond(status, content=content, headers={"content-type": content_type,
                                                             "x-amzn-requestid": "r"})
    with pytest.raises(errors.ServiceError) as info:
        await _send()
    exc = info.value
    assert type(exc) is errors.ServiceError
    assert exc.code is None
    assert exc.status_code == status
    assert exc.request_id == "r"
    assert exc.response is not None and exc.response.content == content


async def test_redirect_is_a_service_error_and_not_followed(wire: respx.MockRouter) -> None:
    wire.post(URL).respond(307, headers={"location": "http://127.0.0.1:1/steal"})
    other = wire.post("http://127.0.0.1:1/steal").respond(200, json={})
    with pytest.raises(errors.ServiceError) as info:
        await _send()
    assert info.value.status_code == 307
    assert "redirect" in str(info.value)
    assert other.call_count == 0


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"<html>Welcome to the hotel wifi</html>", "text/html"),
        (b"[]", "application/json"),
        (b'"ok"', "application/json"),
        (b"{not json", "application/x-amz-json-1.1"),
    ],
)
async def test_2xx_that_is_not_a_json_object_is_never_success(
    wire: respx.MockRouter, content: bytes, content_type: str
) -> None:
    wire.post(URL).respond(200, content=content, headers={"content-type": content_type,
                                                          "x-amzn-requestid": "r2"})
    with pytest.raises(errors.ResponseError) as info:
        await _send()
    assert info.value.status_code == 200
    assert info.value.request_id == "r2"
    assert info.value.response is not None


async def test_connection_refused_is_dispatch_failure(wire: respx.MockRouter) -> None:
    wire.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(errors.DispatchFailure):
        await _send()


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectTimeout("t"), "connect"),
        (httpx.ReadTimeout("t"), "read"),
        (httpx.WriteTimeout("t"), "write"),
        (httpx.PoolTimeout("t"), "pool"),
    ],
)
async def test_every_timeout_is_timeout_error(
    wire: respx.MockRouter, exc: Exception, kind: str
) -> None:
    wire.post(URL).mock(side_effect=exc)
    with pytest.raises(errors.TimeoutError) as info:
        await _send()
    assert info.value.kind == kind
    assert not isinstance(info.value, errors.DispatchFailure)


async def test_error_response_keeps_raw_body(wire: respx.MockRouter) -> None:
    body = {"__type": "ForbiddenException", "message": "waf"}
    wire.post(URL).respond(403, json=body)
    with pytest.raises(errors.ForbiddenException) as info:
        await _send()
    assert info.value.response is not None
    assert json.loads(info.value.response.content) == body
