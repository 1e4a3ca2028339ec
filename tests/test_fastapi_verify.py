"""Signed out means signed out in the app's own API (issue 11): ``Depends(cognito.authenticated)``,
the router's device sign-out and managed-login logout routes, and the revocation store behind
them.

The main app runs under a real uvicorn server (tests/test_fastapi.py's ``serve``) with moto's
server behind it (the emulator: real tokens, a real key set, RevokeToken) and a real
``redis-server`` as the store. Mapping details (key-set failures, construction, OpenAPI, the
lifespan) run in process through ``httpx.ASGITransport``, under asyncio and trio.

Every response a test sees is checked for every token (and secret) it knows: see ``Http``.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import moto as moto_package
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from fastapi import Depends, FastAPI, Response
from joserfc.jwk import RSAKey

from cognito_signout import (
    Client,
    Config,
    RetryConfig,
    Revocations,
    TimeoutConfig,
    TokenVerifier,
    VerifiedToken,
    errors,
    logout_url,
)
from cognito_signout.emulator import AppClient, CognitoUser, MotoCognito
from cognito_signout.fastapi import CognitoSignOut
from cognito_signout.testing import FakeCognito

from . import loopback
from .redis_server import RedisServer, redis_server, redis_server_binary
from .test_fastapi import serve

needs_redis = pytest.mark.skipif(redis_server_binary() is None, reason="no redis-server")

DOMAIN = "myapp.auth.us-east-1.amazoncognito.com"
SIGNED_OUT = "https://app.example.com/signed-out"
LOOPBACK_POOL = "us-east-1_" + "0123456789abcdef" * 2
LOOPBACK_CLIENT = "loopbackclient0123456789"

# --- tokens minted with moto's own private key (it ships in moto's wheel) -------------------

_RESOURCES = Path(moto_package.__file__).parent / "cognitoidp" / "resources"
_PRIVATE = RSAKey.import_key(
    json.loads(gzip.decompress((_RESOURCES / "jwks-private.json.gz").read_bytes()))
)
PUBLIC_JWKS = gzip.decompress((_RESOURCES / "jwks-public.json.gz").read_bytes())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(claims: dict[str, Any], kid: str = "dummy") -> str:
    """An RS256 token moto's key set accepts the signature of."""
    header = _b64(json.dumps({"alg": "RS256", "kid": kid}).encode())
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    key: Any = _PRIVATE.private_key
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def claims_for(pool_id: str, client_id: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()), "iss": f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}",
        "client_id": client_id, "token_use": "access", "scope": "aws.cognito.signin.user.admin",
        "auth_time": now, "iat": now, "exp": now + 3600, "jti": str(uuid.uuid4()),
        "origin_jti": str(uuid.uuid4()), "username": "minted",
    }
    claims.update(changes)
    return claims


# --- helpers ---------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def secrets_of(user: CognitoUser) -> list[str]:
    return [user.access_token, user.refresh_token, user.id_token]


def assert_clean(response: httpx.Response, secrets: list[str]) -> None:
    """No token or secret in the body or any header (the redirect's Location included)."""
    for secret in secrets:
        assert secret not in response.text
        assert all(secret not in value for value in response.headers.values())
        for part in secret.split("."):  # not even one segment of a token
            if len(part) >= 16:
                assert part not in response.text


class Http(httpx.Client):
    """A client of the served app that checks every response for every secret it was told."""

    def __init__(self, base_url: str) -> None:
        self.secrets: list[str] = []
        super().__init__(base_url=base_url, timeout=10, event_hooks={"response": [self._check]})

    def guard(self, *users: CognitoUser) -> None:
        for user in users:
            self.secrets.extend(secrets_of(user))

    def _check(self, response: httpx.Response) -> None:
        response.read()
        assert_clean(response, self.secrets)


