"""FakeCognito serves RevokeToken and GetUser with Cognito's semantics (issue 10).

Every test goes through a real Client: sessions (one per sign-in, each with its refresh token
and origin_jti), RevokeToken ending one session, GlobalSignOut ending them all, GetUser
refusing ended tokens, the app-client secret rules, injections on every operation, and no
credential in any repr.
"""

from __future__ import annotations

import httpx
import pytest

from cognito_signout import Client, Config, MfaOption, RetryConfig, errors
from cognito_signout.testing import (
    EXPIRED,
    INVALID,
    REVOKED,
    FakeCognito,
    FakeSession,
    install_transport,
)

from .tokens import make_token

pytestmark = pytest.mark.anyio
NO_RETRY = RetryConfig.disabled()


async def revoke(
    client: Client, refresh_token: str, client_id: str = "fakeclientid", secret: str | None = None
) -> str | None:
    builder = client.revoke_token().token(refresh_token).client_id(client_id)
    if secret is not None:
        builder = builder.client_secret(secret)
    return (await builder.send()).request_id


async def user_of(client: Client, access_token: str) -> str:
    return (await client.get_user().access_token(access_token).send()).username


async def refused(client: Client, access_token: str) -> str | None:
    with pytest.raises(errors.NotAuthorizedException) as caught:
        await client.get_user().access_token(access_token).send()
    return caught.value.message


# --- sessions -----------------------------------------------------------------------------------


async def test_revoking_one_device_ends_that_session_only() -> None:
    fake = FakeCognito()
    phone, laptop = fake.sign_in("alice"), fake.sign_in("alice")
    assert phone.origin_jti != laptop.origin_jti
    assert phone.refresh_token != laptop.refresh_token
    refreshed = fake.refresh(phone.refresh_token)  # a second access token of the phone session
    async with fake.client() as client:
        assert await user_of(client, phone.access_token) == "alice"
        request_id = await revoke(client, phone.refresh_token)

        assert await refused(client, phone.access_token) == REVOKED
        assert await refused(client, refreshed) == REVOKED
        assert await user_of(client, laptop.access_token) == "alice"
        with pytest.raises(errors.NotAuthorizedException, match=REVOKED):
            await client.global_sign_out().access_token(phone.access_token).send()

    assert fake.is_revoked(phone.refresh_token) and fake.is_revoked(phone.id_token)
    assert not fake.is_revoked(laptop.refresh_token)
    assert fake.signed_out(phone.refresh_token) and not fake.signed_out(laptop.refresh_token)
    [revocation] = fake.revocations
    assert revocation.operation == "RevokeToken"
    assert (revocation.username, revocation.request_id) == ("alice", request_id)
    assert revocation.token == phone.refresh_token and revocation.access_token is None
    assert revocation.client_id == "fakeclientid"
    with pytest.raises(ValueError, match="ended"):
        fake.refresh(phone.refresh_token)


async def test_global_sign_out_ends_every_session_of_the_user_on_every_client() -> None:
    fake = FakeCognito()
    web = fake.add_client("webclient")
    first, second = fake.sign_in("bob"), fake.sign_in("bob", client_id=web.client_id)
    carol = fake.sign_in("carol")
    async with fake.client() as client:
        await client.global_sign_out().access_token(first.access_token).send()
        later = fake.sign_in("bob")  # a new sign-in after the sign-out

        for ended in (first, second):
            assert await refused(client, ended.access_token) == REVOKED
            assert fake.is_revoked(ended.refresh_token)
        assert await user_of(client, later.access_token) == "bob"
        assert await user_of(client, carol.access_token) == "carol"
        # Revoking a refresh token that is already signed out is still a success.
        await revoke(client, second.refresh_token, web.client_id)
    assert [c.operation for c in fake.calls].count("GetUser") == 4
    assert fake.signed_out(first.access_token)


