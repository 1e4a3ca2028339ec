"""cognito_signout.fastapi under a real uvicorn server, with moto or the fake behind it.

The app runs in ``uvicorn.Server`` on a thread, on 127.0.0.1 and a free port; requests are real
HTTP through httpx. Integration tests put moto's server behind the app and check afterwards
that moto refuses the token. Error mapping is driven through the fake (it can throttle and
fail on demand), still through uvicorn. Lifespan and dependency details run in process.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI, Request

from cognito_signout import Client, Config, errors
from cognito_signout.emulator import CognitoUser, MotoCognito
from cognito_signout.fastapi import CognitoSignOut, error_response
from cognito_signout.testing import FakeCognito

# --- a real server ------------------------------------------------------------------------------


@contextlib.contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1:<free port> in a thread; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # log_config=None: uvicorn leaves logging alone, its records reach pytest's caplog.
    config = uvicorn.Config(app, lifespan="on", log_config=None, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)

    def run() -> None:
        with contextlib.suppress(SystemExit):  # uvicorn exits when the lifespan fails
            server.run(sockets=[sock])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    assert not thread.is_alive(), "uvicorn did not stop"


def make_app(cognito: CognitoSignOut) -> tuple[FastAPI, list[Client]]:
    """The contract's app, plus endpoints that show which client served them."""
    seen: list[Client] = []
    app = FastAPI(lifespan=cognito.lifespan)
    app.include_router(cognito.router)
    shared = Depends(cognito.client)  # i.e. `client: Client = Depends(cognito.client)`

    @app.post("/my-logout")
    async def my_logout(request: Request, client: Client = shared) -> Any:
        seen.append(client)
        token = (await request.json())["token"]
        try:
            out = await client.global_sign_out().access_token(token).send()
        except errors.SdkError as exc:
            return error_response(exc)
        return {"request_id": out.request_id}

    @app.get("/client")
    async def which_client(client: Client = shared) -> dict[str, Any]:
        seen.append(client)
        return {"id": id(client), "closed": client.is_closed}

    return app, seen


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_no_secret(response: httpx.Response, token: str) -> None:
    assert token not in response.text
    assert all(token not in value for value in response.headers.values())


# --- with moto behind the app -------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_app(moto: MotoCognito) -> Iterator[str]:
    cognito = CognitoSignOut(
        Config(region="us-east-1", endpoint_url=moto.endpoint_url, max_connections=16)
    )
    app, _ = make_app(cognito)
    with serve(app) as url:
        yield url


@pytest.mark.integration
def test_sign_out_revokes_the_users_tokens_at_cognito(moto: MotoCognito, moto_app: str) -> None:
    user = moto.create_user()
    assert moto.access_token_accepted(user.access_token)

    response = httpx.post(f"{moto_app}/sign-out", headers=bearer(user.access_token))

    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["x-cognito-request-id"]
    assert response.headers["cache-control"] == "no-store"
    assert not moto.access_token_accepted(user.access_token)
    assert not moto.refresh_token_accepted(user)


@pytest.mark.integration
def test_a_revoked_token_is_401_invalid_token(moto: MotoCognito, moto_app: str) -> None:
    user = moto.create_user()
    with httpx.Client(base_url=moto_app) as http:
        assert http.post("/sign-out", headers=bearer(user.access_token)).status_code == 204
        response = http.post("/sign-out", headers=bearer(user.access_token))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    body = response.json()
    assert body["error"] == "invalid_token"
    assert body["request_id"] == response.headers["x-cognito-request-id"]
    assert set(body) == {"error", "message", "request_id"}
    assert_no_secret(response, user.access_token)  # moto echoes it; it must not get through


