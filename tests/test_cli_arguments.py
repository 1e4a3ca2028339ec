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
    assert_no_token,
    call,
    clean_env,
    read_until,
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
