"""cognito_signout.testing: the fake Cognito users test their own code with.

The fake must behave like Cognito on the wire (so the SDK's real protocol code runs), remember
revocations like Cognito, fail on demand, and reach code that builds its own Client through the
``cognito_fake`` fixture of the pytest plugin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import httpx
import pytest
import respx

from cognito_signout import Client, Config, RetryConfig, errors, is_testing
from cognito_signout.testing import EXPIRED, INVALID, REVOKED, FakeCognito, install_transport

from .tokens import make_token

pytestmark = pytest.mark.anyio


async def sign_out(client: Client, token: str) -> str | None:
    return (await client.global_sign_out().access_token(token).send()).request_id


# --- recording and revocation -------------------------------------------------------------------


async def test_records_a_sign_out_with_the_sdk_request_details() -> None:
    fake = FakeCognito()
    token = fake.issue_token("alice")
    async with fake.client() as client:
        request_id = await sign_out(client, token)

    [call] = fake.calls
    assert fake.sign_outs == [call]
    assert fake.signed_out(token)
    assert call.ok and call.status_code == 200
    assert call.operation == "GlobalSignOut"
    assert call.username == "alice"
    assert call.access_token == token
    assert call.request_id == request_id
    assert call.attempt == 1
    assert call.invocation_id
    assert call.headers["x-amz-target"] == "AWSCognitoIdentityProviderService.GlobalSignOut"
    assert call.headers["user-agent"].startswith("cognito-signout/")


async def test_a_signed_out_user_loses_every_earlier_token_like_cognito() -> None:
    fake = FakeCognito()
    first, second = fake.issue_token("bob"), fake.issue_token("bob")
    other_user = fake.issue_token("carol")
    async with fake.client() as client:
        await sign_out(client, first)
        later = fake.issue_token("bob")  # a new login after the sign-out

        for revoked in (first, second):
            with pytest.raises(errors.NotAuthorizedException) as caught:
                await sign_out(client, revoked)
            assert caught.value.message == REVOKED
            assert caught.value.status_code == 400
            assert fake.is_revoked(revoked)
        assert not fake.is_revoked(later)
        assert not fake.is_revoked(other_user)
        await sign_out(client, later)
        await sign_out(client, other_user)
    assert [c.username for c in fake.sign_outs] == ["bob", "bob", "carol"]
    assert not fake.signed_out(second)


async def test_unknown_tokens_are_their_own_session_unless_strict() -> None:
    fake = FakeCognito()
    async with fake.client() as client:
        await sign_out(client, "opaque-token-1")
        with pytest.raises(errors.NotAuthorizedException, match=REVOKED):
            await sign_out(client, "opaque-token-1")
        await sign_out(client, "opaque-token-2")

        fake.accept_unknown_tokens = False
        with pytest.raises(errors.NotAuthorizedException) as caught:
            await sign_out(client, "opaque-token-3")
        assert caught.value.message == INVALID
        await sign_out(client, fake.issue_token())  # its own tokens still work


async def test_expired_and_id_tokens_are_refused() -> None:
    fake = FakeCognito()
    async with fake.client() as client:
        with pytest.raises(errors.NotAuthorizedException) as caught:
            await sign_out(client, fake.issue_token(expires_in=-1))
        assert caught.value.message == EXPIRED
        with pytest.raises(errors.NotAuthorizedException, match=EXPIRED):
            await sign_out(client, make_token("us-east-1", exp=1))
        with pytest.raises(errors.NotAuthorizedException) as caught:
            await sign_out(client, make_token("us-east-1", token_use="id"))
        assert caught.value.message == INVALID
    assert fake.sign_outs == []


async def test_revoke_marks_tokens_as_signed_out_elsewhere() -> None:
    fake = FakeCognito()
    token = fake.issue_token("dave")
    fake.revoke(token)
    assert fake.is_revoked(token)
    async with fake.client() as client:
        with pytest.raises(errors.NotAuthorizedException):
            await sign_out(client, token)


async def test_a_client_without_region_routes_by_the_fake_tokens_issuer() -> None:
    fake = FakeCognito(region="eu-central-1")
    token = fake.issue_token()
    async with fake.client(Config()) as client:
        await sign_out(client, token)
    assert fake.signed_out(token)


async def test_reset_forgets_everything() -> None:
    fake = FakeCognito()
    token = fake.issue_token()
    async with fake.client() as client:
        await sign_out(client, token)
        fake.fail_next(None)
        fake.reset()
        assert fake.calls == []
        assert not fake.is_revoked(token)
        await sign_out(client, "fresh-token")  # no failure left either


# --- failure injection --------------------------------------------------------------------------


async def test_an_injected_server_error_is_retried_within_one_invocation(
    instant_retries: None,
) -> None:
    fake = FakeCognito()
    fake.fail_next()
    async with fake.client() as client:
        out = await client.global_sign_out().access_token("tok").send()

    assert out.attempts == 2
    failed, succeeded = fake.calls
    assert (failed.status_code, failed.error_code, failed.injected) == (
        500, "InternalErrorException", True,
    )
    assert (failed.attempt, succeeded.attempt) == (1, 2)
    assert failed.invocation_id == succeeded.invocation_id
    assert fake.sign_outs == [succeeded]


async def test_persistent_failure_exhausts_the_attempts(instant_retries: None) -> None:
    fake = FakeCognito()
    fake.fail_next(None, code="InternalErrorException")
    async with fake.client() as client:
        with pytest.raises(errors.InternalErrorException) as caught:
            await sign_out(client, "tok")
        assert caught.value.status_code == 500
        assert caught.value.request_id == fake.calls[-1].request_id
        assert len(fake.calls) == 3

        fake.clear_failures()
        await sign_out(client, "tok")


async def test_throttling_sends_429_with_the_retry_after_hint(instant_retries: None) -> None:
    fake = FakeCognito()
    fake.throttle(3, retry_after=2.5)
    async with fake.client() as client:
        with pytest.raises(errors.TooManyRequestsException) as caught:
            await sign_out(client, "tok")
    response = caught.value.response
    assert response is not None
    assert response.status_code == 429
    assert response.headers["x-amz-retry-after"] == "2500"
    assert caught.value.message == "Rate exceeded"
    assert [c.error_code for c in fake.calls] == ["TooManyRequestsException"] * 3


async def test_failures_can_target_one_token(instant_retries: None) -> None:
    fake = FakeCognito()
    fake.fail_next(None, code="UserNotConfirmedException", token="victim")
    async with fake.client() as client:
        await sign_out(client, "bystander")
        with pytest.raises(errors.UserNotConfirmedException):
            await sign_out(client, "victim")
    assert [c.access_token for c in fake.sign_outs] == ["bystander"]


@pytest.mark.parametrize(
    ("inject", "expected"),
    [
        ("disconnect_next", errors.DispatchFailure),
        ("timeout_next", errors.TimeoutError),
    ],
)
async def test_transport_failures(inject: str, expected: type[Exception]) -> None:
    fake = FakeCognito()
    getattr(fake, inject)()
    config = Config(region="us-east-1", retry_config=RetryConfig.disabled())
    async with fake.client(config) as client:
        with pytest.raises(expected):
            await sign_out(client, "tok")
        await sign_out(client, "tok")  # only the next one failed
    assert fake.calls[0].status_code == 0 and fake.calls[0].injected


async def test_a_proxy_page_is_never_taken_for_a_sign_out() -> None:
    fake = FakeCognito()
    fake.fail_next(code=None, status=200, body=b"<html>captive portal</html>",
                   headers={"content-type": "text/html"})
    config = Config(region="us-east-1", retry_config=RetryConfig.disabled())
    async with fake.client(config) as client:
        with pytest.raises(errors.ResponseError):
            await sign_out(client, "tok")
        fake.fail_next(code=None, status=502, body=b"<html>bad gateway</html>")
        with pytest.raises(errors.ServiceError) as caught:
            await sign_out(client, "tok")
        assert caught.value.code is None and caught.value.status_code == 502


def test_injection_counts_are_validated() -> None:
    fake = FakeCognito()
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="n must be"):
            fake.fail_next(bad)  # type: ignore[arg-type]


# --- the wire -----------------------------------------------------------------------------------


async def _raw(fake: FakeCognito, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=fake, base_url="https://cognito-idp.test") as http:
        return await http.post("/", content=body, headers=headers)


_GOOD = {
    "X-Amz-Target": "AWSCognitoIdentityProviderService.GlobalSignOut",
    "Content-Type": "application/x-amz-json-1.1",
}


async def test_success_is_cognitos_shape() -> None:
    response = await _raw(FakeCognito(), b'{"AccessToken":"abc"}', _GOOD)
    assert response.status_code == 200
    assert response.json() == {}
    assert response.headers["content-type"] == "application/x-amz-json-1.1"
    assert response.headers["x-amzn-requestid"]


@pytest.mark.parametrize(
    ("body", "headers", "code"),
    [
        (b'{"AccessToken":"abc"}', {**_GOOD, "X-Amz-Target": "Nope.GlobalSignOut"},
         "UnknownOperationException"),
        (b'{"AccessToken":"abc"}', {**_GOOD, "X-Amz-Target": _GOOD["X-Amz-Target"][:-3] + "Up"},
         "UnknownOperationException"),
        (b'{"AccessToken":"abc"}', {**_GOOD, "Content-Type": "application/json"},
         "SerializationException"),
        (b"not json", _GOOD, "SerializationException"),
        (b"[]", _GOOD, "SerializationException"),
        (b"{}", _GOOD, "InvalidParameterException"),
        (b'{"AccessToken":""}', _GOOD, "InvalidParameterException"),
        (b'{"AccessToken":"has space"}', _GOOD, "InvalidParameterException"),
    ],
)
async def test_malformed_requests_get_cognitos_error_shape(
    body: bytes, headers: dict[str, str], code: str
) -> None:
    response = await _raw(FakeCognito(), body, headers)
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == code
    assert response.headers["x-amzn-requestid"]
    document = response.json()
    assert document["__type"] == code
    assert document["message"]
    assert "has space" not in response.text  # the value is never echoed


# --- secrets ------------------------------------------------------------------------------------


async def test_no_representation_shows_a_token(instant_retries: None) -> None:
    fake = FakeCognito()
    token = fake.issue_token("erin")
    fake.fail_next(token=token)
    async with fake.client() as client:
        await sign_out(client, token)
        with pytest.raises(errors.NotAuthorizedException) as caught:
            await sign_out(client, token)
    shown = [repr(fake), str(fake), repr(fake.calls), str(caught.value), repr(caught.value)]
    assert all(token not in text for text in shown)
    assert "erin" in repr(fake.calls)
    assert "Redacted" in repr(fake.calls[0])


# --- concurrency --------------------------------------------------------------------------------


async def test_latency_and_in_flight_bound() -> None:
    fake = FakeCognito(latency=0.02)
    config = Config(region="us-east-1", max_connections=5)
    async with fake.client(config) as client, anyio.create_task_group() as tasks:
        for i in range(20):
            tasks.start_soon(sign_out, client, f"token-{i}")
    assert len(fake.sign_outs) == 20
    assert fake.max_in_flight == 5


# --- the pytest fixture and patching ------------------------------------------------------------


async def test_fixture_reaches_clients_created_by_the_code_under_test(
    cognito_fake: FakeCognito,
) -> None:
    assert is_testing()  # instant retries come with it
    cognito_fake.fail_next()
    token = cognito_fake.issue_token("frank")
    # Code under test builds its own client, with a real region: still the fake.
    async with Client(Config(region="eu-west-1")) as client:
        out = await client.global_sign_out().access_token(token).send()
    assert out.attempts == 2
    assert cognito_fake.signed_out(token)
    assert cognito_fake.calls[0].headers["host"] == "cognito-idp.eu-west-1.amazonaws.com"


def test_patch_is_undone_and_leaves_explicit_http_clients_alone() -> None:
    patched, other = FakeCognito(), FakeCognito()

    async def scenario() -> None:
        # A client made before the block is routed too, while the block lasts: every client
        # reads the installed transport on each call.
        before = Client(Config(region="us-east-1", endpoint_url="http://127.0.0.1:9"))
        with patched.patch():
            assert before.transport == "caller"
            async with other.client() as explicit, Client(Config(region="us-east-1")) as implicit:
                await sign_out(explicit, "a")
                await sign_out(implicit, "b")
                await sign_out(before, "c")
        assert str(before.transport) == "httpcore"
        with pytest.raises(errors.DispatchFailure):  # port 9: nothing listens, nothing faked
            await before.global_sign_out().access_token("d").customize().config_override(
                retry_config=RetryConfig.disabled()
            ).send()
        await before.aclose()

    anyio.run(scenario)
    assert [c.access_token for c in other.calls] == ["a"]
    assert [c.access_token for c in patched.calls] == ["b", "c"]


def test_install_transport_takes_any_httpx_transport() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["x-amz-target"])
        return httpx.Response(200, json={}, headers={"x-amzn-requestid": "mock-1"})

    async def scenario() -> str | None:
        with install_transport(httpx.MockTransport(handler)):
            async with Client(Config(region="eu-west-1", transport="aiohttp")) as client:
                assert client.transport == "caller"
                out = await client.global_sign_out().access_token("tok").send()
        return out.request_id

    assert anyio.run(scenario) == "mock-1"
    assert seen == ["AWSCognitoIdentityProviderService.GlobalSignOut"]
    with pytest.raises(errors.ConstructionFailure), install_transport(object()):  # type: ignore[arg-type]
        pass


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_patch_replaces_the_fast_aiohttp_transport_too(cognito_fake: FakeCognito) -> None:
    """respx cannot see the aiohttp transport; the fake is installed above any transport."""
    async with Client(Config(region="eu-west-1", transport="aiohttp")) as client:
        await sign_out(client, "tok")
    assert cognito_fake.signed_out("tok")


async def test_works_while_respx_mocks_the_network() -> None:
    """respx's default mocker patches httpcore; the fake sits above it, so both coexist."""
    fake = FakeCognito()
    with respx.mock(assert_all_called=False) as router:
        router.get("https://example.test/").respond(200)
        async with fake.client() as client:
            await sign_out(client, "tok")
    assert fake.signed_out("tok")