@pytest.mark.integration
def test_own_endpoint_with_the_shared_client(moto: MotoCognito, moto_app: str) -> None:
    user = moto.create_user()
    with httpx.Client(base_url=moto_app) as http:
        first = http.get("/client").json()
        response = http.post("/my-logout", json={"token": user.access_token})
        again = http.post("/my-logout", json={"token": user.access_token})
        second = http.get("/client").json()

    assert response.status_code == 200 and response.json()["request_id"]
    assert again.status_code == 401  # error_response: the same mapping as /sign-out
    assert first == second and not first["closed"]  # one client for the app, kept open
    assert not moto.access_token_accepted(user.access_token)


def _users(moto: MotoCognito, count: int) -> list[CognitoUser]:
    moto.create_user()  # the pool, created once before the threads race for it
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: moto.create_user(), range(count)))


@pytest.mark.integration
@pytest.mark.anyio
async def test_100_simultaneous_logouts(moto: MotoCognito, moto_app: str) -> None:
    users = await anyio.to_thread.run_sync(_users, moto, 100)
    statuses: list[int] = []

    async def logout(http: httpx.AsyncClient, user: CognitoUser) -> None:
        response = await http.post("/sign-out", headers=bearer(user.access_token))
        statuses.append(response.status_code)

    limits = httpx.Limits(max_connections=100)
    async with (
        httpx.AsyncClient(base_url=moto_app, limits=limits, timeout=30) as http,
        anyio.create_task_group() as tasks,
    ):
        for user in users:
            tasks.start_soon(logout, http, user)

    assert statuses == [204] * 100
    with ThreadPoolExecutor(8) as pool:
        accepted = list(pool.map(lambda u: moto.access_token_accepted(u.access_token), users))
    assert not any(accepted)


@pytest.mark.anyio
async def test_100_simultaneous_logouts_share_the_pool(
    fake_app: tuple[str, FakeCognito],
) -> None:
    """Concurrent, and bounded: the app's one client queues beyond its max_connections (10)."""
    url, fake = fake_app
    fake.reset()
    fake.latency = 0.05
    tokens = [fake.issue_token() for _ in range(100)]
    statuses: list[int] = []

    async def logout(http: httpx.AsyncClient, token: str) -> None:
        statuses.append((await http.post("/sign-out", headers=bearer(token))).status_code)

    started = time.monotonic()
    try:
        async with (
            httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=100)) as http,
            anyio.create_task_group() as tasks,
        ):
            for token in tokens:
                tasks.start_soon(logout, http, token)
    finally:
        fake.latency = 0.0
    elapsed = time.monotonic() - started

    assert statuses == [204] * 100
    assert all(fake.signed_out(token) for token in tokens)
    assert fake.max_in_flight == 10
    assert elapsed < 100 * 0.05 / 3  # far from one at a time


@pytest.mark.integration
def test_no_token_in_any_log_line(
    moto: MotoCognito, moto_app: str, caplog: pytest.LogCaptureFixture
) -> None:
    user = moto.create_user()
    with caplog.at_level(logging.DEBUG):
        with httpx.Client(base_url=moto_app) as http:
            http.post("/sign-out", headers=bearer(user.access_token))
            http.post("/sign-out", headers=bearer(user.access_token))
            http.post("/sign-out", headers=bearer(user.access_token + "~"))
        time.sleep(0.05)  # the server thread's last records
    assert any(r.name == "cognito_signout.fastapi" for r in caplog.records)
    assert any(r.name == "uvicorn.access" for r in caplog.records)
    assert user.access_token not in caplog.text


# --- with the fake behind the app: the error mapping --------------------------------------------


@pytest.fixture(scope="module")
def fake_app() -> Iterator[tuple[str, FakeCognito]]:
    fake = FakeCognito()
    cognito = CognitoSignOut(Config(region="us-east-1"), client_factory=fake.client, retry_after=7)
    app, _ = make_app(cognito)
    with serve(app) as url:
        yield url, fake


@pytest.fixture
def behind(fake_app: tuple[str, FakeCognito], instant_retries: None) -> Iterator[
    tuple[httpx.Client, FakeCognito]
]:
    url, fake = fake_app
    fake.reset()
    with httpx.Client(base_url=url) as http:
        yield http, fake
    fake.reset()