def make_app(cognito: CognitoSignOut, store: Revocations | None = None) -> FastAPI:
    """The contract's app: the router, and an endpoint of the app's own behind authenticated."""
    app = FastAPI(lifespan=cognito.lifespan)
    app.include_router(cognito.router)

    authenticated = Depends(cognito.authenticated)  # i.e. `= Depends(cognito.authenticated)`

    @app.get("/me")
    async def me(token: VerifiedToken = authenticated) -> dict[str, Any]:
        return {"sub": token.sub, "username": token.username, "client_id": token.client_id}

    @app.get("/ready")
    async def ready() -> Response:
        return Response(status_code=200 if store is None or store.ready else 503)

    return app


def wait_for(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} within {within} s")
        time.sleep(0.01)


def moto_config(moto: MotoCognito) -> Config:
    return Config(region="us-east-1", endpoint_url=moto.endpoint_url)


# --- the served app: moto, Redis, uvicorn -----------------------------------------------------


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    if redis_server_binary() is None:
        pytest.skip("no redis-server")
    with redis_server() as server:
        yield server


@pytest.fixture(scope="module")
def secret_client(moto: MotoCognito) -> AppClient:
    return moto.create_client(secret=True)


@pytest.fixture(scope="module")
def site(moto: MotoCognito, redis: RedisServer, secret_client: AppClient) -> Iterator[str]:
    store = Revocations.redis(redis.url)
    assert secret_client.client_secret is not None
    cognito = CognitoSignOut(
        moto_config(moto),
        user_pool_id=moto.pool_id,
        client_ids=[moto.client_id, secret_client.client_id],
        client_secrets={secret_client.client_id: secret_client.client_secret},
        revocations=store,
        managed_login_domain=DOMAIN,
        logout_uri=SIGNED_OUT,
        logout_client_id=moto.client_id,
    )
    with serve(make_app(cognito, store)) as url:
        wait_for(lambda: httpx.get(f"{url}/ready").status_code == 200, 10, "synced")
        yield url


@pytest.fixture
def http(site: str) -> Iterator[Http]:
    with Http(site) as client:
        yield client


@pytest.mark.integration
def test_a_signed_out_token_is_refused_here_and_by_cognito(moto: MotoCognito, http: Http) -> None:
    user = moto.create_user()
    http.guard(user)
    before = http.get("/me", headers=bearer(user.access_token))
    assert before.status_code == 200
    assert before.json()["username"] == user.username

    assert http.post("/sign-out", headers=bearer(user.access_token)).status_code == 204
    after = http.get("/me", headers=bearer(user.access_token))

    assert after.status_code == 401
    assert after.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert after.headers["cache-control"] == "no-store"
    assert after.json() == {"detail": {
        "error": "invalid_token", "message": "The access token is invalid, expired or revoked.",
    }}
    assert not moto.access_token_accepted(user.access_token)  # Cognito's GetUser refuses too
    assert not moto.refresh_token_accepted(user)


@pytest.mark.parametrize(
    "headers",
    [[], [("Authorization", "Basic dXNlcjpwYXNz")], [("Authorization", "Bearer a b")],
     [("Authorization", "Bearer")], [("Authorization", "Bearer x"), ("Authorization", "Bearer x")]],
    ids=["none", "basic", "two-words", "empty", "two-headers"],
)
def test_no_or_a_malformed_bearer_header_is_a_plain_401(
    http: Http, headers: list[tuple[str, str]]
) -> None:
    response = http.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"]["error"] == "invalid_request"


@pytest.mark.integration
@pytest.mark.anyio
async def test_the_id_token(moto: MotoCognito, redis: RedisServer, site: str) -> None:
    """``authenticated`` takes access tokens only; the sign-out refuses the user's ID tokens
    too, for an ID-token verifier sharing the store (here in another process's place)."""
    user = moto.create_user()
    async with (
        httpx.AsyncClient(base_url=site) as http,
        Revocations.redis(redis.url) as other_replica,
        TokenVerifier(moto.pool_id, [moto.client_id], token_use="id",
                      revocations=other_replica, config=moto_config(moto)) as id_tokens,
    ):
        refused = await http.get("/me", headers=bearer(user.id_token))
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert_clean(refused, secrets_of(user))
        with anyio.fail_after(5):
            while not other_replica.ready:  # noqa: ASYNC110 (a state, not an event)
                await anyio.sleep(0.01)
        assert (await id_tokens.verify(user.id_token)).username == user.username

        assert (await http.post("/sign-out", headers=bearer(user.access_token))).status_code == 204

        with anyio.fail_after(2):
            while True:
                try:
                    await id_tokens.verify(user.id_token)
                except errors.TokenRevoked:
                    break
                await anyio.sleep(0.005)


