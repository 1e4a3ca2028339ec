"""One token: ``cognito-signout`` signs it out and says how that went.

Integration tests run the command as a real subprocess against moto's server; every exit code
is checked in process with the ``fake`` fixture, whose failures come on demand. Every test
checks that no token shows up in what the command prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from cognito_signout._cli import EXIT_CODES
from cognito_signout.emulator import MotoCognito
from cognito_signout.testing import FakeCognito

from . import loopback
from .cli_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFUSED,
    REVOKE_TARGET,
    TRANSPORTS,
    assert_no_token,
    call,
    clean_env,
    integration,
    loopback_env,
    make_refresh_token,
    on,
    revoke_argv,
    run_cli,
)
from .cli_helpers import fake as fake
from .tokens import make_token

# --- real subprocess, real moto -----------------------------------------------------------------


@integration
def test_token_from_stdin_signs_the_user_out(moto: MotoCognito) -> None:
    user = moto.create_user()
    run = run_cli(*on(moto), stdin=user.access_token + "\n")

    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("signed out (request id ")
    assert run.stderr == ""
    assert not moto.access_token_accepted(user.access_token)
    assert not moto.refresh_token_accepted(user)
    assert_no_token(run, user.access_token)


@integration
def test_token_from_the_environment_with_json_output(moto: MotoCognito) -> None:
    user = moto.create_user()
    env = clean_env(
        COGNITO_ACCESS_TOKEN=user.access_token,
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=moto.endpoint_url,
    )
    run = run_cli("--json", env=env)

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["ok"] is True and result["status"] == "signed_out"
    assert result["request_id"] and result["attempts"] == 1
    assert not moto.access_token_accepted(user.access_token)
    assert_no_token(run, user.access_token)


@integration
def test_a_refused_token_exits_3_without_echoing_it(moto: MotoCognito) -> None:
    """moto echoes the token in its error message: the command must not pass it on."""
    user = moto.create_user()
    stdin = f"Bearer {user.access_token}\r\n"  # a copied header line is accepted
    assert run_cli(*on(moto), stdin=stdin).returncode == 0

    human = run_cli(*on(moto), stdin=stdin)
    machine = run_cli(*on(moto), "--json", stdin=stdin)
    quiet = run_cli(*on(moto), "--quiet", stdin=stdin)

    assert human.returncode == machine.returncode == quiet.returncode == 3
    assert human.stdout == "" and "not authorized" in human.stderr
    assert human.stderr.count("\n") == 1
    result = json.loads(machine.stdout)
    assert (result["ok"], result["status"], result["error"]) == (
        False, "not_authorized", "NotAuthorizedException",
    )
    assert result["request_id"] and result["exit_code"] == 3
    assert quiet.stdout == quiet.stderr == ""
    for run in (human, machine, quiet):
        assert_no_token(run, user.access_token)


@integration
def test_quiet_success_prints_nothing(moto: MotoCognito) -> None:
    user = moto.create_user()
    run = run_cli(*on(moto), "-q", stdin=user.access_token)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")
    assert not moto.access_token_accepted(user.access_token)


def test_transport_failure_exits_6() -> None:
    token = make_token("us-east-1")
    run = run_cli(
        "--endpoint-url", "http://127.0.0.1:9", "--max-attempts", "1", "--json", stdin=token
    )
    assert run.returncode == 6
    result = json.loads(run.stdout)
    assert result["status"] == "transport_error" and result["error"] == "DispatchFailure"
    assert_no_token(run, token)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_refused_connection_says_what_failed_without_tls_on_http(transport: str) -> None:
    """Issue 12: aiohttp's text named its TLS setting (``ssl:default``) for an http endpoint,
    httpcore's names nothing; both now say which URL could not be reached and why."""
    token = make_token("us-east-1")
    url = loopback.refused_url()
    env = loopback_env(COGNITO_SIGNOUT_TRANSPORT=transport)
    argv = ("--endpoint-url", url, "--max-attempts", "1")
    human = run_cli(*argv, stdin=token, env=env)
    machine = run_cli(*argv, "--json", stdin=token, env=env)

    expected = f"could not connect to {url.rstrip('/')} ({REFUSED[transport]})"
    assert human.returncode == machine.returncode == 6
    assert human.stdout == ""
    assert human.stderr == f"cognito-signout: transport error: {expected}\n"
    result = json.loads(machine.stdout)
    assert (result["status"], result["error"], result["exit_code"]) == (
        "transport_error", "DispatchFailure", 6,
    )
    assert result["message"] == expected
    for run in (human, machine):
        assert "ssl" not in (run.stdout + run.stderr).lower()
        assert "tls" not in (run.stdout + run.stderr).lower()
        assert_no_token(run, token)


# --- in process, with the fake: every exit code -------------------------------------------------