Inject = Callable[[FakeCognito], None]


@pytest.mark.parametrize(
    ("inject", "status", "error", "headers"),
    [
        (lambda f: f.throttle(None), 429, "throttled", {"retry-after": "7"}),
        (lambda f: f.throttle(None, retry_after=2.5), 429, "throttled", {"retry-after": "3"}),
        (lambda f: f.fail_next(None, code="ThrottlingException"), 429, "throttled", {}),
        (lambda f: f.fail_next(None), 502, "bad_gateway", {}),
        (lambda f: f.fail_next(None, code="ResourceNotFoundException"), 502, "bad_gateway", {}),
        (lambda f: f.fail_next(None, code="ForbiddenException"), 502, "bad_gateway", {}),
        (lambda f: f.fail_next(None, code="OperationNotEnabledException"), 502, "bad_gateway",
         {}),
        (lambda f: f.fail_next(None, code=None, status=503, body=b"<html>down</html>"), 502,
         "bad_gateway", {}),
        (lambda f: f.fail_next(None, code=None, status=200, body=b"<html>portal</html>"), 502,
         "bad_gateway", {}),
        (lambda f: f.disconnect_next(None), 503, "unavailable", {"retry-after": "7"}),
        (lambda f: f.timeout_next(None), 503, "unavailable", {"retry-after": "7"}),
        (lambda f: f.fail_next(None, code="NotAuthorizedException"), 401, "invalid_token",
         {"www-authenticate": 'Bearer error="invalid_token"'}),
        (lambda f: f.fail_next(None, code="InvalidParameterException"), 400, "invalid_request",
         {}),
        (lambda f: f.fail_next(None, code="PasswordResetRequiredException"), 403, "forbidden",
         {}),
        (lambda f: f.fail_next(None, code="UserNotConfirmedException"), 403, "forbidden", {}),
    ],
    ids=[
        "throttled", "throttled-hint", "throttling-code", "internal-error", "not-found", "waf",
        "not-enabled", "html-5xx", "html-200", "disconnect", "timeout", "not-authorized",
        "invalid-parameter", "password-reset", "not-confirmed",
    ],
)
def test_error_mapping(
    behind: tuple[httpx.Client, FakeCognito],
    inject: Inject,
    status: int,
    error: str,
    headers: dict[str, str],
) -> None:
    http, fake = behind
    token = fake.issue_token()
    inject(fake)

    response = http.post("/sign-out", headers=bearer(token))

    assert response.status_code == status
    assert len(response.content) < 256  # a small JSON object
    body = response.json()
    assert body["error"] == error
    assert body["message"]
    assert response.headers["cache-control"] == "no-store"
    for name, value in headers.items():
        assert response.headers[name] == value
    answered = [c for c in fake.calls if c.request_id]
    if answered:  # Cognito sent a request id: it is passed on, for support cases
        assert body["request_id"] == answered[-1].request_id
        assert response.headers["x-cognito-request-id"] == body["request_id"]
    else:
        assert "request_id" not in body
    assert_no_secret(response, token)
    assert not fake.signed_out(token)


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Token abc", "Bearer a b", "Bearer a\tb",
     "Bearer ä".encode(), "Bearer=abc"],
)
def test_missing_or_malformed_bearer_is_401_and_nothing_is_sent(
    behind: tuple[httpx.Client, FakeCognito], authorization: str | bytes | None
) -> None:
    http, fake = behind
    value = authorization.encode() if isinstance(authorization, str) else authorization
    headers = [] if value is None else [(b"Authorization", value)]
    response = http.post("/sign-out", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "invalid_request"
    assert fake.calls == []


def test_two_authorization_headers_are_refused(behind: tuple[httpx.Client, FakeCognito]) -> None:
    http, fake = behind
    token = fake.issue_token()
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    response = http.post("/sign-out", headers=headers)
    assert response.status_code == 401
    assert fake.calls == []


@pytest.mark.parametrize("token", ["abc~def", "abc+def", "abc/def", "a" * 10 + "/="])
def test_a_token_cognito_cannot_accept_is_400_and_not_sent(
    behind: tuple[httpx.Client, FakeCognito], token: str
) -> None:
    http, fake = behind
    response = http.post("/sign-out", headers=bearer(token))
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request", "message": "The access token is malformed."
    }
    assert fake.calls == []


