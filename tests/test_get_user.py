"""GetUser: is this access token still live? The wire against botocore, the output and its
privacy, hostile answers, and moto's own sign-out making it refuse the token."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx

from cognito_signout import Client, Config, GetUserOutput, MfaOption, RetryConfig, errors
from cognito_signout.emulator import MotoCognito

from .tokens import TOKEN, make_token

pytestmark = pytest.mark.anyio
URL = "https://cognito-idp.eu-west-1.amazonaws.com/"
USER = {
    "Username": "alice@example.com",
    "UserAttributes": [
        {"Name": "sub", "Value": "5f3c-...-a1"},
        {"Name": "email", "Value": "alice@example.com"},
        {"Name": "email_verified", "Value": "true"},
    ],
    "MFAOptions": [{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}],
    "PreferredMfaSetting": "SOFTWARE_TOKEN_MFA",
    "UserMFASettingList": ["SOFTWARE_TOKEN_MFA"],
}



async def test_the_wire_is_what_botocore_serializes(wire: respx.MockRouter) -> None:
    import botocore.session
    from botocore.serialize import create_serializer

    route = wire.post(URL).respond(200, json=USER, headers={"x-amzn-requestid": "rid-u"})
    async with Client(Config()) as client:  # routed by the token's issuer, as GlobalSignOut
        out = await client.get_user().access_token(TOKEN).send()
    operation = botocore.session.get_session().get_service_model(
        "cognito-idp").operation_model("GetUser")
    expected: Any = create_serializer("json").serialize_to_request(
        {"AccessToken": TOKEN}, operation
    )
    sent = route.calls.last.request
    assert operation.auth_type == "none"
    assert sent.headers["x-amz-target"] == expected["headers"]["X-Amz-Target"]
    assert sent.headers["content-type"] == expected["headers"]["Content-Type"]
    assert json.loads(sent.content) == json.loads(expected["body"])
    assert "authorization" not in sent.headers
    assert out.request_id == "rid-u"


async def test_the_output_reads_every_member(wire: respx.MockRouter) -> None:
    wire.post(URL).respond(200, json=USER)
    async with Client(Config(region="eu-west-1")) as client:
        user = await client.get_user().access_token(TOKEN).send()
    assert isinstance(user, GetUserOutput)
    assert user.username == "alice@example.com"
    assert dict(user.user_attributes) == {
        "sub": "5f3c-...-a1", "email": "alice@example.com", "email_verified": "true"
    }
    assert user.mfa_options == (MfaOption("SMS", "phone_number"),)
    assert user.preferred_mfa_setting == "SOFTWARE_TOKEN_MFA"
    assert user.user_mfa_setting_list == ("SOFTWARE_TOKEN_MFA",)
    with pytest.raises(TypeError):
        user.user_attributes["email"] = "x"  # type: ignore[index]
    # personal data stays out of the repr (and the token out of everything)
    assert "alice" not in repr(user)
    assert TOKEN not in repr(client.get_user().access_token(TOKEN))


async def test_only_username_is_required(wire: respx.MockRouter) -> None:
    wire.post(URL).respond(200, json={"Username": "bob"})
    async with Client(Config(region="eu-west-1")) as client:
        user = await client.get_user().access_token(TOKEN).send()
    assert (user.username, dict(user.user_attributes), user.mfa_options) == ("bob", {}, ())


@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"Username": 5}', b'{"Username": "u", "UserAttributes": [{"Value": "x"}]}',
     b'{"Username": "u", "UserAttributes": "nope"}', b'{"Username": "u", "MFAOptions": [1]}',
     b"[" * 10000 + b"]" * 10000],
    ids=["no-username", "number", "attribute-without-name", "attributes-not-a-list",
         "bad-mfa", "deep"],
)
async def test_a_body_that_is_not_a_user_is_a_response_error(
    wire: respx.MockRouter, body: bytes
) -> None:
    wire.post(URL).respond(200, content=body, headers={"x-amzn-requestid": "rid-x"})
    config = Config(region="eu-west-1", retry_config=RetryConfig.disabled())
    async with Client(config) as client:
        with pytest.raises(errors.ResponseError) as info:
            await client.get_user().access_token(TOKEN).send()
    assert info.value.status_code == 200
    assert info.value.request_id == "rid-x"
    assert TOKEN not in str(info.value)


async def test_modeled_errors(wire: respx.MockRouter) -> None:
    for cls in (errors.UserNotFoundException, errors.NotAuthorizedException,
                errors.PasswordResetRequiredException):
        wire.post(URL).respond(400, json={"__type": cls.__name__, "message": "m"})
        async with Client(Config(region="eu-west-1")) as client:
            with pytest.raises(cls):
                await client.get_user().access_token(TOKEN).send()


async def test_an_id_token_is_refused_before_any_io(wire: respx.MockRouter) -> None:
    async with Client(Config()) as client:
        with pytest.raises(errors.ConstructionFailure, match="ID token"):
            await client.get_user().access_token(make_token(token_use="id")).send()
    assert not wire.calls


async def test_moto_refuses_the_token_after_its_own_sign_out(moto: MotoCognito) -> None:
    """GetUser against moto's GlobalSignOut, and against the emulator's RevokeToken."""
    user, other = moto.create_user(), moto.create_user()
    config = Config(region="us-east-1", endpoint_url=moto.endpoint_url)
    async with Client(config) as client:
        live = await client.get_user().access_token(user.access_token).send()
        assert live.username == user.username
        assert live.user_attributes.get("sub")
        await client.global_sign_out().access_token(user.access_token).send()
        with pytest.raises(errors.NotAuthorizedException) as info:
            await client.get_user().access_token(user.access_token).send()
        assert user.access_token not in str(info.value)  # moto echoes it; scrubbed
        assert (await client.get_user().access_token(other.access_token).send()).username == (
            other.username
        )
