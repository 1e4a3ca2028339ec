"""RevokeToken: sign one device out. The wire against botocore's serializer, the builders, the
model's input rules before any I/O, scrubbing of every sensitive value, and the real thing
against the embedded emulator (that session ends, another lives on)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import respx

from cognito_signout import (
    Client,
    Config,
    RetryConfig,
    RevokeTokenFluentBuilder,
    RevokeTokenInputBuilder,
    RevokeTokenOutput,
    errors,
)
from cognito_signout.emulator import MotoCognito

from . import loopback

pytestmark = pytest.mark.anyio
URL = "https://cognito-idp.eu-west-1.amazonaws.com/"
# A refresh token is a five-part JWE: nothing JWT-shaped about it.
REFRESH = ".".join(
    base64.urlsafe_b64encode(bytes([n]) * size).rstrip(b"=").decode()
    for n, size in ((1, 60), (2, 260), (3, 12), (4, 900), (5, 16))
)
CLIENT_ID = "3n4b5urk1ft4fl3mg5e62d9ado"
SECRET = "x" * 10 + "SecretPart" + "y" * 32



def _client(**fields: Any) -> Client:
    return Client(Config(region="eu-west-1", **fields))


# --- the wire -------------------------------------------------------------------------------


def _model() -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("cognito-idp")
    return model.operation_model("RevokeToken")


def _botocore_request(params: dict[str, Any]) -> Any:
    from botocore.serialize import create_serializer

    operation = _model()
    known = set(operation.input_shape.members)
    serialized = create_serializer("json").serialize_to_request(
        {k: v for k, v in params.items() if k in known}, operation
    )
    return serialized, known, operation


@pytest.mark.parametrize("secret", [None, SECRET])
@pytest.mark.parametrize("linked", [None, "LINKED", "NONE"])
async def test_the_wire_is_what_botocore_serializes(
    wire: respx.MockRouter, secret: str | None, linked: str | None
) -> None:
    route = wire.post(URL).respond(200, json={}, headers={"x-amzn-requestid": "rid-r"})
    builder = _client().revoke_token().token(REFRESH).client_id(CLIENT_ID)
    if secret is not None:
        builder = builder.client_secret(secret)
    if linked is not None:
        builder = builder.revoke_associated_sessions(linked)  # type: ignore[arg-type]
    out = await builder.send()
    assert out == RevokeTokenOutput(request_id="rid-r", attempts=1)
    sent = route.calls.last.request
    params: dict[str, Any] = {"Token": REFRESH, "ClientId": CLIENT_ID}
    if secret is not None:
        params["ClientSecret"] = secret
    if linked is not None:
        params["RevokeAssociatedSessions"] = linked
    expected, known, operation = _botocore_request(params)
    assert operation.auth_type == "none"  # unsigned, as we send it
    assert sent.headers["x-amz-target"] == expected["headers"]["X-Amz-Target"]
    assert sent.headers["content-type"] == expected["headers"]["Content-Type"]
    assert json.loads(sent.content) == params  # every member we were given
    expected_body = json.loads(expected["body"])
    assert {k: v for k, v in json.loads(sent.content).items() if k in known} == expected_body
    for name in ("authorization", "x-amz-date", "x-amz-security-token"):
        assert name not in sent.headers


def test_botocore_models_revoke_associated_sessions_in_new_releases() -> None:
    known = set(_model().input_shape.members)
    assert {"Token", "ClientId", "ClientSecret"} <= known
    sensitive = {name for name, shape in _model().input_shape.members.items()
                 if shape.serialization.get("sensitive") or shape.metadata.get("sensitive")}
    assert sensitive >= {"Token", "ClientId", "ClientSecret"}  # as our Members say
    if "RevokeAssociatedSessions" not in known:
        pytest.skip("the installed botocore predates RevokeAssociatedSessions (1.44 models it)")
    assert "RevokeAssociatedSessions" in known


# --- builders ---------------------------------------------------------------------------------


def test_builders_are_immutable_templates_with_getters() -> None:
    client = _client()
    base = client.revoke_token().client_id(CLIENT_ID)
    one, two = base.token(REFRESH), base.token(REFRESH + "x")
    assert base.get_token() is None
    assert (one.get_token(), two.get_client_id()) == (REFRESH, CLIENT_ID)
    assert isinstance(one, RevokeTokenFluentBuilder)
    assert one.set_client_secret(SECRET).get_client_secret() == SECRET
    assert one.set_client_secret(SECRET).set_client_secret(None).get_client_secret() is None
    assert one.revoke_associated_sessions("LINKED").get_revoke_associated_sessions() == "LINKED"
    assert one.as_input() == RevokeTokenInputBuilder(token=REFRESH, client_id=CLIENT_ID)
    built = one.client_secret(SECRET).as_input().build()
    assert (built.token, built.client_id, built.client_secret) == (REFRESH, CLIENT_ID, SECRET)


def test_every_sensitive_member_is_redacted_in_every_repr() -> None:
    builder = _client().revoke_token().token(REFRESH).client_id(CLIENT_ID).client_secret(SECRET)
    texts = [repr(builder), repr(builder.as_input()), repr(builder.as_input().build()),
             repr(builder.customize()), str(builder)]
    for text in texts:
        for value in (REFRESH, CLIENT_ID, SECRET, REFRESH.split(".")[1]):
            assert value not in text
    assert "revoke_associated_sessions=None" in repr(builder.as_input())


# --- input rules, before any I/O -------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "value", "match"),
    [
        ("token", None, "token is required"),
        ("token", "", "token is empty"),
        ("token", REFRESH + " ", "not allowed by the pattern"),
        ("token", "Bearer " + REFRESH, "not allowed by the pattern"),
        ("client_id", None, "client_id is required"),
        ("client_id", "a" * 129, "1-128 characters"),
        ("client_id", "abc-def", "not allowed by the pattern"),
        ("client_id", "ab\u00e9", "not allowed by the pattern"),  # the model's \\w is ASCII
        ("client_secret", "s" * 23, "24-64 characters"),
        ("client_secret", "s" * 65, "24-64 characters"),
        ("client_secret", "s" * 30 + "/", "not allowed by the pattern"),
        ("revoke_associated_sessions", "ALL", "must be one of"),
        ("client_id", 12345, "must be a str"),
    ],
)
async def test_bad_input_is_refused_before_any_io(
    wire: respx.MockRouter, member: str, value: object, match: str
) -> None:
    values: dict[str, object] = {"token": REFRESH, "client_id": CLIENT_ID, member: value}
    builder = _client().revoke_token()
    for name, given in values.items():
        builder = getattr(builder, f"set_{name}")(given)
    with pytest.raises(errors.ConstructionFailure, match=match) as info:
        await builder.send()
    assert not wire.calls
    if isinstance(value, str) and len(value) > 3:
        assert value not in str(info.value)


async def test_without_a_region_it_says_how_to_set_one(wire: respx.MockRouter) -> None:
    async with Client(Config()) as client:
        with pytest.raises(errors.ConstructionFailure, match="needs a region") as info:
            await client.revoke_token().token(REFRESH).client_id(CLIENT_ID).send()
    assert "AWS_REGION" in str(info.value)
    assert not wire.calls


# --- errors and scrubbing by value ------------------------------------------------------------


@pytest.mark.parametrize(
    "cls",
    [errors.UnauthorizedException, errors.UnsupportedOperationException,
     errors.UnsupportedTokenTypeException, errors.InvalidParameterException,
     errors.ForbiddenException, errors.OperationNotEnabledException],
)
async def test_each_modeled_error_has_its_class(wire: respx.MockRouter, cls: type) -> None:
    wire.post(URL).respond(400, json={"__type": cls.__name__, "message": "no"})
    with pytest.raises(errors.ServiceError) as info:
        await _client().revoke_token().token(REFRESH).client_id(CLIENT_ID).send()
    assert type(info.value) is cls
    assert info.value.retry_kind is None
    assert len(wire.calls) == 1  # final: not retried


async def test_an_unmodeled_code_is_a_plain_service_error(wire: respx.MockRouter) -> None:
    # NotAuthorizedException is GlobalSignOut's, not RevokeToken's
    wire.post(URL).respond(400, json={"__type": "NotAuthorizedException", "message": "no"})
    with pytest.raises(errors.ServiceError) as info:
        await _client().revoke_token().token(REFRESH).client_id(CLIENT_ID).send()
    assert type(info.value) is errors.ServiceError
    assert info.value.code == "NotAuthorizedException"


async def test_transient_errors_are_retried(wire: respx.MockRouter, instant_retries: None) -> None:
    route = wire.post(URL).mock(side_effect=[httpx.Response(500), httpx.Response(200, json={})])
    out = await _client().revoke_token().token(REFRESH).client_id(CLIENT_ID).send()
    assert out.attempts == 2 and route.call_count == 2


async def test_every_sensitive_value_echoed_by_a_server_is_scrubbed() -> None:
    """Over a real socket: the refresh token (each of its five parts), the client id and the
    client secret, echoed in the message, a header and the body."""
    parts = [p for p in REFRESH.split(".") if len(p) >= 16]

    def echo(conn: loopback.Conn, request: loopback.Request) -> bool:
        message = f"bad {REFRESH} for {CLIENT_ID} with {SECRET}; part {parts[1]}"
        body = json.dumps({"__type": "UnauthorizedException", "message": message}).encode()
        return conn.respond(400, body, [("Content-Type", loopback.JSON),
                                        ("x-amzn-RequestId", f"r-{parts[0]}"),
                                        ("x-echo", SECRET)])

    with loopback.serve(echo) as server:
        config = Config(region="us-east-1", endpoint_url=server.url,
                        retry_config=RetryConfig.disabled())
        async with Client(config) as client:
            with pytest.raises(errors.UnauthorizedException) as info:
                await client.revoke_token().token(REFRESH).client_id(CLIENT_ID).client_secret(
                    SECRET).send()
    exc = info.value
    kept = exc.response
    assert kept is not None
    seen = [str(exc), repr(exc), exc.message or "", exc.request_id or "", kept.text,
            json.dumps(dict(kept.headers)), kept.request.content.decode()]
    for text in seen:
        for value in (REFRESH, CLIENT_ID, SECRET, *parts):
            assert value not in text, (value[:10], text[:80])
    assert "bad" in (exc.message or "")  # the rest of the message survives


async def test_a_short_client_id_does_not_mangle_unrelated_text(wire: respx.MockRouter) -> None:
    wire.post(URL).respond(400, json={"__type": "UnauthorizedException",
                                      "message": "client a is not allowed"})
    with pytest.raises(errors.UnauthorizedException) as info:
        await _client().revoke_token().token(REFRESH).client_id("a").send()
    assert info.value.message == "client a is not allowed"


# --- the real thing: the embedded emulator -----------------------------------------------------


async def test_revoking_one_device_ends_that_session_and_no_other(moto: MotoCognito) -> None:
    user = moto.create_user()
    phone = moto.login(user)  # a second session of the same user
    refreshed = moto.refresh(user)  # an access token refreshed from the first session
    config = Config(region="us-east-1", endpoint_url=moto.endpoint_url)
    async with Client(config) as client:
        out = await client.revoke_token().token(user.refresh_token).client_id(
            moto.client_id).send()
        assert out.request_id
        assert not moto.refresh_token_accepted(user)
        for token in (user.access_token, refreshed.access_token):
            with pytest.raises(errors.NotAuthorizedException):
                await client.get_user().access_token(token).send()
        # the other device lives on
        assert (await client.get_user().access_token(phone.access_token).send()).username == (
            user.username
        )
        assert moto.refresh_token_accepted(phone)


async def test_an_app_client_with_a_secret_needs_it(moto: MotoCognito) -> None:
    app = moto.create_client(secret=True)
    assert app.client_secret is not None
    user = moto.create_user(client=app)
    config = Config(region="us-east-1", endpoint_url=moto.endpoint_url,
                    retry_config=RetryConfig.disabled())
    async with Client(config) as client:
        with pytest.raises(errors.UnauthorizedException) as info:
            await client.revoke_token().token(user.refresh_token).client_id(app.client_id).send()
        assert user.refresh_token not in str(info.value)
        await client.revoke_token().token(user.refresh_token).client_id(
            app.client_id).client_secret(app.client_secret).send()
    assert not moto.refresh_token_accepted(user)