def test_scheme_is_case_insensitive(behind: tuple[httpx.Client, FakeCognito]) -> None:
    http, fake = behind
    token = fake.issue_token()
    response = http.post("/sign-out", headers={"Authorization": f"bEaReR   {token}"})
    assert response.status_code == 204
    assert fake.signed_out(token)


def test_retries_happen_before_answering(behind: tuple[httpx.Client, FakeCognito]) -> None:
    http, fake = behind
    token = fake.issue_token()
    fake.throttle(2)
    response = http.post("/sign-out", headers=bearer(token))
    assert response.status_code == 204
    assert [c.attempt for c in fake.calls] == [1, 2, 3]


def test_the_lifespan_closes_the_client_on_shutdown() -> None:
    fake = FakeCognito()
    cognito = CognitoSignOut(Config(region="us-east-1"), client_factory=fake.client)
    app, seen = make_app(cognito)
    with serve(app) as url:
        assert httpx.get(f"{url}/client").json()["closed"] is False
    [client] = seen
    assert client.is_closed
    assert "open_clients=0" in repr(cognito)


def test_startup_fails_on_an_impossible_endpoint_configuration() -> None:
    cognito = CognitoSignOut(Config(endpoint_url="http://127.0.0.1:9", use_fips=True))
    app, _ = make_app(cognito)
    with pytest.raises(RuntimeError, match="did not start"), serve(app):
        pass


# --- in process: lifespan, dependency, OpenAPI, the users' recipe ------------------------------


on_both_backends = pytest.mark.anyio  # asyncio and trio (e.g. Hypercorn)


@on_both_backends
async def test_config_from_env_is_read_at_startup_not_at_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cognito = CognitoSignOut()
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    async with cognito.lifespan(FastAPI()) as state:
        [client] = state.values()
    assert isinstance(client, Client)
    assert client.config.region == "ap-south-1"
    assert client.is_closed


@on_both_backends
async def test_without_the_lifespan_the_first_request_opens_the_client() -> None:
    """Mangum's lifespan="off", or an ASGITransport: no lifespan runs, and the app still
    serves, with one client opened on the first request and reused after it."""
    fake = FakeCognito()
    made: list[Client] = []

    def factory(config: Config) -> Client:
        made.append(fake.client(config))
        return made[-1]

    cognito = CognitoSignOut(Config(region="us-east-1"), client_factory=factory)
    app, _ = make_app(cognito)
    transport = httpx.ASGITransport(app)  # runs no lifespan
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        assert (await http.post("/sign-out", headers=bearer("tok"))).status_code == 204
        assert (await http.post("/sign-out", headers=bearer("tok2"))).status_code == 204
    assert len(made) == 1
    assert fake.signed_out("tok") and fake.signed_out("tok2")
    await cognito.aclose()
    assert made[0].is_closed