def _forgeries(moto: MotoCognito) -> dict[str, str]:
    pool, client = moto.pool_id, moto.client_id
    now = int(time.time())
    good = mint(claims_for(pool, client))
    header, payload, signature = good.split(".")
    other = json.loads(base64.urlsafe_b64decode(payload + "=="))
    other["username"] = "admin"
    return {
        "valid": good,  # the control: minting works, so each refusal below is the claim's
        "expired": mint(claims_for(pool, client, iat=now - 7200, exp=now - 60)),
        "not-yet-valid": mint(claims_for(pool, client, nbf=now + 600)),
        "another-pool": mint(claims_for("us-east-1_" + "f" * 32, client)),
        "another-client": mint(claims_for(pool, "someotherappclient0123")),
        "id-token-use": mint(claims_for(pool, client, token_use="id")),
        "unknown-key": mint(claims_for(pool, client), kid="not-a-key-of-the-pool"),
        "tampered": f"{header}.{_b64(json.dumps(other).encode())}.{signature}",
        "not-a-jwt": "abc.def",
    }


FORGERIES = ["valid", "expired", "not-yet-valid", "another-pool", "another-client",
             "id-token-use", "unknown-key", "tampered", "not-a-jwt"]


@pytest.mark.integration
@pytest.mark.parametrize("kind", FORGERIES)
def test_expired_foreign_and_forged_tokens_are_401(
    moto: MotoCognito, http: Http, kind: str
) -> None:
    token = _forgeries(moto)[kind]
    http.secrets.append(token)
    response = http.get("/me", headers=bearer(token))
    if kind == "valid":
        assert response.status_code == 200
        assert response.json()["username"] == "minted"
        return
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.integration
def test_device_sign_out_ends_that_session_only(moto: MotoCognito, http: Http) -> None:
    phone = moto.create_user()
    laptop = moto.login(phone)  # the same user, a second sign-in
    http.guard(phone, laptop)
    for session in (phone, laptop):
        assert http.get("/me", headers=bearer(session.access_token)).status_code == 200

    response = http.post("/sign-out/device", headers=bearer(phone.access_token),
                         json={"refresh_token": phone.refresh_token})

    assert response.status_code == 204
    assert response.headers["x-cognito-request-id"]
    assert http.get("/me", headers=bearer(phone.access_token)).status_code == 401
    assert http.get("/me", headers=bearer(laptop.access_token)).status_code == 200
    assert not moto.refresh_token_accepted(phone)
    assert moto.refresh_token_accepted(laptop)
    assert moto.access_token_accepted(laptop.access_token)
    again = http.post("/sign-out/device", headers=bearer(phone.access_token),
                      json={"refresh_token": phone.refresh_token})
    assert again.status_code == 401  # the session's token is refused before Cognito is asked


