"""cognito_signout.fastapi on AWS Lambda: API Gateway events through Mangum, moto behind.

Each test drives a sequence of Lambda-shaped invocations, the way a warm container receives
them: one ``Mangum`` handler called again and again in one process, with API Gateway HTTP API
(payload 2.0) or REST API (payload 1.0) events built as dicts and a fake LambdaContext.

How Mangum runs them (mangum 0.17 to 0.22, read from its source): every invocation runs on the
thread's current asyncio event loop (``asyncio.get_event_loop()``, made once by ``Mangum()``
when there is none) with ``loop.run_until_complete``, so warm invocations share one loop that
sits idle in between. With ``lifespan="auto"`` (or ``"on"``) each invocation is wrapped in a
whole ASGI lifespan, startup and shutdown; with ``"off"`` there is none at all.

What is checked is observable: moto refuses the token afterwards, the same token is then a
401, the ``client_factory`` is called once per warm container, and a keep-alive front for
moto, counting connections, shows that the invocations share one connection to Cognito.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal

import attrs
import httpx
import pytest
from fastapi import Depends, FastAPI
from mangum import Mangum
from mangum.types import LambdaCognitoIdentity, LambdaMobileClientContext

from cognito_signout import Client, Config, errors
from cognito_signout.emulator import MotoCognito
from cognito_signout.fastapi import CognitoSignOut

from .loopback import Conn, LoopbackServer, Request

pytestmark = pytest.mark.integration

LAMBDA_ENV = "AWS_LAMBDA_FUNCTION_NAME"
Lifespan = Literal["auto", "off"]
Payload = Literal["v2", "v1"]

# --- a keep-alive front for moto, counting connections -----------------------------------------

# moto's server (werkzeug) answers "Connection: close" to everything, where Cognito keeps
# connections alive: this front keeps them alive, relays each request to moto, and counts the
# connections the SDK opens.
_RELAYED = ("content-type", "x-amzn-requestid", "x-amzn-errortype", "x-amzn-error-message")


@pytest.fixture
def relay(moto: MotoCognito) -> Iterator[LoopbackServer]:
    upstream = httpx.Client(base_url=moto.endpoint_url, trust_env=False)

    def forward(conn: Conn, request: Request) -> bool:
        headers = {k: v for k, v in request.headers.items()
                   if k in ("content-type", "x-amz-target")}
        response = upstream.request(
            request.method, request.target, content=request.body, headers=headers
        )
        kept = [(k, v) for k, v in response.headers.items() if k.lower() in _RELAYED]
        return conn.respond(response.status_code, response.content, kept)

    try:
        with LoopbackServer(forward) as server:
            server.url = server.url.rstrip("/")
            yield server
    finally:
        upstream.close()


# --- Lambda-shaped invocations -------------------------------------------------------------------


@attrs.define
class FakeLambdaContext:
    """What the Lambda Python runtime passes as ``context`` (the attributes Mangum may read)."""

    function_name: str = "cognito-signout-test"
    function_version: str = "$LATEST"
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:cognito-signout-test"
    )
    memory_limit_in_mb: int = 256
    aws_request_id: str = attrs.field(factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/cognito-signout-test"
    log_stream_name: str = "2024/01/01/[$LATEST]0123456789abcdef"
    identity: LambdaCognitoIdentity | None = None
    client_context: LambdaMobileClientContext | None = None

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def http_api_event(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """An API Gateway HTTP API event, payload format 2.0, as Lambda delivers it."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "user-agent": "curl/8.4.0",
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
            **{name.lower(): value for name, value in headers.items()},
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.4.0",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2024:00:00:00 +0000",
            "timeEpoch": 1704067200000,
        },
        "isBase64Encoded": False,
    }


def rest_api_event(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """An API Gateway REST API (proxy integration) event, payload format 1.0."""
    all_headers = {
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "curl/8.4.0",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "443",
        **headers,
    }
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.4.0"},
            "path": f"/prod{path}",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "resourcePath": "/{proxy+}",
            "stage": "prod",
        },
        "body": None,
        "isBase64Encoded": False,
    }