def test_the_fixture_is_installed_for_users_through_the_entry_point(tmp_path: Path) -> None:
    """A user's test file, run by a separate pytest, gets ``cognito_fake`` without a conftest."""
    (tmp_path / "test_user_code.py").write_text(
        textwrap.dedent(
            """
            import anyio
            from cognito_signout import Client, Config

            async def logout(token):  # the user's production code
                async with Client(Config(region="eu-west-1")) as client:
                    await client.global_sign_out().access_token(token).send()

            def test_logout(cognito_fake):
                token = cognito_fake.issue_token("alice")
                cognito_fake.throttle(2)
                anyio.run(logout, token)
                assert cognito_fake.signed_out(token)
                assert [c.attempt for c in cognito_fake.calls] == [1, 2, 3]
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, json; import cognito_signout.testing._plugin; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('cognito_signout', "
        "'fastapi', 'starlette', 'moto')))))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(run.stdout)
    assert "cognito_signout.testing._plugin" in loaded
    assert not [m for m in loaded if m.startswith(("fastapi", "starlette", "moto"))]


# --- issue 10: the split fake keeps its API, and serves every operation ----------------------


def test_the_public_api_of_the_testing_package() -> None:
    import cognito_signout.testing as testing

    assert set(testing.__all__) >= {
        "EXPIRED", "INVALID", "REVOKED", "FakeCognito", "RecordedCall", "install_transport",
        "FakeSession", "FakeAppClient",
    }
    fake = FakeCognito(region="eu-west-2", accept_unknown_tokens=False)
    assert (fake.region, fake.accept_unknown_tokens) == ("eu-west-2", False)
    assert fake.pool_id.startswith("eu-west-2_")


async def test_a_global_sign_out_records_its_token_in_both_fields() -> None:
    fake = FakeCognito()
    token = fake.issue_token("gus")
    async with fake.client() as client:
        await sign_out(client, token)
    [call] = fake.calls
    assert call.access_token == call.token == token
    assert call.client_id is None
    assert call.members == {"AccessToken": token}


async def test_failures_without_a_token_or_operation_hit_every_operation(
    instant_retries: None,
) -> None:
    fake = FakeCognito()
    session = fake.sign_in("hank")
    async with fake.client() as client:
        for name, send in (
            ("GetUser", client.get_user().access_token(session.access_token).send),
            ("RevokeToken",
             client.revoke_token().token(session.refresh_token).client_id("fakeclientid").send),
            ("GlobalSignOut", client.global_sign_out().access_token(fake.issue_token()).send),
        ):
            fake.fail_next()
            out = await send()
            assert out.attempts == 2
            failed, succeeded = fake.calls[-2:]
            assert (failed.operation, failed.injected, succeeded.operation) == (name, True, name)
            assert succeeded.ok and not succeeded.injected