@pytest.mark.integration
def test_device_sign_out_sends_the_client_secret_of_the_tokens_app_client(
    moto: MotoCognito, http: Http, secret_client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    user = moto.create_user(client=secret_client)
    http.guard(user)
    assert secret_client.client_secret is not None
    http.secrets.append(secret_client.client_secret)
    assert http.get("/me", headers=bearer(user.access_token)).json()["client_id"] == (
        secret_client.client_id
    )
    with caplog.at_level(logging.DEBUG):
        response = http.post("/sign-out/device", headers=bearer(user.access_token),
                             json={"refresh_token": user.refresh_token})
    assert response.status_code == 204
    assert not moto.refresh_token_accepted(user)
    assert secret_client.client_secret not in caplog.text


@pytest.mark.integration
@pytest.mark.anyio
async def test_device_sign_out_without_the_secret_is_invalid_grant(
    moto: MotoCognito, secret_client: AppClient
) -> None:
    """The same sign-in, to an integration that was not given the secret: Cognito refuses."""
    user = moto.create_user(client=secret_client)
    cognito = CognitoSignOut(
        moto_config(moto), user_pool_id=moto.pool_id, client_ids=[secret_client.client_id],
    )
    app = make_app(cognito)
    async with (
        cognito.lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://app") as http,
    ):
        response = await http.post("/sign-out/device", headers=bearer(user.access_token),
                                   json={"refresh_token": user.refresh_token})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert_clean(response, secrets_of(user))
    assert moto.refresh_token_accepted(user)


DeviceBody = Callable[[CognitoUser], dict[str, Any]]

BAD_BODIES: list[tuple[str, DeviceBody, int, str]] = [
    ("not-json", lambda u: {"content": f"refresh_token={u.refresh_token}"}, 400,
     "invalid_request"),
    ("json-array", lambda u: {"json": [u.refresh_token]}, 400, "invalid_request"),
    ("misspelt-field", lambda u: {"json": {"refresh": u.refresh_token}}, 400,
     "invalid_request"),
    ("not-a-string", lambda u: {"json": {"refresh_token": [u.refresh_token]}}, 400,
     "invalid_request"),
    ("empty", lambda u: {"json": {"refresh_token": ""}}, 400, "invalid_request"),
    ("malformed-token", lambda u: {"json": {"refresh_token": u.refresh_token + " x",
                                            "note": u.refresh_token}}, 400, "invalid_request"),
    ("access-token", lambda u: {"json": {"refresh_token": u.access_token}}, 400,
     "unsupported_token_type"),
    ("too-large", lambda u: {"json": {"refresh_token": u.refresh_token + "A" * 17_000}}, 413,
     "invalid_request"),
    ("too-large-chunked", lambda u: {"content": _chunks(u.refresh_token)}, 413,
     "invalid_request"),  # no Content-Length to refuse it by: the read stops at the cap
]


def _chunks(refresh_token: str) -> Iterator[bytes]:
    yield b'{"refresh_token": "' + refresh_token.encode()
    for _ in range(20):
        yield b"A" * 1024
    yield b'"}'



@pytest.mark.integration
@pytest.mark.parametrize(("body", "status", "error"), [b[1:] for b in BAD_BODIES],
                         ids=[b[0] for b in BAD_BODIES])
def test_a_bad_device_sign_out_body_is_refused_and_never_echoed(
    moto: MotoCognito, http: Http, body: DeviceBody, status: int, error: str
) -> None:
    user = moto.create_user()
    http.guard(user)
    response = http.post("/sign-out/device", headers=bearer(user.access_token), **body(user))
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "detail" not in response.json()  # never FastAPI's 422, which quotes the input
    assert http.get("/me", headers=bearer(user.access_token)).status_code == 200
    assert moto.refresh_token_accepted(user)


@pytest.mark.integration
def test_device_sign_out_needs_the_bearer_access_token(moto: MotoCognito, http: Http) -> None:
    user = moto.create_user()
    http.guard(user)
    response = http.post("/sign-out/device", json={"refresh_token": user.refresh_token})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert moto.refresh_token_accepted(user)


@pytest.mark.integration
def test_logout_signs_out_then_redirects_to_managed_login(moto: MotoCognito, http: Http) -> None:
    user = moto.create_user()
    http.guard(user)
    expected = logout_url(DOMAIN, client_id=moto.client_id, logout_uri=SIGNED_OUT)

    response = http.get("/logout", headers=bearer(user.access_token))

    assert response.status_code == 303
    assert response.headers["location"] == expected
    assert response.headers["cache-control"] == "no-store"
    assert not moto.access_token_accepted(user.access_token)
    assert http.get("/me", headers=bearer(user.access_token)).status_code == 401
    # Nothing left to revoke (already signed out, or no token at all): still on to the page
    # that ends the managed-login cookie.
    for headers in (bearer(user.access_token), {}):
        again = http.get("/logout", headers=headers)
        assert (again.status_code, again.headers["location"]) == (303, expected)


Script = Callable[[loopback.Conn, loopback.Request], bool]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("script", "status"),
    [
        (None, 503),  # nothing listens
        (loopback.service_error(500, "InternalErrorException"), 502),
        (loopback.service_error(400, "TooManyRequestsException", retry_after_ms=2000), 429),
        (loopback.service_error(400, "NotAuthorizedException"), 303),
        (loopback.ok, 303),
    ],
    ids=["unreachable", "internal-error", "throttled", "not-authorized", "signed-out"],
)
async def test_logout_redirects_only_when_the_tokens_are_known_dead(
    script: Script | None, status: int
) -> None:
    with contextlib.ExitStack() as stack:
        url = loopback.refused_url() if script is None else stack.enter_context(
            loopback.serve(script)
        ).url
        cognito = CognitoSignOut(
            Config(region="us-east-1", endpoint_url=url, retry_config=RetryConfig.disabled()),
            managed_login_domain=DOMAIN, logout_uri=SIGNED_OUT, logout_client_id="someclient",
        )
        app = make_app_without_pool(cognito)
        token = "header.payload.signature"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                     base_url="http://app") as http:
            response = await http.get("/logout", headers=bearer(token))
        await cognito.aclose()
    assert response.status_code == status
    if status == 303:
        assert response.headers["location"].startswith(f"https://{DOMAIN}/logout?")
    else:
        assert "location" not in response.headers
        assert response.json()["error"] in ("unavailable", "bad_gateway", "throttled")
    assert_clean(response, [token])


