"""TokenVerifier(confirm_with_cognito=...): sign-outs made outside this SDK are caught by asking
Cognito, at most once per interval per token (cognito_signout/_confirm.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
import respx

from cognito_signout import Client, Config, TimeoutConfig, TokenVerifier, errors
from cognito_signout._retry import RetryConfig
from cognito_signout.emulator import MotoCognito

from .test_verify import LOOPBACK_CLIENT, LOOPBACK_POOL, PUBLIC_JWKS, claims_for, mint

pytestmark = pytest.mark.anyio

COGNITO = "https://cognito-idp.us-east-1.amazonaws.com/"
JWKS = f"{COGNITO}{LOOPBACK_POOL}/.well-known/jwks.json"
DOMAIN = "auth.example.com"
USERINFO = f"https://{DOMAIN}/oauth2/userInfo"
ADMIN = "aws.cognito.signin.user.admin"


def token(scope: str = ADMIN, **changes: Any) -> str:
    return mint(claims_for(LOOPBACK_POOL, LOOPBACK_CLIENT, scope=scope, **changes))


def verifier(interval: float = 60.0, **kwargs: Any) -> TokenVerifier:
    config = Config(
        region="us-east-1",
        retry_config=RetryConfig.disabled(),
        timeout_config=TimeoutConfig(operation_timeout=2.0),
    )
    return TokenVerifier(
        LOOPBACK_POOL, [LOOPBACK_CLIENT], config=config, confirm_with_cognito=interval, **kwargs
    )


def cognito(mocked: respx.MockRouter, *responses: httpx.Response | Exception) -> respx.Route:
    mocked.get(JWKS).mock(return_value=httpx.Response(200, content=PUBLIC_JWKS))
    route = mocked.post(COGNITO, headers={
        "X-Amz-Target": "AWSCognitoIdentityProviderService.GetUser"})
    route.mock(side_effect=list(responses))
    return route


def user() -> httpx.Response:
    return httpx.Response(200, json={"Username": "someone", "UserAttributes": []})


def refused(code: str, status: int = 400) -> httpx.Response:
    return httpx.Response(
        status, json={"__type": code, "message": "Access Token has been revoked"},
        headers={"x-amzn-requestid": "req-1"},
    )


# --- against moto: a sign-out the store never heard of -----------------------------------------


async def test_a_sign_out_made_elsewhere_is_caught_through_cognito(moto: MotoCognito) -> None:
    alice = moto.create_user()
    config = Config(endpoint_url=moto.endpoint_url)
    async with TokenVerifier(
        moto.pool_id, [moto.client_id], config=config, confirm_with_cognito=0.0
    ) as confirming, TokenVerifier(moto.pool_id, [moto.client_id], config=config) as local:
        await confirming.verify(alice.access_token)
        async with Client(config) as another_service:  # no store: invisible to this app
            await another_service.global_sign_out().access_token(alice.access_token).send()
        await local.verify(alice.access_token)  # the field problem: a local check passes
        with pytest.raises(errors.TokenRevoked) as caught:
            await confirming.verify(alice.access_token)
        assert alice.access_token not in str(caught.value)
        assert confirming.confirmations == 2


# --- the cache and its single flight -------------------------------------------------------------


async def test_a_live_answer_is_kept_for_the_interval() -> None:
    raw = token()
    with respx.mock(assert_all_called=False) as mocked:
        route = cognito(mocked, user(), refused("NotAuthorizedException"))
        async with verifier(interval=0.3) as v:
            for _ in range(5):
                await v.verify(raw)
            assert route.call_count == 1  # one GetUser for five verifies
            await anyio.sleep(0.35)
            with pytest.raises(errors.TokenRevoked):
                await v.verify(raw)  # the interval passed: asked again, now revoked
            with pytest.raises(errors.TokenRevoked):
                await v.verify(raw)  # a revoked answer is kept until the token expires
            assert route.call_count == 2 and v.confirmations == 2


async def test_concurrent_verifies_of_one_token_share_one_probe() -> None:
    raw = token()
    with respx.mock(assert_all_called=False) as mocked:
        route = cognito(mocked, user())
        async with verifier() as v, anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(v.verify, raw)
    assert route.call_count == 1


async def test_each_token_is_asked_about_once() -> None:
    first, second = token(), token()
    with respx.mock(assert_all_called=False) as mocked:
        route = cognito(mocked, user(), user())
        async with verifier() as v:
            await v.verify(first)
            await v.verify(second)
            await v.verify(first)
    assert route.call_count == 2
    sent = json.loads(route.calls[0].request.content)
    assert sent == {"AccessToken": first}


@pytest.mark.parametrize("code", ["NotAuthorizedException", "UserNotFoundException"])
async def test_cognitos_refusal_is_token_revoked(code: str) -> None:
    with respx.mock(assert_all_called=False) as mocked:
        cognito(mocked, refused(code))
        async with verifier() as v:
            with pytest.raises(errors.TokenRevoked) as caught:
                await v.verify(token())
    assert caught.value.reason == "revoked"


@pytest.mark.parametrize("code", ["PasswordResetRequiredException", "UserNotConfirmedException"])
async def test_an_answer_about_the_user_is_not_a_revocation(code: str) -> None:
    with respx.mock(assert_all_called=False) as mocked:
        cognito(mocked, refused(code))
        async with verifier() as v:
            await v.verify(token())


# --- Cognito cannot answer -----------------------------------------------------------------------

UNAVAILABLE: dict[str, Callable[[], httpx.Response | Exception]] = {
    "throttled": lambda: refused("TooManyRequestsException"),
    "5xx": lambda: httpx.Response(503, text="<html>busy</html>"),
    "unreachable": lambda: httpx.ConnectError("refused"),
}


@pytest.mark.parametrize("failure", sorted(UNAVAILABLE))
async def test_when_cognito_cannot_answer_reject_refuses_with_503_semantics(failure: str) -> None:
    raw = token()
    with respx.mock(assert_all_called=False) as mocked:
        route = cognito(mocked, *(UNAVAILABLE[failure]() for _ in range(2)), user())
        async with verifier() as v:
            with pytest.raises(errors.RevocationsUnavailable) as caught:
                await v.verify(raw)
            assert caught.value.retry_kind == "transient"
            assert raw not in str(caught.value)
            with pytest.raises(errors.RevocationsUnavailable):
                await v.verify(raw)  # not cached: asked again
            await v.verify(raw)  # Cognito is back
    assert route.call_count == 3


async def test_when_cognito_cannot_answer_allow_accepts_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = token()
    with (
        respx.mock(assert_all_called=False) as mocked,
        caplog.at_level(logging.WARNING, "cognito_signout"),
    ):
        cognito(mocked, refused("TooManyRequestsException"), refused("TooManyRequestsException"))
        async with verifier(on_unavailable="allow") as v:
            await v.verify(raw)
            await v.verify(raw)
    assert sum("cannot answer" in r.getMessage() for r in caplog.records) == 1
    assert raw not in caplog.text


# --- which tokens can be confirmed ---------------------------------------------------------------


async def test_a_managed_login_token_is_never_refused_for_want_of_a_probe(
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = token(scope="openid email")
    with (
        respx.mock(assert_all_called=False) as mocked,
        caplog.at_level(logging.WARNING, "cognito_signout"),
    ):
        route = cognito(mocked)
        async with verifier() as v:
            verified = await v.verify(raw)
            assert not v.confirms(verified)
    assert route.call_count == 0
    assert "are not confirmed" in caplog.text  # said at construction


async def test_with_a_domain_userinfo_confirms_managed_login_tokens() -> None:
    raw = token(scope="openid email")
    with respx.mock(assert_all_called=False) as mocked:
        cognito(mocked)
        userinfo = mocked.get(USERINFO).mock(
            side_effect=[
                httpx.Response(200, json={"sub": "x"}),
                httpx.Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}),
            ]
        )
        async with verifier(interval=0.0, managed_login_domain=DOMAIN) as v:
            verified = await v.verify(raw)
            assert v.confirms(verified)
            with pytest.raises(errors.TokenRevoked):
                await v.verify(raw)
    assert userinfo.call_count == 2
    assert userinfo.calls[0].request.headers["authorization"] == f"Bearer {raw}"


async def test_a_userinfo_outage_follows_on_unavailable() -> None:
    raw = token(scope="openid")
    with respx.mock(assert_all_called=False) as mocked:
        cognito(mocked)
        mocked.get(USERINFO).mock(return_value=httpx.Response(500))
        async with verifier(managed_login_domain=DOMAIN) as v:
            with pytest.raises(errors.RevocationsUnavailable):
                await v.verify(raw)
        async with verifier(managed_login_domain=DOMAIN, on_unavailable="allow") as v:
            await v.verify(raw)


async def test_a_token_without_openid_is_not_sent_to_userinfo() -> None:
    with respx.mock(assert_all_called=False) as mocked:
        cognito(mocked)
        userinfo = mocked.get(USERINFO).mock(return_value=httpx.Response(401))
        async with verifier(managed_login_domain=DOMAIN) as v:
            await v.verify(token(scope="email"))
    assert userinfo.call_count == 0


# --- construction ---------------------------------------------------------------------------


def test_an_id_token_verifier_cannot_confirm() -> None:
    with pytest.raises(errors.ConstructionFailure, match="token_use='access'"):
        TokenVerifier(LOOPBACK_POOL, [LOOPBACK_CLIENT], token_use="id", confirm_with_cognito=60)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"confirm_with_cognito": -1}, "confirm_with_cognito"),
        ({"confirm_with_cognito": float("nan")}, "confirm_with_cognito"),
        ({"confirm_with_cognito": "60"}, "confirm_with_cognito"),
        ({"managed_login_domain": DOMAIN}, "only used by confirm_with_cognito"),
        ({"confirm_with_cognito": 60, "managed_login_domain": "http://evil.example"},
         "managed_login_domain"),
        ({"confirm_with_cognito": 60, "managed_login_domain": "127.0.0.1"},
         "managed_login_domain"),
        ({"confirm_with_cognito": 60, "on_unavailable": "maybe"}, "on_unavailable"),
    ],
)
def test_construction_is_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.ConstructionFailure, match=message):
        TokenVerifier(LOOPBACK_POOL, [LOOPBACK_CLIENT], **kwargs)


# --- a probe that is slow, cancelled, or one of very many ---------------------------------------


async def test_a_probe_is_bounded_by_the_operation_timeout() -> None:
    async def stall(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(30)
        return user()

    config = Config(region="us-east-1", retry_config=RetryConfig.disabled(),
                    timeout_config=TimeoutConfig.disabled())
    with respx.mock(assert_all_called=False) as mocked:
        cognito(mocked)
        mocked.routes[-1].mock(side_effect=stall)
        # No timeout of the config applies: the probe's own bound (5 s without one) must.
        async with TokenVerifier(LOOPBACK_POOL, [LOOPBACK_CLIENT], config=config,
                                 confirm_with_cognito=60) as v:
            v._confirmer._timeout = 0.3  # type: ignore[union-attr]  # the default 5 s is slow
            with anyio.fail_after(5), pytest.raises(errors.RevocationsUnavailable):
                await v.verify(token())


async def test_a_cancelled_probe_lets_the_waiters_ask_again() -> None:
    raw = token()
    calls = 0

    async def first_stalls(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await anyio.sleep(30)
        return user()

    with respx.mock(assert_all_called=False) as mocked:
        cognito(mocked)
        mocked.routes[-1].mock(side_effect=first_stalls)
        async with verifier() as v:
            results: list[str] = []
            scopes: list[anyio.CancelScope] = []

            async def asker() -> None:
                with anyio.CancelScope() as scope:
                    scopes.append(scope)
                    await v.verify(raw)
                results.append("cancelled" if scope.cancelled_caught else "asked")

            async def waiter() -> None:
                await v.verify(raw)
                results.append("ok")

            async with anyio.create_task_group() as tg:
                tg.start_soon(asker)
                await anyio.sleep(0.05)
                tg.start_soon(waiter)
                await anyio.sleep(0.05)
                scopes[0].cancel()
            # The asking task was cancelled; its waiter asked again and got Cognito's answer.
    assert results == ["cancelled", "ok"]
    assert calls == 2


async def test_a_full_cache_drops_a_tenth_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from cognito_signout import _confirm

    monkeypatch.setattr(_confirm, "MAX_CACHED", 20)
    with respx.mock(assert_all_called=False) as mocked:
        route = cognito(mocked)
        route.mock(return_value=user())
        async with verifier() as v:
            for _ in range(21):
                await v.verify(token())
            cache = v._confirmer._cache  # type: ignore[union-attr]
            assert len(cache) == 19  # 20 full: down to 18, then the new one
