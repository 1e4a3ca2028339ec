"""What goes on the wire: AWS JSON 1.1, unsigned, with the SDK's invocation headers."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest
import respx

from cognito_signout import Client, Config, RetryConfig, __version__

from .tokens import TOKEN

pytestmark = pytest.mark.anyio
URL = "https://cognito-idp.eu-west-1.amazonaws.com/"



async def test_request_is_aws_json_1_1(wire: respx.MockRouter) -> None:
    route = wire.post(URL).respond(200, json={}, headers={"x-amzn-requestid": "rid-1"})
    async with Client(Config(region="eu-west-1")) as client:
        out = await client.global_sign_out().access_token(TOKEN).send()
    assert out.request_id == "rid-1"
    assert out.attempts == 1
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url == URL
    assert request.headers["content-type"] == "application/x-amz-json-1.1"
    assert request.headers["x-amz-target"] == "AWSCognitoIdentityProviderService.GlobalSignOut"
    assert json.loads(request.content) == {"AccessToken": TOKEN}
    assert request.headers["content-length"] == str(len(request.content))


async def test_unsigned_even_with_credentials_in_environment(
    wire: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-example")
    route = wire.post(URL).respond(200, json={})
    async with Client(Config(region="eu-west-1")) as client:
        await client.global_sign_out().access_token(TOKEN).send()
    headers = route.calls.last.request.headers
    for name in ("authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"):
        assert name not in headers


async def test_caller_client_auth_and_headers_are_not_sent(wire: respx.MockRouter) -> None:
    route = wire.post(URL).respond(200, json={})
    http = httpx.AsyncClient(auth=("user", "pass"), headers={"Authorization": "Bearer leak"})
    async with Client(Config(region="eu-west-1"), http_client=http) as client:
        await client.global_sign_out().access_token(TOKEN).send()
    assert "authorization" not in route.calls.last.request.headers
    await http.aclose()


async def test_invocation_id_is_shared_by_attempts_and_attempt_header_counts(
    wire: respx.MockRouter, instant_retries: None
) -> None:
    route = wire.post(URL).mock(
        side_effect=[httpx.Response(503), httpx.Response(500), httpx.Response(200, json={})]
    )
    async with Client(Config(region="eu-west-1")) as client:
        out = await client.global_sign_out().access_token(TOKEN).send()
    assert out.attempts == 3
    requests = [call.request for call in route.calls]
    ids = {r.headers["amz-sdk-invocation-id"] for r in requests}
    assert len(ids) == 1
    uuid.UUID(ids.pop())
    assert [r.headers["amz-sdk-request"] for r in requests] == [
        "attempt=1; max=3", "attempt=2; max=3", "attempt=3; max=3",
    ]


async def test_each_call_gets_a_new_invocation_id(wire: respx.MockRouter) -> None:
    route = wire.post(URL).respond(200, json={})
    async with Client(Config(region="eu-west-1")) as client:
        builder = client.global_sign_out().access_token(TOKEN)
        await builder.send()
        await builder.send()
    ids = [c.request.headers["amz-sdk-invocation-id"] for c in route.calls]
    assert len(set(ids)) == 2


async def test_max_in_attempt_header_follows_retry_config(wire: respx.MockRouter) -> None:
    route = wire.post(URL).respond(200, json={})
    config = Config(region="eu-west-1", retry_config=RetryConfig.standard().with_max_attempts(5))
    async with Client(config) as client:
        await client.global_sign_out().access_token(TOKEN).send()
    assert route.calls.last.request.headers["amz-sdk-request"] == "attempt=1; max=5"


async def test_user_agent_names_sdk_version_and_app(wire: respx.MockRouter) -> None:
    route = wire.post(URL).respond(200, json={})
    async with Client(Config(region="eu-west-1", app_name="billing-svc")) as client:
        await client.global_sign_out().access_token(TOKEN).send()
    agent = route.calls.last.request.headers["user-agent"]
    assert re.search(rf"\bcognito-signout/{re.escape(__version__)}\b", agent)
    assert agent.endswith(" app/billing-svc")
    assert route.calls.last.request.headers["x-amz-user-agent"] == agent


async def test_request_id_falls_back_to_x_amz_request_id(wire: respx.MockRouter) -> None:
    wire.post(URL).respond(200, json={}, headers={"x-amz-request-id": "fallback"})
    async with Client(Config(region="eu-west-1")) as client:
        out = await client.global_sign_out().access_token(TOKEN).send()
    assert out.request_id == "fallback"


@pytest.mark.parametrize("body", [b"", b"{}", b'{"unexpected": "field"}', b"  {}  "])
async def test_success_bodies(wire: respx.MockRouter, body: bytes) -> None:
    wire.post(URL).respond(200, content=body)
    async with Client(Config(region="eu-west-1")) as client:
        out = await client.global_sign_out().access_token(TOKEN).send()
    assert out.request_id is None


async def test_mutate_request_sees_every_attempt(
    wire: respx.MockRouter, instant_retries: None
) -> None:
    route = wire.post(URL).mock(side_effect=[httpx.Response(500), httpx.Response(200, json={})])
    seen: list[str] = []

    def tag(request: httpx.Request) -> None:
        seen.append(request.headers["amz-sdk-request"])
        request.headers["x-trace-id"] = "trace-42"

    async with Client(Config(region="eu-west-1")) as client:
        await client.global_sign_out().access_token(TOKEN).customize().mutate_request(tag).send()
    assert seen == ["attempt=1; max=3", "attempt=2; max=3"]
    assert all(c.request.headers["x-trace-id"] == "trace-42" for c in route.calls)


async def test_config_override_changes_endpoint_for_one_call(wire: respx.MockRouter) -> None:
    other = wire.post("http://127.0.0.1:9/").respond(200, json={})
    default = wire.post(URL).respond(200, json={})
    async with Client(Config(region="eu-west-1")) as client:
        op = client.global_sign_out().access_token(TOKEN).customize()
        await op.config_override(endpoint_url="http://127.0.0.1:9/").send()
        await client.global_sign_out().access_token(TOKEN).send()
    assert other.call_count == 1
    assert default.call_count == 1


async def test_caller_owned_http_client_stays_open(wire: respx.MockRouter) -> None:
    wire.post(URL).respond(200, json={})
    http = httpx.AsyncClient()
    async with Client(Config(region="eu-west-1"), http_client=http) as client:
        await client.global_sign_out().access_token(TOKEN).send()
    assert client.is_closed
    assert not http.is_closed
    await http.aclose()


async def test_owned_http_client_is_closed(wire: respx.MockRouter) -> None:
    client = Client(Config(region="eu-west-1"))
    await client.aclose()
    assert client.is_closed
    from cognito_signout import errors

    with pytest.raises(errors.DispatchFailure, match="closed"):
        await client.global_sign_out().access_token(TOKEN).send()
    assert not wire.calls