EVENTS: dict[Payload, Callable[[str, str, dict[str, str]], dict[str, Any]]] = {
    "v2": http_api_event,
    "v1": rest_api_event,
}


@attrs.frozen
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def answer(result: dict[str, Any]) -> Answer:
    """The HTTP answer in Mangum's Lambda result (either payload format)."""
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
    headers = {name.lower(): value for name, value in (result.get("headers") or {}).items()}
    return Answer(result["statusCode"], headers, body)


@pytest.fixture
def event_loop_of_the_container() -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh current loop, as a new Lambda container has; closed when the test ends.

    Mangum takes the thread's current loop: a loop left by another test (or closed by
    asyncio.run) must not be the one it picks up.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@attrs.define
class Container:
    """One warm Lambda container: the module-level objects of a handler file."""

    cognito: CognitoSignOut
    handler: Mangum
    made: list[Client]  # every client the integration built
    payload: Payload

    def invoke(self, method: str, path: str, headers: dict[str, str] | None = None) -> Answer:
        event = EVENTS[self.payload](method, path, headers or {})
        return answer(self.handler(event, FakeLambdaContext()))

    def sign_out(self, token: str) -> Answer:
        return self.invoke("POST", "/sign-out", {"Authorization": f"Bearer {token}"})


def container(
    endpoint_url: str,
    lifespan: Lifespan,
    payload: Payload,
    **options: Any,
) -> Container:
    made: list[Client] = []

    def counting_factory(config: Config) -> Client:
        client = Client(config)
        made.append(client)
        return client

    cognito = CognitoSignOut(
        client_factory=counting_factory, region="us-east-1", endpoint_url=endpoint_url,
        **options,
    )
    app = FastAPI(lifespan=cognito.lifespan)
    app.include_router(cognito.router)

    shared = Depends(cognito.client)  # (a string annotation could not see `cognito`)

    @app.get("/client")
    async def which_client(client: Client = shared) -> dict[str, Any]:
        return {"id": id(client), "closed": client.is_closed}

    return Container(cognito, Mangum(app, lifespan=lifespan), made, payload)