def make_app_without_pool(cognito: CognitoSignOut) -> FastAPI:
    app = FastAPI(lifespan=cognito.lifespan)
    app.include_router(cognito.router)
    return app


@pytest.mark.integration
def test_no_token_or_secret_in_any_log_line(
    moto: MotoCognito, http: Http, secret_client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    user = moto.create_user()
    other = moto.create_user(client=secret_client)
    http.guard(user, other)
    assert secret_client.client_secret is not None
    with caplog.at_level(logging.DEBUG):
        http.get("/me", headers=bearer(user.access_token))
        http.post("/sign-out/device", headers=bearer(other.access_token),
                  json={"refresh_token": other.access_token})
        http.post("/sign-out/device", headers=bearer(other.access_token),
                  json={"refresh_token": other.refresh_token})
        http.post("/sign-out", headers=bearer(user.access_token))
        http.get("/me", headers=bearer(user.access_token))
        http.get("/logout", headers=bearer(user.access_token))
        time.sleep(0.05)  # the server thread's last records
    assert any(r.name == "cognito_signout.fastapi" for r in caplog.records)
    for secret in [*secrets_of(user), *secrets_of(other), secret_client.client_secret]:
        assert secret not in caplog.text


# --- the store cannot answer ------------------------------------------------------------------


@needs_redis
@pytest.mark.integration
@pytest.mark.parametrize("on_unavailable", ["reject", "allow"])
def test_a_store_that_cannot_answer(moto: MotoCognito, on_unavailable: Any) -> None:
    """reject: 503 with Retry-After (the token may be fine: not a 401); allow: accepted, but
    a sign-out the replica already knows is still refused. Both recover when Redis is back."""
    with redis_server() as server:
        store = Revocations.redis(server.url, on_unavailable=on_unavailable,
                                  health_interval=0.2, check_timeout=0.5)
        cognito = CognitoSignOut(moto_config(moto), user_pool_id=moto.pool_id,
                                 client_ids=[moto.client_id], revocations=store, retry_after=4)
        user, gone = moto.create_user(), moto.create_user()
        with serve(make_app(cognito, store)) as url, Http(url) as http:
            http.guard(user, gone)
            wait_for(lambda: http.get("/ready").status_code == 200, 10, "synced")
            assert http.get("/me", headers=bearer(user.access_token)).status_code == 200
            assert http.post("/sign-out", headers=bearer(gone.access_token)).status_code == 204

            server.stop()
            wait_for(lambda: http.get("/ready").status_code == 503, 5, "noticed the outage")
            during = http.get("/me", headers=bearer(user.access_token))
            known = http.get("/me", headers=bearer(gone.access_token))

            server.start()
            wait_for(lambda: http.get("/ready").status_code == 200, 10, "synced again")
            after = http.get("/me", headers=bearer(user.access_token))
            still_gone = http.get("/me", headers=bearer(gone.access_token))

    assert (after.status_code, still_gone.status_code) == (200, 401)  # Redis came back empty
    if on_unavailable == "allow":
        assert during.status_code == 200
        assert known.status_code == 401  # what this replica knows is still refused
        return
    # Fail closed: what the store cannot answer for is a 503; what this replica's view knows
    # is revoked is still a 401 (refused, and for the right reason).
    assert known.status_code == 401
    assert during.status_code == 503
    assert during.headers["retry-after"] == "4"
    assert "www-authenticate" not in during.headers
    assert during.json()["detail"]["error"] == "unavailable"


# --- in process: key-set failures, the lifespan, construction, OpenAPI --------------------------

on_both_backends = pytest.mark.anyio


def loopback_integration(url: str, **kwargs: Any) -> CognitoSignOut:
    config = Config(endpoint_url=url, retry_config=RetryConfig.disabled(),
                    timeout_config=TimeoutConfig(operation_timeout=0.5))
    return CognitoSignOut(config, user_pool_id=LOOPBACK_POOL, client_ids=[LOOPBACK_CLIENT],
                          **kwargs)


@contextlib.asynccontextmanager
async def in_process(
    cognito: CognitoSignOut, app_of: Callable[[CognitoSignOut], FastAPI] = make_app
) -> AsyncIterator[httpx.AsyncClient]:
    """The app ``app_of`` makes of ``cognito``, served in-process through its lifespan."""
    app = app_of(cognito)
    async with (
        cognito.lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://app") as http,
    ):
        yield http


def _jwks(conn: loopback.Conn, request: loopback.Request) -> bool:
    return conn.respond(200, PUBLIC_JWKS, [("Content-Type", "application/json")])


@on_both_backends
@pytest.mark.parametrize(
    ("script", "retry_after"),
    [
        (_jwks, None),  # the control: the same app serves when the key set is there
        (None, "1"),  # DispatchFailure: nothing listens
        (loopback.answer(500, b"<html>down</html>", [("Content-Type", "text/html")]), "1"),
        (loopback.answer(200, b"<html>portal</html>", [("Content-Type", "text/html")]), "1"),
        (loopback.service_error(429, "TooManyRequestsException", retry_after_ms=2500), "3"),
        (loopback.stall_before_response, "1"),  # TimeoutError (operation_timeout 0.5 s)
    ],
    ids=["served", "unreachable", "5xx", "html", "throttled", "timeout"],
)
async def test_keys_unavailable_is_503_not_401(
    script: Script | None, retry_after: str | None
) -> None:
    token = mint(claims_for(LOOPBACK_POOL, LOOPBACK_CLIENT))
    with contextlib.ExitStack() as stack:
        url = loopback.refused_url() if script is None else stack.enter_context(
            loopback.serve(script)
        ).url
        async with in_process(loopback_integration(url)) as http:
            response = await http.get("/me", headers=bearer(token))
    assert_clean(response, [token])
    if retry_after is None:
        assert response.status_code == 200
        return
    assert response.status_code == 503
    assert response.headers["retry-after"] == retry_after
    assert "www-authenticate" not in response.headers
    assert response.json()["detail"]["error"] == "unavailable"


@on_both_backends
async def test_one_verifier_one_key_set_fetch_closed_with_the_lifespan() -> None:
    token = mint(claims_for(LOOPBACK_POOL, LOOPBACK_CLIENT))
    with loopback.serve(_jwks) as keys:
        async with in_process(loopback_integration(keys.url)) as http:
            for _ in range(5):
                assert (await http.get("/me", headers=bearer(token))).status_code == 200
            assert keys.request_count == 1
            assert keys.open_connections == 1  # kept alive by the verifier
        assert keys.wait_until(lambda: keys.open_connections == 0)


@on_both_backends
async def test_no_io_before_the_lifespan_and_the_lifespan_starts_the_store() -> None:
    """Made at import time, as an app module does: nothing connects until the lifespan."""
    with loopback.serve(_jwks) as keys, loopback.serve(loopback.ok) as fake_redis:
        store = Revocations.redis(f"redis://127.0.0.1:{fake_redis.port}/0")
        cognito = loopback_integration(keys.url, revocations=store)
        app = make_app(cognito)
        app.openapi()
        await anyio.sleep(0.05)
        assert (keys.connections_total, fake_redis.connections_total) == (0, 0)

        async with cognito.lifespan(app):
            with anyio.fail_after(2):
                while fake_redis.connections_total == 0:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
        assert keys.connections_total == 0  # keys are fetched on first need, not at startup


@needs_redis
@on_both_backends
@pytest.mark.parametrize("close_on_shutdown", [None, False])
async def test_the_lifespan_starts_and_stops_the_store(
    redis: RedisServer, close_on_shutdown: bool | None
) -> None:
    store = Revocations.redis(redis.url)
    cognito = CognitoSignOut(Config(region="us-east-1"), user_pool_id=LOOPBACK_POOL,
                             client_ids=[LOOPBACK_CLIENT], revocations=store,
                             close_on_shutdown=close_on_shutdown)
    async with cognito.lifespan(FastAPI()):
        with anyio.fail_after(5):
            while not store.ready:  # noqa: ASYNC110 (no request needed: started at startup)
                await anyio.sleep(0.01)
    assert store.ready is (close_on_shutdown is False)  # stopped with the client, or kept
    await cognito.aclose()
    assert not store.ready


@on_both_backends
async def test_sign_out_records_the_cutoff_without_a_user_pool(moto: MotoCognito) -> None:
    """Sign-out-only integrations record too: a verifier of the app's own sharing the store
    refuses the token."""
    user = moto.create_user()
    store = Revocations.memory()
    cognito = CognitoSignOut(moto_config(moto), revocations=store)
    async with (
        TokenVerifier(moto.pool_id, [moto.client_id], revocations=store,
                      config=moto_config(moto)) as verifier,
        in_process(cognito, make_app_without_pool) as http,
    ):
        assert (await verifier.verify(user.access_token)).username == user.username
        assert (await http.post("/sign-out", headers=bearer(user.access_token))).status_code == 204
        with pytest.raises(errors.TokenRevoked):
            await verifier.verify(user.access_token)


@on_both_backends
async def test_a_client_factory_must_record_in_the_same_store(moto: MotoCognito) -> None:
    store = Revocations.memory()
    elsewhere = CognitoSignOut(moto_config(moto), revocations=store,
                               client_factory=FakeCognito().client)
    with pytest.raises(errors.ConstructionFailure, match=r"revocations=cognito\.revocations"):
        async with elsewhere.lifespan(FastAPI()):
            pass

    cognito = CognitoSignOut(
        moto_config(moto), revocations=store,
        client_factory=lambda config: Client(config, revocations=cognito.revocations),
    )
    user = moto.create_user()
    async with in_process(cognito, make_app_without_pool) as http:
        assert (await http.post("/sign-out", headers=bearer(user.access_token))).status_code == 204
    assert len(store) == 1


def test_authenticated_needs_a_user_pool() -> None:
    cognito = CognitoSignOut(Config(region="eu-west-1"))
    with pytest.raises(errors.ConstructionFailure, match="user_pool_id"):
        Depends(cognito.authenticated)  # where an app declares it: at import, not per request


def test_authenticated_is_the_same_dependency_each_time() -> None:
    cognito = _pool_integration()
    overrides = {cognito.authenticated: lambda: None}
    assert cognito.authenticated in overrides  # app.dependency_overrides can replace it


def _openapi(cognito: CognitoSignOut, *, verifies: bool = True) -> dict[str, Any]:
    app = make_app(cognito) if verifies else make_app_without_pool(cognito)
    return app.openapi()


def _pool_integration(**kwargs: Any) -> CognitoSignOut:
    return CognitoSignOut(Config(region="us-east-1"), user_pool_id=LOOPBACK_POOL,
                          client_ids=[LOOPBACK_CLIENT], **kwargs)


def test_openapi_says_every_token_is_refused_only_with_a_store() -> None:
    with_store = _openapi(_pool_integration(revocations=Revocations.memory(),
                                            managed_login_domain=DOMAIN, logout_uri=SIGNED_OUT))
    without = _openapi(_pool_integration())
    sign_out_only = _openapi(CognitoSignOut(Config(region="us-east-1")), verifies=False)

    recorded = with_store["paths"]["/sign-out"]["post"]
    assert "now refused" in recorded["responses"]["204"]["description"]
    assert "revocation store" in recorded["description"]
    for document in (without, sign_out_only):
        operation = document["paths"]["/sign-out"]["post"]
        assert "refused" not in operation["responses"]["204"]["description"]
        assert "until they expire" in operation["description"]
    assert "refuses" in with_store["paths"]["/sign-out/device"]["post"]["description"]
    assert "until they expire" in without["paths"]["/sign-out/device"]["post"]["description"]

    device = with_store["paths"]["/sign-out/device"]["post"]
    assert device["security"] == [{"HTTPBearer": []}]
    schema = device["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["refresh_token"]
    assert {"204", "400", "401", "413", "503"} <= set(device["responses"])
    assert "422" not in device["responses"]
    logout = with_store["paths"]["/logout"]["get"]
    assert {"303", "503"} <= set(logout["responses"])
    assert with_store["paths"]["/me"]["get"]["security"] == [{"HTTPBearer": []}]
    assert set(without["paths"]) == {"/sign-out", "/sign-out/device", "/me", "/ready"}
    assert set(sign_out_only["paths"]) == {"/sign-out"}


def test_the_routes_paths_are_configurable() -> None:
    cognito = _pool_integration(path="/session/end")
    assert "/session/end/device" in _openapi(cognito)["paths"]  # device_path follows path
    cognito = _pool_integration(device_path="/devices/this/sign-out", logout_path="/bye",
                                managed_login_domain=DOMAIN, logout_uri=SIGNED_OUT)
    paths = _openapi(cognito)["paths"]
    assert "post" in paths["/devices/this/sign-out"] and "get" in paths["/bye"]


SECRET = "s3cr3t" + "x" * 40


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"client_ids": [LOOPBACK_CLIENT]}, "needs user_pool_id"),
        ({"user_pool_id": LOOPBACK_POOL}, "needs client_ids"),
        ({"user_pool_id": "not-a-pool", "client_ids": [LOOPBACK_CLIENT]}, "not a user pool id"),
        ({"user_pool_id": LOOPBACK_POOL, "client_ids": []}, "at least one"),
        ({"client_secrets": {LOOPBACK_CLIENT: SECRET}}, "needs user_pool_id"),
        ({"user_pool_id": LOOPBACK_POOL, "client_ids": [LOOPBACK_CLIENT],
          "client_secrets": {"someoneelse": SECRET}}, "not in client_ids"),
        ({"user_pool_id": LOOPBACK_POOL, "client_ids": [LOOPBACK_CLIENT],
          "client_secrets": {LOOPBACK_CLIENT: SECRET[:20]}}, "24-64"),
        ({"managed_login_domain": DOMAIN, "logout_client_id": "c"}, "both"),
        ({"logout_uri": SIGNED_OUT, "logout_client_id": "c"}, "both"),
        ({"logout_client_id": "c"}, "needs managed_login_domain"),
        ({"managed_login_domain": DOMAIN, "logout_uri": SIGNED_OUT}, "logout_client_id"),
        ({"managed_login_domain": DOMAIN, "logout_uri": "http://evil.example/",
          "logout_client_id": "c"}, "logout_uri"),
        ({"revocations": "redis://127.0.0.1:6379/0"}, "Revocations"),
        ({"device_path": "sign-out/device"}, "device_path"),
    ],
)
def test_construction_is_checked(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(errors.ConstructionFailure, match=match) as caught:
        CognitoSignOut(Config(region="us-east-1"), **kwargs)
    assert SECRET[:20] not in str(caught.value)


def test_client_secrets_are_in_no_repr() -> None:
    cognito = _pool_integration(client_secrets={LOOPBACK_CLIENT: SECRET})
    for text in (repr(cognito), str(cognito), repr(vars(cognito))):
        assert SECRET not in text
    assert LOOPBACK_POOL in repr(cognito)