async def test_issue_token_is_a_sign_in_whose_session_can_be_found() -> None:
    fake = FakeCognito()
    token = fake.issue_token("dave", attributes={"email": "dave@example.com"})
    session = fake.session_of(token)
    assert isinstance(session, FakeSession)
    assert (session.username, session.access_token) == ("dave", token)
    assert fake.session_of(session.refresh_token) == session
    assert fake.session_of("unknown") is None
    async with fake.client() as client:
        await revoke(client, session.refresh_token)
        assert await refused(client, token) == REVOKED


async def test_revoke_session_ends_one_session_as_a_revocation_elsewhere_would() -> None:
    fake = FakeCognito()
    one, two = fake.sign_in("erin"), fake.sign_in("erin")
    fake.revoke_session(one.access_token)
    async with fake.client() as client:
        assert await refused(client, one.access_token) == REVOKED
        assert await user_of(client, two.access_token) == "erin"
        fake.revoke(two.refresh_token)  # as a GlobalSignOut elsewhere
        assert await refused(client, two.access_token) == REVOKED


# --- RevokeToken's rules ------------------------------------------------------------------------


async def test_a_client_with_a_secret_needs_it_and_a_public_one_refuses_one() -> None:
    fake = FakeCognito()
    confidential = fake.add_client(secret=True)
    assert confidential.client_secret and len(confidential.client_secret) == 51
    session = fake.sign_in("frank", client_id=confidential.client_id)
    public = fake.sign_in("frank")
    async with fake.client(Config(region=fake.region, retry_config=NO_RETRY)) as client:
        with pytest.raises(errors.UnauthorizedException):
            await revoke(client, session.refresh_token, confidential.client_id)
        with pytest.raises(errors.UnauthorizedException):
            await revoke(client, session.refresh_token, confidential.client_id, "w" * 51)
        with pytest.raises(errors.UnauthorizedException):
            await revoke(client, public.refresh_token, "fakeclientid", "w" * 51)
        assert not fake.is_revoked(session.refresh_token)
        assert not fake.is_revoked(public.refresh_token)

        await revoke(client, session.refresh_token, confidential.client_id,
                     confidential.client_secret)
    assert fake.is_revoked(session.refresh_token)
    assert not fake.is_revoked(public.refresh_token)


async def test_a_token_of_another_client_and_unknown_clients_are_unauthorized() -> None:
    fake = FakeCognito()
    fake.add_client("otherclient")
    session = fake.sign_in("gina")
    async with fake.client(Config(region=fake.region, retry_config=NO_RETRY)) as client:
        with pytest.raises(errors.UnauthorizedException):
            await revoke(client, session.refresh_token, "otherclient")
        assert not fake.is_revoked(session.refresh_token)

        await revoke(client, "opaque-refresh-token", "neverheardof")  # taken as a public client
        fake.accept_unknown_tokens = False
        with pytest.raises(errors.UnauthorizedException):
            await revoke(client, "opaque-refresh-token", "neverheardof")
        await revoke(client, "another-opaque-one")  # unknown token, known client: still 200


async def test_revocation_turned_off_is_an_unsupported_operation() -> None:
    fake = FakeCognito()
    legacy = fake.add_client("legacyclient", revocation_enabled=False)
    session = fake.sign_in("hal", client_id=legacy.client_id)
    async with fake.client(Config(region=fake.region, retry_config=NO_RETRY)) as client:
        with pytest.raises(errors.UnsupportedOperationException):
            await revoke(client, session.refresh_token, legacy.client_id)
        assert await user_of(client, session.access_token) == "hal"


async def test_only_refresh_tokens_can_be_revoked() -> None:
    fake = FakeCognito()
    session = fake.sign_in("ivy")
    async with fake.client(Config(region=fake.region, retry_config=NO_RETRY)) as client:
        for jwt in (session.access_token, session.id_token, make_token("us-east-1")):
            with pytest.raises(errors.UnsupportedTokenTypeException):
                await revoke(client, jwt)
        assert await user_of(client, session.access_token) == "ivy"
    assert fake.revocations == []


