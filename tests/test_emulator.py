"""The loopback Cognito emulator against a real moto server: no mocks anywhere.

Sign-out and RevokeToken are done with raw httpx POSTs or botocore (not the SDK) so these tests
pin down what the emulator itself guarantees: a live token before, refused after; for
RevokeToken, only that session's tokens. `python -m cognito_signout.emulator` runs as a real
subprocess.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from cognito_signout.emulator import CognitoUser, MotoCognito, secret_hash

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


# -- RevokeToken (issue 10): moto 5.2.5 has none, the emulator's layer adds it ------------------


def _raw(endpoint_url: str, operation: str, body: object) -> httpx.Response:
    return httpx.post(
        endpoint_url,
        content=body if isinstance(body, bytes) else json.dumps(body),
        headers={
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        },
        trust_env=False,
    )


def _revoke(cognito: MotoCognito, token: str, client_id: str | None = None,
            **extra: str) -> httpx.Response:
    body = {"Token": token, "ClientId": client_id or cognito.client_id, **extra}
    return _raw(cognito.endpoint_url, "RevokeToken", body)


def _assert_error(response: httpx.Response, code: str, *secrets: str) -> None:
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == code
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-amzn-requestid"]
    assert response.json()["__type"] == code
    assert isinstance(response.json()["message"], str)
    for secret in secrets:
        assert secret not in response.text


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    claims: dict[str, object] = json.loads(raw)
    return claims


def test_revoke_token_wire_answer(cognito: MotoCognito) -> None:
    user = cognito.create_user()

    response = _revoke(cognito, user.refresh_token)

    assert response.status_code == 200
    assert response.json() == {}
    assert response.headers["x-amzn-requestid"]
    assert response.headers["content-type"] == "application/x-amz-json-1.1"


def test_revoke_token_ends_that_session_and_every_token_refreshed_from_it(
    cognito: MotoCognito,
) -> None:
    user = cognito.create_user()
    refreshed = cognito.refresh(user)
    assert refreshed.access_token != user.access_token
    assert refreshed.origin_jti == user.origin_jti is not None
    assert cognito.access_token_accepted(refreshed.access_token)

    assert _revoke(cognito, user.refresh_token).status_code == 200

    assert not cognito.refresh_token_accepted(user)
    assert not cognito.access_token_accepted(user.access_token)
    assert not cognito.access_token_accepted(refreshed.access_token)
    with pytest.raises(RuntimeError, match="400 NotAuthorizedException"):
        cognito.refresh(user)
    # Every token-authorized call refuses it, not only GetUser.
    _assert_error(_global_sign_out(cognito.endpoint_url, refreshed.access_token),
                  "NotAuthorizedException", refreshed.access_token)


def test_revoke_token_leaves_the_users_other_sessions_alone(cognito: MotoCognito) -> None:
    first = cognito.create_user()
    second = cognito.login(first)
    assert second.origin_jti != first.origin_jti
    assert second.refresh_token != first.refresh_token

    assert _revoke(cognito, first.refresh_token).status_code == 200

    assert not cognito.access_token_accepted(first.access_token)
    assert cognito.access_token_accepted(second.access_token)
    assert cognito.refresh_token_accepted(second)
    assert cognito.access_token_accepted(cognito.refresh(second).access_token)
    # and a sign-in after the revocation is a working session too
    third = cognito.login(first)
    assert cognito.access_token_accepted(third.access_token)
    assert cognito.refresh_token_accepted(third)


def test_revoke_token_is_idempotent_and_tells_nothing_about_unknown_tokens(
    cognito: MotoCognito,
) -> None:
    """Real Cognito (like RFC 7009 and /oauth2/revoke) answers 200 for these; so do we."""
    user = cognito.create_user()
    assert _revoke(cognito, user.refresh_token).status_code == 200
    assert _revoke(cognito, user.refresh_token).status_code == 200
    assert _revoke(cognito, "0c5d9b1e-0000-4000-8000-000000000000").status_code == 200

    signed_out = cognito.create_user()
    assert _global_sign_out(cognito.endpoint_url, signed_out.access_token).status_code == 200
    assert _revoke(cognito, signed_out.refresh_token).status_code == 200


def test_revoking_an_access_or_id_token_is_an_unsupported_token_type(
    cognito: MotoCognito,
) -> None:
    user = cognito.create_user()
    for token in (user.access_token, user.id_token):
        _assert_error(_revoke(cognito, token), "UnsupportedTokenTypeException", token)
    assert cognito.access_token_accepted(user.access_token)
    assert cognito.refresh_token_accepted(user)


@pytest.mark.parametrize(
    "body",
    [
        {"ClientId": "abc"},
        {"Token": "", "ClientId": "abc"},
        {"Token": "has space", "ClientId": "abc"},
        {"Token": "abc"},
        {"Token": "abc", "ClientId": ""},
        {"Token": "abc", "ClientId": "not-a-client-id"},
        {"Token": "abc", "ClientId": "abc", "ClientSecret": ""},
        {"Token": "abc", "ClientId": "abc", "RevokeAssociatedSessions": "ALL"},
        [],
        b"{not json",
    ],
    ids=["no-token", "empty-token", "bad-token", "no-client", "empty-client", "bad-client",
         "empty-secret", "bad-associated", "array", "not-json"],
)
def test_malformed_revoke_token_is_an_invalid_parameter(
    cognito: MotoCognito, body: object
) -> None:
    _assert_error(_raw(cognito.endpoint_url, "RevokeToken", body), "InvalidParameterException")


def test_revoke_associated_sessions_is_accepted(cognito: MotoCognito) -> None:
    for mode in ("NONE", "LINKED"):
        user = cognito.create_user()
        other = cognito.login(user)
        response = _revoke(cognito, user.refresh_token, RevokeAssociatedSessions=mode)
        assert response.status_code == 200
        assert not cognito.refresh_token_accepted(user)
        assert cognito.refresh_token_accepted(other)


def test_unknown_client_or_another_clients_token_is_unauthorized(cognito: MotoCognito) -> None:
    user = cognito.create_user()
    other_client = cognito.create_client()

    _assert_error(_revoke(cognito, user.refresh_token, "nosuchclient"),
                  "UnauthorizedException", user.refresh_token)
    _assert_error(_revoke(cognito, user.refresh_token, other_client.client_id),
                  "UnauthorizedException", user.refresh_token)
    # a public client has no secret to check
    _assert_error(_revoke(cognito, user.refresh_token, ClientSecret="x" * 36),
                  "UnauthorizedException")

    assert cognito.refresh_token_accepted(user)
    assert cognito.access_token_accepted(user.access_token)


def test_a_client_without_token_revocation_is_an_unsupported_operation(
    cognito: MotoCognito,
) -> None:
    client = cognito.create_client(token_revocation=False)
    user = cognito.create_user(client=client)

    _assert_error(_revoke(cognito, user.refresh_token, client.client_id),
                  "UnsupportedOperationException")
    assert cognito.refresh_token_accepted(user)


def test_secret_client_revoke_needs_the_right_secret(cognito: MotoCognito) -> None:
    client = cognito.create_client(secret=True)
    assert client.client_secret
    assert client.client_secret not in repr(client)
    user = cognito.create_user(client=client)
    assert user.client_id == client.client_id
    assert cognito.access_token_accepted(user.access_token)
    assert cognito.refresh_token_accepted(user)  # with its SECRET_HASH

    wrong = "0" * len(client.client_secret)
    _assert_error(_revoke(cognito, user.refresh_token, client.client_id),
                  "UnauthorizedException")
    _assert_error(_revoke(cognito, user.refresh_token, client.client_id, ClientSecret=wrong),
                  "UnauthorizedException", wrong)
    assert cognito.refresh_token_accepted(user)

    ok = _revoke(cognito, user.refresh_token, client.client_id, ClientSecret=client.client_secret)
    assert ok.status_code == 200
    assert not cognito.refresh_token_accepted(user)
    assert not cognito.access_token_accepted(user.access_token)


def test_secret_client_sign_in_needs_the_secret_hash(cognito: MotoCognito) -> None:
    client = cognito.create_client(secret=True)
    assert client.client_secret is not None
    user = cognito.create_user(client=client)
    params = {"USERNAME": user.username, "PASSWORD": cognito.password(user)}

    def sign_in(**extra: str) -> httpx.Response:
        return _raw(cognito.endpoint_url, "InitiateAuth", {
            "ClientId": client.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {**params, **extra},
        })

    _assert_error(sign_in(), "NotAuthorizedException", cognito.password(user))
    _assert_error(sign_in(SECRET_HASH=secret_hash(user.username, client.client_id, "x" * 36)),
                  "NotAuthorizedException")
    good = sign_in(SECRET_HASH=secret_hash(user.username, client.client_id,
                                           client.client_secret))
    assert good.status_code == 200
    assert cognito.access_token_accepted(good.json()["AuthenticationResult"]["AccessToken"])


def test_secret_hash_is_cognitos_formula() -> None:
    expected = base64.b64encode(
        hmac.new(b"s3cret", b"alice" + b"client1", hashlib.sha256).digest()
    ).decode()
    assert secret_hash("alice", "client1", "s3cret") == expected


def test_botocores_own_revoke_token_call(cognito: MotoCognito) -> None:
    import botocore.session
    from botocore.exceptions import ClientError

    boto = botocore.session.get_session().create_client(
        "cognito-idp", endpoint_url=cognito.endpoint_url, region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
    )
    user = cognito.create_user()
    other = cognito.login(user)

    out = boto.revoke_token(Token=user.refresh_token, ClientId=cognito.client_id)

    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert out["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as refused:
        boto.get_user(AccessToken=user.access_token)
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
    with pytest.raises(ClientError) as refused:
        boto.initiate_auth(ClientId=cognito.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                           AuthParameters={"REFRESH_TOKEN": user.refresh_token})
    assert refused.value.response["Error"]["Code"] == "NotAuthorizedException"
    assert boto.get_user(AccessToken=other.access_token)["Username"] == user.username

    with pytest.raises(boto.exceptions.UnsupportedTokenTypeException):
        boto.revoke_token(Token=other.access_token, ClientId=cognito.client_id)

    secret_client = cognito.create_client(secret=True)
    assert secret_client.client_secret is not None
    secret_user = cognito.create_user(client=secret_client)
    with pytest.raises(boto.exceptions.UnauthorizedException):
        boto.revoke_token(Token=secret_user.refresh_token, ClientId=secret_client.client_id)
    boto.revoke_token(Token=secret_user.refresh_token, ClientId=secret_client.client_id,
                      ClientSecret=secret_client.client_secret)
    assert not cognito.refresh_token_accepted(secret_user)


def test_revocation_holds_under_concurrent_refreshes(cognito: MotoCognito) -> None:
    """Refreshes racing RevokeToken: whatever they minted, it dies with the session."""
    users = [cognito.create_user() for _ in range(8)]
    minted: list[str] = []
    lock = threading.Lock()

    def refresh_a_few(user: CognitoUser) -> None:
        for _ in range(5):
            try:
                token = cognito.refresh(user).access_token
            except RuntimeError:
                return
            with lock:
                minted.append(token)

    def revoke(user: CognitoUser) -> int:
        return _revoke(cognito, user.refresh_token).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        refreshing = [pool.submit(refresh_a_few, u) for u in users]
        statuses = list(pool.map(revoke, users))
        for future in refreshing:
            future.result()

    assert statuses == [200] * len(users)
    assert not any(cognito.access_token_accepted(t) for t in minted)
    assert not any(cognito.access_token_accepted(u.access_token) for u in users)
    assert not any(cognito.refresh_token_accepted(u) for u in users)


def test_pool_facts_match_the_tokens(cognito: MotoCognito) -> None:
    user = cognito.create_user()
    claims = _claims(user.access_token)

    assert cognito.region == "us-east-1"
    assert cognito.pool_id == user.pool_id
    assert cognito.client_id == user.client_id == claims["client_id"]
    assert cognito.issuer == f"https://cognito-idp.us-east-1.amazonaws.com/{cognito.pool_id}"
    assert claims["iss"] == cognito.issuer
    assert claims["origin_jti"] == user.origin_jti
    assert cognito.jwks_url == f"{cognito.endpoint_url}/{cognito.pool_id}/.well-known/jwks.json"
    keys = httpx.get(cognito.jwks_url, trust_env=False).json()["keys"]
    assert any(key.get("kid") == "dummy" for key in keys)


def test_only_loopback_hosts() -> None:
    for host in ("0.0.0.0", "192.168.1.1", "example.com", "::"):
        with pytest.raises(ValueError, match="loopback"):
            MotoCognito(host=host)
    MotoCognito(host="localhost")
    MotoCognito(host="::1")
    with pytest.raises(ValueError, match="port"):
        MotoCognito(port=70000)


# -- python -m cognito_signout.emulator ------------------------------------------------------


def _module_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> list[str]:
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    stdout = proc.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError("no connection info printed:\n" + "\n".join(seen))


def test_module_serves_in_the_foreground_until_sigint() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cognito_signout.emulator", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_module_env(),
    )
    try:
        lines = _read_until(proc, "Ctrl-C", timeout=30)
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in lines if line.startswith("export ")
        )
        url = exports["AWS_ENDPOINT_URL"]
        assert url.startswith("http://127.0.0.1:")
        assert exports["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"] == url
        assert exports["AWS_REGION"] == "us-east-1"
        assert exports["COGNITO_USER_POOL_ID"].startswith("us-east-1_")

        sign_in = _raw(url, "InitiateAuth", {
            "ClientId": exports["COGNITO_CLIENT_ID"], "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": _printed(lines, "demo user"),
                               "PASSWORD": _printed(lines, "demo password")},
        })
        assert sign_in.status_code == 200, sign_in.text
        fresh = sign_in.json()["AuthenticationResult"]["AccessToken"]
        assert _raw(url, "GetUser", {"AccessToken": fresh}).status_code == 200
        printed = exports["COGNITO_ACCESS_TOKEN"]
        assert _raw(url, "GetUser", {"AccessToken": printed}).status_code == 200
        revoked = _raw(url, "RevokeToken", {"Token": exports["COGNITO_REFRESH_TOKEN"],
                                            "ClientId": exports["COGNITO_CLIENT_ID"]})
        assert revoked.status_code == 200
        assert _raw(url, "GetUser", {"AccessToken": printed}).status_code == 400
        assert _raw(url, "GetUser", {"AccessToken": fresh}).status_code == 200

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        port = int(url.rsplit(":", 1)[1])
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _printed(lines: list[str], label: str) -> str:
    for line in lines:
        if line.strip().startswith(label):
            return line.strip()[len(label):].strip()
    raise AssertionError(f"{label!r} not printed")


def test_module_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cognito_signout.emulator"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_module_env(),
    )
    try:
        _read_until(proc, "Ctrl-C", timeout=30)
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_module_refuses_a_non_loopback_host() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "cognito_signout.emulator", "--host", "0.0.0.0"],
        capture_output=True, text=True, env=_module_env(), timeout=30, check=False,
    )
    assert run.returncode == 2
    assert "loopback" in run.stderr
    assert "listening" not in run.stdout


def test_server_does_not_outlive_a_killed_parent() -> None:
    """The child watches its stdin: a parent that dies without stop() takes it along."""
    code = (
        "import sys, time\n"
        "from cognito_signout.emulator import MotoCognito\n"
        "m = MotoCognito().start()\n"
        "print(m.port, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env=_module_env())
    try:
        assert parent.stdout is not None
        port = int(parent.stdout.readline())
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) == 0
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) != 0:
                    return
            time.sleep(0.1)
        raise AssertionError("the emulator's server outlived its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
