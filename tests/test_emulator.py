"""The loopback Cognito emulator against a real moto server: no mocks anywhere.

Sign-out is done with a raw httpx POST (not the SDK) so these tests pin down what the emulator
itself guarantees: a live token before, both tokens refused after.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from cognito_signout.emulator import CognitoUser, MotoCognito

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cognito() -> Iterator[MotoCognito]:
    with MotoCognito() as emulator:
        yield emulator


def _global_sign_out(endpoint_url: str, access_token: str) -> httpx.Response:
    return httpx.post(
        endpoint_url,
        content=json.dumps({"AccessToken": access_token}),
        headers={
            "X-Amz-Target": "AWSCognitoIdentityProviderService.GlobalSignOut",
            "Content-Type": "application/x-amz-json-1.1",
        },
        trust_env=False,
    )


def test_endpoint_is_loopback(cognito: MotoCognito) -> None:
    assert cognito.endpoint_url == f"http://127.0.0.1:{cognito.port}"


def test_new_user_tokens_are_accepted(cognito: MotoCognito) -> None:
    user = cognito.create_user()
    assert all((user.access_token, user.refresh_token, user.id_token))
    assert cognito.access_token_accepted(user.access_token)
    assert cognito.refresh_token_accepted(user)


def test_global_sign_out_revokes_both_tokens(cognito: MotoCognito) -> None:
    user = cognito.create_user()
    assert cognito.access_token_accepted(user.access_token)

    response = _global_sign_out(cognito.endpoint_url, user.access_token)

    assert response.status_code == 200
    assert response.json() == {}
    assert response.headers["x-amzn-requestid"]
    assert not cognito.access_token_accepted(user.access_token)
    assert not cognito.refresh_token_accepted(user)


def test_sign_out_revokes_every_session_of_the_user(cognito: MotoCognito) -> None:
    first = cognito.create_user()
    second = cognito.login(first)
    assert second.access_token != first.access_token

    assert _global_sign_out(cognito.endpoint_url, first.access_token).status_code == 200

    assert not cognito.access_token_accepted(second.access_token)
    assert not cognito.refresh_token_accepted(second)


def test_login_after_sign_out_gives_working_tokens(cognito: MotoCognito) -> None:
    user = cognito.create_user(username="fixed-name", password="Sup3r-Secret-pw!")
    assert _global_sign_out(cognito.endpoint_url, user.access_token).status_code == 200

    again = cognito.login(user)

    assert again.username == "fixed-name"
    assert cognito.access_token_accepted(again.access_token)
    assert cognito.refresh_token_accepted(again)


def test_unknown_tokens_are_refused_not_raised(cognito: MotoCognito) -> None:
    user = cognito.create_user()
    assert not cognito.access_token_accepted("not.a.token")
    assert not cognito.refresh_token_accepted(
        CognitoUser(user.username, user.pool_id, user.client_id, "x", "bogus", "y")
    )


def test_repeated_sign_out_error_shape(cognito: MotoCognito) -> None:
    """A second sign-out is a modeled NotAuthorizedException that echoes the token (moto)."""
    user = cognito.create_user()
    assert _global_sign_out(cognito.endpoint_url, user.access_token).status_code == 200

    response = _global_sign_out(cognito.endpoint_url, user.access_token)

    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "NotAuthorizedException"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-amzn-requestid"]
    assert response.json()["__type"] == "NotAuthorizedException"


def test_user_repr_holds_no_token(cognito: MotoCognito) -> None:
    user = cognito.create_user()
    text = repr(user) + str(user)
    assert user.username in text
    for token in (user.access_token, user.refresh_token, user.id_token):
        assert token not in text


def test_unexpected_error_raises_with_code_but_no_token(cognito: MotoCognito) -> None:
    """Only status and code reach the exception: moto echoes tokens and ids in error bodies."""
    user = cognito.create_user()
    wrong_client = CognitoUser(
        user.username, user.pool_id, "no-such-client", "", user.refresh_token, ""
    )

    with pytest.raises(RuntimeError, match="400 ResourceNotFoundException") as caught:
        cognito.refresh_token_accepted(wrong_client)

    assert user.refresh_token not in str(caught.value)
    assert "no-such-client" not in str(caught.value)


def test_login_refuses_a_user_it_did_not_create(cognito: MotoCognito) -> None:
    stranger = CognitoUser("stranger", "us-east-1_nope", "nope", "", "", "")
    with pytest.raises(KeyError):
        cognito.login(stranger)


def test_calls_before_start_fail_clearly() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        MotoCognito().access_token_accepted("token")


def test_stop_frees_the_port() -> None:
    emulator = MotoCognito().start()
    port = emulator.port
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) == 0

    emulator.stop()
    emulator.stop()  # idempotent

    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # would raise EADDRINUSE if anything still held it
    with pytest.raises(RuntimeError, match="not started"):
        _ = emulator.endpoint_url