@on_both_backends
async def test_a_lifespan_that_drops_the_state_still_works() -> None:
    """The fallback for a composed lifespan that yields nothing (or a mounted sub-app)."""
    fake = FakeCognito()
    cognito = CognitoSignOut(Config(region="us-east-1"), client_factory=fake.client)
    app, _ = make_app(cognito)
    async with (
        cognito.lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://app") as http,
    ):
        response = await http.post("/sign-out", headers=bearer("tok"))
    assert response.status_code == 204
    assert fake.signed_out("tok")


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app's lifespan running, its state passed to each request as a server passes it."""
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            await app({**scope, "state": dict(state or {})}, receive, send)

        transport = httpx.ASGITransport(with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            yield http


@on_both_backends
async def test_composed_lifespans_and_two_integrations_in_one_app() -> None:
    pool_a, pool_b = FakeCognito(region="eu-west-1"), FakeCognito(region="us-west-2")
    a = CognitoSignOut(Config(region="eu-west-1"), client_factory=pool_a.client)
    b = CognitoSignOut(Config(region="us-west-2"), client_factory=pool_b.client)
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with a.lifespan(app) as state_a, b.lifespan(app) as state_b:
            events.append("own startup")
            yield {**state_a, **state_b, "mine": 1}
            events.append("own shutdown")

    app = FastAPI(lifespan=lifespan)
    app.include_router(a.router, prefix="/a")
    app.include_router(b.router, prefix="/b")
    async with running(app) as http:
        token_a, token_b = pool_a.issue_token(), pool_b.issue_token()
        assert (await http.post("/a/sign-out", headers=bearer(token_a))).status_code == 204
        assert (await http.post("/b/sign-out", headers=bearer(token_b))).status_code == 204
    assert events == ["own startup", "own shutdown"]
    assert pool_a.signed_out(token_a) and not pool_a.signed_out(token_b)
    assert pool_b.signed_out(token_b) and not pool_b.signed_out(token_a)


@on_both_backends
async def test_dependency_overrides_replace_the_client(cognito_fake: FakeCognito) -> None:
    other = FakeCognito()
    cognito = CognitoSignOut(Config(region="us-east-1"))
    app, _ = make_app(cognito)

    async def override() -> Client:
        return other.client()

    app.dependency_overrides[cognito.client] = override
    async with running(app) as http:
        assert (await http.post("/sign-out", headers=bearer("tok"))).status_code == 204
    assert other.signed_out("tok")
    assert cognito_fake.calls == []


@on_both_backends
async def test_users_recipe_the_cognito_fake_fixture(cognito_fake: FakeCognito) -> None:
    """The README's recipe: an app built for production, tested with the fixture."""
    cognito = CognitoSignOut(Config(region="eu-west-1"))
    app = FastAPI(lifespan=cognito.lifespan)
    app.include_router(cognito.router)

    token = cognito_fake.issue_token("alice")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://app") as http,
    ):
        assert (await http.post("/sign-out", headers=bearer(token))).status_code == 204
        again = await http.post("/sign-out", headers=bearer(token))
        cognito_fake.throttle(None)
        throttled = await http.post("/sign-out", headers=bearer(cognito_fake.issue_token()))
    assert again.status_code == 401
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "1"
    assert cognito_fake.signed_out(token)


def test_openapi_documents_the_route_and_the_bearer_scheme() -> None:
    cognito = CognitoSignOut(Config(region="us-east-1"), path="/logout", tags=["sessions"])
    app = FastAPI(lifespan=cognito.lifespan)
    app.include_router(cognito.router)
    document = app.openapi()
    operation = document["paths"]["/logout"]["post"]
    assert operation["tags"] == ["sessions"]
    assert {"204", "400", "401", "403", "429", "502", "503"} <= set(operation["responses"])
    assert operation["security"] == [{"HTTPBearer": []}]
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_constructor_arguments_are_checked() -> None:
    with pytest.raises(errors.ConstructionFailure, match="config must be"):
        CognitoSignOut("eu-west-1")  # type: ignore[arg-type]
    with pytest.raises(errors.ConstructionFailure, match="retry_after"):
        CognitoSignOut(retry_after=-1)


def _service_error(cls: type[errors.ServiceError], status: int, **extra: Any) -> Any:
    code = None if cls is errors.ServiceError else cls.__name__
    response = httpx.Response(status, headers=extra.pop("headers", {}))
    return cls(code=code, message="m", status_code=status, request_id="rid-1",
               response=response, **extra)