@pytest.mark.parametrize(
    ("inject", "code", "status", "attempts"),
    [
        (lambda f: None, 0, "signed_out", 1),
        (lambda f: f.fail_next(None, code="NotAuthorizedException"), 3, "not_authorized", 1),
        (lambda f: f.throttle(None), 4, "throttled", 3),
        (lambda f: f.fail_next(None, code="InternalErrorException"), 5, "service_error", 3),
        (lambda f: f.fail_next(None, code="ResourceNotFoundException"), 5, "service_error", 1),
        (lambda f: f.disconnect_next(None), 6, "transport_error", 3),
        (lambda f: f.timeout_next(None), 6, "transport_error", 3),
        (lambda f: f.fail_next(None, code=None, status=200, body=b"<html>"), 6,
         "transport_error", 3),
    ],
)
def test_exit_code_per_outcome(
    fake: FakeCognito,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    inject: Callable[[FakeCognito], object],
    code: int,
    status: str,
    attempts: int,
) -> None:
    token = fake.issue_token()
    inject(fake)
    assert call(["--json"], token, monkeypatch) == code
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["status"] == status and result["exit_code"] == code
    assert code in EXIT_CODES
    assert token not in out + err
    assert len(fake.calls) == attempts  # final errors are not retried


# --- device sign-out: one refresh token (issue 10), real subprocess -----------------------------


def _revoke_request(request: loopback.Request) -> dict[str, str]:
    assert request.headers["x-amz-target"] == REVOKE_TARGET
    body: dict[str, str] = json.loads(request.body)
    return body


@pytest.mark.parametrize("source", ["stdin", "environment"])
def test_a_refresh_token_is_revoked_and_no_secret_is_shown(source: str) -> None:
    token = make_refresh_token()
    recorder = loopback.Recorder()
    with loopback.serve(recorder) as server:
        argv = revoke_argv(server.url)
        if source == "stdin":
            env = loopback_env(COGNITO_CLIENT_SECRET=CLIENT_SECRET)
            human = run_cli(*argv, stdin=token + "\n", env=env)
            machine = run_cli(*argv, "--json", stdin=token, env=env)
        else:  # no secret: an app client without one
            env = loopback_env(COGNITO_REFRESH_TOKEN=token)
            human = run_cli(*argv, env=env)
            machine = run_cli(*argv, "--json", env=env)

    assert human.returncode == machine.returncode == 0, human.stderr
    assert human.stdout.startswith("signed out (request id req-") and human.stderr == ""
    result = json.loads(machine.stdout)
    assert (result["ok"], result["status"], result["attempts"]) == (True, "signed_out", 1)
    expected = {"Token": token, "ClientId": CLIENT_ID}
    if source == "stdin":
        expected["ClientSecret"] = CLIENT_SECRET
    assert [_revoke_request(r) for r in recorder.seen] == [expected, expected]
    assert token not in argv and CLIENT_SECRET not in argv
    for run in (human, machine):
        assert_no_token(run, token, CLIENT_SECRET, CLIENT_ID)


def test_the_client_id_may_come_from_the_environment_too() -> None:
    token = make_refresh_token()
    recorder = loopback.Recorder()
    with loopback.serve(recorder) as server:
        argv = [a for a in revoke_argv(server.url) if a not in ("--client-id", CLIENT_ID)]
        run = run_cli(*argv, stdin=token, env=loopback_env(COGNITO_CLIENT_ID=CLIENT_ID))
    assert run.returncode == 0, run.stderr
    assert _revoke_request(recorder.seen[0])["ClientId"] == CLIENT_ID
    assert_no_token(run, token, CLIENT_ID)


@pytest.mark.parametrize(
    ("code", "status", "exit_code"),
    [
        ("UnauthorizedException", "client_refused", 7),  # a wrong client id or secret
        ("UnsupportedOperationException", "client_refused", 7),  # revocation not enabled
        ("UnsupportedTokenTypeException", "invalid_token", 2),  # not a refresh token
        ("TooManyRequestsException", "throttled", 4),
    ],
)
def test_revoke_token_errors_have_their_exit_codes(code: str, status: str, exit_code: int) -> None:
    token = make_refresh_token()
    # A service echoing what it was sent must not make the command print it.
    echo = f"refused {CLIENT_ID} with {CLIENT_SECRET} for {token}"
    with loopback.serve(loopback.service_error(400, code, message=echo)) as server:
        env = loopback_env(COGNITO_CLIENT_SECRET=CLIENT_SECRET)
        human = run_cli(*revoke_argv(server.url), stdin=token, env=env)
        machine = run_cli(*revoke_argv(server.url), "--json", stdin=token, env=env)

    assert human.returncode == machine.returncode == exit_code
    assert exit_code in EXIT_CODES
    assert human.stderr.startswith(f"cognito-signout: {status.replace('_', ' ')}: {code}")
    result = json.loads(machine.stdout)
    assert (result["status"], result["error"], result["exit_code"]) == (status, code, exit_code)
    for run in (human, machine):
        assert_no_token(run, token, CLIENT_SECRET, CLIENT_ID)