def close(box: Container, loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(box.cognito.aclose())


# --- the contract --------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", ["v2", "v1"])
@pytest.mark.parametrize("lifespan", ["auto", "off"])
def test_warm_invocations_share_one_client_and_sign_out_for_real(
    moto: MotoCognito,
    relay: LoopbackServer,
    event_loop_of_the_container: asyncio.AbstractEventLoop,
    monkeypatch: pytest.MonkeyPatch,
    lifespan: Lifespan,
    payload: Payload,
) -> None:
    monkeypatch.setenv(LAMBDA_ENV, "cognito-signout-test")  # what Lambda sets
    alice, bob = moto.create_user(), moto.create_user()
    box = container(relay.url, lifespan, payload)
    assert box.made == []  # nothing opened at import: no I/O before the first invocation

    signed_out = box.sign_out(alice.access_token)
    refused_by_cognito = not moto.access_token_accepted(alice.access_token)
    again = box.sign_out(alice.access_token)
    other = box.sign_out(bob.access_token)
    probe = box.invoke("GET", "/client")

    assert signed_out.status == 204, signed_out
    assert signed_out.headers["x-cognito-request-id"]
    assert refused_by_cognito
    assert again.status == 401
    assert again.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert again.json()["error"] == "invalid_token"
    assert alice.access_token.encode() not in again.body
    assert other.status == 204
    assert not moto.access_token_accepted(bob.access_token)
    # One client for the warm container, still open between invocations...
    [client] = box.made
    assert probe.json() == {"id": id(client), "closed": False}
    # ...and one connection to Cognito, kept alive across the invocations.
    assert relay.connections_total == 1
    close(box, event_loop_of_the_container)
    assert client.is_closed


def test_outside_lambda_the_lifespan_of_each_invocation_closes_the_client(
    relay: LoopbackServer,
    event_loop_of_the_container: asyncio.AbstractEventLoop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without AWS_LAMBDA_FUNCTION_NAME a lifespan shutdown is the app's end, as under uvicorn."""
    monkeypatch.delenv(LAMBDA_ENV, raising=False)
    box = container(relay.url, "auto", "v2")
    for _ in range(3):
        assert box.invoke("GET", "/client").status == 200
    assert len(box.made) == 3
    assert all(client.is_closed for client in box.made)


def test_close_on_shutdown_false_keeps_the_client_wherever_it_runs(
    moto: MotoCognito,
    relay: LoopbackServer,
    event_loop_of_the_container: asyncio.AbstractEventLoop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(LAMBDA_ENV, raising=False)
    box = container(relay.url, "auto", "v1", close_on_shutdown=False)
    users = [moto.create_user() for _ in range(3)]
    assert [box.sign_out(user.access_token).status for user in users] == [204] * 3
    assert len(box.made) == 1 and not box.made[0].is_closed
    assert relay.connections_total == 1
    close(box, event_loop_of_the_container)


def test_close_on_shutdown_true_closes_it_even_under_lambda(
    relay: LoopbackServer,
    event_loop_of_the_container: asyncio.AbstractEventLoop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(LAMBDA_ENV, "cognito-signout-test")
    box = container(relay.url, "auto", "v2", close_on_shutdown=True)
    for _ in range(2):
        assert box.invoke("GET", "/client").status == 200
    assert len(box.made) == 2 and all(client.is_closed for client in box.made)


def test_a_new_event_loop_between_invocations(
    moto: MotoCognito,
    relay: LoopbackServer,
    event_loop_of_the_container: asyncio.AbstractEventLoop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mangum uses the thread's current loop: if something replaces it, the client follows.

    The same Client opens a new transport (a new connection) in the new loop; its old
    connection belonged to the old loop.
    """
    monkeypatch.setenv(LAMBDA_ENV, "cognito-signout-test")
    box = container(relay.url, "auto", "v2")
    first, second = moto.create_user(), moto.create_user()
    assert box.sign_out(first.access_token).status == 204

    other_loop = asyncio.new_event_loop()
    asyncio.set_event_loop(other_loop)
    try:
        assert box.sign_out(second.access_token).status == 204
        assert box.sign_out(second.access_token).status == 401
        assert len(box.made) == 1
        assert relay.connections_total == 2
        other_loop.run_until_complete(box.cognito.aclose())
    finally:
        asyncio.set_event_loop(event_loop_of_the_container)
        other_loop.close()
    assert not moto.access_token_accepted(second.access_token)


def test_a_kept_client_is_closed_at_interpreter_exit(
    relay: LoopbackServer,
    event_loop_of_the_container: asyncio.AbstractEventLoop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The atexit hook closes it in its own (idle) loop: what a local run of a handler gets."""
    from cognito_signout import fastapi as integration

    monkeypatch.setenv(LAMBDA_ENV, "cognito-signout-test")
    box = container(relay.url, "off", "v2")
    assert box.invoke("GET", "/client").status == 200
    [client] = box.made
    assert not client.is_closed
    integration._close_kept()  # what atexit runs
    assert client.is_closed
    # A later invocation (a process that carries on after all) opens a new one.
    assert box.invoke("GET", "/client").status == 200
    assert len(box.made) == 2
    close(box, event_loop_of_the_container)


def test_a_configuration_that_cannot_work_is_a_typed_error_not_a_runtime_error(
    event_loop_of_the_container: asyncio.AbstractEventLoop,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """lifespan="off": the first request opens the client, and fails with ConstructionFailure."""
    box = container("http://127.0.0.1:9", "off", "v2", use_fips=True)
    with caplog.at_level(logging.ERROR, logger="mangum"):
        result = box.sign_out("tok")
    assert result.status == 500
    assert box.made == []
    [record] = [r for r in caplog.records if r.exc_info]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], errors.ConstructionFailure)
    assert not isinstance(record.exc_info[1], RuntimeError)