async def test_unknown_and_already_revoked_refresh_tokens_succeed_like_rfc_7009() -> None:
    fake = FakeCognito()
    session = fake.sign_in("jack")
    async with fake.client() as client:
        await revoke(client, session.refresh_token)
        await revoke(client, session.refresh_token)
        await revoke(client, "a.refresh.token.never.issued")
    assert len(fake.revocations) == 3
    assert fake.is_revoked("a.refresh.token.never.issued")


async def test_linked_sessions_are_accepted_and_recorded() -> None:
    fake = FakeCognito()
    one, two = fake.sign_in("kim"), fake.sign_in("kim")
    async with fake.client() as client:
        await (
            client.revoke_token().token(one.refresh_token).client_id("fakeclientid")
            .revoke_associated_sessions("LINKED").send()
        )
        assert await user_of(client, two.access_token) == "kim"
    assert fake.calls[0].members["RevokeAssociatedSessions"] == "LINKED"


# --- GetUser ------------------------------------------------------------------------------------


async def test_get_user_answers_the_user_of_the_token() -> None:
    fake = FakeCognito()
    session = fake.sign_in("lena", attributes={"email": "lena@example.com"})
    fake.add_user(
        "lena",
        attributes={"email_verified": "true"},
        preferred_mfa_setting="SOFTWARE_TOKEN_MFA",
        user_mfa_setting_list=["SOFTWARE_TOKEN_MFA", "SMS_MFA"],
        mfa_options=[MfaOption("SMS", "phone_number")],
    )
    plain = fake.sign_in("max")
    async with fake.client() as client:
        out = await client.get_user().access_token(session.access_token).send()
        bare = await client.get_user().access_token(plain.access_token).send()

    assert out.username == "lena"
    assert dict(out.user_attributes) == {
        "sub": out.user_attributes["sub"],
        "email": "lena@example.com",
        "email_verified": "true",
    }
    assert out.preferred_mfa_setting == "SOFTWARE_TOKEN_MFA"
    assert out.user_mfa_setting_list == ("SOFTWARE_TOKEN_MFA", "SMS_MFA")
    assert out.mfa_options == (MfaOption("SMS", "phone_number"),)
    assert (out.request_id, out.attempts) == (fake.calls[0].request_id, 1)
    assert list(bare.user_attributes) == ["sub"]
    assert bare.mfa_options == () and bare.preferred_mfa_setting is None
    assert bare.user_attributes["sub"] != out.user_attributes["sub"]
    assert [c.username for c in fake.calls] == ["lena", "max"]
    assert fake.sign_outs == [] and fake.revocations == []  # GetUser changes nothing


async def test_the_sub_is_stable_across_sessions_and_attributes_merge() -> None:
    fake = FakeCognito()
    one = fake.sign_in("nina", attributes={"email": "old@example.com"})
    two = fake.sign_in("nina", attributes={"email": "new@example.com", "locale": "fr"})
    async with fake.client() as client:
        first = await client.get_user().access_token(one.access_token).send()
        second = await client.get_user().access_token(two.access_token).send()
    assert first.user_attributes["sub"] == second.user_attributes["sub"]
    assert dict(second.user_attributes) == {**first.user_attributes, "locale": "fr"}
    assert second.user_attributes["email"] == "new@example.com"
    with pytest.raises(ValueError, match="sub"):
        fake.add_user("nina", attributes={"sub": "forged"})


async def test_get_user_refuses_expired_non_access_and_unknown_tokens() -> None:
    fake = FakeCognito()
    session = fake.sign_in("otto")
    expired = fake.sign_in("otto", expires_in=-1)
    async with fake.client(Config(region=fake.region, retry_config=NO_RETRY)) as client:
        assert await refused(client, expired.access_token) == EXPIRED
        assert await refused(client, session.id_token) == INVALID
        # An unknown JWT is its own session: GetUser reads its claims, until it is signed out.
        stranger = make_token("us-east-1", username="stranger")
        assert await user_of(client, stranger) == "stranger"
        await client.global_sign_out().access_token(stranger).send()
        assert await refused(client, stranger) == REVOKED
        fake.accept_unknown_tokens = False
        assert await refused(client, make_token("us-east-1")) == INVALID
        assert await user_of(client, session.access_token) == "otto"


