"""The access token never shows: not in a repr, a log record, an exception or a kept response."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest
import respx

from cognito_signout import Client, Config, RetryConfig, errors
from cognito_signout._token import REDACTED

from .tokens import make_token

pytestmark = [pytest.mark.anyio, pytest.mark.respx(assert_all_called=False)]
URL = "https://cognito-idp.eu-west-1.amazonaws.com/"
TOKEN = make_token()
OTHER = make_token("us-east-1")  # a token that is not the one sent



def _everything_about(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for attr in ("message", "code", "request_id"):
        parts.append(str(getattr(exc, attr, "")))
    response = getattr(exc, "response", None)
    if response is not None:
        parts += [response.text, repr(response.headers), response.request.content.decode(),
                  repr(response.request.headers)]
    return "\n".join(parts)


async def test_reprs_are_redacted() -> None:
    async with Client(Config(region="eu-west-1")) as client:
        builder = client.global_sign_out().access_token(TOKEN)
        things = [builder, builder.as_input(), builder.as_input().build(), builder.customize(),
                  builder.customize().config_override(app_name="x"), client]
        for thing in things:
            assert TOKEN not in repr(thing)
            assert TOKEN not in str(thing)
        assert REDACTED in repr(builder)
        assert builder.get_access_token() == TOKEN
        assert builder.as_input().get_access_token() == TOKEN


async def test_builders_are_immutable_templates() -> None:
    async with Client(Config(region="eu-west-1")) as client:
        empty = client.global_sign_out()
        filled = empty.access_token(TOKEN)
        assert empty.get_access_token() is None
        assert filled.get_access_token() == TOKEN
        assert filled.set_access_token(None).get_access_token() is None
        assert filled.get_access_token() == TOKEN


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"__type": "NotAuthorizedException", "message": TOKEN}),  # moto's echo
        (400, {"__type": "NotAuthorizedException", "message": f"Invalid token: {TOKEN}."}),
        (500, {"message": f"boom {OTHER}"}),
        (400, {"__type": "InvalidParameterException", "message": "x", "reasonCode": "r"}),
    ],
)
async def test_echoed_tokens_are_scrubbed_from_errors(
    wire: respx.MockRouter, status: int, body: dict[str, str]
) -> None:
    wire.post(URL).respond(status, json=body)
    async with Client(Config(region="eu-west-1", retry_config=RetryConfig.disabled())) as c:
        with pytest.raises(errors.ServiceError) as info:
            await c.global_sign_out().access_token(TOKEN).send()
    text = _everything_about(info.value)
    assert TOKEN not in text
    assert OTHER not in text


async def test_token_scrubbed_from_unconfirmable_2xx(wire: respx.MockRouter) -> None:
    wire.post(URL).respond(200, html=f"<html>hello {TOKEN}</html>")
    async with Client(Config(region="eu-west-1", retry_config=RetryConfig.disabled())) as c:
        with pytest.raises(errors.ResponseError) as info:
            await c.global_sign_out().access_token(TOKEN).send()
    assert TOKEN not in _everything_about(info.value)


async def test_log_records_carry_no_token(
    wire: respx.MockRouter, caplog: pytest.LogCaptureFixture, instant_retries: None
) -> None:
    wire.post(URL).mock(
        side_effect=[
            httpx.Response(500, json={"message": TOKEN}),
            httpx.Response(400, json={"__type": "NotAuthorizedException", "message": TOKEN}),
        ]
    )
    async with Client(Config(region="eu-west-1")) as client:
        with caplog.at_level(logging.DEBUG), pytest.raises(errors.NotAuthorizedException):
            await client.global_sign_out().access_token(TOKEN).send()
    ours = [r for r in caplog.records if r.name == "cognito_signout"]
    assert len(ours) == 3  # two attempts + one retry line
    first = ours[0].getMessage()
    assert "attempt=1" in first and "status=500" in first and "elapsed_ms=" in first
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in str(record.args)


async def test_construction_failures_do_not_echo(wire: respx.MockRouter) -> None:
    bad = TOKEN + " "
    async with Client(Config(region="eu-west-1")) as client:
        with pytest.raises(errors.ConstructionFailure) as info:
            await client.global_sign_out().access_token(bad).send()
    assert TOKEN not in _everything_about(info.value)


async def test_dispatch_failure_does_not_echo(wire: respx.MockRouter) -> None:
    wire.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    async with Client(Config(region="eu-west-1", retry_config=RetryConfig.disabled())) as c:
        with pytest.raises(errors.DispatchFailure) as info:
            await c.global_sign_out().access_token(TOKEN).send()
    assert TOKEN not in _everything_about(info.value)
