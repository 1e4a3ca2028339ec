"""Through the SDK against a real moto server on 127.0.0.1: the token really stops working."""

from __future__ import annotations

import anyio
import pytest

from cognito_signout import Client, Config, RetryConfig, errors
from cognito_signout.emulator import MotoCognito

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def _client(moto: MotoCognito, **kwargs: object) -> Client:
    # moto answers unsigned requests from us-east-1 (the "region trap"), where its pools live.
    return Client(Config(region="us-east-1", endpoint_url=moto.endpoint_url, **kwargs))  # type: ignore[arg-type]


async def test_sign_out_revokes_access_and_refresh_tokens(moto: MotoCognito) -> None:
    user = moto.create_user()
    assert moto.access_token_accepted(user.access_token)
    assert moto.refresh_token_accepted(user)
    async with _client(moto) as client:
        out = await client.global_sign_out().access_token(user.access_token).send()
    assert out.request_id and len(out.request_id) > 10
    assert out.attempts == 1
    assert not moto.access_token_accepted(user.access_token)
    assert not moto.refresh_token_accepted(user)


async def test_second_sign_out_is_not_authorized_and_scrubbed(moto: MotoCognito) -> None:
    user = moto.create_user()
    async with _client(moto) as client:
        builder = client.global_sign_out().access_token(user.access_token)
        await builder.send()
        with pytest.raises(errors.NotAuthorizedException) as info:
            await builder.send()
    exc = info.value
    assert exc.status_code == 400
    assert exc.request_id
    assert exc.response is not None
    # moto echoes the token in its message; none of it may survive.
    for text in (str(exc), repr(exc), exc.message or "", exc.response.text,
                 exc.response.request.content.decode()):
        assert user.access_token not in text
    # not retried: NotAuthorized is final
    assert client.retry_quota.available == client.retry_quota.capacity


async def test_garbage_token_is_not_authorized(moto: MotoCognito) -> None:
    async with _client(moto, retry_config=RetryConfig.disabled()) as client:
        with pytest.raises(errors.NotAuthorizedException):
            await client.global_sign_out().access_token("not-a-real-token").send()


async def test_concurrent_sign_outs_on_one_client(moto: MotoCognito) -> None:
    users = [moto.create_user() for _ in range(20)]
    results: dict[str, str | None] = {}

    async def sign_out(client: Client, token: str) -> None:
        out = await client.global_sign_out().access_token(token).send()
        results[token] = out.request_id

    async with _client(moto, max_connections=4) as client, anyio.create_task_group() as tg:
        for user in users:
            tg.start_soon(sign_out, client, user.access_token)
    assert len(results) == 20
    assert len(set(results.values())) == 20
    assert not any(moto.access_token_accepted(u.access_token) for u in users[:5])


async def test_customized_call_against_moto(moto: MotoCognito) -> None:
    user = moto.create_user()
    seen: list[str] = []
    async with Client(Config(region="us-east-1")) as client:
        op = (
            client.global_sign_out().access_token(user.access_token).customize()
            .config_override(endpoint_url=moto.endpoint_url)
            .mutate_request(lambda r: seen.append(str(r.url)))
        )
        await op.send()
    assert seen == [moto.endpoint_url + "/"]
    assert not moto.access_token_accepted(user.access_token)


async def test_region_from_a_moto_token(moto: MotoCognito) -> None:
    from cognito_signout._token import region_from_token

    user = moto.create_user()
    assert region_from_token(user.access_token) == "us-east-1"
