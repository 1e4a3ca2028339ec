"""Token validation before any I/O, and routing by the token's issuer without trusting it."""

from __future__ import annotations

import pytest
import respx

from cognito_signout import Client, Config, errors
from cognito_signout._token import region_from_token, validate_access_token

from .tokens import TOKEN, make_token

# Tests refused before any I/O leave their route uncalled, on purpose.
pytestmark = pytest.mark.respx(assert_all_called=False)


@pytest.fixture
def no_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", "AWS_MAX_ATTEMPTS",
                "AWS_RETRY_MODE", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")


SECRET_BAD_TOKENS: list[tuple[object, str]] = [
    (None, "required"),
    ("", "empty"),
    (123, "must be a str"),
    (b"abc.def.ghi", "must be a str"),
    ("Bearer abc.def.ghi", "position 6"),
    ("abc.def.ghi\n", "position 11"),
    ('abc"def', "position 3"),
    ("tök", "position 1"),
]


@pytest.mark.parametrize(("value", "why"), SECRET_BAD_TOKENS)
def test_validation_messages_never_echo_the_value(value: object, why: str) -> None:
    with pytest.raises(errors.ConstructionFailure) as info:
        validate_access_token(value)
    assert why in str(info.value)
    if isinstance(value, str) and value:
        assert value.strip() not in str(info.value)


@pytest.mark.anyio
@pytest.mark.parametrize(("value", "why"), SECRET_BAD_TOKENS)
async def test_invalid_tokens_fail_before_any_io(
    wire: respx.MockRouter, value: object, why: str
) -> None:
    route = wire.route().respond(200, json={})
    async with Client(Config(region="eu-west-1")) as client:
        builder = client.global_sign_out().set_access_token(value)  # type: ignore[arg-type]
        with pytest.raises(errors.ConstructionFailure, match=why):
            await builder.send()
        with pytest.raises(errors.ConstructionFailure):
            await builder.customize().send()
        with pytest.raises(errors.ConstructionFailure):
            builder.as_input().build()
    assert route.call_count == 0


@pytest.mark.anyio
async def test_missing_token(wire: respx.MockRouter) -> None:
    async with Client(Config(region="eu-west-1")) as client:
        with pytest.raises(errors.ConstructionFailure, match="required"):
            await client.global_sign_out().send()


@pytest.mark.parametrize(
    "region", ["eu-west-1", "us-east-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"]
)
def test_region_from_a_genuine_issuer(region: str) -> None:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    token = make_token(issuer=f"https://cognito-idp.{region}.{suffix}/{region}_Abc123")
    assert region_from_token(token) == region


CRAFTED = [
    "https://evil.example/eu-west-1_Abc",
    "https://cognito-idp.eu-west-1.amazonaws.com.evil.example/eu-west-1_Abc",
    "https://cognito-idp.eu-west-1.amazonaws.com@evil.example/eu-west-1_Abc",
    "https://cognito-idp.eu-west-1.amazonaws.com:8443/eu-west-1_Abc",
    "http://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc",
    "https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_Abc",
    "https://cognito-idp.eu-west-1.amazonaws.com.cn/eu-west-1_Abc",
    "https://cognito-idp.cn-north-1.amazonaws.com/cn-north-1_Abc",
    "https://cognito-idp.mars-east-1.amazonaws.com/mars-east-1_Abc",
    "https://cognito-idp.evil.example/evil_Abc",
    "https://cognito-idp.127.0.0.1/127_Abc",
    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc/../../x",
    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc?x=1",
    "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc\n",
    "https://cognito-idp.EU-WEST-1.amazonaws.com/EU-WEST-1_Abc",
    "",
]


@pytest.mark.parametrize("issuer", CRAFTED)
def test_crafted_issuers_are_refused(issuer: str) -> None:
    with pytest.raises(errors.ConstructionFailure, match="configure a region"):
        region_from_token(make_token(issuer=issuer))


@pytest.mark.parametrize(
    "token",
    ["abc", "a.b.c", "a.!!!.c", "a." + "A" * 20_000 + ".c", make_token().split(".")[0] + ".e30.x"],
)
def test_unreadable_tokens_are_refused(token: str) -> None:
    with pytest.raises(errors.ConstructionFailure, match="configure a region"):
        region_from_token(token)


def test_id_token_is_refused_with_a_hint() -> None:
    with pytest.raises(errors.ConstructionFailure, match="ID token"):
        region_from_token(make_token(token_use="id"))


@pytest.mark.anyio
async def test_zero_config_client_routes_by_the_token(
    wire: respx.MockRouter, no_aws_env: None
) -> None:
    route = wire.post("https://cognito-idp.ap-southeast-2.amazonaws.com/").respond(200, json={})
    async with Client() as client:
        assert client.config.region is None
        await client.global_sign_out().access_token(make_token("ap-southeast-2")).send()
    assert route.call_count == 1


@pytest.mark.anyio
@pytest.mark.parametrize("issuer", CRAFTED[:4])
async def test_crafted_token_sends_nothing(
    wire: respx.MockRouter, no_aws_env: None, issuer: str
) -> None:
    route = wire.route().respond(200, json={})
    async with Client() as client:
        with pytest.raises(errors.ConstructionFailure):
            await client.global_sign_out().access_token(make_token(issuer=issuer)).send()
    assert route.call_count == 0


@pytest.mark.anyio
async def test_configured_region_wins_over_the_token(wire: respx.MockRouter) -> None:
    route = wire.post("https://cognito-idp.eu-central-1.amazonaws.com/").respond(200, json={})
    async with Client(Config(region="eu-central-1")) as client:
        await client.global_sign_out().access_token(make_token("us-west-2")).send()
    assert route.call_count == 1


@pytest.mark.anyio
async def test_fips_applies_to_a_region_from_the_token(
    wire: respx.MockRouter, no_aws_env: None
) -> None:
    route = wire.post("https://cognito-idp-fips.us-west-2.amazonaws.com/").respond(200, json={})
    async with Client(Config(use_fips=True)) as client:
        await client.global_sign_out().access_token(make_token("us-west-2")).send()
    assert route.call_count == 1


def test_non_jwt_token_is_still_valid_with_a_region() -> None:
    assert validate_access_token("opaque-token_value=") == "opaque-token_value="
    assert validate_access_token(TOKEN) == TOKEN