async def test_a_refresh_token_is_not_an_access_token() -> None:
    fake = FakeCognito()
    session = fake.sign_in("pia")
    async with httpx.AsyncClient(transport=fake, base_url="https://cognito-idp.test") as http:
        # The SDK would send it; a refresh token is five parts and passes the token pattern.
        response = await http.post(
            "/", json={"AccessToken": session.refresh_token},
            headers={"X-Amz-Target": "AWSCognitoIdentityProviderService.GetUser",
                     "Content-Type": "application/x-amz-json-1.1"},
        )
    assert response.status_code == 400
    assert response.json() == {"__type": "NotAuthorizedException", "message": INVALID}


# --- injections ---------------------------------------------------------------------------------


async def test_injections_match_revoke_tokens_token(instant_retries: None) -> None:
    fake = FakeCognito()
    target, bystander = fake.sign_in("quinn"), fake.sign_in("quinn")
    fake.fail_next(None, code="InternalErrorException", token=target.refresh_token)
    async with fake.client() as client:
        await revoke(client, bystander.refresh_token)
        with pytest.raises(errors.InternalErrorException):
            await revoke(client, target.refresh_token)
        assert len([c for c in fake.calls if c.token == target.refresh_token]) == 3
        fake.clear_failures()
        await revoke(client, target.refresh_token)
    assert [c.token for c in fake.revocations] == [bystander.refresh_token, target.refresh_token]


async def test_an_injection_can_name_its_operation(instant_retries: None) -> None:
    fake = FakeCognito()
    session = fake.sign_in("rosa")
    fake.throttle(2, operation="RevokeToken")
    async with fake.client() as client:
        assert await user_of(client, session.access_token) == "rosa"
        out = await client.revoke_token().token(session.refresh_token).client_id(
            "fakeclientid"
        ).send()
    assert out.attempts == 3
    assert [(c.operation, c.error_code) for c in fake.calls] == [
        ("GetUser", None),
        ("RevokeToken", "TooManyRequestsException"),
        ("RevokeToken", "TooManyRequestsException"),
        ("RevokeToken", None),
    ]


@pytest.mark.parametrize(
    ("inject", "expected"),
    [("disconnect_next", errors.DispatchFailure), ("timeout_next", errors.TimeoutError)],
)
async def test_transport_failures_on_revoke_token_and_get_user(
    inject: str, expected: type[Exception]
) -> None:
    fake = FakeCognito()
    session = fake.sign_in("sam")
    async with fake.client(Config(region=fake.region, retry_config=NO_RETRY)) as client:
        getattr(fake, inject)(token=session.refresh_token)
        with pytest.raises(expected):
            await revoke(client, session.refresh_token)
        getattr(fake, inject)(operation="GetUser")
        with pytest.raises(expected):
            await user_of(client, session.access_token)
        assert not fake.is_revoked(session.refresh_token)
        await revoke(client, session.refresh_token)
    assert [c.status_code for c in fake.calls] == [0, 0, 200]
    assert all(c.injected for c in fake.calls[:2])


async def test_modeled_errors_can_be_injected_for_each_operation() -> None:
    fake = FakeCognito()
    session = fake.sign_in("tess")
    config = Config(region=fake.region, retry_config=NO_RETRY)
    async with fake.client(config) as client:
        fake.fail_next(code="UserNotFoundException", operation="GetUser")
        with pytest.raises(errors.UserNotFoundException):
            await user_of(client, session.access_token)
        fake.fail_next(code="ForbiddenException", operation="RevokeToken")
        with pytest.raises(errors.ForbiddenException) as caught:
            await revoke(client, session.refresh_token)
        assert caught.value.status_code == 403


# --- the wire -----------------------------------------------------------------------------------


_REVOKE = {
    "X-Amz-Target": "AWSCognitoIdentityProviderService.RevokeToken",
    "Content-Type": "application/x-amz-json-1.1",
}


