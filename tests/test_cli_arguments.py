"""The command's arguments: options, their validation, and how the token is read.

Tokens come from stdin or the environment, never argv; a bad option is exit 2 with nothing sent.
Every test checks that no token shows up in what the command prints.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from cognito_signout.testing import FakeCognito

from .cli_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    assert_no_token,
    call,
    clean_env,
    make_refresh_token,
    read_until,
    revoke_argv,
    run_cli,
)
from .cli_helpers import fake as fake
from .tokens import make_token

# --- where the token comes from, real subprocess ------------------------------------------------


def test_a_token_on_the_command_line_is_refused_and_not_echoed() -> None:
    token = make_token()
    run = run_cli("--region", "eu-west-1", token)
    assert run.returncode == 2
    assert "never from the command line" in run.stderr
    assert_no_token(run, token)


def test_the_terminal_prompt_does_not_echo_the_token(tmp_path: Path) -> None:
    """On a terminal the token is read like a password: the terminal never shows it."""
    token = make_token("us-east-1")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cognito_signout", "--endpoint-url", "http://127.0.0.1:9",
         "--max-attempts", "1"],
        stdin=secondary, stdout=secondary, stderr=secondary, env=clean_env(),
        start_new_session=True,  # no controlling terminal: getpass must use this pty
    )
    os.close(secondary)
    screen = read_until(primary, b"not echoed", proc)
    os.write(primary, token.encode() + b"\n")
    screen += read_until(primary, None, proc)
    proc.wait(30)
    os.close(primary)
    assert b"Access token (not echoed): " in screen
    assert proc.returncode == 6  # it was read and sent (to a closed port)
    assert token.encode() not in screen


# --- options, in process with the fake ----------------------------------------------------------


def test_max_attempts_and_timeout_options(
    fake: FakeCognito, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.fail_next(None)
    assert call(["--max-attempts", "1"], "tok", monkeypatch) == 5
    assert len(fake.calls) == 1

    fake.clear_failures()
    fake.latency = 5.0
    started = time.monotonic()
    assert call(["--timeout", "0.1", "--json"], "tok", monkeypatch) == 6
    assert time.monotonic() - started < 3
    out, _ = capsys.readouterr()
    assert "operation timeout" in json.loads(out.splitlines()[-1])["message"]


@pytest.mark.parametrize(
    ("argv", "stdin_text", "message"),
    [
        ([], "", "no access token"),
        ([], "  \n\n", "no access token"),
        ([], "one\ntwo\n", "2 non-empty lines"),
        ([], "abc~def", "character not allowed"),
        (["--json", "--quiet"], "tok", "not allowed with argument"),
        (["--max-attempts", "0"], "tok", "between 1 and 20"),
        (["--concurrency", "x"], "tok", "whole number"),
        (["--timeout", "-1"], "tok", "seconds > 0"),
        (["--endpoint-url", "ftp://host"], "tok", "http:// or https://"),
        (["--tokens-file", make_token()], "", "cannot read the tokens file"),
    ],
)
def test_usage_errors_exit_2_and_send_nothing(
    fake: FakeCognito,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdin_text: str,
    message: str,
) -> None:
    assert call(argv, stdin_text, monkeypatch) == 2
    out, err = capsys.readouterr()
    assert message in err
    assert out == ""
    assert fake.calls == []
    for value in argv:
        if value.count(".") == 2:  # the token-shaped "file name"
            assert value not in err


def test_fips_with_a_custom_endpoint_is_a_usage_error(
    fake: FakeCognito, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    assert call(["--endpoint-url", "http://127.0.0.1:9"], "tok", monkeypatch) == 2
    assert "FIPS" in capsys.readouterr().err


# --- import cost --------------------------------------------------------------------------------


def _modules_after(code: str) -> set[str]:
    probe = (
        "import sys, json\n"
        f"{code}\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=clean_env()
    )
    return set(json.loads(run.stdout.splitlines()[-1]))


OPTIONAL = ("fastapi", "starlette", "uvicorn", "moto", "pytest", "trio",
            "cognito_signout.fastapi", "cognito_signout.testing", "cognito_signout._cli",
            "cognito_signout.emulator")


def _loaded(modules: set[str], names: Sequence[str]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_the_package_root_imports_no_optional_face() -> None:
    assert _loaded(_modules_after("import cognito_signout"), OPTIONAL) == []


def test_the_command_imports_no_optional_face() -> None:
    code = (
        "from cognito_signout._cli import build_parser\n"
        "build_parser().parse_args(['--region', 'eu-west-1'])"
    )
    loaded = _loaded(_modules_after(code), OPTIONAL)
    # The command is a package now: its own modules load, and nothing else optional.
    assert [m for m in loaded if not m.startswith("cognito_signout._cli.")] == [
        "cognito_signout._cli"
    ]
    # Building the parser needs neither the batch runner nor the console.
    assert not {"cognito_signout._cli.batch", "cognito_signout._cli.console"} & set(loaded)


# --- device sign-out options (issue 10) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--client-id", CLIENT_ID], {}, "--client-id is only used with --revoke-refresh-token"),
        (["--revoke-refresh-token"], {}, "needs the app client's id: --client-id ID or "
         "$COGNITO_CLIENT_ID"),
        (["--revoke-refresh-token", "--client-id", "not a client id"], {},
         "the client id (not shown) is not one"),
        (["--revoke-refresh-token"], {"COGNITO_CLIENT_ID": "x" * 129},
         "the client id (not shown) is not one"),
        (["--revoke-refresh-token", "--client-id", CLIENT_ID],
         {"COGNITO_CLIENT_SECRET": "too-short"}, "$COGNITO_CLIENT_SECRET (not shown) is not a "
         "client secret"),
        (["--revoke-refresh-token", "--client-id", CLIENT_ID, "--tokens-file", "-"],
         {"COGNITO_CLIENT_SECRET": "has spaces in it, which no secret has"},
         "is not a client secret"),
    ],
)
def test_device_sign_out_options_are_checked_before_anything_is_read(
    fake: FakeCognito,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert call(argv, "a-refresh-token-that-is-never-read", monkeypatch) == 2
    out, err = capsys.readouterr()
    assert message in err
    assert out == ""
    assert fake.calls == []
    for value in [*env.values(), "not a client id"]:
        assert value not in err


def test_a_refresh_token_needs_a_region() -> None:
    """An access token names its region (its issuer); a refresh token is opaque."""
    token = make_refresh_token()
    run = run_cli("--revoke-refresh-token", "--client-id", CLIENT_ID, stdin=token)
    assert run.returncode == 2
    assert "--revoke-refresh-token needs a region" in run.stderr
    assert run.stdout == ""
    assert_no_token(run, token, CLIENT_ID)


@pytest.mark.parametrize("form", ["--client-secret {}", "--client-secret={}"])
def test_a_client_secret_on_the_command_line_is_refused_and_not_echoed(form: str) -> None:
    argv = [*revoke_argv("http://127.0.0.1:9"), *form.format(CLIENT_SECRET).split(" ")]
    run = run_cli(*argv, stdin=make_refresh_token())
    assert run.returncode == 2
    assert "there is no --client-secret option" in run.stderr
    assert "read from $COGNITO_CLIENT_SECRET only" in run.stderr
    assert_no_token(run, CLIENT_SECRET)


def test_a_refresh_token_on_the_command_line_is_refused_and_not_echoed() -> None:
    token = make_refresh_token()
    run = run_cli(*revoke_argv("http://127.0.0.1:9"), token)
    assert run.returncode == 2
    assert (
        "Refresh tokens are read from stdin or $COGNITO_REFRESH_TOKEN, never from the command "
        "line" in run.stderr
    )
    assert_no_token(run, token)