@pytest.mark.parametrize(
    ("exc", "status", "retry_after"),
    [
        (errors.ConstructionFailure("no region configured"), 400, None),
        (errors.DispatchFailure("refused"), 503, "1"),
        (errors.TimeoutError("slow", kind="operation"), 503, "1"),
        (errors.ResponseError("html", status_code=200), 502, None),
        (_service_error(errors.TooManyRequestsException, 429,
                        headers={"x-amz-retry-after": "1200"}), 429, "2"),
        (_service_error(errors.ServiceError, 429), 429, "1"),  # unmodeled 429: throttling
        (_service_error(errors.ServiceError, 500), 502, None),
        (_service_error(errors.InternalErrorException, 500), 502, None),
    ],
)
def test_error_response_for_each_kind(
    exc: errors.SdkError, status: int, retry_after: str | None
) -> None:
    response = error_response(exc)
    assert response.status_code == status
    assert response.headers.get("retry-after") == retry_after
    if isinstance(exc, errors.ServiceError):
        assert response.headers["x-cognito-request-id"] == "rid-1"
        assert b'"request_id":"rid-1"' in response.body
    assert b"no region configured" not in response.body  # no internal detail to the caller


# --- Retry-After is bounded, whatever the upstream hint says (issue 9) --------------------------

HINTS = [
    ("999999999999", "60"),  # the issue's case: 31 years, clamped
    ("60001", "60"),
    ("59001", "60"),
    ("30000", "30"),
    ("2500", "3"),  # rounded up
    ("1", "1"),
    ("0", "1"),
    ("-5", "7"),  # not a hint at all: the app's retry_after
    ("1.5", "7"),
    ("1e9", "7"),
    ("garbage", "7"),
    ("9999999999999", "7"),  # 13 digits: not a sane hint
    ("", "7"),
    ("+5000", "7"),
]


def _assert_bounded(value: str) -> None:
    assert value.isascii() and value.isdigit(), value
    assert 1 <= int(value) <= 60


@pytest.mark.parametrize(("hint", "expected"), HINTS)
def test_upstream_retry_after_hint_is_bounded(
    behind: tuple[httpx.Client, FakeCognito], hint: str, expected: str
) -> None:
    http, fake = behind
    fake.fail_next(None, code="TooManyRequestsException", headers={"x-amz-retry-after": hint})
    response = http.post("/sign-out", headers=bearer(fake.issue_token()))
    assert response.status_code == 429
    assert response.headers["retry-after"] == expected
    _assert_bounded(response.headers["retry-after"])


@on_both_backends
async def test_an_absurd_throttle_hint_in_process(cognito_fake: FakeCognito) -> None:
    cognito = CognitoSignOut(Config(region="eu-west-1"))
    app = FastAPI(lifespan=cognito.lifespan)
    app.include_router(cognito.router)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://app") as http,
    ):
        cognito_fake.fail_next(
            None, code="TooManyRequestsException",
            headers={"x-amz-retry-after": "999999999999"},
        )
        throttled = await http.post("/sign-out", headers=bearer(cognito_fake.issue_token()))
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "60"


@pytest.mark.parametrize(("configured", "expected"), [(0, "1"), (1, "1"), (60, "60"),
                                                      (61, "60"), (10**12, "60")])
def test_the_apps_own_retry_after_is_bounded_too(configured: int, expected: str) -> None:
    no_hint = _service_error(errors.TooManyRequestsException, 429)
    for exc in (no_hint, errors.DispatchFailure("refused"),
                errors.TimeoutError("slow", kind="operation")):
        assert error_response(exc, retry_after=configured).headers["retry-after"] == expected


@pytest.mark.parametrize("retry_after", [float("inf"), float("nan"), -1e308, 2.5, "7", None])
def test_error_response_bounds_any_retry_after(retry_after: Any) -> None:
    for exc in (errors.DispatchFailure("refused"),
                _service_error(errors.TooManyRequestsException, 429)):
        _assert_bounded(error_response(exc, retry_after=retry_after).headers["retry-after"])