@pytest.mark.parametrize(
    "body",
    [
        {"ClientId": "fakeclientid"},
        {"Token": "abc"},
        {"Token": "abc", "ClientId": "bad id"},
        {"Token": "abc", "ClientId": "x" * 129},
        {"Token": "abc", "ClientId": "fakeclientid", "ClientSecret": "s" * 65},
        {"Token": "abc", "ClientId": "fakeclientid", "RevokeAssociatedSessions": "ALL"},
        {"Token": "has space", "ClientId": "fakeclientid"},
    ],
)
async def test_malformed_revoke_token_requests_are_invalid_parameters(
    body: dict[str, str],
) -> None:
    fake = FakeCognito()
    async with httpx.AsyncClient(transport=fake, base_url="https://cognito-idp.test") as http:
        response = await http.post("/", json=body, headers=_REVOKE)
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "InvalidParameterException"
    assert response.json()["message"].startswith("1 validation error detected")
    for value in body.values():
        assert value not in response.json()["message"]  # values are never echoed
    assert fake.calls[0].operation == "RevokeToken"


async def test_revoke_token_success_is_cognitos_shape() -> None:
    fake = FakeCognito()
    session = fake.sign_in()
    async with httpx.AsyncClient(transport=fake, base_url="https://cognito-idp.test") as http:
        response = await http.post(
            "/", json={"Token": session.refresh_token, "ClientId": "fakeclientid"},
            headers=_REVOKE,
        )
    assert (response.status_code, response.json()) == (200, {})
    assert response.headers["content-type"] == "application/x-amz-json-1.1"
    assert response.headers["x-amzn-requestid"] == fake.calls[0].request_id


# --- secrets ------------------------------------------------------------------------------------


async def test_no_repr_shows_a_token_or_a_client_secret(instant_retries: None) -> None:
    fake = FakeCognito()
    app = fake.add_client("confidential", secret=True)
    session = fake.sign_in("uma", client_id=app.client_id, attributes={"email": "uma@example.com"})
    assert app.client_secret is not None
    fake.fail_next(token=session.refresh_token)
    async with fake.client() as client:
        out = await client.get_user().access_token(session.access_token).send()
        await revoke(client, session.refresh_token, app.client_id, app.client_secret)
        with pytest.raises(errors.UnauthorizedException) as caught:
            await revoke(client, session.refresh_token, app.client_id, "z" * 51)

    secrets_ = [session.access_token, session.refresh_token, session.id_token,
                app.client_secret, "z" * 51]
    shown = [repr(fake), str(fake), repr(fake.calls), repr(session), repr(app), repr(out),
             str(caught.value), repr(caught.value), repr(fake.revocations)]
    for text in shown:
        for secret in secrets_:
            assert secret not in text
    assert "Redacted" in repr(fake.calls[-1])
    # A test may still read what was sent, explicitly.
    assert fake.calls[-1].members["ClientSecret"] == "z" * 51
    assert fake.revocations[0].members["ClientSecret"] == app.client_secret


# --- reaching code under test -------------------------------------------------------------------


async def test_the_fixture_and_install_transport_serve_every_operation(
    cognito_fake: FakeCognito,
) -> None:
    session = cognito_fake.sign_in("vic")
    async with Client(Config(region="eu-west-1")) as client:  # the code under test's own
        assert await user_of(client, session.access_token) == "vic"
        await revoke(client, session.refresh_token)
        assert await refused(client, session.access_token) == REVOKED
    assert [c.operation for c in cognito_fake.calls] == ["GetUser", "RevokeToken", "GetUser"]

    other = FakeCognito()
    again = other.sign_in("vic")
    with install_transport(other):
        async with Client(Config(region="eu-west-1")) as client:
            await revoke(client, again.refresh_token)
    assert other.is_revoked(again.refresh_token)


def test_reset_forgets_sessions_users_and_clients() -> None:
    fake = FakeCognito()
    fake.add_client("gone", secret=True)
    session = fake.sign_in("walt", client_id="gone")
    fake.revoke(session.access_token)
    fake.reset()
    assert fake.session_of(session.access_token) is None
    assert not fake.is_revoked(session.refresh_token)
    with pytest.raises(ValueError):
        fake.refresh(session.refresh_token)
